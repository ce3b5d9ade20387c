//! The report files: `--csv FILE` (one row per stream per interval, written
//! as the run goes; endpoints on kernel sockets, when the scenario has any,
//! one row per counter per endpoint per interval in `FILE` with the
//! extension `endpoints.csv`), `--json FILE` (one document at the end: scenario,
//! environment, interval series, per-stream totals, latency percentiles and
//! verdict, as docs/report.schema.json describes) and `--html FILE` (the
//! same document as a self-contained page with charts, linerate_web). The
//! series waits in a file beside the JSON (or HTML) report until the end,
//! so memory stays flat on long runs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use linerate_engine::report::{unix_seconds, IntervalSection, LatencySection, ReportDocument};
use linerate_engine::run::{IntervalReport, RunReport, StreamInterval};
use linerate_engine::scenario::Plan;
use linerate_engine::stats::LatencySummary;

/// The CSV header; one row per stream per interval follows.
pub const CSV_HEADER: &str = "elapsed_s,interval_s,final,stream_id,stream,tx_frames,rx_frames,tx_fps,rx_fps,tx_bps,rx_bps,lost_so_far,duplicates,late,latency_p50_ns,latency_p99_ns,latency_max_ns,jitter_ns,resident_bytes";

/// The endpoints' CSV header: one row per counter per endpoint per
/// interval follows, cumulative (a long table: `counter` names the field,
/// e.g. `a_to_b.received_bytes` or `errors.timeout`).
pub const ENDPOINTS_CSV_HEADER: &str = "elapsed_s,interval_s,final,kind,endpoint,counter,value";

/// Where the endpoints' rows go beside `--csv FILE`: `run.csv` gives
/// `run.endpoints.csv`.
fn endpoints_csv_path(csv: &Path) -> PathBuf {
    csv.with_extension("endpoints.csv")
}

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

/// Where the interval series waits until the run ends: one compact JSON
/// object per line in a file beside the report, so that memory stays flat
/// however long the run.
fn intervals_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".intervals");
    PathBuf::from(name)
}

/// Records intervals: CSV rows and the report documents' series, both
/// written to disk as they come (nothing grows in memory).
#[derive(Debug, Default)]
pub struct Recorder {
    csv: Option<LineFile>,
    /// Where the endpoints' rows go (created at the first interval that
    /// has endpoints), when `--csv` was given.
    endpoints_csv_path: Option<PathBuf>,
    endpoints_csv: Option<LineFile>,
    intervals: Option<LineFile>,
    /// The HTML report, created up front and written at the end.
    html: Option<LineFile>,
    /// The first write error; reported when the run ends.
    failed: Option<ReportError>,
    started_unix_s: f64,
}

impl Recorder {
    /// Creates the CSV file, the HTML report file and the documents'
    /// interval file now (so that a bad path fails before sending).
    pub fn new(
        csv: Option<&Path>,
        json: Option<&Path>,
        html: Option<&Path>,
    ) -> Result<Recorder, ReportError> {
        let csv = match csv {
            Some(path) => {
                let mut file = LineFile::create(path.to_path_buf())?;
                writeln!(file.writer, "{CSV_HEADER}").map_err(report_error(path))?;
                Some(file)
            }
            None => None,
        };
        let html = html
            .map(|path| LineFile::create(path.to_path_buf()))
            .transpose()?;
        let intervals = json
            .or(html.as_ref().map(|file| file.path.as_path()))
            .map(|path| LineFile::create(intervals_path(path)))
            .transpose()?;
        Ok(Recorder {
            endpoints_csv_path: csv.as_ref().map(|file| endpoints_csv_path(&file.path)),
            endpoints_csv: None,
            csv,
            intervals,
            html,
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
        if let Some(endpoints) = &report.endpoints {
            self.endpoints_interval(report, endpoints);
        }
        write_or_stop(&mut self.intervals, &mut self.failed, |writer| {
            serde_json::to_writer(&mut *writer, &IntervalSection::from(report))
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(writer))
        });
    }

    /// Writes the endpoints' counters of one interval to their CSV file,
    /// creating it (with its header) the first time.
    fn endpoints_interval(
        &mut self,
        report: &IntervalReport,
        endpoints: &linerate_endpoints::EndpointsSnapshot,
    ) {
        if self.endpoints_csv.is_none() && self.failed.is_none() {
            if let Some(path) = &self.endpoints_csv_path {
                match LineFile::create(path.clone()).and_then(|mut file| {
                    writeln!(file.writer, "{ENDPOINTS_CSV_HEADER}")
                        .map_err(report_error(path))
                        .map(|()| file)
                }) {
                    Ok(file) => self.endpoints_csv = Some(file),
                    Err(error) => self.failed = Some(error),
                }
            }
        }
        let prefix = format!(
            "{:.3},{:.3},{}",
            report.elapsed.as_secs_f64(),
            report.length.as_secs_f64(),
            report.is_final
        );
        write_or_stop(&mut self.endpoints_csv, &mut self.failed, |writer| {
            write_endpoint_rows(writer, &prefix, endpoints)?;
            writer.flush()
        });
    }

    /// Ends the CSV files; returns the first error met while writing them.
    pub fn finish_csv(&mut self) -> Result<(), ReportError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        for file in [self.csv.take(), self.endpoints_csv.take()]
            .into_iter()
            .flatten()
        {
            let mut file = file;
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
        let document = ReportDocument::new(plan, report, self.started_unix_s, Vec::new());
        let text = serde_json::to_string_pretty(&document)
            .map_err(std::io::Error::from)
            .map_err(report_error(path))?;
        // The empty series is the one place the document says `"intervals": []`.
        let (before, after) = text
            .split_once(INTERVALS_PLACEHOLDER)
            .unwrap_or((text.as_str(), ""));
        let series = self.flushed_series()?;
        let mut writer = LineFile::create(path.to_path_buf())?;
        let written = (|| -> std::io::Result<()> {
            writer.writer.write_all(before.as_bytes())?;
            writer.writer.write_all(b"\"intervals\": [")?;
            if let Some(series) = series {
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
        written.map_err(report_error(path))?;
        writer.flush()
    }

    /// Writes the HTML report for the finished run to the file given to
    /// [`Recorder::new`], the interval series streamed in from its file;
    /// returns that file's path (None without `--html`).
    pub fn write_html(
        &mut self,
        plan: &Plan,
        report: &RunReport,
    ) -> Result<Option<PathBuf>, ReportError> {
        let Some(mut file) = self.html.take() else {
            return Ok(None);
        };
        let document = ReportDocument::new(plan, report, self.started_unix_s, Vec::new());
        let written = match self.flushed_series()? {
            Some(series) => File::open(series).and_then(|spool| {
                let lines = std::io::BufRead::lines(std::io::BufReader::new(spool));
                linerate_web::write_report_html(&mut file.writer, &document, lines)
            }),
            None => {
                linerate_web::write_report_html(&mut file.writer, &document, std::iter::empty())
            }
        };
        written.map_err(report_error(&file.path))?;
        file.flush()?;
        Ok(Some(file.path))
    }

    /// The interval series' file, flushed, if there is one.
    fn flushed_series(&mut self) -> Result<Option<&Path>, ReportError> {
        match &mut self.intervals {
            Some(file) => {
                file.flush()?;
                Ok(Some(file.path.as_path()))
            }
            None => Ok(None),
        }
    }
}

impl Drop for Recorder {
    /// The interval series' file goes once the reports are written, and an
    /// HTML report file never written (the run failed) goes too.
    fn drop(&mut self) {
        for file in [self.intervals.take(), self.html.take()]
            .into_iter()
            .flatten()
        {
            drop(file.writer);
            let _ = std::fs::remove_file(&file.path);
        }
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

/// One endpoints-CSV row per counter per endpoint of `endpoints`, each
/// starting with `prefix` (elapsed, interval length, final).
fn write_endpoint_rows(
    writer: &mut impl Write,
    prefix: &str,
    endpoints: &linerate_endpoints::EndpointsSnapshot,
) -> std::io::Result<()> {
    let kinds = [
        ("tcp", serde_json::to_value(&endpoints.tcp)),
        ("url", serde_json::to_value(&endpoints.url)),
        ("ping", serde_json::to_value(&endpoints.ping)),
        ("file_io", serde_json::to_value(&endpoints.file_io)),
    ];
    for (kind, list) in kinds {
        let list = list.map_err(std::io::Error::from)?;
        for endpoint in list.as_array().into_iter().flatten() {
            let name = endpoint["name"].as_str().unwrap_or_default();
            let mut counters = Vec::new();
            flatten_numbers(endpoint, String::new(), &mut counters);
            for (counter, value) in counters {
                writeln!(
                    writer,
                    "{prefix},{kind},{},{counter},{value}",
                    csv_text(name)
                )?;
            }
        }
    }
    Ok(())
}

/// Writes `--csv FILE` from a finished run's interval series (a run over
/// agents: the coordinator's merged series), the same columns as a local
/// run's rows (jitter is the interval's, where a local run's is the whole
/// run's so far), and the endpoints' rows beside it when there are any.
pub fn write_csv_sections(path: &Path, intervals: &[IntervalSection]) -> Result<(), ReportError> {
    let mut file = LineFile::create(path.to_path_buf())?;
    let written =
        (|| -> std::io::Result<()> {
            writeln!(file.writer, "{CSV_HEADER}")?;
            for interval in intervals {
                for stream in &interval.streams {
                    let latency = |pick: fn(&LatencySection) -> u64| {
                        stream
                            .latency_ns
                            .as_ref()
                            .map(|latency| pick(latency).to_string())
                            .unwrap_or_default()
                    };
                    writeln!(
                    file.writer,
                    "{:.3},{:.3},{},{},{},{},{},{:.1},{:.1},{:.0},{:.0},{},{},{},{},{},{},{:.0},{}",
                    interval.elapsed_s,
                    interval.length_s,
                    interval.is_final,
                    stream.id,
                    csv_text(&stream.name),
                    stream.tx_frames,
                    stream.rx_frames,
                    stream.tx_fps,
                    stream.rx_fps,
                    stream.tx_bps,
                    stream.rx_bps,
                    stream.lost_so_far,
                    stream.duplicates,
                    stream.late,
                    latency(|latency| latency.p50),
                    latency(|latency| latency.p99),
                    latency(|latency| latency.max),
                    stream.latency_ns.as_ref().map_or(0.0, |latency| latency.jitter),
                    interval.resident_bytes
                )?;
                }
            }
            Ok(())
        })();
    written.map_err(report_error(path))?;
    file.flush()?;
    // The endpoints' rows beside it, as a local run writes them.
    if intervals
        .iter()
        .any(|interval| interval.endpoints.is_some())
    {
        let endpoints_path = endpoints_csv_path(path);
        let mut file = LineFile::create(endpoints_path.clone())?;
        let written = (|| -> std::io::Result<()> {
            writeln!(file.writer, "{ENDPOINTS_CSV_HEADER}")?;
            for interval in intervals {
                let Some(endpoints) = &interval.endpoints else {
                    continue;
                };
                let prefix = format!(
                    "{:.3},{:.3},{}",
                    interval.elapsed_s, interval.length_s, interval.is_final
                );
                write_endpoint_rows(&mut file.writer, &prefix, endpoints)?;
            }
            Ok(())
        })();
        written.map_err(report_error(&endpoints_path))?;
        file.flush()?;
    }
    Ok(())
}

/// Writes `--html FILE` from a finished run's whole report document.
pub fn write_html_document(path: &Path, document: &ReportDocument) -> Result<(), ReportError> {
    let mut file = LineFile::create(path.to_path_buf())?;
    linerate_web::write_report_html(&mut file.writer, document, std::iter::empty())
        .map_err(report_error(path))?;
    file.flush()
}

/// Every number in `value`, with its dotted path (`a_to_b.sent_bytes`).
fn flatten_numbers(value: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Number(number) => out.push((path, number.to_string())),
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten_numbers(field, path, out);
            }
        }
        _ => {}
    }
}

/// A CSV field, quoted when it needs to be.
fn csv_text(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
