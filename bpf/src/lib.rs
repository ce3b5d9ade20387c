//! linerate's XDP receive counter: the C program (built by clang in
//! build.rs, embedded here) and a thin libbpf-rs loader that sizes its
//! maps, attaches it through a bpf_link, reads its per-CPU counters and
//! runs it through BPF_PROG_TEST_RUN.

pub mod abi;

use std::ffi::OsStr;
use std::os::fd::AsFd;

use libbpf_rs::{
    Link, MapCore, MapFlags, MapType, Object, ObjectBuilder, ProgramInput, Xdp, XdpFlags,
};

pub use abi::{RxTotals, StreamCounters};

/// The compiled XDP object, as clang produced it.
const RX_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/linerate_rx.bpf.o"));

const PROGRAM_NAME: &str = "linerate_rx";
const STREAMS_MAP: &str = "lr_streams";
/// The section holding the program's load-time constants.
const RODATA_SUFFIX: &str = ".rodata";
const TOTALS_MAP: &str = "lr_totals";

/// XDP action codes as the kernel defines them (`enum xdp_action`).
pub mod xdp_action {
    /// The frame was malformed or the program failed.
    pub const ABORTED: u32 = 0;
    /// The program dropped the frame (linerate counted it).
    pub const DROP: u32 = 1;
    /// The program passed the frame to the kernel stack.
    pub const PASS: u32 = 2;
}

/// Errors from loading, attaching or reading the receive counter.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    /// libbpf refused to open or load the embedded object.
    #[error("could not load the XDP receive program: {0}")]
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
    #[error("could not attach the XDP receive program to interface index {ifindex}: {source}")]
    Attach {
        /// The interface index in the caller's network namespace.
        ifindex: u32,
        /// What libbpf reported.
        #[source]
        source: libbpf_rs::Error,
    },
    /// A map read failed.
    #[error("could not read the receive counters: {0}")]
    Read(#[source] libbpf_rs::Error),
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
}

impl std::fmt::Debug for RxCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxCounter")
            .field("stream_count", &self.stream_count)
            .field("attached", &self.link.is_some())
            .finish()
    }
}

impl RxCounter {
    /// Opens the embedded object, sizes the per-stream map to `stream_count`
    /// entries (at least one), sets what happens to counted frames, and
    /// loads it into the kernel. Nothing is attached yet.
    pub fn load(stream_count: u32, counted: CountedFrames) -> Result<Self, BpfError> {
        let stream_count = stream_count.max(1);
        let mut open = ObjectBuilder::default()
            .name("linerate")
            .map_err(BpfError::Load)?
            .open_memory(RX_OBJECT)
            .map_err(BpfError::Load)?;
        let mut sized = false;
        for mut map in open.maps_mut() {
            if map.name() == OsStr::new(STREAMS_MAP) {
                map.set_max_entries(stream_count).map_err(BpfError::Load)?;
                sized = true;
            } else if map.name().to_string_lossy().ends_with(RODATA_SUFFIX) {
                // `lr_pass_counted` is the only constant: offset 0.
                let pass = u32::from(counted == CountedFrames::Pass);
                if let Some(slot) = map.initial_value_mut().and_then(|value| value.get_mut(..4)) {
                    slot.copy_from_slice(&pass.to_ne_bytes());
                } else if counted == CountedFrames::Pass {
                    return Err(BpfError::Missing {
                        kind: "constant",
                        name: "lr_pass_counted",
                    });
                }
            }
        }
        if !sized {
            return Err(BpfError::Missing {
                kind: "map",
                name: STREAMS_MAP,
            });
        }
        let object = open.load().map_err(BpfError::Load)?;
        let counter = RxCounter {
            object,
            link: None,
            stream_count,
        };
        // Fail now, not at attach time, if the object is not what we expect.
        counter.with_program(|_| Ok(()))?;
        Ok(counter)
    }

    /// How many streams the counter map holds.
    pub fn stream_count(&self) -> u32 {
        self.stream_count
    }

    /// Attaches the program to `ifindex` (an index in the calling thread's
    /// network namespace) through a bpf_link, letting the kernel choose
    /// driver mode where the device supports it, and reports the mode.
    pub fn attach(&mut self, ifindex: u32) -> Result<XdpAttachMode, BpfError> {
        let link = self.with_program(|program| {
            program
                .attach_xdp(ifindex as i32)
                .map_err(|source| BpfError::Attach { ifindex, source })
        })?;
        self.link = Some(link);
        self.attach_mode(ifindex)
    }

    /// The mode the program on `ifindex` runs in, as the kernel reports it.
    fn attach_mode(&self, ifindex: u32) -> Result<XdpAttachMode, BpfError> {
        self.with_program(|program| {
            let query = Xdp::new(program.as_fd())
                .query(ifindex as i32, XdpFlags::NONE)
                .map_err(|source| BpfError::Attach { ifindex, source })?;
            Ok(match query.attach_mode {
                1 => XdpAttachMode::Driver,
                2 => XdpAttachMode::Generic,
                3 => XdpAttachMode::Hardware,
                other => XdpAttachMode::Unknown(other),
            })
        })
    }

    /// Detaches the program if it is attached (dropping does the same).
    pub fn detach(&mut self) {
        self.link = None;
    }

    /// The counters of one stream, summed over every CPU.
    pub fn stream_counters(&self, stream_id: u16) -> Result<StreamCounters, BpfError> {
        let per_cpu = self.lookup_per_cpu(STREAMS_MAP, u32::from(stream_id))?;
        Ok(per_cpu
            .iter()
            .map(|value| StreamCounters::from_bytes(value))
            .fold(StreamCounters::default(), |sum, one| sum.merged(&one)))
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
        let program = self
            .object
            .progs_mut()
            .find(|program| program.name() == OsStr::new(PROGRAM_NAME))
            .ok_or(BpfError::Missing {
                kind: "program",
                name: PROGRAM_NAME,
            })?;
        action(&program)
    }

    fn lookup_per_cpu(&self, map_name: &'static str, key: u32) -> Result<Vec<Vec<u8>>, BpfError> {
        let map = self
            .object
            .maps()
            .find(|map| map.name() == OsStr::new(map_name))
            .ok_or(BpfError::Missing {
                kind: "map",
                name: map_name,
            })?;
        debug_assert!(matches!(map.map_type(), MapType::PercpuArray));
        let values = map
            .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
            .map_err(BpfError::Read)?;
        Ok(values.unwrap_or_default())
    }
}
