//! How linerate prints: the setup lines, one live line per stream per
//! report interval, and the final summary with the sequence accounting,
//! latency and the verdict.

use std::io::Write;

use linerate_engine::run::{format_ns, IntervalReport, RunObserver, RunReport, RunSetup};

/// Prints live progress to standard output as the run reports it.
#[derive(Debug, Default)]
pub struct LivePrinter {
    header_printed: bool,
    /// The endpoints' counters at the previous interval, to difference.
    previous_endpoints: Option<linerate_endpoints::EndpointsSnapshot>,
}

impl LivePrinter {
    /// Prints what the run set up.
    pub fn setup_done(&mut self, setup: &RunSetup) {
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
        for reflect in &setup.reflect_ports {
            println!(
                "reflect port {:<6} {}  XDP reflector in {} mode: linerate frames go back where they came from",
                reflect.port, reflect.interface, reflect.mode
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

    /// Prints one line per stream for the interval: rates, frames lost so
    /// far (missing below the highest sequence number), duplicates, late
    /// frames, the interval's p99 latency and linerate's resident memory.
    /// The final report (after the
    /// drain) is printed only if frames arrived during the drain.
    pub fn interval(&mut self, report: &IntervalReport) {
        let moved = report
            .streams
            .iter()
            .any(|stream| stream.tx_fps > 0.0 || stream.rx_fps > 0.0);
        if report.is_final && !moved {
            // Nothing arrived during the drain: the summary says it all.
            return;
        }
        if let Some(endpoints) = &report.endpoints {
            crate::endpoints_output::print_interval(
                report.elapsed.as_secs_f64(),
                endpoints,
                self.previous_endpoints.as_ref(),
                report.length.as_secs_f64(),
            );
            self.previous_endpoints = Some(endpoints.clone());
        }
        if !self.header_printed && !report.streams.is_empty() {
            println!(
                "{:>8}  {:<16} {:>11} {:>11} {:>10} {:>10} {:>8} {:>8} {:>10} {:>8}",
                "time",
                "stream",
                "tx fps",
                "rx fps",
                "rx Mbit/s",
                "lost",
                "dup",
                "late",
                "p99 lat",
                "RSS MiB"
            );
            self.header_printed = true;
        }
        for stream in &report.streams {
            let totals = &stream.totals;
            println!(
                "{:>7.1}s  {:<16} {:>11.0} {:>11.0} {:>10.1} {:>10} {:>8} {:>8} {:>10} {:>8.1}{}",
                report.elapsed.as_secs_f64(),
                stream.name,
                stream.tx_fps,
                stream.rx_fps,
                stream.rx_bps / 1e6,
                totals.missing_below_highest(),
                totals.rx.duplicates,
                totals.rx.late,
                stream
                    .latency
                    .map(|latency| format_ns(latency.p99_ns))
                    .unwrap_or_else(|| "-".to_string()),
                report.resident_bytes as f64 / (1024.0 * 1024.0),
                if report.is_final { "  (final)" } else { "" }
            );
        }
        flush();
    }
}

/// Sends what the run reports to the live printer and the report recorder.
pub struct Observers<'a> {
    /// The live lines.
    pub printer: LivePrinter,
    /// The CSV/JSON recorder.
    pub recorder: &'a mut crate::report::Recorder,
}

impl RunObserver for Observers<'_> {
    fn setup_done(&mut self, setup: &RunSetup) {
        self.printer.setup_done(setup);
    }

    fn interval(&mut self, report: &IntervalReport) {
        self.printer.interval(report);
        self.recorder.interval(report);
    }
}

fn flush() {
    let _ = std::io::stdout().flush();
}

fn optional_ns(value: Option<u64>) -> String {
    value.map(format_ns).unwrap_or_else(|| "-".to_string())
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
        "{:<16} {:>13} {:>13} {:>9} {:>9} {:>7} {:>7} {:>11} {:>12}",
        "stream", "sent", "received", "lost", "loss %", "dup", "late", "target fps", "achieved fps"
    );
    for stream in &report.streams {
        let counts = &stream.counts;
        println!(
            "{:<16} {:>13} {:>13} {:>9} {:>9.4} {:>7} {:>7} {:>11} {:>12.0}",
            stream.name,
            counts.frames_sent,
            counts.rx.frames,
            stream.frames_lost(),
            stream.loss_percent(),
            counts.rx.duplicates,
            counts.rx.late,
            if stream.target_fps.is_finite() {
                format!("{:.0}", stream.target_fps)
            } else {
                "max".to_string()
            },
            stream.tx_fps
        );
    }
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency", "min", "mean", "p50", "p90", "p99", "p99.9", "max", "jitter"
    );
    for stream in &report.streams {
        let latency = stream.latency;
        println!(
            "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            stream.name,
            optional_ns(latency.map(|latency| latency.min_ns)),
            optional_ns(latency.map(|latency| latency.mean_ns as u64)),
            optional_ns(latency.map(|latency| latency.p50_ns)),
            optional_ns(latency.map(|latency| latency.p90_ns)),
            optional_ns(latency.map(|latency| latency.p99_ns)),
            optional_ns(latency.map(|latency| latency.p999_ns)),
            optional_ns(latency.map(|latency| latency.max_ns)),
            optional_ns(latency.map(|latency| latency.jitter_ns as u64)),
        );
        if stream.counts.rx.clock_behind > 0 {
            println!(
                "  note: {} frames carried a TX timestamp later than their arrival (sender and receiver clocks differ); they have no latency",
                stream.counts.rx.clock_behind
            );
        }
    }
    print_sequence_accounting(report);
    if let Some(endpoints) = &report.endpoints {
        crate::endpoints_output::print_summary(endpoints);
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
        println!("verdict: PASS");
    } else {
        println!("verdict: FAIL");
        for failure in failures {
            println!("  - {failure}");
        }
    }
    flush();
}

/// For every stream whose sequence numbers were not a clean run: how the
/// in-run gap count reconciles with the final loss.
fn print_sequence_accounting(report: &RunReport) {
    for stream in &report.streams {
        let counts = &stream.counts;
        let faults = counts.faults;
        if counts.rx.gap_frames == 0
            && counts.rx.duplicates == 0
            && counts.missing_after_highest() == 0
            && faults == Default::default()
        {
            continue;
        }
        println!(
            "sequence {}: {} jumped over - {} filled late - {} skipped on purpose = {} missing below the highest; + {} after it = {} lost",
            stream.name,
            counts.rx.gap_frames,
            counts.rx.late,
            faults.skipped,
            counts.missing_below_highest(),
            counts.missing_after_highest(),
            counts.missing_below_highest() + counts.missing_after_highest(),
        );
        if faults != Default::default() {
            println!(
                "  faults injected: {} skipped, {} repeated, {} swapped; received {} duplicates, {} late",
                faults.skipped, faults.repeated, faults.swapped, counts.rx.duplicates, counts.rx.late
            );
        }
    }
}

/// Prints what `linerate doctor` found, and its advice.
pub fn print_diagnosis(diagnosis: &linerate_engine::doctor::Diagnosis) {
    let not_reported = || "not reported by the driver".to_string();
    match &diagnosis.namespace {
        Some(namespace) => println!("{} (namespace {namespace})", diagnosis.interface),
        None => println!("{}", diagnosis.interface),
    }
    let driver = diagnosis
        .driver
        .as_ref()
        .map(|driver| {
            let or_dash = |text: &str| {
                if text.is_empty() {
                    "-".to_string()
                } else {
                    text.to_string()
                }
            };
            format!(
                "{} {} (firmware {}, bus {})",
                driver.driver,
                driver.version,
                or_dash(&driver.firmware),
                or_dash(&driver.bus)
            )
        })
        .unwrap_or_else(not_reported);
    println!("  driver    {driver}");
    println!(
        "  link      MTU {}, speed {}",
        diagnosis
            .mtu
            .map_or_else(|| "unknown".to_string(), |mtu| mtu.to_string()),
        diagnosis
            .speed_mbps
            .map_or_else(|| "unknown".to_string(), |speed| format!("{speed} Mbit/s"))
    );
    let queues = diagnosis
        .channels
        .map(|channels| {
            format!(
                "{} combined of at most {} (rx-only {}, tx-only {})",
                channels.combined, channels.max_combined, channels.rx, channels.tx
            )
        })
        .unwrap_or_else(not_reported);
    println!("  queues    {queues}");
    let rings = diagnosis
        .rings
        .map(|rings| {
            format!(
                "rx {} of at most {}, tx {} of at most {}",
                rings.rx, rings.rx_max, rings.tx, rings.tx_max
            )
        })
        .unwrap_or_else(not_reported);
    println!("  rings     {rings}");
    let xdp = diagnosis
        .xdp
        .map(|xdp| {
            let names = xdp.names();
            format!(
                "{}; AF_XDP zero-copy: {}",
                if names.is_empty() {
                    "no native XDP (generic only)".to_string()
                } else {
                    names.join(", ")
                },
                if xdp.bits & linerate_engine::doctor::XdpFeatures::XSK_ZEROCOPY != 0 {
                    format!("yes, up to {} buffers a frame", xdp.zero_copy_max_segments)
                } else {
                    "no (copy mode)".to_string()
                }
            )
        })
        .unwrap_or_else(|| "not reported by the kernel".to_string());
    println!("  XDP       {xdp}");
    println!(
        "  attached  {}",
        diagnosis.attached.as_ref().map_or_else(
            || "no XDP program".to_string(),
            |(id, name)| format!("{name:?} (id {id})")
        )
    );
    if diagnosis.governors.is_empty() {
        println!("  CPUs      no frequency scaling reported (virtual machine?)");
    } else {
        let governors: Vec<String> = diagnosis
            .governors
            .iter()
            .map(|(governor, count)| format!("{governor} on {count} CPU(s)"))
            .collect();
        println!("  CPUs      governor {}", governors.join(", "));
    }
    if diagnosis.irqs.is_empty() {
        println!(
            "  IRQs      none named after {} (a virtual device?)",
            diagnosis.interface
        );
    } else {
        let irqs: Vec<String> = diagnosis
            .irqs
            .iter()
            .map(|(irq, cpus)| format!("{irq} on CPUs {cpus}"))
            .collect();
        println!("  IRQs      {}", irqs.join(", "));
    }
    if diagnosis.advice.is_empty() {
        println!("advice: none; the port is set up for line rate");
    } else {
        println!("advice:");
        for advice in &diagnosis.advice {
            println!("  - {advice}");
        }
    }
    flush();
}
