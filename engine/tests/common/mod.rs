//! Helpers the lab test files share: a run that records what it reported,
//! an AF_PACKET capture with kernel receive timestamps (independent of
//! linerate's counter), and a veth's per-queue XDP counters from ethtool.

#![allow(dead_code)]

use std::sync::atomic::AtomicBool;

use linerate_engine::lab::LabSpec;
use linerate_engine::run::{
    run, IntervalReport, RunError, RunObserver, RunOptions, RunReport, RunSetup,
};
use linerate_engine::scenario;

/// Keeps what a run reported on the way.
#[derive(Default)]
pub struct Recorder {
    /// The setup, once reported.
    pub setup: Option<RunSetup>,
    /// Every interval report, the final one last.
    pub intervals: Vec<IntervalReport>,
}

impl RunObserver for Recorder {
    fn setup_done(&mut self, setup: &RunSetup) {
        self.setup = Some(setup.clone());
    }
    fn interval(&mut self, report: &IntervalReport) {
        self.intervals.push(report.clone());
    }
}

/// Runs `plan` with `options`, keeping what the run reported on the way.
pub fn run_recorded(
    plan: &scenario::Plan,
    options: RunOptions,
) -> (Result<RunReport, RunError>, Recorder) {
    let mut recorder = Recorder::default();
    let result = run(plan, options, &AtomicBool::new(false), &mut recorder);
    (result, recorder)
}

/// Parses `text` and runs it with default options; the run must complete.
pub fn run_text(text: &str) -> (RunReport, Recorder) {
    let plan = scenario::parse(text, "test.toml").expect("valid scenario");
    let (report, recorder) = run_recorded(&plan, RunOptions::default());
    (report.expect("run completes"), recorder)
}

/// A frame an AF_PACKET socket received.
pub struct CapturedFrame {
    /// The frame, from the Ethernet header.
    pub bytes: Vec<u8>,
    /// The kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME).
    pub rx_realtime_ns: u64,
}

/// Captures frames on `interface` in `namespace` with an AF_PACKET socket
/// (independent of linerate's counter) until `expected` linerate frames
/// arrived, or nothing came for two seconds after the first (or for a
/// minute before it); returns them with their kernel
/// receive timestamps. Wait on the first value before sending.
pub fn capture(
    namespace: String,
    interface: String,
    expected: usize,
) -> (
    std::sync::mpsc::Receiver<()>,
    std::thread::JoinHandle<Vec<CapturedFrame>>,
) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _inside =
            linerate_engine::netns::NetnsGuard::enter(&namespace).expect("enter the rx namespace");
        let ifindex = linerate_engine::netns::interface_index(&interface, Some(&namespace))
            .expect("rx interface");
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket calls on a descriptor this thread owns and
        // closes; every pointer passed is to a live local of the right size,
        // and the control messages are read within the buffer the kernel
        // filled, as CMSG_FIRSTHDR/CMSG_NXTHDR walk it.
        unsafe {
            let socket = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            );
            assert!(
                socket >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let set_option = |name: libc::c_int, value: *const libc::c_void, len: usize| {
                libc::setsockopt(socket, libc::SOL_SOCKET, name, value, len as u32)
            };
            let buffer_bytes: libc::c_int = 256 << 20;
            set_option(
                libc::SO_RCVBUFFORCE,
                &buffer_bytes as *const _ as *const libc::c_void,
                4,
            );
            let on: libc::c_int = 1;
            set_option(
                libc::SO_TIMESTAMPNS,
                &on as *const _ as *const libc::c_void,
                4,
            );
            let timeout = libc::timeval {
                tv_sec: 2,
                tv_usec: 0,
            };
            set_option(
                libc::SO_RCVTIMEO,
                &timeout as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>(),
            );
            let mut address: libc::sockaddr_ll = std::mem::zeroed();
            address.sll_family = libc::AF_PACKET as u16;
            address.sll_protocol = protocol;
            address.sll_ifindex = ifindex as i32;
            let bound = libc::bind(
                socket,
                &address as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            ready_tx.send(()).expect("test waits");
            const FIRST_FRAME_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
            let waiting_since = std::time::Instant::now();
            let mut frames = Vec::with_capacity(expected);
            let mut buffer = vec![0u8; 16384];
            let mut control = [0u64; 16];
            while frames.len() < expected {
                let mut io = libc::iovec {
                    iov_base: buffer.as_mut_ptr() as *mut libc::c_void,
                    iov_len: buffer.len(),
                };
                let mut message: libc::msghdr = std::mem::zeroed();
                message.msg_iov = &mut io;
                message.msg_iovlen = 1;
                message.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                message.msg_controllen = std::mem::size_of_val(&control);
                let received = libc::recvmsg(socket, &mut message, 0);
                if received < 0 {
                    // Two seconds of quiet after the first frame end the
                    // capture; before it, preparing the run may take longer
                    // (a loaded or emulated machine): wait up to a minute.
                    if frames.is_empty() && waiting_since.elapsed() < FIRST_FRAME_WAIT {
                        continue;
                    }
                    break;
                }
                let mut rx_realtime_ns = 0;
                let mut header = libc::CMSG_FIRSTHDR(&message);
                while !header.is_null() {
                    if (*header).cmsg_level == libc::SOL_SOCKET
                        && (*header).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let stamp = std::ptr::read_unaligned(
                            libc::CMSG_DATA(header) as *const libc::timespec
                        );
                        rx_realtime_ns = stamp.tv_sec as u64 * 1_000_000_000 + stamp.tv_nsec as u64;
                    }
                    header = libc::CMSG_NXTHDR(&message, header);
                }
                let frame = &buffer[..received as usize];
                if is_linerate_frame(frame) {
                    frames.push(CapturedFrame {
                        bytes: frame.to_vec(),
                        rx_realtime_ns,
                    });
                }
            }
            libc::close(socket);
            frames
        }
    });
    (ready_rx, handle)
}

/// True for UDP frames whose payload starts with linerate's magic.
pub fn is_linerate_frame(frame: &[u8]) -> bool {
    etherparse::SlicedPacket::from_ethernet(frame)
        .ok()
        .and_then(|packet| match packet.transport {
            Some(etherparse::TransportSlice::Udp(udp)) => {
                // The magic is the first three bytes: "LNR".
                Some(udp.payload().starts_with(b"LNR"))
            }
            _ => None,
        })
        .unwrap_or(false)
}

/// The per-queue XDP packet counters of a veth end (ethtool -S).
pub fn rx_queue_packets(namespace: &str, interface: &str) -> Vec<u64> {
    let text = command_output(
        "ip",
        &["netns", "exec", namespace, "ethtool", "-S", interface],
    );
    let mut counts = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("rx_queue_") {
            if let Some((queue, value)) = rest.split_once("_xdp_packets:") {
                let queue: usize = queue.parse().expect("queue number");
                counts.resize(counts.len().max(queue + 1), 0);
                counts[queue] = value.trim().parse().expect("count");
            }
        }
    }
    counts
}

/// Runs `program` with `args`; it must succeed. Returns what it printed.
pub fn command_output(program: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program} runs (make test installs it): {error}"));
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A scenario shipped in scenarios/, pointed at `lab` (its lr-a/lr-b
/// interfaces and namespaces replaced by the lab's) with one more
/// replacement, `(from, to)`, made first.
pub fn shipped_scenario(file: &str, lab: &LabSpec, first: (&str, String)) -> String {
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let (a, b) = (&lab.a, &lab.b);
    [
        (first.0, first.1),
        (
            "interface = \"lr-a\"",
            format!("interface = \"{}\"", a.interface),
        ),
        (
            "namespace = \"linerate-a\"",
            format!("namespace = \"{}\"", a.namespace),
        ),
        (
            "interface = \"lr-b\"",
            format!("interface = \"{}\"", b.interface),
        ),
        (
            "namespace = \"linerate-b\"",
            format!("namespace = \"{}\"", b.namespace),
        ),
    ]
    .iter()
    .fold(shipped, |text, (from, to)| {
        assert!(text.contains(from), "{file} has {from}");
        text.replacen(from, to, 1)
    })
}
