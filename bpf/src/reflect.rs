//! The reflector's loader: the XDP program in `linerate_reflect.bpf.c`
//! (built by build.rs, embedded here) that sends every linerate frame back
//! out of the port it arrived on with its MACs, IP addresses and UDP ports
//! swapped, so that the receive counter on the sending port measures the
//! round trip on one clock. Attached through a bpf_link held only by this
//! process, like the counter: detached when dropped, or when the process
//! dies.
//!
//! On a veth pair, XDP_TX sends the frame into the peer's XDP receive path,
//! which the kernel only sets up while the peer has an XDP program of its
//! own (or GRO enabled): without one the reflected frames are dropped and
//! counted in the peer's `xdp_tx_errors`/`rx_drops`. In a linerate run the
//! peer is the sending port, where the receive counter is attached anyway.

use std::ffi::OsStr;

use libbpf_rs::{Link, MapCore, MapFlags, Object, ObjectBuilder, ProgramInput};

use crate::{attach_exclusive, find_program, BpfError, XdpAttachMode};

/// The compiled reflector object, as clang produced it.
const REFLECT_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/linerate_reflect.bpf.o"));
/// The program's name, as the kernel keeps it (at most 15 characters) and
/// `ip link` and the "already attached" error show it.
const REFLECT_PROGRAM_NAME: &str = "lr_reflector";
const REFLECT_TOTALS_MAP: &str = "lr_reflect_totals";

/// What the reflector did, summed over every CPU (`struct
/// lr_reflect_totals`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReflectTotals {
    /// linerate frames sent back (XDP_TX).
    pub frames_reflected: u64,
    /// Every other frame, passed to the stack.
    pub frames_passed: u64,
}

impl ReflectTotals {
    /// Decodes one CPU's value as the kernel stores it (native endian).
    fn from_bytes(bytes: &[u8]) -> Self {
        let word = |index: usize| {
            bytes
                .get(index * 8..index * 8 + 8)
                .and_then(|slice| <[u8; 8]>::try_from(slice).ok())
                .map(u64::from_ne_bytes)
                .unwrap_or(0)
        };
        ReflectTotals {
            frames_reflected: word(0),
            frames_passed: word(1),
        }
    }
}

/// The loaded reflector; attached once [`Reflector::attach`] succeeds,
/// detached when dropped.
pub struct Reflector {
    object: Object,
    link: Option<Link>,
}

impl std::fmt::Debug for Reflector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflector")
            .field("attached", &self.link.is_some())
            .finish()
    }
}

/// What one BPF_PROG_TEST_RUN of the reflector returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflectTestRun {
    /// The XDP action (see [`crate::xdp_action`]).
    pub action: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
}

impl Reflector {
    /// Loads the embedded program into the kernel; nothing is attached yet.
    pub fn load() -> Result<Self, BpfError> {
        let object = ObjectBuilder::default()
            .name("linerate_refl")
            .map_err(BpfError::Load)?
            .open_memory(REFLECT_OBJECT)
            .map_err(BpfError::Load)?
            .load()
            .map_err(BpfError::Load)?;
        let reflector = Reflector { object, link: None };
        // Fail now, not at attach time, if the object is not what we expect.
        find_program(&reflector.object, REFLECT_PROGRAM_NAME)?;
        reflector.map()?;
        Ok(reflector)
    }

    /// Attaches the reflector to `ifindex` (an index in the calling
    /// thread's network namespace) through a bpf_link and reports the mode
    /// the kernel runs it in. Another XDP program already there is an
    /// error naming it, unless `force`: then it is detached first.
    pub fn attach(&mut self, ifindex: u32, force: bool) -> Result<XdpAttachMode, BpfError> {
        let program = find_program(&self.object, REFLECT_PROGRAM_NAME)?;
        let (link, mode) = attach_exclusive(&program, ifindex, force)?;
        self.link = Some(link);
        Ok(mode)
    }

    /// Detaches the reflector if it is attached (dropping does the same).
    pub fn detach(&mut self) {
        self.link = None;
    }

    /// Frames reflected and passed so far, summed over every CPU.
    pub fn totals(&self) -> Result<ReflectTotals, BpfError> {
        let values = self
            .map()?
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(BpfError::Read)?
            .unwrap_or_default();
        Ok(values
            .iter()
            .map(|value| ReflectTotals::from_bytes(value))
            .fold(ReflectTotals::default(), |sum, one| ReflectTotals {
                frames_reflected: sum.frames_reflected + one.frames_reflected,
                frames_passed: sum.frames_passed + one.frames_passed,
            }))
    }

    /// Runs the program once over `frame` with BPF_PROG_TEST_RUN: the XDP
    /// action it chose and the frame as it left it. Totals update as for a
    /// real frame.
    pub fn test_run(&self, frame: &[u8]) -> Result<ReflectTestRun, BpfError> {
        let program = find_program(&self.object, REFLECT_PROGRAM_NAME)?;
        let mut out = vec![0u8; frame.len()];
        let input = ProgramInput {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..ProgramInput::default()
        };
        let output = program.test_run(input).map_err(BpfError::TestRun)?;
        Ok(ReflectTestRun {
            action: output.return_value,
            frame: out,
        })
    }

    fn map(&self) -> Result<libbpf_rs::Map<'_>, BpfError> {
        self.object
            .maps()
            .find(|map| map.name() == OsStr::new(REFLECT_TOTALS_MAP))
            .ok_or(BpfError::Missing {
                kind: "map",
                name: REFLECT_TOTALS_MAP,
            })
    }
}
