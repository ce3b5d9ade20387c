//! How linerate prints: the setup lines (streams counted per sender), one
//! live line per shown stream per report interval, and the final summary
//! with the sequence accounting, latency and the verdict. With more streams
//! than `--show N`, only the worst N (by loss, then latency) are printed,
//! with a totals line over every stream.

use std::cmp::Ordering;
use std::io::Write;

use linerate_engine::outcome::StreamResult;
use linerate_engine::run::{format_ns, IntervalReport, RunObserver, RunReport, RunSetup};
use linerate_engine::stats::StreamInterval;

/// Streams shown when `--show` is not given.
pub const DEFAULT_SHOW: u64 = 10;

/// Failure lines the verdict prints before summing up the rest.
const FAILURES_SHOWN: usize = 20;

/// Prints live progress to standard output as the run reports it.
#[derive(Debug)]
pub struct LivePrinter {
    header_printed: bool,
    /// The endpoints' counters at the previous interval, to difference.
    previous_endpoints: Option<linerate_endpoints::EndpointsSnapshot>,
    /// Streams shown per interval at most.
    show: usize,
}

/// The indices of the `show` worst of `count` items under `worse` (an
/// ordering that puts the worse first), worst first; every index, in order,
/// when there are no more than `show`.
fn worst(count: usize, show: usize, worse: impl Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..count).collect();
    if count <= show {
        return indices;
    }
    if show > 0 {
        indices.select_nth_unstable_by(show - 1, |a, b| worse(*a, *b));
    }
    indices.truncate(show);
    indices.sort_by(|a, b| worse(*a, *b).then(a.cmp(b)));
    indices
}

/// Worse first: more frames lost, then the higher p99 latency.
fn worse_interval(a: &StreamInterval, b: &StreamInterval) -> Ordering {
    let p99 = |stream: &StreamInterval| stream.latency.map_or(0, |latency| latency.p99_ns);
    b.totals
        .missing_below_highest()
        .cmp(&a.totals.missing_below_highest())
        .then(p99(b).cmp(&p99(a)))
}

/// Worse first: more frames lost, then fewer sent than planned, then the
/// higher p99 latency.
fn worse_result(a: &StreamResult, b: &StreamResult) -> Ordering {
    let short = |stream: &StreamResult| {
        stream.frames_planned.map_or(0, |planned| {
            planned.saturating_sub(stream.counts.frames_sent)
        })
    };
    let p99 = |stream: &StreamResult| stream.latency.map_or(0, |latency| latency.p99_ns);
    b.frames_lost()
        .cmp(&a.frames_lost())
        .then(short(b).cmp(&short(a)))
        .then(p99(b).cmp(&p99(a)))
}

/// "worst 10 of 10000 streams (by loss, then latency)" when not all are shown.
fn shown_note(shown: usize, total: usize) -> Option<String> {
    (shown < total).then(|| format!("worst {shown} of {total} streams (by loss, then latency)"))
}

impl LivePrinter {
    /// A printer that shows at most `show` streams per interval.
    pub fn new(show: usize) -> LivePrinter {
        LivePrinter {
            header_printed: false,
            previous_endpoints: None,
            show: show.max(1),
        }
    }

    /// Prints what the run set up.
    pub fn setup_done(&mut self, setup: &RunSetup) {
        for tx in &setup.tx_ports {
            let core = tx
                .core
                .map(|core| format!("core {core}"))
                .unwrap_or_else(|| "unpinned".to_string());
            let streams = if tx.streams.len() <= self.show {
                format!("{} ({})", tx.streams.len(), tx.streams.join(", "))
            } else {
                tx.streams.len().to_string()
            };
            println!(
                "tx  port {:<6} {}  queue {}  {core}  AF_XDP {} mode{}  UMEM {:.1} MiB  streams: {streams}",
                tx.port,
                tx.interface,
                tx.queue,
                tx.mode,
                tx.busy_poll
                    .map(|busy| format!(", busy-poll {} µs", busy.usecs))
                    .unwrap_or_default(),
                tx.umem_bytes as f64 / (1024.0 * 1024.0),
            );
        }
        let stream_count: usize = setup.tx_ports.iter().map(|tx| tx.streams.len()).sum();
        for rx in &setup.rx_ports {
            let percentiles = if (rx.latency_streams as usize) < stream_count {
                format!(
                    "; latency percentiles for streams 0 to {} (min/mean/max/jitter for all)",
                    rx.latency_streams.saturating_sub(1)
                )
            } else {
                String::new()
            };
            println!(
                "rx  port {:<6} {}  XDP counter in {} mode  maps {:.2} MiB{percentiles}",
                rx.port,
                rx.interface,
                rx.mode,
                rx.map_bytes as f64 / (1024.0 * 1024.0)
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
        let streams = &report.streams;
        let shown = worst(streams.len(), self.show, |a, b| {
            worse_interval(&streams[a], &streams[b])
        });
        let elapsed = report.elapsed.as_secs_f64();
        let resident_mib = report.resident_bytes as f64 / (1024.0 * 1024.0);
        let last = if report.is_final { "  (final)" } else { "" };
        for stream in shown.iter().map(|index| &streams[*index]) {
            let totals = &stream.totals;
            println!(
                "{elapsed:>7.1}s  {:<16} {:>11.0} {:>11.0} {:>10.1} {:>10} {:>8} {:>8} {:>10} {resident_mib:>8.1}{last}",
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
            );
        }
        if streams.len() > 1 {
            let worst_p99 = streams
                .iter()
                .filter_map(|stream| stream.latency.map(|latency| latency.p99_ns))
                .max();
            println!(
                "{elapsed:>7.1}s  {:<16} {:>11.0} {:>11.0} {:>10.1} {:>10} {:>8} {:>8} {:>10} {resident_mib:>8.1}{last}{}",
                format!("total ({})", streams.len()),
                streams.iter().map(|stream| stream.tx_fps).sum::<f64>(),
                streams.iter().map(|stream| stream.rx_fps).sum::<f64>(),
                streams.iter().map(|stream| stream.rx_bps).sum::<f64>() / 1e6,
                streams.iter().map(|stream| stream.totals.missing_below_highest()).sum::<u64>(),
                streams.iter().map(|stream| stream.totals.rx.duplicates).sum::<u64>(),
                streams.iter().map(|stream| stream.totals.rx.late).sum::<u64>(),
                optional_ns(worst_p99),
                shown_note(shown.len(), streams.len())
                    .map(|note| format!("  {note}; p99 is the worst stream's"))
                    .unwrap_or_default(),
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

/// Prints the final summary (the `show` worst streams, or all of them, and
/// a totals line) and the verdict.
pub fn print_summary(report: &RunReport, show: usize) {
    let streams = &report.streams;
    let shown: Vec<&StreamResult> = worst(streams.len(), show.max(1), |a, b| {
        worse_result(&streams[a], &streams[b])
    })
    .into_iter()
    .map(|index| &streams[index])
    .collect();
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
    for stream in &shown {
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
    if streams.len() > 1 {
        print_totals(report, shown.len());
    }
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency", "min", "mean", "p50", "p90", "p99", "p99.9", "max", "jitter"
    );
    for stream in &shown {
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
    print_sequence_accounting(&shown);
    crate::stations_output::print_summary(&report.stations);
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
        for failure in failures.iter().take(FAILURES_SHOWN) {
            println!("  - {failure}");
        }
        if failures.len() > FAILURES_SHOWN {
            println!(
                "  - ... and {} more (every stream is in the JSON and CSV reports)",
                failures.len() - FAILURES_SHOWN
            );
        }
    }
    flush();
}

/// The totals line under the summary's counts: every stream summed.
fn print_totals(report: &RunReport, shown: usize) {
    let streams = &report.streams;
    let sent: u64 = streams.iter().map(|stream| stream.counts.frames_sent).sum();
    let unique_sent: u64 = streams
        .iter()
        .map(|stream| stream.counts.unique_sent())
        .sum();
    let lost: u64 = streams.iter().map(StreamResult::frames_lost).sum();
    let target: f64 = streams.iter().map(|stream| stream.target_fps).sum();
    println!(
        "{:<16} {:>13} {:>13} {:>9} {:>9.4} {:>7} {:>7} {:>11} {:>12.0}{}",
        format!("total ({})", streams.len()),
        sent,
        streams
            .iter()
            .map(|stream| stream.counts.rx.frames)
            .sum::<u64>(),
        lost,
        if unique_sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / unique_sent as f64
        },
        streams
            .iter()
            .map(|stream| stream.counts.rx.duplicates)
            .sum::<u64>(),
        streams
            .iter()
            .map(|stream| stream.counts.rx.late)
            .sum::<u64>(),
        if target.is_finite() {
            format!("{target:.0}")
        } else {
            "max".to_string()
        },
        streams.iter().map(|stream| stream.tx_fps).sum::<f64>(),
        shown_note(shown, streams.len())
            .map(|note| format!("  {note}"))
            .unwrap_or_default(),
    );
}

/// For every stream whose sequence numbers were not a clean run: how the
/// in-run gap count reconciles with the final loss.
fn print_sequence_accounting(streams: &[&StreamResult]) {
    for stream in streams {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_come_first_and_all_are_kept_in_order_when_few() {
        let lost = [3u64, 9, 0, 9, 5, 1];
        let by_loss = |a: usize, b: usize| lost[b].cmp(&lost[a]);
        assert_eq!(worst(lost.len(), 3, by_loss), vec![1, 3, 4]);
        assert_eq!(worst(lost.len(), 1, by_loss).len(), 1);
        assert_eq!(worst(lost.len(), 6, by_loss), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(worst(lost.len(), 100, by_loss), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(
            shown_note(3, 6).as_deref(),
            Some("worst 3 of 6 streams (by loss, then latency)")
        );
        assert_eq!(shown_note(6, 6), None);
    }
}
