//! Interface ioctls in the calling thread's network namespace: the MTU
//! (SIOCGIFMTU) and the ethtool queries (link speed, driver, channels,
//! rings), with the plain types they return. `doctor` and the run's
//! preflight both read them; this module depends on neither.

use std::io;

/// What the driver reports about itself (ETHTOOL_GDRVINFO).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverInfo {
    /// The driver's name, e.g. "ixgbe" or "veth".
    pub driver: String,
    /// Its version.
    pub version: String,
    /// Firmware version, if any.
    pub firmware: String,
    /// Bus address, if any.
    pub bus: String,
}

/// Queue counts (ETHTOOL_GCHANNELS): current and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Channels {
    /// Combined (RX and TX) queues now.
    pub combined: u32,
    /// Most combined queues.
    pub max_combined: u32,
    /// RX-only queues now.
    pub rx: u32,
    /// TX-only queues now.
    pub tx: u32,
}

/// Ring sizes (ETHTOOL_GRINGPARAM): current and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rings {
    /// RX descriptors now.
    pub rx: u32,
    /// Most RX descriptors.
    pub rx_max: u32,
    /// TX descriptors now.
    pub tx: u32,
    /// Most TX descriptors.
    pub tx_max: u32,
}

/// The MTU of `interface` in the calling thread's namespace.
pub fn interface_mtu(interface: &str) -> io::Result<u32> {
    let request = interface_ioctl(interface, libc::SIOCGIFMTU, |_| {})?;
    // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member of the union.
    let mtu = unsafe { request.ifr_ifru.ifru_mtu };
    Ok(mtu.max(0) as u32)
}

/// `struct ethtool_cmd` from linux/ethtool.h (ETHTOOL_GSET).
#[repr(C)]
#[derive(Default)]
struct EthtoolCommand {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSET: u32 = 1;
/// What drivers report when they do not know the speed.
const SPEED_UNKNOWN: u32 = u32::MAX;

/// The link speed of `interface` (in the calling thread's namespace) in
/// Mbit/s, as the driver reports it; `None` when it does not know (or the
/// link is down, or there is no driver to ask, as for loopback).
pub fn interface_speed_mbps(interface: &str) -> Option<u64> {
    let mut command = EthtoolCommand {
        cmd: ETHTOOL_GSET,
        ..EthtoolCommand::default()
    };
    ethtool(interface, &mut command).ok()?;
    let speed = u32::from(command.speed) | (u32::from(command.speed_hi) << 16);
    (speed != 0 && speed != SPEED_UNKNOWN && speed != u32::from(u16::MAX))
        .then_some(u64::from(speed))
}

/// `struct ethtool_drvinfo` (ETHTOOL_GDRVINFO).
#[repr(C)]
struct EthtoolDriverInfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// `struct ethtool_channels` (ETHTOOL_GCHANNELS).
#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

/// `struct ethtool_ringparam` (ETHTOOL_GRINGPARAM).
#[repr(C)]
#[derive(Default)]
struct EthtoolRings {
    cmd: u32,
    rx_max_pending: u32,
    rx_mini_max_pending: u32,
    rx_jumbo_max_pending: u32,
    tx_max_pending: u32,
    rx_pending: u32,
    rx_mini_pending: u32,
    rx_jumbo_pending: u32,
    tx_pending: u32,
}

const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GRINGPARAM: u32 = 0x10;
const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// An ethtool request structure: a repr(C) struct whose first field is
/// the command, laid out as linux/ethtool.h defines it for that command.
trait EthtoolRequest {}
impl EthtoolRequest for EthtoolCommand {}
impl EthtoolRequest for EthtoolDriverInfo {}
impl EthtoolRequest for EthtoolChannels {}
impl EthtoolRequest for EthtoolRings {}

/// Runs the ethtool ioctl whose command and buffer `request` is.
fn ethtool<T: EthtoolRequest>(interface: &str, request: &mut T) -> io::Result<()> {
    let data = (request as *mut T).cast::<libc::c_char>();
    interface_ioctl(interface, SIOCETHTOOL, |ifreq| {
        ifreq.ifr_ifru.ifru_data = data;
    })
    .map(|_| ())
}

fn text_of(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// What the driver of `interface` (in the calling thread's namespace) says
/// about itself.
pub fn driver_info(interface: &str) -> io::Result<DriverInfo> {
    let mut info = EthtoolDriverInfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        version: [0; 32],
        fw_version: [0; 32],
        bus_info: [0; 32],
        erom_version: [0; 32],
        reserved2: [0; 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    ethtool(interface, &mut info)?;
    Ok(DriverInfo {
        driver: text_of(&info.driver),
        version: text_of(&info.version),
        firmware: text_of(&info.fw_version),
        bus: text_of(&info.bus_info),
    })
}

/// The queue counts of `interface` (in the calling thread's namespace).
pub fn channels(interface: &str) -> io::Result<Channels> {
    let mut channels = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..EthtoolChannels::default()
    };
    ethtool(interface, &mut channels)?;
    Ok(Channels {
        combined: channels.combined_count,
        max_combined: channels.max_combined,
        rx: channels.rx_count,
        tx: channels.tx_count,
    })
}

/// The ring sizes of `interface` (in the calling thread's namespace).
pub fn rings(interface: &str) -> io::Result<Rings> {
    let mut rings = EthtoolRings {
        cmd: ETHTOOL_GRINGPARAM,
        ..EthtoolRings::default()
    };
    ethtool(interface, &mut rings)?;
    Ok(Rings {
        rx: rings.rx_pending,
        rx_max: rings.rx_max_pending,
        tx: rings.tx_pending,
        tx_max: rings.tx_max_pending,
    })
}

/// Runs the interface ioctl `code` on `interface` (in the calling thread's
/// namespace) with a request `prepare` fills in, and returns the request.
fn interface_ioctl(
    interface: &str,
    code: libc::c_ulong,
    prepare: impl FnOnce(&mut libc::ifreq),
) -> io::Result<libc::ifreq> {
    let mut request: libc::ifreq = unsafe_zeroed_ifreq();
    let bytes = interface.as_bytes();
    if bytes.len() >= request.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    prepare(&mut request);
    // SAFETY: plain socket creation; the fd is closed below.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `request` is a valid ifreq with a NUL-terminated name; any
    // pointer `prepare` put in its union points at a live buffer of the
    // size the ioctl expects, which the kernel may write.
    let result = unsafe { libc::ioctl(socket, code, &mut request) };
    let error = io::Error::last_os_error();
    // SAFETY: `socket` is an fd we own and close once.
    unsafe { libc::close(socket) };
    if result < 0 {
        return Err(error);
    }
    Ok(request)
}

fn unsafe_zeroed_ifreq() -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}
