//! The multi-host coordinator: runs a scenario whose ports name agents
//! (`linerate serve` on each host) as one run. It checks every agent
//! (version, the ports it must have, its clock), decides per cross-agent
//! stream whether its one-way latency (CLOCK_TAI at both ends) is reported
//! with the clocks' error bound or refused, posts each agent its part (the
//! whole scenario with `"agent": name`: the agent opens only its own ports)
//! with one common `start_at_unix_ns` a little ahead ([`start`]), then
//! polls them, forwards stops and per-stream stops, merges their interval
//! series as they come and at the end merges their raw results exactly
//! (`linerate_engine::merge`) into one report with a section per agent and
//! the measured start skew ([`drive`]). An agent that fails or stops
//! answering fails the run, naming it; the others are stopped and their
//! results kept, marked partial. Blocking (reqwest's blocking client): it
//! runs on the CLI's thread or a thread of the server's own, never inside
//! the server's runtime.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linerate_engine::merge::{merge_interval_at, merge_interval_series, merge_runs};
use linerate_engine::outcome::RunReport;
use linerate_engine::report::{IntervalSection, ReportDocument};
use linerate_engine::scenario::{AgentPlan, Plan};
use linerate_engine::session::SessionControl;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::agent::{AgentInfo, ClockInfo, RunResultDocument};
use crate::cross_clock::{
    apply_cross_agent_clocks, cross_agent_clocks, null_refused_latency,
    refuse_unmeasurable_latency_limits, CrossAgentClocks,
};
use crate::model::{RunInfo, RunRequest, RunState};

/// How the coordinator paces a run.
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// How far ahead of the posts the common start is set.
    pub start_ahead: Duration,
    /// How often every agent is polled.
    pub poll: Duration,
    /// How long one request to an agent may take before it counts as gone.
    pub request_timeout: Duration,
    /// How long stopped agents get to finish once another failed.
    pub stop_grace: Duration,
    /// Where relative `token_file` paths are found (the scenario's folder).
    pub base_dir: std::path::PathBuf,
    /// Run options passed on to every agent (`xsk_mode`, `batch`, ...).
    pub run_options: RunRequest,
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        CoordinatorOptions {
            start_ahead: Duration::from_secs(2),
            poll: Duration::from_millis(200),
            request_timeout: Duration::from_millis(800),
            stop_grace: Duration::from_millis(900),
            base_dir: std::path::PathBuf::from("."),
            run_options: RunRequest::default(),
        }
    }
}

/// Why a multi-host run could not start (each one line, before traffic).
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The token file could not be read.
    #[error("agent {agent:?}: cannot read token_file {path}: {reason}")]
    TokenFile {
        /// The agent.
        agent: String,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The agent answered 401.
    #[error("agent {agent:?} at {url} refused the token (401): put the token of its --token-file in the file token_file names")]
    Unauthorized {
        /// The agent.
        agent: String,
        /// Its URL.
        url: String,
    },
    /// The agent could not be reached.
    #[error("agent {agent:?} at {url} is unreachable ({reason}): check that `linerate serve` runs there, listens on that address and the firewall lets this host in")]
    Unreachable {
        /// The agent.
        agent: String,
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The agent runs another linerate.
    #[error("agent {agent:?} at {url} runs linerate {theirs}, this is {ours}: run the same version everywhere")]
    Version {
        /// The agent.
        agent: String,
        /// Its URL.
        url: String,
        /// Its version.
        theirs: String,
        /// Ours.
        ours: String,
    },
    /// A port's interface is not on its agent.
    #[error("port {port:?}: agent {agent:?} has no interface {interface}; fix the port's interface/namespace or its agent")]
    MissingPort {
        /// The agent.
        agent: String,
        /// The port.
        port: String,
        /// Interface (and namespace) as the scenario says.
        interface: String,
    },
    /// The agent refused or failed the request.
    #[error("agent {agent:?}: {what} failed ({status}): {message}")]
    Refused {
        /// The agent.
        agent: String,
        /// What was asked.
        what: String,
        /// HTTP status.
        status: u16,
        /// The agent's error.
        message: String,
    },
    /// The scenario cannot run as a multi-host run.
    #[error("{0}")]
    Scenario(String),
    /// The agents' results could not be merged.
    #[error("the agents' results cannot be merged: {0}")]
    Merge(String),
}

/// How one agent's part of the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSection {
    /// The agent.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its run id there.
    pub run_id: String,
    /// `finished`, `failed`, or `lost` (stopped answering).
    pub state: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// True when it was stopped because another agent failed: its results
    /// are kept and merged, but cover only part of the run.
    pub partial: bool,
    /// Its first frame, CLOCK_REALTIME ns since 1970.
    pub first_frame_unix_ns: Option<u64>,
    /// Its clock state as it reported before the run.
    pub clock: ClockInfo,
    /// The streams it sent.
    pub streams_sent: Vec<String>,
    /// The streams it counted.
    pub streams_counted: Vec<String>,
}

/// The multi-host report: the same report document as a local run (its
/// fields flattened in), plus the agents and the measured start skew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiHostReport {
    /// The merged run, as a local run reports it.
    #[serde(flatten)]
    pub report: ReportDocument,
    /// Per agent.
    pub agents: Vec<AgentSection>,
    /// Latest minus earliest first frame over the agents that sent; null
    /// when fewer than one sent.
    pub start_skew_ns: Option<u64>,
}

/// What the coordinator says while the run goes on: the latest interval
/// every agent has reported, merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveTotals {
    /// Seconds since the common start.
    pub elapsed_s: f64,
    /// Frames sent so far, every agent.
    pub tx_frames: u64,
    /// Frames counted so far, every agent.
    pub rx_frames: u64,
    /// Frames sent per second in that interval, every agent.
    pub tx_fps: f64,
    /// Frames counted per second in that interval, every agent.
    pub rx_fps: f64,
    /// The intervals every agent has reported since the last call, merged
    /// (totals and rates above are the last one's; all zero when empty).
    pub intervals: Vec<IntervalSection>,
}

/// One agent as the coordinator talks to it.
#[derive(Debug)]
struct Agent {
    plan: AgentPlan,
    token: Option<String>,
    client: Client,
    clock: ClockInfo,
    run_id: Option<String>,
    state: Option<RunState>,
    error: Option<String>,
    lost: bool,
    partial: bool,
    /// Its interval series so far, fetched as the run goes.
    intervals: Vec<IntervalSection>,
}

impl Agent {
    fn request(&self, builder: RequestBuilder) -> Result<Response, String> {
        let builder = match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        };
        builder.send().map_err(|error| error_chain(&error))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.plan.url)
    }

    fn unreachable(&self, reason: String) -> CoordinatorError {
        CoordinatorError::Unreachable {
            agent: self.plan.name.clone(),
            url: self.plan.url.clone(),
            reason,
        }
    }

    /// Reads a JSON answer, or the agent's error as a one-line reason.
    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        response: Response,
        what: &str,
    ) -> Result<T, CoordinatorError> {
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(CoordinatorError::Unauthorized {
                agent: self.plan.name.clone(),
                url: self.plan.url.clone(),
            });
        }
        if !status.is_success() {
            let message = response
                .json::<serde_json::Value>()
                .ok()
                .and_then(|body| body.get("error")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "no error message".to_string());
            return Err(CoordinatorError::Refused {
                agent: self.plan.name.clone(),
                what: what.to_string(),
                status: status.as_u16(),
                message,
            });
        }
        response
            .json::<T>()
            .map_err(|error| self.unreachable(format!("{what}: {}", error_chain(&error))))
    }
}

/// A reqwest error with its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// An agent's client and token (read from its token file), not yet asked
/// anything.
fn connect(
    agent_plan: &AgentPlan,
    options: &CoordinatorOptions,
) -> Result<Agent, CoordinatorError> {
    let token = match &agent_plan.token_file {
        None => None,
        Some(path) => {
            let full = options.base_dir.join(path);
            let text =
                std::fs::read_to_string(&full).map_err(|error| CoordinatorError::TokenFile {
                    agent: agent_plan.name.clone(),
                    path: full.display().to_string(),
                    reason: error.to_string(),
                })?;
            Some(text.trim().to_string())
        }
    };
    let client = Client::builder()
        .timeout(options.request_timeout)
        .connect_timeout(options.request_timeout)
        .build()
        .map_err(|error| {
            CoordinatorError::Scenario(format!("cannot make an HTTP client: {error}"))
        })?;
    Ok(Agent {
        plan: agent_plan.clone(),
        token,
        client,
        clock: ClockInfo::unknown(),
        run_id: None,
        state: None,
        error: None,
        lost: false,
        partial: false,
        intervals: Vec::new(),
    })
}

/// Connects to every agent of `plan` and checks it: reachable, the token
/// accepted, the same linerate version, and every port it must run present.
fn check_agents(plan: &Plan, options: &CoordinatorOptions) -> Result<Vec<Agent>, CoordinatorError> {
    let mut agents = Vec::with_capacity(plan.agents.len());
    for agent_plan in &plan.agents {
        let mut agent = connect(agent_plan, options)?;
        let own_ports: Vec<_> = plan
            .ports
            .iter()
            .filter(|port| port.agent.as_deref() == Some(agent_plan.name.as_str()))
            .collect();
        let mut namespaces: Vec<&str> = own_ports
            .iter()
            .filter_map(|port| port.namespace.as_deref())
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let builder = agent
            .client
            .get(agent.url("/agent"))
            .query(&[("namespaces", namespaces.join(","))]);
        let response = agent
            .request(builder)
            .map_err(|reason| agent.unreachable(reason))?;
        let info: AgentInfo = agent.json(response, "GET /agent")?;
        let ours = env!("CARGO_PKG_VERSION");
        if info.version != ours {
            return Err(CoordinatorError::Version {
                agent: agent_plan.name.clone(),
                url: agent_plan.url.clone(),
                theirs: info.version,
                ours: ours.to_string(),
            });
        }
        for port in own_ports {
            let present = info
                .ports
                .iter()
                .any(|seen| seen.interface == port.interface && seen.namespace == port.namespace);
            if !present {
                return Err(CoordinatorError::MissingPort {
                    agent: agent_plan.name.clone(),
                    port: port.name.clone(),
                    interface: port.describe(),
                });
            }
        }
        agent.clock = info.clock;
        agents.push(agent);
    }
    Ok(agents)
}

/// Runs `plan` (read from `scenario_toml`) over its agents: [`start`],
/// then [`drive`] with no controller but `stop` (Ctrl-C: the report is
/// marked interrupted).
pub fn run(
    plan: &Plan,
    scenario_toml: &str,
    options: &CoordinatorOptions,
    stop: &AtomicBool,
    live: &mut dyn FnMut(&LiveTotals),
) -> Result<MultiHostReport, CoordinatorError> {
    let started = start(plan, scenario_toml, options)?;
    drive(started, options, stop, None, live)
}

/// A run over agents that every agent has accepted: prepared everywhere,
/// sending from [`StartedRun::start_at_unix_ns`].
#[derive(Debug)]
pub struct StartedRun {
    plan: Plan,
    agents: Vec<Agent>,
    clocks: CrossAgentClocks,
    start_at_unix_ns: u64,
    start_instant: Instant,
}

impl StartedRun {
    /// When every agent starts sending, CLOCK_REALTIME ns since 1970.
    pub fn start_at_unix_ns(&self) -> u64 {
        self.start_at_unix_ns
    }
}

/// Checks every agent of `plan` (read from `scenario_toml`), works out
/// which cross-agent latencies can be reported, and posts every agent its
/// part with one common start a little ahead. Errors before traffic come
/// back as [`CoordinatorError`], one line each; nothing is left running.
pub fn start(
    plan: &Plan,
    scenario_toml: &str,
    options: &CoordinatorOptions,
) -> Result<StartedRun, CoordinatorError> {
    if !plan.has_agents() {
        return Err(CoordinatorError::Scenario(format!(
            "{}: no [[agent]] tables: nothing to coordinate",
            plan.source
        )));
    }
    let mut agents = check_agents(plan, options)?;
    let agent_clocks: Vec<(&str, &ClockInfo)> = agents
        .iter()
        .map(|agent| (agent.plan.name.as_str(), &agent.clock))
        .collect();
    let clocks = cross_agent_clocks(plan, &agent_clocks);
    refuse_unmeasurable_latency_limits(plan, &clocks)?;
    let start_at = unix_now_ns() + options.start_ahead.as_nanos() as u64;
    start_agents(&mut agents, scenario_toml, start_at, options)?;
    Ok(StartedRun {
        plan: plan.clone(),
        agents,
        clocks,
        start_at_unix_ns: start_at,
        start_instant: Instant::now() + options.start_ahead,
    })
}

/// Drives a started run to its merged report: polls every agent, hears
/// the totals and the newly merged intervals about once a second (`live`),
/// forwards `control`'s per-stream stops and starts to the agents that send
/// and count each stream, stops every agent when `stop` is set (marked
/// interrupted) or `control` asks (a stop on request), and merges their
/// results. An agent failing during the run gives a report with a failed
/// verdict naming it.
pub fn drive(
    started: StartedRun,
    options: &CoordinatorOptions,
    stop: &AtomicBool,
    control: Option<&SessionControl>,
    live: &mut dyn FnMut(&LiveTotals),
) -> Result<MultiHostReport, CoordinatorError> {
    let StartedRun {
        plan,
        mut agents,
        clocks,
        start_at_unix_ns,
        start_instant,
    } = started;
    let signals = Signals { stop, control };
    // Live intervals, like the report, carry no refused latency.
    let mut live_checked = |totals: &LiveTotals| {
        let mut totals = totals.clone();
        for interval in &mut totals.intervals {
            null_refused_latency(interval, &clocks);
        }
        live(&totals);
    };
    let failure = watch(
        &plan,
        &mut agents,
        options,
        &signals,
        start_instant,
        &mut live_checked,
    );
    let mut report = finish(&plan, agents, failure, start_at_unix_ns as f64 / 1e9)?;
    apply_cross_agent_clocks(&mut report.report, &clocks);
    if stop.load(Ordering::Relaxed) {
        report.report.verdict.interrupted = true;
        report.report.verdict.passed = false;
    }
    if control.is_some_and(SessionControl::stop_requested) {
        report.report.verdict.stopped_on_request = true;
    }
    Ok(report)
}

/// What may stop a run or switch its streams while it goes.
struct Signals<'a> {
    /// Ctrl-C.
    stop: &'a AtomicBool,
    /// A controller (the API), if any.
    control: Option<&'a SessionControl>,
}

impl Signals<'_> {
    fn stop_asked(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.control.is_some_and(SessionControl::stop_requested)
    }
}

/// Forwards every stream stop or start `control` holds that the agents
/// have not had yet to the agents that send or count the stream; one that
/// fails is tried again at the next poll.
fn forward_switches(
    plan: &Plan,
    agents: &[Agent],
    control: &SessionControl,
    forwarded: &mut [bool],
) {
    for (stream, done) in plan.streams.iter().zip(forwarded.iter_mut()) {
        let wanted = control.stream_stopped(&stream.name).unwrap_or(false);
        if *done == wanted {
            continue;
        }
        let ends = [stream.tx_port, stream.rx_port]
            .map(|port| plan.ports.get(port).and_then(|port| port.agent.as_deref()));
        let mut all_took_it = true;
        for agent in agents
            .iter()
            .filter(|agent| !agent.lost && ends.contains(&Some(agent.plan.name.as_str())))
        {
            let Some(id) = &agent.run_id else { continue };
            let action = if wanted { "stop" } else { "start" };
            let took_it = reqwest::Url::parse(&agent.plan.url)
                .ok()
                .and_then(|mut url| {
                    url.path_segments_mut().ok()?.pop_if_empty().extend([
                        "runs",
                        id,
                        "streams",
                        &stream.name,
                        action,
                    ]);
                    Some(url)
                })
                .and_then(|url| agent.request(agent.client.post(url)).ok())
                .is_some_and(|response| response.status().is_success());
            all_took_it &= took_it;
        }
        if all_took_it {
            *done = wanted;
        }
    }
}

/// Posts every agent its part with the common start, all at once; if any
/// refuses, the ones that accepted are stopped and the refusal returned.
fn start_agents(
    agents: &mut [Agent],
    scenario_toml: &str,
    start_at: u64,
    options: &CoordinatorOptions,
) -> Result<(), CoordinatorError> {
    let answers: Vec<Result<RunInfo, CoordinatorError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = agents
            .iter()
            .map(|agent| {
                let request = RunRequest {
                    scenario_toml: Some(scenario_toml.to_string()),
                    start_at_unix_ns: Some(start_at),
                    agent: Some(agent.plan.name.clone()),
                    ..options.run_options.clone()
                };
                scope.spawn(move || {
                    // Preparing attaches XDP programs and opens sockets: give
                    // it as long as the start is ahead.
                    let builder = agent
                        .client
                        .post(agent.url("/runs"))
                        .timeout(options.start_ahead)
                        .json(&request);
                    let response = agent
                        .request(builder)
                        .map_err(|reason| agent.unreachable(reason))?;
                    agent.json::<RunInfo>(response, "POST /runs")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(CoordinatorError::Scenario(
                        "a thread posting a run panicked; this is a linerate bug".to_string(),
                    ))
                })
            })
            .collect()
    });
    let mut first_error = None;
    for (agent, answer) in agents.iter_mut().zip(answers) {
        match answer {
            Ok(info) => agent.run_id = Some(info.id),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        for agent in agents.iter() {
            stop_agent(agent);
        }
        return Err(error);
    }
    Ok(())
}

/// Asks an agent to stop its run (best effort: it may be gone).
fn stop_agent(agent: &Agent) {
    if let Some(id) = &agent.run_id {
        let _ = agent.request(agent.client.post(agent.url(&format!("/runs/{id}/stop"))));
    }
}

/// Polls every agent until all have ended. Returns the first failure
/// (agent name and reason), after which the others are stopped and given
/// [`CoordinatorOptions::stop_grace`] to finish.
fn watch(
    plan: &Plan,
    agents: &mut [Agent],
    options: &CoordinatorOptions,
    signals: &Signals<'_>,
    start: Instant,
    live: &mut dyn FnMut(&LiveTotals),
) -> Option<(String, String)> {
    let mut failure: Option<(String, String)> = None;
    let mut stop_sent = false;
    let mut grace_until: Option<Instant> = None;
    let mut next_live = start + Duration::from_secs(1);
    let mut forwarded = vec![false; plan.streams.len()];
    let mut published = 0;
    loop {
        if let Some(control) = signals.control {
            forward_switches(plan, agents, control, &mut forwarded);
        }
        for agent in agents.iter_mut().filter(|agent| !agent.lost) {
            if agent.state.is_some_and(|state| !state.is_active()) {
                continue;
            }
            let Some(id) = agent.run_id.clone() else {
                continue;
            };
            let polled = agent
                .request(agent.client.get(agent.url(&format!("/runs/{id}"))))
                .map_err(|reason| format!("stopped answering: {reason}"))
                .and_then(|response| {
                    agent
                        .json::<RunInfo>(response, "GET /runs/{id}")
                        .map_err(|error| error.to_string())
                });
            match polled {
                Ok(info) => {
                    agent.state = Some(info.state);
                    if info.state == RunState::Failed {
                        let reason = info.error.unwrap_or_else(|| "its run failed".to_string());
                        agent.error = Some(reason.clone());
                        failure.get_or_insert((agent.plan.name.clone(), reason));
                    }
                }
                Err(reason) => {
                    agent.lost = true;
                    agent.error = Some(reason.clone());
                    failure.get_or_insert((agent.plan.name.clone(), reason));
                }
            }
        }
        let all_ended = agents
            .iter()
            .all(|agent| agent.lost || agent.state.is_some_and(|state| !state.is_active()));
        if all_ended {
            return failure;
        }
        if (failure.is_some() || signals.stop_asked()) && !stop_sent {
            stop_sent = true;
            for agent in agents.iter_mut().filter(|agent| !agent.lost) {
                if failure.is_some() && agent.state.is_some_and(|state| state.is_active()) {
                    agent.partial = true;
                }
                stop_agent(agent);
            }
            if failure.is_some() {
                grace_until = Some(Instant::now() + options.stop_grace);
            }
        }
        if grace_until.is_some_and(|until| Instant::now() >= until) {
            for agent in agents
                .iter_mut()
                .filter(|agent| !agent.lost && agent.state.is_some_and(|state| state.is_active()))
            {
                agent.error = Some("did not finish in time after the stop".to_string());
            }
            return failure;
        }
        if Instant::now() >= next_live {
            live(&live_totals(agents, start, &mut published));
            next_live += Duration::from_secs(1);
        }
        std::thread::sleep(options.poll);
    }
}

/// Fetches the intervals agent `agent` reported since the last fetch
/// (best effort: a failed fetch is tried again next time).
fn fetch_intervals(agent: &mut Agent) {
    let Some(id) = &agent.run_id else { return };
    let url = agent.url(&format!("/runs/{id}/intervals"));
    let builder = agent
        .client
        .get(url)
        .query(&[("from", agent.intervals.len())]);
    let Ok(response) = agent.request(builder) else {
        return;
    };
    if let Ok(more) = response.json::<Vec<IntervalSection>>() {
        agent.intervals.extend(more);
    }
}

/// Every agent's new intervals fetched; the intervals every agent still
/// running has now reported (`published` and on), merged; and the latest
/// merged totals and rates.
fn live_totals(agents: &mut [Agent], start: Instant, published: &mut usize) -> LiveTotals {
    for agent in agents.iter_mut().filter(|agent| !agent.lost) {
        fetch_intervals(agent);
    }
    let mut totals = LiveTotals {
        elapsed_s: Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64(),
        ..LiveTotals::default()
    };
    // An agent that ended (or was lost) keeps its last totals from then on.
    let running = agents.iter().filter(|agent| {
        !agent.lost && agent.run_id.is_some() && agent.state.is_none_or(RunState::is_active)
    });
    let longest = agents
        .iter()
        .map(|agent| agent.intervals.len())
        .max()
        .unwrap_or(0);
    let complete = running
        .map(|agent| agent.intervals.len())
        .min()
        .unwrap_or(longest);
    let series: Vec<&[IntervalSection]> = agents
        .iter()
        .map(|agent| agent.intervals.as_slice())
        .collect();
    for index in *published..complete {
        if let Some(mut interval) = merge_interval_at(&series, index) {
            interval.is_final = false;
            totals.intervals.push(interval);
        }
    }
    *published = (*published).max(complete);
    if let Some(interval) = totals.intervals.last() {
        for stream in &interval.streams {
            totals.tx_frames += stream.tx_frames;
            totals.rx_frames += stream.rx_frames;
            totals.tx_fps += stream.tx_fps;
            totals.rx_fps += stream.rx_fps;
        }
    }
    totals
}

/// Fetches every finished agent's results and merges them into the report.
fn finish(
    plan: &Plan,
    agents: Vec<Agent>,
    failure: Option<(String, String)>,
    started_unix_s: f64,
) -> Result<MultiHostReport, CoordinatorError> {
    let mut parts: Vec<RunReport> = Vec::new();
    let mut sections = Vec::with_capacity(agents.len());
    let mut agents = agents;
    for agent in agents.iter_mut().filter(|agent| !agent.lost) {
        fetch_intervals(agent);
    }
    let series: Vec<Vec<IntervalSection>> = agents
        .iter_mut()
        .map(|agent| std::mem::take(&mut agent.intervals))
        .collect();
    for agent in &agents {
        let (section, part) = agent_part(plan, agent)?;
        parts.extend(part);
        sections.push(section);
    }
    let merged = if parts.is_empty() {
        None
    } else {
        Some(merge_runs(&parts).map_err(|error| CoordinatorError::Merge(error.to_string()))?)
    };
    let merged = merged.unwrap_or_else(|| nothing_report(plan));
    let mut document = ReportDocument::new(
        plan,
        &merged,
        started_unix_s,
        merge_interval_series(&series),
    );
    if let Some((agent, reason)) = &failure {
        document.verdict.passed = false;
        document
            .verdict
            .failures
            .insert(0, format!("agent {agent:?} failed: {reason}"));
    }
    let firsts: Vec<u64> = sections
        .iter()
        .filter_map(|section| section.first_frame_unix_ns)
        .collect();
    let start_skew_ns = match (firsts.iter().min(), firsts.iter().max()) {
        (Some(min), Some(max)) => Some(max - min),
        _ => None,
    };
    Ok(MultiHostReport {
        report: document,
        agents: sections,
        start_skew_ns,
    })
}

/// An agent's section of the report and, when it has results, its part
/// of the run for the merge.
fn agent_part(
    plan: &Plan,
    agent: &Agent,
) -> Result<(AgentSection, Option<RunReport>), CoordinatorError> {
    let result = fetch_result(agent);
    let (state, error) = match (&result, agent.lost) {
        (_, true) => ("lost", agent.error.clone()),
        (Ok(_), _) => ("finished", agent.error.clone()),
        (Err(reason), _) => (
            "failed",
            Some(agent.error.clone().unwrap_or_else(|| reason.clone())),
        ),
    };
    let mut section = AgentSection {
        name: agent.plan.name.clone(),
        url: agent.plan.url.clone(),
        run_id: agent.run_id.clone().unwrap_or_default(),
        state: state.to_string(),
        error,
        partial: agent.partial,
        first_frame_unix_ns: None,
        clock: agent.clock.clone(),
        streams_sent: Vec::new(),
        streams_counted: Vec::new(),
    };
    let Ok(result) = result else {
        return Ok((section, None));
    };
    section.first_frame_unix_ns = result.first_frame_unix_ns;
    let names = |keep: fn(&crate::agent::StreamResultDocument) -> bool| {
        result
            .streams
            .iter()
            .filter(|stream| keep(stream))
            .map(|stream| stream.name.clone())
            .collect()
    };
    section.streams_sent = names(|stream| stream.frames_sent > 0);
    section.streams_counted = names(|stream| stream.rx_frames > 0);
    let part = result
        .to_report(&plan.source, &plan.pass)
        .map_err(|error| {
            CoordinatorError::Merge(format!("agent {:?}: {error}", agent.plan.name))
        })?;
    Ok((section, Some(part)))
}

/// An agent's raw results, or why there are none.
fn fetch_result(agent: &Agent) -> Result<RunResultDocument, String> {
    if agent.lost {
        return Err(agent.error.clone().unwrap_or_else(|| "lost".to_string()));
    }
    let id = agent.run_id.as_deref().ok_or("never started")?;
    let response = agent.request(agent.client.get(agent.url(&format!("/runs/{id}/result"))))?;
    agent
        .json::<RunResultDocument>(response, "GET /runs/{id}/result")
        .map_err(|error| error.to_string())
}

/// The report of a run no agent finished: no stream results.
fn nothing_report(plan: &Plan) -> RunReport {
    RunReport {
        source: plan.source.clone(),
        setup: linerate_engine::run::RunSetup {
            tx_ports: Vec::new(),
            rx_ports: Vec::new(),
            reflect_ports: Vec::new(),
            router_macs: Vec::new(),
        },
        send_duration: Duration::ZERO,
        streams: Vec::new(),
        workers: Vec::new(),
        frames_unknown_stream: 0,
        interrupted: false,
        stopped_on_request: false,
        pass: plan.pass.clone(),
        duplicate_window: 0,
        endpoints: None,
        first_frame_unix_ns: None,
        stations: Vec::new(),
    }
}

/// The folder of scenario file `path`, where relative token files are found.
pub fn scenario_dir(path: &Path) -> std::path::PathBuf {
    path.parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map_or_else(|| std::path::PathBuf::from("."), Path::to_path_buf)
}
