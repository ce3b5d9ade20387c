//! `linerate bench rfc2544`: runs the engine's suite and shows it: a
//! progress line per trial on stderr (updated in place on a terminal, one
//! plain line per trial otherwise), RFC-style tables per test at the end
//! (also after Ctrl-C, with what completed), `--csv` rows per trial and
//! stream as the suite goes, and the `--json` document at the end.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use linerate_engine::rfc2544::{
    run_suite, search::Verdict, SuiteObserver, SuiteReport, TrialRecord, TrialStart,
};
use linerate_engine::run::RunOptions;
use linerate_engine::scenario::Plan;

/// The CSV header; one row per trial per stream follows.
pub const CSV_HEADER: &str = "trial,test,frame_size,load,offered_percent_line,burst_frames,verdict,stream,offered_fps,sent,received,lost,loss_percent,tx_fps,latency_min_ns,latency_mean_ns,latency_p50_ns,latency_p99_ns,latency_max_ns,jitter_ns";

/// Shows progress and writes CSV rows as trials finish.
struct Progress {
    terminal: bool,
    started: Instant,
    trial_started: Instant,
    trials_done: u32,
    csv: Option<(BufWriter<File>, String)>,
    csv_error: Option<String>,
}

fn verdict_text(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Loss => "loss",
        Verdict::GeneratorLimited => "generator limited",
    }
}

/// The verdict as the CSV and JSON name it.
fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Loss => "loss",
        Verdict::GeneratorLimited => "generator_limited",
    }
}

fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 {
        format!("{}h{:02}m", seconds / 3600, seconds / 60 % 60)
    } else if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

impl SuiteObserver for Progress {
    fn trial_starting(&mut self, start: &TrialStart) {
        self.trial_started = Instant::now();
        let eta = (self.trials_done > 0)
            .then(|| self.started.elapsed() / self.trials_done * start.trials_left_estimate);
        let what = match start.burst_frames {
            Some(frames) => format!("burst of {frames} frames"),
            None => format!(
                "{:.3} % of line ({:.0} fps)",
                start.offered_percent_line, start.offered_fps
            ),
        };
        let line = format!(
            "trial {} {} {} B: {what}{}",
            start.number,
            start.test.name(),
            start.frame_size,
            eta.map_or(String::new(), |eta| format!(
                ", ETA at most {}",
                format_duration(eta)
            ))
        );
        if self.terminal {
            eprint!("\r\x1b[K{line}");
            let _ = std::io::stderr().flush();
        }
    }

    fn trial_done(&mut self, record: &TrialRecord) {
        self.trials_done += 1;
        let lost: u64 = record.streams.iter().map(|stream| stream.lost).sum();
        let sent: u64 = record.streams.iter().map(|stream| stream.sent).sum();
        let line = format!(
            "trial {} {} {} B: load {:.4} ({:.3} % of line{}): sent {sent}, lost {lost}: {} ({:.1} s)",
            record.number,
            record.test.name(),
            record.frame_size,
            record.load,
            record.offered_percent_line,
            record
                .burst_frames
                .map_or(String::new(), |frames| format!(", burst {frames}")),
            verdict_text(record.verdict),
            self.trial_started.elapsed().as_secs_f64()
        );
        if self.terminal {
            eprint!("\r\x1b[K");
        }
        eprintln!("{line}");
        if let Some((out, path)) = &mut self.csv {
            if let Err(error) = write_csv_rows(out, record) {
                self.csv_error
                    .get_or_insert(format!("cannot write {path}: {error}"));
            }
        }
    }
}

fn write_csv_rows(out: &mut BufWriter<File>, record: &TrialRecord) -> std::io::Result<()> {
    for stream in &record.streams {
        let latency = stream.latency.map_or(",,,,,".to_string(), |latency| {
            format!(
                "{},{:.0},{},{},{},{:.0}",
                latency.min_ns,
                latency.mean_ns,
                latency.p50_ns,
                latency.p99_ns,
                latency.max_ns,
                latency.jitter_ns
            )
        });
        writeln!(
            out,
            "{},{},{},{:.6},{:.4},{},{},{},{:.1},{},{},{},{:.6},{:.1},{latency}",
            record.number,
            record.test.name(),
            record.frame_size,
            record.load,
            record.offered_percent_line,
            record.burst_frames.map_or(String::new(), |f| f.to_string()),
            verdict_name(record.verdict),
            stream.stream,
            stream.offered_fps,
            stream.sent,
            stream.received,
            stream.lost,
            stream.loss_percent,
            stream.tx_fps,
        )?;
    }
    out.flush()
}

/// Runs the suite, prints its tables and writes the files. Returns true
/// when Ctrl-C (or SIGTERM) cut it short.
pub fn run(
    plan: &Plan,
    options: RunOptions,
    stop: &AtomicBool,
    json: Option<&Path>,
    csv: Option<&Path>,
) -> anyhow::Result<bool> {
    let csv = match csv {
        Some(path) => {
            let file = File::create(path)
                .map_err(|error| anyhow!("cannot create {}: {error}", path.display()))?;
            let mut out = BufWriter::new(file);
            writeln!(out, "{CSV_HEADER}")
                .map_err(|error| anyhow!("cannot write {}: {error}", path.display()))?;
            Some((out, path.display().to_string()))
        }
        None => None,
    };
    let mut progress = Progress {
        terminal: std::io::stderr().is_terminal(),
        started: Instant::now(),
        trial_started: Instant::now(),
        trials_done: 0,
        csv,
        csv_error: None,
    };
    println!(
        "linerate {}: RFC 2544 on {} ({} stream(s))",
        env!("CARGO_PKG_VERSION"),
        plan.source,
        plan.streams.len()
    );
    let report =
        run_suite(plan, options, stop, &mut progress).map_err(|error| anyhow!("{error}"))?;
    print_tables(&report);
    if let Some(error) = progress.csv_error {
        return Err(anyhow!(error));
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|error| anyhow!("cannot encode the report: {error}"))?;
        std::fs::write(path, text + "\n")
            .map_err(|error| anyhow!("cannot write {}: {error}", path.display()))?;
        println!("report: {}", path.display());
    }
    Ok(report.interrupted)
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The RFC-style tables of the tests that have results.
pub fn print_tables(report: &SuiteReport) {
    let settings = &report.settings;
    println!(
        "\nRFC 2544 results: trials of {:.1} s, loss tolerance {} %, {} trial(s) in all{}",
        settings.trial_duration_s,
        settings.loss_tolerance_percent,
        report.trials.len(),
        if report.interrupted {
            " (interrupted: the results below are those completed)"
        } else {
            ""
        }
    );
    for line in &report.streams {
        println!(
            "  stream {} from port {}: line {:.0} Mbit/s",
            line.stream, line.port, line.line_mbps
        );
    }
    if !report.throughput.is_empty() {
        println!("\nThroughput (RFC 2544 26.1)");
        println!(
            "{:>10} {:>14} {:>14} {:>12} {:>12} {:>9} {:>7}",
            "frame B", "fps/stream", "fps total", "Mbit/s L1", "Mbit/s L2", "% line", "trials"
        );
        for result in &report.throughput {
            println!(
                "{:>10} {:>14.0} {:>14.0} {:>12.2} {:>12.2} {:>9.3} {:>7}{}",
                result.frame_size,
                result.fps_per_stream,
                result.fps_total,
                result.mbps_l1,
                result.mbps_l2,
                result.percent_line,
                result.trials,
                if result.generator_limited {
                    "  (generator limited above)"
                } else {
                    ""
                }
            );
        }
    }
    if !report.latency.is_empty() {
        println!("\nLatency at the throughput (RFC 2544 26.2)");
        println!(
            "{:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
            "frame B", "fps/stream", "min", "mean", "p50", "p99", "max", "jitter", "trials"
        );
        for result in &report.latency {
            match &result.summary {
                Some(latency) => println!(
                    "{:>10} {:>12.0} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
                    result.frame_size,
                    result.fps_per_stream,
                    format_ns(latency.min_ns as f64),
                    format_ns(latency.mean_ns),
                    format_ns(latency.p50_ns as f64),
                    format_ns(latency.p99_ns as f64),
                    format_ns(latency.max_ns as f64),
                    format_ns(latency.jitter_ns),
                    result.per_trial.len()
                ),
                None => println!(
                    "{:>10} {:>12.0}  no latency measured (no throughput found)",
                    result.frame_size, result.fps_per_stream
                ),
            }
        }
    }
    if !report.frame_loss.is_empty() {
        println!("\nFrame loss rate (RFC 2544 26.3)");
        println!(
            "{:>10} {:>10} {:>12} {:>14} {:>10}",
            "frame B", "load %", "% line", "offered fps", "loss %"
        );
        for result in &report.frame_loss {
            for point in &result.points {
                println!(
                    "{:>10} {:>10.0} {:>12.3} {:>14.0} {:>10.3}{}",
                    result.frame_size,
                    point.load * 100.0,
                    point.offered_percent_line,
                    point.offered_fps,
                    point.loss_percent,
                    if point.generator_limited {
                        "  generator limited"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if !report.back_to_back.is_empty() {
        println!("\nBack-to-back (RFC 2544 26.4)");
        println!(
            "{:>10} {:>14} {:>12}  longest whole burst per trial",
            "frame B", "burst rate", "mean frames"
        );
        for result in &report.back_to_back {
            let bursts: Vec<String> = result.bursts.iter().map(u64::to_string).collect();
            println!(
                "{:>10} {:>14} {:>12.1}  {}",
                result.frame_size,
                result
                    .rate_fps
                    .map_or("max".to_string(), |fps| format!("{fps:.0} fps")),
                result.mean_frames,
                bursts.join(" ")
            );
        }
    }
}
