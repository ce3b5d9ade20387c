//! The life of a run's WiFi stations: each made as an interface on its
//! radio with `iw` (in the radio's namespace), given its MAC and brought
//! up; one wpa_supplicant per station started by linerate with a control
//! directory of its own and driven through its control socket (events for
//! association and failure, STATUS and SIGNAL_POLL for state); static
//! addresses added once associated, or (`ipv4 = "dhcp"`) a lease obtained
//! with udhcpc ([`super::dhcp`]) and its address added. [`StationSet`] is
//! the guard: dropping it ends every wpa_supplicant it started (by pid),
//! deletes every interface it made and removes its directory, whatever
//! happened (udhcpc never outlives the wait for its station).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::control::{failure_reason, is_wrong_key, parse_key_values, ControlSocket, Event};
use super::dhcp::{obtain_lease, LeaseFailure, LEASE_SCRIPT};
use super::{Security, StationGroupPlan, StationPlan, StationReport};

/// Longest wait for one control request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How often STATUS is asked while waiting, in case an event was missed.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How long a wpa_supplicant may take to end after SIGTERM.
const END_WAIT: Duration = Duration::from_secs(3);
/// The DHCP lease script's file in the work directory.
const LEASE_SCRIPT_FILE: &str = "udhcpc-lease.sh";

/// Errors setting stations up (a station that does not associate is not
/// one: it is reported, and the run's verdict fails).
#[derive(Debug, thiserror::Error)]
pub enum WifiError {
    /// A tool could not be run at all.
    #[error("cannot run `{tool}` ({source}); install it (Debian: {package})")]
    NoTool {
        /// The tool.
        tool: String,
        /// The Debian package that has it.
        package: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A command failed.
    #[error("station {station:?}: `{command}` failed: {stderr}")]
    Command {
        /// The station.
        station: String,
        /// The command line.
        command: String,
        /// What it printed.
        stderr: String,
    },
    /// The work directory or a file in it could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// wpa_supplicant ended or never opened its control socket.
    #[error("station {station:?}: wpa_supplicant {what} (its log: {log})")]
    Supplicant {
        /// The station.
        station: String,
        /// What went wrong.
        what: String,
        /// The last lines it printed.
        log: String,
    },
    /// A station's waiting thread panicked.
    #[error("the wait for the stations failed unexpectedly")]
    WaitFailed,
}

/// A station interface this set made.
#[derive(Debug)]
struct MadeInterface {
    namespace: Option<String>,
    name: String,
}

/// A wpa_supplicant this set started.
#[derive(Debug)]
struct Supplicant {
    station: String,
    child: Child,
    log: PathBuf,
    socket: PathBuf,
}

/// The run's stations, up (or failed, with the reason) for as long as
/// this value lives.
#[derive(Debug)]
pub struct StationSet {
    work_dir: PathBuf,
    interfaces: Vec<MadeInterface>,
    supplicants: Vec<Supplicant>,
    reports: Vec<StationReport>,
}

/// Where a station lives and what it is.
struct StationRef<'a> {
    group: &'a StationGroupPlan,
    station: &'a StationPlan,
}

impl StationSet {
    /// Makes every station of `groups`, starts its wpa_supplicant and waits
    /// (events and polling, never a fixed sleep) for each to associate and
    /// get its addresses within its group's timeout. A station that does
    /// not is reported with the reason; an error here is a setup that
    /// could not be done at all (a radio missing, a tool not installed).
    /// `interrupt`, when set, ends the wait early. Whatever was made is
    /// removed if this returns an error.
    pub fn bring_up(
        groups: &[StationGroupPlan],
        interrupt: Option<&AtomicBool>,
    ) -> Result<StationSet, WifiError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let work_dir = std::env::temp_dir().join(format!(
            "linerate-wifi-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut set = StationSet {
            work_dir: work_dir.clone(),
            interfaces: Vec::new(),
            supplicants: Vec::new(),
            reports: Vec::new(),
        };
        create_private_dir(&work_dir)?;
        let stations: Vec<StationRef> = groups
            .iter()
            .flat_map(|group| {
                group
                    .stations
                    .iter()
                    .map(move |station| StationRef { group, station })
            })
            .collect();
        if groups
            .iter()
            .any(|group| group.stations.iter().any(|station| station.ipv4_dhcp))
        {
            write_script(&work_dir.join(LEASE_SCRIPT_FILE), LEASE_SCRIPT)?;
        }
        for (index, group) in groups.iter().enumerate() {
            write_file(
                &work_dir.join(format!("group{index}.conf")),
                &supplicant_config(group, &work_dir.join("ctrl")),
            )?;
        }
        for one in &stations {
            set.make_interface(one)?;
        }
        for one in &stations {
            let index = groups
                .iter()
                .position(|group| std::ptr::eq(group, one.group))
                .unwrap_or(0);
            set.start_supplicant(one, &work_dir.join(format!("group{index}.conf")))?;
        }
        let started = Instant::now();
        let supplicants: Vec<(&Supplicant, &StationRef)> =
            set.supplicants.iter().zip(&stations).collect();
        let reports = std::thread::scope(|scope| {
            let handles: Vec<_> = supplicants
                .iter()
                .map(|(supplicant, one)| {
                    let work_dir = &work_dir;
                    scope.spawn(move || {
                        wait_for_station(one, supplicant, work_dir, started, interrupt)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap_or(Err(WifiError::WaitFailed)))
                .collect::<Result<Vec<_>, _>>()
        })?;
        // Interrupted: the stations still waiting say so, and the run
        // (which sends nothing) reports it like any station failure.
        set.reports = reports;
        Ok(set)
    }

    /// True when every station associated and has its addresses.
    pub fn all_up(&self) -> bool {
        self.reports.iter().all(|report| report.failure.is_none())
    }

    /// Every station's state as last seen.
    pub fn reports(&self) -> &[StationReport] {
        &self.reports
    }

    /// The IPv4 address station `name` leased by DHCP, if it did.
    pub fn leased_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        self.reports
            .iter()
            .find(|report| report.name == name)
            .and_then(|report| report.dhcp.as_ref())
            .map(|lease| lease.address)
    }

    /// Reads every associated station's signal, bitrates and link again
    /// (at the end of a run, before the stations go).
    pub fn refresh(&mut self) {
        for (report, supplicant) in self.reports.iter_mut().zip(&self.supplicants) {
            if !report.associated {
                continue;
            }
            if let Ok(control) = ControlSocket::connect(&supplicant.socket, &self.work_dir) {
                let namespace = self
                    .interfaces
                    .iter()
                    .find(|made| made.name == report.name)
                    .and_then(|made| made.namespace.clone());
                read_link_state(report, &control, namespace.as_deref());
                if report.bssid.is_none() {
                    report.failure = Some("lost its association during the run".to_string());
                }
            }
        }
    }

    fn make_interface(&mut self, one: &StationRef) -> Result<(), WifiError> {
        let namespace = one.group.namespace.as_deref();
        let name = one.station.name.as_str();
        run_in(
            namespace,
            name,
            "iw",
            &[
                "phy",
                &one.group.radio,
                "interface",
                "add",
                name,
                "type",
                "managed",
            ],
        )?;
        self.interfaces.push(MadeInterface {
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        });
        let mac = one.station.mac.to_string();
        run_in(
            namespace,
            name,
            "ip",
            &["link", "set", "dev", name, "address", &mac],
        )?;
        // Several stations in one namespace: each answers ARP only for its own address.
        for (key, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
            let _ = run_in(
                namespace,
                name,
                "sysctl",
                &["-qw", &format!("net.ipv4.conf.{name}.{key}={value}")],
            );
        }
        run_in(namespace, name, "ip", &["link", "set", "dev", name, "up"])
    }

    fn start_supplicant(&mut self, one: &StationRef, config: &Path) -> Result<(), WifiError> {
        let name = one.station.name.as_str();
        let log = self.work_dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).map_err(|source| WifiError::Io {
            path: log.clone(),
            source,
        })?;
        let log_copy = log_file.try_clone().map_err(|source| WifiError::Io {
            path: log.clone(),
            source,
        })?;
        let config = config.display().to_string();
        let arguments = ["-D", "nl80211", "-i", name, "-c", config.as_str()];
        // `ip netns exec` enters the namespace and execs wpa_supplicant:
        // the child's pid is wpa_supplicant's.
        let mut command = match one.group.namespace.as_deref() {
            Some(namespace) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", namespace, "wpa_supplicant"]);
                command
            }
            None => Command::new("wpa_supplicant"),
        };
        let child = command
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_copy)
            .spawn()
            .map_err(|source| WifiError::NoTool {
                tool: "wpa_supplicant".to_string(),
                package: "wpasupplicant".to_string(),
                source,
            })?;
        self.supplicants.push(Supplicant {
            station: name.to_string(),
            child,
            log,
            socket: self.work_dir.join("ctrl").join(name),
        });
        Ok(())
    }
}

impl Drop for StationSet {
    /// Ends every wpa_supplicant started (SIGTERM by pid, then SIGKILL),
    /// deletes every interface made, removes the work directory.
    fn drop(&mut self) {
        for supplicant in &self.supplicants {
            if let Ok(pid) = i32::try_from(supplicant.child.id()) {
                // SAFETY: kill(2) with a pid of a child we spawned and have
                // not reaped yet (so the pid is still ours).
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + END_WAIT;
        for supplicant in &mut self.supplicants {
            loop {
                match supplicant.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = supplicant.child.kill();
                        let _ = supplicant.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        for made in self.interfaces.iter().rev() {
            if let Err(error) = run_in(
                made.namespace.as_deref(),
                &made.name,
                "iw",
                &["dev", &made.name, "del"],
            ) {
                eprintln!("linerate: could not remove station {}: {error}", made.name);
            }
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

/// The wpa_supplicant configuration for a group's stations.
pub(crate) fn supplicant_config(group: &StationGroupPlan, control_dir: &Path) -> String {
    let network = match &group.security {
        Security::Open => "    key_mgmt=NONE\n".to_string(),
        Security::Wpa2 { passphrase } => {
            format!("    key_mgmt=WPA-PSK\n    proto=RSN\n    psk=\"{passphrase}\"\n")
        }
        Security::Wpa3 { passphrase } => format!(
            "    key_mgmt=SAE\n    proto=RSN\n    ieee80211w=2\n    sae_password=\"{passphrase}\"\n"
        ),
    };
    format!(
        "ctrl_interface={}\nupdate_config=0\nap_scan=1\nsae_pwe=2\nnetwork={{\n    ssid=\"{}\"\n    scan_ssid=1\n{network}}}\n",
        control_dir.display(),
        group.ssid
    )
}

/// Waits for one station: its control socket, association (events, with
/// STATUS asked now and then), then its addresses; its report.
fn wait_for_station(
    one: &StationRef,
    supplicant: &Supplicant,
    work_dir: &Path,
    started: Instant,
    interrupt: Option<&AtomicBool>,
) -> Result<StationReport, WifiError> {
    let mut report = StationReport {
        name: one.station.name.clone(),
        radio: one.group.radio.clone(),
        mac: one.station.mac.to_string(),
        ..StationReport::default()
    };
    let deadline = started + one.group.timeout;
    let interrupted = || interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed));
    let Some((requests, events)) = open_control(supplicant, work_dir, deadline, &interrupted)?
    else {
        report.failure = Some(if interrupted() {
            "interrupted before it associated".to_string()
        } else {
            format!(
                "wpa_supplicant's control socket did not appear within {:.0} s",
                one.group.timeout.as_secs_f64()
            )
        });
        return Ok(report);
    };
    let mut reason: Option<String> = None;
    let mut next_status = Instant::now();
    let associated_at = loop {
        let now = Instant::now();
        if now >= deadline || interrupted() {
            break None;
        }
        if now >= next_status {
            next_status = now + STATUS_EVERY;
            if let Ok(status) = requests.request("STATUS", REQUEST_TIMEOUT) {
                if parse_key_values(&status)
                    .get("wpa_state")
                    .map(String::as_str)
                    == Some("COMPLETED")
                {
                    break Some(Instant::now());
                }
            }
        }
        let wait = deadline
            .min(next_status)
            .saturating_duration_since(Instant::now());
        match events.next_event(wait) {
            Ok(Some(event)) => {
                if event.name == "CTRL-EVENT-CONNECTED" {
                    break Some(Instant::now());
                }
                note_failure(&event, &mut reason);
                if reason.as_deref().is_some_and(is_wrong_key) {
                    // wpa_supplicant would only retry the same key.
                    break None;
                }
            }
            Ok(None) => {}
            Err(_) => break None,
        }
    };
    let Some(associated_at) = associated_at else {
        report.failure = Some(not_associated(
            one,
            reason,
            supplicant,
            &requests,
            interrupted(),
        ));
        return Ok(report);
    };
    report.associated = true;
    report.time_to_associate_s = Some(associated_at.duration_since(started).as_secs_f64());
    let mut ipv4 = one.station.ipv4;
    if one.station.ipv4_dhcp {
        match lease_for(one, work_dir, deadline, interrupt) {
            Ok(lease) => {
                ipv4 = Some((lease.address, lease.prefix));
                report.dhcp = Some(lease);
            }
            Err(failure) => {
                report.failure = Some(failure);
                return Ok(report);
            }
        }
    }
    if let Err(error) = add_addresses(one, ipv4) {
        report.failure = Some(format!(
            "associated, but its address could not be set: {error}"
        ));
        return Ok(report);
    }
    report.time_to_address_s = Some(associated_at.elapsed().as_secs_f64());
    report.addresses = ipv4
        .map(|(address, prefix)| format!("{address}/{prefix}"))
        .into_iter()
        .chain(
            one.station
                .ipv6
                .map(|(address, prefix)| format!("{address}/{prefix}")),
        )
        .collect();
    read_link_state(&mut report, &requests, one.group.namespace.as_deref());
    Ok(report)
}

/// The station's DHCP lease (udhcpc in its namespace, within its
/// deadline), or the failure sentence for its report.
fn lease_for(
    one: &StationRef,
    work_dir: &Path,
    deadline: Instant,
    interrupt: Option<&AtomicBool>,
) -> Result<super::dhcp::DhcpLease, String> {
    let name = one.station.name.as_str();
    obtain_lease(
        one.group.namespace.as_deref(),
        name,
        &work_dir.join(LEASE_SCRIPT_FILE),
        &work_dir.join(format!("{name}.udhcpc.log")),
        deadline,
        interrupt,
    )
    .map_err(|failure| match failure {
        LeaseFailure::Interrupted => "interrupted before it got a DHCP lease".to_string(),
        LeaseFailure::NoTool(message) => format!("associated, but no DHCP lease: {message}"),
        LeaseFailure::NoLease(said) => format!(
            "associated, but no DHCP lease within {:.0} s ({said})",
            one.group.timeout.as_secs_f64()
        ),
    })
}

/// The two client sockets (requests; events, attached) once the
/// supplicant's socket exists; `None` when it did not appear in time.
fn open_control(
    supplicant: &Supplicant,
    work_dir: &Path,
    deadline: Instant,
    interrupted: &dyn Fn() -> bool,
) -> Result<Option<(ControlSocket, ControlSocket)>, WifiError> {
    loop {
        if supplicant.socket.exists() {
            let connected =
                ControlSocket::connect(&supplicant.socket, work_dir).and_then(|requests| {
                    let events = ControlSocket::connect(&supplicant.socket, work_dir)?;
                    events.attach(REQUEST_TIMEOUT)?;
                    Ok((requests, events))
                });
            if let Ok(pair) = connected {
                return Ok(Some(pair));
            }
        }
        if Instant::now() >= deadline || interrupted() {
            return Ok(None);
        }
        if !supplicant_alive(supplicant) {
            return Err(WifiError::Supplicant {
                station: supplicant.station.clone(),
                what: "ended before it opened its control socket".to_string(),
                log: log_tail(&supplicant.log),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the supplicant process is still running (without reaping it:
/// its pid stays ours until the set's drop waits for it).
fn supplicant_alive(supplicant: &Supplicant) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", supplicant.child.id()))
        .map(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Keeps the most telling failure seen: a wrong key wins over the rest.
fn note_failure(event: &Event, reason: &mut Option<String>) {
    if let Some(found) = failure_reason(event) {
        if !reason.as_deref().is_some_and(is_wrong_key) {
            *reason = Some(found);
        }
    }
}

/// The sentence for a station that did not associate in time.
fn not_associated(
    one: &StationRef,
    reason: Option<String>,
    supplicant: &Supplicant,
    requests: &ControlSocket,
    interrupted: bool,
) -> String {
    if interrupted {
        return "interrupted before it associated".to_string();
    }
    let state = requests
        .request("STATUS", REQUEST_TIMEOUT)
        .ok()
        .and_then(|status| parse_key_values(&status).get("wpa_state").cloned())
        .unwrap_or_else(|| {
            if supplicant_alive(supplicant) {
                "unknown".to_string()
            } else {
                format!("ended ({})", log_tail(&supplicant.log))
            }
        });
    let reason = reason.unwrap_or_else(|| match state.as_str() {
        "SCANNING" | "DISCONNECTED" | "INACTIVE" => format!(
            "no AP with SSID {:?} answered (wpa_state {state})",
            one.group.ssid
        ),
        _ => format!("still in wpa_state {state}"),
    });
    if is_wrong_key(&reason) {
        // Given up at once: wpa_supplicant would only retry the same key.
        return format!("not associated to {:?}: {reason}", one.group.ssid);
    }
    format!(
        "not associated to {:?} within {:.0} s: {reason}",
        one.group.ssid,
        one.group.timeout.as_secs_f64()
    )
}

/// The station's addresses (`ipv4`: its static or leased one, and its
/// static IPv6 one), added once it has associated.
fn add_addresses(one: &StationRef, ipv4: Option<(Ipv4Addr, u8)>) -> Result<(), WifiError> {
    let namespace = one.group.namespace.as_deref();
    let name = one.station.name.as_str();
    let addresses: Vec<(IpAddr, u8)> = ipv4
        .map(|(address, prefix)| (IpAddr::V4(address), prefix))
        .into_iter()
        .chain(
            one.station
                .ipv6
                .map(|(address, prefix)| (IpAddr::V6(address), prefix)),
        )
        .collect();
    for (address, prefix) in addresses {
        let text = format!("{address}/{prefix}");
        let mut arguments = vec!["addr", "replace", text.as_str(), "dev", name];
        if address.is_ipv6() {
            arguments.push("nodad");
        }
        run_in(namespace, name, "ip", &arguments)?;
    }
    Ok(())
}

/// BSSID, SSID and frequency (STATUS), signal and frequency (SIGNAL_POLL),
/// tx and rx bitrates (`iw dev NAME link`) into `report`.
fn read_link_state(report: &mut StationReport, requests: &ControlSocket, namespace: Option<&str>) {
    if let Ok(status) = requests.request("STATUS", REQUEST_TIMEOUT) {
        let status = parse_key_values(&status);
        let completed = status.get("wpa_state").map(String::as_str) == Some("COMPLETED");
        report.bssid = status.get("bssid").filter(|_| completed).cloned();
        report.ssid = status.get("ssid").cloned().or(report.ssid.take());
        report.frequency_mhz = status.get("freq").and_then(|value| value.parse().ok());
    }
    if let Ok(signal) = requests.request("SIGNAL_POLL", REQUEST_TIMEOUT) {
        let signal = parse_key_values(&signal);
        report.signal_dbm = signal.get("RSSI").and_then(|value| value.parse().ok());
        if let Some(frequency) = signal.get("FREQUENCY").and_then(|value| value.parse().ok()) {
            report.frequency_mhz = Some(frequency);
        }
        report.tx_bitrate_mbps = signal.get("LINKSPEED").and_then(|value| value.parse().ok());
    }
    if let Ok(link) = output_in(namespace, "iw", &["dev", &report.name, "link"]) {
        let (tx, rx) = parse_iw_link_bitrates(&link);
        report.tx_bitrate_mbps = tx.or(report.tx_bitrate_mbps);
        report.rx_bitrate_mbps = rx.or(report.rx_bitrate_mbps);
        if report.signal_dbm.is_none() {
            report.signal_dbm = parse_iw_signal(&link);
        }
    }
}

/// `tx bitrate: 54.0 MBit/s` and `rx bitrate: ...` lines of `iw dev X link`.
pub(crate) fn parse_iw_link_bitrates(text: &str) -> (Option<f64>, Option<f64>) {
    let rate = |key: &str| {
        text.lines().find_map(|line| {
            line.trim()
                .strip_prefix(key)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse().ok())
        })
    };
    (rate("tx bitrate:"), rate("rx bitrate:"))
}

/// `signal: -30 dBm` of `iw dev X link`.
pub(crate) fn parse_iw_signal(text: &str) -> Option<i32> {
    text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("signal:")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
    })
}

/// Runs `tool arguments` in `namespace` (through `ip netns exec`).
fn run_in(
    namespace: Option<&str>,
    station: &str,
    tool: &str,
    arguments: &[&str],
) -> Result<(), WifiError> {
    output_in(namespace, tool, arguments)
        .map(|_| ())
        .map_err(|failure| match failure {
            Failure::NoTool(source) => WifiError::NoTool {
                tool: tool.to_string(),
                package: package_of(tool).to_string(),
                source,
            },
            Failure::Failed(stderr) => WifiError::Command {
                station: station.to_string(),
                command: format!(
                    "{}{tool} {}",
                    namespace.map_or_else(String::new, |namespace| format!(
                        "ip netns exec {namespace} "
                    )),
                    arguments.join(" ")
                ),
                stderr,
            },
        })
}

/// Why a command failed.
enum Failure {
    NoTool(std::io::Error),
    Failed(String),
}

fn output_in(namespace: Option<&str>, tool: &str, arguments: &[&str]) -> Result<String, Failure> {
    let mut command = match namespace {
        Some(namespace) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", namespace, tool]);
            command
        }
        None => Command::new(tool),
    };
    let output = command.args(arguments).output().map_err(Failure::NoTool)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if stderr.contains("No such file or directory") && stderr.contains(tool) {
            return Err(Failure::NoTool(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        }
        Err(Failure::Failed(stderr))
    }
}

/// The Debian package with `tool`.
fn package_of(tool: &str) -> &'static str {
    match tool {
        "iw" => "iw",
        "wpa_supplicant" => "wpasupplicant",
        "sysctl" => "procps",
        _ => "iproute2",
    }
}

fn create_private_dir(path: &Path) -> Result<(), WifiError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(path)
        .map_err(|source| WifiError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes an executable script (owner only: the work directory is private).
fn write_script(path: &Path, text: &str) -> Result<(), WifiError> {
    use std::os::unix::fs::PermissionsExt;
    write_file(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        WifiError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), WifiError> {
    std::fs::write(path, text).map_err(|source| WifiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The last two lines of a log, for messages.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(2)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iw_link_bitrates_and_signal() {
        let text = "Connected to 02:00:00:00:00:00 (on sta0000)\n\tSSID: testNet\n\tfreq: 2412\n\tsignal: -30 dBm\n\trx bitrate: 1.0 MBit/s\n\ttx bitrate: 54.0 MBit/s\n";
        assert_eq!(parse_iw_link_bitrates(text), (Some(54.0), Some(1.0)));
        assert_eq!(parse_iw_signal(text), Some(-30));
        assert_eq!(parse_iw_link_bitrates("Not connected."), (None, None));
    }
}
