//! The life of a run's WiFi stations: each made as an interface on its
//! radio with `iw` (in the radio's namespace), given its MAC and brought
//! up; one wpa_supplicant per radio, for all of its stations (so that they
//! share the radio's scans instead of failing each other's with EBUSY),
//! started by linerate with a control directory of its own and driven
//! through each station's control socket; each station waited for on a
//! thread of its own ([`super::wait`]: association, then its static
//! addresses or a DHCP lease); every station checked again once all are
//! up, then followed while the run lasts ([`super::watch`]).
//! [`StationSet`] is the guard: dropping it ends every wpa_supplicant it
//! started (by pid), deletes every interface it made and removes its
//! directory, whatever happened (udhcpc never outlives the wait for its
//! station).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::control::ControlSocket;
use super::dhcp::LEASE_SCRIPT;
use super::tools::{command_in, create_private_dir, log_output, run_in, write_file, write_script};
use super::wait::{read_link_state, station_state, wait_associated, wait_for_station};
use super::watch::{AssociationLog, StationWatch};
use super::{Security, StationGroupPlan, StationPlan, StationReport};

/// Longest wait for one control request.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a wpa_supplicant may take to end after SIGTERM.
const END_WAIT: Duration = Duration::from_secs(3);
/// The DHCP lease script's file in the work directory.
pub(super) const LEASE_SCRIPT_FILE: &str = "udhcpc-lease.sh";

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
pub(super) struct Supplicant {
    pub(super) child: Child,
    pub(super) log: PathBuf,
}

/// A station's way to its wpa_supplicant.
#[derive(Debug)]
pub(super) struct SupplicantOf {
    /// The station (its interface name).
    pub(super) station: String,
    /// Its control socket.
    pub(super) socket: PathBuf,
    /// Its process, an index into [`StationSet::supplicants`].
    pub(super) process: usize,
}

/// The two client sockets of a station that came up: requests, and
/// events (attached).
pub(super) struct StationControl {
    pub(super) requests: ControlSocket,
    pub(super) events: ControlSocket,
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
pub(super) struct StationRef<'a> {
    pub(super) group: &'a StationGroupPlan,
    pub(super) station: &'a StationPlan,
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
        // The child's pid is wpa_supplicant's (`ip netns exec` execs it).
        let mut command = command_in(namespace, "wpa_supplicant");
        log_output(&mut command, &log).map_err(|source| WifiError::Io {
            path: log.clone(),
            source,
        })?;
        let child = command
            .args(arguments)
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
}
