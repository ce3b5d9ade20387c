//! `GET /metrics`: the runs in Prometheus's text exposition format 0.0.4,
//! written here: prometheus-client writes only OpenMetrics, whose counter
//! families `promtool check metrics` rejects, and has no summary type for
//! the latency quantiles. Each scrape reads what the runs published: per stream (labels run, stream) frames and bytes sent and
//! received, lost, duplicates, late, whether stopped, latency quantiles of
//! the latest interval; per sender (labels run, port, queue) completions,
//! ring-full events and wakeups, known once the run has finished (the
//! engine counts them inside the senders and hands them over in the final
//! report); and this process's resident memory.

use std::fmt::Write;

use crate::runs::{Live, Run, Runs};
use crate::scenarios::lock;

/// The Content-Type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricType {
    Counter,
    Gauge,
    Summary,
}

impl MetricType {
    fn name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
        }
    }
}

/// One metric family: its samples, each a name suffix (`""`, `_sum`,
/// `_count`), a label set and a value.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(&'static str, Labels, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: MetricType) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Labels, value: f64) {
        self.samples.push(("", labels, value));
    }

    fn encode(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "# HELP {} {}", self.name, self.help)?;
        writeln!(out, "# TYPE {} {}", self.name, self.kind.name())?;
        for (suffix, labels, value) in &self.samples {
            write!(out, "{}{suffix}", self.name)?;
            if !labels.is_empty() {
                out.push('{');
                for (index, (key, value)) in labels.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write!(out, "{key}=\"{}\"", escape_label(value))?;
                }
                out.push('}');
            }
            writeln!(out, " {value}")?;
        }
        Ok(())
    }
}

/// A label value as the text format writes it: backslash, quote and
/// newline escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Reads one percentile out of a latency section, ns.
type Percentile = fn(&linerate_engine::report::LatencySection) -> u64;

/// The quantiles of the latest interval's latency that are exposed.
const QUANTILES: [(&str, Percentile); 4] = [
    ("0.5", |latency| latency.p50),
    ("0.9", |latency| latency.p90),
    ("0.99", |latency| latency.p99),
    ("0.999", |latency| latency.p99_9),
];

/// The exposition text for every run, and this process's memory.
pub fn exposition(runs: &Runs) -> Result<String, std::fmt::Error> {
    let mut families = StreamFamilies::new();
    let mut workers = WorkerFamilies::new();
    let mut states = Family::new(
        "linerate_run_running",
        "1 while the run sends or drains, 0 once it has ended",
        MetricType::Gauge,
    );
    for run in runs.list() {
        let live = lock(&run.live);
        states.push(
            vec![("run", run.id.clone())],
            f64::from(u8::from(live.state.is_active())),
        );
        families.add_run(&run, &live);
        workers.add_run(&run, &live);
    }
    let mut resident = Family::new(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        MetricType::Gauge,
    );
    let bytes = linerate_engine::stats::resident_memory_bytes().unwrap_or(0);
    resident.push(Vec::new(), bytes as f64);
    let mut text = String::new();
    for family in std::iter::once(states)
        .chain(families.all())
        .chain(workers.all())
        .chain(std::iter::once(resident))
    {
        family.encode(&mut text)?;
    }
    Ok(text)
}

/// The per-stream families.
struct StreamFamilies {
    tx_frames: Family,
    tx_bytes: Family,
    rx_frames: Family,
    rx_bytes: Family,
    lost: Family,
    duplicates: Family,
    late: Family,
    stopped: Family,
    latency: Family,
}

impl StreamFamilies {
    fn new() -> StreamFamilies {
        use MetricType::{Counter, Gauge};
        StreamFamilies {
            tx_frames: Family::new("linerate_stream_tx_frames_total", "Frames sent", Counter),
            tx_bytes: Family::new("linerate_stream_tx_bytes_total", "Bytes sent (L2, no FCS)", Counter),
            rx_frames: Family::new(
                "linerate_stream_rx_frames_total",
                "Frames received, duplicates included",
                Counter,
            ),
            rx_bytes: Family::new("linerate_stream_rx_bytes_total", "Bytes received", Counter),
            lost: Family::new(
                "linerate_stream_lost_frames",
                "Sequence numbers missing below the highest received (falls when late frames fill gaps)",
                Gauge,
            ),
            duplicates: Family::new("linerate_stream_duplicate_frames_total", "Duplicate frames received", Counter),
            late: Family::new(
                "linerate_stream_late_frames_total",
                "Frames that arrived after a higher sequence number",
                Counter,
            ),
            stopped: Family::new(
                "linerate_stream_stopped",
                "1 while the stream is stopped by the API",
                Gauge,
            ),
            latency: Family::new(
                "linerate_stream_latency_seconds",
                "Latency of the frames received in the latest report interval",
                MetricType::Summary,
            ),
        }
    }

    fn add_run(&mut self, run: &Run, live: &Live) {
        let latest = live.intervals.last();
        for stream in &run.plan.streams {
            let index = stream.id as usize;
            let labels = || vec![("run", run.id.clone()), ("stream", stream.name.clone())];
            let totals = live.totals.get(index).copied().unwrap_or_default();
            self.tx_frames.push(labels(), totals.tx_frames as f64);
            self.tx_bytes.push(labels(), totals.tx_bytes as f64);
            self.rx_frames.push(labels(), totals.rx_frames as f64);
            self.rx_bytes.push(labels(), totals.rx_bytes as f64);
            let interval_stream = latest.and_then(|interval| interval.streams.get(index));
            let (lost, duplicates, late) = interval_stream.map_or((0, 0, 0), |stream| {
                (stream.lost_so_far, stream.duplicates, stream.late)
            });
            self.lost.push(labels(), lost as f64);
            self.duplicates.push(labels(), duplicates as f64);
            self.late.push(labels(), late as f64);
            let stopped = run.control.stream_stopped(&stream.name).unwrap_or(false);
            self.stopped.push(labels(), f64::from(u8::from(stopped)));
            if let Some(latency) = interval_stream.and_then(|stream| stream.latency_ns.as_ref()) {
                for (quantile, value) in QUANTILES {
                    let mut labels = labels();
                    labels.push(("quantile", quantile.to_string()));
                    self.latency.push(labels, value(latency) as f64 / 1e9);
                }
                let sum = latency.mean * latency.count as f64 / 1e9;
                self.latency.samples.push(("_sum", labels(), sum));
                self.latency
                    .samples
                    .push(("_count", labels(), latency.count as f64));
            }
        }
    }

    fn all(self) -> Vec<Family> {
        vec![
            self.tx_frames,
            self.tx_bytes,
            self.rx_frames,
            self.rx_bytes,
            self.lost,
            self.duplicates,
            self.late,
            self.stopped,
            self.latency,
        ]
    }
}

/// The per-sender families.
struct WorkerFamilies {
    completions: Family,
    ring_full: Family,
    wakeups: Family,
}

impl WorkerFamilies {
    fn new() -> WorkerFamilies {
        use MetricType::Counter;
        WorkerFamilies {
            completions: Family::new(
                "linerate_worker_completions_total",
                "Descriptors the kernel completed for the sender",
                Counter,
            ),
            ring_full: Family::new(
                "linerate_worker_ring_full_total",
                "Times frames were due but the sender's ring had no room",
                Counter,
            ),
            wakeups: Family::new(
                "linerate_worker_wakeups_total",
                "The sender's wakeups, sendto calls",
                Counter,
            ),
        }
    }

    /// The run's senders: their final counters once it has finished, the
    /// latest interval's while it runs.
    fn add_run(&mut self, run: &Run, live: &Live) {
        let counts: Vec<(String, u32, linerate_engine::stats::WorkerCounts)> =
            if live.workers.is_empty() {
                run.setup
                    .tx
                    .iter()
                    .zip(&live.worker_counts)
                    .map(|(tx, counts)| (tx.port.clone(), tx.queue, *counts))
                    .collect()
            } else {
                live.workers
                    .iter()
                    .map(|worker| {
                        (
                            worker.setup.port.clone(),
                            worker.setup.queue,
                            linerate_engine::stats::WorkerCounts {
                                completions: worker.completions,
                                ring_full_events: worker.ring_full_events,
                                wakeups: worker.wakeups,
                            },
                        )
                    })
                    .collect()
            };
        for (port, queue, worker) in counts {
            let labels = || {
                vec![
                    ("run", run.id.clone()),
                    ("port", port.clone()),
                    ("queue", queue.to_string()),
                ]
            };
            self.completions.push(labels(), worker.completions as f64);
            self.ring_full
                .push(labels(), worker.ring_full_events as f64);
            self.wakeups.push(labels(), worker.wakeups as f64);
        }
    }

    fn all(self) -> Vec<Family> {
        vec![self.completions, self.ring_full, self.wakeups]
    }
}
