//! Exact merging of per-stream results counted in several places (agents on
//! several hosts, or sessions run one after the other) into one run's
//! results. Counters add. Latency histograms add bucket by bucket: the
//! receive counter files every latency under a fixed log-linear bucket
//! (`linerate_abi.h`), the same buckets everywhere, so the sum of the parts'
//! buckets is exactly the histogram of all their frames, and percentiles
//! taken from it are those of all frames (never an average of percentiles).
//! Count and sum add, min takes the smallest of the parts that measured
//! something, max the largest, so mean and extremes stay exact too.
//!
//! Jitter is the one figure that is not a distribution: RFC 3550 jitter is a
//! running estimate (each transit difference moves it 1/16 of the way), so
//! two parts' estimates cannot be combined into the estimate over all frames.
//! The merge takes their mean weighted by the frames each part measured:
//! the rule the counter's own reader already applies across CPUs. For a
//! stream counted in one place, as the coordinator splits runs (a stream's
//! receive accounting stays with its receiving port), nothing is combined
//! and the jitter is that place's, exactly.
//!
//! Interval series merge by index ([`merge_interval_series`]): the parts
//! start at one instant with one interval length, so interval i covers the
//! same time everywhere; a stream's figures come from the parts that sent
//! and counted it (the others hold zeros), so they add.
//!
//! Sequence accounting (gaps, late frames, the highest sequence number) is
//! per counter: a stream whose receive side was counted in two parts cannot
//! be merged exactly, and [`merge_runs`] refuses it, naming the stream; so
//! does a stream sent from two parts.

use std::collections::HashMap;

use linerate_bpf::abi::{LATENCY_BUCKETS, LATENCY_SUB_BITS};
use linerate_bpf::{LatencyCounters, StreamRx};

use crate::outcome::{RunReport, StreamResult, WorkerResult};
use crate::report::{IntervalSection, IntervalStream, LatencyHistogramSection};
use crate::run::RunSetup;
use crate::sequence::FaultCounts;
use crate::stats::{latency_summary, StreamCounts};

/// Why results could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no results to merge")]
    Empty,
    /// A stream's frames were sent from more than one part.
    #[error("stream {stream:?} was sent from more than one part ({first} and {second}); a stream is sent from one place only")]
    SentTwice {
        /// The stream.
        stream: String,
        /// The first part that sent it (its index).
        first: usize,
        /// The second.
        second: usize,
    },
    /// A stream's frames were counted in more than one part.
    #[error("stream {stream:?} was counted in more than one part ({first} and {second}); its sequence accounting (gaps, late frames) cannot be merged, only its latency histogram")]
    CountedTwice {
        /// The stream.
        stream: String,
        /// The first part that counted it (its index).
        first: usize,
        /// The second.
        second: usize,
    },
    /// A serialized histogram uses other buckets than this counter's.
    #[error("latency histogram with sub_bucket_bits = {found}; this linerate's counter uses {LATENCY_SUB_BITS}: merge reports of the same linerate version")]
    BucketScheme {
        /// The sub_bucket_bits found.
        found: u32,
    },
    /// A serialized histogram names a bucket the counter does not have.
    #[error("latency histogram bucket {index} is out of range (the counter has {LATENCY_BUCKETS} buckets)")]
    BucketOutOfRange {
        /// The bucket index given.
        index: usize,
    },
}

/// Adds `part`'s latency histogram and extremes to `into`: buckets, count
/// and sum add; min and max are those of all frames measured in either.
pub fn merge_latency(into: &mut LatencyCounters, part: &LatencyCounters) {
    if part.count == 0 {
        return;
    }
    into.min_ns = if into.count == 0 {
        part.min_ns
    } else {
        into.min_ns.min(part.min_ns)
    };
    into.max_ns = into.max_ns.max(part.max_ns);
    into.count += part.count;
    into.sum_ns += part.sum_ns;
    if into.buckets.len() < part.buckets.len() {
        into.buckets.resize(part.buckets.len(), 0);
    }
    for (total, count) in into.buckets.iter_mut().zip(&part.buckets) {
        *total += count;
    }
}

/// Adds `part`'s receive state to `into`: counters add, latency as
/// [`merge_latency`], the highest sequence number is the higher, and jitter
/// is the mean of both weighted by the frames each measured (see the
/// module's doc for why jitter is the one estimate).
pub fn merge_stream_rx(into: &mut StreamRx, part: &StreamRx) {
    let (weight_into, weight_part) = (into.latency.count as f64, part.latency.count as f64);
    // A part alone keeps its jitter bit for bit (j·w/w is not always j in
    // floating point): a stream counted in one place keeps that place's.
    if weight_into == 0.0 {
        into.jitter_ns = part.jitter_ns;
    } else if weight_part > 0.0 {
        into.jitter_ns = (into.jitter_ns * weight_into + part.jitter_ns * weight_part)
            / (weight_into + weight_part);
    }
    into.frames += part.frames;
    into.bytes += part.bytes;
    into.duplicates += part.duplicates;
    into.late += part.late;
    into.gap_frames += part.gap_frames;
    into.next_expected = into.next_expected.max(part.next_expected);
    into.clock_behind += part.clock_behind;
    into.update_races += part.update_races;
    merge_latency(&mut into.latency, &part.latency);
}

/// Adds `part`'s counters (send side and receive side) to `into`.
pub fn merge_counts(into: &mut StreamCounts, part: &StreamCounts) {
    into.frames_sent += part.frames_sent;
    into.bytes_sent += part.bytes_sent;
    into.sequence_span += part.sequence_span;
    into.faults = FaultCounts {
        skipped: into.faults.skipped + part.faults.skipped,
        repeated: into.faults.repeated + part.faults.repeated,
        swapped: into.faults.swapped + part.faults.swapped,
    };
    merge_stream_rx(&mut into.rx, &part.rx);
}

/// The sum of serialized histograms (from several agents' report
/// documents): exact, as [`merge_latency`]; `None` when none measured
/// anything.
pub fn merge_histogram_sections<'a>(
    sections: impl IntoIterator<Item = &'a LatencyHistogramSection>,
) -> Result<Option<LatencyHistogramSection>, MergeError> {
    let mut total = LatencyCounters::default();
    for section in sections {
        merge_latency(&mut total, &section.to_counters()?);
    }
    Ok(LatencyHistogramSection::from_counters(&total))
}

/// A stream being merged: the result so far and which parts sent and
/// counted it.
struct MergingStream {
    result: StreamResult,
    sent_by: Option<usize>,
    counted_by: Option<usize>,
}

/// One run's results from several parts: each part's report holds the
/// streams it sent or counted (matched by name; a stream sent in one part
/// and counted in another is joined). Streams come in the order they first
/// appear, numbered from 0 in that order; rates are taken from the part that
/// sent (`tx_fps`) and the part that counted (`rx_fps`); latency is
/// summarised again from the merged histogram. Setups and workers are
/// listed part after part; the run took as long as its longest part; it was
/// interrupted (or stopped on request) if any part was; the pass criteria
/// are the first part's (every part runs the same scenario); the duplicate
/// window is the smallest.
pub fn merge_runs(parts: &[RunReport]) -> Result<RunReport, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let mut streams: Vec<MergingStream> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (part_index, part) in parts.iter().enumerate() {
        for stream in &part.streams {
            let slot = *index_of.entry(stream.name.clone()).or_insert_with(|| {
                streams.push(MergingStream {
                    result: StreamResult {
                        id: 0,
                        name: stream.name.clone(),
                        counts: StreamCounts::default(),
                        target_fps: stream.target_fps,
                        tx_fps: 0.0,
                        rx_fps: 0.0,
                        latency: None,
                        frames_planned: None,
                    },
                    sent_by: None,
                    counted_by: None,
                });
                streams.len() - 1
            });
            merge_stream_part(&mut streams[slot], part_index, stream)?;
        }
    }
    let interrupted = parts.iter().any(|part| part.interrupted);
    Ok(RunReport {
        source: merged_source(parts),
        setup: merged_setup(parts),
        send_duration: parts
            .iter()
            .map(|part| part.send_duration)
            .max()
            .unwrap_or_default(),
        streams: streams
            .into_iter()
            .enumerate()
            .map(|(index, mut stream)| {
                stream.result.id = u32::try_from(index).unwrap_or(u32::MAX);
                stream.result.latency = latency_summary(&stream.result.counts);
                stream.result
            })
            .collect(),
        workers: parts
            .iter()
            .flat_map(|part| part.workers.iter().cloned())
            .collect::<Vec<WorkerResult>>(),
        frames_unknown_stream: parts.iter().map(|part| part.frames_unknown_stream).sum(),
        interrupted,
        stopped_on_request: !interrupted && parts.iter().any(|part| part.stopped_on_request),
        pass: first.pass.clone(),
        duplicate_window: parts
            .iter()
            .map(|part| part.duplicate_window)
            .filter(|window| *window > 0)
            .min()
            .unwrap_or(0),
        endpoints: merged_endpoints(parts),
        first_frame_unix_ns: parts
            .iter()
            .filter_map(|part| part.first_frame_unix_ns)
            .min(),
        stations: parts
            .iter()
            .flat_map(|part| part.stations.iter().cloned())
            .collect(),
    })
}

/// Every part's endpoints side by side: each endpoint runs on one agent,
/// so nothing is added up; the run lasted as long as the longest part.
fn merged_endpoints(parts: &[RunReport]) -> Option<linerate_endpoints::EndpointsReport> {
    let mut merged: Option<linerate_endpoints::EndpointsReport> = None;
    for part in parts.iter().filter_map(|part| part.endpoints.as_ref()) {
        let whole = merged.get_or_insert_with(Default::default);
        whole.duration_s = whole.duration_s.max(part.duration_s);
        whole.tcp.extend(part.tcp.iter().cloned());
        whole.url.extend(part.url.iter().cloned());
        whole.ping.extend(part.ping.iter().cloned());
        whole.file_io.extend(part.file_io.iter().cloned());
    }
    merged
}

/// Adds one part's result for a stream, refusing a second sender or a
/// second counter.
fn merge_stream_part(
    stream: &mut MergingStream,
    part_index: usize,
    part: &StreamResult,
) -> Result<(), MergeError> {
    let sends = part.counts.frames_sent > 0;
    let counts = part.counts.rx.frames > 0;
    if sends {
        if let Some(first) = stream.sent_by.filter(|first| *first != part_index) {
            return Err(MergeError::SentTwice {
                stream: part.name.clone(),
                first,
                second: part_index,
            });
        }
        stream.sent_by = Some(part_index);
        stream.result.tx_fps = part.tx_fps;
        stream.result.frames_planned = part.frames_planned;
    }
    if counts {
        if let Some(first) = stream.counted_by.filter(|first| *first != part_index) {
            return Err(MergeError::CountedTwice {
                stream: part.name.clone(),
                first,
                second: part_index,
            });
        }
        stream.counted_by = Some(part_index);
        stream.result.rx_fps = part.rx_fps;
    }
    merge_counts(&mut stream.result.counts, &part.counts);
    Ok(())
}

/// The parts' sources: the one source if they agree, else all of them.
fn merged_source(parts: &[RunReport]) -> String {
    let mut sources: Vec<&str> = Vec::new();
    for part in parts {
        if !sources.contains(&part.source.as_str()) {
            sources.push(&part.source);
        }
    }
    sources.join(" + ")
}

/// Every part's senders, counters, reflectors and router MACs, part after part.
fn merged_setup(parts: &[RunReport]) -> RunSetup {
    RunSetup {
        tx_ports: parts
            .iter()
            .flat_map(|part| part.setup.tx_ports.iter().cloned())
            .collect(),
        rx_ports: parts
            .iter()
            .flat_map(|part| part.setup.rx_ports.iter().cloned())
            .collect(),
        reflect_ports: parts
            .iter()
            .flat_map(|part| part.setup.reflect_ports.iter().cloned())
            .collect(),
        router_macs: parts
            .iter()
            .flat_map(|part| part.setup.router_macs.iter().cloned())
            .collect(),
    }
}

/// Merges the interval series of several parts of one run (each part's
/// series in order, every part started at one instant with one interval
/// length) into one series, by index. Interval i's streams are matched by
/// name: totals so far, rates, lost, duplicates and late add (a stream is
/// sent in one part and counted in one, the others report zeros); its
/// latency is the part's that measured some (percentiles of one part are
/// never averaged with another's; a stream counted in one place has it
/// from that place alone). A part whose series is shorter (it ended
/// sooner) keeps its last totals in the later intervals, with no rates.
/// The merged series has as many intervals as the longest part; its last
/// is final.
pub fn merge_interval_series(parts: &[Vec<IntervalSection>]) -> Vec<IntervalSection> {
    let slices: Vec<&[IntervalSection]> = parts.iter().map(Vec::as_slice).collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .filter_map(|index| {
            let mut interval = merge_interval_at(&slices, index)?;
            interval.is_final = index + 1 == longest;
            Some(interval)
        })
        .collect()
}

/// Interval `index` of several parts' series merged as
/// [`merge_interval_series`] does (a part whose series is shorter gives
/// its last totals, with no rates); `is_final` is left as the first part's.
/// `None` when no part has any interval.
pub fn merge_interval_at(parts: &[&[IntervalSection]], index: usize) -> Option<IntervalSection> {
    let mut interval: Option<IntervalSection> = None;
    for part in parts {
        let (section, current) = match part.get(index) {
            Some(section) => (section, true),
            None => match part.last() {
                Some(section) => (section, false),
                None => continue,
            },
        };
        match &mut interval {
            None => {
                let mut first = section.clone();
                if !current {
                    first.streams.iter_mut().for_each(carried_over);
                }
                interval = Some(first);
            }
            Some(into) => add_interval(into, section, current),
        }
    }
    interval
}

/// A stream's figures from a part that has ended: totals kept, no rates
/// and no latency in this interval.
fn carried_over(stream: &mut IntervalStream) {
    stream.tx_fps = 0.0;
    stream.rx_fps = 0.0;
    stream.tx_bps = 0.0;
    stream.rx_bps = 0.0;
    stream.latency_ns = None;
}

/// Adds one part's interval into the merged one (`current`: the part's own
/// interval at this index, not its last carried over).
fn add_interval(into: &mut IntervalSection, part: &IntervalSection, current: bool) {
    if current {
        into.elapsed_s = into.elapsed_s.max(part.elapsed_s);
        into.length_s = into.length_s.max(part.length_s);
    }
    into.resident_bytes += part.resident_bytes;
    // Each endpoint runs on one part: side by side, as in the report.
    if let Some(endpoints) = &part.endpoints {
        match &mut into.endpoints {
            None => into.endpoints = Some(endpoints.clone()),
            Some(whole) => {
                whole.elapsed_s = whole.elapsed_s.max(endpoints.elapsed_s);
                whole.tcp.extend(endpoints.tcp.iter().cloned());
                whole.url.extend(endpoints.url.iter().cloned());
                whole.ping.extend(endpoints.ping.iter().cloned());
                whole.file_io.extend(endpoints.file_io.iter().cloned());
            }
        }
    }
    for stream in &part.streams {
        let mut stream = stream.clone();
        if !current {
            carried_over(&mut stream);
        }
        match into
            .streams
            .iter_mut()
            .find(|known| known.name == stream.name)
        {
            None => into.streams.push(stream),
            Some(known) => {
                known.tx_frames += stream.tx_frames;
                known.rx_frames += stream.rx_frames;
                known.tx_fps += stream.tx_fps;
                known.rx_fps += stream.rx_fps;
                known.tx_bps += stream.tx_bps;
                known.rx_bps += stream.rx_bps;
                known.lost_so_far += stream.lost_so_far;
                known.duplicates += stream.duplicates;
                known.late += stream.late;
                if known.latency_ns.is_none() {
                    known.latency_ns = stream.latency_ns;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linerate_bpf::abi::latency_bucket;

    fn latency_of(values: &[u64]) -> LatencyCounters {
        let mut latency = LatencyCounters::default();
        for &value in values {
            let bucket = latency_bucket(value);
            if latency.buckets.len() <= bucket {
                latency.buckets.resize(bucket + 1, 0);
            }
            latency.buckets[bucket] += 1;
            latency.min_ns = if latency.count == 0 {
                value
            } else {
                latency.min_ns.min(value)
            };
            latency.max_ns = latency.max_ns.max(value);
            latency.sum_ns += value;
            latency.count += 1;
        }
        latency
    }

    #[test]
    fn merged_latency_is_the_latency_of_all_values() {
        let values: Vec<u64> = (0..5000u64).map(|i| 300 + (i * 7919) % 250_000).collect();
        let (left, right) = values.split_at(1234);
        let mut merged = latency_of(left);
        merge_latency(&mut merged, &latency_of(right));
        assert_eq!(merged, latency_of(&values));
        // Merging an empty part changes nothing, into either side.
        let mut empty = LatencyCounters::default();
        merge_latency(&mut empty, &merged);
        assert_eq!(empty, merged);
        merge_latency(&mut merged, &LatencyCounters::default());
        assert_eq!(empty, merged);
    }

    #[test]
    fn serialized_histograms_merge_exactly_and_bad_ones_are_refused() {
        let left = latency_of(&[500, 1500, 70_000]);
        let right = latency_of(&[1500, 9_000_000]);
        let sections = [
            LatencyHistogramSection::from_counters(&left).expect("measured"),
            LatencyHistogramSection::from_counters(&right).expect("measured"),
        ];
        assert_eq!(sections[0].buckets.len(), 3, "only non-zero buckets");
        let merged = merge_histogram_sections(&sections)
            .expect("same scheme")
            .expect("measured");
        let whole = latency_of(&[500, 1500, 70_000, 1500, 9_000_000]);
        assert_eq!(merged.to_counters().expect("valid"), whole);
        assert_eq!(merge_histogram_sections(&[]), Ok(None));

        let mut other_scheme = sections[0].clone();
        other_scheme.sub_bucket_bits = 7;
        assert_eq!(
            other_scheme.to_counters(),
            Err(MergeError::BucketScheme { found: 7 })
        );
        let mut out_of_range = sections[0].clone();
        out_of_range.buckets.push([LATENCY_BUCKETS as u64, 1]);
        assert_eq!(
            out_of_range.to_counters(),
            Err(MergeError::BucketOutOfRange {
                index: LATENCY_BUCKETS
            })
        );
    }

    fn report(source: &str, streams: Vec<StreamResult>) -> RunReport {
        RunReport {
            source: source.to_string(),
            setup: RunSetup {
                tx_ports: Vec::new(),
                rx_ports: Vec::new(),
                reflect_ports: Vec::new(),
                router_macs: Vec::new(),
            },
            send_duration: std::time::Duration::from_secs(1),
            streams,
            workers: Vec::new(),
            frames_unknown_stream: 0,
            interrupted: false,
            stopped_on_request: false,
            pass: crate::scenario::PassCriteria::default(),
            duplicate_window: 4096,
            endpoints: None,
            first_frame_unix_ns: None,
            stations: Vec::new(),
        }
    }

    fn stream(name: &str, sent: u64, received: &[u64]) -> StreamResult {
        let counts = StreamCounts {
            frames_sent: sent,
            sequence_span: sent,
            rx: StreamRx {
                frames: received.len() as u64,
                next_expected: received.len() as u64,
                latency: latency_of(received),
                ..StreamRx::default()
            },
            ..StreamCounts::default()
        };
        StreamResult {
            id: 9,
            name: name.to_string(),
            latency: latency_summary(&counts),
            counts,
            target_fps: 1000.0,
            tx_fps: if sent > 0 { 1000.0 } else { 0.0 },
            rx_fps: received.len() as f64,
            frames_planned: None,
        }
    }

    #[test]
    fn a_stream_sent_on_one_agent_and_counted_on_another_is_joined() {
        // Agent 0 sends "x" and counts "y"; agent 1 sends "y" and counts "x".
        let agent0 = report(
            "s.toml",
            vec![stream("x", 3, &[]), stream("y", 0, &[10, 20])],
        );
        let agent1 = report(
            "s.toml",
            vec![stream("y", 2, &[]), stream("x", 0, &[5, 6, 7])],
        );
        let merged = merge_runs(&[agent0, agent1]).expect("one sender, one counter each");
        assert_eq!(merged.source, "s.toml");
        let names: Vec<(u32, &str)> = merged
            .streams
            .iter()
            .map(|stream| (stream.id, stream.name.as_str()))
            .collect();
        assert_eq!(names, vec![(0, "x"), (1, "y")]);
        let x = &merged.streams[0];
        assert_eq!((x.counts.frames_sent, x.counts.rx.frames), (3, 3));
        assert_eq!((x.tx_fps, x.rx_fps), (1000.0, 3.0));
        assert_eq!(x.frames_lost(), 0);
        assert_eq!(x.counts.rx.latency, latency_of(&[5, 6, 7]));
        assert_eq!(x.latency.map(|latency| latency.max_ns), Some(7));
        assert!(merged.passed(), "{:?}", merged.failures());
    }

    #[test]
    fn a_stream_counted_or_sent_twice_is_refused() {
        let counted = merge_runs(&[
            report("s.toml", vec![stream("x", 3, &[1])]),
            report("s.toml", vec![stream("x", 0, &[2, 3])]),
        ]);
        assert_eq!(
            counted.map(|_| ()),
            Err(MergeError::CountedTwice {
                stream: "x".into(),
                first: 0,
                second: 1
            })
        );
        let sent = merge_runs(&[
            report("s.toml", vec![stream("x", 3, &[])]),
            report("t.toml", vec![stream("x", 3, &[])]),
        ]);
        assert!(
            matches!(sent, Err(MergeError::SentTwice { .. })),
            "{sent:?}"
        );
        assert_eq!(merge_runs(&[]).map(|_| ()), Err(MergeError::Empty));
    }

    #[test]
    fn jitter_is_weighted_by_frames_measured() {
        let mut into = StreamRx {
            jitter_ns: 100.0,
            latency: latency_of(&[1000; 3]),
            ..StreamRx::default()
        };
        let part = StreamRx {
            jitter_ns: 500.0,
            latency: latency_of(&[2000]),
            ..StreamRx::default()
        };
        merge_stream_rx(&mut into, &part);
        assert_eq!(into.jitter_ns, 200.0);
        assert_eq!(into.latency.count, 4);
        assert_eq!((into.latency.min_ns, into.latency.max_ns), (1000, 2000));
    }

    #[test]
    fn a_part_alone_keeps_its_jitter_bit_for_bit() {
        // 248.84777580516104 × 10000 / 10000 is 248.84777580516106 in f64.
        let part = StreamRx {
            jitter_ns: 248.847_775_805_161_04,
            latency: latency_of(&[2423; 10_000]),
            ..StreamRx::default()
        };
        let mut into = StreamRx::default();
        merge_stream_rx(&mut into, &part);
        assert_eq!(into.jitter_ns.to_bits(), part.jitter_ns.to_bits());
        let nothing_measured = StreamRx::default();
        merge_stream_rx(&mut into, &nothing_measured);
        assert_eq!(into.jitter_ns.to_bits(), part.jitter_ns.to_bits());
    }

    fn interval_stream(name: &str, tx: u64, rx: u64, fps: f64) -> IntervalStream {
        IntervalStream {
            id: 0,
            name: name.to_string(),
            tx_frames: tx,
            rx_frames: rx,
            tx_fps: if tx > 0 { fps } else { 0.0 },
            rx_fps: if rx > 0 { fps } else { 0.0 },
            tx_bps: 0.0,
            rx_bps: 0.0,
            lost_so_far: 0,
            duplicates: 0,
            late: 0,
            latency_ns: None,
        }
    }

    fn interval(elapsed_s: f64, is_final: bool, streams: Vec<IntervalStream>) -> IntervalSection {
        IntervalSection {
            elapsed_s,
            length_s: 1.0,
            is_final,
            resident_bytes: 0,
            streams,
            endpoints: None,
        }
    }

    #[test]
    fn interval_series_merge_by_index_and_a_shorter_part_carries_its_totals() {
        // Part 0 sends "ab", part 1 counts it; part 1 reports one more
        // interval (it drained longer).
        let sender = vec![
            interval(1.0, false, vec![interval_stream("ab", 1000, 0, 1000.0)]),
            interval(2.0, true, vec![interval_stream("ab", 1500, 0, 500.0)]),
        ];
        let counter = vec![
            interval(1.0, false, vec![interval_stream("ab", 0, 990, 990.0)]),
            interval(2.0, false, vec![interval_stream("ab", 0, 1490, 500.0)]),
            interval(2.1, true, vec![interval_stream("ab", 0, 1500, 100.0)]),
        ];
        let merged = merge_interval_series(&[sender, counter]);
        assert_eq!(merged.len(), 3);
        let totals: Vec<(u64, u64)> = merged
            .iter()
            .map(|interval| (interval.streams[0].tx_frames, interval.streams[0].rx_frames))
            .collect();
        assert_eq!(totals, vec![(1000, 990), (1500, 1490), (1500, 1500)]);
        assert_eq!(merged[0].streams[0].tx_fps, 1000.0);
        assert_eq!(merged[0].streams[0].rx_fps, 990.0);
        // The sender ended: no sending rate in the third interval.
        assert_eq!(merged[2].streams[0].tx_fps, 0.0);
        assert_eq!(merged[2].streams[0].rx_fps, 100.0);
        assert_eq!(
            merged
                .iter()
                .map(|interval| interval.is_final)
                .collect::<Vec<_>>(),
            vec![false, false, true]
        );
        assert_eq!(merged[2].elapsed_s, 2.1);
        assert!(merge_interval_series(&[]).is_empty());
    }
}
