//! Runs through a real lab: two network namespaces joined by a veth pair,
//! frames sent by the AF_XDP sender and counted by the XDP receive program.
//! Counts are checked exactly. Needs root.

mod common;

use common::{capture, run_recorded, run_text, rx_queue_packets, shipped_scenario};
use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::run::RunOptions;
use linerate_engine::scenario;
use linerate_engine::tx::XskMode;

#[test]
fn known_frame_count_arrives_exactly() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 25000\nreport_interval = \"100ms\"\n{}{}",
        spec.port_tables(),
        spec.stream_table("exact", "b", 60, "50kpps")
    );
    let (report, recorder) = run_text(&text);
    let stream = &report.streams[0];
    assert_eq!(stream.counts.frames_sent, 25_000);
    assert_eq!(stream.counts.rx.frames, 25_000);
    assert_eq!(stream.counts.rx.bytes, 25_000 * 60);
    assert_eq!(stream.frames_lost(), 0);
    assert!(report.passed(), "{:?}", report.failures());
    assert!(!report.interrupted);
    let setup = recorder.setup.expect("setup reported");
    assert_eq!(
        setup.tx_ports[0].mode,
        XskMode::Copy,
        "veth has no zero-copy: the fallback is used"
    );
    assert!(!recorder.intervals.is_empty(), "interval lines reported");
    // 25,000 frames at 50 kpps take half a second.
    let seconds = report.send_duration.as_secs_f64();
    assert!((0.45..0.6).contains(&seconds), "sent in {seconds} s");
}

#[test]
fn several_streams_are_counted_apart() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 8000\n{}{}{}{}",
        spec.port_tables(),
        spec.stream_table("small", "b", 60, "40kpps"),
        spec.stream_table("large", "b", 1514, "20kpps"),
        spec.stream_table("silent", "b", 128, "0")
    );
    let (report, _) = run_text(&text);
    let counts: Vec<(u64, u64, u64)> = report
        .streams
        .iter()
        .map(|stream| {
            (
                stream.counts.frames_sent,
                stream.counts.rx.frames,
                stream.counts.rx.bytes,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            (8000, 8000, 8000 * 60),
            (8000, 8000, 8000 * 1514),
            (0, 0, 0)
        ]
    );
    assert!(report.passed(), "{:?}", report.failures());
}

#[test]
fn swept_stream_arrives_with_exactly_the_configured_sets() {
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    // The shipped seed-like scenario, pointed at this test's lab and cut to
    // 65,278 frames: the 65,025 MACs wrap, every source and destination IP
    // of the two ranges is used once.
    let frames = 65_278usize;
    let text = shipped_scenario(
        "macgen.toml",
        spec,
        (
            "duration = \"10s\"",
            format!("frames = {frames}\ndrain = \"2s\""),
        ),
    );
    let plan = scenario::parse(&text, "sweep.toml").expect("valid scenario");
    let (ready, capture) = capture(spec.b.namespace.clone(), spec.b.interface.clone(), frames);
    ready.recv().expect("capture ready");
    let options = RunOptions {
        counted_frames: linerate_engine::CountedFrames::Pass,
        ..RunOptions::default()
    };
    let report = run_recorded(&plan, options).0.expect("run completes");
    assert_eq!(
        report.streams[0].counts.rx.frames, frames as u64,
        "linerate's own count"
    );
    let captured: Vec<Vec<u8>> = capture
        .join()
        .expect("capture thread")
        .into_iter()
        .map(|frame| frame.bytes)
        .collect();
    assert_eq!(captured.len(), frames, "frames the independent capture saw");

    let (mut macs, mut sources, mut destinations) =
        (HashSet::new(), HashSet::new(), HashSet::new());
    for frame in &captured {
        let packet = etherparse::SlicedPacket::from_ethernet(frame).expect("parses");
        let Some(etherparse::LinkSlice::Ethernet2(ethernet)) = packet.link else {
            panic!("Ethernet II")
        };
        let Some(etherparse::NetSlice::Ipv4(ip)) = packet.net else {
            panic!("IPv4")
        };
        macs.insert(ethernet.source());
        sources.insert(ip.header().source_addr());
        destinations.insert(ip.header().destination_addr());
    }
    let expected_macs: HashSet<[u8; 6]> = (0u64..65_025)
        .map(|offset| {
            let value = (1u64 << 32) + offset; // 00:01:00:00:00:00 upward
            let bytes = value.to_be_bytes();
            [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
        })
        .collect();
    let range = |first: Ipv4Addr| -> HashSet<Ipv4Addr> {
        (0..frames as u32)
            .map(|offset| Ipv4Addr::from(u32::from(first) + offset))
            .collect()
    };
    assert_same_set("source MACs", &macs, &expected_macs);
    assert_same_set("source IPs", &sources, &range(Ipv4Addr::new(10, 26, 0, 1)));
    assert_same_set(
        "destination IPs",
        &destinations,
        &range(Ipv4Addr::new(10, 27, 0, 1)),
    );
    assert!(sources.contains(&Ipv4Addr::new(10, 26, 254, 254)));
}

/// Equal sets, or a failure naming the sizes and a few differences.
fn assert_same_set<T: std::hash::Hash + Eq + std::fmt::Debug>(
    what: &str,
    seen: &std::collections::HashSet<T>,
    expected: &std::collections::HashSet<T>,
) {
    let missing: Vec<&T> = expected.difference(seen).take(5).collect();
    let extra: Vec<&T> = seen.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: saw {} distinct, expected {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
        seen.len(),
        expected.len()
    );
}

#[test]
fn router_mac_is_the_gateway_peer() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 1000\n{}{}",
        spec.port_tables(),
        spec.stream_table("routed", "b", 60, "10kpps").replace(
            &format!("dst_mac = \"{}\"", spec.b.mac),
            "dst_mac = \"router\""
        )
    );
    let plan = scenario::parse(&text, "router.toml").expect("valid scenario");
    assert!(plan.streams[0].dst_mac_from_router);
    let (report, recorder) = run_recorded(&plan, RunOptions::default());
    let report = report.expect("run completes");
    let setup = recorder.setup.expect("setup reported");
    assert_eq!(setup.router_macs.len(), 1);
    assert_eq!(setup.router_macs[0].gateway, spec.b.address);
    assert_eq!(
        setup.router_macs[0].mac, spec.b.mac,
        "the lab's router for a is b"
    );
    assert_eq!(report.streams[0].counts.rx.frames, 1000);
}

#[test]
fn jumbo_frames_cross_as_multi_buffer_chains() {
    let lab = Lab::create(LabSpec::unique().with_mtu(9000))
        .expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 4000\n{}{}{}",
        spec.port_tables(),
        spec.stream_table("jumbo", "b", 9000, "20kpps"),
        spec.stream_table("mixed", "b", 60, "20kpps").replace(
            "frame_size = 60",
            "frame_size = { min = 60, max = 9000, mode = \"random\", seed = 5 }"
        )
    );
    let plan = scenario::parse(&text, "jumbo.toml").expect("valid scenario");
    let report = run_recorded(&plan, RunOptions::default())
        .0
        .expect("run completes");
    let jumbo = &report.streams[0].counts;
    assert_eq!((jumbo.frames_sent, jumbo.rx.frames), (4000, 4000));
    assert_eq!(jumbo.rx.bytes, 4000 * 9000);
    let mixed = &report.streams[1].counts;
    assert_eq!((mixed.frames_sent, mixed.rx.frames), (4000, 4000));
    assert_eq!(mixed.rx.bytes, mixed.bytes_sent, "every size arrived whole");
    // Random sizes over 60..=9000 average about 4530 bytes.
    let average = mixed.bytes_sent / 4000;
    assert!((4000..5100).contains(&average), "average size {average}");
}

#[test]
fn jumbo_frame_on_a_1500_mtu_port_is_refused_with_the_fix() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 10\n{}{}",
        spec.port_tables(),
        spec.stream_table("big", "b", 9000, "1kpps")
    );
    let plan = scenario::parse(&text, "mtu.toml").expect("valid scenario");
    let error = run_recorded(&plan, RunOptions::default())
        .0
        .expect_err("the MTU is too small");
    let message = error.to_string();
    assert!(
        message.contains("needs an MTU of at least 8986"),
        "{message}"
    );
    assert!(
        message.contains(&format!("ip link set {}", spec.a.interface)),
        "{message}"
    );
}

/// The receiving veth's own per-queue XDP packet counts (ethtool -S).
#[test]
fn two_workers_on_two_queues_carry_traffic_and_totals_are_exact() {
    let lab = Lab::create(LabSpec::unique().with_queues(2))
        .expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let ports = spec
        .port_tables()
        .replacen("name = \"a\"\n", "name = \"a\"\nqueues = 2\n", 1);
    let text = format!(
        "[run]\nframes = 30000\n{}{}{}{}{}",
        ports,
        spec.stream_table("one", "b", 60, "40kpps"),
        spec.stream_table("two", "b", 60, "40kpps"),
        spec.stream_table("three", "b", 128, "20kpps"),
        spec.stream_table("four", "b", 1514, "20kpps"),
    );
    let plan = scenario::parse(&text, "queues.toml").expect("valid scenario");
    let before = rx_queue_packets(&spec.b.namespace, &spec.b.interface);
    let (report, recorder) = run_recorded(&plan, RunOptions::default());
    let report = report.expect("run completes");
    let setup = recorder.setup.expect("setup reported");
    let mut workers: Vec<(u32, Vec<String>)> = setup
        .tx_ports
        .iter()
        .map(|tx| (tx.queue, tx.streams.clone()))
        .collect();
    workers.sort();
    assert_eq!(
        workers,
        vec![
            (0, vec!["one".to_string(), "three".to_string()]),
            (1, vec!["two".to_string(), "four".to_string()])
        ],
        "streams dealt to the two queues in turn"
    );
    for stream in &report.streams {
        assert_eq!(
            (stream.counts.frames_sent, stream.counts.rx.frames),
            (30_000, 30_000),
            "{}",
            stream.name
        );
    }
    let after = rx_queue_packets(&spec.b.namespace, &spec.b.interface);
    assert_eq!(after.len(), 2, "two rx queues: {after:?}");
    let per_queue: Vec<u64> = after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a - b)
        .collect();
    // Each queue carries its worker's two streams (plus any stray IPv6
    // neighbour discovery the kernel sends, at most a few frames).
    assert!(
        per_queue.iter().all(|count| *count >= 60_000),
        "both queues carry traffic: {per_queue:?}"
    );
    assert!(
        per_queue.iter().sum::<u64>() - 120_000 < 20,
        "totals: {per_queue:?}"
    );
}

#[test]
fn paced_rates_arrive_within_one_percent() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    // (rate as written, frame size, target frames per second)
    let cases = [
        ("10kpps", 60, 10_000.0),
        ("100kpps", 60, 100_000.0),
        ("1Gbps", 1514, 1e9 / (1538.0 * 8.0)),
    ];
    for (rate, size, target) in cases {
        let text = format!(
            "[run]\nduration = \"3s\"\nreport_interval = \"1s\"\n{}{}",
            spec.port_tables(),
            spec.stream_table("paced", "b", size, rate)
        );
        let plan = scenario::parse(&text, "rate.toml").expect("valid scenario");
        let (report, recorder) = run_recorded(&plan, RunOptions::default());
        let report = report.expect("run completes");
        let stream = &report.streams[0];
        assert_eq!(
            stream.counts.rx.frames, stream.counts.frames_sent,
            "{rate}: nothing lost"
        );
        let over_run = stream.counts.rx.frames as f64 / report.send_duration.as_secs_f64();
        let error = (over_run - target) / target;
        eprintln!("{rate}: target {target:.1} fps, received {over_run:.1} fps over the run, error {:+.4} %", error * 100.0);
        assert!(
            error.abs() < 0.01,
            "{rate}: {over_run} fps over the run for {target}"
        );
        // The receive rate within whole seconds of sending, as the receiver saw it.
        for interval in recorder
            .intervals
            .iter()
            .filter(|interval| interval.elapsed.as_secs_f64() < 2.9)
        {
            let received = interval.streams[0].rx_fps;
            let error = (received - target) / target;
            eprintln!(
                "{rate}: at {:.1} s received {received:.1} fps, error {:+.4} %",
                interval.elapsed.as_secs_f64(),
                error * 100.0
            );
            assert!(
                error.abs() < 0.01,
                "{rate}: {received} fps in the interval ending {:?}",
                interval.elapsed
            );
        }
    }
}

#[test]
fn scenario_cores_and_xsk_modes_are_honoured() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let with_port_keys = |keys: &str| {
        let ports =
            spec.port_tables()
                .replacen("name = \"a\"\n", &format!("name = \"a\"\n{keys}\n"), 1);
        scenario::parse(
            &format!(
                "[run]\nframes = 1000\n{ports}{}",
                spec.stream_table("s", "b", 60, "10kpps")
            ),
            "keys.toml",
        )
        .expect("valid scenario")
    };
    let run_plan = |plan: &scenario::Plan| run_recorded(plan, RunOptions::default());

    let last_core = core_affinity::get_core_ids()
        .expect("cores")
        .last()
        .expect("a core")
        .id;
    let (report, recorder) = run_plan(&with_port_keys(&format!(
        "cores = [{last_core}]\nxsk_mode = \"copy\""
    )));
    assert_eq!(report.expect("runs").streams[0].counts.rx.frames, 1000);
    let tx = &recorder.setup.expect("setup").tx_ports[0];
    assert_eq!((tx.core, tx.mode), (Some(last_core), XskMode::Copy));

    // veth has no zero-copy: asking for it alone fails, naming the mode.
    let (result, _) = run_plan(&with_port_keys("xsk_mode = \"zero-copy\""));
    let message = result.expect_err("veth cannot do zero-copy").to_string();
    assert!(message.contains("zero-copy"), "{message}");

    let (result, _) = run_plan(&with_port_keys("cores = [4000]"));
    let message = result.expect_err("no such core").to_string();
    assert!(message.contains("core 4000 does not exist"), "{message}");
}
