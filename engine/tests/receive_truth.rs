//! The receive side's counters against exact expectations, through real
//! labs: faults the sender injects on purpose, loss made by a tbf qdisc on
//! a router (checked against the kernel's own drop counter), one swept
//! stream spread over two receive queues handled on two CPUs, and latency
//! against an independent AF_PACKET clock. Needs root.

mod common;

use common::{capture, command_output, run_recorded, run_text, rx_queue_packets, shipped_scenario};
use linerate_engine::lab::{self, Lab, LabSpec};
use linerate_engine::run::{RunOptions, StreamResult};
use linerate_engine::scenario;
use linerate_engine::sequence::FaultCounts;

fn stream<'a>(streams: &'a [StreamResult], name: &str) -> &'a StreamResult {
    streams
        .iter()
        .find(|stream| stream.name == name)
        .unwrap_or_else(|| panic!("stream {name}"))
}

#[test]
fn injected_skips_repeats_and_swaps_are_counted_exactly() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let fault =
        |kind: &str, every: u32| format!("[stream.fault]\nkind = \"{kind}\"\nevery = {every}\n");
    let text = format!(
        "[run]\nframes = 20000\n[pass]\nmax_loss_frames = 0\nmax_duplicates = 400\nmax_reorder = 498\n{}{}{}{}{}{}{}",
        spec.port_tables(),
        spec.stream_table("skip", "b", 60, "20kpps"),
        fault("skip", 100),
        spec.stream_table("repeat", "b", 60, "20kpps"),
        fault("repeat", 50),
        spec.stream_table("swap", "b", 60, "20kpps"),
        fault("swap", 40),
    );
    let (report, _) = run_text(&text);

    let skip = stream(&report.streams, "skip");
    assert_eq!(
        skip.counts.faults,
        FaultCounts {
            skipped: 200,
            ..FaultCounts::default()
        }
    );
    assert_eq!(skip.counts.rx.frames, 20_000);
    assert_eq!(
        (
            skip.counts.rx.gap_frames,
            skip.counts.rx.late,
            skip.counts.rx.duplicates
        ),
        (200, 0, 0)
    );
    assert_eq!(skip.frames_lost(), 0);
    assert_eq!(skip.counts.missing_below_highest(), 0);

    let repeat = stream(&report.streams, "repeat");
    assert_eq!(repeat.counts.faults.repeated, 400);
    assert_eq!(repeat.counts.rx.frames, 20_000);
    assert_eq!(
        (
            repeat.counts.rx.duplicates,
            repeat.counts.rx.late,
            repeat.counts.rx.gap_frames
        ),
        (400, 0, 0)
    );
    assert_eq!(repeat.counts.unique_received(), 19_600);
    assert_eq!(repeat.frames_lost(), 0);

    // Frames 40, 80, ... 20000 start swaps; the last one's second half is
    // never sent, so it counts as a skip.
    let swap = stream(&report.streams, "swap");
    assert_eq!(
        swap.counts.faults,
        FaultCounts {
            skipped: 1,
            repeated: 0,
            swapped: 499
        }
    );
    assert_eq!(swap.counts.rx.frames, 20_000);
    assert_eq!(
        (
            swap.counts.rx.late,
            swap.counts.rx.gap_frames,
            swap.counts.rx.duplicates
        ),
        (499, 500, 0)
    );
    assert_eq!(swap.frames_lost(), 0);
    assert_eq!(swap.counts.missing_below_highest(), 0);

    // 400 duplicates is within max_duplicates; 499 late frames are one over
    // max_reorder: that is the only failure.
    assert_eq!(
        report.failures(),
        ["stream \"swap\": 499 frames arrived out of order (max_reorder = 498)"]
    );
}

/// The tbf qdisc's drop counter on `interface` in `namespace`.
fn qdisc_drops(namespace: &str, interface: &str) -> u64 {
    let text = command_output(
        "tc",
        &[
            "-n", namespace, "-j", "-s", "qdisc", "show", "dev", interface,
        ],
    );
    let qdiscs: serde_json::Value = serde_json::from_str(&text).expect("tc -j prints JSON");
    qdiscs
        .as_array()
        .expect("a list of qdiscs")
        .iter()
        .find(|qdisc| qdisc["kind"] == "tbf")
        .and_then(|qdisc| qdisc["drops"].as_u64())
        .unwrap_or_else(|| panic!("a tbf qdisc with a drop count: {text}"))
}

#[test]
fn loss_from_a_tbf_qdisc_is_exact_and_equals_the_kernels_drop_count() {
    let lab =
        Lab::create(LabSpec::unique().routed()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let router = spec.router.as_ref().expect("routed lab");
    let egress = &router.toward_b;
    // 1514-byte frames at 20 kpps (242 Mbit/s) into a 100 Mbit/s bucket.
    command_output(
        "tc",
        &[
            "-n",
            &egress.namespace,
            "qdisc",
            "add",
            "dev",
            &egress.interface,
            "root",
            "tbf",
            "rate",
            "100mbit",
            "burst",
            "32kb",
            "limit",
            "64kb",
        ],
    );
    let drops_before = qdisc_drops(&egress.namespace, &egress.interface);
    let text = format!(
        "[run]\nframes = 20000\n[pass]\nmax_loss_percent = 1\n{}{}",
        spec.port_tables(),
        spec.stream_table("shaped", "b", 1514, "20kpps"),
    );
    let (report, _) = run_text(&text);
    let drops = qdisc_drops(&egress.namespace, &egress.interface) - drops_before;

    let shaped = stream(&report.streams, "shaped");
    let counts = &shaped.counts;
    assert_eq!(counts.frames_sent, 20_000);
    let lost = counts.frames_sent - counts.rx.frames;
    assert!(lost > 5_000, "the bucket drops more than a quarter: {lost}");
    assert_eq!(shaped.frames_lost(), lost, "lost = sent - received");
    assert_eq!(lost, drops, "linerate's loss is the qdisc's drop count");
    println!(
        "tbf: sent {}, received {}, lost {lost}, qdisc drops {drops}",
        counts.frames_sent, counts.rx.frames
    );
    assert_eq!(counts.rx.duplicates, 0);
    assert_eq!(
        counts.missing_below_highest() + counts.missing_after_highest(),
        lost,
        "the in-run gap count reconciles with the final loss"
    );
    let failures = report.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("max_loss_percent = 1"), "{failures:?}");
}

#[test]
fn one_swept_stream_over_two_receive_queues_and_cpus_counts_exactly() {
    let lab = Lab::create(LabSpec::unique().routed().with_queues(2))
        .expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    // Each receive queue in its own thread, on its own core.
    let threads = lab::threaded_receive(&spec.b, &[0, 1]).expect("threaded NAPI on b");
    assert_eq!(threads.len(), 2, "one NAPI thread per receive queue");
    // 64 source ports: the router's flow hash spreads the one stream over
    // both of its transmit queues, so over both of b's receive queues.
    let text = format!(
        "[run]\nframes = 60000\n{}{}[[stream.sweep]]\nfield = \"src_port\"\ncount = 64\n",
        spec.port_tables(),
        spec.stream_table("spread", "b", 60, "30kpps"),
    );
    let before = rx_queue_packets(&spec.b.namespace, &spec.b.interface);
    let (report, _) = run_text(&text);
    let after = rx_queue_packets(&spec.b.namespace, &spec.b.interface);
    let per_queue: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(per_queue.len(), 2, "{per_queue:?}");
    for (queue, frames) in per_queue.iter().enumerate() {
        assert!(
            *frames > 10_000,
            "queue {queue} carries a share: {per_queue:?}"
        );
    }

    let spread = stream(&report.streams, "spread");
    let counts = &spread.counts;
    assert_eq!(per_queue.iter().sum::<u64>(), 60_000);
    assert_eq!((counts.frames_sent, counts.rx.frames), (60_000, 60_000));
    assert_eq!(
        counts.rx.duplicates, 0,
        "no frame counted twice across CPUs"
    );
    assert_eq!(spread.frames_lost(), 0);
    assert_eq!(
        counts.rx.gap_frames, counts.rx.late,
        "every number jumped over by one CPU arrived late on the other"
    );
    assert_eq!(counts.rx.next_expected, 60_000);
    println!(
        "two queues: {per_queue:?} frames, {} arrived late (reordered across CPUs)",
        counts.rx.late
    );
    assert!(report.passed(), "{:?}", report.failures());
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC, ns, read back to back.
fn realtime_minus_monotonic() -> i128 {
    let read = |clock| {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec, which `now` is.
        unsafe { libc::clock_gettime(clock, &mut now) };
        i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)
    };
    let monotonic_before = read(libc::CLOCK_MONOTONIC);
    let realtime = read(libc::CLOCK_REALTIME);
    let monotonic_after = read(libc::CLOCK_MONOTONIC);
    realtime - (monotonic_before + monotonic_after) / 2
}

#[test]
fn latency_agrees_with_an_independent_receive_clock() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let frames = 40_000;
    let text = format!(
        "[run]\nframes = {frames}\n[pass]\nmax_latency = [{{ percentile = 50, max = \"1ms\" }}]\n{}{}",
        spec.port_tables(),
        spec.stream_table("timed", "b", 60, "20kpps"),
    );
    let plan = scenario::parse(&text, "latency.toml").expect("valid scenario");
    let (ready, capture) = capture(spec.b.namespace.clone(), spec.b.interface.clone(), frames);
    ready.recv().expect("capture ready");
    let offset_before = realtime_minus_monotonic();
    let options = RunOptions {
        counted_frames: linerate_engine::CountedFrames::Pass,
        ..RunOptions::default()
    };
    let report = run_recorded(&plan, options).0.expect("run completes");
    let offset = (offset_before + realtime_minus_monotonic()) / 2;
    let captured = capture.join().expect("capture thread");
    assert_eq!(captured.len(), frames);

    // The kernel's receive timestamp on the AF_PACKET socket, moved to
    // CLOCK_MONOTONIC, minus the TX timestamp in the payload header.
    const TX_TIMESTAMP: std::ops::Range<usize> = 42 + 10..42 + 18;
    let mut independent: Vec<i128> = captured
        .iter()
        .map(|frame| {
            let stamp: [u8; 8] = frame.bytes[TX_TIMESTAMP].try_into().expect("8 bytes");
            i128::from(frame.rx_realtime_ns) - offset - i128::from(u64::from_be_bytes(stamp))
        })
        .collect();
    independent.sort_unstable();
    let independent_p50 = independent[independent.len() / 2] as f64;

    let latency = report.streams[0].latency.expect("latency measured");
    assert_eq!(latency.count, frames as u64);
    let p50 = latency.p50_ns as f64;
    println!(
        "latency p50: linerate {p50:.0} ns, AF_PACKET receive timestamps {independent_p50:.0} ns"
    );
    assert!(p50 > 0.0 && p50 < 1_000_000.0, "p50 {p50} ns");
    assert!(
        p50 / independent_p50 < 2.0 && independent_p50 / p50 < 2.0,
        "within a factor of 2: linerate {p50} ns, independent {independent_p50} ns"
    );
    assert!(latency.min_ns <= latency.p50_ns && latency.p50_ns <= latency.p99_ns);
    assert!(latency.p99_ns <= latency.p999_ns && latency.p999_ns <= latency.max_ns);
    assert!(report.passed(), "{:?}", report.failures());
}

#[test]
fn shipped_impairment_scenario_passes_through_the_routed_lab() {
    let lab =
        Lab::create(LabSpec::unique().routed()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = shipped_scenario(
        "impairment.toml",
        spec,
        ("duration = \"10s\"", "duration = \"2s\"".to_string()),
    );
    let (report, _) = run_text(&text);
    assert!(report.passed(), "{:?}", report.failures());
    let check = stream(&report.streams, "self-check");
    // 20,000 frames, a swap every 1000: 19 whole swaps and one cut short.
    assert_eq!(check.counts.rx.frames, 20_000);
    assert_eq!(
        (check.counts.faults.swapped, check.counts.faults.skipped),
        (19, 1)
    );
    assert_eq!(check.counts.rx.late, 19);
    let path = stream(&report.streams, "path");
    assert_eq!(path.counts.rx.frames, path.counts.frames_sent);
    assert!(path.latency.is_some());
}
