//! What a run is made of before and around its session: the errors that
//! stop one, the options and observer a front end passes, what the run set
//! up (ports, modes, router MACs), the checks and attachments made before
//! sending (preflight, the receive counters, the reflectors of `reflect = true`
//! ports), and `count`, which counts what
//! arrives on a port without sending. The run itself is a
//! [`Session`](crate::session::Session); [`run`] drives one from start to
//! report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use linerate_bpf::{BpfError, CountedFrames, Reflector, RxCounter, XdpAttachMode};

use crate::frame::FrameError;
use crate::netns::{self, NetnsError, NetnsGuard};
pub use crate::outcome::{format_ns, stream_percentile, RunReport, StreamResult, WorkerResult};
use crate::scenario::{Plan, PortPlan, StreamPlan};
pub use crate::session::{run, Session, SessionControl, StreamCommandError};
pub use crate::stats::{IntervalReport, StreamCounts, StreamInterval};
use crate::tx::{
    BusyPoll, TxError, XskMode, XskModeRequest, DEFAULT_BATCH, DEFAULT_RELEASE_INTERVAL,
};

/// Errors that stop a run from starting or finishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// WiFi stations could not be set up (a station that does not
    /// associate is not an error: the report says so and the run fails).
    #[error("{0}")]
    Wifi(#[from] crate::wifi::WifiError),
    /// A stream's `src_ip`/`dst_ip = "station"` names a DHCP station that
    /// has no lease (not expected once every station is up).
    #[error("stream {stream:?}: station {station:?} has no DHCP lease, so the stream's address is unknown")]
    NoLease {
        /// The stream.
        stream: String,
        /// The station.
        station: String,
    },
    /// A port's namespace or interface is wrong.
    #[error("port {port:?}: {source}")]
    Port {
        /// The port's name.
        port: String,
        /// What is wrong.
        #[source]
        source: NetnsError,
    },
    /// A frame is larger than the sending interface's MTU allows.
    #[error("stream {stream:?}: frame size {frame_size} needs an MTU of at least {needed} on {interface}, which has {mtu}; raise it (ip link set {interface} mtu {needed}) or use smaller frames")]
    Mtu {
        /// The stream.
        stream: String,
        /// Its frame size.
        frame_size: usize,
        /// The interface.
        interface: String,
        /// The interface's MTU.
        mtu: u32,
        /// The MTU the frame needs.
        needed: usize,
    },
    /// The streams sending from a port ask for more than its link carries.
    #[error("port {port:?}: its streams ask for {asked_mbps:.1} Mbit/s at L1, above the link speed of {interface}, {speed_mbps} Mbit/s; lower their rates (or use rate = \"max\")")]
    AboveLinkSpeed {
        /// The port.
        port: String,
        /// Its interface.
        interface: String,
        /// What the streams ask for, L1.
        asked_mbps: f64,
        /// The link speed the driver reports.
        speed_mbps: u64,
    },
    /// A rate in % of the link speed on a port whose driver reports none.
    #[error("port {port:?}: the link speed of {interface} is unknown (its driver reports none), so a rate in % of the line cannot be turned into frames/s; give the rate in frames/s or bits/s (\"100kpps\", \"1Gbps\")")]
    UnknownLinkSpeed {
        /// The port.
        port: String,
        /// Its interface (and namespace).
        interface: String,
    },
    /// The receive program could not be loaded or attached.
    #[error("port {port:?} ({interface}): {source}")]
    Receive {
        /// The port.
        port: String,
        /// The interface.
        interface: String,
        /// What failed.
        #[source]
        source: BpfError,
    },
    /// The reflector could not be loaded or attached on a `reflect = true` port.
    #[error("port {port:?} ({interface}): the reflector: {source}")]
    Reflect {
        /// The port.
        port: String,
        /// The interface.
        interface: String,
        /// What failed.
        #[source]
        source: BpfError,
    },
    /// The sender could not be opened or failed.
    #[error("port {port:?} ({interface}): {source}")]
    Transmit {
        /// The port.
        port: String,
        /// The interface.
        interface: String,
        /// What failed.
        #[source]
        source: TxError,
    },
    /// A stream's frame could not be built.
    #[error("stream {stream:?}: {source}")]
    Template {
        /// The stream.
        stream: String,
        /// What failed.
        #[source]
        source: FrameError,
    },
    /// The scenario asks for a core this machine does not have.
    #[error("port {port:?}: core {core} does not exist here (cores: {available}); fix the port's cores list")]
    Core {
        /// The port.
        port: String,
        /// The core asked for.
        core: usize,
        /// The cores there are.
        available: String,
    },
    /// An endpoint on kernel sockets (TCP, URL, ping, File-IO) could not
    /// be set up.
    #[error("{0}")]
    Endpoints(#[from] linerate_endpoints::EndpointError),
    /// A sender thread died.
    #[error("the sender thread for port {port:?} panicked; this is a linerate bug")]
    SenderPanicked {
        /// The port.
        port: String,
    },
}

/// A sending port as the run opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPortInfo {
    /// The port's name.
    pub port: String,
    /// Its interface (and namespace).
    pub interface: String,
    /// The queue the sender is bound to.
    pub queue: u32,
    /// The AF_XDP mode in use.
    pub mode: XskMode,
    /// The core the sender is pinned to, if any.
    pub core: Option<usize>,
    /// The streams this sender owns.
    pub streams: Vec<String>,
    /// Busy polling, when asked for.
    pub busy_poll: Option<BusyPoll>,
    /// UMEM the sender uses, sized from its streams' rates.
    pub umem_bytes: u64,
}

/// A receiving port as the run attached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPortInfo {
    /// The port's name.
    pub port: String,
    /// Its interface (and namespace).
    pub interface: String,
    /// How the kernel runs the counter.
    pub mode: XdpAttachMode,
    /// Kernel memory the counter's maps hold, bytes (per-CPU maps counted
    /// once per possible CPU).
    pub map_bytes: u64,
    /// Streams (ids 0 to this less one) whose latency percentiles are kept;
    /// the others have min, mean and max latency and jitter.
    pub latency_streams: u32,
}

/// A stream's destination MAC found from its port's router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterMac {
    /// The stream.
    pub stream: String,
    /// The port's default gateway.
    pub gateway: std::net::Ipv4Addr,
    /// Its MAC address, now the stream's destination MAC.
    pub mac: crate::wire::MacAddr,
}

/// What the run set up, reported before sending starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSetup {
    /// The senders.
    pub tx_ports: Vec<TxPortInfo>,
    /// The counters.
    pub rx_ports: Vec<RxPortInfo>,
    /// The `reflect = true` ports, with the mode the reflector runs in.
    pub reflect_ports: Vec<RxPortInfo>,
    /// Destination MACs taken from routers.
    pub router_macs: Vec<RouterMac>,
}

/// `plan` with every `dst_mac = "router"` replaced by the MAC of the
/// sending port's default gateway, and what was found.
pub fn resolve_router_macs(plan: &Plan) -> Result<(Plan, Vec<RouterMac>), RunError> {
    let mut resolved = plan.clone();
    let mut found = Vec::new();
    for stream in resolved
        .streams
        .iter_mut()
        .filter(|stream| stream.dst_mac_from_router && !plan.ports[stream.tx_port].remote)
    {
        let port = &plan.ports[stream.tx_port];
        let (gateway, mac) = in_namespace(port, || {
            netns::router_mac(&port.interface, port.namespace.as_deref())
        })?;
        stream.frame.dst_mac = mac;
        stream.dst_mac_from_router = false;
        found.push(RouterMac {
            stream: stream.name.clone(),
            gateway,
            mac,
        });
    }
    Ok((resolved, found))
}

/// `plan` with the leased address of each DHCP station put into the
/// frames of the streams whose `src_ip`/`dst_ip` is that station's
/// (`lease_of` gives a station's leased IPv4 address). The frame holds an
/// offset from 0.0.0.0 until then (0, or a copy's step), so the address
/// becomes the lease plus that offset.
pub fn resolve_station_leases(
    plan: &Plan,
    lease_of: impl Fn(&str) -> Option<std::net::Ipv4Addr>,
) -> Result<Plan, RunError> {
    let mut resolved = plan.clone();
    for stream in &mut resolved.streams {
        let (src_station, dst_station) = (stream.src_ip_dhcp.take(), stream.dst_ip_dhcp.take());
        for (station, is_src) in [(src_station, true), (dst_station, false)] {
            let Some(station) = station else { continue };
            let lease = lease_of(&station).ok_or_else(|| RunError::NoLease {
                stream: stream.name.clone(),
                station: station.clone(),
            })?;
            if let crate::frame::IpHeader::V4 { src, dst, .. } = &mut stream.frame.ip {
                let address = if is_src { src } else { dst };
                *address = u32::from(lease).wrapping_add(u32::from(*address)).into();
            }
        }
    }
    Ok(resolved)
}

/// Receives what a run reports while it goes.
pub trait RunObserver {
    /// Senders are open and counters attached; sending is about to start.
    fn setup_done(&mut self, setup: &RunSetup);
    /// One report interval has passed (or the run has drained: the last
    /// report, marked final).
    fn interval(&mut self, report: &IntervalReport);
}

/// A receiving port's counter and the streams it counts.
pub(crate) struct RxPort {
    /// The attached counter.
    pub(crate) counter: RxCounter,
    /// Ids of the streams received on this port.
    pub(crate) streams: Vec<u32>,
}

/// Options for a run that are not part of the scenario.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// AF_XDP mode to ask for on every port, over each port's own choice
    /// (which defaults to auto).
    pub xsk_mode: Option<XskModeRequest>,
    /// Frames per batch.
    pub batch_size: u32,
    /// What the receive program does with the frames it counts.
    pub counted_frames: CountedFrames,
    /// Busy polling on the senders' sockets (real NICs).
    pub busy_poll: Option<BusyPoll>,
    /// Due frames are released together at most this often: each frame
    /// leaves at most this long after it falls due, and a wakeup carries a
    /// burst rather than one frame.
    pub release_interval: Duration,
    /// Detach an XDP program already on a receiving port instead of failing.
    pub force_xdp: bool,
    /// Set (by a signal handler) to end a wait in preparation early: WiFi
    /// stations waiting to associate give up and are removed.
    pub interrupt: Option<&'static std::sync::atomic::AtomicBool>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            xsk_mode: None,
            batch_size: DEFAULT_BATCH,
            counted_frames: CountedFrames::Drop,
            busy_poll: None,
            release_interval: DEFAULT_RELEASE_INTERVAL,
            force_xdp: false,
            interrupt: None,
        }
    }
}

/// Checks every port's namespace and interface, every stream's frame
/// against its sending interface's MTU, and each port's paced rates against
/// its link speed (where the driver reports one), before anything is
/// attached.
pub(crate) fn preflight(plan: &Plan) -> Result<(), RunError> {
    // A port on another agent (multi-host runs) is checked there.
    for (index, port) in plan
        .ports
        .iter()
        .enumerate()
        .filter(|(_, port)| !port.remote)
    {
        let (mtu, speed_mbps) = in_namespace(port, || {
            netns::interface_index(&port.interface, port.namespace.as_deref())?;
            Ok((
                crate::ethtool::interface_mtu(&port.interface).unwrap_or(u32::MAX),
                crate::ethtool::interface_speed_mbps(&port.interface),
            ))
        })?;
        // Every paced stream sending from the port, at L1 (frame, FCS,
        // preamble and gap), against what the link carries.
        let l1_bits_per_second: f64 = plan
            .streams
            .iter()
            .filter(|stream| stream.tx_port == index && stream.rate.frames_per_second().is_finite())
            .map(StreamPlan::l1_bits_per_second)
            .sum();
        if let Some(speed_mbps) = speed_mbps {
            if l1_bits_per_second > speed_mbps as f64 * 1e6 {
                return Err(RunError::AboveLinkSpeed {
                    port: port.name.clone(),
                    interface: port.describe(),
                    asked_mbps: l1_bits_per_second / 1e6,
                    speed_mbps,
                });
            }
        }
        for stream in plan.streams.iter().filter(|stream| stream.tx_port == index) {
            let needed = stream.frame.mtu_needed();
            if needed > mtu as usize {
                return Err(RunError::Mtu {
                    stream: stream.name.clone(),
                    frame_size: stream.frame.size.max(),
                    interface: port.describe(),
                    mtu,
                    needed,
                });
            }
        }
    }
    Ok(())
}

/// Runs `action` with the calling thread inside `port`'s namespace.
pub(crate) fn in_namespace<T>(
    port: &PortPlan,
    action: impl FnOnce() -> Result<T, NetnsError>,
) -> Result<T, RunError> {
    let port_error = |source| RunError::Port {
        port: port.name.clone(),
        source,
    };
    let _guard = NetnsGuard::enter_optional(port.namespace.as_deref()).map_err(port_error)?;
    action().map_err(port_error)
}

/// Attaches an XDP program to `port`'s interface with `attach`, which gets
/// the interface's index: the interface is looked up and the bpf_link
/// created inside the port's namespace, entered once. `program_error`
/// says which program failed.
fn attach_to_port(
    port: &PortPlan,
    attach: impl FnOnce(u32) -> Result<XdpAttachMode, BpfError>,
    program_error: impl FnOnce(BpfError) -> RunError,
) -> Result<XdpAttachMode, RunError> {
    let port_error = |source| RunError::Port {
        port: port.name.clone(),
        source,
    };
    let _guard = NetnsGuard::enter_optional(port.namespace.as_deref()).map_err(port_error)?;
    let ifindex =
        netns::interface_index(&port.interface, port.namespace.as_deref()).map_err(port_error)?;
    attach(ifindex).map_err(program_error)
}

/// Loads the receive counter and attaches it to `port`, for `stream_count`
/// streams. An XDP program already there is an error, or detached when
/// `force`.
fn attach_counter(
    port: &PortPlan,
    stream_count: u32,
    counted: CountedFrames,
    tai_streams: &[u32],
    force: bool,
) -> Result<(RxCounter, XdpAttachMode), RunError> {
    let receive_error = |source| RunError::Receive {
        port: port.name.clone(),
        interface: port.describe(),
        source,
    };
    let mut counter = RxCounter::load_with_tai_streams(stream_count, counted, tai_streams)
        .map_err(receive_error)?;
    let mode = attach_to_port(
        port,
        |ifindex| counter.attach(ifindex, force),
        receive_error,
    )?;
    Ok((counter, mode))
}

/// Attaches the reflector to every `reflect = true` port of `plan`. An XDP
/// program already there is an error, or detached when `force`.
pub(crate) fn attach_reflectors(
    plan: &Plan,
    force: bool,
) -> Result<(Vec<Reflector>, Vec<RxPortInfo>), RunError> {
    let mut reflectors = Vec::new();
    let mut infos = Vec::new();
    for port in plan
        .ports
        .iter()
        .filter(|port| port.reflect && !port.remote)
    {
        let (reflector, mode) = attach_reflector(port, force)?;
        reflectors.push(reflector);
        infos.push(RxPortInfo {
            port: port.name.clone(),
            interface: port.describe(),
            mode,
            map_bytes: 0,
            latency_streams: 0,
        });
    }
    Ok((reflectors, infos))
}

/// Loads the reflector and attaches it to `port`. An XDP program already
/// there is an error, or detached when `force`.
pub fn attach_reflector(
    port: &PortPlan,
    force: bool,
) -> Result<(Reflector, XdpAttachMode), RunError> {
    let reflect_error = |source| RunError::Reflect {
        port: port.name.clone(),
        interface: port.describe(),
        source,
    };
    let mut reflector = Reflector::load().map_err(reflect_error)?;
    let mode = attach_to_port(
        port,
        |ifindex| reflector.attach(ifindex, force),
        reflect_error,
    )?;
    Ok((reflector, mode))
}

pub(crate) fn attach_counters(
    plan: &Plan,
    counted: CountedFrames,
    force: bool,
) -> Result<(Vec<RxPort>, Vec<RxPortInfo>), RunError> {
    let mut by_port: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    // A stream counted on another agent's port is only sent here.
    for stream in plan
        .streams
        .iter()
        .filter(|stream| !plan.ports[stream.rx_port].remote)
    {
        by_port.entry(stream.rx_port).or_default().push(stream.id);
    }
    let mut ports = Vec::new();
    let mut infos = Vec::new();
    for (port_index, streams) in by_port {
        let port = &plan.ports[port_index];
        // Streams sent on another agent are stamped with CLOCK_TAI.
        let tai_streams: Vec<u32> = plan
            .streams
            .iter()
            .filter(|stream| stream.rx_port == port_index && plan.crosses_agents(stream))
            .map(|stream| stream.id)
            .collect();
        let (counter, mode) = attach_counter(
            port,
            plan.streams.len() as u32,
            counted,
            &tai_streams,
            force,
        )?;
        infos.push(RxPortInfo {
            port: port.name.clone(),
            interface: port.describe(),
            mode,
            map_bytes: counter.map_bytes(),
            latency_streams: counter.latency_streams(),
        });
        ports.push(RxPort { counter, streams });
    }
    Ok((ports, infos))
}

/// Counts of what arrived on a port during [`count`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounts {
    /// Frames with linerate's payload header (any stream), dropped after counting.
    pub frames_linerate: u64,
    /// Everything else, passed on to the stack.
    pub frames_other: u64,
}

impl PortCounts {
    /// All frames.
    pub fn total(&self) -> u64 {
        self.frames_linerate + self.frames_other
    }
}

/// Attaches the receive counter to `port` for `duration` (or until `stop`)
/// and counts every frame that arrives: linerate's own, or any other
/// sender's (a peer tool measured on the same counter). `on_interval` hears
/// the totals so far every `interval`. Returns the totals and the time
/// counted.
pub fn count(
    port: &PortPlan,
    duration: Duration,
    interval: Duration,
    stop: &AtomicBool,
    on_interval: &mut dyn FnMut(Duration, PortCounts),
) -> Result<(PortCounts, Duration), RunError> {
    let (counter, _) = attach_counter(port, 1, CountedFrames::Drop, &[], false)?;
    let read = |counter: &RxCounter| -> PortCounts {
        let stream = counter.stream_rx(0).unwrap_or_default();
        let totals = counter.totals().unwrap_or_default();
        PortCounts {
            frames_linerate: stream.frames + totals.frames_unknown_stream,
            frames_other: totals.frames_passed,
        }
    };
    let started = Instant::now();
    let mut next = started + interval;
    while started.elapsed() < duration && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(
            Duration::from_millis(5).min(next.saturating_duration_since(Instant::now())),
        );
        if Instant::now() >= next {
            on_interval(started.elapsed(), read(&counter));
            next += interval;
        }
    }
    Ok((read(&counter), started.elapsed()))
}
