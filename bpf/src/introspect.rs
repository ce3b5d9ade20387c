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

/// The id of the XDP program attached to `ifindex` (in the calling thread's
/// namespace), in any mode, if there is one.
pub fn attached_xdp_program(ifindex: u32) -> Option<u32> {
    let mut id = 0u32;
    // SAFETY: a plain query; the kernel writes one u32 into `id`.
    let result = unsafe { libbpf_sys::bpf_xdp_query_id(ifindex as i32, 0, &mut id) };
    (result == 0 && id != 0).then_some(id)
}

/// The bpf_link that holds program `program_id` on `ifindex`, if one does.
/// Interface indexes are per network namespace and link ids are not, so the
/// program's id (global) is matched too: otherwise a link on the same index
/// in another namespace would be taken for it.
fn xdp_link_on(ifindex: u32, program_id: u32) -> Option<OwnedFd> {
    let mut id = 0u32;
    // SAFETY: plain syscall wrappers on ids and descriptors this function
    // owns; `info` is a bpf_link_info of `len` bytes whose pointer fields
    // are all zero, so the kernel writes only inside it.
    unsafe {
        while libbpf_sys::bpf_link_get_next_id(id, &mut id) == 0 {
            let Some(fd) = owned(libbpf_sys::bpf_link_get_fd_by_id(id)) else {
                continue;
            };
            let mut info = libbpf_sys::bpf_link_info::default();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_link_info>() as u32;
            let result = libbpf_sys::bpf_obj_get_info_by_fd(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                (&mut info as *mut libbpf_sys::bpf_link_info).cast(),
                &mut len,
            );
            if result == 0
                && info.type_ == libbpf_sys::BPF_LINK_TYPE_XDP
                && info.prog_id == program_id
                && info.__bindgen_anon_1.xdp.ifindex == ifindex
            {
                return Some(fd);
            }
        }
    }
    None
}

/// Detaches whatever XDP program is on `ifindex`: through its bpf_link if
/// it has one (the link's owner keeps a defunct link), else through
/// netlink. Returns the kernel's error code on failure.
pub fn detach_xdp(ifindex: u32) -> Result<(), i32> {
    let Some(program_id) = attached_xdp_program(ifindex) else {
        return Ok(());
    };
    let result = match xdp_link_on(ifindex, program_id) {
        // SAFETY: `link` is an open link descriptor.
        Some(link) => unsafe {
            libbpf_sys::bpf_link_detach(std::os::fd::AsRawFd::as_raw_fd(&link))
        },
        // SAFETY: a plain netlink request; no options.
        None => unsafe { libbpf_sys::bpf_xdp_detach(ifindex as i32, 0, std::ptr::null()) },
    };
    if result == 0 {
        Ok(())
    } else {
        Err(-result)
    }
}
