//! The run report as one document model: what `--json` writes, what the
//! HTTP API serves, and what the HTML report draws, so that they cannot
//! drift apart (docs/report.schema.json describes it). Scenario, environment,
//! interval series, per-stream totals with latency, and the verdict.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use linerate_bpf::abi::{LATENCY_BUCKETS, LATENCY_SUB_BITS};
use linerate_bpf::LatencyCounters;

use crate::merge::MergeError;
use crate::outcome::{RunReport, StreamResult};
use crate::run::RunSetup;
use crate::scenario::{Plan, StopCondition};
use crate::sequence::FaultTrigger;
use crate::stats::{IntervalReport, LatencySummary};

/// The value of the document's `schema` field; bumped when a field changes
/// meaning or goes away.
pub const SCHEMA_ID: &str = "linerate-report/1";

/// Seconds since the Unix epoch, as the document writes times.
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

impl ReportDocument {
    /// The document for a finished run of `plan` that started at
    /// `started_unix_s`, with `intervals` as its series (a caller that
    /// keeps the series on disk passes none and splices it in).
    pub fn new(
        plan: &Plan,
        report: &RunReport,
        started_unix_s: f64,
        intervals: Vec<IntervalSection>,
    ) -> ReportDocument {
        ReportDocument {
            schema: SCHEMA_ID.to_string(),
            linerate_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: ScenarioSection::from(plan),
            environment: Environment::now(&report.setup, started_unix_s),
            intervals,
            streams: report.streams.iter().map(StreamSection::from).collect(),
            verdict: Verdict {
                passed: report.passed(),
                interrupted: report.interrupted,
                stopped_on_request: report.stopped_on_request,
                failures: report.failures(),
            },
            duplicate_window: report.duplicate_window,
            frames_unknown_stream: report.frames_unknown_stream,
            send_duration_s: report.send_duration.as_secs_f64(),
            endpoints: report.endpoints.clone(),
            stations: report.stations.clone(),
        }
    }
}

/// The whole report document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDocument {
    /// This schema's id; changes when a field changes meaning or goes away.
    pub schema: String,
    /// The linerate version that ran.
    pub linerate_version: String,
    /// What was run.
    pub scenario: ScenarioSection,
    /// Where it ran: host, kernel, senders (AF_XDP mode, queue, core) and receive counters (XDP mode).
    pub environment: Environment,
    /// The interval series, in order (the last one final).
    pub intervals: Vec<IntervalSection>,
    /// Per-stream totals after the drain.
    pub streams: Vec<StreamSection>,
    /// The pass/fail verdict and every failed criterion.
    pub verdict: Verdict,
    /// How many sequence numbers back a duplicate is still recognised.
    pub duplicate_window: u64,
    /// Linerate frames with a stream id this run does not have.
    pub frames_unknown_stream: u64,
    /// From the start of sending to the last frame sent.
    pub send_duration_s: f64,
    /// The endpoints' results (TCP, URL, ping, File-IO; docs/endpoints.md);
    /// absent when the scenario has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<linerate_endpoints::EndpointsReport>,
    /// The WiFi stations (associated, BSSID, SSID, frequency, signal,
    /// bitrates, times, failure); absent when the scenario has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stations: Vec<crate::wifi::StationReport>,
}

/// The document's `scenario_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSection {
    /// The scenario file.
    pub source: String,
    /// How long the run sends, or null when it sends a frame count.
    pub duration_s: Option<f64>,
    /// Frames each stream sends, or null when it runs for a duration.
    pub frames_per_stream: Option<u64>,
    /// The report interval.
    pub report_interval_s: f64,
    /// The streams as the scenario configured them.
    pub streams: Vec<ScenarioStream>,
    /// The criteria the verdict applied; null: not checked.
    pub pass: PassSection,
}

/// The document's `scenario_stream` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioStream {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Tx port.
    pub tx_port: String,
    /// Rx port.
    pub rx_port: String,
    /// Frame size min.
    pub frame_size_min: usize,
    /// Frame size max.
    pub frame_size_max: usize,
    /// Target rate in frames/s; null for rate max.
    pub target_fps: Option<f64>,
    /// Sequence faults injected on purpose, if any.
    pub fault: Option<FaultSection>,
}

/// The document's `fault_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSection {
    /// Kind.
    pub kind: String,
    /// Every.
    pub every: Option<u64>,
    /// Probability.
    pub probability: Option<f64>,
}

/// The document's `pass_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassSection {
    /// Max loss frames.
    pub max_loss_frames: Option<u64>,
    /// Max loss percent.
    pub max_loss_percent: Option<f64>,
    /// Max reorder.
    pub max_reorder: Option<u64>,
    /// Max duplicates.
    pub max_duplicates: Option<u64>,
    /// Max latency.
    pub max_latency: Vec<LatencyLimit>,
    /// Min rate percent.
    pub min_rate_percent: Option<f64>,
}

/// The document's `latency_limit` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyLimit {
    /// Percentile.
    pub percentile: f64,
    /// Max ns.
    pub max_ns: u64,
}

impl From<&Plan> for ScenarioSection {
    fn from(plan: &Plan) -> Self {
        let (duration_s, frames_per_stream) = match plan.run.stop {
            StopCondition::Duration(duration) => (Some(duration.as_secs_f64()), None),
            StopCondition::FramesPerStream(frames) => (None, Some(frames)),
        };
        let pass = &plan.pass;
        ScenarioSection {
            source: plan.source.clone(),
            duration_s,
            frames_per_stream,
            report_interval_s: plan.run.report_interval.as_secs_f64(),
            streams: plan
                .streams
                .iter()
                .map(|stream| ScenarioStream {
                    id: stream.id,
                    name: stream.name.clone(),
                    tx_port: plan.ports[stream.tx_port].name.clone(),
                    rx_port: plan.ports[stream.rx_port].name.clone(),
                    frame_size_min: stream.frame.size.min(),
                    frame_size_max: stream.frame.size.max(),
                    target_fps: finite(stream.rate.frames_per_second()),
                    fault: stream.fault.map(|fault| FaultSection {
                        kind: fault.kind.name().to_string(),
                        every: match fault.trigger {
                            FaultTrigger::Every(every) => Some(every),
                            FaultTrigger::Probability { .. } => None,
                        },
                        probability: match fault.trigger {
                            FaultTrigger::Every(_) => None,
                            FaultTrigger::Probability { probability, .. } => Some(probability),
                        },
                    }),
                })
                .collect(),
            pass: PassSection {
                max_loss_frames: pass.max_loss_frames,
                max_loss_percent: pass.max_loss_percent,
                max_reorder: pass.max_reorder,
                max_duplicates: pass.max_duplicates,
                max_latency: pass
                    .max_latency
                    .iter()
                    .map(|limit| LatencyLimit {
                        percentile: limit.percentile,
                        max_ns: limit.max.as_nanos() as u64,
                    })
                    .collect(),
                min_rate_percent: pass.min_rate_percent,
            },
        }
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// The document's `environment` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Hostname.
    pub hostname: String,
    /// Kernel.
    pub kernel: String,
    /// Cpus.
    pub cpus: usize,
    /// Wall-clock start, seconds since 1970.
    pub started_unix_s: f64,
    /// Tx.
    pub tx: Vec<TxPortSection>,
    /// Rx.
    pub rx: Vec<RxPortSection>,
}

/// The document's `tx_port_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxPortSection {
    /// Port.
    pub port: String,
    /// Interface.
    pub interface: String,
    /// Queue.
    pub queue: u32,
    /// Xsk mode.
    pub xsk_mode: String,
    /// Core.
    pub core: Option<usize>,
    /// Per-stream totals after the drain.
    pub streams: Vec<String>,
}

/// The document's `rx_port_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxPortSection {
    /// Port.
    pub port: String,
    /// Interface.
    pub interface: String,
    /// Xdp mode.
    pub xdp_mode: String,
}

impl Environment {
    pub fn now(setup: &RunSetup, started_unix_s: f64) -> Self {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_string())
                .unwrap_or_default()
        };
        Environment {
            hostname: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpus: std::thread::available_parallelism().map_or(1, |count| count.get()),
            started_unix_s,
            tx: setup
                .tx_ports
                .iter()
                .map(|tx| TxPortSection {
                    port: tx.port.clone(),
                    interface: tx.interface.clone(),
                    queue: tx.queue,
                    xsk_mode: tx.mode.to_string(),
                    core: tx.core,
                    streams: tx.streams.clone(),
                })
                .collect(),
            rx: setup
                .rx_ports
                .iter()
                .map(|rx| RxPortSection {
                    port: rx.port.clone(),
                    interface: rx.interface.clone(),
                    xdp_mode: rx.mode.to_string(),
                })
                .collect(),
        }
    }
}

/// The document's `interval_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalSection {
    /// Time since sending started at the end of the interval, seconds.
    pub elapsed_s: f64,
    /// The interval's length, seconds.
    pub length_s: f64,
    /// True for the last interval, made after the drain.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Linerate's resident memory at the report, bytes (0 where /proc does not say).
    pub resident_bytes: u64,
    /// Each stream's totals so far and its rates and latency in the interval.
    pub streams: Vec<IntervalStream>,
    /// The endpoints' cumulative counters at the end of the interval; absent
    /// when the scenario has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<linerate_endpoints::EndpointsSnapshot>,
}

/// The document's `interval_stream` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalStream {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Frames sent so far.
    pub tx_frames: u64,
    /// Frames received so far.
    pub rx_frames: u64,
    /// Tx fps.
    pub tx_fps: f64,
    /// Rx fps.
    pub rx_fps: f64,
    /// L2 bits/s, no FCS.
    pub tx_bps: f64,
    /// Rx bps.
    pub rx_bps: f64,
    /// Sequence numbers missing below the highest received.
    pub lost_so_far: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Frames that arrived after a higher sequence number (reordered).
    pub late: u64,
    /// Latency of the frames received in this interval.
    pub latency_ns: Option<LatencySection>,
}

impl From<&IntervalReport> for IntervalSection {
    fn from(report: &IntervalReport) -> Self {
        IntervalSection {
            elapsed_s: report.elapsed.as_secs_f64(),
            length_s: report.length.as_secs_f64(),
            is_final: report.is_final,
            resident_bytes: report.resident_bytes,
            endpoints: report.endpoints.clone(),
            streams: report
                .streams
                .iter()
                .map(|stream| IntervalStream {
                    id: stream.id,
                    name: stream.name.clone(),
                    tx_frames: stream.totals.frames_sent,
                    rx_frames: stream.totals.rx.frames,
                    tx_fps: stream.tx_fps,
                    rx_fps: stream.rx_fps,
                    tx_bps: stream.tx_bps,
                    rx_bps: stream.rx_bps,
                    lost_so_far: stream.totals.missing_below_highest(),
                    duplicates: stream.totals.rx.duplicates,
                    late: stream.totals.rx.late,
                    latency_ns: stream.latency.as_ref().map(LatencySection::from),
                })
                .collect(),
        }
    }
}

/// The document's `latency_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySection {
    /// Frames measured.
    pub count: u64,
    /// Smallest latency, ns.
    pub min: u64,
    /// Mean, ns.
    pub mean: f64,
    /// Median, ns.
    pub p50: u64,
    /// 90th percentile, ns.
    pub p90: u64,
    /// 99th percentile, ns.
    pub p99: u64,
    /// 99.9th percentile, ns.
    pub p99_9: u64,
    /// Largest latency, ns.
    pub max: u64,
    /// RFC 3550 interarrival jitter, ns.
    pub jitter: f64,
}

impl From<&LatencySummary> for LatencySection {
    fn from(latency: &LatencySummary) -> Self {
        LatencySection {
            count: latency.count,
            min: latency.min_ns,
            mean: latency.mean_ns,
            p50: latency.p50_ns,
            p90: latency.p90_ns,
            p99: latency.p99_ns,
            p99_9: latency.p999_ns,
            max: latency.max_ns,
            jitter: latency.jitter_ns,
        }
    }
}

/// The document's `stream_section` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamSection {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Duplicates included.
    pub frames_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Distinct frames sent less distinct frames received, after the drain.
    pub frames_lost: u64,
    /// Loss percent.
    pub loss_percent: f64,
    /// Duplicates.
    pub duplicates: u64,
    /// Frames that arrived after a higher sequence number (reordered).
    pub late: u64,
    /// Sequence numbers jumped over as the highest rose.
    pub gap_frames: u64,
    /// Gap_frames - late - skipped on purpose.
    pub missing_below_highest: u64,
    /// Sequence numbers sent after the highest received.
    pub missing_after_highest: u64,
    /// Faults injected.
    pub faults_injected: FaultCounts,
    /// Target rate in frames/s; null for rate max.
    pub target_fps: Option<f64>,
    /// Tx fps.
    pub tx_fps: f64,
    /// Rx fps.
    pub rx_fps: f64,
    /// Tx_fps as a percentage of target_fps.
    pub rate_percent: Option<f64>,
    /// Latency of the frames received in this interval.
    pub latency_ns: Option<LatencySection>,
    /// Frames whose TX timestamp was later than their arrival (clocks not shared).
    pub frames_without_latency: u64,
    /// The whole run's latency histogram as the receive counter bucketed
    /// it, exact and mergeable (null when nothing was measured; absent in
    /// documents written before it existed).
    #[serde(default)]
    pub latency_histogram: Option<LatencyHistogramSection>,
    /// A stream sent on one agent and counted on another whose one-way
    /// latency is reported: the most the two hosts' clocks may disagree
    /// (the sum of the agents' bounds; 0 on one host), ns. Absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_error_bound_ns: Option<u64>,
    /// A stream sent on one agent and counted on another whose one-way
    /// latency is refused (clocks not known to agree): why, in one line;
    /// its latency fields are then null. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_refused: Option<String>,
}

/// The document's `latency_histogram` part: a stream's latency histogram
/// in the receive counter's own log-linear buckets, compact (only the
/// non-zero buckets), so that histograms from several agents add exactly
/// ([`crate::merge`]). Bucket `i` below `2^sub_bucket_bits` holds exactly
/// `i` ns; above, with `s = i / 2^sub_bucket_bits - 1`, it holds
/// `[(2^sub_bucket_bits + i mod 2^sub_bucket_bits) << s, that + 2^s - 1]` ns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogramSection {
    /// log2 of the buckets per power of two of nanoseconds (5: 32 buckets,
    /// each at most 1/32 = 3.1 % wide).
    pub sub_bucket_bits: u32,
    /// Frames measured.
    pub count: u64,
    /// Smallest latency, ns (exact).
    pub min_ns: u64,
    /// Largest latency, ns (exact).
    pub max_ns: u64,
    /// Sum of every latency, ns (exact: the mean is sum_ns / count).
    pub sum_ns: u64,
    /// The non-zero buckets as `[index, count]` pairs, in index order.
    pub buckets: Vec<[u64; 2]>,
}

impl LatencyHistogramSection {
    /// The compact form of a counter's histogram; `None` when it measured
    /// nothing.
    pub fn from_counters(latency: &LatencyCounters) -> Option<LatencyHistogramSection> {
        (latency.count > 0).then(|| LatencyHistogramSection {
            sub_bucket_bits: LATENCY_SUB_BITS,
            count: latency.count,
            min_ns: latency.min_ns,
            max_ns: latency.max_ns,
            sum_ns: latency.sum_ns,
            buckets: latency
                .buckets
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(index, count)| [index as u64, *count])
                .collect(),
        })
    }

    /// The histogram back as the counter keeps it, every bucket present.
    /// Refuses another bucket scheme or a bucket index the counter lacks.
    pub fn to_counters(&self) -> Result<LatencyCounters, MergeError> {
        if self.sub_bucket_bits != LATENCY_SUB_BITS {
            return Err(MergeError::BucketScheme {
                found: self.sub_bucket_bits,
            });
        }
        let mut latency = LatencyCounters {
            count: self.count,
            sum_ns: self.sum_ns,
            min_ns: self.min_ns,
            max_ns: self.max_ns,
            buckets: vec![0; LATENCY_BUCKETS],
        };
        for &[index, count] in &self.buckets {
            let slot = usize::try_from(index)
                .ok()
                .and_then(|index| latency.buckets.get_mut(index))
                .ok_or(MergeError::BucketOutOfRange {
                    index: usize::try_from(index).unwrap_or(usize::MAX),
                })?;
            *slot += count;
        }
        // As the counter reports them: up to the last bucket any frame fell in.
        let used = latency
            .buckets
            .iter()
            .rposition(|count| *count > 0)
            .map_or(0, |last| last + 1);
        latency.buckets.truncate(used);
        Ok(latency)
    }
}

/// The document's `fault_counts` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// Skipped.
    pub skipped: u64,
    /// Repeated.
    pub repeated: u64,
    /// Swapped.
    pub swapped: u64,
}

impl From<&StreamResult> for StreamSection {
    fn from(stream: &StreamResult) -> Self {
        let counts = &stream.counts;
        StreamSection {
            id: stream.id,
            name: stream.name.clone(),
            frames_sent: counts.frames_sent,
            bytes_sent: counts.bytes_sent,
            frames_received: counts.rx.frames,
            bytes_received: counts.rx.bytes,
            frames_lost: stream.frames_lost(),
            loss_percent: stream.loss_percent(),
            duplicates: counts.rx.duplicates,
            late: counts.rx.late,
            gap_frames: counts.rx.gap_frames,
            missing_below_highest: counts.missing_below_highest(),
            missing_after_highest: counts.missing_after_highest(),
            faults_injected: FaultCounts {
                skipped: counts.faults.skipped,
                repeated: counts.faults.repeated,
                swapped: counts.faults.swapped,
            },
            target_fps: finite(stream.target_fps),
            tx_fps: stream.tx_fps,
            rx_fps: stream.rx_fps,
            rate_percent: stream.rate_percent(),
            latency_ns: stream.latency.as_ref().map(LatencySection::from),
            frames_without_latency: counts.rx.clock_behind,
            latency_histogram: LatencyHistogramSection::from_counters(&counts.rx.latency),
            clock_error_bound_ns: None,
            latency_refused: None,
        }
    }
}

/// The document's `verdict` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Passed.
    pub passed: bool,
    /// Interrupted.
    pub interrupted: bool,
    /// A controller stopped the run before every frame was sent; not a failure by itself.
    pub stopped_on_request: bool,
    /// Failures.
    pub failures: Vec<String>,
}
