//! `linerate doctor`: what the kernel and driver say about an interface
//! that matters for sending and counting at line rate — driver, queues,
//! rings, MTU, link speed, XDP features and zero-copy support (from the
//! kernel's netdev netlink family), an XDP program already attached, CPU
//! frequency governors, the interface's IRQ affinity — and concrete advice.

use std::io;

use crate::ethtool;
pub use crate::ethtool::{Channels, DriverInfo, Rings};
use crate::netns::{self, NetnsError, NetnsGuard};

/// XDP abilities as the kernel reports them (netdev family, kernel 6.3+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpFeatures {
    /// The `xdp-features` bit set (NETDEV_XDP_ACT_*).
    pub bits: u64,
    /// Most buffers per zero-copy AF_XDP frame (0: zero-copy unsupported).
    pub zero_copy_max_segments: u32,
}

impl XdpFeatures {
    /// Native XDP in the driver.
    pub const BASIC: u64 = 1;
    /// XDP_REDIRECT.
    pub const REDIRECT: u64 = 2;
    /// Frames redirected to this device can be sent (ndo_xdp_xmit).
    pub const NDO_XMIT: u64 = 4;
    /// AF_XDP zero-copy.
    pub const XSK_ZEROCOPY: u64 = 8;
    /// Hardware offload.
    pub const HW_OFFLOAD: u64 = 16;
    /// Multi-buffer (jumbo) frames on receive.
    pub const RX_SG: u64 = 32;
    /// Multi-buffer frames on ndo_xdp_xmit.
    pub const NDO_XMIT_SG: u64 = 64;

    /// The names of the features present.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (Self::BASIC, "native XDP"),
            (Self::REDIRECT, "redirect"),
            (Self::NDO_XMIT, "xmit"),
            (Self::XSK_ZEROCOPY, "AF_XDP zero-copy"),
            (Self::HW_OFFLOAD, "offload"),
            (Self::RX_SG, "multi-buffer RX"),
            (Self::NDO_XMIT_SG, "multi-buffer xmit"),
        ]
        .iter()
        .filter(|(bit, _)| self.bits & bit != 0)
        .map(|(_, name)| *name)
        .collect()
    }
}

/// Everything `doctor` found about one interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnosis {
    /// The interface.
    pub interface: String,
    /// Its namespace, if not the current one.
    pub namespace: Option<String>,
    /// Its MTU.
    pub mtu: Option<u32>,
    /// Its link speed in Mbit/s.
    pub speed_mbps: Option<u64>,
    /// The driver.
    pub driver: Option<DriverInfo>,
    /// Queue counts.
    pub channels: Option<Channels>,
    /// Ring sizes.
    pub rings: Option<Rings>,
    /// XDP features.
    pub xdp: Option<XdpFeatures>,
    /// The XDP program attached now: (id, name).
    pub attached: Option<(u32, String)>,
    /// CPU frequency governors in use, with how many CPUs use each.
    pub governors: Vec<(String, usize)>,
    /// The interface's IRQs and the CPUs each may run on.
    pub irqs: Vec<(u32, String)>,
    /// Concrete things to do, one sentence each.
    pub advice: Vec<String>,
}

/// Looks at `interface` (in `namespace`, if given).
pub fn diagnose(interface: &str, namespace: Option<&str>) -> Result<Diagnosis, NetnsError> {
    let mut diagnosis = {
        let _inside = NetnsGuard::enter_optional(namespace)?;
        let ifindex = netns::interface_index(interface, namespace)?;
        let attached = linerate_bpf::introspect::attached_xdp_program(ifindex).map(|id| {
            let name = linerate_bpf::introspect::program_info(id)
                .map(|info| info.name)
                .unwrap_or_default();
            (id, name)
        });
        Diagnosis {
            interface: interface.to_string(),
            namespace: namespace.map(str::to_string),
            mtu: ethtool::interface_mtu(interface).ok(),
            speed_mbps: ethtool::interface_speed_mbps(interface),
            driver: ethtool::driver_info(interface).ok(),
            channels: ethtool::channels(interface).ok(),
            rings: ethtool::rings(interface).ok(),
            xdp: netdev_xdp_features(ifindex).ok(),
            attached,
            ..Diagnosis::default()
        }
    };
    diagnosis.governors = cpu_governors();
    diagnosis.irqs = interface_irqs(interface);
    diagnosis.advice = advise(&diagnosis);
    Ok(diagnosis)
}

fn advise(diagnosis: &Diagnosis) -> Vec<String> {
    let interface = &diagnosis.interface;
    let mut advice = Vec::new();
    if let Some(rings) = diagnosis.rings {
        if rings.rx < rings.rx_max || rings.tx < rings.tx_max {
            advice.push(format!(
                "rings are below their maximum: ethtool -G {interface} rx {} tx {} (fewer drops in bursts)",
                rings.rx_max, rings.tx_max
            ));
        }
    }
    match diagnosis.xdp {
        Some(xdp) if xdp.bits & XdpFeatures::BASIC == 0 => advice.push(format!(
            "{interface} has no native XDP: the counter runs as generic (skb) XDP, far slower; count on a port whose driver has it"
        )),
        Some(xdp) if xdp.bits & XdpFeatures::XSK_ZEROCOPY == 0 => advice.push(format!(
            "{interface} has no AF_XDP zero-copy: linerate sends in copy mode (slower, one copy per frame); a NIC whose driver has zero-copy (ice, i40e, mlx5, ixgbe, igc ...) goes further"
        )),
        None => advice.push(
            "the kernel did not report XDP features (older than 6.3?): linerate still tries zero-copy first and reports the mode it gets".to_string(),
        ),
        _ => {}
    }
    if let Some((id, name)) = &diagnosis.attached {
        advice.push(format!(
            "an XDP program is attached now ({name:?}, id {id}): linerate run refuses this port unless given --force"
        ));
    }
    if let Some(channels) = diagnosis.channels {
        if channels.max_combined > channels.combined {
            advice.push(format!(
                "{} of {} combined queues are in use: ethtool -L {interface} combined {} gives more queues for more workers",
                channels.combined, channels.max_combined, channels.max_combined
            ));
        }
    }
    let slow_governors: Vec<&str> = diagnosis
        .governors
        .iter()
        .filter(|(governor, _)| governor != "performance")
        .map(|(governor, _)| governor.as_str())
        .collect();
    if !slow_governors.is_empty() {
        advice.push(format!(
            "CPU frequency governor {}: cpupower frequency-set -g performance keeps the cores at full speed",
            slow_governors.join(", ")
        ));
    }
    for (sysctl, minimum) in [
        ("net/core/rmem_max", 16u64 << 20),
        ("net/core/wmem_max", 16u64 << 20),
    ] {
        let value = std::fs::read_to_string(format!("/proc/sys/{sysctl}"))
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        if value.is_some_and(|value| value < minimum) {
            advice.push(format!(
                "socket buffers are small for peers measured beside linerate: sysctl -w {}={minimum}",
                sysctl.replace('/', ".")
            ));
        }
    }
    advice
}

/// CPU frequency governors and how many CPUs use each (empty where the
/// kernel has no cpufreq, as in most virtual machines).
fn cpu_governors() -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    let Ok(cpus) = std::fs::read_dir("/sys/devices/system/cpu") else {
        return counts;
    };
    for cpu in cpus.filter_map(Result::ok) {
        let path = cpu.path().join("cpufreq/scaling_governor");
        if let Ok(governor) = std::fs::read_to_string(path) {
            let governor = governor.trim().to_string();
            match counts.iter_mut().find(|(name, _)| *name == governor) {
                Some((_, count)) => *count += 1,
                None => counts.push((governor, 1)),
            }
        }
    }
    counts
}

/// The IRQs /proc/interrupts names after `interface` (its queues'), each
/// with the CPUs it may run on.
fn interface_irqs(interface: &str) -> Vec<(u32, String)> {
    let Ok(interrupts) = std::fs::read_to_string("/proc/interrupts") else {
        return Vec::new();
    };
    interrupts
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .last()
                .is_some_and(|name| name == interface || name.starts_with(&format!("{interface}-")))
        })
        .filter_map(|line| line.trim().split(':').next()?.parse::<u32>().ok())
        .map(|irq| {
            let cpus = std::fs::read_to_string(format!("/proc/irq/{irq}/smp_affinity_list"))
                .map(|text| text.trim().to_string())
                .unwrap_or_default();
            (irq, cpus)
        })
        .collect()
}

/// Generic netlink: the netdev family's DEV_GET for `ifindex`, in the
/// calling thread's namespace.
fn netdev_xdp_features(ifindex: u32) -> io::Result<XdpFeatures> {
    let socket = netlink::Socket::open()?;
    let family = socket.family_id("netdev")?;
    let attributes = socket.request(
        family,
        netlink::NETDEV_CMD_DEV_GET,
        &netlink::attribute_u32(netlink::NETDEV_A_DEV_IFINDEX, ifindex),
    )?;
    let mut features = XdpFeatures::default();
    for (kind, value) in attributes {
        match kind {
            netlink::NETDEV_A_DEV_XDP_FEATURES => {
                features.bits = netlink::read_u64(&value).unwrap_or(0);
            }
            netlink::NETDEV_A_DEV_XDP_ZC_MAX_SEGS => {
                features.zero_copy_max_segments = netlink::read_u64(&value).unwrap_or(0) as u32;
            }
            _ => {}
        }
    }
    Ok(features)
}

/// Just enough generic netlink to ask one question and read the answer's
/// attributes.
mod netlink {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const NETLINK_GENERIC: i32 = 16;
    const GENL_ID_CTRL: u16 = 0x10;
    const CTRL_CMD_GETFAMILY: u8 = 3;
    const CTRL_ATTR_FAMILY_ID: u16 = 1;
    const CTRL_ATTR_FAMILY_NAME: u16 = 2;
    const NLM_F_REQUEST: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    /// nlmsghdr: length, type, flags, sequence, port.
    const HEADER_LEN: usize = 16;
    /// genlmsghdr: command, version, reserved.
    const GENL_HEADER_LEN: usize = 4;
    /// `netdev` family: get one device.
    pub const NETDEV_CMD_DEV_GET: u8 = 1;
    /// `netdev` attribute: the interface index.
    pub const NETDEV_A_DEV_IFINDEX: u16 = 1;
    /// `netdev` attribute: the XDP feature bits.
    pub const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
    /// `netdev` attribute: most segments of a zero-copy AF_XDP frame.
    pub const NETDEV_A_DEV_XDP_ZC_MAX_SEGS: u16 = 4;

    fn align4(len: usize) -> usize {
        (len + 3) & !3
    }

    /// One attribute: length, type, value, padded to 4 bytes.
    pub fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut bytes = Vec::with_capacity(align4(len));
        bytes.extend_from_slice(&(len as u16).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(value);
        bytes.resize(align4(len), 0);
        bytes
    }

    /// A u32 attribute.
    pub fn attribute_u32(kind: u16, value: u32) -> Vec<u8> {
        attribute(kind, &value.to_ne_bytes())
    }

    /// A u16, u32 or u64 attribute value.
    pub fn read_u64(value: &[u8]) -> Option<u64> {
        match value.len() {
            2 => Some(u64::from(u16::from_ne_bytes(value.try_into().ok()?))),
            4 => Some(u64::from(u32::from_ne_bytes(value.try_into().ok()?))),
            8 => Some(u64::from_ne_bytes(value.try_into().ok()?)),
            _ => None,
        }
    }

    /// A generic netlink socket in the calling thread's namespace.
    pub struct Socket(OwnedFd);

    impl Socket {
        pub fn open() -> io::Result<Socket> {
            // SAFETY: plain socket creation; the descriptor is owned below.
            let fd = unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    NETLINK_GENERIC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor nothing else owns.
            Ok(Socket(unsafe { OwnedFd::from_raw_fd(fd) }))
        }

        /// The id of the generic netlink family called `name`.
        pub fn family_id(&self, name: &str) -> io::Result<u16> {
            let mut name = name.as_bytes().to_vec();
            name.push(0);
            let attributes = self.request(
                GENL_ID_CTRL,
                CTRL_CMD_GETFAMILY,
                &attribute(CTRL_ATTR_FAMILY_NAME, &name),
            )?;
            attributes
                .iter()
                .find(|(kind, _)| *kind == CTRL_ATTR_FAMILY_ID)
                .and_then(|(_, value)| read_u64(value))
                .map(|id| id as u16)
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no family id"))
        }

        /// Sends one request and returns the answer's attributes.
        pub fn request(
            &self,
            family: u16,
            command: u8,
            attributes: &[u8],
        ) -> io::Result<Vec<(u16, Vec<u8>)>> {
            let len = HEADER_LEN + GENL_HEADER_LEN + attributes.len();
            let mut message = Vec::with_capacity(len);
            message.extend_from_slice(&(len as u32).to_ne_bytes());
            message.extend_from_slice(&family.to_ne_bytes());
            message.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
            message.extend_from_slice(&1u32.to_ne_bytes());
            message.extend_from_slice(&0u32.to_ne_bytes());
            message.extend_from_slice(&[command, 1, 0, 0]);
            message.extend_from_slice(attributes);
            // SAFETY: sends `message`, a live buffer of its length, to the
            // kernel (the default destination of a netlink socket).
            let sent = unsafe {
                libc::send(
                    self.0.as_raw_fd(),
                    message.as_ptr().cast(),
                    message.len(),
                    0,
                )
            };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut answer = vec![0u8; 16384];
            // SAFETY: receives into `answer`, a live buffer of its length.
            let received = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    answer.as_mut_ptr().cast(),
                    answer.len(),
                    0,
                )
            };
            if received < 0 {
                return Err(io::Error::last_os_error());
            }
            let answer = &answer[..received as usize];
            let header = answer
                .get(..HEADER_LEN)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short answer"))?;
            let kind = u16::from_ne_bytes([header[4], header[5]]);
            if kind == NLMSG_ERROR {
                let code = answer
                    .get(HEADER_LEN..HEADER_LEN + 4)
                    .and_then(|bytes| bytes.try_into().ok())
                    .map(i32::from_ne_bytes)
                    .unwrap_or(-libc::EIO);
                return Err(io::Error::from_raw_os_error(-code));
            }
            let mut attributes = Vec::new();
            let mut rest = answer.get(HEADER_LEN + GENL_HEADER_LEN..).unwrap_or(&[]);
            while rest.len() >= 4 {
                let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
                let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3FFF;
                if len < 4 || len > rest.len() {
                    break;
                }
                attributes.push((kind, rest[4..len].to_vec()));
                rest = rest.get(align4(len)..).unwrap_or(&[]);
            }
            Ok(attributes)
        }
    }
}
