//! The validated, immutable plan the engine runs. Nothing here knows TOML.

use std::time::Duration;

use crate::frame::FrameSpec;
pub use crate::pacer::{Bursts, Schedule};
use crate::sequence::SequenceFault;
pub use crate::types::Rate;
use crate::types::XskModeRequest;
use linerate_endpoints::{EndpointCriteria, EndpointPlans};

/// A whole validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Where the scenario came from, for reports.
    pub source: String,
    /// How long to run and how to report.
    pub run: RunPlan,
    /// The ports streams send from and count on.
    pub ports: Vec<PortPlan>,
    /// The streams, indexed by their id.
    pub streams: Vec<StreamPlan>,
    /// What every stream must meet for the run to pass.
    pub pass: PassCriteria,
    /// The endpoints on kernel sockets run beside the streams (`[[tcp]]`,
    /// `[[url]]`, `[[ping]]`, `[[file_io]]`).
    pub endpoints: EndpointPlans,
    /// The `[rfc2544]` table, for `linerate bench rfc2544`.
    pub rfc2544: Option<super::rfc2544::Rfc2544Plan>,
    /// The `[[agent]]` tables: empty for a run on this host alone.
    pub agents: Vec<super::agents::AgentPlan>,
    /// With agents: which agent runs each endpoint (endpoint name → agent
    /// name), the agent of the `[[port]]` it is on. Empty without agents.
    pub endpoint_agents: std::collections::HashMap<String, String>,
    /// The `[[station]]` tables: WiFi stations the run brings up before
    /// it starts (each also one of [`Plan::ports`]) and removes after.
    pub stations: Vec<crate::wifi::StationGroupPlan>,
}

/// A latency limit at a percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyLimit {
    /// 0 to 100; 100 is the largest latency seen.
    pub percentile: f64,
    /// The latency at that percentile must not exceed this.
    pub max: Duration,
}

/// Pass criteria, applied to every stream. `None` means "not checked".
#[derive(Debug, Clone, PartialEq)]
pub struct PassCriteria {
    /// Most frames lost.
    pub max_loss_frames: Option<u64>,
    /// Most frames lost, percent of those sent.
    pub max_loss_percent: Option<f64>,
    /// Most late (reordered) frames.
    pub max_reorder: Option<u64>,
    /// Most duplicates.
    pub max_duplicates: Option<u64>,
    /// Latency limits.
    pub max_latency: Vec<LatencyLimit>,
    /// Least achieved sending rate, percent of the target (streams with a
    /// target rate only).
    pub min_rate_percent: Option<f64>,
    /// What the endpoints must meet (their defaults apply to any key a
    /// `[pass]` table leaves out).
    pub endpoints: EndpointCriteria,
}

impl Default for PassCriteria {
    /// Without a `[pass]` table: no frame lost, and at least 90 % of the
    /// target rate sent.
    fn default() -> Self {
        PassCriteria {
            max_loss_frames: Some(0),
            max_loss_percent: None,
            max_reorder: None,
            max_duplicates: None,
            max_latency: Vec::new(),
            min_rate_percent: Some(DEFAULT_MIN_RATE_PERCENT),
            endpoints: EndpointCriteria::default(),
        }
    }
}

/// The achieved-rate floor when a scenario has no `[pass]` table.
pub const DEFAULT_MIN_RATE_PERCENT: f64 = 90.0;

/// When sending stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCondition {
    /// Send for this long.
    Duration(Duration),
    /// Each stream sends exactly this many frames.
    FramesPerStream(u64),
}

/// How a run proceeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// When sending stops.
    pub stop: StopCondition,
    /// How often a live line is reported.
    pub report_interval: Duration,
    /// Longest wait for frames still in flight after sending stops.
    pub drain: Duration,
    /// Whether streams sharing a sender start spread over their period.
    pub phase: Phase,
}

/// When a sender's streams start within their period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Stream i of a sender's n streams starts i/n of its period late, so
    /// that streams sharing a rate do not all fall due at the same instant.
    #[default]
    Spread,
    /// Every stream starts at the common start (`[run] phase = "aligned"`).
    Aligned,
}

/// A port: an interface, maybe inside a network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    /// The name streams use.
    pub name: String,
    /// The interface name.
    pub interface: String,
    /// The network namespace (a name under /run/netns), if any.
    pub namespace: Option<String>,
    /// TX queues 0..queues to send on, one worker each; the port's streams
    /// are shared among them, each stream owned by one worker.
    pub queues: u32,
    /// Cores for the workers, in queue order (wrapping); empty: chosen
    /// automatically.
    pub cores: Vec<usize>,
    /// The AF_XDP bind mode the scenario asks for, if any.
    pub xsk_mode: Option<XskModeRequest>,
    /// `reflect = true`: during the run the XDP reflector on this port
    /// sends every linerate frame back with its addresses swapped, so that
    /// streams counted on their own sending port (`rx` = `tx`) measure the
    /// round trip. Such a port counts no stream itself.
    pub reflect: bool,
    /// The agent the port is on (`agent = "name"`), in multi-host scenarios.
    pub agent: Option<String>,
    /// True in an agent's part of a multi-host run for a port on another
    /// agent: nothing is opened on it here; streams it sends are only
    /// counted here, streams it counts only sent.
    pub remote: bool,
}

impl PortPlan {
    /// A local port on `interface` (in `namespace`) with every other key at
    /// its default: one queue, cores chosen automatically, the AF_XDP mode
    /// chosen by the kernel, no reflector, no agent.
    pub fn on_interface(name: String, interface: String, namespace: Option<String>) -> PortPlan {
        PortPlan {
            name,
            interface,
            namespace,
            queues: 1,
            cores: Vec::new(),
            xsk_mode: None,
            reflect: false,
            agent: None,
            remote: false,
        }
    }

    /// "lr-a in namespace linerate-a", for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{} (namespace {namespace})", self.interface),
            None => self.interface.clone(),
        }
    }
}

/// One stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    /// The id carried in every frame's payload header; the stream's index.
    pub id: u32,
    /// The name in reports.
    pub name: String,
    /// Index into [`Plan::ports`] of the sending port.
    pub tx_port: usize,
    /// Index into [`Plan::ports`] of the counting port.
    pub rx_port: usize,
    /// The frame.
    pub frame: FrameSpec,
    /// True when `dst_mac = "router"`: the destination MAC is the sending
    /// port's default gateway's, found at run time ([`FrameSpec::dst_mac`]
    /// holds zeros until then).
    pub dst_mac_from_router: bool,
    /// `src_ip = "station"` on a station with `ipv4 = "dhcp"`: the
    /// station's name. The frame's source address is an offset from
    /// 0.0.0.0 (0, or a copy's step) until the session adds the station's
    /// leased address to it, once the station has its lease.
    pub src_ip_dhcp: Option<String>,
    /// The same for `dst_ip = "station"` (the receiving station's lease).
    pub dst_ip_dhcp: Option<String>,
    /// The rate. For a rate given as a percentage of the link speed this
    /// is [`Rate::Max`] until the session resolves it (see `line_percent`).
    pub rate: Rate,
    /// `rate = "50%"`: the rate is this percentage of the sending port's
    /// link speed at L1, turned into frames/s when the session is prepared.
    pub line_percent: Option<f64>,
    /// Continuous or bursts, start delay and stop time.
    pub schedule: Schedule,
    /// Sequence faults the sender injects on purpose.
    pub fault: Option<SequenceFault>,
}

impl StreamPlan {
    /// Bits per second on the wire at L1 (frame, FCS, preamble and gap) at
    /// the stream's rate, varying sizes at their average; infinite for max.
    pub fn l1_bits_per_second(&self) -> f64 {
        let average_frame = self.frame.size.average();
        self.rate.frames_per_second() * (average_frame + super::L1_OVERHEAD_BYTES as f64) * 8.0
    }

    /// How many frames this stream sends in a run that stops on `stop`
    /// (`u64::MAX` for a rate of max over a duration: it stops on time).
    pub fn frames_to_send(&self, stop: StopCondition) -> u64 {
        if self.rate.is_zero() {
            return 0;
        }
        match stop {
            StopCondition::FramesPerStream(frames) => {
                frames.min(self.schedule.frames_limit(self.rate))
            }
            StopCondition::Duration(duration) => self.schedule.frames_in_run(self.rate, duration),
        }
    }
}
