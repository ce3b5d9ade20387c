//! The server's runs: each one a session prepared and driven by
//! `linerate_engine::session::drive` on its own OS thread (a run over
//! agents: `crate::coordinated_runs`), publishing every interval into the
//! run's shared state (latest interval, the series so far, a broadcast for
//! the events stream) and, at the end, its report.
//! The server only reads that state and sends commands through the
//! session's control. Also the ports each active run holds, so that a
//! second run needing one is refused naming the holder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::http::StatusCode;
use linerate_engine::outcome::WorkerResult;
use linerate_engine::report::{unix_seconds, IntervalSection, ReportDocument};
use linerate_engine::run::{IntervalReport, RunObserver, RunOptions, RunSetup};
use linerate_engine::scenario::Plan;
use linerate_engine::session::{drive, Session, SessionControl};
use tokio::sync::{broadcast, oneshot, watch};

use crate::agent::RunResultDocument;
use crate::coordinator::MultiHostReport;
use crate::error::ApiError;
use crate::model::{EndEvent, RunInfo, RunState, SetupInfo, StatsInfo, StreamInfo};
use crate::scenarios::lock;

/// Events a run's subscribers hear.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// A report interval passed.
    Interval(Arc<IntervalSection>),
    /// The run ended; nothing follows.
    End(EndEvent),
}

/// A stream's running totals from the latest interval, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamTotals {
    /// Frames sent.
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames received (duplicates included).
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
}

/// What a run's thread publishes and the API reads.
#[derive(Debug)]
pub struct Live {
    /// Where the run is.
    pub state: RunState,
    /// Every interval so far, the latest last.
    pub intervals: Vec<Arc<IntervalSection>>,
    /// Per-stream totals at the latest interval, in stream id order.
    pub totals: Vec<StreamTotals>,
    /// Seconds from the start to the end, once ended.
    pub ended_elapsed_s: Option<f64>,
    /// Why the run failed.
    pub error: Option<String>,
    /// The report, once finished.
    pub report: Option<Arc<ReportDocument>>,
    /// The senders' own counters, once finished.
    pub workers: Vec<WorkerResult>,
    /// The senders' own counters at the latest interval, in setup order.
    pub worker_counts: Vec<linerate_engine::stats::WorkerCounts>,
    /// The raw results for an exact multi-host merge, once finished.
    pub result: Option<Arc<RunResultDocument>>,
    /// A run over agents, once finished: its whole report (the merged
    /// document plus the agents and the start skew).
    pub multihost: Option<Arc<MultiHostReport>>,
}

impl Live {
    /// A run that has just started: nothing published yet.
    pub fn running() -> Live {
        Live {
            state: RunState::Running,
            intervals: Vec::new(),
            totals: Vec::new(),
            ended_elapsed_s: None,
            error: None,
            report: None,
            workers: Vec::new(),
            worker_counts: Vec::new(),
            result: None,
            multihost: None,
        }
    }
}

/// One run as the API knows it.
#[derive(Debug)]
pub struct Run {
    /// `run-N`.
    pub id: String,
    /// The plan as given (before router MACs were resolved).
    pub plan: Plan,
    /// What was set up.
    pub setup: SetupInfo,
    /// Stop the run or one stream.
    pub control: SessionControl,
    /// When sending started, seconds since 1970.
    pub started_unix_s: f64,
    pub(crate) started: Instant,
    /// What the thread publishes (shared with it).
    pub live: Arc<Mutex<Live>>,
    /// Intervals and the end, as they happen.
    pub events: broadcast::Sender<RunEvent>,
    /// True once the run has ended (finished or failed).
    pub ended: watch::Receiver<bool>,
}

impl Run {
    /// The run as `GET /runs/{id}` shows it.
    pub fn info(&self) -> RunInfo {
        let live = lock(&self.live);
        RunInfo {
            id: self.id.clone(),
            state: live.state,
            source: self.plan.source.clone(),
            started_unix_s: self.started_unix_s,
            elapsed_s: self.elapsed_s(&live),
            setup: self.setup.clone(),
            streams: self.streams(),
            error: live.error.clone(),
            verdict: live.report.as_ref().map(|report| report.verdict.clone()),
            first_frame_unix_ns: live
                .result
                .as_ref()
                .and_then(|result| result.first_frame_unix_ns),
        }
    }

    /// Its streams and whether each is stopped.
    pub fn streams(&self) -> Vec<StreamInfo> {
        self.plan
            .streams
            .iter()
            .map(|stream| StreamInfo {
                id: stream.id,
                name: stream.name.clone(),
                stopped: self.control.stream_stopped(&stream.name).unwrap_or(false),
            })
            .collect()
    }

    fn elapsed_s(&self, live: &Live) -> f64 {
        live.ended_elapsed_s
            .unwrap_or_else(|| self.started.elapsed().as_secs_f64())
    }

    /// The latest interval.
    pub fn stats(&self) -> StatsInfo {
        let live = lock(&self.live);
        StatsInfo {
            elapsed_s: self.elapsed_s(&live),
            interval: live.intervals.last().map(|interval| (**interval).clone()),
        }
    }

    /// Where the run is.
    pub fn state(&self) -> RunState {
        lock(&self.live).state
    }

    /// The end message, once the run has ended.
    pub fn end_event(&self) -> Option<EndEvent> {
        let live = lock(&self.live);
        (!live.state.is_active()).then(|| end_event(&live))
    }

    /// Asks the run to stop; it drains and reports. Nothing for a run that
    /// already ended.
    pub fn request_stop(&self) {
        let mut live = lock(&self.live);
        if live.state == RunState::Running {
            live.state = RunState::Stopping;
        }
        self.control.request_stop();
    }

    /// Waits until the run has ended.
    pub async fn wait_ended(&self) {
        let mut ended = self.ended.clone();
        // An error means the thread is gone, so the run has ended too.
        let _ = ended.wait_for(|ended| *ended).await;
    }
}

fn end_event(live: &Live) -> EndEvent {
    EndEvent {
        state: live.state,
        verdict: live.report.as_ref().map(|report| report.verdict.clone()),
        error: live.error.clone(),
    }
}

/// A port a run holds: its namespace (empty for the server's own) and
/// interface.
type PortKey = (String, String);

/// Every run, and the ports the active ones hold.
#[derive(Debug, Default)]
pub struct Runs {
    next: AtomicU64,
    inner: Mutex<RunsInner>,
    shutting_down: AtomicBool,
}

#[derive(Debug, Default)]
struct RunsInner {
    runs: Vec<Arc<Run>>,
    held: HashMap<PortKey, String>,
}

/// Where a run's thread reports to, and where it writes its report.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The registry, to release the run's ports when it ends.
    pub runs: Arc<Runs>,
    /// `--report-dir`, if given.
    pub report_dir: Option<PathBuf>,
}

impl Runs {
    /// The run with `id`.
    pub fn get(&self, id: &str) -> Result<Arc<Run>, ApiError> {
        lock(&self.inner)
            .runs
            .iter()
            .find(|run| run.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("run", id))
    }

    /// Every run, oldest first.
    pub fn list(&self) -> Vec<Arc<Run>> {
        lock(&self.inner).runs.clone()
    }

    /// Forgets a run (it must have ended).
    pub fn remove(&self, id: &str) {
        lock(&self.inner).runs.retain(|run| run.id != id);
    }

    /// From now on no run starts (the server is shutting down).
    pub fn close(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// The next run id, `run-N`.
    pub fn next_id(&self) -> String {
        format!("run-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Reserves every port of `plan` for run `id`, or 409 naming the run
    /// that holds one of them.
    fn hold_ports(&self, id: &str, plan: &Plan) -> Result<(), ApiError> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down; no new run starts",
            ));
        }
        let mut inner = lock(&self.inner);
        // Ports on other agents (a multi-host run's part) are not opened here.
        let local_ports = || plan.ports.iter().filter(|port| !port.remote);
        for port in local_ports() {
            let key = port_key(port);
            if let Some(holder) = inner.held.get(&key) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "port {:?} ({}) is in use by run {holder}; stop it (POST /runs/{holder}/stop) or wait for it to finish",
                        port.name,
                        port.describe()
                    ),
                ));
            }
        }
        for port in local_ports() {
            inner.held.insert(port_key(port), id.to_string());
        }
        Ok(())
    }

    /// Lets go of every port run `id` holds.
    fn release_ports(&self, id: &str) {
        lock(&self.inner).held.retain(|_, holder| holder != id);
    }

    pub(crate) fn insert(&self, run: Arc<Run>) {
        lock(&self.inner).runs.push(run);
    }
}

fn port_key(port: &linerate_engine::scenario::PortPlan) -> PortKey {
    (
        port.namespace.clone().unwrap_or_default(),
        port.interface.clone(),
    )
}

/// What the run's thread sends back once the session is prepared.
struct Prepared {
    setup: RunSetup,
    control: SessionControl,
    started_unix_s: f64,
    started: Instant,
}

/// The part of a run its thread writes.
pub(crate) struct Publisher {
    pub(crate) id: String,
    pub(crate) live: Arc<Mutex<Live>>,
    pub(crate) events: broadcast::Sender<RunEvent>,
    pub(crate) ended: watch::Sender<bool>,
    pub(crate) context: RunContext,
}

/// What a new run's [`Run`] keeps of its [`Publisher`]'s channels: the live
/// state, the event sender (for new subscribers) and the end's watch.
pub(crate) struct RunChannels {
    pub(crate) live: Arc<Mutex<Live>>,
    pub(crate) events: broadcast::Sender<RunEvent>,
    pub(crate) ended: watch::Receiver<bool>,
}

impl Publisher {
    /// A publisher for run `id` and the channels its [`Run`] reads.
    pub(crate) fn new(id: &str, context: &RunContext) -> (Publisher, RunChannels) {
        let live = Arc::new(Mutex::new(Live::running()));
        let (events, _) = broadcast::channel(64);
        let (ended_tx, ended_rx) = watch::channel(false);
        let publisher = Publisher {
            id: id.to_string(),
            live: Arc::clone(&live),
            events: events.clone(),
            ended: ended_tx,
            context: context.clone(),
        };
        let channels = RunChannels {
            live,
            events,
            ended: ended_rx,
        };
        (publisher, channels)
    }
}

/// Starts run `id` of `plan`: holds its ports, prepares the session on a
/// new OS thread (prepare errors come back as the answer) and, once
/// prepared, drives it there to its report. Returns when it has started.
pub async fn start_run(
    context: RunContext,
    id: String,
    plan: Plan,
    options: RunOptions,
    start_at_unix_ns: Option<u64>,
) -> Result<Arc<Run>, ApiError> {
    context.runs.hold_ports(&id, &plan)?;
    let (publisher, channels) = Publisher::new(&id, &context);
    let (reply_tx, reply_rx) = oneshot::channel();
    let thread_plan = plan.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("linerate-{id}"))
        .spawn(move || run_thread(thread_plan, options, start_at_unix_ns, publisher, reply_tx));
    if let Err(error) = spawned {
        context.runs.release_ports(&id);
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot start a thread for the run: {error}"),
        ));
    }
    let prepared = match reply_rx.await {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(error)) => return Err(error),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the run's thread ended before it was prepared; this is a linerate bug",
            ))
        }
    };
    let run = Arc::new(Run {
        id,
        plan,
        setup: SetupInfo::from(&prepared.setup),
        control: prepared.control,
        started_unix_s: prepared.started_unix_s,
        started: prepared.started,
        live: channels.live,
        events: channels.events,
        ended: channels.ended,
    });
    context.runs.insert(Arc::clone(&run));
    Ok(run)
}

/// The run's thread: prepares the session, answers the request, drives
/// the session to its report and publishes the end. A request that went
/// away before the answer drops the session (everything detaches).
fn run_thread(
    plan: Plan,
    options: RunOptions,
    start_at_unix_ns: Option<u64>,
    mut publisher: Publisher,
    reply: oneshot::Sender<Result<Prepared, ApiError>>,
) {
    let mut session = match Session::prepare(&plan, options) {
        Ok(session) => session,
        Err(error) => {
            publisher.context.runs.release_ports(&publisher.id);
            let _ = reply.send(Err(ApiError::prepare(&error)));
            return;
        }
    };
    if let Some(unix_ns) = start_at_unix_ns {
        if let Err(error) = session.start_at_unix_ns(unix_ns) {
            drop(session);
            publisher.context.runs.release_ports(&publisher.id);
            let _ = reply.send(Err(ApiError::bad_field(
                "start_at_unix_ns",
                error.to_string(),
            )));
            return;
        }
    }
    let started = Instant::now();
    let started_unix_s = unix_seconds(SystemTime::now());
    let prepared = Prepared {
        setup: session.setup().clone(),
        control: session.control(),
        started_unix_s,
        started,
    };
    if reply.send(Ok(prepared)).is_err() {
        drop(session);
        publisher.context.runs.release_ports(&publisher.id);
        return;
    }
    // The server stops runs through their control, never by interrupt.
    let outcome = drive(session, &AtomicBool::new(false), &mut publisher);
    let elapsed_s = started.elapsed().as_secs_f64();
    // The report file is written before the run shows as finished, so that
    // a client that sees it finished finds the file.
    let (state, report, workers, error, result) = match outcome {
        Ok(report) => {
            let result = Some(Arc::new(RunResultDocument::from_report(&report)));
            let intervals = lock(&publisher.live)
                .intervals
                .iter()
                .map(|interval| (**interval).clone())
                .collect();
            let document = ReportDocument::new(&plan, &report, started_unix_s, intervals);
            publisher.write_report(&document);
            (
                RunState::Finished,
                Some(Arc::new(document)),
                report.workers,
                None,
                result,
            )
        }
        Err(error) => (
            RunState::Failed,
            None,
            Vec::new(),
            Some(error.to_string()),
            None,
        ),
    };
    publisher.publish_end(Ended {
        elapsed_s,
        state,
        report,
        workers,
        error,
        result,
        multihost: None,
    });
}

impl Publisher {
    /// Writes the report to `--report-dir` as `<run-id>.json`, if asked to.
    pub(crate) fn write_report(&self, report: &impl serde::Serialize) {
        let Some(dir) = &self.context.report_dir else {
            return;
        };
        let path = dir.join(format!("{}.json", self.id));
        let written = serde_json::to_vec_pretty(report)
            .map_err(std::io::Error::from)
            .and_then(|text| std::fs::write(&path, text));
        if let Err(error) = written {
            eprintln!(
                "linerate serve: cannot write {}: {error}; check the report directory is writable",
                path.display()
            );
        }
    }
}

impl RunObserver for Publisher {
    fn setup_done(&mut self, _setup: &RunSetup) {}

    fn interval(&mut self, report: &IntervalReport) {
        let section = Arc::new(IntervalSection::from(report));
        {
            let mut live = lock(&self.live);
            live.intervals.push(Arc::clone(&section));
            live.worker_counts = report.workers.clone();
            live.totals = report
                .streams
                .iter()
                .map(|stream| StreamTotals {
                    tx_frames: stream.totals.frames_sent,
                    tx_bytes: stream.totals.bytes_sent,
                    rx_frames: stream.totals.rx.frames,
                    rx_bytes: stream.totals.rx.bytes,
                })
                .collect();
        }
        // No subscriber is not an error.
        let _ = self.events.send(RunEvent::Interval(section));
    }
}

impl Publisher {
    /// Publishes a merged interval of a run over agents (frame totals only:
    /// the interval section carries no byte totals).
    pub(crate) fn merged_interval(&self, section: IntervalSection) {
        let section = Arc::new(section);
        {
            let mut live = lock(&self.live);
            live.intervals.push(Arc::clone(&section));
            live.totals = section
                .streams
                .iter()
                .map(|stream| StreamTotals {
                    tx_frames: stream.tx_frames,
                    rx_frames: stream.rx_frames,
                    ..StreamTotals::default()
                })
                .collect();
        }
        let _ = self.events.send(RunEvent::Interval(section));
    }

    /// Publishes the end: state, report, error; lets go of the ports and
    /// tells the waiters.
    pub(crate) fn publish_end(&self, ended: Ended) {
        let end = {
            let mut live = lock(&self.live);
            live.ended_elapsed_s = Some(ended.elapsed_s);
            live.state = ended.state;
            live.report = ended.report;
            live.workers = ended.workers;
            live.error = ended.error;
            live.result = ended.result;
            live.multihost = ended.multihost;
            end_event(&live)
        };
        self.context.runs.release_ports(&self.id);
        let _ = self.events.send(RunEvent::End(end));
        self.ended.send_replace(true);
    }
}

/// How a run ended, for [`Publisher::publish_end`].
pub(crate) struct Ended {
    pub(crate) elapsed_s: f64,
    pub(crate) state: RunState,
    pub(crate) report: Option<Arc<ReportDocument>>,
    pub(crate) workers: Vec<WorkerResult>,
    pub(crate) error: Option<String>,
    pub(crate) result: Option<Arc<RunResultDocument>>,
    pub(crate) multihost: Option<Arc<MultiHostReport>>,
}

/// One line about a run that ended: state, counts, verdict and where its
/// report went.
pub fn summary_line(run: &Run, report_dir: Option<&std::path::Path>) -> String {
    let live = lock(&run.live);
    match &live.report {
        Some(report) => {
            let sent: u64 = report.streams.iter().map(|stream| stream.frames_sent).sum();
            let received: u64 = report
                .streams
                .iter()
                .map(|stream| stream.frames_received)
                .sum();
            let lost: u64 = report.streams.iter().map(|stream| stream.frames_lost).sum();
            let verdict = if report.verdict.passed {
                "PASS"
            } else {
                "FAIL"
            };
            let saved = report_dir
                .map(|dir| {
                    format!(
                        ", report {}",
                        dir.join(format!("{}.json", run.id)).display()
                    )
                })
                .unwrap_or_default();
            format!(
                "{}: {} {}: {sent} sent, {received} received, {lost} lost, verdict {verdict}{saved}",
                run.id,
                run.plan.source,
                live.state.name()
            )
        }
        None => format!(
            "{}: {} {}: {}",
            run.id,
            run.plan.source,
            live.state.name(),
            live.error.as_deref().unwrap_or("no report")
        ),
    }
}
