//! `GET /metrics`: the runs in Prometheus's text exposition (OpenMetrics),
//! through prometheus-client. A collector reads what the runs published at
//! each scrape: per stream (labels run, stream) frames and bytes sent and
//! received, lost, duplicates, late, whether stopped, latency quantiles of
//! the latest interval; per sender (labels run, port, queue) completions,
//! ring-full events and wakeups, known once the run has finished (the
//! engine counts them inside the senders and hands them over in the final
//! report); and this process's resident memory.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::runs::{Live, Run, Runs};
use crate::scenarios::lock;

/// The Content-Type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// One metric family: its samples, each a label set and a value.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, f64)>,
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

    fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, self.kind)?;
        for (labels, value) in &self.samples {
            let sample = metric.encode_family(labels)?;
            match self.kind {
                // Counters here are whole counts.
                MetricType::Counter => ConstCounter::new(*value as u64).encode(sample)?,
                _ => ConstGauge::new(*value).encode(sample)?,
            }
        }
        Ok(())
    }
}

/// Reads the runs at each scrape.
#[derive(Debug)]
struct RunsCollector {
    runs: Arc<Runs>,
}

/// The quantiles of the latest interval's latency that are exposed.
const QUANTILES: [(&str, fn(&linerate_engine::report::LatencySection) -> u64); 4] = [
    ("0.5", |latency| latency.p50),
    ("0.9", |latency| latency.p90),
    ("0.99", |latency| latency.p99),
    ("0.999", |latency| latency.p99_9),
];

impl Collector for RunsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut families = StreamFamilies::new();
        let mut workers = WorkerFamilies::new();
        let mut states = Family::new(
            "linerate_run_running",
            "1 while the run sends or drains, 0 once it has ended",
            MetricType::Gauge,
        );
        for run in self.runs.list() {
            let live = lock(&run.live);
            states.samples.push((
                vec![("run", run.id.clone())],
                f64::from(u8::from(live.state.is_active())),
            ));
            families.add_run(&run, &live);
            workers.add_run(&run, &live);
        }
        states.encode(&mut encoder)?;
        for family in families.all().into_iter().chain(workers.all()) {
            family.encode(&mut encoder)?;
        }
        let mut resident = Family::new(
            "process_resident_memory_bytes",
            "Resident memory of the linerate process, bytes",
            MetricType::Gauge,
        );
        let bytes = linerate_engine::stats::resident_memory_bytes().unwrap_or(0);
        resident.samples.push((Vec::new(), bytes as f64));
        resident.encode(&mut encoder)
    }
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
            tx_frames: Family::new("linerate_stream_tx_frames", "Frames sent", Counter),
            tx_bytes: Family::new("linerate_stream_tx_bytes", "Bytes sent (L2, no FCS)", Counter),
            rx_frames: Family::new(
                "linerate_stream_rx_frames",
                "Frames received, duplicates included",
                Counter,
            ),
            rx_bytes: Family::new("linerate_stream_rx_bytes", "Bytes received", Counter),
            lost: Family::new(
                "linerate_stream_lost_frames",
                "Sequence numbers missing below the highest received (falls when late frames fill gaps)",
                Gauge,
            ),
            duplicates: Family::new("linerate_stream_duplicate_frames", "Duplicate frames received", Counter),
            late: Family::new(
                "linerate_stream_late_frames",
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
                "Latency of the frames received in the latest report interval, by quantile",
                Gauge,
            ),
        }
    }

    fn add_run(&mut self, run: &Run, live: &Live) {
        let latest = live.intervals.last();
        for stream in &run.plan.streams {
            let index = usize::from(stream.id);
            let labels = || vec![("run", run.id.clone()), ("stream", stream.name.clone())];
            let totals = live.totals.get(index).copied().unwrap_or_default();
            self.tx_frames
                .samples
                .push((labels(), totals.tx_frames as f64));
            self.tx_bytes
                .samples
                .push((labels(), totals.tx_bytes as f64));
            self.rx_frames
                .samples
                .push((labels(), totals.rx_frames as f64));
            self.rx_bytes
                .samples
                .push((labels(), totals.rx_bytes as f64));
            let interval_stream = latest.and_then(|interval| interval.streams.get(index));
            let (lost, duplicates, late) = interval_stream.map_or((0, 0, 0), |stream| {
                (stream.lost_so_far, stream.duplicates, stream.late)
            });
            self.lost.samples.push((labels(), lost as f64));
            self.duplicates.samples.push((labels(), duplicates as f64));
            self.late.samples.push((labels(), late as f64));
            let stopped = run.control.stream_stopped(&stream.name).unwrap_or(false);
            self.stopped
                .samples
                .push((labels(), f64::from(u8::from(stopped))));
            if let Some(latency) = interval_stream.and_then(|stream| stream.latency_ns.as_ref()) {
                for (quantile, value) in QUANTILES {
                    let mut labels = labels();
                    labels.push(("quantile", quantile.to_string()));
                    self.latency
                        .samples
                        .push((labels, value(latency) as f64 / 1e9));
                }
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
                "linerate_worker_completions",
                "Descriptors the kernel completed for the sender (known once the run has finished)",
                Counter,
            ),
            ring_full: Family::new(
                "linerate_worker_ring_full",
                "Times frames were due but the sender's ring had no room (known once the run has finished)",
                Counter,
            ),
            wakeups: Family::new(
                "linerate_worker_wakeups",
                "The sender's wakeups, sendto calls (known once the run has finished)",
                Counter,
            ),
        }
    }

    fn add_run(&mut self, run: &Run, live: &Live) {
        for worker in &live.workers {
            let labels = || {
                vec![
                    ("run", run.id.clone()),
                    ("port", worker.setup.port.clone()),
                    ("queue", worker.setup.queue.to_string()),
                ]
            };
            self.completions
                .samples
                .push((labels(), worker.completions as f64));
            self.ring_full
                .samples
                .push((labels(), worker.ring_full_events as f64));
            self.wakeups.samples.push((labels(), worker.wakeups as f64));
        }
    }

    fn all(self) -> Vec<Family> {
        vec![self.completions, self.ring_full, self.wakeups]
    }
}

/// The registry `GET /metrics` encodes.
pub fn registry(runs: Arc<Runs>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(RunsCollector { runs }));
    registry
}

/// The exposition text of `registry`.
pub fn exposition(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}
