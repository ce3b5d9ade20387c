//! Scenario parsing and validation: good files become the expected plan,
//! bad ones give one line naming the file, line, column and field.

use super::*;
use crate::sequence::{FaultKind, FaultTrigger, SequenceFault};
use std::net::Ipv4Addr;

const GOOD: &str = r#"
[run]
duration = "5s"
report_interval = "slow"

[[port]]
name = "a"
interface = "lr-a"
namespace = "linerate-a"

[[port]]
name = "b"
interface = "lr-b"

[[stream]]
name = "one"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:00:0a"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9001
frame_size = 128
rate = "100kpps"

[[stream]]
tx = "b"
rx = "a"
src_mac = "02:4c:52:00:00:0b"
dst_mac = "02:4c:52:00:00:0a"
src_ip = "198.18.0.2"
dst_ip = "198.18.0.1"
src_port = 9001
dst_port = 9000
rate = 0
"#;

fn error_for(text: &str) -> ScenarioError {
    parse(text, "bad.toml").expect_err("the scenario should be refused")
}

/// GOOD with the first occurrence of `from` replaced by `to`.
fn good_with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} is not in GOOD");
    GOOD.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    let offset = text.find(needle).expect("needle present");
    text[..offset].matches('\n').count() + 1
}

#[test]
fn good_scenario_becomes_the_plan() {
    let plan = parse(GOOD, "good.toml").expect("valid");
    assert_eq!(
        plan.run.stop,
        StopCondition::Duration(Duration::from_secs(5))
    );
    assert_eq!(plan.run.report_interval, SLOW_INTERVAL);
    assert_eq!(plan.run.drain, DEFAULT_DRAIN);
    assert_eq!(plan.ports.len(), 2);
    assert_eq!(plan.ports[0].namespace.as_deref(), Some("linerate-a"));
    assert_eq!(plan.ports[1].namespace, None);
    let one = &plan.streams[0];
    assert_eq!(
        (one.id, one.name.as_str(), one.tx_port, one.rx_port),
        (0, "one", 0, 1)
    );
    assert_eq!(one.frame.src_mac, MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0a]));
    assert!(
        matches!(one.frame.ip, IpHeader::V4 { dst, ttl: 64, .. } if dst == Ipv4Addr::new(198, 18, 0, 2))
    );
    assert_eq!(
        (one.frame.src_port, one.frame.dst_port, one.frame.size),
        (9000, 9001, SizeRule::Fixed(128))
    );
    assert_eq!(
        one.rate,
        Rate::FramesPerSecond {
            millipps: 100_000_000
        }
    );
    assert_eq!(one.frames_to_send(plan.run.stop), 500_000);
    let two = &plan.streams[1];
    assert_eq!((two.id, two.name.as_str()), (1, "stream1"));
    assert_eq!(two.frame.size, SizeRule::Fixed(DEFAULT_FRAME_SIZE));
    assert_eq!(two.frames_to_send(plan.run.stop), 0, "rate 0 sends nothing");
}

#[test]
fn bad_mac_names_file_line_and_field() {
    let text = good_with("\"02:4c:52:00:00:0b\"", "\"02:4c:52:00:00:zz\"");
    let error = error_for(&text);
    assert_eq!(error.file, "bad.toml");
    assert_eq!(error.line, line_of(&text, "02:4c:52:00:00:zz"));
    assert_eq!(error.field.as_deref(), Some("stream[0].dst_mac"));
    assert!(error.message.contains("invalid MAC address"), "{error}");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("bad.toml:{}:", error.line)),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "one line: {shown}");
}

#[test]
fn type_error_from_toml_names_the_field() {
    let text = good_with("src_port = 9000", "src_port = \"ninety\"");
    let error = error_for(&text);
    assert_eq!(error.line, line_of(&text, "ninety"));
    assert_eq!(error.field.as_deref(), Some("stream[0].src_port"));
    assert!(!error.to_string().contains('\n'), "{error}");
}

#[test]
fn out_of_range_port_number_is_refused() {
    let text = good_with("dst_port = 9001", "dst_port = 70000");
    let error = error_for(&text);
    assert_eq!(error.field.as_deref(), Some("stream[0].dst_port"));
    assert_eq!(error.line, line_of(&text, "70000"));
}

#[test]
fn unknown_key_is_refused_with_its_line() {
    let text = good_with("frame_size = 128", "frame_sise = 128");
    let error = error_for(&text);
    assert_eq!(error.line, line_of(&text, "frame_sise"));
    assert!(
        error
            .message
            .starts_with("unknown key `frame_sise`: did you mean `frame_size`?"),
        "{error}"
    );
    assert!(
        error.message.contains("`udp_payload`"),
        "lists the valid keys: {error}"
    );
    assert_eq!(error.field.as_deref(), Some("stream[0].frame_sise"));

    // A key nothing like a valid one gets the list, and no guess.
    let error = error_for(&good_with("frame_size = 128", "colour = 128"));
    assert!(
        error
            .message
            .starts_with("unknown key `colour` (valid here: "),
        "{error}"
    );
    // Misspelled keys in other tables too.
    let error = error_for(&good_with("report_interval", "report_intreval"));
    assert!(
        error.message.contains("did you mean `report_interval`?"),
        "{error}"
    );
}

#[test]
fn each_semantic_error_points_at_its_field() {
    let cases = [
        (
            "src_ip = \"198.18.0.1\"",
            "src_ip = \"198.18.0.300\"",
            "stream[0].src_ip",
            "198.18.0.300",
        ),
        (
            "frame_size = 128",
            "frame_size = 59",
            "stream[0].frame_size",
            "59",
        ),
        (
            "frame_size = 128",
            "frame_size = 100000",
            "stream[0].frame_size",
            "100000",
        ),
        (
            "rate = \"100kpps\"",
            "rate = \"fast\"",
            "stream[0].rate",
            "\"fast\"",
        ),
        ("rate = \"100kpps\"", "rate = -5", "stream[0].rate", "-5"),
        ("tx = \"a\"", "tx = \"c\"", "stream[0].tx", "\"c\""),
        (
            "duration = \"5s\"",
            "duration = \"5 parsecs\"",
            "run.duration",
            "parsecs",
        ),
        (
            "duration = \"5s\"",
            "duration = 5",
            "run.duration",
            "duration = 5",
        ),
        (
            "report_interval = \"slow\"",
            "report_interval = \"often\"",
            "run.report_interval",
            "often",
        ),
        (
            "interface = \"lr-b\"",
            "interface = \"an-interface-name-too-long\"",
            "port[1].interface",
            "too-long",
        ),
        (
            "name = \"b\"",
            "name = \"a\"",
            "port[1].name",
            "name = \"a\"\ninterface = \"lr-b\"",
        ),
    ];
    for (from, to, field, needle) in cases {
        let text = good_with(from, to);
        let error = error_for(&text);
        assert_eq!(error.field.as_deref(), Some(field), "{to}: {error}");
        assert_eq!(error.line, line_of(&text, needle), "{to}: {error}");
    }
}

#[test]
fn whole_file_problems_are_named() {
    let no_run = GOOD.replace("[run]\nduration = \"5s\"\nreport_interval = \"slow\"\n", "");
    assert!(error_for(&no_run).message.contains("[run]"));
    let both = good_with("duration = \"5s\"", "duration = \"5s\"\nframes = 10");
    assert!(error_for(&both).message.contains("not both"));
    let frames = good_with("duration = \"5s\"", "frames = 1000");
    let plan = parse(&frames, "f.toml").expect("valid");
    assert_eq!(plan.streams[0].frames_to_send(plan.run.stop), 1000);
    assert!(error_for("[run]\nframes = 5\n")
        .message
        .contains("[[port]]"));
}

#[test]
fn duplicate_stream_names_are_refused() {
    let text = GOOD.replacen(
        "[[stream]]\ntx = \"b\"",
        "[[stream]]\nname = \"one\"\ntx = \"b\"",
        1,
    );
    let error = error_for(&text);
    assert_eq!(error.field.as_deref(), Some("stream[1].name"));
    assert!(error.message.contains("unique"));
}

#[test]
fn missing_file_is_a_clear_error() {
    let error = load(Path::new("/nonexistent/linerate.toml")).expect_err("no such file");
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/linerate.toml: cannot read"),
        "{error}"
    );
}

const SWEPT: &str = r#"
[run]
frames = 10

[[port]]
name = "a"
interface = "lr-a"

[[stream]]
tx = "a"
rx = "a"
src_mac = "00:01:00:00:00:00"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "10.26.0.1"
dst_ip = "10.27.0.1"
src_port = 1000
dst_port = 9000
udp_payload = 1472
vlan = 100
vlan_priority = 3
payload_hex = "de:ad:be:ef"
rate = "1kpps"
sweep_combine = "product"

[[stream.sweep]]
field = "src_mac"
count = 65025

[[stream.sweep]]
field = "src_ip"
end = "10.26.254.254"

[[stream.sweep]]
field = "src_port"
start = 2000
end = 1000
step = 10
mode = "decrement"

[[stream.sweep]]
field = "vlan"
end = 104
mode = "random"
seed = 9
"#;

#[test]
fn sweeps_sizes_patterns_and_vlan_become_the_frame_spec() {
    use crate::frame::{
        mac_to_u128, PayloadPattern, Sweep, SweepCombine, SweepField, SweepMode, Vlan,
    };
    let plan = parse(SWEPT, "swept.toml").expect("valid");
    let frame = &plan.streams[0].frame;
    assert_eq!(
        frame.size,
        SizeRule::Fixed(1518),
        "1472 UDP payload + 8 + 20 + 4 (VLAN) + 14"
    );
    assert_eq!(
        frame.vlan,
        Some(Vlan {
            id: 100,
            priority: 3
        })
    );
    assert_eq!(
        frame.pattern,
        PayloadPattern::Repeat(vec![0xde, 0xad, 0xbe, 0xef])
    );
    assert_eq!(frame.combine, SweepCombine::Product);
    let mac = MacAddr([0, 1, 0, 0, 0, 0]);
    assert_eq!(
        frame.sweeps,
        vec![
            Sweep {
                field: SweepField::SrcMac,
                start: mac_to_u128(mac),
                count: 65_025,
                step: 1,
                mode: SweepMode::Increment
            },
            Sweep {
                field: SweepField::SrcIp,
                start: u128::from(u32::from(Ipv4Addr::new(10, 26, 0, 1))),
                count: 65_278,
                step: 1,
                mode: SweepMode::Increment
            },
            Sweep {
                field: SweepField::SrcPort,
                start: 2000,
                count: 101,
                step: 10,
                mode: SweepMode::Decrement
            },
            Sweep {
                field: SweepField::VlanId,
                start: 100,
                count: 5,
                step: 1,
                mode: SweepMode::Random { seed: 9 }
            },
        ]
    );
}

#[test]
fn size_tables_and_ipv6() {
    let text = SWEPT
        .replace(
            "udp_payload = 1472",
            "frame_size = { min = 100, max = 200, mode = \"random\", seed = 4 }",
        )
        .replace("src_ip = \"10.26.0.1\"", "src_ip = \"2001:db8::1\"")
        .replace("dst_ip = \"10.27.0.1\"", "dst_ip = \"2001:db8::2\"")
        .replace("end = \"10.26.254.254\"", "end = \"2001:db8::ff\"");
    let plan = parse(&text, "v6.toml").expect("valid");
    let frame = &plan.streams[0].frame;
    assert_eq!(
        frame.size,
        SizeRule::Random {
            min: 100,
            max: 200,
            seed: 4
        }
    );
    assert!(matches!(frame.ip, IpHeader::V6 { .. }));
    assert_eq!(frame.sweeps[1].count, 255);
}

#[test]
fn sweep_and_frame_errors_point_at_their_fields() {
    let cases = [
        (
            "field = \"src_mac\"",
            "field = \"ttl\"",
            "stream[0].sweep[0].field",
            "\"ttl\"",
        ),
        (
            "count = 65025",
            "count = 65025\nend = \"00:01:00:00:ff:00\"",
            "stream[0].sweep[0].end",
            "end = \"00:01",
        ),
        (
            "count = 65025",
            "start = \"ff:ff:ff:ff:ff:00\"\ncount = 65025",
            "stream[0].sweep[0].count",
            "count = 65025",
        ),
        (
            "end = \"10.26.254.254\"",
            "end = \"10.25.0.1\"",
            "stream[0].sweep[1].end",
            "10.25.0.1",
        ),
        (
            "end = \"10.26.254.254\"",
            "end = \"2001:db8::1\"",
            "stream[0].sweep[1].end",
            "2001:db8::1",
        ),
        (
            "start = 2000",
            "start = 99999",
            "stream[0].sweep[2].start",
            "99999",
        ),
        (
            "step = 10",
            "step = 0",
            "stream[0].sweep[2].step",
            "step = 0",
        ),
        (
            "mode = \"decrement\"",
            "mode = \"sideways\"",
            "stream[0].sweep[2].mode",
            "sideways",
        ),
        (
            "field = \"vlan\"\nend = 104",
            "field = \"src_mac\"\ncount = 3",
            "stream[0].sweep[3].field",
            "field = \"src_mac\"\ncount = 3",
        ),
        (
            "field = \"vlan\"",
            "field = \"src_mac\"",
            "stream[0].sweep[3].end",
            "end = 104",
        ),
        ("end = 104", "end = 5000", "stream[0].sweep[3].end", "5000"),
        ("vlan = 100", "vlan = 4095", "stream[0].vlan", "4095"),
        (
            "vlan_priority = 3",
            "vlan_priority = 8",
            "stream[0].vlan_priority",
            "vlan_priority = 8",
        ),
        (
            "udp_payload = 1472",
            "udp_payload = 9000",
            "stream[0].udp_payload",
            "udp_payload = 9000",
        ),
        (
            "udp_payload = 1472",
            "udp_payload = { min = 300, max = 200 }",
            "stream[0].udp_payload",
            "min = 300",
        ),
        (
            "payload_hex = \"de:ad:be:ef\"",
            "payload_hex = \"xyz\"",
            "stream[0].payload_hex",
            "xyz",
        ),
        (
            "payload_hex = \"de:ad:be:ef\"",
            "payload = \"stripes\"",
            "stream[0].payload",
            "stripes",
        ),
        (
            "sweep_combine = \"product\"",
            "sweep_combine = \"zip\"",
            "stream[0].sweep_combine",
            "zip",
        ),
    ];
    for (from, to, field, needle) in cases {
        assert!(SWEPT.contains(from), "{from}");
        let text = SWEPT.replacen(from, to, 1);
        let error = parse(&text, "bad.toml").expect_err(to);
        assert_eq!(error.field.as_deref(), Some(field), "{to}: {error}");
        assert_eq!(error.line, line_of(&text, needle), "{to}: {error}");
        assert!(!error.to_string().contains('\n'), "{error}");
    }
}

#[test]
fn vlan_sweep_without_a_vlan_is_refused() {
    let text = SWEPT.replacen("vlan = 100\nvlan_priority = 3\n", "", 1);
    let error = parse(&text, "bad.toml").expect_err("no vlan");
    assert_eq!(error.field.as_deref(), Some("stream[0].sweep[3].field"));
    assert!(error.message.contains("vlan = <id>"), "{error}");
}

#[test]
fn bit_rates_become_frame_rates_at_l1_or_l2() {
    let l1 = parse(
        &good_with("rate = \"100kpps\"", "rate = \"1Gbps\"").replacen(
            "frame_size = 128",
            "frame_size = 1514",
            1,
        ),
        "r.toml",
    )
    .expect("valid");
    // 1 Gbit/s of 1514-byte frames at L1: 1e9 / ((1514 + 24) * 8) = 81,274.38.
    assert_eq!(
        l1.streams[0].rate,
        Rate::FramesPerSecond {
            millipps: 81_274_382
        }
    );
    let l2 = parse(
        &good_with(
            "rate = \"100kpps\"",
            "rate = \"1Gbps\"\nrate_layer = \"l2\"",
        )
        .replacen("frame_size = 128", "frame_size = 1514", 1),
        "r.toml",
    )
    .expect("valid");
    // At L2 only the FCS is added: 1e9 / (1518 * 8) = 82,345.19.
    assert_eq!(
        l2.streams[0].rate,
        Rate::FramesPerSecond {
            millipps: 82_345_191
        }
    );
    let max = parse(&good_with("rate = \"100kpps\"", "rate = \"max\""), "r.toml").expect("valid");
    assert_eq!(max.streams[0].rate, Rate::Max);
    assert_eq!(
        max.streams[0].frames_to_send(max.run.stop),
        u64::MAX,
        "max over a duration stops on time"
    );
    let bad = error_for(&good_with(
        "rate = \"100kpps\"",
        "rate = \"1Gbps\"\nrate_layer = \"l7\"",
    ));
    assert_eq!(bad.field.as_deref(), Some("stream[0].rate_layer"));
}

#[test]
fn port_queues_cores_and_modes() {
    let text = good_with(
        "namespace = \"linerate-a\"",
        "namespace = \"linerate-a\"\nqueues = 2\ncores = [1, 0]\nxsk_mode = \"copy\"",
    );
    let plan = parse(&text, "p.toml").expect("valid");
    let port = &plan.ports[0];
    assert_eq!(
        (port.queues, port.cores.clone(), port.xsk_mode),
        (2, vec![1, 0], Some(crate::types::XskModeRequest::Copy))
    );
    assert_eq!((plan.ports[1].queues, plan.ports[1].xsk_mode), (1, None));
    for (from, to, field) in [
        ("queues = 2", "queues = 0", "port[0].queues"),
        ("cores = [1, 0]", "cores = []", "port[0].cores"),
        (
            "xsk_mode = \"copy\"",
            "xsk_mode = \"fast\"",
            "port[0].xsk_mode",
        ),
    ] {
        let error = error_for(&text.replacen(from, to, 1));
        assert_eq!(error.field.as_deref(), Some(field), "{to}: {error}");
    }
}

#[test]
fn pass_criteria_and_faults_become_the_plan() {
    let plan = parse(&GOOD.replace("[run]", "[pass]\nmax_loss_frames = 3\nmax_loss_percent = 0.5\nmax_reorder = 0\nmax_duplicates = 2\nmax_latency = [{ percentile = 99.9, max = \"2ms\" }, { percentile = 100, max = \"1s\" }]\nmin_rate_percent = 95\n\n[run]")
        .replacen("rate = \"100kpps\"", "rate = \"100kpps\"\n[stream.fault]\nkind = \"swap\"\nevery = 1000", 1), "good.toml")
        .expect("valid");
    assert_eq!(
        plan.pass,
        PassCriteria {
            max_loss_frames: Some(3),
            max_loss_percent: Some(0.5),
            max_reorder: Some(0),
            max_duplicates: Some(2),
            max_latency: vec![
                LatencyLimit {
                    percentile: 99.9,
                    max: Duration::from_millis(2)
                },
                LatencyLimit {
                    percentile: 100.0,
                    max: Duration::from_secs(1)
                },
            ],
            min_rate_percent: Some(95.0),
            endpoints: linerate_endpoints::EndpointCriteria::default(),
        }
    );
    assert_eq!(
        plan.streams[0].fault,
        Some(SequenceFault {
            kind: FaultKind::Swap,
            trigger: FaultTrigger::Every(1000)
        })
    );
    assert_eq!(plan.streams[1].fault, None);

    let random = parse(
        &good_with(
            "rate = \"100kpps\"",
            "rate = \"100kpps\"\n[stream.fault]\nkind = \"repeat\"\nprobability = 0.001\nseed = 9",
        ),
        "good.toml",
    )
    .expect("valid");
    assert_eq!(
        random.streams[0].fault.map(|fault| fault.trigger),
        Some(FaultTrigger::Probability {
            probability: 0.001,
            seed: 9
        })
    );
    // Without [pass]: nothing lost, 90 % of the target rate.
    let default = parse(GOOD, "good.toml").expect("valid");
    assert_eq!(default.pass, PassCriteria::default());
    assert_eq!(default.pass.max_loss_frames, Some(0));
    assert_eq!(
        default.pass.min_rate_percent,
        Some(DEFAULT_MIN_RATE_PERCENT)
    );
}

#[test]
fn pass_and_fault_errors_point_at_their_fields() {
    let with_pass = |table: &str| GOOD.replace("[run]", &format!("[pass]\n{table}\n\n[run]"));
    let with_fault = |table: &str| {
        good_with(
            "rate = \"100kpps\"",
            &format!("rate = \"100kpps\"\n[stream.fault]\n{table}"),
        )
    };
    let cases = [
        (
            with_pass("max_loss_frames = -1"),
            "pass.max_loss_frames",
            "-1",
        ),
        (
            with_pass("max_loss_percent = 120"),
            "pass.max_loss_percent",
            "120",
        ),
        (
            with_pass("min_rate_percent = \"most\""),
            "pass.min_rate_percent",
            "\"most\"",
        ),
        (
            with_pass("max_latency = [{ percentile = 101, max = \"1ms\" }]"),
            "pass.max_latency[0].percentile",
            "{ percentile = 101",
        ),
        (
            with_pass("max_latency = [{ percentile = 99, max = \"soon\" }]"),
            "pass.max_latency[0].max",
            "{ percentile = 99",
        ),
        (
            with_pass("max_reorderings = 1"),
            "pass.max_reorderings",
            "max_reorderings",
        ),
        (
            with_fault("kind = \"drop\"\nevery = 10"),
            "stream[0].fault.kind",
            "\"drop\"",
        ),
        (
            with_fault("kind = \"skip\"\nevery = 1"),
            "stream[0].fault.every",
            "every = 1",
        ),
        (
            with_fault("kind = \"skip\"\nprobability = 0.9"),
            "stream[0].fault.probability",
            "0.9",
        ),
        (
            with_fault("kind = \"skip\"\nevery = 10\nprobability = 0.1"),
            "stream[0].fault.every",
            "every = 10",
        ),
        (with_fault("kind = \"skip\""), "stream[0].fault", "\"skip\""),
    ];
    for (text, field, needle) in cases {
        let error = error_for(&text);
        assert_eq!(error.field.as_deref(), Some(field), "{text}: {error}");
        assert_eq!(error.line, line_of(&text, needle), "{text}: {error}");
    }
}

const ENDPOINTS: &str = r#"
[[tcp]]
name = "cx"
a = { port = "a", address = "198.18.0.1", rate = "100Mbps" }
b = { port = "b", address = "198.18.0.2", rate = "max" }
write_size = 1460

[[url]]
name = "web"
url = "http://198.18.0.2/"
port = "a"
requests_per_ten = 600

[[url]]
name = "get"
url = "ftp://user:pw@198.18.0.2/big.bin"
namespace = "linerate-a"
max_requests = 1
timeout = "30s"

[[ping]]
name = "gw"
destination = "198.18.0.2"
port = "a"
interval = "200ms"
count = 10

[[file_io]]
name = "files"
directory = "/tmp"
min_size = 2048
max_size = 1048576
rate = "10Mbps"

[pass]
url_min_rate_percent = 80
max_endpoint_errors = 2
"#;

#[test]
fn endpoint_tables_become_plans() {
    let plan = parse(&format!("{GOOD}{ENDPOINTS}"), "e.toml").expect("valid");
    let endpoints = &plan.endpoints;
    let tcp = &endpoints.tcp[0];
    assert_eq!(tcp.a.namespace.as_deref(), Some("linerate-a"));
    assert_eq!(tcp.a.bind_device.as_deref(), Some("lr-a"));
    assert_eq!((tcp.a.rate_bps, tcp.b.rate_bps), (Some(100_000_000), None));
    assert_eq!((tcp.port, tcp.write_size), (5001, 1460));
    assert_eq!(endpoints.url[0].requests_per_ten, Some(600));
    assert_eq!(endpoints.url[0].bind_device.as_deref(), Some("lr-a"));
    assert_eq!(endpoints.url[1].max_requests, Some(1));
    assert_eq!(endpoints.url[1].timeout, Duration::from_secs(30));
    assert_eq!(endpoints.ping[0].count, Some(10));
    assert_eq!(endpoints.ping[0].interval, Duration::from_millis(200));
    assert_eq!(endpoints.file_io[0].rate_bps, 10_000_000);
    assert_eq!(plan.pass.endpoints.url_min_rate_percent, 80.0);
    assert_eq!(plan.pass.endpoints.max_errors, 2);
    assert_eq!(plan.pass.endpoints.tcp_min_rate_percent, 90.0);
}

#[test]
fn endpoint_errors_name_line_column_and_field() {
    let text = format!("{GOOD}{ENDPOINTS}");
    let error = |from: &str, to: &str| {
        let changed = text.replacen(from, to, 1);
        assert_ne!(changed, text, "{from} not in the scenario");
        parse(&changed, "e.toml").expect_err("invalid").to_string()
    };
    let scheme = error(
        "url = \"http://198.18.0.2/\"",
        "url = \"gopher://198.18.0.2/\"",
    );
    assert!(
        scheme.starts_with("e.toml:")
            && scheme
                .contains("url[0].url: \"gopher://198.18.0.2/\": unknown URL scheme \"gopher\""),
        "{scheme}"
    );
    let line = text
        .lines()
        .position(|l| l.contains("gopher") || l.contains("url = \"http://198.18.0.2/\""))
        .expect("line")
        + 1;
    assert!(
        scheme.contains(&format!(":{line}:")),
        "{scheme} (line {line})"
    );
    let rate = error("rate = \"10Mbps\"", "rate = \"10kpps\"");
    assert!(rate.contains("file_io[0].rate: give a bit rate"), "{rate}");
    let stray = error("name = \"files\"\n", "name = \"files\"\nagent = \"one\"\n");
    assert!(
        stray.contains("file_io[0].agent: the scenario has no [[agent]] tables"),
        "{stray}"
    );
    let port = error(
        "port = \"a\"\nrequests_per_ten",
        "port = \"z\"\nrequests_per_ten",
    );
    assert!(
        port.contains("url[0].port: no [[port]] named \"z\"; ports: a, b"),
        "{port}"
    );
    let address = error("destination = \"198.18.0.2\"", "destination = \"b-host\"");
    assert!(
        address.contains("ping[0].destination: \"b-host\" is not an IPv4 or IPv6 address"),
        "{address}"
    );
    let duplicate = error("name = \"gw\"", "name = \"web\"");
    assert!(
        duplicate.contains("ping[0].name: another endpoint is already named \"web\""),
        "{duplicate}"
    );
    let unknown = error("requests_per_ten = 600", "requests_per_tne = 600");
    assert!(
        unknown.contains("did you mean `requests_per_ten`?"),
        "{unknown}"
    );
    let missing_dir = error("directory = \"/tmp\"", "directory = \"/no/such/dir\"");
    assert!(
        missing_dir.contains("file_io[0].directory: /no/such/dir is not a directory"),
        "{missing_dir}"
    );
}

#[test]
fn a_reflecting_port_reflects_and_counts_no_stream() {
    // Port b reflects; stream "one" is counted back on its own port a.
    let text = good_with(
        "interface = \"lr-b\"",
        "interface = \"lr-b\"\nreflect = true",
    )
    .replacen("rx = \"b\"", "rx = \"a\"", 1);
    let plan = parse(&text, "reflect.toml").expect("valid scenario");
    assert_eq!(
        plan.ports
            .iter()
            .map(|port| port.reflect)
            .collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(plan.streams[0].tx_port, plan.streams[0].rx_port);

    // Counting on the reflecting port is refused at the stream's rx.
    let text = good_with(
        "interface = \"lr-b\"",
        "interface = \"lr-b\"\nreflect = true",
    );
    let message = error_for(&text).to_string();
    assert!(
        message.starts_with(&format!("bad.toml:{}:", line_of(&text, "rx = \"b\""))),
        "{message}"
    );
    assert!(message.contains("stream[0].rx"), "{message}");
    assert!(message.contains("port \"b\" reflects"), "{message}");
    assert!(message.contains("rx = \"a\""), "{message}");

    let text = good_with(
        "interface = \"lr-b\"",
        "interface = \"lr-b\"\nreflect = \"yes\"",
    );
    assert!(error_for(&text).to_string().contains("port[1].reflect"));
}
