//! The AF_XDP sender for one (interface, queue): a UMEM whose frames are
//! split into one pool per stream, each frame written with its stream's
//! template once at start; per frame the stream's generator writes only
//! what changes (swept fields, lengths, sequence, timestamp, checksums). Frames go out in batches, completions come
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

/// UMEM frame size: one page, the largest aligned chunk AF_XDP accepts.
pub const UMEM_FRAME_SIZE: u32 = 4096;
/// TX and completion ring size.
pub const RING_SIZE: u32 = 2048;
/// Frames each stream owns in the UMEM, at least.
pub const MIN_FRAMES_PER_STREAM: u32 = 64;
/// UMEM frames shared among a worker's streams, at least.
pub const MIN_UMEM_FRAMES: u32 = 4096;
/// Default frames per batch (one produce, one wakeup).
pub const DEFAULT_BATCH: u32 = 64;
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
}

/// A stream's transmit counters: written by its one sender, read by anyone.
#[derive(Debug, Default)]
pub struct StreamTxCounters {
    /// Frames placed on the TX ring.
    pub frames_sent: AtomicU64,
    /// Their bytes (no FCS).
    pub bytes_sent: AtomicU64,
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

/// Counters a sender shares with the run's reader, each on its own cache line.
#[derive(Debug)]
pub struct TxCounters {
    /// Indexed by stream id; only this sender's streams move.
    pub streams: Vec<CachePadded<StreamTxCounters>>,
    /// This sender's own counters.
    pub worker: CachePadded<WorkerTxCounters>,
}

impl TxCounters {
    /// Counters for a run of `stream_count` streams.
    pub fn new(stream_count: usize) -> TxCounters {
        TxCounters {
            streams: (0..stream_count)
                .map(|_| CachePadded::new(StreamTxCounters::default()))
                .collect(),
            worker: CachePadded::new(WorkerTxCounters::default()),
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
    next_sequence: u32,
    /// CLOCK_MONOTONIC of the last frame produced, 0 before the first.
    last_frame_ns: u64,
    /// Free frames of this stream's pool; capacity is the pool size, so
    /// returning completed frames never allocates.
    free_frames: Vec<FrameDesc>,
}

/// An open AF_XDP sender, frames written and ready to run.
pub struct TxWorker {
    umem: Umem,
    tx_queue: TxQueue,
    completion_queue: CompQueue,
    mode: XskMode,
    streams: Vec<StreamState>,
    frames_per_pool: u32,
    batch: Vec<FrameDesc>,
    completed: Vec<FrameDesc>,
    batch_limit: u32,
}

impl std::fmt::Debug for TxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxWorker")
            .field("mode", &self.mode)
            .field("streams", &self.streams.len())
            .field("frames_per_pool", &self.frames_per_pool)
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
    ) -> Result<TxWorker, TxError> {
        let stream_count = (streams.len() as u32).max(1);
        let frames_per_pool = (MIN_UMEM_FRAMES / stream_count).max(MIN_FRAMES_PER_STREAM);
        let frame_count = frames_per_pool * stream_count;
        let (umem, descs, tx_queue, completion_queue, mode) =
            open_socket(interface, queue, mode, frame_count)?;

        let mut states = Vec::with_capacity(streams.len());
        for (pool_index, setup) in streams.into_iter().enumerate() {
            let start = pool_index * frames_per_pool as usize;
            let mut free_frames = Vec::with_capacity(frames_per_pool as usize);
            for mut desc in descs[start..start + frames_per_pool as usize]
                .iter()
                .copied()
            {
                // SAFETY: `desc` came from this UMEM and has not been handed
                // to the kernel yet, so nothing else accesses its frame.
                let mut data = unsafe { umem.data_mut(&mut desc) };
                data.cursor()
                    .write_all(setup.generator.template())
                    .map_err(|error| TxError::Template(error.to_string()))?;
                free_frames.push(desc);
            }
            states.push(StreamState {
                stream_id: setup.stream_id,
                pacer: Pacer::new(setup.rate, setup.frames_to_send, batch_limit, 0),
                generator: setup.generator,
                bytes_sent: 0,
                next_sequence: 0,
                last_frame_ns: 0,
                free_frames,
            });
        }
        let batch_limit = batch_limit.clamp(1, RING_SIZE);
        Ok(TxWorker {
            umem,
            tx_queue,
            completion_queue,
            mode,
            streams: states,
            frames_per_pool,
            batch: vec![FrameDesc::default(); batch_limit as usize],
            completed: vec![FrameDesc::default(); RING_SIZE as usize],
            batch_limit,
        })
    }

    /// The mode the socket is bound in.
    pub fn mode(&self) -> XskMode {
        self.mode
    }

    /// Sends every stream's frames at its rate, counting from `start_ns`,
    /// until all are sent or `stop` is set; then waits for the kernel to
    /// complete what was produced. Counters are updated once per batch.
    pub fn run(
        &mut self,
        start_ns: u64,
        stop: &AtomicBool,
        counters: &TxCounters,
    ) -> Result<TxSummary, TxError> {
        for stream in &mut self.streams {
            stream.pacer.restart_at(start_ns);
        }
        let mut summary = TxSummary::default();
        let mut outstanding: u64 = 0;
        let mut first_stream = 0usize;
        let stream_count = self.streams.len();

        loop {
            outstanding -= self.reclaim_completions(counters);
            if stop.load(Ordering::Relaxed) {
                summary.stopped_early = self.streams.iter().any(|stream| !stream.pacer.is_done());
                break;
            }
            if self.streams.iter().all(|stream| stream.pacer.is_done()) {
                break;
            }

            let now = monotonic_ns();
            let room = self
                .tx_queue
                .nb_free(self.batch_limit)
                .min(self.batch_limit) as usize;
            let mut batch_len = 0usize;
            let mut starved = false;
            for turn in 0..stream_count {
                let stream = &mut self.streams[(first_stream + turn) % stream_count];
                let due = stream.pacer.due(now) as usize;
                if due == 0 {
                    continue;
                }
                let take = due.min(room - batch_len).min(stream.free_frames.len());
                starved |= take < due;
                for slot in &mut self.batch[batch_len..batch_len + take] {
                    let Some(mut desc) = stream.free_frames.pop() else {
                        break;
                    };
                    // SAFETY: `desc` is in this stream's free pool: the
                    // kernel completed it (or never had it), so no one else
                    // reads or writes its frame until we produce it.
                    let mut data = unsafe { self.umem.data_mut(&mut desc) };
                    data.cursor().set_pos(stream.generator.next_frame_len());
                    let len = stream
                        .generator
                        .fill(data.contents_mut(), stream.next_sequence, now)
                        .map_err(|error| TxError::Template(error.to_string()))?;
                    stream.bytes_sent += len as u64;
                    stream.next_sequence = stream.next_sequence.wrapping_add(1);
                    *slot = desc;
                }
                batch_len += take;
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
                if batch_len == room {
                    break;
                }
            }
            first_stream = (first_stream + 1) % stream_count.max(1);
            if starved {
                counters
                    .worker
                    .ring_full_events
                    .fetch_add(1, Ordering::Relaxed);
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
                self.wake(counters);
            }
            if batch_len == 0 && outstanding == 0 {
                self.wait_for_next_due();
            }
        }

        let deadline = monotonic_ns() + COMPLETION_TIMEOUT.as_nanos() as u64;
        while outstanding > 0 && monotonic_ns() < deadline {
            if self.tx_queue.needs_wakeup() {
                self.wake(counters);
            }
            let reclaimed = self.reclaim_completions(counters);
            outstanding -= reclaimed;
            if reclaimed == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        summary.frames_uncompleted = outstanding;
        summary.stream_last_frame_ns = self
            .streams
            .iter()
            .filter(|stream| stream.last_frame_ns != 0)
            .map(|stream| (stream.stream_id, stream.last_frame_ns))
            .collect();
        Ok(summary)
    }

    fn wake(&self, counters: &TxCounters) {
        // Errors that mean "try again" are absorbed by xsk-rs; anything else
        // shows up as frames that never complete.
        let _ = self.tx_queue.wakeup();
        counters.worker.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns completed frames to their streams' pools; how many.
    fn reclaim_completions(&mut self, counters: &TxCounters) -> u64 {
        // SAFETY: the completion queue belongs to this UMEM, and `completed`
        // is ours to overwrite.
        let count = unsafe { self.completion_queue.consume(&mut self.completed) };
        for desc in &self.completed[..count] {
            let frame_index = (desc.addr() / UMEM_FRAME_SIZE as usize) as u32;
            let pool = (frame_index / self.frames_per_pool) as usize;
            if let Some(stream) = self.streams.get_mut(pool) {
                stream.free_frames.push(*desc);
            }
        }
        if count > 0 {
            counters
                .worker
                .completions
                .fetch_add(count as u64, Ordering::Relaxed);
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
            .bind_flags(bind_mode | BindFlags::XDP_USE_NEED_WAKEUP)
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
