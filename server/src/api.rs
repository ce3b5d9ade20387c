//! The API's handlers and routes (docs/openapi.json is derived from them):
//! scenarios, runs and their commands, stats, intervals, report, metrics,
//! the OpenAPI document and the dashboard's files. Every handler answers
//! errors as `ErrorBody` JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use linerate_engine::report::IntervalSection;
use linerate_engine::run::RunOptions;
use linerate_engine::tx::{BusyPoll, XskModeRequest};
use linerate_engine::CountedFrames;
use serde::Deserialize;

use crate::agent::{agent_info, AgentInfo, AgentQuery, RunResultDocument};
use crate::error::{ApiError, ErrorBody};
use crate::model::{RunInfo, RunRequest, RunState, ScenarioInfo, StatsInfo, StreamSwitch};
use crate::runs::{start_run, RunContext};
use crate::scenarios::{self, media_type, ScenarioFormat, StoredScenario};
use crate::AppState;

/// The largest request body taken, bytes (413 above).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Every route.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/scenarios", post(create_scenario).get(list_scenarios))
        .route("/scenarios/{id}", get(get_scenario))
        .route("/runs", post(create_run).get(list_runs))
        .route("/runs/{id}", get(get_run).delete(delete_run))
        .route("/runs/{id}/stats", get(get_stats))
        .route("/runs/{id}/events", get(crate::events::run_events))
        .route("/runs/{id}/intervals", get(get_intervals))
        .route("/runs/{id}/stop", post(stop_run))
        .route("/runs/{id}/streams/{name}/stop", post(stop_stream))
        .route("/runs/{id}/streams/{name}/start", post(start_stream))
        .route("/runs/{id}/report", get(get_report))
        .route("/runs/{id}/result", get(get_result))
        .route("/agent", get(get_agent))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/", get(dashboard_page))
        .route("/assets/{*file}", get(dashboard_asset))
}

/// The body, or the rejection as a JSON error (413 over the limit).
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the request body is over the 1 MiB limit; send a smaller scenario".to_string()
        } else {
            rejection.body_text()
        };
        ApiError::new(status, message)
    })
}

/// `?name=` on `POST /scenarios`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ScenarioQuery {
    /// The name errors and reports give the scenario (default `<id>.toml`).
    name: Option<String>,
}

/// Validates and stores a scenario.
#[utoipa::path(post, path = "/scenarios", tag = "scenarios",
    params(ScenarioQuery),
    request_body(description = "The scenario: TOML text (text/plain, application/toml or no Content-Type) or JSON of the same structure (application/json)",
        content((String = "application/toml"), (Object = "application/json"))),
    responses(
        (status = 201, description = "Stored", body = ScenarioInfo),
        (status = 400, description = "Not a valid scenario: the CLI's file:line:column message, split into fields", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Neither TOML nor JSON", body = ErrorBody)))]
pub async fn create_scenario(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ScenarioQuery>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ScenarioInfo>), ApiError> {
    let format = ScenarioFormat::from_headers(&headers)?;
    let raw = body(raw)?;
    let (number, id) = state.scenarios.next_id();
    let source = query.name.unwrap_or_else(|| format!("{id}.toml"));
    let parsed = scenarios::parse_body(&raw, format, &source)?;
    let info = ScenarioInfo {
        id,
        source,
        ports: parsed.plan.ports.len(),
        streams: parsed.plan.streams.len(),
        toml: parsed.toml,
    };
    state.scenarios.insert(
        number,
        StoredScenario {
            info: info.clone(),
            plan: parsed.plan,
        },
    );
    Ok((StatusCode::CREATED, Json(info)))
}

/// Every stored scenario.
#[utoipa::path(get, path = "/scenarios", tag = "scenarios",
    responses((status = 200, description = "Stored scenarios, oldest first", body = [ScenarioInfo])))]
pub async fn list_scenarios(State(state): State<Arc<AppState>>) -> Json<Vec<ScenarioInfo>> {
    Json(state.scenarios.list())
}

/// One stored scenario.
#[utoipa::path(get, path = "/scenarios/{id}", tag = "scenarios",
    params(("id" = String, Path, description = "Scenario id, e.g. sc-1")),
    responses(
        (status = 200, description = "The scenario", body = ScenarioInfo),
        (status = 404, description = "No such scenario", body = ErrorBody)))]
pub async fn get_scenario(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ScenarioInfo>, ApiError> {
    state
        .scenarios
        .get(&id)
        .map(|stored| Json(stored.info))
        .ok_or_else(|| ApiError::not_found("scenario", &id))
}

/// The engine's run options from a request, each checked as the CLI
/// checks its flags.
fn run_options(request: &RunRequest) -> Result<RunOptions, ApiError> {
    let xsk_mode = match request.xsk_mode.as_deref() {
        None => None,
        Some("auto") => Some(XskModeRequest::Auto),
        Some("copy") => Some(XskModeRequest::Copy),
        Some("zero-copy") => Some(XskModeRequest::ZeroCopy),
        Some(other) => {
            return Err(ApiError::bad_field(
                "xsk_mode",
                format!("{other:?} is not an AF_XDP mode: auto, copy or zero-copy"),
            ))
        }
    };
    let mut options = RunOptions {
        xsk_mode,
        ..RunOptions::default()
    };
    if let Some(batch) = request.batch {
        if !(1..=2048).contains(&batch) {
            return Err(ApiError::bad_field("batch", "must be 1 to 2048 frames"));
        }
        options.batch_size = batch;
    }
    if let Some(usecs) = request.release_interval_us {
        if usecs > 100_000 {
            return Err(ApiError::bad_field(
                "release_interval_us",
                "must be 0 to 100000 microseconds",
            ));
        }
        options.release_interval = Duration::from_micros(u64::from(usecs));
    }
    if let Some(usecs) = request.busy_poll_us {
        if !(1..=100_000).contains(&usecs) {
            return Err(ApiError::bad_field(
                "busy_poll_us",
                "must be 1 to 100000 microseconds",
            ));
        }
        options.busy_poll = Some(BusyPoll {
            usecs,
            budget: options.batch_size,
        });
    }
    options.force_xdp = request.force;
    options.counted_frames = if request.rx_pass {
        CountedFrames::Pass
    } else {
        CountedFrames::Drop
    };
    Ok(options)
}

/// The plan a run request names or carries, with its TOML text.
fn requested_plan(
    state: &AppState,
    request: &RunRequest,
    run_id: &str,
) -> Result<scenarios::ParsedScenario, ApiError> {
    let source = format!("{run_id}.toml");
    match (
        &request.scenario,
        &request.scenario_toml,
        &request.scenario_json,
    ) {
        (Some(id), None, None) => state
            .scenarios
            .get(id)
            .map(|stored| scenarios::ParsedScenario {
                plan: stored.plan,
                toml: stored.info.toml,
            })
            .ok_or_else(|| ApiError::not_found("scenario", id).with_field("scenario")),
        (None, Some(text), None) => scenarios::parse_toml(text, &source),
        (None, None, Some(value)) => scenarios::parse_json_value(value, &source),
        _ => Err(ApiError::bad_field(
            "scenario",
            "give exactly one of scenario (a stored id), scenario_toml or scenario_json",
        )),
    }
}

/// Requires a JSON body (or none said).
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .map(|value| media_type(value.to_str().unwrap_or("?")));
    match media.as_deref() {
        None | Some("application/json") => Ok(()),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type {other:?}: send JSON (application/json)"),
        )
        .with_field("Content-Type")),
    }
}

/// Prepares and starts a run.
#[utoipa::path(post, path = "/runs", tag = "runs",
    request_body(content = RunRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Prepared and sending", body = RunInfo),
        (status = 400, description = "Bad request, scenario or option, or a port this machine lacks", body = ErrorBody),
        (status = 404, description = "No such stored scenario", body = ErrorBody),
        (status = 409, description = "A port is held by another run (named)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 500, description = "The counter or a sender could not be set up", body = ErrorBody),
        (status = 503, description = "The server is shutting down", body = ErrorBody)))]
pub async fn create_run(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RunInfo>), ApiError> {
    require_json(&headers)?;
    let raw = body(raw)?;
    let request: RunRequest = serde_json::from_slice(&raw)
        .map_err(|error| ApiError::json(&error, "the run request does not parse"))?;
    let options = run_options(&request)?;
    let id = state.runs.next_id();
    let parsed = requested_plan(&state, &request, &id)?;
    let mut plan = parsed.plan;
    if plan.has_agents() && request.agent.is_none() {
        return create_coordinated_run(&state, &request, id, plan, parsed.toml).await;
    }
    if let Some(agent) = &request.agent {
        plan = plan.for_agent(agent).ok_or_else(|| {
            ApiError::bad_field(
                "agent",
                format!("the scenario has no [[agent]] named {agent:?}"),
            )
        })?;
    }
    let context = RunContext {
        runs: Arc::clone(&state.runs),
        report_dir: state.report_dir.clone(),
    };
    let run = start_run(context, id, plan, options, request.start_at_unix_ns).await?;
    Ok((StatusCode::CREATED, Json(run.info())))
}

/// A scenario with `[[agent]]` tables and no `agent`: this server is the
/// coordinator (crate::coordinator), the run's agents do the sending.
/// Relative `token_file` paths are found from the server's working
/// directory.
async fn create_coordinated_run(
    state: &AppState,
    request: &RunRequest,
    id: String,
    plan: linerate_engine::scenario::Plan,
    scenario_toml: String,
) -> Result<(StatusCode, Json<RunInfo>), ApiError> {
    if request.start_at_unix_ns.is_some() {
        return Err(ApiError::bad_field(
            "start_at_unix_ns",
            "a run over agents sets its own common start; leave start_at_unix_ns out",
        ));
    }
    let options = crate::coordinator::CoordinatorOptions {
        run_options: RunRequest {
            xsk_mode: request.xsk_mode.clone(),
            batch: request.batch,
            release_interval_us: request.release_interval_us,
            busy_poll_us: request.busy_poll_us,
            rx_pass: request.rx_pass,
            force: request.force,
            ..RunRequest::default()
        },
        ..crate::coordinator::CoordinatorOptions::default()
    };
    let context = RunContext {
        runs: Arc::clone(&state.runs),
        report_dir: state.report_dir.clone(),
    };
    let run =
        crate::coordinated_runs::start_coordinated_run(context, id, plan, scenario_toml, options)
            .await?;
    Ok((StatusCode::CREATED, Json(run.info())))
}

/// Every run.
#[utoipa::path(get, path = "/runs", tag = "runs",
    responses((status = 200, description = "Runs, oldest first", body = [RunInfo])))]
pub async fn list_runs(State(state): State<Arc<AppState>>) -> Json<Vec<RunInfo>> {
    Json(state.runs.list().iter().map(|run| run.info()).collect())
}

/// One run.
#[utoipa::path(get, path = "/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id, e.g. run-1")),
    responses(
        (status = 200, description = "The run", body = RunInfo),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn get_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunInfo>, ApiError> {
    Ok(Json(state.runs.get(&id)?.info()))
}

/// The latest interval report.
#[utoipa::path(get, path = "/runs/{id}/stats", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "Elapsed time and the latest interval (the report's interval_section, null before the first)", body = StatsInfo),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn get_stats(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<StatsInfo>, ApiError> {
    Ok(Json(state.runs.get(&id)?.stats()))
}

/// `?from=N` on `GET /runs/{id}/intervals`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IntervalsQuery {
    /// Only the intervals from index N on (0-based): a poller asks for
    /// what it has not seen yet.
    pub from: Option<usize>,
}

/// Every interval report so far (from `from` on).
#[utoipa::path(get, path = "/runs/{id}/intervals", tag = "runs",
    params(("id" = String, Path, description = "Run id"), IntervalsQuery),
    responses(
        (status = 200, description = "The interval series so far (each the report's interval_section)", body = [Object]),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn get_intervals(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<IntervalsQuery>,
) -> Result<Json<Vec<IntervalSection>>, ApiError> {
    let run = state.runs.get(&id)?;
    let intervals = crate::scenarios::lock(&run.live)
        .intervals
        .iter()
        .skip(query.from.unwrap_or(0))
        .map(|interval| (**interval).clone())
        .collect();
    Ok(Json(intervals))
}

/// Stops a run: sending ends, what is in flight drains, the report follows.
#[utoipa::path(post, path = "/runs/{id}/stop", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "Stopping (or already ended)", body = RunInfo),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn stop_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunInfo>), ApiError> {
    let run = state.runs.get(&id)?;
    run.request_stop();
    Ok((StatusCode::ACCEPTED, Json(run.info())))
}

/// Stops or starts one stream of a running run.
async fn switch_stream(
    state: &AppState,
    id: &str,
    name: &str,
    stop: bool,
) -> Result<Json<StreamSwitch>, ApiError> {
    let run = state.runs.get(id)?;
    let run_state = run.state();
    if run_state != RunState::Running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} is {}: streams are stopped and started only while it runs",
                run_state.name()
            ),
        ));
    }
    let switched = if stop {
        run.control.stop_stream(name)
    } else {
        run.control.start_stream(name)
    };
    switched.map_err(|error| {
        ApiError::new(StatusCode::NOT_FOUND, error.to_string()).with_field("name")
    })?;
    Ok(Json(StreamSwitch {
        name: name.to_string(),
        stopped: run.control.stream_stopped(name).unwrap_or(stop),
    }))
}

/// Stops one stream (LANforge's stop_cx); the others go on.
#[utoipa::path(post, path = "/runs/{id}/streams/{name}/stop", tag = "runs",
    params(("id" = String, Path, description = "Run id"), ("name" = String, Path, description = "Stream name")),
    responses(
        (status = 200, description = "Stopped", body = StreamSwitch),
        (status = 404, description = "No such run, or the run has no such stream (field name)", body = ErrorBody),
        (status = 409, description = "The run is not running", body = ErrorBody)))]
pub async fn stop_stream(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<StreamSwitch>, ApiError> {
    switch_stream(&state, &id, &name, true).await
}

/// Starts a stopped stream again; it goes on at its rate from now.
#[utoipa::path(post, path = "/runs/{id}/streams/{name}/start", tag = "runs",
    params(("id" = String, Path, description = "Run id"), ("name" = String, Path, description = "Stream name")),
    responses(
        (status = 200, description = "Started", body = StreamSwitch),
        (status = 404, description = "No such run, or the run has no such stream (field name)", body = ErrorBody),
        (status = 409, description = "The run is not running", body = ErrorBody)))]
pub async fn start_stream(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<StreamSwitch>, ApiError> {
    switch_stream(&state, &id, &name, false).await
}

/// The final report: the same document as `linerate run --json`.
#[utoipa::path(get, path = "/runs/{id}/report", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The report (docs/report.schema.json); for a run over agents, with `agents` and `start_skew_ns` beside it", body = Object),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run is still running, or failed without a report", body = ErrorBody)))]
pub async fn get_report(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = state.runs.get(&id)?;
    let live = crate::scenarios::lock(&run.live);
    let document = match (&live.multihost, &live.report) {
        (Some(multihost), _) => Some(serde_json::to_value(&**multihost)),
        (None, Some(report)) => Some(serde_json::to_value(&**report)),
        (None, None) => None,
    };
    match (document, live.state) {
        (Some(Ok(document)), _) => Ok(Json(document)),
        (Some(Err(error)), _) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the report does not serialize: {error}"),
        )),
        (None, RunState::Failed) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} failed, so it has no report: {}",
                live.error.as_deref().unwrap_or("no reason given")
            ),
        )),
        (None, run_state) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} is {}: the report comes when it has finished (POST /runs/{id}/stop ends it)",
                run_state.name()
            ),
        )),
    }
}

/// A finished run's raw per-stream results, for a coordinator's exact merge.
#[utoipa::path(get, path = "/runs/{id}/result", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "Raw per-stream counters and latency histograms", body = RunResultDocument),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Still running, or failed", body = ErrorBody)))]
pub async fn get_result(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunResultDocument>, ApiError> {
    let run = state.runs.get(&id)?;
    let live = crate::scenarios::lock(&run.live);
    match &live.result {
        Some(result) => Ok(Json((**result).clone())),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} is {}: results come when it has finished{}",
                live.state.name(),
                live.error
                    .as_deref()
                    .map(|error| format!(" ({error})"))
                    .unwrap_or_default()
            ),
        )),
    }
}

/// This agent: version, interfaces, clock state (for a coordinator).
#[utoipa::path(get, path = "/agent", tag = "agent",
    params(AgentQuery),
    responses((status = 200, description = "Version, ports and clock", body = AgentInfo)))]
pub async fn get_agent(
    State(state): State<Arc<AppState>>,
    Query(query): Query<AgentQuery>,
) -> Result<Json<AgentInfo>, ApiError> {
    let clock_state = state.clock_state.clone();
    tokio::task::spawn_blocking(move || agent_info(&query, clock_state.as_deref()))
        .await
        .map_err(|error| error.to_string())
        .and_then(|info| info)
        .map(Json)
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the agent check failed: {error}"),
            )
        })
}

/// Forgets a run, stopping it first if it is running (its report is then gone).
#[utoipa::path(delete, path = "/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 204, description = "Gone"),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn delete_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let run = state.runs.get(&id)?;
    run.request_stop();
    run.wait_ended().await;
    state.runs.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "Prometheus text exposition, format 0.0.4", body = String,
        content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let text = crate::metrics::exposition(&state.runs).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded; this is a linerate bug",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// This API described.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document (docs/openapi.json)", body = Object)))]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
        .into_response()
}

fn asset_response(path: &str) -> Result<Response, ApiError> {
    let asset = linerate_web::asset(path).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("the dashboard has no file {path:?}"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response())
}

/// The dashboard.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, description = "The live dashboard page", body = String, content_type = "text/html")))]
pub async fn dashboard_page() -> Result<Response, ApiError> {
    asset_response("")
}

/// The dashboard's files.
#[utoipa::path(get, path = "/assets/{file}", tag = "dashboard",
    params(("file" = String, Path, description = "File name")),
    responses(
        (status = 200, description = "The file", body = String),
        (status = 404, description = "No such file", body = ErrorBody)))]
pub async fn dashboard_asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    asset_response(&file)
}
