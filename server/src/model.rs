//! The API's own JSON shapes (requests and answers that are not the engine's
//! report model): scenario and run descriptions, run requests, stats, stream
//! switches and the events stream's end message. The report model itself
//! (`ReportDocument`, `IntervalSection`, `Verdict`) is the engine's.

use linerate_engine::report::{IntervalSection, Verdict};
use linerate_engine::run::RunSetup;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stored scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScenarioInfo {
    /// Its id, e.g. `sc-1`.
    pub id: String,
    /// The name errors and reports give it (the `name` query parameter, or `<id>.toml`).
    pub source: String,
    /// How many ports it names.
    pub ports: usize,
    /// How many streams it sends.
    pub streams: usize,
    /// The scenario as TOML text (JSON input is stored converted).
    pub toml: String,
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Sending.
    Running,
    /// A stop was asked for; sending ends, then the drain and the report.
    Stopping,
    /// Done: the report is there.
    Finished,
    /// It ended with an error (see `error`); no report.
    Failed,
}

impl RunState {
    /// True while the run holds its ports and sends (or drains).
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Running | RunState::Stopping)
    }

    /// The state's name as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
        }
    }
}

/// `POST /runs`: which scenario, and the run options the CLI has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// A stored scenario's id (from `POST /scenarios`).
    #[serde(default)]
    pub scenario: Option<String>,
    /// Or the scenario inline, as TOML text.
    #[serde(default)]
    pub scenario_toml: Option<String>,
    /// Or the scenario inline, as JSON of the same structure.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub scenario_json: Option<serde_json::Value>,
    /// AF_XDP mode for every port: `auto`, `copy` or `zero-copy` (as `--xsk-mode`).
    #[serde(default)]
    pub xsk_mode: Option<String>,
    /// Frames per batch, 1 to 2048 (as `--batch`; default 64).
    #[serde(default)]
    pub batch: Option<u32>,
    /// Release due frames together at most this often, 0 to 100000 µs (as `--release-interval`; default 20).
    #[serde(default)]
    pub release_interval_us: Option<u32>,
    /// Busy-poll the senders' sockets, 1 to 100000 µs (as `--busy-poll`).
    #[serde(default)]
    pub busy_poll_us: Option<u32>,
    /// Counted frames go on to the receiving port's stack (as `--rx-pass`).
    #[serde(default)]
    pub rx_pass: bool,
    /// Detach another tool's XDP program on a receiving port (as `--force`).
    #[serde(default)]
    pub force: bool,
    /// Start sending at this CLOCK_REALTIME instant (ns since 1970) instead
    /// of at once: a coordinator starts every agent at one moment. A time
    /// already past, or over 60 s ahead, is refused (400).
    #[serde(default)]
    pub start_at_unix_ns: Option<u64>,
    /// Run only this agent's part of a multi-host scenario: ports of other
    /// agents are not opened (streams they send are only counted here,
    /// streams they count only sent). Must name one of its `[[agent]]`s.
    #[serde(default)]
    pub agent: Option<String>,
}

/// A sender as the run opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxSetup {
    /// The port's name.
    pub port: String,
    /// Its interface.
    pub interface: String,
    /// The queue the sender is bound to.
    pub queue: u32,
    /// The AF_XDP mode in use.
    pub xsk_mode: String,
    /// The core the sender is pinned to, if any.
    pub core: Option<usize>,
    /// The streams it sends.
    pub streams: Vec<String>,
    /// Its UMEM, bytes.
    pub umem_bytes: u64,
}

/// A receive counter as the run attached it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RxSetup {
    /// The port's name.
    pub port: String,
    /// Its interface.
    pub interface: String,
    /// How the kernel runs the counter.
    pub xdp_mode: String,
}

/// What a run set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SetupInfo {
    /// The senders.
    pub tx: Vec<TxSetup>,
    /// The receive counters.
    pub rx: Vec<RxSetup>,
}

impl From<&RunSetup> for SetupInfo {
    fn from(setup: &RunSetup) -> Self {
        SetupInfo {
            tx: setup
                .tx_ports
                .iter()
                .map(|tx| TxSetup {
                    port: tx.port.clone(),
                    interface: tx.interface.clone(),
                    queue: tx.queue,
                    xsk_mode: tx.mode.to_string(),
                    core: tx.core,
                    streams: tx.streams.clone(),
                    umem_bytes: tx.umem_bytes,
                })
                .collect(),
            rx: setup
                .rx_ports
                .iter()
                .map(|rx| RxSetup {
                    port: rx.port.clone(),
                    interface: rx.interface.clone(),
                    xdp_mode: rx.mode.to_string(),
                })
                .collect(),
        }
    }
}

/// A stream of a run and whether it is stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StreamInfo {
    /// The stream id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// True while stopped by `POST /runs/{id}/streams/{name}/stop`.
    pub stopped: bool,
}

/// A run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunInfo {
    /// Its id, e.g. `run-1`.
    pub id: String,
    /// Where it is.
    pub state: RunState,
    /// The scenario's name.
    pub source: String,
    /// When sending started, seconds since 1970.
    pub started_unix_s: f64,
    /// Seconds since sending started (frozen when the run ends).
    pub elapsed_s: f64,
    /// Senders and counters.
    pub setup: SetupInfo,
    /// Its streams.
    pub streams: Vec<StreamInfo>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The verdict once finished (the report's `verdict`).
    #[schema(value_type = Option<Object>)]
    pub verdict: Option<Verdict>,
    /// When the first frame went out, CLOCK_REALTIME ns since 1970, once
    /// the run has ended (null before, or when nothing was sent).
    #[serde(default)]
    pub first_frame_unix_ns: Option<u64>,
}

/// `GET /runs/{id}/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsInfo {
    /// Seconds since sending started.
    pub elapsed_s: f64,
    /// The latest interval report (the report's `interval_section`), null before the first.
    #[schema(value_type = Option<Object>)]
    pub interval: Option<IntervalSection>,
}

/// A stream stopped or started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StreamSwitch {
    /// The stream.
    pub name: String,
    /// Whether it is now stopped.
    pub stopped: bool,
}

/// The events stream's last message (`event: end`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EndEvent {
    /// `finished` or `failed`.
    pub state: RunState,
    /// The verdict, when finished.
    #[schema(value_type = Option<Object>)]
    pub verdict: Option<Verdict>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}
