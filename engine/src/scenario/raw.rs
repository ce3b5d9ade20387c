//! The scenario file as serde reads it: plain structs mirroring the TOML,
//! every value spanned so that validation can point at its line. No meaning
//! is given to any value here; `validate` does that.

use serde::Deserialize;
use toml::Spanned;

pub use super::endpoints::{RawFileIo, RawPing, RawTcp, RawUrl};

/// A value given either as a number or as a string with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    /// A bare number.
    Integer(i64),
    /// A bare floating-point number.
    Float(f64),
    /// Text such as "10s" or "100kpps".
    Text(String),
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// `[run]`.
    pub run: Option<Spanned<RawRun>>,
    /// `[[port]]` tables.
    #[serde(default, rename = "port")]
    pub ports: Vec<Spanned<RawPort>>,
    /// `[[stream]]` tables.
    #[serde(default, rename = "stream")]
    pub streams: Vec<Spanned<RawStream>>,
    /// `[pass]`: the criteria every stream must meet.
    pub pass: Option<Spanned<RawPass>>,
    /// `[[tcp]]` cross-connects.
    #[serde(default)]
    pub tcp: Vec<Spanned<RawTcp>>,
    /// `[[url]]` endpoints.
    #[serde(default)]
    pub url: Vec<Spanned<RawUrl>>,
    /// `[[ping]]` endpoints.
    #[serde(default)]
    pub ping: Vec<Spanned<RawPing>>,
    /// `[[file_io]]` endpoints.
    #[serde(default)]
    pub file_io: Vec<Spanned<RawFileIo>>,
    /// `[rfc2544]`: the benchmark suite's settings.
    pub rfc2544: Option<Spanned<super::rfc2544::RawRfc2544>>,
    /// `[[station]]` tables: WiFi stations, each also a port.
    #[serde(default, rename = "station")]
    pub stations: Vec<Spanned<super::stations::RawStation>>,
    /// `[[agent]]` tables: the hosts a multi-host run spreads over.
    #[serde(default, rename = "agent")]
    pub agents: Vec<Spanned<super::agents::RawAgent>>,
}

/// `[pass]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPass {
    /// Most frames a stream may lose.
    pub max_loss_frames: Option<Spanned<i64>>,
    /// Most frames a stream may lose, as a percentage of those sent.
    pub max_loss_percent: Option<Spanned<NumberOrText>>,
    /// Most late (reordered) frames.
    pub max_reorder: Option<Spanned<i64>>,
    /// Most duplicate frames.
    pub max_duplicates: Option<Spanned<i64>>,
    /// Latency limits at percentiles.
    pub max_latency: Option<Spanned<Vec<Spanned<RawLatencyLimit>>>>,
    /// Least achieved sending rate, as a percentage of the target.
    pub min_rate_percent: Option<Spanned<NumberOrText>>,
    /// Least rate of each TCP direction, % of its target (default 90).
    pub tcp_min_rate_percent: Option<Spanned<NumberOrText>>,
    /// Least URL request rate, % of requests_per_ten (default 90).
    pub url_min_rate_percent: Option<Spanned<NumberOrText>>,
    /// Least File-IO write rate, % of its target (default 90).
    pub file_io_min_rate_percent: Option<Spanned<NumberOrText>>,
    /// Most errors any one endpoint may count (default 0).
    pub max_endpoint_errors: Option<Spanned<i64>>,
    /// Most ping loss, percent (default 0).
    pub max_ping_loss_percent: Option<Spanned<NumberOrText>>,
}

/// `{ percentile = 99.0, max = "1ms" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatencyLimit {
    /// The percentile, 0 to 100 (100 is the maximum).
    pub percentile: NumberOrText,
    /// The limit, e.g. "500us".
    pub max: String,
}

/// `[stream.fault]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// "skip", "repeat" or "swap".
    pub kind: Spanned<String>,
    /// One fault every this many frames.
    pub every: Option<Spanned<i64>>,
    /// Or: each frame with this probability.
    pub probability: Option<Spanned<NumberOrText>>,
    /// Seed for `probability` (default 1).
    pub seed: Option<Spanned<i64>>,
}

/// `[run]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// How long to send, e.g. "10s".
    pub duration: Option<Spanned<NumberOrText>>,
    /// How many frames each stream sends.
    pub frames: Option<Spanned<i64>>,
    /// "fast" (1 s), "slow" (10 s) or a duration.
    pub report_interval: Option<Spanned<String>>,
    /// Longest wait for frames in flight after sending stops.
    pub drain: Option<Spanned<String>>,
    /// "spread" (the default) or "aligned".
    pub phase: Option<Spanned<String>>,
}

/// `[[port]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    /// The name streams use to refer to the port.
    pub name: Spanned<String>,
    /// The network interface.
    pub interface: Spanned<String>,
    /// The network namespace the interface is in, if not the current one.
    pub namespace: Option<Spanned<String>>,
    /// How many TX queues (0..n) to send on, one worker each.
    pub queues: Option<Spanned<i64>>,
    /// Cores for the port's workers, in queue order.
    pub cores: Option<Spanned<Vec<i64>>>,
    /// AF_XDP bind mode: "auto", "copy" or "zero-copy".
    pub xsk_mode: Option<Spanned<String>>,
    /// The port sends every linerate frame back (the XDP reflector).
    pub reflect: Option<Spanned<bool>>,
    /// The `[[agent]]` the port is on (multi-host runs).
    pub agent: Option<Spanned<String>>,
}

/// `[[stream]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    /// The stream's name in reports.
    pub name: Option<Spanned<String>>,
    /// Port that sends.
    pub tx: Spanned<String>,
    /// Port that receives and counts.
    pub rx: Spanned<String>,
    /// Source MAC.
    pub src_mac: Spanned<String>,
    /// Destination MAC.
    pub dst_mac: Spanned<String>,
    /// Source IPv4 address.
    pub src_ip: Spanned<String>,
    /// Destination IPv4 address.
    pub dst_ip: Spanned<String>,
    /// UDP source port.
    pub src_port: Spanned<u16>,
    /// UDP destination port.
    pub dst_port: Spanned<u16>,
    /// Frame size in bytes without FCS: a number or a min/max table.
    pub frame_size: Option<Spanned<SizeValue>>,
    /// UDP payload size in bytes: a number or a min/max table.
    pub udp_payload: Option<Spanned<SizeValue>>,
    /// Frames per second: a number, or text like "100kpps", "1Gbps", "max".
    pub rate: Spanned<NumberOrText>,
    /// What a bit rate counts: "l1" (default) or "l2".
    pub rate_layer: Option<Spanned<String>>,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: Option<Spanned<u8>>,
    /// IPv4 DSCP/ECN byte or IPv6 traffic class.
    pub tos: Option<Spanned<u8>>,
    /// 802.1Q VLAN id.
    pub vlan: Option<Spanned<i64>>,
    /// 802.1Q priority.
    pub vlan_priority: Option<Spanned<i64>>,
    /// Payload pattern name.
    pub payload: Option<Spanned<String>>,
    /// Custom payload bytes in hex, repeated.
    pub payload_hex: Option<Spanned<String>>,
    /// Seed for the random payload pattern.
    pub payload_seed: Option<Spanned<i64>>,
    /// `[[stream.sweep]]` tables.
    #[serde(default, rename = "sweep")]
    pub sweeps: Vec<Spanned<RawSweep>>,
    /// "lockstep" or "product".
    pub sweep_combine: Option<Spanned<String>>,
    /// `[stream.fault]`: sequence faults injected on purpose.
    pub fault: Option<Spanned<RawFault>>,
    /// "continuous", `{ burst = N }` or `{ bursts = K, frames = N, gap = "10ms" }`.
    pub mode: Option<Spanned<super::modes::RawMode>>,
    /// Time after the run's start before the stream's first frame.
    pub start_delay: Option<Spanned<String>>,
    /// The stream stops this long after its own start.
    pub stop_after: Option<Spanned<String>>,
    /// How many streams the table makes (default 1), each its own stream.
    pub count: Option<Spanned<i64>>,
    /// Per-copy field steps: `{ src_port = 1, src_ip = 1 }`.
    pub step: Option<Spanned<std::collections::BTreeMap<String, Spanned<i64>>>>,
    /// Never read from a file: set when `src_ip = "station"` names a
    /// station with `ipv4 = "dhcp"` (the frame holds 0.0.0.0 until its
    /// lease is known; see `StreamPlan::src_ip_dhcp`).
    #[serde(skip)]
    pub src_ip_dhcp: Option<String>,
    /// The same for `dst_ip = "station"`.
    #[serde(skip)]
    pub dst_ip_dhcp: Option<String>,
}

/// A size: one number, or a range with a mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    /// A fixed size.
    Fixed(i64),
    /// A range.
    Range(RawSizeRange),
    /// `{ imix = "simple" }` or `{ mix = [[64, 7], [594, 4], [1518, 1]] }`.
    Mix(super::mix::RawSizeMix),
}

/// `{ min = .., max = .., mode = "random" | "increment", seed = .. }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSizeRange {
    /// Smallest size.
    pub min: i64,
    /// Largest size.
    pub max: i64,
    /// "increment" (default) or "random".
    pub mode: Option<String>,
    /// Seed for "random".
    pub seed: Option<i64>,
}

/// `[[stream.sweep]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// The field: src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port, vlan.
    pub field: Spanned<String>,
    /// First value; the stream's own value when left out.
    pub start: Option<Spanned<NumberOrText>>,
    /// Last value (give this or count).
    pub end: Option<Spanned<NumberOrText>>,
    /// How many values (give this or end).
    pub count: Option<Spanned<i64>>,
    /// Distance between values (default 1).
    pub step: Option<Spanned<i64>>,
    /// "increment" (default), "decrement" or "random".
    pub mode: Option<Spanned<String>>,
    /// Seed for "random" (default 1).
    pub seed: Option<Spanned<i64>>,
}
