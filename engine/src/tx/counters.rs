//! A run's transmit counters and stream switches, shared between the
//! senders and the threads that read them: each counter on its own cache
//! line with one writer (a stream's by the sender that owns it, a sender's
//! by that sender), each switch written by a controller and read by the
//! sender once per release; and what a sender reports when it has finished.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

use crate::sequence::FaultCounts;

/// A stream's transmit counters: written by its one sender, read by anyone.
#[derive(Debug, Default)]
pub struct StreamTxCounters {
    /// Frames placed on the TX ring.
    pub frames_sent: AtomicU64,
    /// Their bytes (no FCS).
    pub bytes_sent: AtomicU64,
    /// Sequence numbers handed out or jumped over.
    pub sequence_span: AtomicU64,
    /// Sequence numbers skipped on purpose (fault mode).
    pub faults_skipped: AtomicU64,
    /// Frames that repeated the previous number on purpose.
    pub faults_repeated: AtomicU64,
    /// Pairs sent swapped on purpose.
    pub faults_swapped: AtomicU64,
}

impl StreamTxCounters {
    /// The faults injected so far.
    pub fn faults(&self) -> FaultCounts {
        FaultCounts {
            skipped: self.faults_skipped.load(Ordering::Relaxed),
            repeated: self.faults_repeated.load(Ordering::Relaxed),
            swapped: self.faults_swapped.load(Ordering::Relaxed),
        }
    }
}

/// A sender's own counters: written by its thread, read by anyone.
#[derive(Debug, Default)]
pub struct WorkerTxCounters {
    /// Frames the kernel reported complete.
    pub completions: AtomicU64,
    /// Times frames were due but the TX ring or a pool had no room.
    pub ring_full_events: AtomicU64,
    /// Wakeups (sendto calls) made.
    pub wakeups: AtomicU64,
}

/// A run's transmit counters, each on its own cache line, each with one
/// writer: a stream's by the worker that owns the stream, a worker's by
/// that worker. Readers sum them without locks.
#[derive(Debug)]
pub struct TxCounters {
    /// Indexed by stream id.
    pub streams: Vec<CachePadded<StreamTxCounters>>,
    /// Indexed by worker.
    pub workers: Vec<CachePadded<WorkerTxCounters>>,
}

impl TxCounters {
    /// Counters for a run of `stream_count` streams sent by `worker_count` workers.
    pub fn new(stream_count: usize, worker_count: usize) -> TxCounters {
        TxCounters {
            streams: (0..stream_count)
                .map(|_| CachePadded::new(StreamTxCounters::default()))
                .collect(),
            workers: (0..worker_count)
                .map(|_| CachePadded::new(WorkerTxCounters::default()))
                .collect(),
        }
    }
}

/// Per-stream switches a controller flips while a run goes (LANforge's
/// stop_cx / start_cx on one cross-connect): a sender reads a stream's
/// switch when the stream falls due, and a paused stream's every
/// millisecond, never per frame.
#[derive(Debug)]
pub struct StreamSwitches {
    /// Indexed by stream id: true while the stream is paused.
    paused: Vec<CachePadded<AtomicBool>>,
}

impl StreamSwitches {
    /// Switches for `stream_count` streams, all running.
    pub fn new(stream_count: usize) -> StreamSwitches {
        StreamSwitches {
            paused: (0..stream_count)
                .map(|_| CachePadded::new(AtomicBool::new(false)))
                .collect(),
        }
    }

    /// Pauses (true) or resumes (false) a stream; false for an unknown id.
    pub fn set_paused(&self, stream_id: u32, paused: bool) -> bool {
        match self.paused.get(stream_id as usize) {
            Some(flag) => {
                flag.store(paused, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// True while the stream is paused.
    #[inline]
    pub fn is_paused(&self, stream_id: u32) -> bool {
        self.paused
            .get(stream_id as usize)
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

/// When a stream sent, as its sender saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSendTimes {
    /// The stream id.
    pub stream_id: u32,
    /// CLOCK_MONOTONIC of its last frame produced.
    pub last_frame_ns: u64,
    /// Time it spent paused by a controller.
    pub paused_ns: u64,
    /// How long after the common start its schedule started.
    pub start_offset_ns: u64,
}

/// What a sender did, once it has finished.
#[derive(Debug, Clone, Default)]
pub struct TxSummary {
    /// CLOCK_MONOTONIC of the first frame produced, if any.
    pub first_frame_ns: Option<u64>,
    /// CLOCK_MONOTONIC of the last frame produced, if any.
    pub last_frame_ns: Option<u64>,
    /// Per stream that sent: when it last sent and how long it was paused.
    pub stream_times: Vec<StreamSendTimes>,
    /// Frames produced but never completed by the kernel.
    pub frames_uncompleted: u64,
    /// True when it stopped early because it was told to.
    pub stopped_early: bool,
}
