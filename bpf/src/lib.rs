//! linerate's XDP receive counter: the C program (built by clang in
//! build.rs, embedded here) and a thin libbpf-rs loader that sizes its
//! maps, attaches it through a bpf_link, reads its per-stream state and
//! runs it through BPF_PROG_TEST_RUN. The reflector's loader is in
//! [`reflect`].

pub mod abi;
pub mod introspect;
pub mod reflect;

use std::ffi::OsStr;
use std::os::fd::AsFd;

use libbpf_rs::{
    Link, MapCore, MapFlags, MapType, Object, ObjectBuilder, ProgramInput, Xdp, XdpFlags,
};

pub use abi::{LatencyCounters, RxTotals, StreamRx};
pub use reflect::{ReflectTestRun, ReflectTotals, Reflector};

/// The compiled XDP object, as clang produced it.
const RX_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/linerate_rx.bpf.o"));

const PROGRAM_NAME: &str = "linerate_rx";
/// The bare drop program, for the receive-cost benchmark.
const DROP_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/xdp_drop.bpf.o"));
const DROP_PROGRAM_NAME: &str = "xdp_drop_all";
const STREAMS_MAP: &str = "lr_streams";
const SEQUENCE_MAP: &str = "lr_sequence";
const SEEN_MAP: &str = "lr_seen";
const LATENCY_MAP: &str = "lr_latency";
/// Most memory the latency histograms of all streams may take (over every
/// CPU): with more streams than fit, only the first ones keep a histogram.
const LATENCY_BUDGET_BYTES: u64 = 256 << 20;
/// Streams that keep a latency histogram whatever the CPU count, at least.
const MIN_LATENCY_STREAMS: u32 = 256;
/// Most memory the duplicate-detection windows of all streams may take.
const SEEN_BUDGET_BYTES: u64 = 64 << 20;
/// The widest duplicate-detection window: 4096 sequence numbers per stream.
pub const MAX_WINDOW_BITS: u32 = 12;
/// The narrowest, for scenarios with very many streams: 64.
const MIN_WINDOW_BITS: u32 = 6;
/// The section holding the program's load-time constants.
const RODATA_SUFFIX: &str = ".rodata";
const TOTALS_MAP: &str = "lr_totals";

/// True when XDP programs may call `bpf_ktime_get_tai_ns` (kernel 6.1+).
fn tai_clock_supported() -> bool {
    // SAFETY: a probe with no options: libbpf loads a tiny program calling
    // the helper and reports 1 (supported), 0 (not) or a negative error.
    let probed = unsafe {
        libbpf_sys::libbpf_probe_bpf_helper(
            libbpf_sys::BPF_PROG_TYPE_XDP,
            libbpf_sys::BPF_FUNC_ktime_get_tai_ns,
            std::ptr::null(),
        )
    };
    probed == 1
}

/// XDP action codes as the kernel defines them (`enum xdp_action`).
pub mod xdp_action {
    /// The frame was malformed or the program failed.
    pub const ABORTED: u32 = 0;
    /// The program dropped the frame (linerate counted it).
    pub const DROP: u32 = 1;
    /// The program passed the frame to the kernel stack.
    pub const PASS: u32 = 2;
    /// The program sent the frame back out of the port it came in on.
    pub const TX: u32 = 3;
}

/// Errors from loading, attaching or reading the receive counter.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    /// libbpf refused to open or load the embedded object.
    #[error("could not load linerate's XDP program: {0}")]
    Load(#[source] libbpf_rs::Error),
    /// The object lacks a program or map this loader expects.
    #[error("the XDP object has no {kind} named {name} (build mismatch)")]
    Missing {
        /// "program" or "map".
        kind: &'static str,
        /// The name looked for.
        name: &'static str,
    },
    /// Attaching to the interface failed.
    #[error("could not attach linerate's XDP program to interface index {ifindex}: {source}")]
    Attach {
        /// The interface index in the caller's network namespace.
        ifindex: u32,
        /// What libbpf reported.
        #[source]
        source: libbpf_rs::Error,
    },
    /// Another XDP program is already attached to the interface.
    #[error("another XDP program is already attached: {name:?} (id {id}); stop what attached it, or run again with --force to detach it")]
    Occupied {
        /// The interface index.
        ifindex: u32,
        /// The program's id.
        id: u32,
        /// The program's name.
        name: String,
    },
    /// `--force` could not detach the program already attached.
    #[error("could not detach the XDP program already attached (id {id}): {error}")]
    Detach {
        /// The program's id.
        id: u32,
        /// What the kernel said.
        error: std::io::Error,
    },
    /// A map read failed.
    #[error("could not read the receive counters: {0}")]
    Read(#[source] libbpf_rs::Error),
    /// Setting a stream's clock in the counter's map failed.
    #[error("could not set the streams' clock in the receive counter: {0}")]
    Write(#[source] libbpf_rs::Error),
    /// A stream is timed on CLOCK_TAI and this kernel lacks the helper.
    #[error("streams sent by another agent are timed on CLOCK_TAI, which the receive counter reads with bpf_ktime_get_tai_ns: this kernel lacks it; run the agent on kernel 6.1 or later")]
    NoTaiClock,
    /// A test run through BPF_PROG_TEST_RUN failed.
    #[error("BPF_PROG_TEST_RUN failed: {0}")]
    TestRun(#[source] libbpf_rs::Error),
}

/// How the kernel runs an attached XDP program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAttachMode {
    /// In the driver, before an skb exists (native XDP).
    Driver,
    /// On the skb, after the driver (generic XDP).
    Generic,
    /// Offloaded to the NIC.
    Hardware,
    /// The kernel reported a mode this loader does not know.
    Unknown(u8),
}

impl std::fmt::Display for XdpAttachMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XdpAttachMode::Driver => f.write_str("driver (native XDP)"),
            XdpAttachMode::Generic => f.write_str("generic (skb XDP)"),
            XdpAttachMode::Hardware => f.write_str("hardware offload"),
            XdpAttachMode::Unknown(mode) => write!(f, "unknown mode {mode}"),
        }
    }
}

/// How the receive program treats the frames it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountedFrames {
    /// Dropped after counting: the receiving port is a sink.
    #[default]
    Drop,
    /// Passed on to the kernel stack after counting, so that a capture on
    /// the port (tcpdump, AF_PACKET) sees them.
    Pass,
}

/// The loaded receive program and its maps; attached once [`RxCounter::attach`]
/// succeeds, detached when dropped (the bpf_link closes with its descriptor,
/// so a process that dies leaves nothing attached either).
pub struct RxCounter {
    object: Object,
    link: Option<Link>,
    stream_count: u32,
    window_bits: u32,
    latency_streams: u32,
}

impl std::fmt::Debug for RxCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxCounter")
            .field("stream_count", &self.stream_count)
            .field("window_bits", &self.window_bits)
            .field("latency_streams", &self.latency_streams)
            .field("attached", &self.link.is_some())
            .finish()
    }
}

impl RxCounter {
    /// Opens the embedded object, sizes the per-stream maps to `stream_count`
    /// entries (at least one) and each stream's duplicate-detection window
    /// (see [`RxCounter::window`]), sets what happens to counted frames, and
    /// loads it into the kernel. Nothing is attached yet.
    pub fn load(stream_count: u32, counted: CountedFrames) -> Result<Self, BpfError> {
        Self::load_with_tai_streams(stream_count, counted, &[])
    }

    /// As [`RxCounter::load`], with streams `tai_streams` timed on CLOCK_TAI:
    /// their senders stamp CLOCK_TAI (streams sent by another agent) and
    /// the counter reads `bpf_ktime_get_tai_ns()` for them, which needs
    /// kernel 6.1 (refused in one line before, naming it). Every other
    /// stream stays on CLOCK_MONOTONIC; with none on TAI the program
    /// leaves the TAI read out and loads on older kernels too.
    pub fn load_with_tai_streams(
        stream_count: u32,
        counted: CountedFrames,
        tai_streams: &[u32],
    ) -> Result<Self, BpfError> {
        if !tai_streams.is_empty() && !tai_clock_supported() {
            return Err(BpfError::NoTaiClock);
        }
        let stream_count = stream_count.clamp(1, abi::MAX_STREAMS);
        let window_bits = window_bits_for(stream_count);
        let latency_streams = latency_streams_for(stream_count, possible_cpus());
        let mut open = ObjectBuilder::default()
            .name("linerate")
            .map_err(BpfError::Load)?
            .open_memory(RX_OBJECT)
            .map_err(BpfError::Load)?;
        let mut sized = 0;
        let mut configured = false;
        for mut map in open.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            let entries = match name.as_str() {
                STREAMS_MAP | SEQUENCE_MAP => Some(stream_count),
                SEEN_MAP => Some(stream_count << window_bits),
                LATENCY_MAP => Some(latency_streams),
                _ => None,
            };
            if let Some(entries) = entries {
                map.set_max_entries(entries).map_err(BpfError::Load)?;
                sized += 1;
            } else if name.ends_with(RODATA_SUFFIX) {
                // `struct lr_config lr_config` is the only constant: offset 0.
                let pass = u32::from(counted == CountedFrames::Pass);
                let tai = u32::from(!tai_streams.is_empty());
                if let Some(slot) = map
                    .initial_value_mut()
                    .and_then(|value| value.get_mut(..16))
                {
                    slot[..4].copy_from_slice(&pass.to_ne_bytes());
                    slot[4..8].copy_from_slice(&window_bits.to_ne_bytes());
                    slot[8..12].copy_from_slice(&latency_streams.to_ne_bytes());
                    slot[12..].copy_from_slice(&tai.to_ne_bytes());
                    configured = true;
                }
            }
        }
        if sized != 4 {
            return Err(BpfError::Missing {
                kind: "map",
                name: "lr_streams, lr_sequence, lr_seen or lr_latency",
            });
        }
        if !configured {
            return Err(BpfError::Missing {
                kind: "constant",
                name: "lr_config",
            });
        }
        let object = open.load().map_err(BpfError::Load)?;
        let counter = RxCounter {
            object,
            link: None,
            stream_count,
            window_bits,
            latency_streams,
        };
        // Fail now, not at attach time, if the object is not what we expect.
        counter.with_program(|_| Ok(()))?;
        counter.set_tai_streams(tai_streams)?;
        Ok(counter)
    }

    /// How many sequence numbers back a duplicate is still recognised: 4096
    /// per stream, less when so many streams would take over 64 MiB.
    pub fn window(&self) -> u64 {
        1 << self.window_bits
    }

    /// How many streams the counter map holds.
    pub fn stream_count(&self) -> u32 {
        self.stream_count
    }

    /// How many streams (ids 0 to this less one) keep a latency histogram:
    /// every stream unless their histograms would take more than 256 MiB
    /// over all CPUs. The others keep min, mean and max latency and jitter.
    pub fn latency_streams(&self) -> u32 {
        self.latency_streams
    }

    /// Bytes of kernel memory the counter's maps hold (values only; the
    /// per-CPU ones counted once per possible CPU).
    pub fn map_bytes(&self) -> u64 {
        let cpus = possible_cpus() as u64;
        let streams = u64::from(self.stream_count);
        streams * abi::STREAM_RX_SIZE as u64 * cpus
            + u64::from(self.latency_streams) * abi::LATENCY_HISTOGRAM_SIZE as u64 * cpus
            + streams * abi::STREAM_SEQUENCE_SIZE as u64
            + (streams << self.window_bits) * 4
    }

    /// Writes streams `tai_streams`' sequence entries whole with their
    /// clock set to CLOCK_TAI (before anything is attached).
    fn set_tai_streams(&self, stream_ids: &[u32]) -> Result<(), BpfError> {
        let map = self.map(SEQUENCE_MAP)?;
        let mut value = [0u8; abi::STREAM_SEQUENCE_SIZE];
        value[16..].copy_from_slice(&abi::CLOCK_TAI.to_ne_bytes());
        for id in stream_ids.iter().filter(|id| **id < self.stream_count) {
            map.update(&id.to_ne_bytes(), &value, MapFlags::ANY)
                .map_err(BpfError::Write)?;
        }
        Ok(())
    }

    /// Attaches the program to `ifindex` (an index in the calling thread's
    /// network namespace) through a bpf_link, letting the kernel choose
    /// driver mode where the device supports it, and reports the mode. If
    /// another XDP program is attached, fails naming it, unless `force`:
    /// then that program is detached first.
    pub fn attach(&mut self, ifindex: u32, force: bool) -> Result<XdpAttachMode, BpfError> {
        let (link, mode) =
            self.with_program(|program| attach_exclusive(program, ifindex, force))?;
        self.link = Some(link);
        Ok(mode)
    }

    /// Detaches the program if it is attached (dropping does the same).
    pub fn detach(&mut self) {
        self.link = None;
    }

    /// One stream's receive state, summed over every CPU.
    pub fn stream_rx(&self, stream_id: u32) -> Result<StreamRx, BpfError> {
        let key = stream_id;
        let mut rx = StreamRx::default();
        let mut jitter_weight = (0.0, 0);
        for value in self.lookup_per_cpu(STREAMS_MAP, key)? {
            rx.add_cpu(&value, &mut jitter_weight);
        }
        rx.finish_jitter(jitter_weight);
        if key < self.latency_streams {
            for value in self.lookup_per_cpu(LATENCY_MAP, key)? {
                rx.add_cpu_histogram(&value);
            }
        }
        let map = self.map(SEQUENCE_MAP)?;
        if let Some(value) = map
            .lookup(&key.to_ne_bytes(), MapFlags::ANY)
            .map_err(BpfError::Read)?
        {
            let word = |index: usize| {
                value
                    .get(index * 8..index * 8 + 8)
                    .and_then(|slice| <[u8; 8]>::try_from(slice).ok())
                    .map(u64::from_ne_bytes)
                    .unwrap_or(0)
            };
            rx.next_expected = word(0);
            rx.update_races = word(1);
        }
        Ok(rx)
    }

    /// Every stream's receive state, in stream id order, summed over every
    /// CPU: the maps are read a batch of entries per system call (up to
    /// 1,024 entries or 1 MiB), where one lookup per stream took seconds
    /// for 100,000 streams.
    pub fn streams_rx(&self) -> Result<Vec<StreamRx>, BpfError> {
        let mut streams = vec![StreamRx::default(); self.stream_count as usize];
        let cpus = possible_cpus();
        let rx_stride = abi::STREAM_RX_SIZE.next_multiple_of(8);
        self.for_each_batch(STREAMS_MAP, self.stream_count, cpus, |key, value| {
            if let Some(rx) = streams.get_mut(key as usize) {
                let mut jitter_weight = (0.0, 0);
                for cpu_value in value.chunks_exact(rx_stride) {
                    rx.add_cpu(cpu_value, &mut jitter_weight);
                }
                rx.finish_jitter(jitter_weight);
            }
        })?;
        let histogram_stride = abi::LATENCY_HISTOGRAM_SIZE.next_multiple_of(8);
        self.for_each_batch(LATENCY_MAP, self.latency_streams, cpus, |key, value| {
            // A stream with no latency measured has an empty histogram.
            if let Some(rx) = streams
                .get_mut(key as usize)
                .filter(|rx| rx.latency.count > 0)
            {
                for cpu_value in value.chunks_exact(histogram_stride) {
                    rx.add_cpu_histogram(cpu_value);
                }
            }
        })?;
        self.for_each_batch(SEQUENCE_MAP, self.stream_count, 1, |key, value| {
            if let Some(rx) = streams.get_mut(key as usize) {
                let word = |index: usize| {
                    value
                        .get(index * 8..index * 8 + 8)
                        .and_then(|slice| <[u8; 8]>::try_from(slice).ok())
                        .map(u64::from_ne_bytes)
                        .unwrap_or(0)
                };
                rx.next_expected = word(0);
                rx.update_races = word(1);
            }
        })?;
        Ok(streams)
    }

    /// Reads the first `entries` entries of the array map `map_name` a batch
    /// at a time and hands each key and value (all `cpus` copies of a
    /// per-CPU value, each padded to 8 bytes) to `each`.
    fn for_each_batch(
        &self,
        map_name: &'static str,
        entries: u32,
        cpus: usize,
        mut each: impl FnMut(u32, &[u8]),
    ) -> Result<(), BpfError> {
        // At most 1,024 entries or 1 MiB of values a call, whichever is less.
        const MOST_ENTRIES: usize = 1024;
        const MOST_BYTES: usize = 1 << 20;
        let map = self.map(map_name)?;
        let value_size = map.value_size() as usize;
        let stride = if cpus > 1 || map.map_type().is_percpu() {
            value_size.next_multiple_of(8) * cpus
        } else {
            value_size
        };
        let batch = (MOST_BYTES / stride.max(1))
            .clamp(1, MOST_ENTRIES)
            .min(entries.max(1) as usize);
        let mut keys = vec![0u32; batch];
        let mut values = vec![0u8; batch * stride];
        let mut next_key: u32 = 0;
        let mut read: u32 = 0;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&map.as_fd());
        while read < entries {
            let mut count = (batch as u32).min(entries - read);
            let opts = libbpf_sys::bpf_map_batch_opts {
                sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
                elem_flags: 0,
                flags: 0,
            };
            let mut in_batch = next_key;
            let mut out_batch: u32 = 0;
            // SAFETY: `keys` holds `count` u32 keys and `values` `count`
            // values of `stride` bytes, the size the kernel writes per
            // element of this map (per-CPU values padded to 8 bytes, one
            // per possible CPU); the batch cursors are u32 like the keys;
            // every pointer outlives the call.
            let result = unsafe {
                libbpf_sys::bpf_map_lookup_batch(
                    fd,
                    if read == 0 {
                        std::ptr::null_mut()
                    } else {
                        (&mut in_batch as *mut u32).cast()
                    },
                    (&mut out_batch as *mut u32).cast(),
                    keys.as_mut_ptr().cast(),
                    values.as_mut_ptr().cast(),
                    &mut count,
                    &opts,
                )
            };
            let error = (result != 0).then(std::io::Error::last_os_error);
            for (key, value) in keys
                .iter()
                .zip(values.chunks_exact(stride))
                .take(count as usize)
            {
                each(*key, value);
            }
            read += count;
            match error {
                None => next_key = out_batch,
                // The end of the map.
                Some(error) if error.raw_os_error() == Some(libc::ENOENT) => break,
                Some(error) => {
                    return Err(BpfError::Read(libbpf_rs::Error::from(error)));
                }
            }
            if count == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The kernel's run statistics for the program (see [`RunStats`]).
    pub fn run_stats(&self) -> Result<RunStats, BpfError> {
        run_stats(&self.object, PROGRAM_NAME)
    }

    /// What the program saw but did not count under a stream, summed over CPUs.
    pub fn totals(&self) -> Result<RxTotals, BpfError> {
        let per_cpu = self.lookup_per_cpu(TOTALS_MAP, 0)?;
        Ok(per_cpu
            .iter()
            .map(|value| RxTotals::from_bytes(value))
            .fold(RxTotals::default(), |sum, one| sum.merged(&one)))
    }

    /// Runs the program once over `frame` with BPF_PROG_TEST_RUN and returns
    /// the XDP action it chose (see [`xdp_action`]). Counters update as for a
    /// real frame.
    pub fn test_run(&self, frame: &[u8]) -> Result<u32, BpfError> {
        self.with_program(|program| {
            let input = ProgramInput {
                data_in: Some(frame),
                ..ProgramInput::default()
            };
            let output = program.test_run(input).map_err(BpfError::TestRun)?;
            Ok(output.return_value)
        })
    }

    fn with_program<T>(
        &self,
        action: impl FnOnce(&libbpf_rs::ProgramMut<'_>) -> Result<T, BpfError>,
    ) -> Result<T, BpfError> {
        action(&find_program(&self.object, PROGRAM_NAME)?)
    }

    fn map(&self, map_name: &'static str) -> Result<libbpf_rs::Map<'_>, BpfError> {
        self.object
            .maps()
            .find(|map| map.name() == OsStr::new(map_name))
            .ok_or(BpfError::Missing {
                kind: "map",
                name: map_name,
            })
    }

    fn lookup_per_cpu(&self, map_name: &'static str, key: u32) -> Result<Vec<Vec<u8>>, BpfError> {
        let map = self.map(map_name)?;
        debug_assert!(matches!(map.map_type(), MapType::PercpuArray));
        let values = map
            .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
            .map_err(BpfError::Read)?;
        Ok(values.unwrap_or_default())
    }
}

/// How long the kernel has run a program, and how many times: both stay 0
/// unless `kernel.bpf_stats_enabled` is 1 (which costs two clock reads a run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Total time in the program.
    pub run_time_ns: u64,
    /// Runs (frames, for an XDP program).
    pub run_count: u64,
}

/// The run statistics of the program called `name` in `object`.
fn run_stats(object: &Object, name: &'static str) -> Result<RunStats, BpfError> {
    let program = find_program(object, name)?;
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: the descriptor is the loaded program's and outlives the call;
    // `info` is a bpf_prog_info of `len` bytes, which the kernel fills at
    // most; every pointer field in it is zero, so nothing else is written.
    let result = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(
            std::os::fd::AsRawFd::as_raw_fd(&program.as_fd()),
            (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(BpfError::Read(libbpf_rs::Error::from_raw_os_error(-result)));
    }
    Ok(RunStats {
        run_time_ns: info.run_time_ns,
        run_count: info.run_cnt,
    })
}

/// The program called `name` in `object`.
fn find_program<'object>(
    object: &'object Object,
    name: &'static str,
) -> Result<libbpf_rs::ProgramMut<'object>, BpfError> {
    object
        .progs_mut()
        .find(|program| program.name() == OsStr::new(name))
        .ok_or(BpfError::Missing {
            kind: "program",
            name,
        })
}

/// Attaches `program` to `ifindex` (an index in the calling thread's
/// network namespace) through a bpf_link, letting the kernel choose driver
/// mode where the device supports it, and reports the mode. If another XDP
/// program is attached, fails naming it, unless `force`: then that program
/// is detached first.
pub(crate) fn attach_exclusive(
    program: &libbpf_rs::ProgramMut<'_>,
    ifindex: u32,
    force: bool,
) -> Result<(Link, XdpAttachMode), BpfError> {
    if let Some(id) = introspect::attached_xdp_program(ifindex) {
        if !force {
            let name = introspect::program_info(id)
                .map(|info| info.name)
                .unwrap_or_default();
            return Err(BpfError::Occupied { ifindex, id, name });
        }
        introspect::detach_xdp(ifindex).map_err(|code| BpfError::Detach {
            id,
            error: std::io::Error::from_raw_os_error(code),
        })?;
    }
    let link = program
        .attach_xdp(ifindex as i32)
        .map_err(|source| BpfError::Attach { ifindex, source })?;
    let query = Xdp::new(program.as_fd())
        .query(ifindex as i32, XdpFlags::NONE)
        .map_err(|source| BpfError::Attach { ifindex, source })?;
    let mode = match query.attach_mode {
        1 => XdpAttachMode::Driver,
        2 => XdpAttachMode::Generic,
        3 => XdpAttachMode::Hardware,
        other => XdpAttachMode::Unknown(other),
    };
    Ok((link, mode))
}

/// The widest window (at most [`MAX_WINDOW_BITS`]) whose slots for every
/// stream fit the memory budget.
fn window_bits_for(stream_count: u32) -> u32 {
    let slots_per_stream = SEEN_BUDGET_BYTES / 4 / u64::from(stream_count.max(1));
    let bits = 63 - slots_per_stream.max(1).leading_zeros();
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// How many streams keep a latency histogram: all of `stream_count` while
/// their histograms over `cpus` CPUs fit the budget, else as many as fit
/// (at least MIN_LATENCY_STREAMS).
fn latency_streams_for(stream_count: u32, cpus: usize) -> u32 {
    let per_stream = abi::LATENCY_HISTOGRAM_SIZE as u64 * cpus.max(1) as u64;
    let fit = u32::try_from(LATENCY_BUDGET_BYTES / per_stream).unwrap_or(u32::MAX);
    stream_count.min(fit.max(MIN_LATENCY_STREAMS)).max(1)
}

/// CPUs the kernel may run on: per-CPU maps hold a value for each.
fn possible_cpus() -> usize {
    libbpf_rs::num_possible_cpus().unwrap_or(1).max(1)
}

/// An XDP program that drops every frame and counts nothing: the floor the
/// receive-cost benchmark measures [`RxCounter`] against. Detached when
/// dropped.
pub struct DropProgram {
    object: Object,
    link: Option<Link>,
}

impl std::fmt::Debug for DropProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropProgram")
            .field("attached", &self.link.is_some())
            .finish()
    }
}

impl DropProgram {
    /// Loads the program into the kernel; nothing is attached yet.
    pub fn load() -> Result<Self, BpfError> {
        let object = ObjectBuilder::default()
            .name("linerate_drop")
            .map_err(BpfError::Load)?
            .open_memory(DROP_OBJECT)
            .map_err(BpfError::Load)?
            .load()
            .map_err(BpfError::Load)?;
        Ok(DropProgram { object, link: None })
    }

    /// Attaches it to `ifindex` (in the calling thread's namespace) through
    /// a bpf_link.
    pub fn attach(&mut self, ifindex: u32) -> Result<(), BpfError> {
        let link = find_program(&self.object, DROP_PROGRAM_NAME)?
            .attach_xdp(ifindex as i32)
            .map_err(|source| BpfError::Attach { ifindex, source })?;
        self.link = Some(link);
        Ok(())
    }

    /// The kernel's run statistics for the program (see [`RunStats`]).
    pub fn run_stats(&self) -> Result<RunStats, BpfError> {
        run_stats(&self.object, DROP_PROGRAM_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_keeps_a_histogram_while_the_budget_allows() {
        // 10 KiB per stream per CPU, 256 MiB in all.
        assert_eq!(latency_streams_for(10_000, 2), 10_000);
        assert_eq!(latency_streams_for(100_000, 2), 13_107);
        assert_eq!(latency_streams_for(100_000, 64), 409);
        assert_eq!(latency_streams_for(100_000, 4096), MIN_LATENCY_STREAMS);
        assert_eq!(latency_streams_for(3, 4096), 3);
        assert_eq!(latency_streams_for(0, 2), 1);
    }

    #[test]
    fn windows_narrow_as_streams_grow() {
        assert_eq!(window_bits_for(1), MAX_WINDOW_BITS);
        assert_eq!(window_bits_for(100_000), 7);
        assert_eq!(window_bits_for(1 << 24), MIN_WINDOW_BITS);
    }
}
