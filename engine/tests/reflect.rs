//! The reflector through a real lab: frames a → b, where the XDP reflector
//! on b sends them back, → a, counted by the receive counter on a, their own
//! sending port. Counts are exact (every frame sent comes back, once, in
//! order), the latency is the round trip on one clock, and it is longer
//! than the one-way latency of a plain a → b run in the same lab. On a veth
//! pair, b's XDP_TX needs an XDP program on the peer a: the counter is
//! there. Needs root.

mod common;

use common::run_text;
use linerate_engine::lab::{Lab, LabHost, LabSpec};
use linerate_engine::netns::{interface_index, NetnsGuard};

/// The verdict checks loss only: the achieved rate depends on how busy
/// the machine is, which is not what this test is about.
const PASS: &str = "\n[pass]\nmax_loss_frames = 0\n";
const FRAMES: u64 = 20_000;

fn port_table(name: &str, host: &LabHost, reflect: bool) -> String {
    format!(
        "\n[[port]]\nname = \"{name}\"\ninterface = \"{}\"\nnamespace = \"{}\"\nreflect = {reflect}\n",
        host.interface, host.namespace
    )
}

/// A scenario sending `FRAMES` frames a → b at 20 kpps, counted on `rx`,
/// with b reflecting when `reflect`.
fn scenario(spec: &LabSpec, name: &str, rx: &str, reflect: bool) -> String {
    format!(
        "[run]\nframes = {FRAMES}\nreport_interval = \"250ms\"\n{}{}{}{PASS}",
        port_table("a", &spec.a, false),
        port_table("b", &spec.b, reflect),
        spec.stream_table(name, rx, 128, "20kpps")
    )
}

/// The id of the XDP program on `host`'s interface, if any.
fn attached_program(host: &LabHost) -> Option<u32> {
    let _inside = NetnsGuard::enter(&host.namespace).expect("enter the namespace");
    let ifindex = interface_index(&host.interface, Some(&host.namespace)).expect("interface");
    linerate_bpf::introspect::attached_xdp_program(ifindex)
}

#[test]
fn reflected_frames_come_back_exactly_with_round_trip_latency() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();

    // One way: a → b, counted on b.
    let (one_way, _) = run_text(&scenario(spec, "one-way", "b", false));
    let one_way = &one_way.streams[0];
    assert_eq!(one_way.counts.frames_sent, FRAMES);
    assert_eq!(one_way.counts.rx.frames, FRAMES);
    let one_way_latency = one_way.latency.expect("one-way latency measured");

    // Round trip: a → b (reflector) → a, counted on a.
    let (report, recorder) = run_text(&scenario(spec, "round-trip", "a", true));
    let setup = recorder.setup.expect("setup reported");
    assert_eq!(setup.reflect_ports.len(), 1);
    assert_eq!(setup.reflect_ports[0].port, "b");
    assert_eq!(setup.rx_ports.len(), 1);
    assert_eq!(setup.rx_ports[0].port, "a");
    let round_trip = &report.streams[0];
    let counts = &round_trip.counts;
    assert_eq!(counts.frames_sent, FRAMES);
    assert_eq!(counts.rx.frames, FRAMES, "every frame came back");
    assert_eq!(round_trip.frames_lost(), 0);
    assert_eq!(counts.rx.duplicates, 0);
    assert_eq!(counts.rx.late, 0);
    assert_eq!(counts.rx.gap_frames, 0);
    assert_eq!(counts.rx.bytes, FRAMES * 128, "frames come back whole");
    assert_eq!(report.frames_unknown_stream, 0);
    assert!(report.passed(), "{:?}", report.failures());

    // Every frame has a latency, on one clock: the round trip.
    let latency = round_trip.latency.expect("round-trip latency measured");
    eprintln!(
        "one way: min {} ns, p50 {} ns, p99 {} ns; round trip: min {} ns, p50 {} ns, p99 {} ns",
        one_way_latency.min_ns,
        one_way_latency.p50_ns,
        one_way_latency.p99_ns,
        latency.min_ns,
        latency.p50_ns,
        latency.p99_ns
    );
    assert_eq!(latency.count, FRAMES);
    assert_eq!(counts.rx.clock_behind, 0);
    assert!(
        latency.min_ns > one_way_latency.min_ns,
        "round trip {latency:?} should take longer than one way {one_way_latency:?}"
    );
    assert!(
        latency.p50_ns < 10_000_000,
        "a round trip through two namespaces takes well under 10 ms: {latency:?}"
    );

    // The reflector went with the run; nothing is left on b (nor on a).
    assert_eq!(attached_program(&spec.b), None);
    assert_eq!(attached_program(&spec.a), None);
}
