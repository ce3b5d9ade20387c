//! The Rust mirror of `linerate_abi.h`: the payload header layout the
//! sender writes, the latency buckets and the per-stream receive state the
//! XDP program keeps. Keep the two
//! files in step; the BPF_PROG_TEST_RUN tests catch a mismatch.

/// The magic value in the first three bytes of every linerate payload
/// header ("LNR").
pub const PAYLOAD_MAGIC: u32 = 0x4C_4E52;

/// Stream ids are 24 bits on the wire: at most this many streams a run.
pub const MAX_STREAMS: u32 = 1 << 24;

/// Length of the payload header in bytes.
pub const PAYLOAD_HEADER_LEN: usize = 18;

/// Byte offsets of the payload header's fields (all big-endian).
pub mod payload_field {
    use std::ops::Range;
    /// `magic`: 24 bits, "LNR".
    pub const MAGIC: Range<usize> = 0..3;
    /// `stream_id`: 24 bits.
    pub const STREAM_ID: Range<usize> = 3..6;
    /// `sequence`: u32.
    pub const SEQUENCE: Range<usize> = 6..10;
    /// `tx_timestamp_ns`: u64, CLOCK_MONOTONIC at the sender.
    pub const TX_TIMESTAMP: Range<usize> = 10..18;
}

/// Histogram resolution: each power of two of nanoseconds is split into
/// `1 << LATENCY_SUB_BITS` buckets (`LR_LATENCY_SUB_BITS`).
pub const LATENCY_SUB_BITS: u32 = 5;
/// Buckets per power of two (`LR_LATENCY_SUB`).
pub const LATENCY_SUB: u64 = 1 << LATENCY_SUB_BITS;
/// Latency histogram buckets per stream (`LR_LATENCY_BUCKETS`).
pub const LATENCY_BUCKETS: usize = (LATENCY_SUB as usize) * 40;

/// The bucket the XDP program files a latency of `latency_ns` under
/// (`latency_bucket()` in the C program).
pub fn latency_bucket(latency_ns: u64) -> usize {
    if latency_ns < LATENCY_SUB {
        return latency_ns as usize;
    }
    let shift = 63 - latency_ns.leading_zeros() - LATENCY_SUB_BITS;
    let bucket = (shift as usize + 1) * LATENCY_SUB as usize
        + ((latency_ns >> shift) & (LATENCY_SUB - 1)) as usize;
    bucket.min(LATENCY_BUCKETS - 1)
}

/// The smallest and largest latency, in ns, that `bucket` holds.
pub fn latency_bucket_bounds(bucket: usize) -> (u64, u64) {
    let sub = LATENCY_SUB as usize;
    if bucket < sub {
        return (bucket as u64, bucket as u64);
    }
    let shift = (bucket / sub - 1) as u32;
    let low = (LATENCY_SUB + (bucket % sub) as u64) << shift;
    (low, low + (1u64 << shift) - 1)
}

/// Offsets of `struct lr_stream_rx`'s fields, in u64 words.
mod stream_rx_word {
    pub const FRAMES: usize = 0;
    pub const BYTES: usize = 1;
    pub const DUPLICATES: usize = 2;
    pub const LATE: usize = 3;
    pub const GAP_FRAMES: usize = 4;
    pub const LATENCY_COUNT: usize = 5;
    pub const LATENCY_SUM: usize = 6;
    pub const LATENCY_MIN: usize = 7;
    pub const LATENCY_MAX: usize = 8;
    pub const CLOCK_BEHIND: usize = 9;
    pub const JITTER_X16: usize = 10;
    pub const JITTER_SAMPLES: usize = 11;
    /// `last_transit_ns` is word 12; the reader has no use for it.
    pub const LAST_TRANSIT: usize = 12;
}

/// Size in bytes of `struct lr_stream_rx`.
pub const STREAM_RX_SIZE: usize = (stream_rx_word::LAST_TRANSIT + 1) * 8;

/// Size in bytes of `struct lr_stream_sequence`: next_expected,
/// update_races, clock.
pub const STREAM_SEQUENCE_SIZE: usize = 3 * 8;

/// `lr_stream_sequence.clock`: the sender stamps CLOCK_MONOTONIC and the
/// counter reads `bpf_ktime_get_ns()` (a stream sent and counted on one host).
pub const CLOCK_MONOTONIC: u64 = 0;
/// `lr_stream_sequence.clock`: the sender stamps CLOCK_TAI and the counter
/// reads `bpf_ktime_get_tai_ns()` (a stream sent by another agent).
pub const CLOCK_TAI: u64 = 1;

/// Size in bytes of `struct lr_latency_histogram` (one stream, one CPU).
pub const LATENCY_HISTOGRAM_SIZE: usize = LATENCY_BUCKETS * 8;

fn u64_at(bytes: &[u8], index: usize) -> u64 {
    let start = index * 8;
    bytes
        .get(start..start + 8)
        .and_then(|slice| <[u8; 8]>::try_from(slice).ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// Latency as the receive counter measured it: the stream's clock at the
/// XDP hook minus the sender's timestamp: CLOCK_MONOTONIC within one host,
/// CLOCK_TAI for a stream sent by another agent, which is only as good as
/// the two hosts' clock synchronization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyCounters {
    /// Frames measured.
    pub count: u64,
    /// Sum of their latencies.
    pub sum_ns: u64,
    /// Smallest latency (0 when none).
    pub min_ns: u64,
    /// Largest latency.
    pub max_ns: u64,
    /// Frames per histogram bucket ([`latency_bucket_bounds`] gives each
    /// bucket's range), up to the last bucket any frame fell in (at most
    /// [`LATENCY_BUCKETS`] long): empty when no histogram was kept.
    pub buckets: Vec<u64>,
}

/// One stream's receive state, summed over every CPU (`struct
/// lr_stream_rx` and `struct lr_stream_sequence`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamRx {
    /// Frames received and recognised as this stream's, duplicates too.
    pub frames: u64,
    /// Their bytes, Ethernet header to end of payload (no FCS).
    pub bytes: u64,
    /// Frames whose sequence number had already arrived.
    pub duplicates: u64,
    /// First arrivals below the highest sequence number seen: each fills a
    /// gap counted earlier (reordering).
    pub late: u64,
    /// Sequence numbers jumped over as the highest rose.
    pub gap_frames: u64,
    /// The highest sequence number seen, extended to 64 bits, plus one
    /// (0 before the first frame).
    pub next_expected: u64,
    /// Frames whose TX timestamp was after the receive time (the clocks are
    /// not shared): they have no latency.
    pub clock_behind: u64,
    /// Latency histogram and extremes.
    pub latency: LatencyCounters,
    /// RFC 3550 interarrival jitter in ns: each CPU's estimate over its own
    /// arrivals, weighted by how many it made (one CPU: exactly RFC 3550).
    pub jitter_ns: f64,
    /// Highest-sequence updates that lost the race too often (counted late).
    pub update_races: u64,
}

impl StreamRx {
    /// Adds one CPU's `struct lr_stream_rx` as the kernel stores it (native
    /// endian). Jitter is summed weighted; [`StreamRx::finish_jitter`]
    /// divides.
    pub fn add_cpu(&mut self, bytes: &[u8], jitter_weight: &mut (f64, u64)) {
        use stream_rx_word as word;
        self.frames += u64_at(bytes, word::FRAMES);
        self.bytes += u64_at(bytes, word::BYTES);
        self.duplicates += u64_at(bytes, word::DUPLICATES);
        self.late += u64_at(bytes, word::LATE);
        self.gap_frames += u64_at(bytes, word::GAP_FRAMES);
        self.clock_behind += u64_at(bytes, word::CLOCK_BEHIND);
        let count = u64_at(bytes, word::LATENCY_COUNT);
        if count > 0 {
            let min = u64_at(bytes, word::LATENCY_MIN);
            self.latency.min_ns = if self.latency.count == 0 {
                min
            } else {
                self.latency.min_ns.min(min)
            };
            self.latency.max_ns = self.latency.max_ns.max(u64_at(bytes, word::LATENCY_MAX));
            self.latency.count += count;
            self.latency.sum_ns += u64_at(bytes, word::LATENCY_SUM);
        }
        let samples = u64_at(bytes, word::JITTER_SAMPLES);
        if samples > 0 {
            jitter_weight.0 += u64_at(bytes, word::JITTER_X16) as f64 / 16.0 * samples as f64;
            jitter_weight.1 += samples;
        }
    }

    /// Adds one CPU's `struct lr_latency_histogram`, up to the bucket of
    /// the largest latency seen: add every CPU's counters
    /// ([`StreamRx::add_cpu`]) first. Nothing when no latency was measured.
    pub fn add_cpu_histogram(&mut self, bytes: &[u8]) {
        if self.latency.count == 0 {
            return;
        }
        let used = latency_bucket(self.latency.max_ns) + 1;
        let words = bytes.get(..used * 8).unwrap_or(bytes);
        if self.latency.buckets.len() < used {
            self.latency.buckets.resize(used, 0);
        }
        for (total, word) in self.latency.buckets.iter_mut().zip(words.chunks_exact(8)) {
            if let Ok(word) = <[u8; 8]>::try_from(word) {
                *total += u64::from_ne_bytes(word);
            }
        }
    }

    /// Sets [`StreamRx::jitter_ns`] from the weighted sum [`StreamRx::add_cpu`] kept.
    pub fn finish_jitter(&mut self, jitter_weight: (f64, u64)) {
        self.jitter_ns = if jitter_weight.1 == 0 {
            0.0
        } else {
            jitter_weight.0 / jitter_weight.1 as f64
        };
    }

    /// Distinct sequence numbers received: frames less duplicates.
    pub fn unique_frames(&self) -> u64 {
        self.frames.saturating_sub(self.duplicates)
    }
}

/// What the program saw but did not count under a stream (`struct lr_rx_totals`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxTotals {
    /// Frames with the magic but a stream id the map does not hold.
    pub frames_unknown_stream: u64,
    /// Frames that were not linerate's, passed to the stack.
    pub frames_passed: u64,
}

impl RxTotals {
    /// Decodes one CPU's value as the kernel stores it (native endian).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        RxTotals {
            frames_unknown_stream: u64_at(bytes, 0),
            frames_passed: u64_at(bytes, 1),
        }
    }

    /// The sum of two CPUs' totals.
    pub fn merged(&self, other: &RxTotals) -> RxTotals {
        RxTotals {
            frames_unknown_stream: self.frames_unknown_stream + other.frames_unknown_stream,
            frames_passed: self.frames_passed + other.frames_passed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_falls_inside_its_buckets_bounds() {
        let mut value = 0u64;
        while value < 1 << 44 {
            let bucket = latency_bucket(value);
            let (low, high) = latency_bucket_bounds(bucket);
            assert!(
                low <= value && value <= high,
                "{value} in bucket {bucket} [{low}, {high}]"
            );
            assert!(
                high - low <= low / 32,
                "bucket {bucket} is at most 1/32 wide"
            );
            value = value * 17 / 16 + 1;
        }
    }

    #[test]
    fn buckets_are_contiguous() {
        for bucket in 1..LATENCY_BUCKETS {
            let (_, previous_high) = latency_bucket_bounds(bucket - 1);
            let (low, _) = latency_bucket_bounds(bucket);
            assert_eq!(low, previous_high + 1, "bucket {bucket}");
        }
    }
}
