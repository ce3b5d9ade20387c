//! Runs over agents in the server: a scenario with `[[agent]]` tables
//! posted to `POST /runs` is run by the coordinator (`crate::coordinator`)
//! on an OS thread of its own, as a run like any other in the registry:
//! its merged intervals and merged report published as a local run's are,
//! its stop and stream switches (a detached `SessionControl`) forwarded to
//! the agents by the coordinator.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use linerate_engine::scenario::Plan;
use linerate_engine::session::SessionControl;
use tokio::sync::oneshot;

use crate::coordinator::{self, CoordinatorError, CoordinatorOptions};
use crate::error::ApiError;
use crate::model::{RunState, SetupInfo};
use crate::runs::{Ended, Publisher, Run, RunContext};
use crate::scenarios::lock;

/// Starts run `id` over the agents of `plan` (read from `scenario_toml`):
/// on a new OS thread the coordinator checks the agents and starts them at
/// one moment (its one-line errors come back as the answer: 400 for the
/// scenario, 502 for an agent), then drives the run there, forwarding the
/// run's stops and stream switches to the agents and publishing merged
/// intervals, and at the end the merged report. Holds no port here: the
/// agents hold theirs. Returns when every agent has accepted.
pub async fn start_coordinated_run(
    context: RunContext,
    id: String,
    plan: Plan,
    scenario_toml: String,
    options: CoordinatorOptions,
) -> Result<Arc<Run>, ApiError> {
    let (publisher, channels) = Publisher::new(&id, &context);
    let control = SessionControl::detached(
        plan.streams
            .iter()
            .map(|stream| stream.name.clone())
            .collect(),
    );
    let (reply_tx, reply_rx) = oneshot::channel();
    let thread_plan = plan.clone();
    let thread_control = control.clone();
    std::thread::Builder::new()
        .name(format!("linerate-{id}"))
        .spawn(move || {
            coordinated_thread(
                &thread_plan,
                &scenario_toml,
                &options,
                &thread_control,
                publisher,
                reply_tx,
            )
        })
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot start a thread for the run: {error}"),
            )
        })?;
    let start_at_unix_ns = match reply_rx.await {
        Ok(Ok(start_at)) => start_at,
        Ok(Err(error)) => return Err(error),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the run's thread ended before the agents started; this is a linerate bug",
            ))
        }
    };
    let ahead = Duration::from_nanos(start_at_unix_ns.saturating_sub(unix_now_ns()));
    let run = Arc::new(Run {
        id,
        plan,
        setup: SetupInfo {
            tx: Vec::new(),
            rx: Vec::new(),
        },
        control,
        started_unix_s: start_at_unix_ns as f64 / 1e9,
        started: Instant::now() + ahead,
        live: channels.live,
        events: channels.events,
        ended: channels.ended,
    });
    context.runs.insert(Arc::clone(&run));
    Ok(run)
}

fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// The coordinator's one-line error as the API's: the scenario's fault is
/// 400, an agent's 502.
fn coordinator_error(error: &CoordinatorError) -> ApiError {
    let status = match error {
        CoordinatorError::Scenario(_)
        | CoordinatorError::MissingPort { .. }
        | CoordinatorError::TokenFile { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    ApiError::new(status, error.to_string())
}

/// The coordinated run's thread: starts the agents, answers the request,
/// drives the run to its merged report and publishes the end. A request
/// that went away before the answer stops the agents at once.
fn coordinated_thread(
    plan: &Plan,
    scenario_toml: &str,
    options: &CoordinatorOptions,
    control: &SessionControl,
    publisher: Publisher,
    reply: oneshot::Sender<Result<u64, ApiError>>,
) {
    let started = match coordinator::start(plan, scenario_toml, options) {
        Ok(started) => started,
        Err(error) => {
            let _ = reply.send(Err(coordinator_error(&error)));
            return;
        }
    };
    let start_instant = Instant::now();
    if reply.send(Ok(started.start_at_unix_ns())).is_err() {
        control.request_stop();
    }
    let outcome = coordinator::drive(
        started,
        options,
        &AtomicBool::new(false),
        Some(control),
        &mut |totals| {
            for interval in &totals.intervals {
                publisher.merged_interval(interval.clone());
            }
        },
    );
    let elapsed_s = start_instant.elapsed().as_secs_f64();
    let ended = match outcome {
        Ok(report) => {
            // The intervals merged after the agents ended (the drain, the
            // final one), which the live merge could not publish yet.
            let published = lock(&publisher.live).intervals.len();
            for interval in report.report.intervals.iter().skip(published) {
                publisher.merged_interval(interval.clone());
            }
            publisher.write_report(&report);
            let state = if report.agents.iter().any(|agent| agent.state != "finished") {
                RunState::Failed
            } else {
                RunState::Finished
            };
            let error = report
                .report
                .verdict
                .failures
                .first()
                .filter(|_| state == RunState::Failed)
                .cloned();
            Ended {
                elapsed_s,
                state,
                report: Some(Arc::new(report.report.clone())),
                workers: Vec::new(),
                error,
                result: None,
                multihost: Some(Arc::new(report)),
            }
        }
        Err(error) => Ended {
            elapsed_s,
            state: RunState::Failed,
            report: None,
            workers: Vec::new(),
            error: Some(error.to_string()),
            result: None,
            multihost: None,
        },
    };
    publisher.publish_end(ended);
}
