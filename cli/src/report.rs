//! The machine-readable reports: `--csv FILE` (one row per stream per
//! interval, written as the run goes) and `--json FILE` (one document at the
//! end: scenario, environment, interval series, per-stream totals, latency
//! percentiles and verdict, as docs/report.schema.json describes; the series
//! waits in a file beside it, so memory stays flat on long runs).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use linerate_engine::run::{IntervalReport, RunReport, RunSetup, StreamInterval};
use linerate_engine::scenario::{Plan, StopCondition};
use linerate_engine::sequence::FaultTrigger;
use linerate_engine::stats::LatencySummary;
use serde::Serialize;

/// The value of the document's `schema` field; bumped when a field changes
/// meaning or goes away.
pub const JSON_SCHEMA_ID: &str = "linerate-report/1";

/// The CSV header; one row per stream per interval follows.
pub const CSV_HEADER: &str = "elapsed_s,interval_s,final,stream_id,stream,tx_frames,rx_frames,tx_fps,rx_fps,tx_bps,rx_bps,lost_so_far,duplicates,late,latency_p50_ns,latency_p99_ns,latency_max_ns,jitter_ns,resident_bytes";

/// Errors writing a report file.
#[derive(Debug)]
pub struct ReportError {
    path: PathBuf,
    error: std::io::Error,
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot write {}: {}; check the directory exists and is writable",
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for ReportError {}

fn report_error(path: &Path) -> impl Fn(std::io::Error) -> ReportError + '_ {
    move |error| ReportError {
        path: path.to_path_buf(),
        error,
    }
}

/// A file written line by line as the run goes.
#[derive(Debug)]
struct LineFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl LineFile {
    fn create(path: PathBuf) -> Result<LineFile, ReportError> {
        let file = File::create(&path).map_err(report_error(&path))?;
        Ok(LineFile {
            writer: BufWriter::new(file),
            path,
        })
    }

    fn flush(&mut self) -> Result<(), ReportError> {
        self.writer.flush().map_err(report_error(&self.path))
    }
}

/// Where the JSON document's interval series waits until the run ends: one
/// compact JSON object per line in a file beside the report, so that memory
/// stays flat however long the run.
fn intervals_path(json: &Path) -> PathBuf {
    let mut name = json.as_os_str().to_owned();
    name.push(".intervals");
    PathBuf::from(name)
}

/// Records intervals: CSV rows and the JSON document's series, both
/// written to disk as they come (nothing grows in memory).
#[derive(Debug, Default)]
pub struct Recorder {
    csv: Option<LineFile>,
    intervals: Option<LineFile>,
    /// The first write error; reported when the run ends.
    failed: Option<ReportError>,
    started_unix_s: f64,
}

impl Recorder {
    /// Creates the CSV file, and the JSON document's interval file, now (so
    /// that a bad path fails before sending).
    pub fn new(csv: Option<&Path>, json: Option<&Path>) -> Result<Recorder, ReportError> {
        let csv = match csv {
            Some(path) => {
                let mut file = LineFile::create(path.to_path_buf())?;
                writeln!(file.writer, "{CSV_HEADER}").map_err(report_error(path))?;
                Some(file)
            }
            None => None,
        };
        let intervals = json
            .map(|path| LineFile::create(intervals_path(path)))
            .transpose()?;
        Ok(Recorder {
            csv,
            intervals,
            failed: None,
            started_unix_s: unix_seconds(SystemTime::now()),
        })
    }

    /// Takes in one interval report.
    pub fn interval(&mut self, report: &IntervalReport) {
        write_or_stop(&mut self.csv, &mut self.failed, |writer| {
            report
                .streams
                .iter()
                .try_for_each(|stream| write_csv_row(writer, report, stream))
                .and_then(|()| writer.flush())
        });
        write_or_stop(&mut self.intervals, &mut self.failed, |writer| {
            serde_json::to_writer(&mut *writer, &JsonInterval::from(report))
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(writer))
        });
    }

    /// Ends the CSV file; returns the first error met while writing it.
    pub fn finish_csv(&mut self) -> Result<(), ReportError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        if let Some(mut file) = self.csv.take() {
            file.flush()?;
        }
        Ok(())
    }

    /// Writes the JSON document for the finished run to `path`, the
    /// interval series copied in from its file (which is then removed).
    pub fn write_json(
        &mut self,
        path: &Path,
        plan: &Plan,
        report: &RunReport,
    ) -> Result<(), ReportError> {
        let document = JsonReport {
            schema: JSON_SCHEMA_ID,
            linerate_version: env!("CARGO_PKG_VERSION"),
            scenario: JsonScenario::from(plan),
            environment: JsonEnvironment::now(&report.setup, self.started_unix_s),
            intervals: Vec::new(),
            streams: report.streams.iter().map(JsonStream::from).collect(),
            verdict: JsonVerdict {
                passed: report.passed(),
                interrupted: report.interrupted,
                failures: report.failures(),
            },
            duplicate_window: report.duplicate_window,
            frames_unknown_stream: report.frames_unknown_stream,
            send_duration_s: report.send_duration.as_secs_f64(),
        };
        let text = serde_json::to_string_pretty(&document)
            .map_err(std::io::Error::from)
            .map_err(report_error(path))?;
        // The empty series is the one place the document says `"intervals": []`.
        let (before, after) = text
            .split_once(INTERVALS_PLACEHOLDER)
            .unwrap_or((text.as_str(), ""));
        let series = match self.intervals.take() {
            Some(mut file) => {
                file.flush()?;
                Some(file.path)
            }
            None => None,
        };
        let mut writer = LineFile::create(path.to_path_buf())?;
        let written = (|| -> std::io::Result<()> {
            writer.writer.write_all(before.as_bytes())?;
            writer.writer.write_all(b"\"intervals\": [")?;
            if let Some(series) = &series {
                let reader = std::io::BufReader::new(File::open(series)?);
                for (index, line) in std::io::BufRead::lines(reader).enumerate() {
                    writer
                        .writer
                        .write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
                    writer.writer.write_all(line?.as_bytes())?;
                }
            }
            writer.writer.write_all(b"\n  ]")?;
            writer.writer.write_all(after.as_bytes())?;
            writeln!(writer.writer)
        })();
        if let Some(series) = &series {
            let _ = std::fs::remove_file(series);
        }
        written.map_err(report_error(path))?;
        writer.flush()
    }
}

/// Runs `write` on `file`, if it is still open; the first failure is kept
/// in `failed` (reported when the run ends) and the file is given up.
fn write_or_stop(
    file: &mut Option<LineFile>,
    failed: &mut Option<ReportError>,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) {
    if let Some(open) = file {
        if let Err(error) = write(&mut open.writer) {
            failed.get_or_insert(ReportError {
                path: open.path.clone(),
                error,
            });
            *file = None;
        }
    }
}

/// How serde_json writes the (empty) interval series in the pretty document.
const INTERVALS_PLACEHOLDER: &str = "\"intervals\": []";

fn write_csv_row(
    writer: &mut impl Write,
    report: &IntervalReport,
    stream: &StreamInterval,
) -> std::io::Result<()> {
    let totals = &stream.totals;
    let latency = |pick: fn(&LatencySummary) -> u64| {
        stream
            .latency
            .as_ref()
            .map(|latency| pick(latency).to_string())
            .unwrap_or_default()
    };
    writeln!(
        writer,
        "{:.3},{:.3},{},{},{},{},{},{:.1},{:.1},{:.0},{:.0},{},{},{},{},{},{},{:.0},{}",
        report.elapsed.as_secs_f64(),
        report.length.as_secs_f64(),
        report.is_final,
        stream.id,
        csv_text(&stream.name),
        totals.frames_sent,
        totals.rx.frames,
        stream.tx_fps,
        stream.rx_fps,
        stream.tx_bps,
        stream.rx_bps,
        totals.missing_below_highest(),
        totals.rx.duplicates,
        totals.rx.late,
        latency(|latency| latency.p50_ns),
        latency(|latency| latency.p99_ns),
        latency(|latency| latency.max_ns),
        totals.rx.jitter_ns,
        report.resident_bytes
    )
}

/// A CSV field, quoted when it needs to be.
fn csv_text(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[derive(Debug, Serialize)]
struct JsonReport {
    schema: &'static str,
    linerate_version: &'static str,
    scenario: JsonScenario,
    environment: JsonEnvironment,
    /// Serialized empty: the series is spliced in from its file.
    intervals: Vec<JsonInterval>,
    streams: Vec<JsonStream>,
    verdict: JsonVerdict,
    duplicate_window: u64,
    frames_unknown_stream: u64,
    send_duration_s: f64,
}

#[derive(Debug, Serialize)]
struct JsonScenario {
    source: String,
    duration_s: Option<f64>,
    frames_per_stream: Option<u64>,
    report_interval_s: f64,
    streams: Vec<JsonScenarioStream>,
    pass: JsonPass,
}

#[derive(Debug, Serialize)]
struct JsonScenarioStream {
    id: u16,
    name: String,
    tx_port: String,
    rx_port: String,
    frame_size_min: usize,
    frame_size_max: usize,
    target_fps: Option<f64>,
    fault: Option<JsonFault>,
}

#[derive(Debug, Serialize)]
struct JsonFault {
    kind: &'static str,
    every: Option<u64>,
    probability: Option<f64>,
}

#[derive(Debug, Serialize)]
struct JsonPass {
    max_loss_frames: Option<u64>,
    max_loss_percent: Option<f64>,
    max_reorder: Option<u64>,
    max_duplicates: Option<u64>,
    max_latency: Vec<JsonLatencyLimit>,
    min_rate_percent: Option<f64>,
}

#[derive(Debug, Serialize)]
struct JsonLatencyLimit {
    percentile: f64,
    max_ns: u64,
}

impl From<&Plan> for JsonScenario {
    fn from(plan: &Plan) -> Self {
        let (duration_s, frames_per_stream) = match plan.run.stop {
            StopCondition::Duration(duration) => (Some(duration.as_secs_f64()), None),
            StopCondition::FramesPerStream(frames) => (None, Some(frames)),
        };
        let pass = &plan.pass;
        JsonScenario {
            source: plan.source.clone(),
            duration_s,
            frames_per_stream,
            report_interval_s: plan.run.report_interval.as_secs_f64(),
            streams: plan
                .streams
                .iter()
                .map(|stream| JsonScenarioStream {
                    id: stream.id,
                    name: stream.name.clone(),
                    tx_port: plan.ports[stream.tx_port].name.clone(),
                    rx_port: plan.ports[stream.rx_port].name.clone(),
                    frame_size_min: stream.frame.size.min(),
                    frame_size_max: stream.frame.size.max(),
                    target_fps: finite(stream.rate.frames_per_second()),
                    fault: stream.fault.map(|fault| JsonFault {
                        kind: fault.kind.name(),
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
            pass: JsonPass {
                max_loss_frames: pass.max_loss_frames,
                max_loss_percent: pass.max_loss_percent,
                max_reorder: pass.max_reorder,
                max_duplicates: pass.max_duplicates,
                max_latency: pass
                    .max_latency
                    .iter()
                    .map(|limit| JsonLatencyLimit {
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

#[derive(Debug, Serialize)]
struct JsonEnvironment {
    hostname: String,
    kernel: String,
    cpus: usize,
    started_unix_s: f64,
    tx: Vec<JsonTxPort>,
    rx: Vec<JsonRxPort>,
}

#[derive(Debug, Serialize)]
struct JsonTxPort {
    port: String,
    interface: String,
    queue: u32,
    xsk_mode: String,
    core: Option<usize>,
    streams: Vec<String>,
}

#[derive(Debug, Serialize)]
struct JsonRxPort {
    port: String,
    interface: String,
    xdp_mode: String,
}

impl JsonEnvironment {
    fn now(setup: &RunSetup, started_unix_s: f64) -> Self {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_string())
                .unwrap_or_default()
        };
        JsonEnvironment {
            hostname: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpus: std::thread::available_parallelism().map_or(1, |count| count.get()),
            started_unix_s,
            tx: setup
                .tx_ports
                .iter()
                .map(|tx| JsonTxPort {
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
                .map(|rx| JsonRxPort {
                    port: rx.port.clone(),
                    interface: rx.interface.clone(),
                    xdp_mode: rx.mode.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonInterval {
    elapsed_s: f64,
    length_s: f64,
    #[serde(rename = "final")]
    is_final: bool,
    resident_bytes: u64,
    streams: Vec<JsonIntervalStream>,
}

#[derive(Debug, Serialize)]
struct JsonIntervalStream {
    id: u16,
    name: String,
    tx_frames: u64,
    rx_frames: u64,
    tx_fps: f64,
    rx_fps: f64,
    tx_bps: f64,
    rx_bps: f64,
    lost_so_far: u64,
    duplicates: u64,
    late: u64,
    latency_ns: Option<JsonLatency>,
}

impl From<&IntervalReport> for JsonInterval {
    fn from(report: &IntervalReport) -> Self {
        JsonInterval {
            elapsed_s: report.elapsed.as_secs_f64(),
            length_s: report.length.as_secs_f64(),
            is_final: report.is_final,
            resident_bytes: report.resident_bytes,
            streams: report
                .streams
                .iter()
                .map(|stream| JsonIntervalStream {
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
                    latency_ns: stream.latency.as_ref().map(JsonLatency::from),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonLatency {
    count: u64,
    min: u64,
    mean: f64,
    p50: u64,
    p90: u64,
    p99: u64,
    p99_9: u64,
    max: u64,
    jitter: f64,
}

impl From<&LatencySummary> for JsonLatency {
    fn from(latency: &LatencySummary) -> Self {
        JsonLatency {
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

#[derive(Debug, Serialize)]
struct JsonStream {
    id: u16,
    name: String,
    frames_sent: u64,
    bytes_sent: u64,
    frames_received: u64,
    bytes_received: u64,
    frames_lost: u64,
    loss_percent: f64,
    duplicates: u64,
    late: u64,
    gap_frames: u64,
    missing_below_highest: u64,
    missing_after_highest: u64,
    faults_injected: JsonFaultCounts,
    target_fps: Option<f64>,
    tx_fps: f64,
    rx_fps: f64,
    rate_percent: Option<f64>,
    latency_ns: Option<JsonLatency>,
    frames_without_latency: u64,
}

#[derive(Debug, Serialize)]
struct JsonFaultCounts {
    skipped: u64,
    repeated: u64,
    swapped: u64,
}

impl From<&linerate_engine::run::StreamResult> for JsonStream {
    fn from(stream: &linerate_engine::run::StreamResult) -> Self {
        let counts = &stream.counts;
        JsonStream {
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
            faults_injected: JsonFaultCounts {
                skipped: counts.faults.skipped,
                repeated: counts.faults.repeated,
                swapped: counts.faults.swapped,
            },
            target_fps: finite(stream.target_fps),
            tx_fps: stream.tx_fps,
            rx_fps: stream.rx_fps,
            rate_percent: stream.rate_percent(),
            latency_ns: stream.latency.as_ref().map(JsonLatency::from),
            frames_without_latency: counts.rx.clock_behind,
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonVerdict {
    passed: bool,
    interrupted: bool,
    failures: Vec<String>,
}
