//! Host tests for WiFi stations (no radio needed): the `[[station]]`
//! scenario tables and their errors, the name/MAC/address templates, the
//! per-station streams, DHCP stations (`ipv4 = "dhcp"`: the streams'
//! addresses left to the lease, then resolved), and the wpa_supplicant
//! control-socket client
//! against a fake wpa_supplicant (a UNIX datagram server in the test)
//! speaking its protocol: STATUS, SIGNAL_POLL, ATTACH and events.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use linerate_engine::scenario::stations::{
    derived_station_mac, station_ipv4, station_ipv6, station_mac, station_name,
};
use linerate_engine::scenario::{self, is_group_mac};
use linerate_engine::wifi::control::{failure_reason, parse_key_values, ControlSocket, Event};
use linerate_engine::wifi::Security;
use linerate_engine::wire::MacAddr;

const BASE: &str = r#"
[run]
frames = 100

[[port]]
name = "eth1"
interface = "eth1"
namespace = "lrlab-wired"
"#;

const STATIONS: &str = r#"
[[station]]
radio = "wiphy0"
namespace = "lrlab-sta"
count = 4
name = "sta0000"
mac = "02:4c:52:57:00:00"
ssid = "testNet"
security = "wpa2"
passphrase = "testPass"
ipv4 = "10.77.0.10/24"
ipv6 = "fd00:77::10/64"
timeout = "30s"
"#;

const STREAMS: &str = r#"
[[stream]]
name = "up"
tx = "sta*"
rx = "eth1"
src_mac = "station"
dst_mac = "02:4c:57:ff:00:01"
src_ip = "station"
dst_ip = "10.77.0.1"
src_port = 9000
dst_port = 9000
rate = "200pps"

[[stream]]
name = "down"
tx = "eth1"
rx = "sta*"
src_mac = "02:4c:57:ff:00:01"
dst_mac = "station"
src_ip = "10.77.0.1"
dst_ip = "station"
src_port = 9000
dst_port = 9000
rate = "200pps"

[[stream]]
name = "one"
tx = "sta0002"
rx = "eth1"
src_mac = "station"
dst_mac = "02:4c:57:ff:00:01"
src_ip = "station"
dst_ip = "fd00:77::1"
src_port = 9000
dst_port = 9000
rate = "200pps"
"#;

fn parse(text: &str) -> Result<scenario::Plan, scenario::ScenarioError> {
    scenario::parse(text, "wifi.toml")
}

/// The scenario's error text for `text`, which must be refused.
fn refused(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn stations_become_ports_and_streams_name_them() {
    let plan = parse(&format!("{BASE}{STATIONS}{STREAMS}")).expect("valid");
    let group = &plan.stations[0];
    assert_eq!(group.radio, "wiphy0");
    assert_eq!(group.namespace.as_deref(), Some("lrlab-sta"));
    assert_eq!(group.timeout, Duration::from_secs(30));
    assert_eq!(
        group.security,
        Security::Wpa2 {
            passphrase: "testPass".to_string()
        }
    );
    let names: Vec<&str> = group.stations.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["sta0000", "sta0001", "sta0002", "sta0003"]);
    assert_eq!(group.stations[3].mac.to_string(), "02:4c:52:57:00:03");
    assert_eq!(
        group.stations[3].ipv4,
        Some((Ipv4Addr::new(10, 77, 0, 13), 24))
    );
    assert_eq!(
        group.stations[1].ipv6,
        Some(("fd00:77::11".parse().expect("v6"), 64))
    );
    // The wired port and the four stations, each a port in lrlab-sta.
    assert_eq!(plan.ports.len(), 5);
    let station_port = &plan.ports[2];
    assert_eq!(
        (station_port.name.as_str(), station_port.interface.as_str()),
        ("sta0001", "sta0001")
    );
    assert_eq!(station_port.namespace.as_deref(), Some("lrlab-sta"));
    // 4 up, 4 down and one named stream.
    let streams: Vec<&str> = plan.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        streams,
        [
            "up-sta0000",
            "up-sta0001",
            "up-sta0002",
            "up-sta0003",
            "down-sta0000",
            "down-sta0001",
            "down-sta0002",
            "down-sta0003",
            "one"
        ]
    );
    let up = &plan.streams[1];
    assert_eq!(plan.ports[up.tx_port].name, "sta0001");
    assert_eq!(up.frame.src_mac.to_string(), "02:4c:52:57:00:01");
    assert!(
        matches!(up.frame.ip, linerate_engine::frame::IpHeader::V4 { src, .. } if src == Ipv4Addr::new(10, 77, 0, 11))
    );
    let down = &plan.streams[6];
    assert_eq!(plan.ports[down.rx_port].name, "sta0002");
    assert_eq!(down.frame.dst_mac.to_string(), "02:4c:52:57:00:02");
    assert!(
        matches!(down.frame.ip, linerate_engine::frame::IpHeader::V4 { dst, .. } if dst == Ipv4Addr::new(10, 77, 0, 12))
    );
    // An IPv6 destination takes the station's IPv6 address.
    let one = &plan.streams[8];
    assert!(
        matches!(one.frame.ip, linerate_engine::frame::IpHeader::V6 { src, .. } if src == "fd00:77::12".parse::<Ipv6Addr>().expect("v6"))
    );
}

#[test]
fn security_defaults_and_modes() {
    let open = parse(&format!(
        "{BASE}[[station]]\nradio = \"wiphy0\"\nname = \"s0\"\nssid = \"open\"\n{}",
        "[[stream]]\ntx = \"s0\"\nrx = \"eth1\"\nsrc_mac = \"station\"\ndst_mac = \"02:00:00:00:00:01\"\nsrc_ip = \"10.0.0.1\"\ndst_ip = \"10.0.0.2\"\nsrc_port = 1\ndst_port = 2\nrate = 10\n"
    ))
    .expect("valid");
    assert_eq!(open.stations[0].security, Security::Open);
    assert_eq!(open.stations[0].namespace, None);
    // No mac: derived, unicast and locally administered.
    let mac = open.stations[0].stations[0].mac;
    assert_eq!(mac, derived_station_mac(0, 0));
    assert!(!is_group_mac(mac) && mac.0[0] & 0x02 != 0);
    let wpa3 = parse(&format!(
        "{BASE}{}{}",
        STATIONS.replace("\"wpa2\"", "\"wpa3\""),
        STREAMS.replace("sta*", "sta000*")
    ))
    .expect("valid");
    assert_eq!(wpa3.stations[0].security.name(), "wpa3");
    assert_eq!(wpa3.stations[0].frequency_mhz, None);
    let on_channel_1 = parse(&format!(
        "{BASE}{}{STREAMS}",
        STATIONS.replace("ssid = \"testNet\"", "ssid = \"testNet\"\nfrequency = 2412")
    ))
    .expect("valid");
    assert_eq!(on_channel_1.stations[0].frequency_mhz, Some(2412));
}

#[test]
fn bad_station_tables_name_file_line_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "passphrase = \"testPass\"",
            "passphrase = \"short\"",
            "wifi.toml:18:14: station[0].passphrase: a wpa2 passphrase is 8 to 63",
        ),
        (
            "security = \"wpa2\"",
            "security = \"wep\"",
            "wifi.toml:17:12: station[0].security: \"wep\" is not a security mode",
        ),
        (
            "ipv6 = \"fd00:77::10/64\"",
            "ipv6 = \"dhcp\"",
            "wifi.toml:20:8: station[0].ipv6: DHCPv6 is not supported (ipv4 = \"dhcp\" is)",
        ),
        (
            "ipv4 = \"10.77.0.10/24\"",
            "ipv4 = \"DHCP please\"",
            "station[0].ipv4: \"DHCP please\" is not an IPv4 address with a prefix length",
        ),
        (
            "ipv4 = \"10.77.0.10/24\"",
            "ipv4 = \"10.77.0.253/24\"",
            "station[0].ipv4: 4 addresses from 10.77.0.253/24 do not fit in its network",
        ),
        (
            "ipv4 = \"10.77.0.10/24\"",
            "ipv4 = \"10.77.0.10\"",
            "is not an IPv4 address with a prefix length",
        ),
        (
            "name = \"sta0000\"",
            "name = \"sta\"",
            "station[0].name: \"sta\" cannot name 4 station(s)",
        ),
        (
            "name = \"sta0000\"",
            "name = \"sta8\"",
            "station[0].name: \"sta8\" cannot name 4 station(s)",
        ),
        (
            "name = \"sta0000\"",
            "name = \"stationinterface00\"",
            "cannot name 4 station(s)",
        ),
        (
            "mac = \"02:4c:52:57:00:00\"",
            "mac = \"03:4c:52:57:00:00\"",
            "station[0].mac: 03:4c:52:57:00:00 is a group (multicast) address",
        ),
        (
            "mac = \"02:4c:52:57:00:00\"",
            "mac = \"fe:ff:ff:ff:ff:fe\"\nmac_step = 0x20000000000",
            "run past ff:ff:ff:ff:ff:ff",
        ),
        (
            "count = 4",
            "count = 0",
            "station[0].count: must be 1 to 1000 stations",
        ),
        (
            "timeout = \"30s\"",
            "timeout = \"soon\"",
            "station[0].timeout:",
        ),
        (
            "ssid = \"testNet\"",
            "ssid = \"\"",
            "station[0].ssid: an SSID is 1 to 32 bytes",
        ),
        (
            "radio = \"wiphy0\"",
            "radio = \"\"",
            "station[0].radio: give the radio's phy name",
        ),
        (
            "ssid = \"testNet\"",
            "ssid = \"testNet\"\nchannel = 6",
            "unknown key `channel`",
        ),
        (
            "ssid = \"testNet\"",
            "ssid = \"testNet\"\nfrequency = 6",
            "station[0].frequency: must be a channel frequency in MHz, 2412 to 7115",
        ),
    ];
    for (from, to, expected) in cases {
        let text = format!("{BASE}{}{STREAMS}", STATIONS.replace(from, to));
        let error = refused(&text);
        assert!(error.contains(expected), "{to}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    // open with a passphrase
    let text = format!(
        "{BASE}{}{STREAMS}",
        STATIONS.replace("\"wpa2\"", "\"open\"")
    );
    assert!(refused(&text).contains("station[0].passphrase: an open network has no passphrase"));
    // wpa2 without one
    let text = format!(
        "{BASE}{}{STREAMS}",
        STATIONS.replace("passphrase = \"testPass\"\n", "")
    );
    assert!(refused(&text).contains("needs a passphrase"));
}

#[test]
fn bad_station_streams_name_the_stream_field() {
    let text = format!(
        "{BASE}{STATIONS}{}",
        STREAMS.replace("tx = \"sta*\"", "tx = \"ap*\"")
    );
    let error = refused(&text);
    assert!(
        error.contains(
            "stream[0].tx: no [[station]] name starts with \"ap\"; the stations are: sta0000"
        ),
        "{error}"
    );
    let text = format!(
        "{BASE}{STATIONS}{}",
        STREAMS.replace(
            "rx = \"eth1\"\nsrc_mac = \"station\"",
            "rx = \"sta*\"\nsrc_mac = \"station\""
        )
    );
    assert!(refused(&text).contains("only one of tx and rx may name stations by a prefix"));
    // "station" where the side is the wired port.
    let text = format!(
        "{BASE}{STATIONS}{}",
        STREAMS.replace("src_mac = \"02:4c:57:ff:00:01\"", "src_mac = \"station\"")
    );
    let error = refused(&text);
    assert!(error.contains("stream[1].src_mac: \"station\" means the tx station's own value, but tx names no [[station]]"), "{error}");
    // A station address asked for but the station has none.
    let text = format!(
        "{BASE}{}{STREAMS}",
        STATIONS.replace("ipv4 = \"10.77.0.10/24\"\nipv6 = \"fd00:77::10/64\"\n", "")
    );
    assert!(refused(&text).contains("has no address"));
    // A station named like a port.
    let text = format!(
        "{BASE}{}{STREAMS}",
        STATIONS
            .replace("name = \"sta0000\"\n", "name = \"eth1\"\ncount = 1\n")
            .replace("count = 4\n", "")
    );
    assert!(refused(&text).contains("has the name of a port or another station"));
    // Copies of a per-station stream.
    let text = format!(
        "{BASE}{STATIONS}{}",
        STREAMS.replacen("name = \"up\"", "name = \"up\"\ncount = 2", 1)
    );
    assert!(refused(&text).contains("stream[0].count: a stream per station"));
}

#[test]
fn templates_count_up_and_stop_at_their_limits() {
    assert_eq!(station_name("sta0000", 0).as_deref(), Some("sta0000"));
    assert_eq!(station_name("sta0000", 12).as_deref(), Some("sta0012"));
    assert_eq!(station_name("sta0998", 1).as_deref(), Some("sta0999"));
    assert_eq!(station_name("sta9999", 1), None, "width is kept");
    assert_eq!(station_name("wlan", 0).as_deref(), Some("wlan"));
    assert_eq!(station_name("wlan", 1), None);
    let first: MacAddr = "02:4c:52:57:00:fe".parse().expect("mac");
    assert_eq!(
        station_mac(first, 1, 3).expect("mac").to_string(),
        "02:4c:52:57:01:01"
    );
    assert_eq!(
        station_mac(first, 0x100, 2).expect("mac").to_string(),
        "02:4c:52:57:02:fe"
    );
    assert_eq!(
        station_mac("ff:ff:ff:ff:ff:ff".parse().expect("mac"), 1, 1),
        None
    );
    assert_eq!(
        derived_station_mac(1, 0x1234).to_string(),
        "02:4c:57:01:12:34"
    );
    let base = Ipv4Addr::new(10, 77, 0, 250);
    assert_eq!(
        station_ipv4(base, 24, 4),
        Some(Ipv4Addr::new(10, 77, 0, 254))
    );
    assert_eq!(station_ipv4(base, 24, 5), None, "broadcast");
    assert_eq!(
        station_ipv4(base, 16, 10),
        Some(Ipv4Addr::new(10, 77, 1, 4))
    );
    let v6: Ipv6Addr = "fd00::ffff".parse().expect("v6");
    assert_eq!(
        station_ipv6(v6, 64, 1),
        Some("fd00::1:0".parse().expect("v6"))
    );
    assert_eq!(station_ipv6(v6, 112, 1), None);
}

/// A fake wpa_supplicant: a datagram server in a directory of the test's
/// that answers like the real one and sends events to attached clients.
struct FakeSupplicant {
    dir: PathBuf,
    socket: UnixDatagram,
}

impl FakeSupplicant {
    fn new(tag: &str) -> FakeSupplicant {
        let dir = std::env::temp_dir().join(format!("lrtest-wpa-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let socket = UnixDatagram::bind(dir.join("sta0000")).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        FakeSupplicant { dir, socket }
    }

    /// Answers one request; returns it and the client's address.
    fn answer(&self, answers: &[(&str, &str)]) -> (String, std::os::unix::net::SocketAddr) {
        let mut buffer = [0u8; 4096];
        let (length, from) = self.socket.recv_from(&mut buffer).expect("a request");
        let request = String::from_utf8_lossy(&buffer[..length]).into_owned();
        let reply = answers
            .iter()
            .find(|(command, _)| *command == request)
            .map_or("UNKNOWN COMMAND\n", |(_, reply)| reply);
        let path = from.as_pathname().expect("a bound client");
        self.socket.send_to(reply.as_bytes(), path).expect("reply");
        (request, from)
    }
}

impl Drop for FakeSupplicant {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const STATUS: &str = "bssid=02:00:00:00:00:00\nfreq=2412\nssid=testNet\nid=0\nmode=station\npairwise_cipher=CCMP\ngroup_cipher=CCMP\nkey_mgmt=WPA2-PSK\nwpa_state=COMPLETED\nip_address=10.77.0.10\naddress=02:4c:52:57:00:00\n";
const SIGNAL_POLL: &str = "RSSI=-30\nLINKSPEED=54\nNOISE=9999\nFREQUENCY=2412\n";

#[test]
fn control_socket_requests_and_answers() {
    let fake = FakeSupplicant::new("requests");
    let client_dir = fake.dir.join("client");
    std::fs::create_dir_all(&client_dir).expect("dir");
    let client = ControlSocket::connect(&fake.dir.join("sta0000"), &client_dir).expect("connect");
    let answers = [("STATUS", STATUS), ("SIGNAL_POLL", SIGNAL_POLL)];
    let server = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let (first, _) = fake.answer(&answers);
            let (second, _) = fake.answer(&answers);
            (first, second)
        });
        let status = parse_key_values(
            &client
                .request("STATUS", Duration::from_secs(5))
                .expect("status"),
        );
        assert_eq!(status["wpa_state"], "COMPLETED");
        assert_eq!(status["bssid"], "02:00:00:00:00:00");
        assert_eq!(status["freq"], "2412");
        let signal = parse_key_values(
            &client
                .request("SIGNAL_POLL", Duration::from_secs(5))
                .expect("signal"),
        );
        assert_eq!(signal["RSSI"], "-30");
        assert_eq!(signal["LINKSPEED"], "54");
        handle.join().expect("server")
    });
    assert_eq!(server, ("STATUS".to_string(), "SIGNAL_POLL".to_string()));
    // No answer: an error naming the request, not a hang.
    let error = client
        .request("PING", Duration::from_millis(100))
        .expect_err("nobody answers");
    assert!(
        error.to_string().contains("did not answer \"PING\""),
        "{error}"
    );
    let local: Vec<_> = std::fs::read_dir(&client_dir).expect("dir").collect();
    drop(client);
    assert_eq!(local.len(), 1, "one client socket while open");
    assert_eq!(
        std::fs::read_dir(&client_dir).expect("dir").count(),
        0,
        "removed on drop"
    );
}

#[test]
fn attached_socket_receives_events_and_requests_skip_them() {
    let fake = FakeSupplicant::new("events");
    let client = ControlSocket::connect(&fake.dir.join("sta0000"), &fake.dir).expect("connect");
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let (request, from) = fake.answer(&[("ATTACH", "OK\n")]);
            assert_eq!(request, "ATTACH");
            let path = from.as_pathname().expect("bound").to_path_buf();
            for event in [
                "<3>CTRL-EVENT-SCAN-STARTED ",
                "<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:00:00 reason=15 locally_generated=1",
                "<3>CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid=\"test Net\" auth_failures=1 duration=10 reason=WRONG_KEY",
                "<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:00:00 completed [id=0 id_str=]",
            ] {
                fake.socket.send_to(event.as_bytes(), &path).expect("event");
            }
            // An event arriving before an answer is skipped by request().
            let mut buffer = [0u8; 256];
            let (length, _) = fake.socket.recv_from(&mut buffer).expect("STATUS");
            assert_eq!(&buffer[..length], b"STATUS");
            fake.socket.send_to(b"<2>CTRL-EVENT-BEACON-LOSS", &path).expect("event");
            fake.socket.send_to(STATUS.as_bytes(), &path).expect("answer");
        });
        client.attach(Duration::from_secs(5)).expect("attached");
        let mut events = Vec::new();
        while let Some(event) = client.next_event(Duration::from_secs(5)).expect("event") {
            let done = event.name == "CTRL-EVENT-CONNECTED";
            events.push(event);
            if done {
                break;
            }
        }
        let names: Vec<&str> = events.iter().map(|event| event.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CTRL-EVENT-SCAN-STARTED",
                "CTRL-EVENT-DISCONNECTED",
                "CTRL-EVENT-SSID-TEMP-DISABLED",
                "CTRL-EVENT-CONNECTED"
            ]
        );
        assert_eq!(events[2].field("ssid"), Some("test Net"));
        assert_eq!(events[2].field("reason"), Some("WRONG_KEY"));
        assert_eq!(events[1].level, 3);
        let status = client
            .request("STATUS", Duration::from_secs(5))
            .expect("status");
        assert!(status.starts_with("bssid="), "{status}");
        handle.join().expect("server");
        assert_eq!(
            client.next_event(Duration::from_millis(50)).expect("quiet"),
            None
        );
    });
}

#[test]
fn events_that_mean_no_connection_become_reasons() {
    let reason = |text: &str| failure_reason(&Event::parse(text).expect("an event"));
    assert_eq!(
        reason("<3>CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid=\"testNet\" auth_failures=2 duration=20 reason=WRONG_KEY").as_deref(),
        Some("wrong passphrase (wpa_supplicant: CTRL-EVENT-SSID-TEMP-DISABLED reason=WRONG_KEY)")
    );
    assert_eq!(
        reason("<3>CTRL-EVENT-ASSOC-REJECT bssid=02:00:00:00:00:00 status_code=17").as_deref(),
        Some("association rejected by the AP (status_code=17)")
    );
    assert_eq!(
        reason("<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:00:00 reason=3 locally_generated=1")
            .as_deref(),
        Some("disconnected (reason=3: deauthenticated, leaving, by the station)")
    );
    assert!(reason("<3>CTRL-EVENT-NETWORK-NOT-FOUND").is_some());
    assert_eq!(
        reason("<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:00:00 completed"),
        None
    );
    assert_eq!(Event::parse("OK\n"), None, "an answer is no event");
    assert_eq!(Event::parse("bssid=02:00:00:00:00:00"), None);
}

/// The stations of STATIONS with `ipv4 = "dhcp"` (and their static IPv6).
fn dhcp_stations() -> String {
    STATIONS.replace("ipv4 = \"10.77.0.10/24\"", "ipv4 = \"dhcp\"")
}

fn v4(header: &linerate_engine::frame::IpHeader) -> (Ipv4Addr, Ipv4Addr) {
    match header {
        linerate_engine::frame::IpHeader::V4 { src, dst, .. } => (*src, *dst),
        other => panic!("not IPv4: {other:?}"),
    }
}

#[test]
fn dhcp_stations_leave_their_addresses_to_the_lease() {
    let plan = parse(&format!("{BASE}{}{STREAMS}", dhcp_stations())).expect("dhcp accepted");
    let group = &plan.stations[0];
    assert!(group
        .stations
        .iter()
        .all(|station| station.ipv4_dhcp && station.ipv4.is_none()));
    // The static IPv6 address is kept beside DHCP for IPv4.
    assert_eq!(
        group.stations[1].ipv6,
        Some(("fd00:77::11".parse().expect("v6"), 64))
    );
    // Up: the source is the sending station's lease, 0.0.0.0 until known.
    let up = &plan.streams[1];
    assert_eq!(up.src_ip_dhcp.as_deref(), Some("sta0001"));
    assert_eq!(up.dst_ip_dhcp, None);
    assert_eq!(
        v4(&up.frame.ip),
        (Ipv4Addr::UNSPECIFIED, Ipv4Addr::new(10, 77, 0, 1))
    );
    // Down: the destination is the receiving station's.
    let down = &plan.streams[6];
    assert_eq!(down.dst_ip_dhcp.as_deref(), Some("sta0002"));
    assert_eq!(down.src_ip_dhcp, None);
    // An IPv6 destination still takes the station's static IPv6 address.
    let one = &plan.streams[8];
    assert_eq!(
        (one.src_ip_dhcp.as_ref(), one.dst_ip_dhcp.as_ref()),
        (None, None)
    );
    assert!(
        matches!(one.frame.ip, linerate_engine::frame::IpHeader::V6 { src, .. } if src == "fd00:77::12".parse::<Ipv6Addr>().expect("v6"))
    );

    // At prepare, each station's lease goes into its streams.
    let lease = |name: &str| {
        name.strip_prefix("sta000")
            .and_then(|digit| digit.parse::<u8>().ok())
            .map(|digit| Ipv4Addr::new(10, 77, 0, 100 + digit))
    };
    let resolved = linerate_engine::run::resolve_station_leases(&plan, lease).expect("leases");
    for (index, stream) in resolved.streams.iter().enumerate().take(8) {
        let station = index as u8 % 4;
        let (src, dst) = v4(&stream.frame.ip);
        let expected = Ipv4Addr::new(10, 77, 0, 100 + station);
        if index < 4 {
            assert_eq!(
                (src, dst),
                (expected, Ipv4Addr::new(10, 77, 0, 1)),
                "{}",
                stream.name
            );
        } else {
            assert_eq!(
                (src, dst),
                (Ipv4Addr::new(10, 77, 0, 1), expected),
                "{}",
                stream.name
            );
        }
        assert_eq!(
            (stream.src_ip_dhcp.as_ref(), stream.dst_ip_dhcp.as_ref()),
            (None, None)
        );
    }
    assert_eq!(resolved.streams[8].frame.ip, plan.streams[8].frame.ip);

    // A station without a lease: the stream and the station are named.
    let error = linerate_engine::run::resolve_station_leases(&plan, |name| {
        (name != "sta0003").then(|| Ipv4Addr::new(10, 77, 0, 100))
    })
    .expect_err("sta0003 has no lease");
    assert_eq!(
        error.to_string(),
        "stream \"up-sta0003\": station \"sta0003\" has no DHCP lease, so the stream's address is unknown"
    );
}

#[test]
fn dhcp_station_copies_step_from_the_lease_and_sweeps_need_a_start() {
    let copies = "[[stream]]\nname = \"c{index}\"\ntx = \"sta0001\"\nrx = \"eth1\"\nsrc_mac = \"station\"\ndst_mac = \"02:4c:57:ff:00:01\"\nsrc_ip = \"station\"\ndst_ip = \"10.77.0.1\"\nsrc_port = 9000\ndst_port = 9000\nrate = \"10pps\"\ncount = 3\nstep = { src_ip = 2, dst_ip = 1 }\n";
    let plan = parse(&format!("{BASE}{}{copies}", dhcp_stations())).expect("valid");
    let resolved = linerate_engine::run::resolve_station_leases(&plan, |_| {
        Some(Ipv4Addr::new(10, 77, 0, 150))
    })
    .expect("leases");
    let addresses: Vec<(Ipv4Addr, Ipv4Addr)> = resolved
        .streams
        .iter()
        .map(|stream| v4(&stream.frame.ip))
        .collect();
    assert_eq!(
        addresses,
        [
            (Ipv4Addr::new(10, 77, 0, 150), Ipv4Addr::new(10, 77, 0, 1)),
            (Ipv4Addr::new(10, 77, 0, 152), Ipv4Addr::new(10, 77, 0, 2)),
            (Ipv4Addr::new(10, 77, 0, 154), Ipv4Addr::new(10, 77, 0, 3)),
        ]
    );

    let sweep = copies.replace("count = 3\nstep = { src_ip = 2, dst_ip = 1 }\n", "")
        + "[[stream.sweep]]\nfield = \"src_ip\"\ncount = 4\n";
    let error = refused(&format!("{BASE}{}{sweep}", dhcp_stations()));
    assert!(
        error.contains("stream[0].sweep[0].field: station \"sta0001\" gets its address by DHCP, known only at run time: give the sweep start = <first address>"),
        "{error}"
    );
    assert!(!error.contains('\n'), "one line: {error}");
    let started = sweep.replace("count = 4\n", "start = \"10.77.0.150\"\ncount = 4\n");
    parse(&format!("{BASE}{}{started}", dhcp_stations())).expect("a sweep with a start");
    // A sweep of the other address needs nothing.
    let other = sweep.replace("field = \"src_ip\"", "field = \"dst_ip\"");
    parse(&format!("{BASE}{}{other}", dhcp_stations())).expect("dst_ip sweep");
}

#[test]
fn station_without_any_address_is_named() {
    let text = format!(
        "{BASE}{}{STREAMS}",
        STATIONS
            .replace("ipv4 = \"10.77.0.10/24\"\n", "")
            .replace("ipv6 = \"fd00:77::10/64\"\n", "")
    );
    let error = refused(&text);
    assert!(
        error.contains("stream[0].src_ip: station \"sta0000\" has no address (ipv4 or ipv6 in its [[station]] table)"),
        "{error}"
    );
}

#[test]
fn station_report_reads_without_a_dhcp_field() {
    // Reports written before DHCP existed still read.
    let old = r#"{"name":"sta0000","radio":"wiphy0","mac":"02:4c:52:57:00:00","associated":true,"bssid":null,"ssid":null,"frequency_mhz":null,"signal_dbm":null,"tx_bitrate_mbps":null,"rx_bitrate_mbps":null,"time_to_associate_s":1.5,"time_to_address_s":0.1,"addresses":["10.77.0.10/24"],"failure":null}"#;
    let report: linerate_engine::wifi::StationReport = serde_json::from_str(old).expect("reads");
    assert_eq!(report.dhcp, None);
    assert_eq!(report.disconnections, 0);
    assert_eq!(report.last_disconnection, None);
    let mut leased = report.clone();
    leased.dhcp = Some(linerate_engine::wifi::dhcp::DhcpLease {
        address: Ipv4Addr::new(10, 77, 0, 100),
        prefix: 24,
        router: Some(Ipv4Addr::new(10, 77, 0, 1)),
        server: Some(Ipv4Addr::new(10, 77, 0, 2)),
        lease_s: Some(86400),
    });
    let text = serde_json::to_string(&leased).expect("writes");
    assert!(text.contains(r#""dhcp":{"address":"10.77.0.100","prefix":24,"router":"10.77.0.1","server":"10.77.0.2","lease_s":86400}"#), "{text}");
    let back: linerate_engine::wifi::StationReport = serde_json::from_str(&text).expect("reads");
    assert_eq!(back, leased);
}
