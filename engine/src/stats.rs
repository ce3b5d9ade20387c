//! The stats aggregator: snapshots of every stream's transmit counters and
//! receive state, interval reports made from the difference of two
//! snapshots, and latency percentiles read straight from the XDP program's
//! log-linear histogram. It reads counters the workers and the XDP program
//! write; it never blocks them.

use std::time::Duration;

use linerate_bpf::abi::latency_bucket_bounds;
use linerate_bpf::StreamRx;

use crate::sequence::FaultCounts;

/// One stream's counters at a moment: what its sender did and what its
/// receive counter saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamCounts {
    /// Frames placed on the TX ring.
    pub frames_sent: u64,
    /// Their bytes (no FCS).
    pub bytes_sent: u64,
    /// Sequence numbers the sender handed out or jumped over.
    pub sequence_span: u64,
    /// Faults the sender injected on purpose.
    pub faults: FaultCounts,
    /// What the receive counter saw: frames, duplicates, late frames,
    /// gaps, latency (cumulative histogram) and jitter.
    pub rx: StreamRx,
}

impl StreamCounts {
    /// Distinct sequence numbers sent: frames less injected repeats.
    pub fn unique_sent(&self) -> u64 {
        self.frames_sent.saturating_sub(self.faults.repeated)
    }

    /// Distinct sequence numbers received: frames less duplicates.
    pub fn unique_received(&self) -> u64 {
        self.rx.unique_frames()
    }

    /// Frames sent and not (yet) received: exact once the run has drained.
    pub fn lost(&self) -> u64 {
        self.unique_sent().saturating_sub(self.unique_received())
    }

    /// Lost frames as a percentage of distinct frames sent.
    pub fn loss_percent(&self) -> f64 {
        match self.unique_sent() {
            0 => 0.0,
            sent => self.lost() as f64 * 100.0 / sent as f64,
        }
    }

    /// Sequence numbers jumped over and not filled late, less the skips the
    /// sender injected: frames missing below the highest received, known
    /// while the run goes (unlike [`StreamCounts::lost`], it does not count
    /// frames still in flight).
    pub fn missing_below_highest(&self) -> u64 {
        self.rx
            .gap_frames
            .saturating_sub(self.rx.late)
            .saturating_sub(self.faults.skipped)
    }

    /// Sequence numbers sent after the highest received: lost at the end of
    /// the run (or in flight, while it goes).
    pub fn missing_after_highest(&self) -> u64 {
        self.sequence_span.saturating_sub(self.rx.next_expected)
    }
}

/// Latency percentiles and extremes, ns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Frames measured.
    pub count: u64,
    /// Smallest.
    pub min_ns: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest.
    pub max_ns: u64,
    /// RFC 3550 interarrival jitter.
    pub jitter_ns: f64,
}

/// Latencies as the XDP program's log-linear histogram counted them
/// (buckets at most 3.1 % wide): percentiles are read straight from the
/// bucket counts, each bucket standing for its midpoint (within 1.6 % of
/// every value in it). Cheap enough to make for every stream at every
/// interval: no allocation beyond the bucket copy, one pass per percentile.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    /// Frames per bucket, trailing empty buckets left out.
    buckets: Vec<u64>,
    count: u64,
    min_ns: u64,
    max_ns: u64,
}

impl LatencyHistogram {
    /// From bucket counts; `min_ns` and `max_ns` are the exact extremes
    /// where known (else the extreme buckets' bounds are used).
    pub fn from_buckets(buckets: &[u64], exact: Option<(u64, u64)>) -> LatencyHistogram {
        let used = buckets
            .iter()
            .rposition(|count| *count > 0)
            .map_or(0, |last| last + 1);
        let buckets = buckets[..used].to_vec();
        let count = buckets.iter().sum();
        let lowest = buckets
            .iter()
            .position(|count| *count > 0)
            .map_or(0, |bucket| latency_bucket_bounds(bucket).0);
        let highest = used
            .checked_sub(1)
            .map_or(0, |bucket| latency_bucket_bounds(bucket).1);
        let (min_ns, max_ns) = exact.unwrap_or((lowest, highest));
        LatencyHistogram {
            buckets,
            count,
            min_ns,
            max_ns,
        }
    }

    /// Frames in the histogram.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The latency at `percentile` (0 to 100), kept within the extremes:
    /// the midpoint of the bucket holding the frame at that rank.
    pub fn percentile(&self, percentile: f64) -> u64 {
        if percentile >= 100.0 {
            return self.max_ns;
        }
        if percentile <= 0.0 {
            return self.min_ns;
        }
        let rank = ((percentile / 100.0 * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket_midpoint(bucket).clamp(self.min_ns, self.max_ns.max(self.min_ns));
            }
        }
        self.max_ns
    }

    /// The mean, each frame at its bucket's midpoint.
    fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let sum: f64 = self
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(bucket, count)| bucket_midpoint(bucket) as f64 * *count as f64)
            .sum();
        sum / self.count as f64
    }

    /// The usual percentiles, with `jitter_ns` alongside; `None` when empty.
    pub fn summary(&self, jitter_ns: f64) -> Option<LatencySummary> {
        if self.count == 0 {
            return None;
        }
        Some(LatencySummary {
            count: self.count,
            min_ns: self.min_ns,
            mean_ns: self.mean_ns(),
            p50_ns: self.percentile(50.0),
            p90_ns: self.percentile(90.0),
            p99_ns: self.percentile(99.0),
            p999_ns: self.percentile(99.9),
            max_ns: self.max_ns,
            jitter_ns,
        })
    }
}

/// The middle of a latency bucket.
fn bucket_midpoint(bucket: usize) -> u64 {
    let (low, high) = latency_bucket_bounds(bucket);
    low + (high - low) / 2
}

/// A stream's latency so far as a histogram: the counter's cumulative
/// buckets, bounded by its exact extremes.
pub fn latency_histogram(counts: &StreamCounts) -> LatencyHistogram {
    let latency = &counts.rx.latency;
    LatencyHistogram::from_buckets(&latency.buckets, Some((latency.min_ns, latency.max_ns)))
}

/// The whole run's latency for a stream: the cumulative histogram, with the
/// exact extremes and mean from the counter.
pub fn latency_summary(counts: &StreamCounts) -> Option<LatencySummary> {
    let latency = &counts.rx.latency;
    if latency.count == 0 {
        return None;
    }
    latency_histogram(counts)
        .summary(counts.rx.jitter_ns)
        .map(|mut summary| {
            summary.mean_ns = latency.sum_ns as f64 / latency.count as f64;
            summary
        })
}

/// One stream's line in an interval report.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInterval {
    /// The stream id.
    pub id: u32,
    /// The stream's name.
    pub name: String,
    /// Totals so far, without the latency buckets (the interval's latency
    /// is `latency`; the run's is in the final report): with many streams
    /// a third copy of every stream's histogram would dominate memory.
    pub totals: StreamCounts,
    /// Frames per second sent during the interval.
    pub tx_fps: f64,
    /// Frames per second received during the interval.
    pub rx_fps: f64,
    /// Bits per second sent (L2, no FCS) during the interval.
    pub tx_bps: f64,
    /// Bits per second received during the interval.
    pub rx_bps: f64,
    /// Latency of the frames received during the interval.
    pub latency: Option<LatencySummary>,
}

/// What is reported at each interval.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalReport {
    /// Time since sending started, at the end of the interval.
    pub elapsed: Duration,
    /// The interval's length.
    pub length: Duration,
    /// One entry per stream, in stream id order.
    pub streams: Vec<StreamInterval>,
    /// True for the last report, made after the drain.
    pub is_final: bool,
    /// This process's resident memory when the report was made, bytes (0
    /// where /proc does not say).
    pub resident_bytes: u64,
    /// The endpoints' cumulative counters (TCP, URL, ping, File-IO), when
    /// the run has any.
    pub endpoints: Option<linerate_endpoints::EndpointsSnapshot>,
    /// Each sender's own counters so far, in the order of the run's
    /// senders (`RunSetup::tx_ports`).
    pub workers: Vec<WorkerCounts>,
}

/// A sender's own counters at a moment: each written by the sender alone,
/// read here without a lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Descriptors the kernel completed.
    pub completions: u64,
    /// Times frames were due but the ring or the pool had no room.
    pub ring_full_events: u64,
    /// Wakeups (sendto calls).
    pub wakeups: u64,
}

/// This process's resident memory in bytes, from /proc/self/statm.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

/// Turns successive snapshots into interval reports.
#[derive(Debug)]
pub struct Aggregator {
    names: Vec<String>,
    previous: Vec<StreamCounts>,
    previous_elapsed: Duration,
}

impl Aggregator {
    /// An aggregator for streams with these names (in id order), starting
    /// from `initial` counts at `elapsed`.
    pub fn new(names: Vec<String>, initial: Vec<StreamCounts>, elapsed: Duration) -> Aggregator {
        Aggregator {
            names,
            previous: initial,
            previous_elapsed: elapsed,
        }
    }

    /// The counts of the last snapshot.
    pub fn latest(&self) -> &[StreamCounts] {
        &self.previous
    }

    /// The report for the interval from the last snapshot to `current`,
    /// taken `elapsed` after the start.
    pub fn interval(
        &mut self,
        mut current: Vec<StreamCounts>,
        elapsed: Duration,
        is_final: bool,
    ) -> IntervalReport {
        let length = elapsed.saturating_sub(self.previous_elapsed);
        let streams = current
            .iter_mut()
            .zip(&self.previous)
            .zip(&self.names)
            .enumerate()
            .map(|(index, ((now, before), name))| {
                // Buckets only grow, and so does the list of them.
                let before_buckets = &before.rx.latency.buckets;
                let delta_buckets: Vec<u64> = now
                    .rx
                    .latency
                    .buckets
                    .iter()
                    .enumerate()
                    .map(|(bucket, now)| {
                        now.saturating_sub(before_buckets.get(bucket).copied().unwrap_or(0))
                    })
                    .collect();
                let latency =
                    LatencyHistogram::from_buckets(&delta_buckets, None).summary(now.rx.jitter_ns);
                StreamInterval {
                    id: index as u32,
                    name: name.clone(),
                    tx_fps: per_second(now.frames_sent.saturating_sub(before.frames_sent), length),
                    rx_fps: per_second(now.rx.frames.saturating_sub(before.rx.frames), length),
                    tx_bps: per_second(now.bytes_sent.saturating_sub(before.bytes_sent), length)
                        * 8.0,
                    rx_bps: per_second(now.rx.bytes.saturating_sub(before.rx.bytes), length) * 8.0,
                    latency,
                    totals: without_buckets(now),
                }
            })
            .collect();
        self.previous = current;
        self.previous_elapsed = elapsed;
        IntervalReport {
            elapsed,
            length,
            streams,
            is_final,
            resident_bytes: resident_memory_bytes().unwrap_or(0),
            endpoints: None,
            workers: Vec::new(),
        }
    }
}

/// A copy of `counts` with an empty list of latency buckets.
fn without_buckets(counts: &mut StreamCounts) -> StreamCounts {
    let buckets = std::mem::take(&mut counts.rx.latency.buckets);
    let copy = counts.clone();
    counts.rx.latency.buckets = buckets;
    copy
}

/// `count` per second over `duration` (0 for no time).
pub fn per_second(count: u64, duration: Duration) -> f64 {
    if duration.is_zero() {
        0.0
    } else {
        count as f64 / duration.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linerate_bpf::abi::{latency_bucket, LATENCY_BUCKETS};

    fn buckets_of(latencies: &[u64]) -> Vec<u64> {
        let mut buckets = vec![0; LATENCY_BUCKETS];
        for &latency in latencies {
            buckets[latency_bucket(latency)] += 1;
        }
        buckets
    }

    #[test]
    fn percentiles_from_buckets_are_within_the_bucket_width() {
        // 1000 latencies from 10 us to 10.999 ms.
        let latencies: Vec<u64> = (0..1000).map(|i| 10_000 + i * 10_990).collect();
        let histogram = LatencyHistogram::from_buckets(&buckets_of(&latencies), None);
        assert_eq!(histogram.count(), 1000);
        for (percentile, exact) in [
            (50.0, latencies[499]),
            (99.0, latencies[989]),
            (99.9, latencies[998]),
        ] {
            let measured = histogram.percentile(percentile) as f64;
            let error = (measured - exact as f64).abs() / exact as f64;
            assert!(error < 0.04, "p{percentile}: {measured} vs {exact}");
        }
    }

    #[test]
    fn exact_extremes_bound_the_percentiles() {
        let buckets = buckets_of(&[1000, 2000, 3000]);
        let histogram = LatencyHistogram::from_buckets(&buckets, Some((1000, 3000)));
        assert_eq!(histogram.percentile(0.0), 1000);
        assert_eq!(histogram.percentile(100.0), 3000);
        assert!(histogram.percentile(99.999) <= 3000);
        assert!(
            LatencyHistogram::from_buckets(&vec![0; LATENCY_BUCKETS], None)
                .summary(0.0)
                .is_none()
        );
    }

    #[test]
    fn loss_counts_exclude_duplicates_and_injected_faults() {
        let counts = StreamCounts {
            frames_sent: 1000,
            sequence_span: 1005,
            faults: FaultCounts {
                skipped: 5,
                repeated: 10,
                swapped: 3,
            },
            rx: StreamRx {
                frames: 985,
                duplicates: 10,
                late: 3,
                gap_frames: 3 + 5 + 12,
                next_expected: 1002,
                ..StreamRx::default()
            },
            ..StreamCounts::default()
        };
        // 990 distinct sent, 975 distinct received.
        assert_eq!(counts.lost(), 15);
        assert_eq!(counts.missing_below_highest(), 12);
        assert_eq!(counts.missing_after_highest(), 3);
        assert_eq!(
            counts.missing_below_highest() + counts.missing_after_highest(),
            counts.lost()
        );
    }

    #[test]
    fn intervals_carry_rates_and_their_own_latency() {
        let mut first = StreamCounts::default();
        first.rx.latency.buckets = vec![0; LATENCY_BUCKETS];
        first.rx.latency.buckets[latency_bucket(5_000)] = 10;
        let mut aggregator = Aggregator::new(vec!["s".into()], vec![first.clone()], Duration::ZERO);
        let mut second = first.clone();
        second.frames_sent = 2000;
        second.bytes_sent = 2000 * 60;
        second.rx.frames = 1000;
        second.rx.latency.buckets[latency_bucket(50_000)] = 4;
        let report = aggregator.interval(vec![second], Duration::from_secs(2), false);
        let stream = &report.streams[0];
        assert_eq!(stream.tx_fps, 1000.0);
        assert_eq!(stream.rx_fps, 500.0);
        assert_eq!(stream.tx_bps, 1000.0 * 60.0 * 8.0);
        let latency = stream.latency.expect("four frames in the interval");
        assert_eq!(latency.count, 4);
        assert!((49_000..=51_000).contains(&latency.p50_ns), "{latency:?}");
    }
}
