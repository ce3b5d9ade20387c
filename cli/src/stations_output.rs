//! The text output for WiFi stations: the line before a run that says
//! which stations it brings up and that AF_XDP and XDP run in generic (skb)
//! mode on them, and the per-station table of the final summary.

use linerate_engine::scenario::Plan;
use linerate_engine::wifi::StationReport;

/// Before the run: what is brought up and the generic-mode note (one line each).
pub fn print_plan(plan: &Plan) {
    let names: Vec<&str> = plan
        .stations
        .iter()
        .flat_map(|group| group.stations.iter().map(|station| station.name.as_str()))
        .collect();
    if names.is_empty() {
        return;
    }
    for group in &plan.stations {
        println!(
            "wifi: {} station(s) on radio {}{} joining {:?} ({}), waiting up to {:.0} s for association and address{}",
            group.stations.len(),
            group.radio,
            group
                .namespace
                .as_ref()
                .map_or_else(String::new, |namespace| format!(" (namespace {namespace})")),
            group.ssid,
            group.security.name(),
            group.timeout.as_secs_f64(),
            if group.stations.iter().any(|station| station.ipv4_dhcp) {
                " (IPv4 by DHCP)"
            } else {
                ""
            }
        );
    }
    println!(
        "{}: wireless interfaces, AF_XDP and XDP in generic (skb) mode",
        short_list(&names)
    );
}

/// The final summary's station table, one line per station.
pub fn print_summary(stations: &[StationReport]) {
    if stations.is_empty() {
        return;
    }
    println!("stations:");
    for station in stations {
        let optional = |value: Option<String>| value.unwrap_or_else(|| "-".to_string());
        if station.associated {
            println!(
                "  {:<10} associated  bssid {}  ssid {}  {} MHz  signal {} dBm  tx {} rx {} Mbit/s  associated in {} s, address in {} s  {}{}",
                station.name,
                optional(station.bssid.clone()),
                optional(station.ssid.clone()),
                optional(station.frequency_mhz.map(|value| value.to_string())),
                optional(station.signal_dbm.map(|value| value.to_string())),
                optional(station.tx_bitrate_mbps.map(|value| format!("{value:.1}"))),
                optional(station.rx_bitrate_mbps.map(|value| format!("{value:.1}"))),
                optional(station.time_to_associate_s.map(|value| format!("{value:.1}"))),
                optional(station.time_to_address_s.map(|value| format!("{value:.2}"))),
                station.addresses.join(" "),
                station.dhcp.as_ref().map_or_else(String::new, |lease| format!(
                    " (DHCP lease{})",
                    lease
                        .server
                        .map_or_else(String::new, |server| format!(" from {server}"))
                ))
            );
            if let Some(dropped) = station
                .interface_dropped
                .filter(|dropped| dropped.tx > 0 || dropped.rx > 0)
            {
                println!(
                    "  {:<10} its interface dropped {} frame(s) on transmit, {} on receive",
                    "", dropped.tx, dropped.rx
                );
            }
            if station.disconnections > 0 || station.failure.is_some() {
                println!(
                    "  {:<10} {} disconnection(s), {:.1} s without association{}{}",
                    "",
                    station.disconnections,
                    station.time_without_association_s,
                    station
                        .last_disconnection
                        .as_ref()
                        .map_or_else(String::new, |last| format!(", the last {last}")),
                    station
                        .failure
                        .as_ref()
                        .map_or_else(String::new, |failure| format!("; FAILED: {failure}"))
                );
            }
        } else {
            println!(
                "  {:<10} NOT associated: {}",
                station.name,
                optional(station.failure.clone())
            );
        }
    }
}

/// The first few names, and how many more.
fn short_list(names: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut text = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
