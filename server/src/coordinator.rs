//! The multi-host coordinator: runs a scenario whose ports name agents
//! (`linerate serve` on each host) as one run. It checks every agent
//! (version, the ports it must have, its clock), posts each agent its part
//! (the whole scenario with `"agent": name`: the agent opens only its own
//! ports) with one common `start_at_unix_ns` a little ahead, polls them,
//! and at the end merges their raw results exactly
//! (`linerate_engine::merge::merge_runs`) into one report with a section
//! per agent and the measured start skew. An agent that fails or stops
//! answering fails the run, naming it; the others are stopped and their
//! results kept, marked partial. Blocking (reqwest's blocking client): it
//! runs on the CLI's thread, never inside the server's runtime.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linerate_engine::merge::merge_runs;
use linerate_engine::outcome::RunReport;
use linerate_engine::report::ReportDocument;
use linerate_engine::scenario::{AgentPlan, Plan};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::agent::{AgentInfo, ClockInfo, RunResultDocument};
use crate::model::{RunInfo, RunRequest, RunState, StatsInfo};

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

/// What the coordinator says while the run goes on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveTotals {
    /// Seconds since the common start.
    pub elapsed_s: f64,
    /// Frames sent so far, every agent.
    pub tx_frames: u64,
    /// Frames counted so far, every agent.
    pub rx_frames: u64,
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
        clock: ClockInfo {
            source: "none".to_string(),
            offset_ns: None,
            synchronized: false,
        },
        run_id: None,
        state: None,
        error: None,
        lost: false,
        partial: false,
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

/// Runs `plan` (read from `scenario_toml`) over its agents: checks them,
/// starts them at one moment, polls them (`live` hears the totals about
/// once a second), stops them all when `stop` is set, and merges their
/// results. Errors before traffic come back as [`CoordinatorError`]; an
/// agent failing during the run gives a report with a failed verdict
/// naming it.
pub fn run(
    plan: &Plan,
    scenario_toml: &str,
    options: &CoordinatorOptions,
    stop: &AtomicBool,
    live: &mut dyn FnMut(&LiveTotals),
) -> Result<MultiHostReport, CoordinatorError> {
    if !plan.has_agents() {
        return Err(CoordinatorError::Scenario(format!(
            "{}: no [[agent]] tables: nothing to coordinate",
            plan.source
        )));
    }
    if !plan.endpoints.is_empty() {
        return Err(CoordinatorError::Scenario(format!(
            "{}: endpoints ([[tcp]], [[url]], [[ping]], [[file_io]]) do not run over agents yet; run them without [[agent]] tables",
            plan.source
        )));
    }
    let mut agents = check_agents(plan, options)?;
    let start_at = unix_now_ns() + options.start_ahead.as_nanos() as u64;
    start_agents(&mut agents, scenario_toml, start_at, options)?;
    let started_unix_s = start_at as f64 / 1e9;
    let start_instant = Instant::now() + options.start_ahead;
    let failure = watch(&mut agents, options, stop, start_instant, live);
    let mut report = finish(plan, agents, failure, started_unix_s)?;
    if stop.load(Ordering::Relaxed) {
        report.report.verdict.interrupted = true;
        report.report.verdict.passed = false;
    }
    Ok(report)
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
    agents: &mut [Agent],
    options: &CoordinatorOptions,
    stop: &AtomicBool,
    start: Instant,
    live: &mut dyn FnMut(&LiveTotals),
) -> Option<(String, String)> {
    let mut failure: Option<(String, String)> = None;
    let mut stop_sent = false;
    let mut grace_until: Option<Instant> = None;
    let mut next_live = start + Duration::from_secs(1);
    loop {
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
        if (failure.is_some() || stop.load(Ordering::Relaxed)) && !stop_sent {
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
            live(&live_totals(agents, start));
            next_live += Duration::from_secs(1);
        }
        std::thread::sleep(options.poll);
    }
}

/// Every agent's latest totals, summed.
fn live_totals(agents: &[Agent], start: Instant) -> LiveTotals {
    let mut totals = LiveTotals {
        elapsed_s: Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64(),
        ..LiveTotals::default()
    };
    for agent in agents.iter().filter(|agent| !agent.lost) {
        let Some(id) = &agent.run_id else { continue };
        let Ok(response) = agent.request(agent.client.get(agent.url(&format!("/runs/{id}/stats"))))
        else {
            continue;
        };
        let Ok(stats) = response.json::<StatsInfo>() else {
            continue;
        };
        for stream in stats.interval.iter().flat_map(|interval| &interval.streams) {
            totals.tx_frames += stream.tx_frames;
            totals.rx_frames += stream.rx_frames;
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
    for agent in &agents {
        let result = fetch_result(agent);
        let (state, error) = match (&result, agent.lost, agent.state) {
            (_, true, _) => ("lost", agent.error.clone()),
            (Ok(_), _, _) => ("finished", agent.error.clone()),
            (Err(reason), _, _) => (
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
        if let Ok(result) = result {
            section.first_frame_unix_ns = result.first_frame_unix_ns;
            section.streams_sent = result
                .streams
                .iter()
                .filter(|stream| stream.frames_sent > 0)
                .map(|stream| stream.name.clone())
                .collect();
            section.streams_counted = result
                .streams
                .iter()
                .filter(|stream| stream.rx_frames > 0)
                .map(|stream| stream.name.clone())
                .collect();
            let part = result
                .to_report(&plan.source, &plan.pass)
                .map_err(|error| {
                    CoordinatorError::Merge(format!("agent {:?}: {error}", agent.plan.name))
                })?;
            parts.push(part);
        }
        sections.push(section);
    }
    let merged = if parts.is_empty() {
        None
    } else {
        Some(merge_runs(&parts).map_err(|error| CoordinatorError::Merge(error.to_string()))?)
    };
    let merged = merged.unwrap_or_else(|| nothing_report(plan));
    let mut document = ReportDocument::new(plan, &merged, started_unix_s, Vec::new());
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
