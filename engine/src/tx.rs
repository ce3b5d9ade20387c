//! The AF_XDP sender for one (interface, queue): a UMEM split into one pool
//! of slots per stream, each slot written with its stream's template once
//! at start; per frame the stream's generator writes only what changes
//! (swept fields, lengths, sequence, timestamp, checksums). A slot is one
//! 4 KiB chunk, or several consecutive chunks for jumbo frames, sent as a
//! multi-buffer descriptor chain whose later chunks never change. Frames go out in batches, completions come
//! back in batches, and the socket is woken only when the kernel asks.
//! Zero-copy is requested first and copy mode is the fallback.

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam::utils::CachePadded;
use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig,
};
use xsk_rs::{CompQueue, FrameDesc, Socket, TxQueue, Umem};

use crate::clock::monotonic_ns;
use crate::frame::FrameGenerator;
use crate::pacer::Pacer;
use crate::scenario::Rate;
use crate::sequence::{FaultCounts, SequenceFault, SequenceSource};

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
/// Slots each stream owns in the UMEM, at least.
pub const MIN_FRAMES_PER_STREAM: u32 = 64;
/// Slots a stream owns at most: two TX rings' worth, more than can ever be
/// in flight.
pub const MAX_FRAMES_PER_STREAM: u32 = 2 * RING_SIZE;
/// How much of a stream's traffic its pool holds: its rate times this.
pub const POOL_TIME: Duration = Duration::from_millis(4);

/// The slots a stream at `rate` needs: POOL_TIME of its frames, bounded.
pub fn pool_slots(rate: Rate) -> u32 {
    let frames = rate.frames_per_second() * POOL_TIME.as_secs_f64();
    if frames.is_finite() {
        (frames.ceil() as u32).clamp(MIN_FRAMES_PER_STREAM, MAX_FRAMES_PER_STREAM)
    } else {
        MAX_FRAMES_PER_STREAM
    }
}
/// Default frames per batch (one produce, one wakeup).
pub const DEFAULT_BATCH: u32 = 64;
/// Default release interval: due frames go out together at most this often.
pub const DEFAULT_RELEASE_INTERVAL: Duration = Duration::from_micros(20);
/// How long the sender waits for the kernel to complete what it produced.
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(2);

/// Which AF_XDP bind mode to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XskModeRequest {
    /// Zero-copy if the driver supports it, else copy.
    #[default]
    Auto,
    /// Copy mode only.
    Copy,
    /// Zero-copy or fail.
    ZeroCopy,
}

/// Busy polling on the socket, for NICs whose driver supports it: the
/// sender's own calls poll the device instead of waiting for interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyPoll {
    /// How long a poll may spin, in microseconds (SO_BUSY_POLL).
    pub usecs: u32,
    /// Descriptors a poll may handle (SO_BUSY_POLL_BUDGET).
    pub budget: u32,
}

// asm-generic socket option numbers (x86_64, aarch64, riscv64).
const SO_BUSY_POLL: libc::c_int = 46;
const SO_PREFER_BUSY_POLL: libc::c_int = 69;
const SO_BUSY_POLL_BUDGET: libc::c_int = 70;

fn set_socket_option(
    fd: std::os::fd::RawFd,
    option: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: `value` is a live c_int for the duration of the call and its
    // size is passed; `fd` is the open AF_XDP socket.
    let result = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The AF_XDP mode a socket is bound in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XskMode {
    /// The NIC DMAs straight from the UMEM.
    ZeroCopy,
    /// The kernel copies each frame into an skb.
    Copy,
}

impl std::fmt::Display for XskMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XskMode::ZeroCopy => "zero-copy",
            XskMode::Copy => "copy",
        })
    }
}

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
    pub stream_id: u16,
    /// Makes the stream's frames.
    pub generator: FrameGenerator,
    /// The stream's rate.
    pub rate: Rate,
    /// How many frames to send in all.
    pub frames_to_send: u64,
    /// Sequence faults to inject on purpose.
    pub fault: Option<SequenceFault>,
}

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

/// What a sender did, once it has finished.
#[derive(Debug, Clone, Default)]
pub struct TxSummary {
    /// CLOCK_MONOTONIC of the first frame produced, if any.
    pub first_frame_ns: Option<u64>,
    /// CLOCK_MONOTONIC of the last frame produced, if any.
    pub last_frame_ns: Option<u64>,
    /// Per stream: (stream id, CLOCK_MONOTONIC of its last frame produced).
    pub stream_last_frame_ns: Vec<(u16, u64)>,
    /// Frames produced but never completed by the kernel.
    pub frames_uncompleted: u64,
    /// True when it stopped early because it was told to.
    pub stopped_early: bool,
}

struct StreamState {
    stream_id: u16,
    generator: FrameGenerator,
    bytes_sent: u64,
    pacer: Pacer,
    sequence: SequenceSource,
    /// CLOCK_MONOTONIC of the last frame produced, 0 before the first.
    last_frame_ns: u64,
    /// Free slots of this stream's pool, by index of their first chunk;
    /// capacity is the pool size, so returning slots never allocates.
    free_slots: Vec<u32>,
}

/// An open AF_XDP sender, frames written and ready to run.
pub struct TxWorker {
    umem: Umem,
    tx_queue: TxQueue,
    completion_queue: CompQueue,
    mode: XskMode,
    streams: Vec<StreamState>,
    /// The stream (index into `streams`) each slot belongs to.
    slot_owner: Vec<u16>,
    /// UMEM chunks per slot: 1, or more for jumbo frames.
    chunks_per_slot: u32,
    /// Every chunk's descriptor, by chunk index.
    chunk_descs: Vec<FrameDesc>,
    /// Chunks of each slot still with the kernel; the slot is free at 0.
    chunks_in_flight: Vec<u8>,
    batch: Vec<FrameDesc>,
    completed: Vec<FrameDesc>,
    batch_limit: u32,
}

impl std::fmt::Debug for TxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxWorker")
            .field("mode", &self.mode)
            .field("streams", &self.streams.len())
            .field("slots", &self.slot_owner.len())
            .finish()
    }
}

impl TxWorker {
    /// Opens an AF_XDP socket on `interface` queue `queue` (in the calling
    /// thread's network namespace) and writes every stream's template into
    /// its pool. `batch_limit` bounds the frames per produce.
    pub fn open(
        interface: &str,
        queue: u32,
        mode: XskModeRequest,
        streams: Vec<TxStreamSetup>,
        batch_limit: u32,
        busy_poll: Option<BusyPoll>,
    ) -> Result<TxWorker, TxError> {
        // Each stream's pool is sized from its rate.
        let pool_sizes: Vec<u32> = streams.iter().map(|setup| pool_slots(setup.rate)).collect();
        let largest = streams
            .iter()
            .map(|setup| setup.generator.max_frame_len())
            .max()
            .unwrap_or(0);
        let chunks_per_slot = (largest as u32).div_ceil(CHUNK_DATA_LEN as u32).max(1);
        let slot_count: u32 = pool_sizes.iter().sum::<u32>().max(1);
        let (umem, mut chunk_descs, tx_queue, completion_queue, mode) = open_socket(
            interface,
            queue,
            mode,
            slot_count * chunks_per_slot,
            chunks_per_slot > 1,
        )?;

        if let Some(busy) = busy_poll {
            use std::os::fd::AsRawFd;
            let fd = tx_queue.fd().as_raw_fd();
            let busy_error = |option: &str, error: std::io::Error| TxError::Socket {
                interface: interface.to_string(),
                queue,
                reason: format!(
                    "cannot set {option}: {error} (busy polling needs a kernel of 5.11 or later)"
                ),
            };
            set_socket_option(fd, SO_PREFER_BUSY_POLL, 1)
                .map_err(|error| busy_error("SO_PREFER_BUSY_POLL", error))?;
            set_socket_option(fd, SO_BUSY_POLL, busy.usecs as libc::c_int)
                .map_err(|error| busy_error("SO_BUSY_POLL", error))?;
            set_socket_option(fd, SO_BUSY_POLL_BUDGET, busy.budget as libc::c_int)
                .map_err(|error| busy_error("SO_BUSY_POLL_BUDGET", error))?;
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
        let mut states = Vec::with_capacity(streams.len());
        for (pool_index, setup) in streams.into_iter().enumerate() {
            let pool_size = pool_sizes[pool_index];
            let first_slot: u32 = pool_sizes[..pool_index].iter().sum();
            let mut free_slots = Vec::with_capacity(pool_size as usize);
            for slot in (first_slot..first_slot + pool_size).rev() {
                let first_chunk = (slot * chunks_per_slot) as usize;
                let template = setup.generator.template();
                for (part, desc) in template
                    .chunks(CHUNK_DATA_LEN)
                    .zip(&mut chunk_descs[first_chunk..first_chunk + chunks_per_slot as usize])
                {
                    // SAFETY: the chunk came from this UMEM and has not been
                    // handed to the kernel yet, so nothing else accesses it.
                    let mut data = unsafe { umem.data_mut(desc) };
                    data.cursor()
                        .write_all(part)
                        .map_err(|error| TxError::Template(error.to_string()))?;
                }
                free_slots.push(slot * chunks_per_slot);
            }
            states.push(StreamState {
                stream_id: setup.stream_id,
                pacer: Pacer::new(setup.rate, setup.frames_to_send, batch_limit, 0),
                generator: setup.generator,
                bytes_sent: 0,
                sequence: SequenceSource::new(setup.fault),
                last_frame_ns: 0,
                free_slots,
            });
        }
        let batch_limit = batch_limit.clamp(1, RING_SIZE / chunks_per_slot);
        Ok(TxWorker {
            umem,
            tx_queue,
            completion_queue,
            mode,
            streams: states,
            slot_owner: pool_sizes
                .iter()
                .enumerate()
                .flat_map(|(pool, size)| std::iter::repeat_n(pool as u16, *size as usize))
                .collect(),
            chunks_per_slot,
            chunks_in_flight: vec![0; slot_count as usize],
            chunk_descs,
            batch: vec![FrameDesc::default(); (batch_limit * chunks_per_slot) as usize],
            completed: vec![FrameDesc::default(); RING_SIZE as usize],
            batch_limit,
        })
    }

    /// The mode the socket is bound in.
    pub fn mode(&self) -> XskMode {
        self.mode
    }

    /// Bytes of UMEM the worker uses.
    pub fn umem_bytes(&self) -> u64 {
        self.slot_owner.len() as u64 * u64::from(self.chunks_per_slot) * u64::from(UMEM_FRAME_SIZE)
    }

    /// Sends every stream's frames at its rate, counting from `start_ns`,
    /// until all are sent, `deadline_ns` passes, or `stop` is set; then waits for the kernel to
    /// complete what was produced. Counters are updated once per batch.
    pub fn run(
        &mut self,
        start_ns: u64,
        deadline_ns: Option<u64>,
        stop: &AtomicBool,
        counters: &TxCounters,
        worker_index: usize,
        release_interval: Duration,
    ) -> Result<TxSummary, TxError> {
        let Some(own) = counters.workers.get(worker_index) else {
            return Err(TxError::Umem(format!(
                "no counters for worker {worker_index}"
            )));
        };
        for stream in &mut self.streams {
            stream.pacer.restart_at(start_ns);
        }
        let mut summary = TxSummary::default();
        let mut outstanding: u64 = 0;
        let mut first_stream = 0usize;
        let stream_count = self.streams.len();
        // Due frames go out together at most every release interval, so that
        // a wakeup (a syscall in copy mode) carries a burst, not one frame.
        let release_interval_ns = release_interval.as_nanos() as u64;
        let mut next_release_ns = start_ns;

        loop {
            outstanding -= self.reclaim_completions(own);
            if stop.load(Ordering::Relaxed) {
                summary.stopped_early = self.streams.iter().any(|stream| !stream.pacer.is_done());
                break;
            }
            if self.streams.iter().all(|stream| stream.pacer.is_done()) {
                break;
            }

            let now = monotonic_ns();
            if now < next_release_ns {
                if outstanding > 0 && self.tx_queue.needs_wakeup() {
                    self.wake(own);
                }
                std::hint::spin_loop();
                continue;
            }
            next_release_ns = now + release_interval_ns;
            if deadline_ns.is_some_and(|deadline| now >= deadline) {
                // Time is up: streams that stop on time (rate max) end here.
                for stream in &mut self.streams {
                    stream.pacer.finish();
                }
                continue;
            }
            let chunks_per_slot = self.chunks_per_slot;
            let ring_room = self.tx_queue.nb_free(self.batch_limit * chunks_per_slot);
            // Frames that fit, counting every frame at its largest.
            let room =
                (ring_room.min(self.batch_limit * chunks_per_slot) / chunks_per_slot) as usize;
            let mut frames_in_batch = 0usize;
            let mut batch_len = 0usize;
            let mut starved = false;
            for turn in 0..stream_count {
                let stream = &mut self.streams[(first_stream + turn) % stream_count];
                let due = stream.pacer.due(now) as usize;
                if due == 0 {
                    continue;
                }
                let take = due.min(room - frames_in_batch).min(stream.free_slots.len());
                starved |= take < due;
                for _ in 0..take {
                    let Some(first_chunk) = stream.free_slots.pop() else {
                        break;
                    };
                    let first_chunk = first_chunk as usize;
                    let len = stream.generator.next_frame_len();
                    let chunks = len.div_ceil(CHUNK_DATA_LEN).max(1);
                    for part in 0..chunks {
                        // The batch's copy of the chunk's descriptor is the
                        // one given its length and options: copied before
                        // they are written, it is not read back just after
                        // (a wide load over narrow stores stalls).
                        self.batch[batch_len] = self.chunk_descs[first_chunk + part];
                        let desc = &mut self.batch[batch_len];
                        // SAFETY: the descriptor is a copy of one of this
                        // UMEM's chunks. The slot was in this stream's free pool:
                        // the kernel completed every chunk of it (or never
                        // had them), so no one else reads or writes them
                        // until we produce them.
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
                                    now,
                                )
                                .map_err(|error| TxError::Template(error.to_string()))?;
                        }
                        desc.set_options(if part + 1 < chunks { XDP_PKT_CONTD } else { 0 });
                        batch_len += 1;
                    }
                    // One chunk a slot (every frame up to a page): the slot
                    // is the chunk, with no 64-bit division per frame.
                    let slot = if chunks_per_slot == 1 {
                        first_chunk
                    } else {
                        first_chunk / chunks_per_slot as usize
                    };
                    self.chunks_in_flight[slot] = chunks as u8;
                    stream.bytes_sent += len as u64;
                }
                frames_in_batch += take;
                if take > 0 {
                    stream.last_frame_ns = now;
                }
                stream.pacer.released(take as u32);
                let sent = stream.pacer.frames_released();
                let stream_counters = &counters.streams[usize::from(stream.stream_id)];
                stream_counters.frames_sent.store(sent, Ordering::Relaxed);
                stream_counters
                    .bytes_sent
                    .store(stream.bytes_sent, Ordering::Relaxed);
                if take > 0 {
                    stream_counters
                        .sequence_span
                        .store(stream.sequence.span(), Ordering::Relaxed);
                }
                if take > 0 && stream.sequence.has_fault() {
                    let faults = stream.sequence.fault_counts();
                    stream_counters
                        .faults_skipped
                        .store(faults.skipped, Ordering::Relaxed);
                    stream_counters
                        .faults_repeated
                        .store(faults.repeated, Ordering::Relaxed);
                    stream_counters
                        .faults_swapped
                        .store(faults.swapped, Ordering::Relaxed);
                }
                if frames_in_batch == room {
                    break;
                }
            }
            first_stream = (first_stream + 1) % stream_count.max(1);
            if room > 0 && frames_in_batch == room {
                // A full batch: more is due at once (rate max, or catching
                // up), so the next release need not wait.
                next_release_ns = now;
            }
            if starved {
                own.ring_full_events.fetch_add(1, Ordering::Relaxed);
            }

            if batch_len > 0 {
                // SAFETY: every descriptor in the batch belongs to this
                // UMEM and was taken from a free pool above, so it is not
                // in any ring yet.
                let produced = unsafe { self.tx_queue.produce(&self.batch[..batch_len]) };
                if produced != batch_len {
                    return Err(TxError::RingAccounting {
                        refused: batch_len - produced,
                    });
                }
                outstanding += produced as u64;
                summary.first_frame_ns.get_or_insert(now);
                summary.last_frame_ns = Some(now);
            }
            if outstanding > 0 && self.tx_queue.needs_wakeup() {
                self.wake(own);
            }
            if batch_len == 0 && outstanding == 0 {
                self.wait_for_next_due();
            }
        }

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
        summary.frames_uncompleted = self
            .chunks_in_flight
            .iter()
            .filter(|chunks| **chunks > 0)
            .count() as u64;
        summary.stream_last_frame_ns = self
            .streams
            .iter()
            .filter(|stream| stream.last_frame_ns != 0)
            .map(|stream| (stream.stream_id, stream.last_frame_ns))
            .collect();
        Ok(summary)
    }

    fn wake(&self, own: &WorkerTxCounters) {
        // Errors that mean "try again" are absorbed by xsk-rs; anything else
        // shows up as frames that never complete.
        let _ = self.tx_queue.wakeup();
        own.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts completed chunks against their slots and returns each slot
    /// whose chunks have all completed to its stream's pool. Returns how
    /// many chunks completed.
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
                let owner = self
                    .slot_owner
                    .get(slot as usize)
                    .copied()
                    .unwrap_or(u16::MAX);
                if let Some(stream) = self.streams.get_mut(usize::from(owner)) {
                    stream.free_slots.push(slot * self.chunks_per_slot);
                }
            }
        }
        if count > 0 {
            own.completions.fetch_add(count as u64, Ordering::Relaxed);
        }
        count as u64
    }

    /// Sleeps until shortly before the next frame falls due; spins for the
    /// last stretch so that low rates stay accurate.
    fn wait_for_next_due(&self) {
        let Some(next_due) = self
            .streams
            .iter()
            .filter_map(|stream| stream.pacer.next_due_ns())
            .min()
        else {
            return;
        };
        let now = monotonic_ns();
        let spin_window = 60_000;
        if next_due > now + spin_window {
            std::thread::sleep(Duration::from_nanos(
                (next_due - now - spin_window).min(50_000_000),
            ));
        } else {
            std::hint::spin_loop();
        }
    }
}

type OpenedSocket = (Umem, Vec<FrameDesc>, TxQueue, CompQueue, XskMode);

/// Creates a UMEM and binds a socket to it, zero-copy first where allowed.
fn open_socket(
    interface: &str,
    queue: u32,
    request: XskModeRequest,
    frame_count: u32,
    multi_buffer: bool,
) -> Result<OpenedSocket, TxError> {
    let attempts: &[XskMode] = match request {
        XskModeRequest::Auto => &[XskMode::ZeroCopy, XskMode::Copy],
        XskModeRequest::Copy => &[XskMode::Copy],
        XskModeRequest::ZeroCopy => &[XskMode::ZeroCopy],
    };
    let socket_error = |reason: String| TxError::Socket {
        interface: interface.to_string(),
        queue,
        reason,
    };
    let if_name: Interface = interface
        .parse()
        .map_err(|_| socket_error("the interface name has a NUL byte".to_string()))?;
    // Jumbo frames span several chunks: multi-buffer descriptors.
    let scatter_gather = if multi_buffer {
        BindFlags::XDP_USE_SG
    } else {
        BindFlags::empty()
    };
    let mut failures = Vec::new();
    for &mode in attempts {
        let (umem, descs) = create_umem(frame_count)?;
        let bind_mode = match mode {
            XskMode::ZeroCopy => BindFlags::XDP_ZEROCOPY,
            XskMode::Copy => BindFlags::XDP_COPY,
        };
        let config = SocketConfig::builder()
            .tx_queue_size(queue_size(RING_SIZE)?)
            .rx_queue_size(queue_size(RING_SIZE)?)
            // The socket only sends: no XDP program goes on the TX port.
            .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
            .bind_flags(bind_mode | BindFlags::XDP_USE_NEED_WAKEUP | scatter_gather)
            .build();
        // SAFETY: the UMEM is new and not shared with any other socket, so
        // the shared-UMEM double-free hazard does not arise.
        match unsafe { Socket::new(config, &umem, &if_name, queue) } {
            Ok((tx_queue, _rx_queue, Some((_fill_queue, completion_queue)))) => {
                return Ok((umem, descs, tx_queue, completion_queue, mode));
            }
            Ok((_, _, None)) => {
                failures.push(format!("{mode}: the kernel gave no completion ring"))
            }
            Err(error) => failures.push(format!("{mode}: {error}")),
        }
    }
    Err(socket_error(failures.join("; ")))
}

fn create_umem(frame_count: u32) -> Result<(Umem, Vec<FrameDesc>), TxError> {
    let frame_size =
        FrameSize::new(UMEM_FRAME_SIZE).map_err(|error| TxError::Umem(error.to_string()))?;
    let config = UmemConfig::builder()
        .frame_size(frame_size)
        .comp_queue_size(queue_size(RING_SIZE)?)
        .fill_queue_size(queue_size(RING_SIZE)?)
        .build()
        .map_err(|error| TxError::Umem(error.to_string()))?;
    let frame_count =
        NonZeroU32::new(frame_count).ok_or_else(|| TxError::Umem("no frames".to_string()))?;
    Umem::new(config, frame_count, false).map_err(|error| TxError::Umem(error.to_string()))
}

fn queue_size(size: u32) -> Result<QueueSize, TxError> {
    QueueSize::new(size).map_err(|error| TxError::Umem(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_sized_from_rates() {
        let pps = |frames: u64| Rate::FramesPerSecond {
            millipps: frames * 1000,
        };
        assert_eq!(pool_slots(pps(0)), MIN_FRAMES_PER_STREAM);
        assert_eq!(
            pool_slots(pps(10_000)),
            MIN_FRAMES_PER_STREAM,
            "40 frames of traffic: the floor"
        );
        assert_eq!(pool_slots(pps(100_000)), 400);
        assert_eq!(pool_slots(pps(1_000_000)), 4000);
        assert_eq!(pool_slots(pps(10_000_000)), MAX_FRAMES_PER_STREAM);
        assert_eq!(pool_slots(Rate::Max), MAX_FRAMES_PER_STREAM);
    }
}
