//! The lab: two network namespaces joined by a veth pair, with fixed MACs
//! and addresses from the RFC 2544 benchmarking range, so that linerate has
//! two "hosts" to send between on a machine without NICs; or, routed, the
//! two joined through a third namespace that forwards between them (a place
//! for qdiscs that drop, delay or spread traffic over queues). Built and
//! torn down with iproute2; [`Lab`] is a guard that tears down on drop.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::netns::NETNS_RUN_DIR;
use crate::wire::MacAddr;

/// Errors building or removing the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// `ip` could not be run at all.
    #[error("cannot run `ip` ({0}); install iproute2")]
    NoIpCommand(#[source] std::io::Error),
    /// An `ip` command failed.
    #[error("`ip {command}` failed: {stderr} (the lab needs root: run as root or with CAP_NET_ADMIN and CAP_SYS_ADMIN)")]
    Command {
        /// The arguments.
        command: String,
        /// What it printed.
        stderr: String,
    },
}

/// One end of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// The network namespace.
    pub namespace: String,
    /// The veth end inside it.
    pub interface: String,
    /// The veth end's MAC address.
    pub mac: MacAddr,
    /// The veth end's IPv4 address.
    pub address: Ipv4Addr,
}

/// What a lab is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabSpec {
    /// The sending side ("a").
    pub a: LabHost,
    /// The receiving side ("b").
    pub b: LabHost,
    /// Prefix length of both addresses.
    pub prefix_len: u8,
    /// TX and RX queues on each veth end.
    pub queues: u32,
    /// MTU of every veth end.
    pub mtu: u32,
    /// A router between a and b, if the lab is routed.
    pub router: Option<LabRouter>,
}

/// The router namespace of a routed lab: one veth end facing each host,
/// IPv4 forwarding on, static neighbours everywhere (no ARP in the way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRouter {
    /// The router's namespace.
    pub namespace: String,
    /// Its end facing a (lr-a's peer).
    pub toward_a: LabHost,
    /// Its end facing b (lr-b's peer): the router's egress toward the
    /// receiver, where a qdisc shapes or drops the stream.
    pub toward_b: LabHost,
}

const MAC_A: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0x00, 0x00, 0x0a]);
const MAC_B: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0x00, 0x00, 0x0b]);
const MAC_ROUTER_A: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0x00, 0x00, 0x1a]);
const MAC_ROUTER_B: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0x00, 0x00, 0x1b]);

impl LabSpec {
    /// The lab `linerate lab up` builds and `scenarios/quickstart.toml`
    /// targets: namespaces `linerate-a`/`linerate-b`, interfaces
    /// `lr-a`/`lr-b`, 198.18.0.1/24 and 198.18.0.2/24.
    pub fn standard() -> LabSpec {
        LabSpec::named("linerate-a", "lr-a", "linerate-b", "lr-b")
    }

    /// A lab with names no other lab in this machine uses, for tests that
    /// run side by side: the process id and a per-process counter.
    pub fn unique() -> LabSpec {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let serial = NEXT.fetch_add(1, Ordering::Relaxed) % 1000;
        let tag = format!("{:05}{:03}", std::process::id() % 100_000, serial);
        LabSpec::named(
            &format!("lrtest-{tag}-a"),
            &format!("lrt{tag}a"),
            &format!("lrtest-{tag}-b"),
            &format!("lrt{tag}b"),
        )
    }

    fn named(
        namespace_a: &str,
        interface_a: &str,
        namespace_b: &str,
        interface_b: &str,
    ) -> LabSpec {
        LabSpec {
            a: LabHost {
                namespace: namespace_a.to_string(),
                interface: interface_a.to_string(),
                mac: MAC_A,
                address: Ipv4Addr::new(198, 18, 0, 1),
            },
            b: LabHost {
                namespace: namespace_b.to_string(),
                interface: interface_b.to_string(),
                mac: MAC_B,
                address: Ipv4Addr::new(198, 18, 0, 2),
            },
            prefix_len: 24,
            queues: 1,
            mtu: 1500,
            router: None,
        }
    }

    /// The same lab routed: a router namespace (the a namespace's name with
    /// its last letter replaced by `r`) between a and b, b moved to
    /// 198.18.1.1/24 so that frames are forwarded; the router's ends take the
    /// interface names of a and b with `r` put before the last letter.
    pub fn routed(mut self) -> LabSpec {
        let namespace = format!("{}r", self.a.namespace.trim_end_matches(|c| c != '-'));
        let router_side = |host: &LabHost, mac, address| {
            let (stem, last) = host.interface.split_at(host.interface.len() - 1);
            LabHost {
                namespace: namespace.clone(),
                interface: format!("{stem}r{last}"),
                mac,
                address,
            }
        };
        let toward_a = router_side(&self.a, MAC_ROUTER_A, Ipv4Addr::new(198, 18, 0, 254));
        let toward_b = router_side(&self.b, MAC_ROUTER_B, Ipv4Addr::new(198, 18, 1, 254));
        self.b.address = Ipv4Addr::new(198, 18, 1, 1);
        self.router = Some(LabRouter {
            namespace,
            toward_a,
            toward_b,
        });
        self
    }

    /// The MAC address frames from a are sent to: b's, or the router's.
    pub fn next_hop_mac(&self) -> MacAddr {
        match &self.router {
            Some(router) => router.toward_a.mac,
            None => self.b.mac,
        }
    }

    /// The same lab with `queues` TX and RX queues per veth end.
    pub fn with_queues(mut self, queues: u32) -> LabSpec {
        self.queues = queues.max(1);
        self
    }

    /// Scenario `[[port]]` tables for this lab: port "a" on the sending end
    /// and port "b" on the receiving end, each with its namespace.
    pub fn port_tables(&self) -> String {
        [("a", &self.a), ("b", &self.b)]
            .iter()
            .map(|(name, host)| {
                format!(
                    "\n[[port]]\nname = \"{name}\"\ninterface = \"{}\"\nnamespace = \"{}\"\n",
                    host.interface, host.namespace
                )
            })
            .collect()
    }

    /// A scenario `[[stream]]` table sent from port "a" with this lab's MAC
    /// and IPv4 addresses (UDP 9000 to 9000), counted on `rx_port`.
    pub fn stream_table(&self, name: &str, rx_port: &str, frame_size: usize, rate: &str) -> String {
        format!(
            "\n[[stream]]\nname = \"{name}\"\ntx = \"a\"\nrx = \"{rx_port}\"\n\
             src_mac = \"{}\"\ndst_mac = \"{}\"\nsrc_ip = \"{}\"\ndst_ip = \"{}\"\n\
             src_port = 9000\ndst_port = 9000\nframe_size = {frame_size}\nrate = \"{rate}\"\n",
            self.a.mac,
            self.next_hop_mac(),
            self.a.address,
            self.b.address
        )
    }

    /// The same lab with `mtu` on both veth ends (9000 for jumbo frames).
    pub fn with_mtu(mut self, mtu: u32) -> LabSpec {
        self.mtu = mtu;
        self
    }

    /// Every namespace of the lab.
    fn namespaces(&self) -> Vec<&str> {
        let mut namespaces = vec![self.a.namespace.as_str(), self.b.namespace.as_str()];
        if let Some(router) = &self.router {
            namespaces.push(&router.namespace);
        }
        namespaces
    }

    /// Every veth end of the lab.
    fn interfaces(&self) -> Vec<&LabHost> {
        let mut ends = vec![&self.a, &self.b];
        if let Some(router) = &self.router {
            ends.extend([&router.toward_a, &router.toward_b]);
        }
        ends
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_tables_for_a_lab_validate() {
        let spec = LabSpec::unique();
        let text = format!(
            "[run]\nframes = 10\n{}{}",
            spec.port_tables(),
            spec.stream_table("s", "b", 128, "1kpps")
        );
        let plan = crate::scenario::parse(&text, "lab.toml").expect("valid");
        assert_eq!(plan.ports[0].interface, spec.a.interface);
        assert_eq!(
            plan.ports[1].namespace.as_deref(),
            Some(spec.b.namespace.as_str())
        );
        let stream = &plan.streams[0];
        assert_eq!(
            (stream.tx_port, stream.rx_port, stream.frame.size),
            (0, 1, crate::frame::SizeRule::Fixed(128))
        );
        assert_eq!(stream.frame.src_mac, spec.a.mac);
        assert!(
            matches!(stream.frame.ip, crate::frame::IpHeader::V4 { dst, .. } if dst == spec.b.address)
        );
    }

    #[test]
    fn a_routed_lab_sends_to_the_router_and_names_fit() {
        let spec = LabSpec::unique().routed();
        let router = spec.router.clone().expect("routed");
        assert_eq!(spec.next_hop_mac(), router.toward_a.mac);
        assert!(router.namespace.ends_with("-r"), "{}", router.namespace);
        assert_ne!(router.toward_a.interface, spec.a.interface);
        for end in spec.interfaces() {
            assert!(end.interface.len() <= crate::scenario::MAX_INTERFACE_NAME);
        }
        let standard = LabSpec::standard().routed();
        assert_eq!(standard.router.expect("routed").namespace, "linerate-r");
        assert_eq!(standard.b.address, Ipv4Addr::new(198, 18, 1, 1));
    }

    #[test]
    fn unique_names_fit_interface_and_differ() {
        let (first, second) = (LabSpec::unique(), LabSpec::unique());
        assert_ne!(first.a.namespace, second.a.namespace);
        for host in [&first.a, &first.b] {
            assert!(
                host.interface.len() <= crate::scenario::MAX_INTERFACE_NAME,
                "{}",
                host.interface
            );
        }
    }
}

impl fmt::Display for LabSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (side, host) in [("a", &self.a), ("b", &self.b)] {
            writeln!(
                f,
                "{side}: namespace {:<16} interface {:<8} mac {}  ipv4 {}/{}",
                host.namespace, host.interface, host.mac, host.address, self.prefix_len
            )?;
        }
        match &self.router {
            None => write!(
                f,
                "veth pair {} <-> {}, {} queue(s) each, MTU {}",
                self.a.interface, self.b.interface, self.queues, self.mtu
            ),
            Some(router) => {
                for end in [&router.toward_a, &router.toward_b] {
                    writeln!(
                        f,
                        "r: namespace {:<16} interface {:<8} mac {}  ipv4 {}/{}",
                        end.namespace, end.interface, end.mac, end.address, self.prefix_len
                    )?;
                }
                write!(
                    f,
                    "veth pairs {} <-> {} (router, forwarding) {} <-> {}, {} queue(s) each, MTU {}; \
                     qdiscs on {} in {} act on the stream",
                    self.a.interface,
                    router.toward_a.interface,
                    router.toward_b.interface,
                    self.b.interface,
                    self.queues,
                    self.mtu,
                    router.toward_b.interface,
                    router.namespace
                )
            }
        }
    }
}

fn ip(args: &[&str]) -> Result<(), LabError> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(LabError::NoIpCommand)?;
    if output.status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

fn namespace_exists(namespace: &str) -> bool {
    Path::new(NETNS_RUN_DIR).join(namespace).exists()
}

fn interface_exists(host: &LabHost) -> bool {
    namespace_exists(&host.namespace)
        && Command::new("ip")
            .args([
                "-n",
                &host.namespace,
                "link",
                "show",
                "dev",
                &host.interface,
            ])
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
}

/// True when every namespace and veth end exists.
pub fn is_up(spec: &LabSpec) -> bool {
    spec.interfaces().iter().all(|host| interface_exists(host))
}

/// Builds the lab. Already up: nothing changes. Half built (say, after a
/// crash): what is there is removed and the lab is built again.
pub fn up(spec: &LabSpec) -> Result<(), LabError> {
    if is_up(spec) {
        return Ok(());
    }
    down(spec)?;
    let built = build(spec);
    if built.is_err() {
        // Leave nothing half made behind.
        let _ = down(spec);
    }
    built
}

/// Creates a veth pair from `near` to `far`, each end in its namespace
/// with its MAC and the lab's queue count.
fn veth_pair(spec: &LabSpec, near: &LabHost, far: &LabHost) -> Result<(), LabError> {
    let queues = spec.queues.to_string();
    let (near_mac, far_mac) = (near.mac.to_string(), far.mac.to_string());
    ip(&[
        "link",
        "add",
        &near.interface,
        "netns",
        &near.namespace,
        "numtxqueues",
        &queues,
        "numrxqueues",
        &queues,
        "address",
        &near_mac,
        "type",
        "veth",
        "peer",
        "name",
        &far.interface,
        "netns",
        &far.namespace,
        "numtxqueues",
        &queues,
        "numrxqueues",
        &queues,
        "address",
        &far_mac,
    ])
}

/// Addresses, MTU and link state of one veth end.
fn configure_end(spec: &LabSpec, end: &LabHost) -> Result<(), LabError> {
    let address = format!("{}/{}", end.address, spec.prefix_len);
    let namespace = end.namespace.as_str();
    ip(&[
        "-n",
        namespace,
        "addr",
        "add",
        &address,
        "dev",
        &end.interface,
    ])?;
    ip(&["-n", namespace, "link", "set", "lo", "up"])?;
    ip(&[
        "-n",
        namespace,
        "link",
        "set",
        &end.interface,
        "mtu",
        &spec.mtu.to_string(),
    ])?;
    ip(&["-n", namespace, "link", "set", &end.interface, "up"])
}

/// `host`'s default route via `gateway`, whose MAC is entered as a
/// permanent neighbour.
fn route_via(host: &LabHost, gateway: &LabHost) -> Result<(), LabError> {
    let namespace = host.namespace.as_str();
    let address = gateway.address.to_string();
    ip(&[
        "-n",
        namespace,
        "neigh",
        "replace",
        &address,
        "lladdr",
        &gateway.mac.to_string(),
        "nud",
        "permanent",
        "dev",
        &host.interface,
    ])?;
    ip(&[
        "-n",
        namespace,
        "route",
        "add",
        "default",
        "via",
        &address,
        "dev",
        &host.interface,
    ])
}

/// Writes `value` to the sysctl at `path` (under /proc/sys) inside `namespace`.
fn sysctl(namespace: &str, path: &str, value: &str) -> Result<(), LabError> {
    let written = crate::netns::NetnsGuard::enter(namespace)
        .map_err(|error| error.to_string())
        .and_then(|_guard| {
            std::fs::write(format!("/proc/sys/{path}"), value).map_err(|error| error.to_string())
        });
    written.map_err(|stderr| LabError::Command {
        command: format!("netns {namespace} sysctl {path}={value}"),
        stderr,
    })
}

fn build(spec: &LabSpec) -> Result<(), LabError> {
    for namespace in spec.namespaces() {
        ip(&["netns", "add", namespace])?;
    }
    let Some(router) = &spec.router else {
        veth_pair(spec, &spec.a, &spec.b)?;
        for end in spec.interfaces() {
            configure_end(spec, end)?;
        }
        // Each end's router is the other end, so `dst_mac = "router"`
        // resolves to the peer's MAC; nothing routes beyond the pair.
        route_via(&spec.a, &spec.b)?;
        return route_via(&spec.b, &spec.a);
    };
    // The router forwards IPv4 only, and sends nothing of its own through
    // the qdisc under test: no IPv6 on its ends.
    sysctl(&router.namespace, "net/ipv4/ip_forward", "1")?;
    for scope in ["all", "default"] {
        sysctl(
            &router.namespace,
            &format!("net/ipv6/conf/{scope}/disable_ipv6"),
            "1",
        )?;
    }
    veth_pair(spec, &spec.a, &router.toward_a)?;
    veth_pair(spec, &router.toward_b, &spec.b)?;
    for end in spec.interfaces() {
        configure_end(spec, end)?;
    }
    route_via(&spec.a, &router.toward_a)?;
    route_via(&spec.b, &router.toward_b)?;
    for (end, host) in [(&router.toward_a, &spec.a), (&router.toward_b, &spec.b)] {
        ip(&[
            "-n",
            &router.namespace,
            "neigh",
            "replace",
            &host.address.to_string(),
            "lladdr",
            &host.mac.to_string(),
            "nud",
            "permanent",
            "dev",
            &end.interface,
        ])?;
    }
    Ok(())
}

/// Makes `host`'s interface handle each receive queue in its own kernel
/// thread (threaded NAPI; GRO on gives veth its NAPI instances) and pins
/// the threads to `cpus` in turn, so that one stream spread over queues is
/// counted on several CPUs at once, or the receive work is kept off the
/// sender's core. Returns the threads' ids.
pub fn threaded_receive(host: &LabHost, cpus: &[usize]) -> Result<Vec<i32>, LabError> {
    let interface = host.interface.as_str();
    let namespace = host.namespace.as_str();
    ip(&[
        "netns", "exec", namespace, "ethtool", "-K", interface, "gro", "on",
    ])?;
    ip(&[
        "netns",
        "exec",
        namespace,
        "sh",
        "-c",
        &format!("echo 1 > /sys/class/net/{interface}/threaded"),
    ])?;
    // Thread names are "napi/<interface>-<id>", cut to 15 characters.
    let prefix: String = format!("napi/{interface}-").chars().take(15).collect();
    let mut threads: Vec<i32> = std::fs::read_dir("/proc")
        .map_err(|error| LabError::Command {
            command: "read /proc".to_string(),
            stderr: error.to_string(),
        })?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            comm.trim_end().starts_with(&prefix).then_some(pid)
        })
        .collect();
    threads.sort_unstable();
    for (index, &thread) in threads.iter().enumerate() {
        if let Some(&cpu) = cpus.get(index % cpus.len().max(1)) {
            pin_thread(thread, cpu);
        }
    }
    Ok(threads)
}

/// Pins thread `thread` (0: the calling thread) to `cpu`; best effort.
pub fn pin_thread(thread: i32, cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it (cpu is reduced below CPU_SETSIZE); sched_setaffinity only
    // reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % libc::CPU_SETSIZE as usize, &mut set);
        libc::sched_setaffinity(thread, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Removes the lab: its namespaces, and with them the veth pairs, qdiscs
/// and any XDP program on them. Returns whether there was anything to remove.
pub fn down(spec: &LabSpec) -> Result<bool, LabError> {
    let mut removed = false;
    for namespace in spec.namespaces() {
        if namespace_exists(namespace) {
            ip(&["netns", "del", namespace])?;
            removed = true;
        }
    }
    Ok(removed)
}

/// A lab that exists for as long as this value does: built by
/// [`Lab::create`], removed on drop, also when a test panics.
#[derive(Debug)]
pub struct Lab {
    spec: LabSpec,
}

impl Lab {
    /// Builds the lab described by `spec`.
    pub fn create(spec: LabSpec) -> Result<Lab, LabError> {
        up(&spec)?;
        Ok(Lab { spec })
    }

    /// What the lab is made of.
    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(error) = down(&self.spec) {
            eprintln!("linerate: could not remove the lab: {error}");
        }
    }
}
