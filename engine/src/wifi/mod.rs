//! WiFi stations as endpoints of a run: the validated station plan
//! ([`StationGroupPlan`], made by the scenario's `[[station]]` tables), the
//! station life cycle ([`StationSet`]: interfaces made with `iw` on a radio,
//! one wpa_supplicant per radio driven through each station's control
//! socket, waiting for association and address (`wait`; static, or a DHCP
//! lease: [`dhcp`]), removal by a drop guard; `tools` runs the commands),
//! the per-station
//! state in the report ([`StationReport`]; association followed while the
//! run lasts: `watch`), and the WiFi lab the VM uses
//! (`linerate lab up --wifi N`, [`lab`]).

pub mod control;
pub mod dhcp;
pub mod lab;
mod stations;
mod tools;
mod wait;
mod watch;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wire::MacAddr;

pub use stations::{StationSet, WifiError};

/// How a group of stations authenticates to its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// No encryption.
    Open,
    /// WPA2-Personal (PSK) with this passphrase (8 to 63 characters).
    Wpa2 {
        /// The passphrase.
        passphrase: String,
    },
    /// WPA3-Personal (SAE) with this password.
    Wpa3 {
        /// The password.
        passphrase: String,
    },
}

impl Security {
    /// "open", "wpa2" or "wpa3", as the scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Security::Open => "open",
            Security::Wpa2 { .. } => "wpa2",
            Security::Wpa3 { .. } => "wpa3",
        }
    }
}

/// One station: an interface on a radio, with its MAC and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationPlan {
    /// The interface name, also the port name streams use.
    pub name: String,
    /// The station's MAC address.
    pub mac: MacAddr,
    /// Static IPv4 address and prefix length, if any.
    pub ipv4: Option<(Ipv4Addr, u8)>,
    /// IPv4 by DHCP (`ipv4 = "dhcp"`): once associated, the station runs a
    /// DHCP client and takes the leased address (`ipv4` is then `None`).
    pub ipv4_dhcp: bool,
    /// Static IPv6 address and prefix length, if any.
    pub ipv6: Option<(Ipv6Addr, u8)>,
}

/// A `[[station]]` table: stations on one radio joining one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationGroupPlan {
    /// The radio (phy name, e.g. `wiphy0`).
    pub radio: String,
    /// The network namespace the radio is in; `None`: the run's own.
    pub namespace: Option<String>,
    /// The network's SSID.
    pub ssid: String,
    /// How the stations authenticate.
    pub security: Security,
    /// Longest wait for association and address, per station.
    pub timeout: Duration,
    /// The AP's channel frequency (MHz) when the scenario gives it: the
    /// stations scan only there (`scan_freq`, `freq_list`), a fraction of
    /// a full scan's time.
    pub frequency_mhz: Option<u32>,
    /// The stations, in name order.
    pub stations: Vec<StationPlan>,
}

/// A station's state, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StationReport {
    /// The station's interface name.
    pub name: String,
    /// The radio it was made on.
    pub radio: String,
    /// Its MAC address.
    pub mac: String,
    /// Whether it associated (and, for WPA2/WPA3, completed the handshake).
    pub associated: bool,
    /// The access point's BSSID.
    pub bssid: Option<String>,
    /// The network's SSID.
    pub ssid: Option<String>,
    /// The channel's frequency, MHz.
    pub frequency_mhz: Option<u32>,
    /// Signal strength, dBm.
    pub signal_dbm: Option<i32>,
    /// The transmit bitrate, Mbit/s.
    pub tx_bitrate_mbps: Option<f64>,
    /// The receive bitrate, Mbit/s.
    pub rx_bitrate_mbps: Option<f64>,
    /// From starting wpa_supplicant to association, seconds.
    pub time_to_associate_s: Option<f64>,
    /// From association to the addresses being in place (with DHCP: the
    /// lease obtained and its address added), seconds.
    pub time_to_address_s: Option<f64>,
    /// The addresses it was given (static, or leased).
    pub addresses: Vec<String>,
    /// The DHCP lease, for a station with `ipv4 = "dhcp"` that got one.
    #[serde(default)]
    pub dhcp: Option<dhcp::DhcpLease>,
    /// Times it lost its association after associating, up to the end
    /// of the run (each counted from wpa_supplicant's disconnection event).
    #[serde(default)]
    pub disconnections: u32,
    /// Time without association after the first one, up to the end of
    /// the run, seconds.
    #[serde(default)]
    pub time_without_association_s: f64,
    /// The last loss of association: when (seconds from wpa_supplicant's
    /// start, like `time_to_associate_s`) and why.
    #[serde(default)]
    pub last_disconnection: Option<String>,
    /// Frames the station's interface dropped on transmit and on receive
    /// (the driver's and mac80211's own counters in sysfs), as read
    /// at the end of the run; the interface is made for the run, so these
    /// are the run's.
    #[serde(default)]
    pub interface_dropped: Option<InterfaceDrops>,
    /// Why it did not associate (or lost its address, or its association
    /// by the end of the run), when it did not.
    pub failure: Option<String>,
}

/// A station interface's drop counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceDrops {
    /// Frames dropped on transmit.
    pub tx: u64,
    /// Frames dropped on receive.
    pub rx: u64,
}

impl StationReport {
    /// One failure sentence for the verdict, when the station failed.
    pub fn failure_sentence(&self) -> Option<String> {
        self.failure
            .as_ref()
            .map(|reason| format!("station {:?}: {reason}", self.name))
    }
}
