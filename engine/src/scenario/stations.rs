//! The scenario's `[[station]]` tables: WiFi stations on a radio, read as
//! serde sees them (every value spanned) and validated into the engine's
//! [`StationGroupPlan`]s with file:line:column errors. Each station is
//! also a port (its interface, in the group's namespace), so streams name
//! stations exactly like ports; a stream whose `tx` or `rx` ends in `*`
//! (`tx = "sta*"`) is one stream per station whose name starts so, and in
//! a stream from or to a station `src_mac`/`src_ip` (sending station) and
//! `dst_mac`/`dst_ip` (receiving station) may be `"station"`: that
//! station's own MAC and address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::RawStream;
use super::{units, PortPlan, ScenarioError, Validator, MAX_INTERFACE_NAME};
use crate::frame::mac_to_u128;
use crate::wifi::{Security, StationGroupPlan, StationPlan};
use crate::wire::MacAddr;

/// Default wait for association and address.
pub const DEFAULT_STATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Most stations one `[[station]]` table makes.
pub const MAX_STATIONS_PER_GROUP: u64 = 1000;
/// The value of `src_mac`/`src_ip`/`dst_mac`/`dst_ip` meaning the station's own.
pub const STATION_VALUE: &str = "station";
/// The channel frequencies a station's `frequency` may name, MHz (2.4, 5
/// and 6 GHz bands).
const FREQUENCY_RANGE_MHZ: std::ops::RangeInclusive<i64> = 2412..=7115;

/// The value of a station's `ipv4` asking for a DHCP lease.
pub const DHCP_VALUE: &str = "dhcp";

/// `[[station]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStation {
    /// The radio (phy name).
    pub radio: Spanned<String>,
    /// The namespace the radio is in.
    pub namespace: Option<Spanned<String>>,
    /// How many stations (default 1).
    pub count: Option<Spanned<i64>>,
    /// The first station's name; trailing digits count up.
    pub name: Spanned<String>,
    /// The first MAC address.
    pub mac: Option<Spanned<String>>,
    /// Added to the MAC per station (default 1).
    pub mac_step: Option<Spanned<i64>>,
    /// The network's SSID.
    pub ssid: Spanned<String>,
    /// "open", "wpa2" or "wpa3".
    pub security: Option<Spanned<String>>,
    /// WPA2 passphrase or WPA3 password.
    pub passphrase: Option<Spanned<String>>,
    /// First static IPv4 address with prefix, +1 per station, or "dhcp".
    pub ipv4: Option<Spanned<String>>,
    /// First static IPv6 address with prefix, +1 per station.
    pub ipv6: Option<Spanned<String>>,
    /// Longest wait for association and address, e.g. "60s".
    pub timeout: Option<Spanned<String>>,
    /// The AP's channel frequency, MHz: scans look only there.
    pub frequency: Option<Spanned<i64>>,
}

/// The `copy`-th name of template `name`: its trailing digits counted up
/// with their width kept (`sta0000` → `sta0003`); `None` when the digits
/// run out (`sta9` has no copy 1 of the same width... it widens: `sta10`
/// is refused, names must keep their width) or there are none.
pub fn station_name(name: &str, copy: u64) -> Option<String> {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &name[stem.len()..];
    if digits.is_empty() {
        return (copy == 0).then(|| name.to_string());
    }
    let first: u64 = digits.parse().ok()?;
    let number = first.checked_add(copy)?;
    let text = format!("{number:0width$}", width = digits.len());
    (text.len() == digits.len()).then(|| format!("{stem}{text}"))
}

/// `first` + `step` × `copy` as a MAC address; `None` past ff:ff:ff:ff:ff:ff.
pub fn station_mac(first: MacAddr, step: u64, copy: u64) -> Option<MacAddr> {
    let value = mac_to_u128(first).checked_add(u128::from(step) * u128::from(copy))?;
    if value >> 48 != 0 {
        return None;
    }
    let bytes = value.to_be_bytes();
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&bytes[10..16]);
    Some(MacAddr(mac))
}

/// The MAC of station `copy` of group `group` when the table gives none:
/// locally administered unicast `02:4c:57:GG:HH:LL` (GG the group, HHLL the station).
pub fn derived_station_mac(group: usize, copy: u64) -> MacAddr {
    MacAddr([
        0x02,
        0x4c,
        0x57,
        (group & 0xff) as u8,
        ((copy >> 8) & 0xff) as u8,
        (copy & 0xff) as u8,
    ])
}

/// `first` + `copy` within its /`prefix` network; `None` when it would
/// leave the network or hit its broadcast address.
pub fn station_ipv4(first: Ipv4Addr, prefix: u8, copy: u64) -> Option<Ipv4Addr> {
    let value = u64::from(u32::from(first)).checked_add(copy)?;
    let value = u32::try_from(value).ok()?;
    let host_bits = 32 - u32::from(prefix);
    let mask = if host_bits >= 32 {
        0
    } else {
        u32::MAX << host_bits
    };
    let broadcast = u32::from(first) | !mask;
    (value & mask == u32::from(first) & mask && (host_bits < 2 || value != broadcast))
        .then(|| Ipv4Addr::from(value))
}

/// `first` + `copy` within its /`prefix` network; `None` when it would leave it.
pub fn station_ipv6(first: Ipv6Addr, prefix: u8, copy: u64) -> Option<Ipv6Addr> {
    let value = u128::from(first).checked_add(u128::from(copy))?;
    let host_bits = 128 - u32::from(prefix);
    let mask = if host_bits >= 128 {
        0
    } else {
        u128::MAX << host_bits
    };
    (value & mask == u128::from(first) & mask).then(|| Ipv6Addr::from(value))
}

/// "addr/len" split and parsed.
fn address_and_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: IpAddr = address.trim().parse().ok()?;
    let prefix: u8 = prefix.trim().parse().ok()?;
    let most = if address.is_ipv4() { 32 } else { 128 };
    (prefix <= most).then_some((address, prefix))
}

impl Validator<'_> {
    /// Every `[[station]]` table as a group plan; each station is added to
    /// `ports` (and `port_index`) as a port of its own name.
    pub(super) fn stations(
        &self,
        raw: Vec<Spanned<RawStation>>,
        ports: &mut Vec<PortPlan>,
        port_index: &mut HashMap<String, usize>,
    ) -> Result<Vec<StationGroupPlan>, ScenarioError> {
        let mut groups = Vec::with_capacity(raw.len());
        for (index, table) in raw.into_iter().enumerate() {
            let table = table.into_inner();
            let name_span = table.name.span();
            let group = self.station_group(index, table)?;
            for station in &group.stations {
                if port_index.contains_key(&station.name) {
                    return Err(self.error(
                        name_span.clone(),
                        &format!("station[{index}].name"),
                        format!(
                            "station {:?} has the name of a port or another station; names must be unique",
                            station.name
                        ),
                    ));
                }
                port_index.insert(station.name.clone(), ports.len());
                ports.push(PortPlan::on_interface(
                    station.name.clone(),
                    station.name.clone(),
                    group.namespace.clone(),
                ));
            }
            groups.push(group);
        }
        Ok(groups)
    }

    fn station_group(
        &self,
        index: usize,
        table: RawStation,
    ) -> Result<StationGroupPlan, ScenarioError> {
        let field = |name: &str| format!("station[{index}].{name}");
        let radio = table.radio.get_ref().trim().to_string();
        if radio.is_empty() || radio.contains(['/', ' ', '\0']) {
            return Err(self.error(
                table.radio.span(),
                &field("radio"),
                "give the radio's phy name, e.g. \"wiphy0\" (see `iw phy` or /sys/class/ieee80211)",
            ));
        }
        let namespace = self.namespace_name(table.namespace.as_ref(), &field("namespace"))?;
        let count = match &table.count {
            None => 1,
            Some(count) if (1..=MAX_STATIONS_PER_GROUP as i64).contains(count.get_ref()) => {
                *count.get_ref() as u64
            }
            Some(count) => {
                return Err(self.error(
                    count.span(),
                    &field("count"),
                    format!("must be 1 to {MAX_STATIONS_PER_GROUP} stations"),
                ))
            }
        };
        let ssid = table.ssid.get_ref().clone();
        if ssid.is_empty() || ssid.len() > 32 || ssid.contains(['"', '\n', '\0']) {
            return Err(self.error(
                table.ssid.span(),
                &field("ssid"),
                "an SSID is 1 to 32 bytes, without quotes or line breaks",
            ));
        }
        let security = self.station_security(index, &table)?;
        let timeout = match &table.timeout {
            None => DEFAULT_STATION_TIMEOUT,
            Some(text) => {
                let value = units::parse_duration(text.get_ref())
                    .map_err(|message| self.error(text.span(), &field("timeout"), message))?;
                if value.is_zero() {
                    return Err(self.error(
                        text.span(),
                        &field("timeout"),
                        "must be longer than zero",
                    ));
                }
                value
            }
        };
        let frequency_mhz = match &table.frequency {
            None => None,
            Some(value) if FREQUENCY_RANGE_MHZ.contains(value.get_ref()) => {
                Some(*value.get_ref() as u32)
            }
            Some(value) => {
                return Err(self.error(
                    value.span(),
                    &field("frequency"),
                    "must be a channel frequency in MHz, 2412 to 7115 (e.g. 2412 for 2.4 GHz channel 1, 5180 for channel 36)",
                ))
            }
        };
        let stations = (0..count)
            .map(|copy| self.station(index, &table, copy, count))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StationGroupPlan {
            radio,
            namespace,
            ssid,
            security,
            timeout,
            frequency_mhz,
            stations,
        })
    }

    fn station_security(
        &self,
        index: usize,
        table: &RawStation,
    ) -> Result<Security, ScenarioError> {
        let field = |name: &str| format!("station[{index}].{name}");
        let passphrase = table.passphrase.as_ref().map(|text| text.get_ref().clone());
        let kind = match &table.security {
            Some(security) => security.get_ref().as_str(),
            None if passphrase.is_some() => "wpa2",
            None => "open",
        };
        let span = table
            .security
            .as_ref()
            .map(Spanned::span)
            .unwrap_or_else(|| table.ssid.span());
        let need_passphrase = |minimum: usize| -> Result<String, ScenarioError> {
            match &table.passphrase {
                None => Err(self.error(
                    span.clone(),
                    &field("passphrase"),
                    format!("security = \"{kind}\" needs a passphrase (passphrase = \"...\")"),
                )),
                Some(text) => {
                    let value = text.get_ref();
                    if value.len() < minimum
                        || value.len() > 63
                        || value.contains(['"', '\n', '\0'])
                    {
                        Err(self.error(
                            text.span(),
                            &field("passphrase"),
                            format!("a {kind} passphrase is {minimum} to 63 characters, without quotes or line breaks"),
                        ))
                    } else {
                        Ok(value.clone())
                    }
                }
            }
        };
        match kind {
            "open" => match &table.passphrase {
                Some(text) => Err(self.error(
                    text.span(),
                    &field("passphrase"),
                    "an open network has no passphrase: remove it, or set security = \"wpa2\" or \"wpa3\"",
                )),
                None => Ok(Security::Open),
            },
            "wpa2" => Ok(Security::Wpa2 {
                passphrase: need_passphrase(8)?,
            }),
            "wpa3" => Ok(Security::Wpa3 {
                passphrase: need_passphrase(1)?,
            }),
            other => Err(self.error(
                span,
                &field("security"),
                format!("{other:?} is not a security mode: \"open\", \"wpa2\" (PSK) or \"wpa3\" (SAE)"),
            )),
        }
    }

    fn station(
        &self,
        index: usize,
        table: &RawStation,
        copy: u64,
        count: u64,
    ) -> Result<StationPlan, ScenarioError> {
        let field = |name: &str| format!("station[{index}].{name}");
        let template = table.name.get_ref().trim();
        let name = station_name(template, copy)
            .filter(|name| !name.is_empty() && name.len() <= MAX_INTERFACE_NAME && !name.contains(['/', ' ', '\0']))
            .ok_or_else(|| {
                self.error(
                    table.name.span(),
                    &field("name"),
                    format!(
                        "{template:?} cannot name {count} station(s): give an interface name of at most {MAX_INTERFACE_NAME} characters ending in enough digits, e.g. \"sta0000\""
                    ),
                )
            })?;
        let mac = match &table.mac {
            None => derived_station_mac(index, copy),
            Some(text) => {
                let first = text
                    .get_ref()
                    .parse::<MacAddr>()
                    .map_err(|error| self.error(text.span(), &field("mac"), error.to_string()))?;
                let step = match &table.mac_step {
                    None => 1,
                    Some(step) if *step.get_ref() >= 1 => *step.get_ref() as u64,
                    Some(step) => {
                        return Err(self.error(
                            step.span(),
                            &field("mac_step"),
                            "must be 1 or more",
                        ))
                    }
                };
                station_mac(first, step, copy).ok_or_else(|| {
                    self.error(
                        text.span(),
                        &field("mac"),
                        format!("{count} stations from {first} run past ff:ff:ff:ff:ff:ff"),
                    )
                })?
            }
        };
        if super::is_group_mac(mac) {
            let span = table
                .mac
                .as_ref()
                .map_or_else(|| table.name.span(), Spanned::span);
            return Err(self.error(
                span,
                &field("mac"),
                format!("{mac} is a group (multicast) address; a station needs a unicast MAC (first byte even)"),
            ));
        }
        let ipv4_dhcp = table
            .ipv4
            .as_ref()
            .is_some_and(|value| value.get_ref().trim() == DHCP_VALUE);
        let ipv4 = match self.station_address(index, "ipv4", table.ipv4.as_ref(), copy, count)? {
            Some((IpAddr::V4(address), prefix)) => Some((address, prefix)),
            _ => None,
        };
        let ipv6 = match self.station_address(index, "ipv6", table.ipv6.as_ref(), copy, count)? {
            Some((IpAddr::V6(address), prefix)) => Some((address, prefix)),
            _ => None,
        };
        Ok(StationPlan {
            name,
            mac,
            ipv4,
            ipv4_dhcp,
            ipv6,
        })
    }

    /// Station `copy`'s address from the table's `ipv4` or `ipv6` key (`key`
    /// says which family): the first address plus `copy`, in its network.
    fn station_address(
        &self,
        index: usize,
        key: &str,
        value: Option<&Spanned<String>>,
        copy: u64,
        count: u64,
    ) -> Result<Option<(IpAddr, u8)>, ScenarioError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let text = value.get_ref().trim();
        let bad =
            |message: String| self.error(value.span(), &format!("station[{index}].{key}"), message);
        let v6 = key == "ipv6";
        if text == DHCP_VALUE {
            if v6 {
                return Err(bad(
                    "DHCPv6 is not supported (ipv4 = \"dhcp\" is): give the first static address, e.g. \"fd00:77::10/64\"".to_string(),
                ));
            }
            // Leased at run time (see `StationPlan::ipv4_dhcp`).
            return Ok(None);
        }
        let stepped = match address_and_prefix(text) {
            Some((IpAddr::V4(first), prefix)) if !v6 => {
                station_ipv4(first, prefix, copy).map(|address| (IpAddr::V4(address), prefix))
            }
            Some((IpAddr::V6(first), prefix)) if v6 => {
                station_ipv6(first, prefix, copy).map(|address| (IpAddr::V6(address), prefix))
            }
            _ => {
                return Err(bad(format!(
                    "{text:?} is not an {} address with a prefix length, e.g. {}",
                    if v6 { "IPv6" } else { "IPv4" },
                    if v6 {
                        "\"fd00:77::10/64\""
                    } else {
                        "\"10.77.0.10/24\""
                    }
                )))
            }
        };
        match stepped {
            Some(address) => Ok(Some(address)),
            None => Err(bad(format!(
                "{count} addresses from {} do not fit in its network",
                text
            ))),
        }
    }

    /// A stream table as the streams it makes: itself, or with `tx` or
    /// `rx` ending in `*` one per station whose name starts with the rest
    /// (named `<name>-<station>`); in each, the `"station"` values of
    /// `src_mac`/`src_ip` and `dst_mac`/`dst_ip` replaced by the sending
    /// and receiving station's own.
    pub(super) fn per_station_streams(
        &self,
        index: usize,
        stream: RawStream,
        groups: &[StationGroupPlan],
    ) -> Result<Vec<RawStream>, ScenarioError> {
        let field = |name: &str| format!("stream[{index}].{name}");
        let stations: Vec<&StationPlan> = groups.iter().flat_map(|group| &group.stations).collect();
        let tx_glob = stream.tx.get_ref().strip_suffix('*').map(str::to_string);
        let rx_glob = stream.rx.get_ref().strip_suffix('*').map(str::to_string);
        let (prefix, key) = match (tx_glob, rx_glob) {
            (None, None) => return Ok(vec![self.station_values(index, stream, &stations)?]),
            (Some(_), Some(_)) => {
                return Err(self.error(
                    stream.rx.span(),
                    &field("rx"),
                    "only one of tx and rx may name stations by a prefix (\"sta*\"); the other names one port",
                ))
            }
            (Some(prefix), None) => (prefix, "tx"),
            (None, Some(prefix)) => (prefix, "rx"),
        };
        let value = if key == "tx" { &stream.tx } else { &stream.rx };
        if let Some(count) = &stream.count {
            return Err(self.error(
                count.span(),
                &field("count"),
                "a stream per station (\"sta*\") cannot also have copies: remove count",
            ));
        }
        let matched: Vec<&&StationPlan> = stations
            .iter()
            .filter(|station| station.name.starts_with(prefix.as_str()))
            .collect();
        if matched.is_empty() {
            return Err(self.error(
                value.span(),
                &field(key),
                format!(
                    "no [[station]] name starts with {prefix:?}; the stations are: {}",
                    if stations.is_empty() {
                        "none".to_string()
                    } else {
                        stations
                            .iter()
                            .take(8)
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            ));
        }
        let base = stream.name.as_ref().map_or_else(
            || format!("stream{index}"),
            |name| name.get_ref().trim().to_string(),
        );
        matched
            .iter()
            .map(|station| {
                let mut copy = stream.clone();
                let target = if key == "tx" {
                    &mut copy.tx
                } else {
                    &mut copy.rx
                };
                *target = Spanned::new(target.span(), station.name.clone());
                let name_span = copy
                    .name
                    .as_ref()
                    .map_or_else(|| copy.tx.span(), Spanned::span);
                copy.name = Some(Spanned::new(name_span, format!("{base}-{}", station.name)));
                copy
            })
            .map(|copy| self.station_values(index, copy, &stations))
            .collect()
    }

    /// Replaces `"station"` in the address fields by the station's own.
    fn station_values(
        &self,
        index: usize,
        mut stream: RawStream,
        stations: &[&StationPlan],
    ) -> Result<RawStream, ScenarioError> {
        let find = |name: &str| {
            stations
                .iter()
                .find(|station| station.name == name)
                .copied()
        };
        let tx_station = find(stream.tx.get_ref());
        let rx_station = find(stream.rx.get_ref());
        // The station's address and whether it is a DHCP one (0.0.0.0
        // until the lease is known at run time).
        let ip_for = |station: &StationPlan, other: &Spanned<String>| -> Option<(String, bool)> {
            // The family of the other address decides, IPv4 when unsure.
            let wants_v6 = other.get_ref().contains(':');
            let v4 = station
                .ipv4
                .map(|(address, _)| (address.to_string(), false))
                .or_else(|| {
                    station
                        .ipv4_dhcp
                        .then(|| (Ipv4Addr::UNSPECIFIED.to_string(), true))
                });
            let v6 = station
                .ipv6
                .map(|(address, _)| (address.to_string(), false));
            match (wants_v6, v4, v6) {
                (true, _, Some(v6)) => Some(v6),
                (false, Some(v4), _) => Some(v4),
                (_, None, v6) => v6,
                (_, v4, None) => v4,
            }
        };
        let mut dhcp_sides: [Option<String>; 2] = [None, None];
        let sides = [
            ("src_mac", "src_ip", "tx", tx_station),
            ("dst_mac", "dst_ip", "rx", rx_station),
        ];
        for (side_index, (mac_key, ip_key, side, station)) in sides.into_iter().enumerate() {
            let (mac_value, ip_value, other_ip) = if side == "tx" {
                (
                    &mut stream.src_mac,
                    &mut stream.src_ip,
                    stream.dst_ip.clone(),
                )
            } else {
                (
                    &mut stream.dst_mac,
                    &mut stream.dst_ip,
                    stream.src_ip.clone(),
                )
            };
            for (key, value) in [(mac_key, &mut *mac_value), (ip_key, &mut *ip_value)] {
                if value.get_ref() != STATION_VALUE {
                    continue;
                }
                let Some(station) = station else {
                    return Err(self.error(
                        value.span(),
                        &format!("stream[{index}].{key}"),
                        format!("\"station\" means the {side} station's own value, but {side} names no [[station]]"),
                    ));
                };
                let replacement = if key.ends_with("mac") {
                    Some(station.mac.to_string())
                } else {
                    ip_for(station, &other_ip).map(|(address, dhcp)| {
                        if dhcp {
                            dhcp_sides[side_index] = Some(station.name.clone());
                        }
                        address
                    })
                };
                let Some(replacement) = replacement else {
                    return Err(self.error(
                        value.span(),
                        &format!("stream[{index}].{key}"),
                        format!(
                            "station {:?} has no address (ipv4 or ipv6 in its [[station]] table)",
                            station.name
                        ),
                    ));
                };
                *value = Spanned::new(value.span(), replacement);
            }
        }
        let [src_ip_dhcp, dst_ip_dhcp] = dhcp_sides;
        stream.src_ip_dhcp = src_ip_dhcp;
        stream.dst_ip_dhcp = dst_ip_dhcp;
        Ok(stream)
    }
}
