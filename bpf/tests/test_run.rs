//! The XDP receive program run through BPF_PROG_TEST_RUN on hand-built
//! frames: linerate frames are counted under their stream and dropped;
//! anything else (wrong magic, truncated, not UDP, fragments) is passed and
//! counted nowhere. Needs root (CAP_BPF + CAP_NET_ADMIN).

use etherparse::PacketBuilder;
use linerate_bpf::abi::latency_bucket;
use linerate_bpf::abi::{payload_field, PAYLOAD_HEADER_LEN, PAYLOAD_MAGIC};
use linerate_bpf::{xdp_action, CountedFrames, RxCounter};

const SRC_MAC: [u8; 6] = [0x02, 0x4c, 0x52, 0, 0, 0x0a];
const DST_MAC: [u8; 6] = [0x02, 0x4c, 0x52, 0, 0, 0x0b];

fn payload_header(magic: u32, stream_id: u32, sequence: u32) -> Vec<u8> {
    stamped_header(magic, stream_id, sequence, 123_456_789)
}

fn stamped_header(magic: u32, stream_id: u32, sequence: u32, tx_timestamp_ns: u64) -> Vec<u8> {
    let mut header = vec![0u8; PAYLOAD_HEADER_LEN];
    header[payload_field::MAGIC].copy_from_slice(&magic.to_be_bytes()[1..]);
    header[payload_field::STREAM_ID].copy_from_slice(&stream_id.to_be_bytes()[1..]);
    header[payload_field::SEQUENCE].copy_from_slice(&sequence.to_be_bytes());
    header[payload_field::TX_TIMESTAMP].copy_from_slice(&tx_timestamp_ns.to_be_bytes());
    header
}

fn ipv4_frame(payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .udp(9000, 9001);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("frame builds");
    frame
}

fn ipv6_vlan_frame(payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .single_vlan(etherparse::VlanId::try_new(100).expect("valid vlan"))
        .ipv6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(9000, 9001);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("frame builds");
    frame
}

/// (frames, bytes) the counter holds for `stream`.
fn counted(counter: &RxCounter, stream: u32) -> (u64, u64) {
    let rx = counter.stream_rx(stream).expect("read the stream's state");
    (rx.frames, rx.bytes)
}

fn counter(streams: u32) -> RxCounter {
    RxCounter::load(streams, CountedFrames::Drop)
        .expect("load the XDP program (run the tests as root)")
}

#[test]
fn valid_ipv4_frame_is_counted_under_its_stream_and_dropped() {
    let counter = counter(4);
    let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC, 2, 7));
    assert_eq!(
        frame.len(),
        60,
        "Ethernet+IPv4+UDP+payload header is a 60-byte frame"
    );
    for _ in 0..3 {
        assert_eq!(
            counter.test_run(&frame).expect("test run"),
            xdp_action::DROP
        );
    }
    assert_eq!(counted(&counter, 2), (3, 180));
    for other in [0u32, 1, 3] {
        assert_eq!(counted(&counter, other), (0, 0));
    }
    assert_eq!(counter.totals().expect("read").frames_passed, 0);
}

#[test]
fn valid_ipv6_frame_behind_a_vlan_tag_is_counted() {
    let counter = counter(2);
    let mut payload = payload_header(PAYLOAD_MAGIC, 1, 1);
    payload.extend_from_slice(&[0xAB; 100]);
    let frame = ipv6_vlan_frame(&payload);
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::DROP
    );
    assert_eq!(counted(&counter, 1), (1, frame.len() as u64));
}

#[test]
fn wrong_magic_is_passed_and_not_counted() {
    let counter = counter(4);
    let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC ^ 1, 2, 7));
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::PASS
    );
    assert_eq!(counted(&counter, 2), (0, 0));
    assert_eq!(counter.totals().expect("read").frames_passed, 1);
}

#[test]
fn truncated_frames_are_passed_and_not_counted() {
    let counter = counter(4);
    let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC, 2, 7));
    // Every cut short of the full payload header: inside Ethernet, IPv4,
    // UDP and the payload header itself. The kernel needs at least 14 bytes.
    let mut runs = 0;
    for len in 14..frame.len() {
        assert_eq!(
            counter.test_run(&frame[..len]).expect("test run"),
            xdp_action::PASS,
            "frame cut to {len} bytes"
        );
        runs += 1;
    }
    assert_eq!(counted(&counter, 2), (0, 0));
    assert_eq!(counter.totals().expect("read").frames_passed, runs);
}

#[test]
fn non_udp_and_fragments_are_passed() {
    let counter = counter(4);
    let header = payload_header(PAYLOAD_MAGIC, 0, 0);
    // TCP carrying the same bytes.
    let builder = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .tcp(9000, 9001, 1, 1024);
    let mut tcp = Vec::new();
    builder.write(&mut tcp, &header).expect("frame builds");
    assert_eq!(counter.test_run(&tcp).expect("test run"), xdp_action::PASS);

    // A first fragment (MF set) of a UDP datagram.
    let mut fragment = ipv4_frame(&header);
    let flags_offset = 14 + 6;
    fragment[flags_offset] |= 0x20;
    assert_eq!(
        counter.test_run(&fragment).expect("test run"),
        xdp_action::PASS
    );
    assert_eq!(counted(&counter, 0), (0, 0));
}

#[test]
fn stream_id_beyond_the_map_is_dropped_and_reported() {
    let counter = counter(2);
    let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC, 5, 0));
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::DROP
    );
    let totals = counter.totals().expect("read");
    assert_eq!(totals.frames_unknown_stream, 1);
    assert_eq!(totals.frames_passed, 0);
}

#[test]
fn pass_mode_counts_and_passes_linerate_frames() {
    let counter = RxCounter::load(2, CountedFrames::Pass)
        .expect("load the XDP program (run the tests as root)");
    let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC, 1, 0));
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::PASS
    );
    assert_eq!(counted(&counter, 1).0, 1);
    assert_eq!(
        counter.totals().expect("read").frames_passed,
        0,
        "counted, not 'unrecognised'"
    );
}

#[test]
fn jumbo_frame_is_counted_with_its_whole_length() {
    let counter = counter(2);
    let mut payload = payload_header(PAYLOAD_MAGIC, 1, 0);
    payload.resize(9000 - 42, 0x5A);
    let frame = ipv4_frame(&payload);
    assert_eq!(frame.len(), 9000);
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::DROP
    );
    assert_eq!(counted(&counter, 1), (1, 9000));
}

/// CLOCK_MONOTONIC now, the clock the program reads (bpf_ktime_get_ns).
fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Sends the sequence numbers in order as stream `stream`'s frames.
fn send_sequence(counter: &RxCounter, stream: u32, numbers: &[u32]) {
    for &number in numbers {
        let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC, stream, number));
        assert_eq!(
            counter.test_run(&frame).expect("test run"),
            xdp_action::DROP
        );
    }
}

#[test]
fn gaps_late_arrivals_and_duplicates_are_counted_exactly() {
    let counter = counter(2);
    // 3 and 4 are jumped over by 5 (a gap of two), then arrive late; the
    // second 3 is a duplicate; 6 continues.
    send_sequence(&counter, 1, &[0, 1, 2, 5, 3, 3, 4, 6]);
    let rx = counter.stream_rx(1).expect("read");
    assert_eq!(rx.frames, 8);
    assert_eq!(rx.duplicates, 1);
    assert_eq!(rx.unique_frames(), 7);
    assert_eq!(rx.gap_frames, 2);
    assert_eq!(rx.late, 2);
    assert_eq!(rx.next_expected, 7);
    assert_eq!(rx.update_races, 0);
    // Still missing: jumped over, not yet filled.
    assert_eq!(rx.gap_frames - rx.late, 0);
    assert_eq!(counter.stream_rx(0).expect("read"), Default::default());
}

#[test]
fn lost_frames_stay_as_gaps() {
    let counter = counter(1);
    send_sequence(&counter, 0, &[0, 1, 4, 5, 9]);
    let rx = counter.stream_rx(0).expect("read");
    assert_eq!((rx.gap_frames, rx.late, rx.duplicates), (5, 0, 0));
    assert_eq!(rx.next_expected - rx.unique_frames(), 5);
}

#[test]
fn sequence_numbers_wrap_around_32_bits() {
    let counter = counter(1);
    // Forward jumps of under 2^31 stay forward; past u32::MAX the numbers
    // extend to 2^32, 2^32 + 1; a repeat of 0 after the wrap is a duplicate
    // of 2^32, not a late 0.
    send_sequence(
        &counter,
        0,
        &[0, 0x7FFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FFFF, 0, 1, 0],
    );
    let rx = counter.stream_rx(0).expect("read");
    assert_eq!(rx.next_expected, (1u64 << 32) + 2);
    assert_eq!(rx.duplicates, 1);
    assert_eq!(rx.late, 0);
    assert_eq!(rx.unique_frames(), 6);
    assert_eq!(rx.gap_frames, rx.next_expected - 6);
}

#[test]
fn duplicates_are_found_across_the_window_but_not_beyond_it() {
    let counter = counter(1);
    let window = counter.window() as u32;
    assert_eq!(window, 4096, "one stream gets the widest window");
    let numbers: Vec<u32> = (0..window).collect();
    send_sequence(&counter, 0, &numbers);
    // The oldest number still in the window repeats: a duplicate.
    send_sequence(&counter, 0, &[0]);
    // After the window moves on by one, 0's slot holds `window`: a late 0.
    send_sequence(&counter, 0, &[window, 0]);
    let rx = counter.stream_rx(0).expect("read");
    assert_eq!(rx.duplicates, 1);
    assert_eq!(rx.late, 1);
}

#[test]
fn latency_and_jitter_are_measured_against_the_tx_timestamp() {
    let counter = counter(1);
    for sequence in 0..3 {
        let frame = ipv4_frame(&stamped_header(PAYLOAD_MAGIC, 0, sequence, monotonic_ns()));
        assert_eq!(
            counter.test_run(&frame).expect("test run"),
            xdp_action::DROP
        );
    }
    let rx = counter.stream_rx(0).expect("read");
    let latency = &rx.latency;
    assert_eq!(latency.count, 3);
    assert!(latency.min_ns > 0, "some time passes: {latency:?}");
    assert!(latency.min_ns <= latency.max_ns);
    assert!(
        latency.max_ns < 1_000_000_000,
        "a test run takes far less than a second: {}",
        latency.max_ns
    );
    assert!(latency.sum_ns >= 3 * latency.min_ns && latency.sum_ns <= 3 * latency.max_ns);
    assert_eq!(latency.buckets.iter().sum::<u64>(), 3);
    assert!(latency.buckets[latency_bucket(latency.min_ns)] > 0);
    assert!(latency.buckets[latency_bucket(latency.max_ns)] > 0);
    assert!(rx.jitter_ns >= 0.0 && rx.jitter_ns < latency.max_ns as f64);
    assert_eq!(rx.clock_behind, 0);
}

/// CLOCK_TAI now, what a sender on another agent stamps.
fn tai_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    unsafe { libc::clock_gettime(libc::CLOCK_TAI, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[test]
fn a_tai_stream_is_timed_on_clock_tai_and_the_others_stay_monotonic() {
    let counter = RxCounter::load_with_tai_streams(2, CountedFrames::Drop, &[1])
        .expect("load with stream 1 on CLOCK_TAI");
    // Stream 1 stamped with CLOCK_TAI, stream 0 with CLOCK_MONOTONIC: both
    // give a latency of a test run's length.
    let tai_frame = ipv4_frame(&stamped_header(PAYLOAD_MAGIC, 1, 0, tai_ns()));
    let monotonic_frame = ipv4_frame(&stamped_header(PAYLOAD_MAGIC, 0, 0, monotonic_ns()));
    for frame in [&tai_frame, &monotonic_frame] {
        assert_eq!(counter.test_run(frame).expect("test run"), xdp_action::DROP);
    }
    for stream in [0, 1] {
        let rx = counter.stream_rx(stream).expect("read");
        assert_eq!((rx.frames, rx.latency.count), (1, 1), "stream {stream}");
        assert!(
            rx.latency.min_ns > 0 && rx.latency.max_ns < 1_000_000_000,
            "stream {stream}: {:?}",
            rx.latency
        );
    }
    // A monotonic stamp on the TAI stream is decades behind TAI: the
    // counter really reads another clock for it.
    let wrong = ipv4_frame(&stamped_header(PAYLOAD_MAGIC, 1, 1, monotonic_ns()));
    counter.test_run(&wrong).expect("test run");
    let rx = counter.stream_rx(1).expect("read");
    assert!(
        rx.latency.max_ns > 1_000_000_000_000_000_000,
        "{:?}",
        rx.latency
    );
    assert_eq!(rx.latency.count, 2);
}

#[test]
fn timestamps_from_the_future_are_not_latency() {
    let counter = counter(1);
    let future = monotonic_ns() + 10_000_000_000;
    let frame = ipv4_frame(&stamped_header(PAYLOAD_MAGIC, 0, 0, future));
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::DROP
    );
    let rx = counter.stream_rx(0).expect("read");
    assert_eq!((rx.frames, rx.clock_behind, rx.latency.count), (1, 1, 0));
}

#[test]
fn latency_buckets_agree_with_the_rust_bucket_function_at_every_magnitude() {
    // Stream k's frame was stamped 2^k ns before now (plus the test run's
    // own microseconds), for every k whose stamp falls after boot: the
    // program's floor(log2) meets latencies from nanoseconds to hours, each
    // step of it both taken and not.
    let now = monotonic_ns();
    let magnitudes = 63 - now.leading_zeros();
    assert!(magnitudes > 33, "up long enough to reach 2^33 ns: {now}");
    let counter = counter(magnitudes);
    for k in 0..magnitudes {
        let stamp = now - (1u64 << k);
        let frame = ipv4_frame(&stamped_header(PAYLOAD_MAGIC, k, 0, stamp));
        assert_eq!(
            counter.test_run(&frame).expect("test run"),
            xdp_action::DROP
        );
    }
    for k in 0..magnitudes {
        let latency = counter.stream_rx(k).expect("read").latency;
        assert_eq!(latency.count, 1, "k = {k}");
        assert!(latency.min_ns >= 1 << k, "k = {k}: {}", latency.min_ns);
        assert_eq!(latency.buckets.iter().sum::<u64>(), 1, "k = {k}");
        assert_eq!(
            latency.buckets[latency_bucket(latency.min_ns)],
            1,
            "k = {k}: latency {} ns",
            latency.min_ns
        );
    }
}
