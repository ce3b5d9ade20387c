//! The life of a run's WiFi stations: each made as an interface on its
//! radio with `iw` (in the radio's namespace), given its MAC and brought
//! up; one wpa_supplicant per radio, for all of its stations (so that they
//! share the radio's scans instead of failing each other's with EBUSY),
//! started by linerate with a control directory of its own and driven
//! through each station's control socket (events for association and
//! failure, STATUS and SIGNAL_POLL for state); static addresses added once
//! associated, or (`ipv4 = "dhcp"`) a lease obtained with udhcpc
//! ([`super::dhcp`]) and its address added; every station checked again
//! once all are up, then followed while the run lasts ([`super::watch`]).
//! [`StationSet`] is the guard: dropping it ends every wpa_supplicant it
//! started (by pid), deletes every interface it made and removes its
//! directory, whatever happened (udhcpc never outlives the wait for its
//! station).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::control::{failure_reason, is_wrong_key, parse_key_values, ControlSocket, Event};
use super::dhcp::{obtain_lease, LeaseFailure, LEASE_SCRIPT};
use super::watch::{AssociationLog, StationWatch};
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

/// A wpa_supplicant this set started: one per radio (and namespace), for
/// all of the radio's stations.
#[derive(Debug)]
struct Supplicant {
    child: Child,
    log: PathBuf,
}

/// A station's way to its wpa_supplicant.
#[derive(Debug)]
struct SupplicantOf {
    /// The station (its interface name).
    station: String,
    /// Its control socket.
    socket: PathBuf,
    /// Its process, an index into [`StationSet::supplicants`].
    process: usize,
}

/// The two client sockets of a station that came up: requests, and
/// events (attached).
struct StationControl {
    requests: ControlSocket,
    events: ControlSocket,
}

/// The run's stations, up (or failed, with the reason) for as long as
/// this value lives.
#[derive(Debug)]
pub struct StationSet {
    work_dir: PathBuf,
    interfaces: Vec<MadeInterface>,
    supplicants: Vec<Supplicant>,
    /// One per station, in the stations' order.
    stations: Vec<SupplicantOf>,
    reports: Vec<StationReport>,
    /// Every station's association as followed so far (when all came up).
    logs: Vec<AssociationLog>,
    /// The thread following the stations while the run lasts.
    watch: Option<StationWatch>,
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
            stations: Vec::new(),
            reports: Vec::new(),
            logs: Vec::new(),
            watch: None,
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
                &work_dir.join(group_config(index)),
                &supplicant_config(group, &work_dir.join("ctrl")),
            )?;
        }
        for one in &stations {
            set.make_interface(one)?;
        }
        set.start_supplicants(groups, &stations)?;
        let started = Instant::now();
        let waited = std::thread::scope(|scope| {
            let handles: Vec<_> = set
                .stations
                .iter()
                .zip(&stations)
                .map(|(of, one)| {
                    let supplicant = &set.supplicants[of.process];
                    let work_dir = &work_dir;
                    scope.spawn(move || {
                        wait_for_station(one, of, supplicant, work_dir, started, interrupt)
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
        let mut controls = Vec::new();
        for waited in waited {
            set.reports.push(waited.report);
            set.logs.push(waited.log);
            controls.extend(waited.control);
        }
        if set.all_up() && controls.len() == set.reports.len() {
            set.confirm_all_associated(&stations, &controls, started, interrupt);
            if set.all_up() {
                let events = controls.into_iter().map(|control| control.events).collect();
                set.watch = StationWatch::start(events, set.logs.clone());
            }
        }
        Ok(set)
    }

    /// Once every station has come up: each must still be associated now,
    /// all at once (a station that lost its association while the others
    /// were still coming up is waited for again, within its timeout), so
    /// that the run starts with every station's data path in place.
    fn confirm_all_associated(
        &mut self,
        stations: &[StationRef],
        controls: &[StationControl],
        started: Instant,
        interrupt: Option<&AtomicBool>,
    ) {
        let interrupted = || interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed));
        // Each pass waits for the stations found without association; a
        // pass that finds none ends it. A few passes at most: a station
        // that keeps dropping fails on its timeout.
        for _ in 0..3 {
            let mut all_associated = true;
            for (index, one) in stations.iter().enumerate() {
                let control = &controls[index];
                let log = &mut self.logs[index];
                while let Ok(Some(event)) = control.events.next_event(Duration::ZERO) {
                    log.note(&event, Instant::now());
                }
                if station_state(&control.requests).as_deref() == Some("COMPLETED") {
                    if !log.is_connected() {
                        log.associated(Instant::now());
                    }
                    continue;
                }
                all_associated = false;
                if log.is_connected() {
                    log.lost(Instant::now(), "wpa_state no longer COMPLETED".to_string());
                }
                let deadline = started + one.group.timeout;
                let mut reason = None;
                let back = wait_associated(control, deadline, &interrupted, &mut reason, log);
                if back.is_none() {
                    let report = &mut self.reports[index];
                    report.failure = Some(if interrupted() {
                        "interrupted before it associated".to_string()
                    } else {
                        format!(
                            "associated at {:.1} s, then lost its association ({}) and was not associated again within {:.0} s",
                            report.time_to_associate_s.unwrap_or_default(),
                            log.last_loss()
                                .or(reason)
                                .unwrap_or_else(|| "no reason given".to_string()),
                            one.group.timeout.as_secs_f64()
                        )
                    });
                    return;
                }
            }
            if all_associated {
                return;
            }
        }
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

    /// At the end of a run, before the stations go: stops following
    /// their association (losses, time without it, into the reports; a
    /// station without association now fails with the reason) and reads
    /// every associated station's signal, bitrates and link again.
    pub fn refresh(&mut self) {
        if let Some(logs) = self.watch.take().and_then(StationWatch::finish) {
            self.logs = logs;
        }
        let now = Instant::now();
        for (report, log) in self.reports.iter_mut().zip(&self.logs) {
            log.fill(report, now);
        }
        for (report, of) in self.reports.iter_mut().zip(&self.stations) {
            if !report.associated {
                continue;
            }
            if let Ok(control) = ControlSocket::connect(&of.socket, &self.work_dir) {
                let namespace = self
                    .interfaces
                    .iter()
                    .find(|made| made.name == report.name)
                    .and_then(|made| made.namespace.clone());
                read_link_state(report, &control, namespace.as_deref());
                if report.bssid.is_none() && report.failure.is_none() {
                    report.failure = Some(
                        "lost its association during the run (wpa_state not COMPLETED at the end)"
                            .to_string(),
                    );
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

    /// Starts one wpa_supplicant per radio (and namespace) for all of its
    /// stations (`-i STATION -c GROUP.conf`, `-N` between them), so that
    /// its stations share the radio's scans and take turns on it.
    fn start_supplicants(
        &mut self,
        groups: &[StationGroupPlan],
        stations: &[StationRef],
    ) -> Result<(), WifiError> {
        let mut radios: Vec<(Option<&str>, &str)> = Vec::new();
        for one in stations {
            let radio = (one.group.namespace.as_deref(), one.group.radio.as_str());
            if !radios.contains(&radio) {
                radios.push(radio);
            }
        }
        for (process, (namespace, radio)) in radios.into_iter().enumerate() {
            let mut arguments: Vec<String> = Vec::new();
            for one in stations.iter().filter(|one| {
                (one.group.namespace.as_deref(), one.group.radio.as_str()) == (namespace, radio)
            }) {
                let group = groups
                    .iter()
                    .position(|group| std::ptr::eq(group, one.group))
                    .unwrap_or(0);
                if !arguments.is_empty() {
                    arguments.push("-N".to_string());
                }
                let name = one.station.name.as_str();
                let config = self.work_dir.join(group_config(group));
                arguments.extend(
                    ["-D", "nl80211", "-i", name, "-c"]
                        .map(str::to_string)
                        .into_iter()
                        .chain([config.display().to_string()]),
                );
                self.stations.push(SupplicantOf {
                    station: name.to_string(),
                    socket: self.work_dir.join("ctrl").join(name),
                    process,
                });
            }
            self.start_supplicant(namespace, radio, &arguments)?;
        }
        // The stations' order, which the reports and waits follow.
        self.stations.sort_by_key(|of| {
            stations
                .iter()
                .position(|one| one.station.name == of.station)
                .unwrap_or(usize::MAX)
        });
        Ok(())
    }

    /// Starts one wpa_supplicant with `arguments` in `namespace`.
    fn start_supplicant(
        &mut self,
        namespace: Option<&str>,
        radio: &str,
        arguments: &[String],
    ) -> Result<(), WifiError> {
        let log = self.work_dir.join(format!(
            "wpa_supplicant{}-{radio}.log",
            self.supplicants.len()
        ));
        let log_file = std::fs::File::create(&log).map_err(|source| WifiError::Io {
            path: log.clone(),
            source,
        })?;
        let log_copy = log_file.try_clone().map_err(|source| WifiError::Io {
            path: log.clone(),
            source,
        })?;
        // `ip netns exec` enters the namespace and execs wpa_supplicant:
        // the child's pid is wpa_supplicant's.
        let mut command = match namespace {
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
        self.supplicants.push(Supplicant { child, log });
        Ok(())
    }
}

impl Drop for StationSet {
    /// Ends every wpa_supplicant started (SIGTERM by pid, then SIGKILL),
    /// deletes every interface made, removes the work directory.
    fn drop(&mut self) {
        // The watch first: its sockets go before the supplicants end.
        drop(self.watch.take());
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

/// The file name of group `index`'s wpa_supplicant configuration.
fn group_config(index: usize) -> String {
    format!("group{index}.conf")
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
    let frequency = group.frequency_mhz.map_or_else(String::new, |frequency| {
        format!("    scan_freq={frequency}\n    freq_list={frequency}\n")
    });
    format!(
        "ctrl_interface={}\nupdate_config=0\nap_scan=1\np2p_disabled=1\nsae_pwe=2\nnetwork={{\n    ssid=\"{}\"\n    scan_ssid=1\n{frequency}{network}}}\n",
        control_dir.display(),
        group.ssid
    )
}

/// What waiting for one station gave: its report, its two sockets (when
/// it came up) and its association so far.
struct Waited {
    report: StationReport,
    control: Option<StationControl>,
    log: AssociationLog,
}

/// Waits for one station: its control socket, association (events, with
/// STATUS asked now and then), then its addresses.
fn wait_for_station(
    one: &StationRef,
    of: &SupplicantOf,
    supplicant: &Supplicant,
    work_dir: &Path,
    started: Instant,
    interrupt: Option<&AtomicBool>,
) -> Result<Waited, WifiError> {
    let mut waited = Waited {
        report: StationReport {
            name: one.station.name.clone(),
            radio: one.group.radio.clone(),
            mac: one.station.mac.to_string(),
            ..StationReport::default()
        },
        control: None,
        log: AssociationLog::new(started),
    };
    let report = &mut waited.report;
    let deadline = started + one.group.timeout;
    let interrupted = || interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed));
    let Some(control) = open_control(of, supplicant, work_dir, deadline, &interrupted)? else {
        report.failure = Some(if interrupted() {
            "interrupted before it associated".to_string()
        } else {
            format!(
                "wpa_supplicant's control socket did not appear within {:.0} s",
                one.group.timeout.as_secs_f64()
            )
        });
        return Ok(waited);
    };
    let mut reason: Option<String> = None;
    let Some(associated_at) = wait_associated(
        &control,
        deadline,
        &interrupted,
        &mut reason,
        &mut waited.log,
    ) else {
        report.failure = Some(not_associated(
            one,
            reason,
            supplicant,
            &control.requests,
            interrupted(),
        ));
        return Ok(waited);
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
                return Ok(waited);
            }
        }
    }
    if let Err(error) = add_addresses(one, ipv4) {
        report.failure = Some(format!(
            "associated, but its address could not be set: {error}"
        ));
        return Ok(waited);
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
    read_link_state(report, &control.requests, one.group.namespace.as_deref());
    waited.control = Some(control);
    Ok(waited)
}

/// Waits until the station is associated (CTRL-EVENT-CONNECTED, or STATUS
/// COMPLETED asked every [`STATUS_EVERY`] in case an event was missed),
/// noting its events in `log`; `None` at the deadline, on interrupt, or at
/// once on a wrong key, with the most telling failure in `reason`.
fn wait_associated(
    control: &StationControl,
    deadline: Instant,
    interrupted: &dyn Fn() -> bool,
    reason: &mut Option<String>,
    log: &mut AssociationLog,
) -> Option<Instant> {
    let mut next_status = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline || interrupted() {
            return None;
        }
        if now >= next_status {
            next_status = now + STATUS_EVERY;
            if station_state(&control.requests).as_deref() == Some("COMPLETED") {
                log.associated(now);
                return Some(now);
            }
        }
        let wait = deadline
            .min(next_status)
            .saturating_duration_since(Instant::now());
        match control.events.next_event(wait) {
            Ok(Some(event)) => {
                log.note(&event, Instant::now());
                if event.name == "CTRL-EVENT-CONNECTED" {
                    return Some(Instant::now());
                }
                note_failure(&event, reason);
                if reason.as_deref().is_some_and(is_wrong_key) {
                    // wpa_supplicant would only retry the same key.
                    return None;
                }
            }
            Ok(None) => {}
            Err(_) => return None,
        }
    }
}

/// The station's `wpa_state` (STATUS), when wpa_supplicant answers.
fn station_state(requests: &ControlSocket) -> Option<String> {
    requests
        .request("STATUS", REQUEST_TIMEOUT)
        .ok()
        .and_then(|status| parse_key_values(&status).get("wpa_state").cloned())
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

/// The station's two client sockets (requests; events, attached) once
/// its control socket exists; `None` when it did not appear in time.
fn open_control(
    of: &SupplicantOf,
    supplicant: &Supplicant,
    work_dir: &Path,
    deadline: Instant,
    interrupted: &dyn Fn() -> bool,
) -> Result<Option<StationControl>, WifiError> {
    loop {
        if of.socket.exists() {
            let connected = ControlSocket::connect(&of.socket, work_dir).and_then(|requests| {
                let events = ControlSocket::connect(&of.socket, work_dir)?;
                events.attach(REQUEST_TIMEOUT)?;
                Ok(StationControl { requests, events })
            });
            if let Ok(control) = connected {
                return Ok(Some(control));
            }
        }
        if Instant::now() >= deadline || interrupted() {
            return Ok(None);
        }
        if !supplicant_alive(supplicant) {
            return Err(WifiError::Supplicant {
                station: of.station.clone(),
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
    let state = station_state(requests).unwrap_or_else(|| {
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
    // sysfs as the namespace sees it (`ip netns exec` mounts its own).
    let statistics = format!("/sys/class/net/{}/statistics", report.name);
    let counters = [
        format!("{statistics}/tx_dropped"),
        format!("{statistics}/rx_dropped"),
    ];
    if let Ok(text) = output_in(namespace, "cat", &[&counters[0], &counters[1]]) {
        report.interface_dropped = parse_drop_counters(&text);
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

/// The interface's `tx_dropped` and `rx_dropped` (sysfs), one a line.
pub(crate) fn parse_drop_counters(text: &str) -> Option<super::InterfaceDrops> {
    let mut counters = text.lines().map(|line| line.trim().parse::<u64>().ok());
    Some(super::InterfaceDrops {
        tx: counters.next()??,
        rx: counters.next()??,
    })
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
        "cat" => "coreutils",
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
    fn supplicant_config_scans_only_the_given_frequency() {
        let mut group = StationGroupPlan {
            radio: "wiphy0".to_string(),
            namespace: None,
            ssid: "testNet".to_string(),
            security: Security::Wpa2 {
                passphrase: "testPass".to_string(),
            },
            timeout: Duration::from_secs(60),
            frequency_mhz: None,
            stations: Vec::new(),
        };
        let text = supplicant_config(&group, Path::new("/tmp/ctrl"));
        assert!(text.contains("p2p_disabled=1\n"), "{text}");
        assert!(text.contains("    psk=\"testPass\"\n"), "{text}");
        assert!(!text.contains("scan_freq"), "{text}");
        group.frequency_mhz = Some(2412);
        let text = supplicant_config(&group, Path::new("/tmp/ctrl"));
        assert!(
            text.contains("    scan_freq=2412\n    freq_list=2412\n"),
            "{text}"
        );
    }

    #[test]
    fn interface_drop_counters() {
        assert_eq!(
            parse_drop_counters("1\n3\n"),
            Some(crate::wifi::InterfaceDrops { tx: 1, rx: 3 })
        );
        assert_eq!(parse_drop_counters("1\n"), None);
        assert_eq!(parse_drop_counters("x\ny\n"), None);
    }

    #[test]
    fn iw_link_bitrates_and_signal() {
        let text = "Connected to 02:00:00:00:00:00 (on sta0000)\n\tSSID: testNet\n\tfreq: 2412\n\tsignal: -30 dBm\n\trx bitrate: 1.0 MBit/s\n\ttx bitrate: 54.0 MBit/s\n";
        assert_eq!(parse_iw_link_bitrates(text), (Some(54.0), Some(1.0)));
        assert_eq!(parse_iw_signal(text), Some(-30));
        assert_eq!(parse_iw_link_bitrates("Not connected."), (None, None));
    }
}
