//! How linerate prints: the setup lines, one live line per stream per
//! report interval, and the final summary with the verdict.

use std::io::Write;

use linerate_engine::run::{IntervalReport, RunObserver, RunReport, RunSetup};

/// Prints live progress to standard output as the run reports it.
#[derive(Debug, Default)]
pub struct LivePrinter {
    header_printed: bool,
}

impl RunObserver for LivePrinter {
    fn setup_done(&mut self, setup: &RunSetup) {
        for tx in &setup.tx_ports {
            let core = tx
                .core
                .map(|core| format!("core {core}"))
                .unwrap_or_else(|| "unpinned".to_string());
            println!(
                "tx  port {:<6} {}  queue {}  {core}  AF_XDP {} mode{}  UMEM {:.1} MiB  streams: {}",
                tx.port,
                tx.interface,
                tx.queue,
                tx.mode,
                tx.busy_poll
                    .map(|busy| format!(", busy-poll {} µs", busy.usecs))
                    .unwrap_or_default(),
                tx.umem_bytes as f64 / (1024.0 * 1024.0),
                tx.streams.join(", ")
            );
        }
        for rx in &setup.rx_ports {
            println!(
                "rx  port {:<6} {}  XDP counter in {} mode",
                rx.port, rx.interface, rx.mode
            );
        }
        for router in &setup.router_macs {
            println!(
                "stream {}: dst_mac {} (router {})",
                router.stream, router.mac, router.gateway
            );
        }
        flush();
    }

    fn interval(&mut self, report: &IntervalReport) {
        if !self.header_printed {
            println!(
                "{:>8}  {:<16} {:>12} {:>12} {:>14} {:>14} {:>10}",
                "time", "stream", "tx fps", "rx fps", "sent", "received", "in flight"
            );
            self.header_printed = true;
        }
        for stream in &report.streams {
            let totals = &stream.totals;
            println!(
                "{:>7.1}s  {:<16} {:>12.0} {:>12.0} {:>14} {:>14} {:>10}",
                report.elapsed.as_secs_f64(),
                stream.name,
                stream.tx_fps,
                stream.rx_fps,
                totals.frames_sent,
                totals.frames_received,
                totals.frames_sent.saturating_sub(totals.frames_received)
            );
        }
        flush();
    }
}

fn flush() {
    let _ = std::io::stdout().flush();
}

/// Prints the final per-stream summary and the verdict.
pub fn print_summary(report: &RunReport) {
    println!();
    println!(
        "summary: {}{}, sending took {:.3} s",
        report.source,
        if report.interrupted {
            " (INTERRUPTED: partial results)"
        } else {
            ""
        },
        report.send_duration.as_secs_f64()
    );
    println!(
        "{:<16} {:>14} {:>14} {:>10} {:>9} {:>12} {:>14}",
        "stream", "sent", "received", "lost", "loss %", "target fps", "achieved fps"
    );
    for stream in &report.streams {
        println!(
            "{:<16} {:>14} {:>14} {:>10} {:>9.4} {:>12} {:>14.0}",
            stream.name,
            stream.counts.frames_sent,
            stream.counts.frames_received,
            stream.frames_lost,
            stream.loss_percent(),
            if stream.target_fps.is_finite() {
                format!("{:.0}", stream.target_fps)
            } else {
                "max".to_string()
            },
            stream.tx_fps
        );
    }
    for worker in &report.workers {
        let setup = &worker.setup;
        println!(
            "tx  port {} queue {} ({} mode): {} frames, {} completions, {} ring-full, {} wakeups",
            setup.port,
            setup.queue,
            setup.mode,
            worker.frames_sent,
            worker.completions,
            worker.ring_full_events,
            worker.wakeups
        );
    }
    for rx in &report.setup.rx_ports {
        println!("rx  port {} counted by XDP in {} mode", rx.port, rx.mode);
    }
    if report.frames_unknown_stream > 0 {
        println!(
            "note: {} linerate frames arrived with a stream id this run does not have (another sender?)",
            report.frames_unknown_stream
        );
    }
    let failures = report.failures();
    if failures.is_empty() {
        println!("verdict: PASS (every stream received exactly the frames it sent)");
    } else {
        println!("verdict: FAIL");
        for failure in failures {
            println!("  - {failure}");
        }
    }
    flush();
}
