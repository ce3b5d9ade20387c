//! The Rust mirror of `linerate_abi.h`: the payload header layout the
//! sender writes and the counter values the XDP program keeps. Keep the two
//! files in step; the BPF_PROG_TEST_RUN tests catch a mismatch.

/// The magic value at the start of every linerate payload header ("LNRT").
pub const PAYLOAD_MAGIC: u32 = 0x4C4E_5254;

/// Length of the payload header in bytes.
pub const PAYLOAD_HEADER_LEN: usize = 18;

/// Byte offsets of the payload header's fields (all big-endian).
pub mod payload_field {
    use std::ops::Range;
    /// `magic`: u32.
    pub const MAGIC: Range<usize> = 0..4;
    /// `stream_id`: u16.
    pub const STREAM_ID: Range<usize> = 4..6;
    /// `sequence`: u32.
    pub const SEQUENCE: Range<usize> = 6..10;
    /// `tx_timestamp_ns`: u64, CLOCK_MONOTONIC at the sender.
    pub const TX_TIMESTAMP: Range<usize> = 10..18;
}

fn u64_at(bytes: &[u8], index: usize) -> u64 {
    let start = index * 8;
    bytes
        .get(start..start + 8)
        .and_then(|slice| <[u8; 8]>::try_from(slice).ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// One stream's receive counters (`struct lr_stream_counters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Frames received and recognised as this stream's.
    pub frames: u64,
    /// Their bytes, Ethernet header to end of payload (no FCS).
    pub bytes: u64,
}

impl StreamCounters {
    /// Decodes one CPU's value as the kernel stores it (native endian).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        StreamCounters {
            frames: u64_at(bytes, 0),
            bytes: u64_at(bytes, 1),
        }
    }

    /// The sum of two CPUs' counters.
    pub fn merged(&self, other: &StreamCounters) -> StreamCounters {
        StreamCounters {
            frames: self.frames + other.frames,
            bytes: self.bytes + other.bytes,
        }
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
