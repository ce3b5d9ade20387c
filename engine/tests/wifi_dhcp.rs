//! DHCP for stations, for real on the host (no radio needed: any interface
//! does): busybox `udhcpd` serving one end of a lab veth pair, and
//! `obtain_lease` (busybox `udhcpc` with linerate's lease script) on the
//! other end gets a lease from its pool; with the server gone it reports
//! no lease within its deadline; interrupted, it stops at once. No udhcpc
//! is left after any of them; the server, the lab and the files are
//! removed by guards, also on failure. Needs root and busybox.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::wifi::dhcp::{obtain_lease, LeaseFailure, LEASE_SCRIPT};

/// The udhcpd this test started: ended by its pid when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The test's directory, removed when dropped.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Pids of running udhcpc processes on `interface` (busybox applets).
fn udhcpc_on(interface: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    let line = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                    let words: Vec<&[u8]> = line.split(|byte| *byte == 0).collect();
                    words.get(1) == Some(&&b"udhcpc"[..]) && words.contains(&interface.as_bytes())
                })
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn start_server(lab: &Lab, dir: &Path) -> Server {
    let b = &lab.spec().b;
    let config = dir.join("udhcpd.conf");
    std::fs::write(
        &config,
        format!(
            "start 198.18.0.100\nend 198.18.0.110\ninterface {}\nlease_file {}\npidfile {}\n\
             opt subnet 255.255.255.0\nopt router 198.18.0.2\nopt lease 600\n",
            b.interface,
            dir.join("udhcpd.leases").display(),
            dir.join("udhcpd.pid").display()
        ),
    )
    .expect("write udhcpd.conf");
    std::fs::write(dir.join("udhcpd.leases"), "").expect("lease file");
    let child = Command::new("ip")
        .args(["netns", "exec", &b.namespace, "busybox", "udhcpd", "-f"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run busybox udhcpd (install busybox-static)");
    Server(child)
}

#[test]
fn lease_from_udhcpd_none_without_it_and_interrupted() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let dir = Dir(std::env::temp_dir().join(format!("lrtest-dhcp-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("test dir");
    let script = dir.0.join("lease.sh");
    std::fs::write(&script, LEASE_SCRIPT).expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let a = lab.spec().a.clone();
    let log = dir.0.join("udhcpc.log");
    // A lease for lab port a within `within`, unless `interrupt` says stop.
    let lease_within = |within: Duration, interrupt: Option<&AtomicBool>| {
        obtain_lease(
            Some(&a.namespace),
            &a.interface,
            &script,
            &log,
            Instant::now() + within,
            interrupt,
        )
    };

    // A server: a lease from its pool, with its mask, router and time.
    let server = start_server(&lab, &dir.0);
    let lease = lease_within(Duration::from_secs(30), None)
        .unwrap_or_else(|failure| panic!("no lease: {failure:?}"));
    let first = u32::from(Ipv4Addr::new(198, 18, 0, 100));
    assert!(
        (first..=first + 10).contains(&u32::from(lease.address)),
        "{lease:?}"
    );
    assert_eq!(lease.prefix, 24);
    assert_eq!(lease.router, Some(Ipv4Addr::new(198, 18, 0, 2)));
    assert_eq!(lease.server, Some(Ipv4Addr::new(198, 18, 0, 2)));
    assert_eq!(lease.lease_s, Some(600));
    assert_eq!(udhcpc_on(&a.interface), Vec::<String>::new());
    drop(server);

    // No server: no lease, within the deadline (udhcpc ended by then).
    let started = Instant::now();
    let failure = lease_within(Duration::from_secs(4), None).expect_err("no server, no lease");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    match failure {
        LeaseFailure::NoLease(said) => assert!(said.starts_with("udhcpc"), "{said}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(udhcpc_on(&a.interface), Vec::<String>::new());

    // Interrupted: stops at once.
    let interrupt = AtomicBool::new(true);
    let started = Instant::now();
    let failure = lease_within(Duration::from_secs(30), Some(&interrupt)).expect_err("interrupted");
    assert_eq!(failure, LeaseFailure::Interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(udhcpc_on(&a.interface), Vec::<String>::new());
}
