//! The AF_XDP sender for one (interface, queue): one UMEM pool of slots
//! shared by every stream of the sender, sized from their total rate (so
//! memory grows with frames in flight, not with the number of streams); a
//! slot gets a stream's template when it next carries a frame of another
//! stream than the last, and otherwise the stream's generator writes only
//! what changes (swept fields, lengths, sequence, timestamp, checksums).
//! Streams wait in a heap of next-due times, so a release touches only the
//! streams that are due; paused streams are looked at every millisecond.
//! A slot is one 4 KiB chunk, or several consecutive chunks for jumbo
//! frames, sent as a multi-buffer descriptor chain. Frames go out in
//! batches, completions come back in batches, and the socket is woken only
//! when the kernel asks. Zero-copy is requested first and copy mode is the
//! fallback.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xsk_rs::{CompQueue, FrameDesc, TxQueue, Umem};

use crate::clock::monotonic_ns;
use crate::frame::FrameGenerator;
use crate::pacer::{Pacer, Schedule};
use crate::schedule::DueQueue;
use crate::sequence::{SequenceFault, SequenceSource};
use crate::types::Rate;
pub use crate::types::{BusyPoll, XskMode, XskModeRequest};

mod counters;
mod socket;

pub use counters::{
    StreamSendTimes, StreamSwitches, StreamTxCounters, TxCounters, TxSummary, WorkerTxCounters,
};
use socket::{open_socket, set_busy_poll};

/// UMEM chunk size: one page, the largest aligned chunk AF_XDP accepts.
pub const UMEM_FRAME_SIZE: u32 = 4096;
/// Frame bytes one chunk holds: xsk-rs reserves the XDP headroom (256
/// bytes) at the start of every chunk.
pub const CHUNK_DATA_LEN: usize = (UMEM_FRAME_SIZE - XDP_PACKET_HEADROOM) as usize;
/// The kernel's XDP_PACKET_HEADROOM, which xsk-rs leaves free in each chunk.
const XDP_PACKET_HEADROOM: u32 = 256;
/// Descriptor option: more buffers of this frame follow (XDP_PKT_CONTD).
const XDP_PKT_CONTD: u32 = 1;
/// TX and completion ring size.
pub const RING_SIZE: u32 = 2048;
/// Slots a worker's pool has at least. The pool also bounds the frames in
/// flight, and so the burst a sender that fell behind catches up with: a
/// larger floor made a routed lab's backlog drop frames.
pub const MIN_POOL_SLOTS: u32 = 64;
/// Slots a worker's pool has at most: two TX rings' worth, more than can
/// ever be in flight.
pub const MAX_POOL_SLOTS: u32 = 2 * RING_SIZE;
/// How much of a worker's traffic its pool holds: its total rate times this.
pub const POOL_TIME: Duration = Duration::from_millis(4);
/// How often a paused stream's switch is looked at again.
pub const PAUSED_CHECK_INTERVAL: Duration = Duration::from_millis(1);
/// How long after its end a paced stream that fell behind may still send
/// the frames that fell due before its end; past this it is cut short (and
/// the verdict says it sent fewer frames than planned).
pub const LATE_LIMIT: Duration = Duration::from_secs(5);
/// `slot_stream` value of a slot that holds no stream's template yet.
const NO_STREAM: u32 = u32::MAX;

/// The slots a worker whose streams have these rates needs: POOL_TIME of
/// their total traffic, bounded. Memory grows with frames in flight, not
/// with the number of streams.
pub fn pool_slots(rates: impl IntoIterator<Item = Rate>) -> u32 {
    let frames_per_second: f64 = rates.into_iter().map(|rate| rate.frames_per_second()).sum();
    let frames = frames_per_second * POOL_TIME.as_secs_f64();
    if frames.is_finite() {
        (frames.ceil() as u32).clamp(MIN_POOL_SLOTS, MAX_POOL_SLOTS)
    } else {
        MAX_POOL_SLOTS
    }
}

/// Default frames per batch (one produce, one wakeup).
pub const DEFAULT_BATCH: u32 = 64;
/// Default release interval: due frames go out together at most this often.
pub const DEFAULT_RELEASE_INTERVAL: Duration = Duration::from_micros(20);
/// How long the sender waits for the kernel to complete what it produced.
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(2);

/// Errors opening or running the sender.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The UMEM could not be created.
    #[error("cannot create the AF_XDP UMEM: {0} (check `ulimit -l` or run as root)")]
    Umem(String),
    /// The socket could not be created or bound.
    #[error("cannot open an AF_XDP socket on {interface} queue {queue}: {reason}")]
    Socket {
        /// The interface.
        interface: String,
        /// The queue.
        queue: u32,
        /// What failed, for every mode tried.
        reason: String,
    },
    /// Frames span several chunks, and the kernel has no multi-buffer
    /// AF_XDP (`XDP_USE_SG`, Linux 6.6): the same socket binds without it.
    #[error(
        "cannot send frames over {CHUNK_DATA_LEN} bytes on {interface} queue {queue}: they need multi-buffer AF_XDP \
         (XDP_USE_SG, Linux 6.6 or later), which this kernel ({kernel}) refuses; use frames of at most \
         {CHUNK_DATA_LEN} bytes, or a newer kernel"
    )]
    NoMultiBuffer {
        /// The interface.
        interface: String,
        /// The queue.
        queue: u32,
        /// The running kernel's release.
        kernel: String,
    },
    /// A frame could not be written into the UMEM.
    #[error("cannot write a frame into the UMEM: {0}")]
    Template(String),
    /// The TX ring refused frames it had room for (a linerate bug).
    #[error("the TX ring refused {refused} frames it reported room for")]
    RingAccounting {
        /// Frames not accepted.
        refused: usize,
    },
}

/// One stream as its sender sees it.
#[derive(Debug, Clone)]
pub struct TxStreamSetup {
    /// The stream id (index into the counters the run keeps).
    pub stream_id: u32,
    /// Makes the stream's frames.
    pub generator: FrameGenerator,
    /// The stream's rate.
    pub rate: Rate,
    /// Continuous or bursts, start delay and stop time.
    pub schedule: Schedule,
    /// How many frames to send in all.
    pub frames_to_send: u64,
    /// Sequence faults to inject on purpose.
    pub fault: Option<SequenceFault>,
    /// How long after the common start the stream's schedule starts (phase
    /// spreading; see [`crate::schedule::phase_offset_ns`]).
    pub start_offset_ns: u64,
    /// Stamp frames with CLOCK_TAI instead of CLOCK_MONOTONIC: the stream
    /// is counted on another agent (host), whose counter reads CLOCK_TAI.
    pub tai_clock: bool,
}

struct StreamState {
    stream_id: u32,
    generator: FrameGenerator,
    bytes_sent: u64,
    pacer: Pacer,
    sequence: SequenceSource,
    /// True for rate max: the stream ends when the run's time is up.
    unbounded: bool,
    /// How late the stream starts, to spread streams over their period.
    start_offset_ns: u64,
    /// Frames that fall due after this time are not sent (runs that last a
    /// duration); set when the run starts.
    cutoff_ns: Option<u64>,
    /// CLOCK_MONOTONIC of the last frame produced, 0 before the first.
    last_frame_ns: u64,
    /// Since when the stream is paused, if it is.
    paused_since_ns: Option<u64>,
    /// Time spent paused before `paused_since_ns`.
    paused_ns: u64,
    /// Frames carry CLOCK_TAI, not CLOCK_MONOTONIC (counted on another host).
    tai_clock: bool,
}

impl StreamState {
    /// Follows the stream's switch at `now_ns`: records a pause, or resumes
    /// the schedule from now after one. True while the stream is paused.
    #[inline]
    fn follow_switch(&mut self, switches: &StreamSwitches, now_ns: u64) -> bool {
        let paused = switches.is_paused(self.stream_id);
        match (paused, self.paused_since_ns) {
            (true, None) => {
                self.paused_since_ns = Some(now_ns);
                true
            }
            (true, Some(_)) => true,
            (false, Some(since)) => {
                self.paused_ns += now_ns.saturating_sub(since);
                self.paused_since_ns = None;
                self.pacer.resume_at(now_ns);
                false
            }
            (false, None) => false,
        }
    }

    /// Ends a paced stream whose next frame falls due after its cutoff, or
    /// that is still sending LATE_LIMIT after it; true when it has ended.
    #[inline]
    fn end_if_cut(&mut self, next_due_ns: u64, now_ns: u64) -> bool {
        if let Some(cutoff) = self.cutoff_ns {
            let late_limit = cutoff.saturating_add(LATE_LIMIT.as_nanos() as u64);
            if next_due_ns > cutoff || now_ns > late_limit {
                self.pacer.finish();
            }
        }
        self.pacer.is_done()
    }

    /// Publishes the stream's counters (once per release it sent in).
    #[inline]
    fn publish(&self, counters: &StreamTxCounters) {
        counters
            .frames_sent
            .store(self.pacer.frames_released(), Ordering::Relaxed);
        counters
            .bytes_sent
            .store(self.bytes_sent, Ordering::Relaxed);
        counters
            .sequence_span
            .store(self.sequence.span(), Ordering::Relaxed);
        if self.sequence.has_fault() {
            let faults = self.sequence.fault_counts();
            counters
                .faults_skipped
                .store(faults.skipped, Ordering::Relaxed);
            counters
                .faults_repeated
                .store(faults.repeated, Ordering::Relaxed);
            counters
                .faults_swapped
                .store(faults.swapped, Ordering::Relaxed);
        }
    }
}

/// What one release put in the batch.
#[derive(Debug, Default)]
struct Release {
    /// Descriptors in the batch (more than frames for jumbo frames).
    batch_len: usize,
    /// Frames in the batch.
    frames: usize,
    /// Frames were due that the ring or the pool had no room for.
    starved: bool,
    /// The batch is full: more may be due at once.
    full: bool,
}

/// An open AF_XDP sender, ready to run.
pub struct TxWorker {
    umem: Umem,
    tx_queue: TxQueue,
    completion_queue: CompQueue,
    mode: XskMode,
    streams: Vec<StreamState>,
    /// Streams by when they next fall due (paused and ended ones are not in it).
    due: DueQueue,
    /// Paused streams (indices into `streams`), looked at every
    /// PAUSED_CHECK_INTERVAL rather than per release.
    paused: Vec<u32>,
    /// Free slots of the shared pool, by slot index; capacity is the pool
    /// size, so returning slots never allocates.
    free_slots: Vec<u32>,
    /// The stream (index into `streams`) whose template each slot holds.
    slot_stream: Vec<u32>,
    /// UMEM chunks per slot: 1, or more for jumbo frames.
    chunks_per_slot: u32,
    /// Every chunk's descriptor, by chunk index.
    chunk_descs: Vec<FrameDesc>,
    /// Chunks of each slot still with the kernel; the slot is free at 0.
    chunks_in_flight: Vec<u8>,
    batch: Vec<FrameDesc>,
    completed: Vec<FrameDesc>,
    batch_limit: u32,
    /// Some stream stamps CLOCK_TAI: read it once per release.
    any_tai_clock: bool,
}

impl std::fmt::Debug for TxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxWorker")
            .field("mode", &self.mode)
            .field("streams", &self.streams.len())
            .field("slots", &self.slot_stream.len())
            .finish()
    }
}

impl TxWorker {
    /// Opens an AF_XDP socket on `interface` queue `queue` (in the calling
    /// thread's network namespace) with one pool of slots shared by every
    /// stream, sized from their total rate. A slot gets a stream's template
    /// when it next carries a frame of a stream other than the last one it
    /// carried. `batch_limit` bounds the frames per produce.
    pub fn open(
        interface: &str,
        queue: u32,
        mode: XskModeRequest,
        streams: Vec<TxStreamSetup>,
        batch_limit: u32,
        busy_poll: Option<BusyPoll>,
    ) -> Result<TxWorker, TxError> {
        let slot_count = pool_slots(streams.iter().map(|setup| setup.rate));
        let largest = streams
            .iter()
            .map(|setup| setup.generator.max_frame_len())
            .max()
            .unwrap_or(0);
        let chunks_per_slot = (largest as u32).div_ceil(CHUNK_DATA_LEN as u32).max(1);
        let (umem, mut chunk_descs, tx_queue, completion_queue, mode) = open_socket(
            interface,
            queue,
            mode,
            slot_count * chunks_per_slot,
            chunks_per_slot > 1,
        )?;
        if let Some(busy) = busy_poll {
            set_busy_poll(&tx_queue, interface, queue, busy)?;
        }
        if let Some(desc) = chunk_descs.first_mut() {
            // SAFETY: nothing has been handed to the kernel yet.
            let capacity = unsafe { umem.data_mut(desc) }.cursor().buf_len();
            if capacity != CHUNK_DATA_LEN {
                return Err(TxError::Umem(format!(
                    "a UMEM chunk holds {capacity} bytes of frame, linerate expects {CHUNK_DATA_LEN}"
                )));
            }
        }
        let stream_count = streams.len();
        let states: Vec<StreamState> = streams
            .into_iter()
            .map(|setup| StreamState {
                stream_id: setup.stream_id,
                pacer: Pacer::new(
                    setup.rate,
                    setup.schedule,
                    setup.frames_to_send,
                    batch_limit,
                    0,
                ),
                unbounded: setup.rate == Rate::Max,
                start_offset_ns: setup.start_offset_ns,
                cutoff_ns: None,
                generator: setup.generator,
                bytes_sent: 0,
                sequence: SequenceSource::new(setup.fault),
                last_frame_ns: 0,
                paused_since_ns: None,
                paused_ns: 0,
                tai_clock: setup.tai_clock,
            })
            .collect();
        let any_tai_clock = states.iter().any(|stream| stream.tai_clock);
        let batch_limit = batch_limit.clamp(1, RING_SIZE / chunks_per_slot);
        Ok(TxWorker {
            umem,
            tx_queue,
            completion_queue,
            mode,
            streams: states,
            due: DueQueue::with_capacity(stream_count),
            paused: Vec::with_capacity(stream_count),
            free_slots: (0..slot_count).rev().collect(),
            slot_stream: vec![NO_STREAM; slot_count as usize],
            chunks_per_slot,
            chunks_in_flight: vec![0; slot_count as usize],
            chunk_descs,
            batch: vec![FrameDesc::default(); (batch_limit * chunks_per_slot) as usize],
            completed: vec![FrameDesc::default(); RING_SIZE as usize],
            batch_limit,
            any_tai_clock,
        })
    }

    /// The mode the socket is bound in.
    pub fn mode(&self) -> XskMode {
        self.mode
    }

    /// Bytes of UMEM the worker uses.
    pub fn umem_bytes(&self) -> u64 {
        self.slot_stream.len() as u64 * u64::from(self.chunks_per_slot) * u64::from(UMEM_FRAME_SIZE)
    }

    /// Sends every stream's frames at its rate, each stream counting from
    /// `start_ns` plus its start offset, until all are sent, `deadline_ns`
    /// passes (rate max streams stop then; paced streams send every frame
    /// that fell due by then, their offset later), or `stop` is set; then
    /// waits for the kernel to complete what was produced. Counters are
    /// updated once per release. A stream whose switch is paused sends
    /// nothing until it is resumed, then goes on at its rate from the resume.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        start_ns: u64,
        deadline_ns: Option<u64>,
        stop: &AtomicBool,
        switches: &StreamSwitches,
        counters: &TxCounters,
        worker_index: usize,
        release_interval: Duration,
    ) -> Result<TxSummary, TxError> {
        let Some(own) = counters.workers.get(worker_index) else {
            return Err(TxError::Umem(format!(
                "no counters for worker {worker_index}"
            )));
        };
        let mut live = self.schedule_from(start_ns, deadline_ns);
        let mut summary = TxSummary::default();
        let mut outstanding: u64 = 0;
        // Due frames go out together at most every release interval, so that
        // a wakeup (a syscall in copy mode) carries a burst, not one frame.
        let release_interval_ns = release_interval.as_nanos() as u64;
        let paused_check_ns = PAUSED_CHECK_INTERVAL.as_nanos() as u64;
        let mut next_release_ns = start_ns;
        let mut next_paused_check_ns = start_ns;
        let mut unbounded_ended = false;

        loop {
            outstanding -= self.reclaim_completions(own);
            if stop.load(Ordering::Relaxed) {
                summary.stopped_early = live > 0;
                break;
            }
            if live == 0 {
                break;
            }
            let now = monotonic_ns();
            if now >= next_paused_check_ns {
                live -= self.follow_paused(switches, now);
                next_paused_check_ns = now + paused_check_ns;
            }
            if now < next_release_ns {
                if outstanding > 0 && self.tx_queue.needs_wakeup() {
                    self.wake(own);
                }
                std::hint::spin_loop();
                continue;
            }
            next_release_ns = now + release_interval_ns;
            if !unbounded_ended && deadline_ns.is_some_and(|deadline| now >= deadline) {
                // Time is up: streams that stop on time (rate max) end here.
                for stream in self.streams.iter_mut().filter(|stream| stream.unbounded) {
                    stream.pacer.finish();
                }
                unbounded_ended = true;
            }
            let release = self.release(now, switches, counters, &mut live)?;
            if release.full {
                // A full batch: more is due at once (rate max, or catching
                // up), so the next release need not wait.
                next_release_ns = now;
            }
            if release.starved {
                own.ring_full_events.fetch_add(1, Ordering::Relaxed);
            }
            if release.batch_len > 0 {
                outstanding += self.produce(release.batch_len)?;
                summary.first_frame_ns.get_or_insert(now);
                summary.last_frame_ns = Some(now);
            }
            if outstanding > 0 && self.tx_queue.needs_wakeup() {
                self.wake(own);
            }
            if release.batch_len == 0 && outstanding == 0 {
                self.wait_for_next_due(next_paused_check_ns);
            }
        }
        self.drain_completions(own, outstanding);
        summary.frames_uncompleted = self
            .chunks_in_flight
            .iter()
            .filter(|chunks| **chunks > 0)
            .count() as u64;
        summary.stream_times = self.send_times(monotonic_ns());
        Ok(summary)
    }

    /// Hands the first `batch_len` descriptors of the batch to the TX ring;
    /// returns how many it took (all of them, or an error).
    fn produce(&mut self, batch_len: usize) -> Result<u64, TxError> {
        // SAFETY: every descriptor in the batch belongs to this UMEM and was
        // taken from the free pool, so it is not in any ring yet.
        let produced = unsafe { self.tx_queue.produce(&self.batch[..batch_len]) };
        if produced != batch_len {
            return Err(TxError::RingAccounting {
                refused: batch_len - produced,
            });
        }
        Ok(produced as u64)
    }

    /// Starts every stream's schedule at `start_ns` plus its offset, sets
    /// its cutoff and queues it; returns how many streams have frames to send.
    fn schedule_from(&mut self, start_ns: u64, deadline_ns: Option<u64>) -> usize {
        let mut live = 0;
        for (index, stream) in self.streams.iter_mut().enumerate() {
            let stream_start_ns = start_ns + stream.start_offset_ns;
            stream.pacer.restart_at(stream_start_ns);
            stream.cutoff_ns = match (deadline_ns, stream.unbounded) {
                (Some(deadline), false) => Some(deadline + stream.start_offset_ns),
                _ => None,
            };
            if let Some(due_ns) = stream.pacer.next_due_ns() {
                self.due.push(index as u32, due_ns.max(start_ns));
                live += 1;
            }
        }
        live
    }

    /// Looks at every paused stream's switch: resumed ones go back in the
    /// due queue, ones past their end are ended. Returns how many ended.
    fn follow_paused(&mut self, switches: &StreamSwitches, now: u64) -> usize {
        let mut ended = 0;
        let mut kept = 0;
        for position in 0..self.paused.len() {
            let index = self.paused[position];
            let stream = &mut self.streams[index as usize];
            let past_end = stream.cutoff_ns.is_some_and(|cutoff| now > cutoff)
                || (stream.unbounded && stream.pacer.is_done());
            if past_end {
                stream.pacer.finish();
                ended += 1;
            } else if stream.follow_switch(switches, now) {
                self.paused[kept] = index;
                kept += 1;
            } else {
                let due_ns = stream.pacer.next_due_ns().unwrap_or(now);
                self.due
                    .push(index, if stream.unbounded { now } else { due_ns });
            }
        }
        self.paused.truncate(kept);
        ended
    }

    /// Takes the streams that are due at `now` from the due queue, earliest
    /// first, and puts their due frames in the batch, as many as the ring
    /// and the pool have room for; queues each again at its next due time.
    fn release(
        &mut self,
        now: u64,
        switches: &StreamSwitches,
        counters: &TxCounters,
        live: &mut usize,
    ) -> Result<Release, TxError> {
        let chunks_per_slot = self.chunks_per_slot;
        let ring_room = self.tx_queue.nb_free(self.batch_limit * chunks_per_slot);
        // Frames that fit, counting every frame at its largest.
        let room = (ring_room.min(self.batch_limit * chunks_per_slot) / chunks_per_slot) as usize;
        let mut release = Release::default();
        // One vDSO read per release, not per frame, and only when a stream
        // is counted on another host.
        let tai_now = if self.any_tai_clock {
            crate::clock::tai_ns()
        } else {
            0
        };
        while release.frames < room && !self.free_slots.is_empty() {
            let Some((index, due_ns)) = self.due.pop_due(now) else {
                break;
            };
            let stream = &mut self.streams[index as usize];
            if stream.end_if_cut(due_ns, now) {
                *live -= 1;
                continue;
            }
            if stream.follow_switch(switches, now) {
                self.paused.push(index);
                continue;
            }
            let due = stream.pacer.due(now) as usize;
            let take = due.min(room - release.frames).min(self.free_slots.len());
            release.starved |= take < due;
            let stamp = if stream.tai_clock { tai_now } else { now };
            self.write_frames(index, take, stamp, &mut release)?;
            let stream = &mut self.streams[index as usize];
            stream.pacer.released(take as u32);
            if take > 0 {
                stream.last_frame_ns = now;
                if let Some(own) = counters.streams.get(stream.stream_id as usize) {
                    stream.publish(own);
                }
            }
            match stream.pacer.next_due_ns() {
                None => *live -= 1,
                // Rate max is always due: it queues behind what is due now.
                Some(_) if stream.unbounded => self.due.push(index, now),
                Some(next_due_ns) => self.due.push(index, next_due_ns),
            }
        }
        release.full = room > 0 && release.frames == room;
        release.starved |= self.due.next_due_ns().is_some_and(|next| next <= now)
            && (release.full || self.free_slots.is_empty());
        Ok(release)
    }

    /// Writes `take` frames of stream `index`, stamped `tx_timestamp_ns`,
    /// into free slots and adds their descriptors to the batch. A slot that last carried another
    /// stream gets this stream's template first (a copy, no allocation).
    fn write_frames(
        &mut self,
        index: u32,
        take: usize,
        tx_timestamp_ns: u64,
        release: &mut Release,
    ) -> Result<(), TxError> {
        let chunks_per_slot = self.chunks_per_slot as usize;
        let stream = &mut self.streams[index as usize];
        for _ in 0..take {
            let Some(slot) = self.free_slots.pop() else {
                break;
            };
            let first_chunk = slot as usize * chunks_per_slot;
            let slot_chunks = first_chunk..first_chunk + chunks_per_slot;
            if self.slot_stream[slot as usize] != index {
                let template = stream.generator.template();
                for (part, desc) in template
                    .chunks(CHUNK_DATA_LEN)
                    .zip(&mut self.chunk_descs[slot_chunks.clone()])
                {
                    // SAFETY: the slot was in the free pool: the kernel
                    // completed every chunk of it (or never had them), so
                    // nothing else reads or writes them until we produce them.
                    let mut data = unsafe { self.umem.data_mut(desc) };
                    let mut cursor = data.cursor();
                    cursor.set_pos(0);
                    cursor
                        .write_all(part)
                        .map_err(|error| TxError::Template(error.to_string()))?;
                }
                self.slot_stream[slot as usize] = index;
            }
            let len = stream.generator.next_frame_len();
            let chunks = len.div_ceil(CHUNK_DATA_LEN).max(1);
            for part in 0..chunks {
                // The batch's copy of the chunk's descriptor is the one given
                // its length and options: copied before they are written, it
                // is not read back just after (a wide load over narrow stores
                // stalls the pipeline).
                self.batch[release.batch_len] = self.chunk_descs[slot_chunks.start + part];
                let desc = &mut self.batch[release.batch_len];
                // SAFETY: the descriptor is a copy of one of this UMEM's
                // chunks; as above, the slot is ours until it is produced.
                let mut data = unsafe { self.umem.data_mut(desc) };
                data.cursor()
                    .set_pos((len - part * CHUNK_DATA_LEN).min(CHUNK_DATA_LEN));
                if part == 0 {
                    // Every field that changes is in the first chunk.
                    stream
                        .generator
                        .fill(
                            data.contents_mut(),
                            // The low 32 bits go on the wire.
                            stream.sequence.next_number() as u32,
                            tx_timestamp_ns,
                        )
                        .map_err(|error| TxError::Template(error.to_string()))?;
                }
                desc.set_options(if part + 1 < chunks { XDP_PKT_CONTD } else { 0 });
                release.batch_len += 1;
            }
            self.chunks_in_flight[slot as usize] = chunks as u8;
            stream.bytes_sent += len as u64;
            release.frames += 1;
        }
        Ok(())
    }

    /// Waits, at most COMPLETION_TIMEOUT, for the kernel to complete the
    /// `outstanding` chunks produced.
    fn drain_completions(&mut self, own: &WorkerTxCounters, mut outstanding: u64) {
        let deadline = monotonic_ns() + COMPLETION_TIMEOUT.as_nanos() as u64;
        while outstanding > 0 && monotonic_ns() < deadline {
            if self.tx_queue.needs_wakeup() {
                self.wake(own);
            }
            let reclaimed = self.reclaim_completions(own);
            outstanding -= reclaimed;
            if reclaimed == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// When each stream that sent last sent, and how long it was paused.
    fn send_times(&self, end_ns: u64) -> Vec<StreamSendTimes> {
        self.streams
            .iter()
            .filter(|stream| stream.last_frame_ns != 0)
            .map(|stream| StreamSendTimes {
                stream_id: stream.stream_id,
                last_frame_ns: stream.last_frame_ns,
                paused_ns: stream.paused_ns
                    + stream
                        .paused_since_ns
                        .map_or(0, |since| end_ns.saturating_sub(since)),
                start_offset_ns: stream.start_offset_ns,
            })
            .collect()
    }

    fn wake(&self, own: &WorkerTxCounters) {
        // Errors that mean "try again" are absorbed by xsk-rs; anything else
        // shows up as frames that never complete.
        let _ = self.tx_queue.wakeup();
        own.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts completed chunks against their slots and returns each slot
    /// whose chunks have all completed to the pool. Returns how many
    /// chunks completed.
    fn reclaim_completions(&mut self, own: &WorkerTxCounters) -> u64 {
        // SAFETY: the completion queue belongs to this UMEM, and `completed`
        // is ours to overwrite.
        let count = unsafe { self.completion_queue.consume(&mut self.completed) };
        for desc in &self.completed[..count] {
            let chunk = (desc.addr() / UMEM_FRAME_SIZE as usize) as u32;
            let slot = chunk / self.chunks_per_slot;
            let Some(in_flight) = self.chunks_in_flight.get_mut(slot as usize) else {
                continue;
            };
            *in_flight = in_flight.saturating_sub(1);
            if *in_flight == 0 {
                self.free_slots.push(slot);
            }
        }
        if count > 0 {
            own.completions.fetch_add(count as u64, Ordering::Relaxed);
        }
        count as u64
    }

    /// Sleeps until shortly before the next frame falls due (or the next
    /// look at paused streams, `next_paused_check_ns`, when there are any);
    /// spins for the last stretch so that low rates stay accurate.
    fn wait_for_next_due(&self, next_paused_check_ns: u64) {
        let paused_check = (!self.paused.is_empty()).then_some(next_paused_check_ns);
        let Some(wake_at) = [self.due.next_due_ns(), paused_check]
            .into_iter()
            .flatten()
            .min()
        else {
            return;
        };
        let now = monotonic_ns();
        let spin_window = 60_000;
        if wake_at > now + spin_window {
            std::thread::sleep(Duration::from_nanos(
                (wake_at - now - spin_window).min(50_000_000),
            ));
        } else {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_sized_from_the_workers_total_rate() {
        let pps = |frames: u64| Rate::FramesPerSecond {
            millipps: frames * 1000,
        };
        assert_eq!(pool_slots([pps(0)]), MIN_POOL_SLOTS);
        assert_eq!(pool_slots(Vec::<Rate>::new()), MIN_POOL_SLOTS);
        assert_eq!(
            pool_slots([pps(10_000)]),
            MIN_POOL_SLOTS,
            "40 frames of traffic: the floor"
        );
        assert_eq!(pool_slots([pps(100_000)]), 400);
        // 10,000 streams of 10 fps are 100,000 fps: the same 400 slots.
        assert_eq!(pool_slots(std::iter::repeat_n(pps(10), 10_000)), 400);
        assert_eq!(pool_slots([pps(1_000_000)]), 4000);
        assert_eq!(pool_slots([pps(10_000_000)]), MAX_POOL_SLOTS);
        assert_eq!(pool_slots([pps(10), Rate::Max]), MAX_POOL_SLOTS);
    }
}
