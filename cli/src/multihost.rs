//! `linerate run FILE` for a scenario with `[[agent]]` tables: this process
//! is the coordinator (no local sending). It hands the run to
//! `linerate_server::coordinator`, prints the merged totals once a second,
//! then each stream's merged counts, each agent's part and the measured
//! start skew, and writes the report (`--json`, `--csv`, `--html`, from the
//! merged interval series).

use std::sync::atomic::AtomicBool;

use anyhow::anyhow;
use linerate_engine::scenario::Plan;
use linerate_server::coordinator::{self, CoordinatorOptions, MultiHostReport};
use linerate_server::model::RunRequest;

use crate::args::{RunArgs, XskModeArg};

/// Runs `plan` over its agents; the exit code follows the merged verdict.
pub fn run(plan: &Plan, run_args: &RunArgs, stop: &AtomicBool) -> anyhow::Result<bool> {
    // A bad report path fails now, before any traffic.
    for path in [&run_args.csv, &run_args.html].into_iter().flatten() {
        std::fs::File::create(path).map_err(|error| {
            anyhow!(
                "cannot write {}: {error}; check the directory exists and is writable",
                path.display()
            )
        })?;
    }
    let text = std::fs::read_to_string(&run_args.file)
        .map_err(|error| anyhow!("{}: cannot read: {error}", run_args.file.display()))?;
    let options = CoordinatorOptions {
        base_dir: coordinator::scenario_dir(&run_args.file),
        run_options: RunRequest {
            xsk_mode: run_args.xsk_mode.map(|mode| {
                match mode {
                    XskModeArg::Auto => "auto",
                    XskModeArg::Copy => "copy",
                    XskModeArg::ZeroCopy => "zero-copy",
                }
                .to_string()
            }),
            batch: Some(run_args.batch),
            release_interval_us: Some(run_args.release_interval),
            busy_poll_us: run_args.busy_poll,
            rx_pass: run_args.rx_pass,
            force: run_args.force,
            ..RunRequest::default()
        },
        ..CoordinatorOptions::default()
    };
    println!(
        "coordinating {} over {} agents: {}",
        plan.source,
        plan.agents.len(),
        plan.agents
            .iter()
            .map(|agent| format!("{} ({})", agent.name, agent.url))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let report = coordinator::run(plan, &text, &options, stop, &mut |totals| {
        // One line per merged interval: every agent's totals and rates.
        for interval in &totals.intervals {
            let sum = |pick: fn(&linerate_engine::report::IntervalStream) -> f64| {
                interval.streams.iter().map(pick).sum::<f64>()
            };
            println!(
                "{:>7.1}s  tx {:>12} ({:>10.0} fps)  rx {:>12} ({:>10.0} fps)",
                interval.elapsed_s,
                sum(|stream| stream.tx_frames as f64),
                sum(|stream| stream.tx_fps),
                sum(|stream| stream.rx_frames as f64),
                sum(|stream| stream.rx_fps)
            );
        }
    })
    .map_err(|error| anyhow!("{error}"))?;
    print_report(&report);
    if let Some(path) = &run_args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .map_err(|error| anyhow!("cannot write {}: {error}", path.display()))?;
    }
    if let Some(path) = &run_args.csv {
        crate::report::write_csv_sections(path, &report.report.intervals)?;
    }
    if let Some(path) = &run_args.html {
        crate::report::write_html_document(path, &report.report)?;
        println!("report {}", path.display());
    }
    Ok(report.report.verdict.passed)
}

fn print_report(report: &MultiHostReport) {
    for stream in &report.report.streams {
        println!(
            "stream {:<16} sent {:>12}  received {:>12}  lost {:>10}",
            stream.name, stream.frames_sent, stream.frames_received, stream.frames_lost
        );
        if let Some(latency) = &stream.latency_ns {
            let bound = stream
                .clock_error_bound_ns
                .map(|bound| format!("  clock error bound ±{:.3} µs", bound as f64 / 1e3))
                .unwrap_or_default();
            println!(
                "       latency min {:.3} µs  p50 {:.3} µs  max {:.3} µs{bound}",
                latency.min as f64 / 1e3,
                latency.p50 as f64 / 1e3,
                latency.max as f64 / 1e3
            );
        }
        if let Some(reason) = &stream.latency_refused {
            println!("       latency: {reason}");
        }
    }
    for agent in &report.agents {
        println!(
            "agent {:<12} {}{}  sent [{}]  counted [{}]  clock {}{}",
            agent.name,
            agent.state,
            if agent.partial { " (partial)" } else { "" },
            agent.streams_sent.join(", "),
            agent.streams_counted.join(", "),
            agent.clock.source,
            agent
                .error
                .as_deref()
                .map(|error| format!("  error: {error}"))
                .unwrap_or_default()
        );
    }
    match report.start_skew_ns {
        Some(skew) => println!("start skew {:.3} ms", skew as f64 / 1e6),
        None => println!("start skew: unknown (no agent sent)"),
    }
    let verdict = &report.report.verdict;
    println!("verdict {}", if verdict.passed { "PASS" } else { "FAIL" });
    for failure in &verdict.failures {
        println!("  {failure}");
    }
}
