//! The AF_XDP socket of a sender: the UMEM, the bind (zero-copy first
//! where allowed, copy mode as the fallback, multi-buffer for jumbo frames,
//! with one line when the kernel lacks it) and the busy-polling options.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig,
};
use xsk_rs::{CompQueue, FrameDesc, Socket, TxQueue, Umem};

use super::{TxError, RING_SIZE, UMEM_FRAME_SIZE};
use crate::types::{BusyPoll, XskMode, XskModeRequest};

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

/// Turns on busy polling on the socket.
pub(super) fn set_busy_poll(
    tx_queue: &TxQueue,
    interface: &str,
    queue: u32,
    busy: BusyPoll,
) -> Result<(), TxError> {
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
    Ok(())
}

pub(super) type OpenedSocket = (Umem, Vec<FrameDesc>, TxQueue, CompQueue, XskMode);

/// How long a bind that finds its queue still held (EBUSY) is tried again.
const BUSY_RETRY_FOR: Duration = Duration::from_secs(2);
/// The wait between those tries.
const BUSY_RETRY_WAIT: Duration = Duration::from_millis(50);

/// What one bind attempt gave.
enum Bound {
    /// The socket, bound.
    Opened(OpenedSocket),
    /// The queue is still held by a socket the kernel has not released.
    Busy(String),
    /// Any other failure, as text.
    Failed(String),
}

/// Creates a UMEM and binds a socket to `queue` of `if_name` in `mode`.
fn bind(
    if_name: &Interface,
    queue: u32,
    mode: XskMode,
    frame_count: u32,
    scatter_gather: BindFlags,
) -> Result<Bound, TxError> {
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
    Ok(
        match unsafe { Socket::new(config, &umem, if_name, queue) } {
            Ok((tx_queue, _rx_queue, Some((_fill_queue, completion_queue)))) => {
                Bound::Opened((umem, descs, tx_queue, completion_queue, mode))
            }
            Ok((_, _, None)) => Bound::Failed("the kernel gave no completion ring".to_string()),
            Err(error) => {
                let os_error = std::error::Error::source(&error)
                    .and_then(|source| source.downcast_ref::<std::io::Error>());
                let reason = match os_error {
                    Some(os_error) => format!("{error} ({os_error})"),
                    None => error.to_string(),
                };
                if os_error.and_then(std::io::Error::raw_os_error) == Some(libc::EBUSY) {
                    Bound::Busy(reason)
                } else {
                    Bound::Failed(reason)
                }
            }
        },
    )
}

/// Creates a UMEM and binds a socket to it, zero-copy first where allowed.
pub(super) fn open_socket(
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
        // A queue whose last socket was just closed stays bound until the
        // kernel has released that socket (EBUSY): a run prepared right
        // after another on the same queue waits for it, briefly.
        let busy_until = Instant::now() + BUSY_RETRY_FOR;
        loop {
            match bind(&if_name, queue, mode, frame_count, scatter_gather)? {
                Bound::Opened(opened) => return Ok(opened),
                Bound::Busy(_) if Instant::now() < busy_until => {
                    std::thread::sleep(BUSY_RETRY_WAIT);
                }
                Bound::Busy(reason) | Bound::Failed(reason) => {
                    failures.push(format!("{mode}: {reason}"));
                    break;
                }
            }
        }
    }
    if multi_buffer && binds_without_scatter_gather(&if_name, queue) {
        return Err(TxError::NoMultiBuffer {
            interface: interface.to_string(),
            queue,
            kernel: kernel_release(),
        });
    }
    Err(socket_error(failures.join("; ")))
}

/// Whether a small copy-mode socket binds on the queue without
/// `XDP_USE_SG`: when it does and the multi-buffer bind failed, the kernel
/// lacks multi-buffer AF_XDP (older than 6.6).
fn binds_without_scatter_gather(if_name: &Interface, queue: u32) -> bool {
    let Ok((umem, _descs)) = create_umem(RING_SIZE) else {
        return false;
    };
    let Ok(tx_size) = queue_size(RING_SIZE) else {
        return false;
    };
    let Ok(rx_size) = queue_size(RING_SIZE) else {
        return false;
    };
    let config = SocketConfig::builder()
        .tx_queue_size(tx_size)
        .rx_queue_size(rx_size)
        .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
        .bind_flags(BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP)
        .build();
    // SAFETY: the UMEM is new and not shared with any other socket; the
    // socket is closed again when the returned queues drop here.
    matches!(
        unsafe { Socket::new(config, &umem, if_name, queue) },
        Ok((_, _, Some(_)))
    )
}

/// The running kernel's release (`uname -r`), for messages.
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_string())
        .unwrap_or_else(|_| "unknown release".to_string())
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
