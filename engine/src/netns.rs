//! Entering a network namespace on the calling thread, and finding
//! interfaces there. `setns(2)` with CLONE_NEWNET changes only the calling
//! thread, so a guard enters on creation and returns on drop.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Where `ip netns` keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Errors entering a namespace or finding an interface.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// No namespace of that name.
    #[error("network namespace {name:?} does not exist (see `ip netns list`; `linerate lab up` creates the lab's)")]
    NotFound {
        /// The name looked for.
        name: String,
    },
    /// The namespace exists but could not be entered.
    #[error(
        "cannot enter network namespace {name:?}: {source} (linerate needs root or CAP_SYS_ADMIN)"
    )]
    Enter {
        /// The namespace.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The port has no IPv4 default route to find a router by.
    #[error("no IPv4 default route on {interface} in {place}, so there is no router MAC to use; add one (ip route add default via <gateway> dev {interface}) or give dst_mac explicitly")]
    NoDefaultRoute {
        /// The interface.
        interface: String,
        /// "namespace X" or "the current namespace".
        place: String,
    },
    /// The gateway did not answer ARP.
    #[error("the router {gateway} on {interface} did not answer ARP within {waited_ms} ms; check it is up, or give dst_mac explicitly")]
    RouterUnresolved {
        /// The gateway's address.
        gateway: std::net::Ipv4Addr,
        /// The interface.
        interface: String,
        /// How long linerate waited.
        waited_ms: u64,
    },
    /// No interface of that name in the namespace.
    #[error("no interface {interface:?} in {place}; interfaces there: {available}")]
    NoInterface {
        /// The interface looked for.
        interface: String,
        /// "namespace X" or "the current namespace".
        place: String,
        /// The interfaces that do exist, comma-separated.
        available: String,
    },
}

/// While alive, the calling thread is in another network namespace.
/// Dropping it returns the thread to where it was.
#[derive(Debug)]
pub struct NetnsGuard {
    original: File,
}

impl NetnsGuard {
    /// Moves the calling thread into the named namespace.
    pub fn enter(name: &str) -> Result<NetnsGuard, NetnsError> {
        let enter_error = |source| NetnsError::Enter {
            name: name.to_string(),
            source,
        };
        let original = File::open("/proc/thread-self/ns/net").map_err(enter_error)?;
        let target = File::open(format!("{NETNS_RUN_DIR}/{name}")).map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                NetnsError::NotFound {
                    name: name.to_string(),
                }
            } else {
                enter_error(error)
            }
        })?;
        set_thread_namespace(&target).map_err(enter_error)?;
        Ok(NetnsGuard { original })
    }

    /// Enters `name` if given; `None` stays in the current namespace.
    pub fn enter_optional(name: Option<&str>) -> Result<Option<NetnsGuard>, NetnsError> {
        name.map(NetnsGuard::enter).transpose()
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        // Returning can only fail if the original namespace vanished, which
        // a namespace that the thread was in cannot do while we hold its fd.
        let _ = set_thread_namespace(&self.original);
    }
}

fn set_thread_namespace(namespace: &File) -> io::Result<()> {
    // SAFETY: the fd is open for the lifetime of `namespace`; setns only
    // reads it and changes the calling thread's network namespace.
    let result = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The index of `interface` in the calling thread's namespace, or an error
/// listing the interfaces that exist there. `namespace` names the place in
/// the message.
pub fn interface_index(interface: &str, namespace: Option<&str>) -> Result<u32, NetnsError> {
    let name = std::ffi::CString::new(interface).map_err(|_| no_interface(interface, namespace))?;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        Err(no_interface(interface, namespace))
    } else {
        Ok(index)
    }
}

fn no_interface(interface: &str, namespace: Option<&str>) -> NetnsError {
    let mut names = interface_names();
    names.retain(|name| name != "lo");
    NetnsError::NoInterface {
        interface: interface.to_string(),
        place: place_name(namespace),
        available: if names.is_empty() {
            "none but lo".to_string()
        } else {
            names.join(", ")
        },
    }
}

/// The interface names in the calling thread's namespace.
pub fn interface_names() -> Vec<String> {
    let mut names = Vec::new();
    // SAFETY: if_nameindex returns a heap array terminated by an entry with
    // index 0 (or null on failure); we read it and free it once.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return names;
        }
        let mut entry = list;
        while (*entry).if_index != 0 && !(*entry).if_name.is_null() {
            names.push(
                std::ffi::CStr::from_ptr((*entry).if_name)
                    .to_string_lossy()
                    .into_owned(),
            );
            entry = entry.add(1);
        }
        libc::if_freenameindex(list);
    }
    names
}

fn place_name(namespace: Option<&str>) -> String {
    match namespace {
        Some(name) => format!("namespace {name:?}"),
        None => "the current namespace".to_string(),
    }
}

/// The IPv4 default gateway on `interface`, from the routing table of the
/// calling thread's namespace.
pub fn default_gateway(
    interface: &str,
    namespace: Option<&str>,
) -> Result<std::net::Ipv4Addr, NetnsError> {
    let table = std::fs::read_to_string("/proc/thread-self/net/route").unwrap_or_default();
    // Columns: Iface Destination Gateway Flags ... Mask; addresses are hex
    // in host byte order.
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let (device, destination, gateway, mask) = (
                *columns.first()?,
                *columns.get(1)?,
                *columns.get(2)?,
                *columns.get(7)?,
            );
            let parse = |hex: &str| u32::from_str_radix(hex, 16).ok();
            (device == interface && parse(destination)? == 0 && parse(mask)? == 0)
                .then(|| parse(gateway).map(|raw| std::net::Ipv4Addr::from(u32::from_be(raw))))
                .flatten()
        })
        .find(|gateway| !gateway.is_unspecified())
        .ok_or_else(|| NetnsError::NoDefaultRoute {
            interface: interface.to_string(),
            place: place_name(namespace),
        })
}

/// The MAC address of `address` on `interface` if the neighbour table of
/// the calling thread's namespace has a complete entry for it.
pub fn neighbor_mac(address: std::net::Ipv4Addr, interface: &str) -> Option<crate::wire::MacAddr> {
    const ARP_COMPLETE: u32 = 0x2;
    let table = std::fs::read_to_string("/proc/thread-self/net/arp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        let flags = u32::from_str_radix(columns.get(2)?.trim_start_matches("0x"), 16).ok()?;
        let matches = columns.first()?.parse::<std::net::Ipv4Addr>().ok()? == address
            && *columns.get(5)? == interface
            && flags & ARP_COMPLETE != 0;
        if matches {
            columns.get(3)?.parse().ok()
        } else {
            None
        }
    })
}

/// The router MAC for a port: its default gateway's MAC, resolved with ARP
/// (one UDP datagram to the gateway's discard port starts it) when the
/// neighbour table does not have it yet. Runs in the calling thread's
/// namespace.
pub fn router_mac(
    interface: &str,
    namespace: Option<&str>,
) -> Result<(std::net::Ipv4Addr, crate::wire::MacAddr), NetnsError> {
    const DISCARD_PORT: u16 = 9;
    const WAIT: std::time::Duration = std::time::Duration::from_secs(2);
    let gateway = default_gateway(interface, namespace)?;
    if let Some(mac) = neighbor_mac(gateway, interface) {
        return Ok((gateway, mac));
    }
    if let Ok(socket) = std::net::UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0)) {
        let _ = socket.send_to(b"linerate: resolving the router", (gateway, DISCARD_PORT));
    }
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if let Some(mac) = neighbor_mac(gateway, interface) {
            return Ok((gateway, mac));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(NetnsError::RouterUnresolved {
        gateway,
        interface: interface.to_string(),
        waited_ms: WAIT.as_millis() as u64,
    })
}
