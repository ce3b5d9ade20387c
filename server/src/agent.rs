//! The agent side of multi-host runs: `GET /agent` (this linerate's
//! version, the interfaces it sees, its clock state) and the raw per-stream
//! results a coordinator merges exactly (`GET /runs/{id}/result`): every
//! counter as the engine keeps it, the latency histogram in the counter's
//! own buckets, and when the first frame went out on CLOCK_REALTIME.

use std::process::Command;
use std::time::Duration;

use linerate_bpf::{LatencyCounters, StreamRx};
use linerate_engine::merge::MergeError;
use linerate_engine::outcome::{RunReport, StreamResult};
use linerate_engine::report::LatencyHistogramSection;
use linerate_engine::run::RunSetup;
use linerate_engine::scenario::PassCriteria;
use linerate_engine::sequence::FaultCounts;
use linerate_engine::stats::{latency_summary, StreamCounts};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /agent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentInfo {
    /// This linerate's version: a coordinator runs only agents of its own.
    pub version: String,
    /// The interfaces the agent sees: its own namespace's, then those of
    /// the namespaces asked for.
    pub ports: Vec<AgentPort>,
    /// The clock's synchronization state.
    pub clock: ClockInfo,
}

/// An interface the agent can send or count on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentPort {
    /// The network namespace, null for the agent's own.
    pub namespace: Option<String>,
    /// The interface.
    pub interface: String,
}

/// The clock's state, for one-way latency across hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClockInfo {
    /// `ptp` (linuxptp's `pmc` answers with a grandmaster present),
    /// `chrony` (`chronyc -c tracking`), `declared` (`linerate serve
    /// --clock-state FILE`) or `none`.
    pub source: String,
    /// The clock's offset from its reference, ns, when known.
    pub offset_ns: Option<i64>,
    /// True when the source says the clock is synchronized.
    pub synchronized: bool,
    /// The most the clock may be off true time, ns, when known: chrony's
    /// |offset| + root dispersion + root delay / 2; PTP's |master_offset|.
    #[serde(default)]
    pub error_bound_ns: Option<u64>,
    /// The host's identity: its kernel's boot id
    /// (/proc/sys/kernel/random/boot_id). Two agents with the same one
    /// read one kernel clock: their one-way latency has no clock error.
    #[serde(default)]
    pub host_id: Option<String>,
    /// The kernel's TAI offset, s: CLOCK_TAI less CLOCK_REALTIME (0 unless
    /// chrony's `leapsectz` or linuxptp set it; 37 since 2017 when set).
    /// Two agents' CLOCK_TAI agree only when their offsets do.
    #[serde(default)]
    pub tai_offset_s: Option<i64>,
}

impl ClockInfo {
    /// No clock source known: not synchronized, no bound, no host id.
    pub fn unknown() -> ClockInfo {
        ClockInfo {
            source: "none".to_string(),
            offset_ns: None,
            synchronized: false,
            error_bound_ns: None,
            host_id: None,
            tai_offset_s: None,
        }
    }
}

/// `linerate serve --clock-state FILE`: the clock state an agent declares
/// instead of asking chrony or linuxptp (a sync daemon it cannot see, or
/// a host known to be unsynchronized). JSON, every key optional but
/// `synchronized`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClock {
    /// Whether the clock is synchronized.
    pub synchronized: bool,
    /// The most it may be off true time, ns.
    #[serde(default)]
    pub error_bound_ns: Option<u64>,
    /// Its offset, ns.
    #[serde(default)]
    pub offset_ns: Option<i64>,
    /// The host identity to report instead of the boot id.
    #[serde(default)]
    pub host_id: Option<String>,
}

/// Reads a `--clock-state` file; the error is one line naming the file.
pub fn read_declared_clock(path: &std::path::Path) -> Result<DeclaredClock, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("--clock-state {}: cannot read: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| {
        format!(
            "--clock-state {}: {error}; write JSON like {{\"synchronized\": true, \"error_bound_ns\": 1000}}",
            path.display()
        )
    })
}

/// `?namespaces=a,b` on `GET /agent`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AgentQuery {
    /// Comma-separated namespace names whose interfaces to list too.
    pub namespaces: Option<String>,
}

/// What `GET /agent` answers, for the namespaces listed in `query`
/// (a namespace that does not exist lists nothing), with the clock state
/// declared in `clock_state` when given. Blocking: it enters namespaces on
/// a thread of its own and may run `pmc` and `chronyc`.
pub fn agent_info(
    query: &AgentQuery,
    clock_state: Option<&std::path::Path>,
) -> Result<AgentInfo, String> {
    let mut ports: Vec<AgentPort> = linerate_engine::netns::interface_names()
        .into_iter()
        .map(|interface| AgentPort {
            namespace: None,
            interface,
        })
        .collect();
    let namespaces = query.namespaces.as_deref().unwrap_or_default();
    for namespace in namespaces
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let name = namespace.to_string();
        // A thread of its own: entering a namespace moves the calling thread.
        let names = std::thread::spawn(move || {
            linerate_engine::netns::NetnsGuard::enter(&name)
                .map(|_guard| linerate_engine::netns::interface_names())
                .unwrap_or_default()
        })
        .join()
        .unwrap_or_default();
        ports.extend(names.into_iter().map(|interface| AgentPort {
            namespace: Some(namespace.to_string()),
            interface,
        }));
    }
    let clock = match clock_state {
        Some(path) => declared_clock_info(&read_declared_clock(path)?),
        None => clock_info(),
    };
    Ok(AgentInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        ports,
        clock,
    })
}

/// This kernel's boot id: the same for every agent on one host.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|id| !id.is_empty())
}

fn declared_clock_info(declared: &DeclaredClock) -> ClockInfo {
    ClockInfo {
        source: "declared".to_string(),
        offset_ns: declared.offset_ns,
        synchronized: declared.synchronized,
        error_bound_ns: declared.error_bound_ns,
        host_id: declared.host_id.clone().or_else(boot_id),
        tai_offset_s: Some(tai_offset_s()),
    }
}

/// CLOCK_TAI less CLOCK_REALTIME, rounded to whole seconds.
fn tai_offset_s() -> i64 {
    let tai = linerate_engine::clock::tai_ns() as i128;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as i128);
    ((tai - unix) as f64 / 1e9).round() as i64
}

/// PTP's state if linuxptp's `pmc` answers with a grandmaster present,
/// else chrony's tracking state if `chronyc` answers, else `none`; with
/// the host's boot id.
fn clock_info() -> ClockInfo {
    let mut clock = ptp_clock()
        .or_else(chrony_clock)
        .unwrap_or_else(ClockInfo::unknown);
    clock.host_id = boot_id();
    clock.tai_offset_s = Some(tai_offset_s());
    clock
}

/// Runs `program args` and returns its standard output if it succeeded.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn ptp_clock() -> Option<ClockInfo> {
    let text = output_of("pmc", &["-u", "-b", "0", "GET TIME_STATUS_NP"])?;
    parse_pmc_time_status(&text)
}

fn chrony_clock() -> Option<ClockInfo> {
    parse_chrony_tracking(&output_of("chronyc", &["-c", "tracking"])?)
}

/// `pmc -u -b 0 'GET TIME_STATUS_NP'`: `master_offset` (ns) and
/// `gmPresent`; synchronized when a grandmaster is present. The bound is
/// |master_offset|: the PTP hardware clock's offset (phc2sys adds the
/// system clock's, small next to it when it runs).
fn parse_pmc_time_status(text: &str) -> Option<ClockInfo> {
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(key)).then(|| words.next().map(str::to_string))?
        })
    };
    let offset_ns: i64 = value("master_offset")?.parse().ok()?;
    let present = value("gmPresent")? == "true";
    Some(ClockInfo {
        source: "ptp".to_string(),
        offset_ns: Some(offset_ns),
        synchronized: present,
        error_bound_ns: present.then_some(offset_ns.unsigned_abs()),
        host_id: None,
        tai_offset_s: None,
    })
}

/// `chronyc -c tracking`'s CSV line: reference id, address, stratum,
/// reference time, system time offset (s), last offset, RMS offset,
/// frequency, residual frequency, skew, root delay (s), root dispersion
/// (s), update interval, leap status. The bound is chrony's own: |system
/// time offset| + root dispersion + root delay / 2.
fn parse_chrony_tracking(text: &str) -> Option<ClockInfo> {
    let fields: Vec<&str> = text.trim().split(',').collect();
    if fields.len() < 14 {
        return None;
    }
    let seconds = |index: usize| -> Option<f64> { fields.get(index)?.trim().parse().ok() };
    let offset_s = seconds(4)?;
    let root_delay_s = seconds(10)?;
    let root_dispersion_s = seconds(11)?;
    let leap = fields.last()?.trim();
    let synchronized = leap == "Normal" && fields.first().is_some_and(|id| *id != "00000000");
    let bound_s = offset_s.abs() + root_dispersion_s + root_delay_s / 2.0;
    Some(ClockInfo {
        source: "chrony".to_string(),
        offset_ns: Some((offset_s * 1e9).round() as i64),
        synchronized,
        error_bound_ns: synchronized.then_some((bound_s * 1e9).ceil() as u64),
        host_id: None,
        tai_offset_s: None,
    })
}

/// `GET /runs/{id}/result`: a finished run's raw results, what an exact
/// merge needs (`linerate_engine::merge::merge_runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunResultDocument {
    /// Per stream, in stream id order.
    pub streams: Vec<StreamResultDocument>,
    /// From the start to the last frame sent, ns.
    pub send_duration_ns: u64,
    /// Interrupted before every frame was sent.
    pub interrupted: bool,
    /// Stopped by a controller before every frame was sent.
    pub stopped_on_request: bool,
    /// How many sequence numbers back a duplicate is still recognised.
    pub duplicate_window: u64,
    /// Linerate frames with a stream id the run does not have.
    pub frames_unknown_stream: u64,
    /// The first frame sent, CLOCK_REALTIME ns since 1970; null if none.
    pub first_frame_unix_ns: Option<u64>,
    /// The final results of the endpoints this agent ran (the report's
    /// `endpoints`); absent when it ran none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub endpoints: Option<linerate_endpoints::EndpointsReport>,
}

/// One stream's raw counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamResultDocument {
    /// Stream id.
    pub id: u32,
    /// Stream name.
    pub name: String,
    /// Target rate, frames/s; null for rate max.
    pub target_fps: Option<f64>,
    /// Achieved sending rate.
    pub tx_fps: f64,
    /// Achieved receiving rate.
    pub rx_fps: f64,
    /// Frames planned, when known.
    pub frames_planned: Option<u64>,
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Sequence numbers handed out or jumped over.
    pub sequence_span: u64,
    /// Faults injected: skipped, repeated, swapped.
    pub faults: [u64; 3],
    /// Frames received, duplicates included.
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Late (reordered) first arrivals.
    pub late: u64,
    /// Sequence numbers jumped over.
    pub gap_frames: u64,
    /// Highest sequence number seen plus one.
    pub next_expected: u64,
    /// Frames without a latency (clocks not shared).
    pub clock_behind: u64,
    /// Highest-sequence update races.
    pub update_races: u64,
    /// RFC 3550 jitter, ns.
    pub jitter_ns: f64,
    /// The latency histogram in the counter's buckets; null if none.
    #[schema(value_type = Option<Object>)]
    pub latency_histogram: Option<LatencyHistogramSection>,
}

impl RunResultDocument {
    /// The raw results of `report`.
    pub fn from_report(report: &RunReport) -> RunResultDocument {
        RunResultDocument {
            streams: report
                .streams
                .iter()
                .map(StreamResultDocument::from)
                .collect(),
            send_duration_ns: report.send_duration.as_nanos() as u64,
            interrupted: report.interrupted,
            stopped_on_request: report.stopped_on_request,
            duplicate_window: report.duplicate_window,
            frames_unknown_stream: report.frames_unknown_stream,
            first_frame_unix_ns: report.first_frame_unix_ns,
            endpoints: report.endpoints.clone(),
        }
    }

    /// Back to the engine's run report (no setup; `pass` as given), for
    /// [`linerate_engine::merge::merge_runs`].
    pub fn to_report(&self, source: &str, pass: &PassCriteria) -> Result<RunReport, MergeError> {
        let streams = self
            .streams
            .iter()
            .map(StreamResultDocument::to_result)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunReport {
            source: source.to_string(),
            setup: RunSetup {
                tx_ports: Vec::new(),
                rx_ports: Vec::new(),
                reflect_ports: Vec::new(),
                router_macs: Vec::new(),
            },
            send_duration: Duration::from_nanos(self.send_duration_ns),
            streams,
            workers: Vec::new(),
            frames_unknown_stream: self.frames_unknown_stream,
            interrupted: self.interrupted,
            stopped_on_request: self.stopped_on_request,
            pass: pass.clone(),
            duplicate_window: self.duplicate_window,
            endpoints: self.endpoints.clone(),
            first_frame_unix_ns: self.first_frame_unix_ns,
            stations: Vec::new(),
        })
    }
}

impl From<&StreamResult> for StreamResultDocument {
    fn from(stream: &StreamResult) -> Self {
        let counts = &stream.counts;
        StreamResultDocument {
            id: stream.id,
            name: stream.name.clone(),
            target_fps: stream.target_fps.is_finite().then_some(stream.target_fps),
            tx_fps: stream.tx_fps,
            rx_fps: stream.rx_fps,
            frames_planned: stream.frames_planned,
            frames_sent: counts.frames_sent,
            bytes_sent: counts.bytes_sent,
            sequence_span: counts.sequence_span,
            faults: [
                counts.faults.skipped,
                counts.faults.repeated,
                counts.faults.swapped,
            ],
            rx_frames: counts.rx.frames,
            rx_bytes: counts.rx.bytes,
            duplicates: counts.rx.duplicates,
            late: counts.rx.late,
            gap_frames: counts.rx.gap_frames,
            next_expected: counts.rx.next_expected,
            clock_behind: counts.rx.clock_behind,
            update_races: counts.rx.update_races,
            jitter_ns: counts.rx.jitter_ns,
            latency_histogram: LatencyHistogramSection::from_counters(&counts.rx.latency),
        }
    }
}

impl StreamResultDocument {
    fn to_result(&self) -> Result<StreamResult, MergeError> {
        let latency = match &self.latency_histogram {
            Some(histogram) => histogram.to_counters()?,
            None => LatencyCounters::default(),
        };
        let counts = StreamCounts {
            frames_sent: self.frames_sent,
            bytes_sent: self.bytes_sent,
            sequence_span: self.sequence_span,
            faults: FaultCounts {
                skipped: self.faults[0],
                repeated: self.faults[1],
                swapped: self.faults[2],
            },
            rx: StreamRx {
                frames: self.rx_frames,
                bytes: self.rx_bytes,
                duplicates: self.duplicates,
                late: self.late,
                gap_frames: self.gap_frames,
                next_expected: self.next_expected,
                clock_behind: self.clock_behind,
                latency,
                jitter_ns: self.jitter_ns,
                update_races: self.update_races,
            },
        };
        Ok(StreamResult {
            id: self.id,
            name: self.name.clone(),
            latency: latency_summary(&counts),
            counts,
            target_fps: self.target_fps.unwrap_or(f64::INFINITY),
            tx_fps: self.tx_fps,
            rx_fps: self.rx_fps,
            frames_planned: self.frames_planned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linerate_bpf::abi::{latency_bucket, LATENCY_BUCKETS};

    #[test]
    fn raw_results_survive_json_and_come_back_as_the_same_report() {
        // As the counter reports them: up to the last bucket used.
        let mut latency = LatencyCounters::default();
        for value in [900, 2_500, 2_600, 1_000_000] {
            let bucket = latency_bucket(value);
            assert!(bucket < LATENCY_BUCKETS);
            if latency.buckets.len() <= bucket {
                latency.buckets.resize(bucket + 1, 0);
            }
            latency.buckets[bucket] += 1;
            latency.count += 1;
            latency.sum_ns += value;
            latency.max_ns = latency.max_ns.max(value);
        }
        latency.min_ns = 900;
        let counts = StreamCounts {
            frames_sent: 10,
            bytes_sent: 1280,
            sequence_span: 11,
            faults: FaultCounts {
                skipped: 1,
                repeated: 0,
                swapped: 0,
            },
            rx: StreamRx {
                frames: 9,
                bytes: 1152,
                duplicates: 1,
                late: 2,
                gap_frames: 3,
                next_expected: 11,
                clock_behind: 4,
                latency,
                jitter_ns: 12.5,
                update_races: 0,
            },
        };
        let stream = StreamResult {
            id: 0,
            name: "s".to_string(),
            latency: latency_summary(&counts),
            counts,
            target_fps: f64::INFINITY,
            tx_fps: 10.0,
            rx_fps: 9.0,
            frames_planned: None,
        };
        let report = RunResultDocument {
            streams: vec![StreamResultDocument::from(&stream)],
            send_duration_ns: 1_000_000_000,
            interrupted: false,
            stopped_on_request: true,
            duplicate_window: 64,
            frames_unknown_stream: 2,
            first_frame_unix_ns: Some(1_700_000_000_000_000_000),
            endpoints: None,
        }
        .to_report("a.toml", &PassCriteria::default())
        .expect("valid");
        let text = serde_json::to_string(&RunResultDocument::from_report(&report)).expect("JSON");
        let back: RunResultDocument = serde_json::from_str(&text).expect("parses");
        let again = back
            .to_report("a.toml", &PassCriteria::default())
            .expect("valid");
        assert_eq!(again, report);
        assert_eq!(again.streams[0].counts, stream.counts);
        assert!(again.streams[0].target_fps.is_infinite());
        assert_eq!(again.first_frame_unix_ns, Some(1_700_000_000_000_000_000));
    }

    #[test]
    fn chrony_tracking_csv_gives_offset_state_and_bound() {
        // 14 fields as chronyc -c tracking prints them.
        let line = "A29FC87B,162.159.200.123,3,1700000000.123,-0.000012345,0.000003,0.000020,-12.3,0.01,0.02,0.000400,0.000100,64.0,Normal\n";
        let clock = parse_chrony_tracking(line).expect("parsed");
        assert_eq!(clock.source, "chrony");
        assert_eq!(clock.offset_ns, Some(-12_345));
        assert!(clock.synchronized);
        // 12.345 µs + 100 µs + 400 µs / 2.
        assert_eq!(clock.error_bound_ns, Some(312_345));
        let unsynced = "00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,Not synchronised\n";
        let clock = parse_chrony_tracking(unsynced).expect("parsed");
        assert!(!clock.synchronized);
        assert_eq!(clock.error_bound_ns, None);
        assert!(parse_chrony_tracking("garbage").is_none());
    }

    #[test]
    fn pmc_time_status_gives_offset_and_grandmaster() {
        let text = "sending: GET TIME_STATUS_NP\n\t90e2ba.fffe.0a1b2c-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP\n\t\tmaster_offset              -27\n\t\tingress_time               1700000000123456789\n\t\tgmPresent                  true\n\t\tgmIdentity                 90e2ba.fffe.0a1b2d\n";
        let clock = parse_pmc_time_status(text).expect("parsed");
        assert_eq!(clock.source, "ptp");
        assert_eq!(clock.offset_ns, Some(-27));
        assert!(clock.synchronized);
        assert_eq!(clock.error_bound_ns, Some(27));
        let absent = text.replace("gmPresent                  true", "gmPresent false");
        let clock = parse_pmc_time_status(&absent).expect("parsed");
        assert!(!clock.synchronized);
        assert_eq!(clock.error_bound_ns, None);
        assert!(parse_pmc_time_status("sending: GET TIME_STATUS_NP\n").is_none());
    }

    #[test]
    fn a_declared_clock_state_is_read_or_refused_in_one_line() {
        let path = std::env::temp_dir().join(format!("linerate-clock-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"synchronized": false, "host_id": "lab-b"}"#).expect("write");
        let clock = declared_clock_info(&read_declared_clock(&path).expect("read"));
        assert_eq!(clock.source, "declared");
        assert!(!clock.synchronized);
        assert_eq!(clock.host_id.as_deref(), Some("lab-b"));
        std::fs::write(&path, r#"{"synced": true}"#).expect("write");
        let error = read_declared_clock(&path).expect_err("unknown key");
        assert!(
            error.starts_with("--clock-state ") && error.contains("synced"),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
        let _ = std::fs::remove_file(&path);
    }
}
