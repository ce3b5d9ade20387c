//! Waiting for one station to come up: its control sockets, its
//! association (events, with STATUS asked now and then; a wrong key ends
//! the wait at once), its addresses (static, or a DHCP lease), its link
//! state for the report; and the sentence for one that did not.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::control::{failure_reason, is_wrong_key, parse_key_values, ControlSocket, Event};
use super::dhcp::{obtain_lease, LeaseFailure};
use super::stations::{
    StationControl, StationRef, Supplicant, SupplicantOf, WifiError, LEASE_SCRIPT_FILE,
    REQUEST_TIMEOUT,
};
use super::tools::{
    log_tail, output_in, parse_drop_counters, parse_iw_link_bitrates, parse_iw_signal, run_in,
};
use super::watch::AssociationLog;
use super::StationReport;

/// How often STATUS is asked while waiting, in case an event was missed.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// What waiting for one station gave: its report, its two sockets (when
/// it came up) and its association so far.
pub(super) struct Waited {
    pub(super) report: StationReport,
    pub(super) control: Option<StationControl>,
    pub(super) log: AssociationLog,
}

/// Waits for one station: its control socket, association (events, with
/// STATUS asked now and then), then its addresses.
pub(super) fn wait_for_station(
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
pub(super) fn wait_associated(
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
pub(super) fn station_state(requests: &ControlSocket) -> Option<String> {
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
pub(super) fn read_link_state(
    report: &mut StationReport,
    requests: &ControlSocket,
    namespace: Option<&str>,
) {
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
