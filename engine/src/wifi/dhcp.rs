//! DHCP (IPv4) for a station: busybox `udhcpc` run once in the station's
//! namespace (`-i IF -n -q -f -t N -T S`) with a script of ours that only
//! prints the lease (`lease.ip=...` lines), never configures anything;
//! [`parse_lease`] reads those lines and the station code adds the address
//! itself. [`obtain_lease`] bounds udhcpc by the station's deadline and
//! the run's interrupt flag and always ends it (by pid) before returning.

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The script udhcpc runs on each event (`-s`): on `bound` or `renew` it
/// prints the lease, one `lease.KEY=VALUE` line each; nothing else.
pub const LEASE_SCRIPT: &str = "#!/bin/sh\n\
# linerate's udhcpc script: prints the lease, configures nothing\n\
# (linerate adds the address itself).\n\
case \"$1\" in\n\
bound|renew)\n\
    echo \"lease.ip=$ip\"\n\
    echo \"lease.mask=$mask\"\n\
    echo \"lease.subnet=$subnet\"\n\
    echo \"lease.router=$router\"\n\
    echo \"lease.serverid=$serverid\"\n\
    echo \"lease.lease=$lease\"\n\
    ;;\n\
esac\n\
exit 0\n";

/// Seconds between udhcpc's DHCPDISCOVERs (`-T`).
const DISCOVER_EVERY_S: u64 = 3;

/// A lease as udhcpc reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpLease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// Its network's prefix length.
    pub prefix: u8,
    /// The first router the server offered, if any.
    pub router: Option<Ipv4Addr>,
    /// The server's identifier (its address), if given.
    pub server: Option<Ipv4Addr>,
    /// The lease time, seconds, if given.
    pub lease_s: Option<u64>,
}

/// Reads the lease from the script's output (the last `bound`/`renew`
/// block wins); an error says what is missing or wrong.
pub fn parse_lease(output: &str) -> Result<DhcpLease, String> {
    let value = |key: &str| {
        output
            .lines()
            .filter_map(|line| {
                line.trim()
                    .strip_prefix("lease.")?
                    .strip_prefix(key)?
                    .strip_prefix('=')
            })
            .next_back()
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let address_of = |key: &str| -> Result<Option<Ipv4Addr>, String> {
        // A list (several routers) gives its first.
        match value(key).and_then(|text| text.split_whitespace().next()) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| format!("the lease's {key} {text:?} is not an IPv4 address")),
        }
    };
    let address = address_of("ip")?.ok_or_else(|| "udhcpc printed no lease (no ip)".to_string())?;
    let prefix = match (value("mask"), address_of("subnet")?) {
        (Some(mask), _) => mask
            .parse::<u8>()
            .ok()
            .filter(|prefix| (1..=32).contains(prefix))
            .ok_or_else(|| format!("the lease's mask {mask:?} is not a prefix length"))?,
        (None, Some(subnet)) => prefix_of_mask(subnet)
            .ok_or_else(|| format!("the lease's subnet {subnet} is not a network mask"))?,
        (None, None) => 32,
    };
    Ok(DhcpLease {
        address,
        prefix,
        router: address_of("router")?,
        server: address_of("serverid")?,
        lease_s: value("lease").and_then(|text| text.parse().ok()),
    })
}

/// The prefix length of a contiguous network mask (`255.255.255.0` → 24).
fn prefix_of_mask(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let prefix = bits.leading_ones();
    (bits.checked_shl(prefix).unwrap_or(0) == 0 && prefix > 0).then_some(prefix as u8)
}

/// Why no lease was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseFailure {
    /// busybox could not be run.
    NoTool(String),
    /// The deadline passed or udhcpc gave up; the last thing it said.
    NoLease(String),
    /// The run was interrupted.
    Interrupted,
}

/// The udhcpc we started: ended by pid and reaped when dropped.
struct Udhcpc(Child);

impl Drop for Udhcpc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Runs udhcpc for `interface` (in `namespace`) until it has a lease,
/// `deadline` passes or `interrupt` is set. udhcpc gives up before the
/// deadline when a server's offer is not followed by its acknowledgement
/// (three requests unanswered): it is run again while time is left.
/// `script` is the [`LEASE_SCRIPT`] file; udhcpc's messages go to `log`
/// (the last attempt's).
pub fn obtain_lease(
    namespace: Option<&str>,
    interface: &str,
    script: &Path,
    log: &Path,
    deadline: Instant,
    interrupt: Option<&AtomicBool>,
) -> Result<DhcpLease, LeaseFailure> {
    let interrupted = || interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed));
    loop {
        let attempt = run_udhcpc(namespace, interface, script, log, deadline, interrupt);
        let time_left = Instant::now() + Duration::from_secs(DISCOVER_EVERY_S) < deadline;
        match attempt {
            Err(LeaseFailure::NoLease(_)) if time_left && !interrupted() => {
                // Not at once: a udhcpc that fails at start would spin.
                std::thread::sleep(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// One udhcpc, with as many discovers as fit before `deadline`.
fn run_udhcpc(
    namespace: Option<&str>,
    interface: &str,
    script: &Path,
    log: &Path,
    deadline: Instant,
    interrupt: Option<&AtomicBool>,
) -> Result<DhcpLease, LeaseFailure> {
    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
    let tries = (left / DISCOVER_EVERY_S).max(1).to_string();
    let every = DISCOVER_EVERY_S.to_string();
    let script_text = script.display().to_string();
    let arguments = [
        "udhcpc",
        "-i",
        interface,
        "-n",
        "-q",
        "-f",
        "-t",
        tries.as_str(),
        "-T",
        every.as_str(),
        "-s",
        script_text.as_str(),
    ];
    // `ip netns exec` execs busybox: the child's pid is udhcpc's.
    let mut command = super::tools::command_in(namespace, "busybox");
    let log_file = std::fs::File::create(log).map_err(|error| {
        LeaseFailure::NoLease(format!("cannot write {}: {error}", log.display()))
    })?;
    let mut child = command
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map(Udhcpc)
        .map_err(|error| {
            LeaseFailure::NoTool(format!(
                "cannot run `busybox udhcpc` ({error}); install it (Debian: busybox-static)"
            ))
        })?;
    let mut stdout = child.0.stdout.take();
    // The script prints a few short lines: read them on a thread so the
    // wait below can watch the deadline and the interrupt flag.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.read_to_string(&mut text);
        }
        text
    });
    let interrupted = || interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed));
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline || interrupted() => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    // Ends udhcpc if still running (so the reader sees end of file).
    drop(child);
    let output = reader.join().unwrap_or_default();
    if interrupted() {
        return Err(LeaseFailure::Interrupted);
    }
    match (status, parse_lease(&output)) {
        (Some(status), Ok(lease)) if status.success() => Ok(lease),
        (_, Ok(lease)) if status.is_none() => Ok(lease),
        (_, result) => {
            let said = last_line(log).unwrap_or_else(|| match result {
                Err(message) => message,
                Ok(_) => "udhcpc failed".to_string(),
            });
            // udhcpc's own lines start with "udhcpc: ".
            Err(LeaseFailure::NoLease(if said.starts_with("udhcpc") {
                said
            } else {
                format!("udhcpc: {said}")
            }))
        }
    }
}

/// The last non-empty line of a log.
fn last_line(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_with_mask_router_list_and_server() {
        let text = "lease.ip=10.77.0.100\nlease.mask=24\nlease.subnet=255.255.255.0\nlease.router=10.77.0.1 10.77.0.254\nlease.serverid=10.77.0.2\nlease.lease=600\n";
        assert_eq!(
            parse_lease(text),
            Ok(DhcpLease {
                address: Ipv4Addr::new(10, 77, 0, 100),
                prefix: 24,
                router: Some(Ipv4Addr::new(10, 77, 0, 1)),
                server: Some(Ipv4Addr::new(10, 77, 0, 2)),
                lease_s: Some(600),
            })
        );
    }

    #[test]
    fn lease_prefix_from_subnet_when_mask_is_empty() {
        let text = "udhcpc: lease obtained\nlease.ip=192.168.5.7\nlease.mask=\nlease.subnet=255.255.240.0\nlease.router=\n";
        let lease = parse_lease(text).unwrap();
        assert_eq!(lease.address, Ipv4Addr::new(192, 168, 5, 7));
        assert_eq!(lease.prefix, 20);
        assert_eq!(lease.router, None);
        assert_eq!(lease.server, None);
        assert_eq!(lease.lease_s, None);
    }

    #[test]
    fn lease_last_block_wins() {
        let text = "lease.ip=10.0.0.5\nlease.mask=8\nlease.ip=10.0.0.6\nlease.mask=16\n";
        let lease = parse_lease(text).unwrap();
        assert_eq!(
            (lease.address, lease.prefix),
            (Ipv4Addr::new(10, 0, 0, 6), 16)
        );
    }

    #[test]
    fn lease_errors() {
        assert_eq!(
            parse_lease(""),
            Err("udhcpc printed no lease (no ip)".to_string())
        );
        assert_eq!(
            parse_lease("lease.ip=\nlease.mask=24\n"),
            Err("udhcpc printed no lease (no ip)".to_string())
        );
        assert_eq!(
            parse_lease("lease.ip=10.0.0.300\n"),
            Err("the lease's ip \"10.0.0.300\" is not an IPv4 address".to_string())
        );
        assert_eq!(
            parse_lease("lease.ip=10.0.0.3\nlease.mask=33\n"),
            Err("the lease's mask \"33\" is not a prefix length".to_string())
        );
        assert_eq!(
            parse_lease("lease.ip=10.0.0.3\nlease.subnet=255.0.255.0\n"),
            Err("the lease's subnet 255.0.255.0 is not a network mask".to_string())
        );
        assert_eq!(
            parse_lease("lease.ip=10.0.0.3\nlease.router=gateway\n"),
            Err("the lease's router \"gateway\" is not an IPv4 address".to_string())
        );
    }

    #[test]
    fn masks() {
        assert_eq!(prefix_of_mask(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(prefix_of_mask(Ipv4Addr::new(255, 0, 0, 0)), Some(8));
        assert_eq!(prefix_of_mask(Ipv4Addr::new(0, 0, 0, 0)), None);
        assert_eq!(prefix_of_mask(Ipv4Addr::new(255, 255, 0, 255)), None);
    }

    /// The script itself, run by sh as udhcpc would, gives what the parser reads.
    #[test]
    fn script_output_parses() {
        let dir = std::env::temp_dir().join(format!("lrtest-dhcp-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("lease.sh");
        std::fs::write(&script, LEASE_SCRIPT).unwrap();
        let run = |event: &str| {
            std::process::Command::new("sh")
                .arg(&script)
                .arg(event)
                .env("ip", "10.77.0.101")
                .env("mask", "24")
                .env("subnet", "255.255.255.0")
                .env("router", "10.77.0.1")
                .env("serverid", "10.77.0.2")
                .env("lease", "864000")
                .output()
                .unwrap()
        };
        let bound = run("bound");
        let deconfig = run("deconfig");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(bound.status.success() && deconfig.status.success());
        assert_eq!(String::from_utf8_lossy(&deconfig.stdout), "");
        let lease = parse_lease(&String::from_utf8_lossy(&bound.stdout)).unwrap();
        assert_eq!(lease.address, Ipv4Addr::new(10, 77, 0, 101));
        assert_eq!(lease.prefix, 24);
        assert_eq!(lease.router, Some(Ipv4Addr::new(10, 77, 0, 1)));
        assert_eq!(lease.server, Some(Ipv4Addr::new(10, 77, 0, 2)));
        assert_eq!(lease.lease_s, Some(864000));
    }
}
