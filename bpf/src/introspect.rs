//! What the kernel holds: BPF programs and maps by id, for telling the user
//! which program already sits on a port, and for checking that nothing of
//! linerate's is left behind after a run ends, however it ends.

use std::os::fd::{FromRawFd, OwnedFd};

/// A loaded BPF program as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Its id.
    pub id: u32,
    /// Its name (at most 15 characters).
    pub name: String,
    /// The ids of the maps it uses.
    pub map_ids: Vec<u32>,
}

/// Takes ownership of a descriptor a libbpf call returned (negative: none).
fn owned(fd: libc::c_int) -> Option<OwnedFd> {
    // SAFETY: a non-negative descriptor from libbpf is open and ours alone;
    // OwnedFd closes it once.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn program_fd(id: u32) -> Option<OwnedFd> {
    // SAFETY: a plain syscall wrapper; it only reads `id`.
    owned(unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) })
}

fn prog_info(fd: &OwnedFd, map_ids: &mut [u32]) -> Option<libbpf_sys::bpf_prog_info> {
    let mut info = libbpf_sys::bpf_prog_info {
        nr_map_ids: map_ids.len() as u32,
        map_ids: map_ids.as_mut_ptr() as u64,
        ..Default::default()
    };
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `fd` is an open program descriptor; `info` is `len` bytes
    // and its only pointer, `map_ids`, points at `nr_map_ids` writable u32s.
    let result = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    (result == 0).then_some(info)
}

/// The program with this id, if the kernel still has it.
pub fn program_info(id: u32) -> Option<ProgramInfo> {
    let fd = program_fd(id)?;
    // First the count of maps, then the ids.
    let count = prog_info(&fd, &mut [])?.nr_map_ids as usize;
    let mut map_ids = vec![0u32; count];
    let info = prog_info(&fd, &mut map_ids)?;
    map_ids.truncate(info.nr_map_ids as usize);
    let name: String = info
        .name
        .iter()
        .take_while(|byte| **byte != 0)
        .map(|byte| *byte as u8 as char)
        .collect();
    Some(ProgramInfo { id, name, map_ids })
}

/// True while the kernel still has the map with this id.
pub fn map_exists(id: u32) -> bool {
    // SAFETY: a plain syscall wrapper; it only reads `id`.
    owned(unsafe { libbpf_sys::bpf_map_get_fd_by_id(id) }).is_some()
}
