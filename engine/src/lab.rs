//! The lab: two network namespaces joined by a veth pair, with fixed MACs
//! and addresses from the RFC 2544 benchmarking range, so that linerate has
//! two "hosts" to send between on a machine without NICs. Built and torn
//! down with iproute2; [`Lab`] is a guard that tears down on drop.

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
    /// MTU of both veth ends.
    pub mtu: u32,
}

const MAC_A: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0x00, 0x00, 0x0a]);
const MAC_B: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0x00, 0x00, 0x0b]);

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
            self.a.mac, self.b.mac, self.a.address, self.b.address
        )
    }

    /// The same lab with `mtu` on both veth ends (9000 for jumbo frames).
    pub fn with_mtu(mut self, mtu: u32) -> LabSpec {
        self.mtu = mtu;
        self
    }

    fn hosts(&self) -> [&LabHost; 2] {
        [&self.a, &self.b]
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
        write!(
            f,
            "veth pair {} <-> {}, {} queue(s) each, MTU {}",
            self.a.interface, self.b.interface, self.queues, self.mtu
        )
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

/// True when both namespaces and both veth ends exist.
pub fn is_up(spec: &LabSpec) -> bool {
    spec.hosts().iter().all(|host| interface_exists(host))
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

fn build(spec: &LabSpec) -> Result<(), LabError> {
    for host in spec.hosts() {
        ip(&["netns", "add", &host.namespace])?;
    }
    let queues = spec.queues.to_string();
    let (a, b) = (&spec.a, &spec.b);
    let (mac_a, mac_b) = (a.mac.to_string(), b.mac.to_string());
    ip(&[
        "link",
        "add",
        &a.interface,
        "netns",
        &a.namespace,
        "numtxqueues",
        &queues,
        "numrxqueues",
        &queues,
        "address",
        &mac_a,
        "type",
        "veth",
        "peer",
        "name",
        &b.interface,
        "netns",
        &b.namespace,
        "numtxqueues",
        &queues,
        "numrxqueues",
        &queues,
        "address",
        &mac_b,
    ])?;
    for host in spec.hosts() {
        let address = format!("{}/{}", host.address, spec.prefix_len);
        ip(&[
            "-n",
            &host.namespace,
            "addr",
            "add",
            &address,
            "dev",
            &host.interface,
        ])?;
        ip(&["-n", &host.namespace, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &host.namespace,
            "link",
            "set",
            &host.interface,
            "mtu",
            &spec.mtu.to_string(),
        ])?;
        ip(&["-n", &host.namespace, "link", "set", &host.interface, "up"])?;
    }
    // Each end's router is the other end, so `dst_mac = "router"` resolves
    // to the peer's MAC; nothing routes beyond the pair.
    for (host, peer) in [(&spec.a, &spec.b), (&spec.b, &spec.a)] {
        let gateway = peer.address.to_string();
        ip(&[
            "-n",
            &host.namespace,
            "route",
            "add",
            "default",
            "via",
            &gateway,
            "dev",
            &host.interface,
        ])?;
    }
    Ok(())
}

/// Removes the lab: both namespaces, and with them the veth pair and any
/// XDP program on it. Returns whether there was anything to remove.
pub fn down(spec: &LabSpec) -> Result<bool, LabError> {
    let mut removed = false;
    for host in spec.hosts() {
        if namespace_exists(&host.namespace) {
            ip(&["netns", "del", &host.namespace])?;
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
