//! The XDP receive program run through BPF_PROG_TEST_RUN on hand-built
//! frames: linerate frames are counted under their stream and dropped;
//! anything else (wrong magic, truncated, not UDP, fragments) is passed and
//! counted nowhere. Needs root (CAP_BPF + CAP_NET_ADMIN).

use etherparse::PacketBuilder;
use linerate_bpf::abi::{payload_field, PAYLOAD_HEADER_LEN, PAYLOAD_MAGIC};
use linerate_bpf::{xdp_action, CountedFrames, RxCounter, StreamCounters};

const SRC_MAC: [u8; 6] = [0x02, 0x4c, 0x52, 0, 0, 0x0a];
const DST_MAC: [u8; 6] = [0x02, 0x4c, 0x52, 0, 0, 0x0b];

fn payload_header(magic: u32, stream_id: u16, sequence: u32) -> Vec<u8> {
    let mut header = vec![0u8; PAYLOAD_HEADER_LEN];
    header[payload_field::MAGIC].copy_from_slice(&magic.to_be_bytes());
    header[payload_field::STREAM_ID].copy_from_slice(&stream_id.to_be_bytes());
    header[payload_field::SEQUENCE].copy_from_slice(&sequence.to_be_bytes());
    header[payload_field::TX_TIMESTAMP].copy_from_slice(&123_456_789u64.to_be_bytes());
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
    assert_eq!(
        counter.stream_counters(2).expect("read"),
        StreamCounters {
            frames: 3,
            bytes: 180
        }
    );
    for other in [0u16, 1, 3] {
        assert_eq!(
            counter.stream_counters(other).expect("read"),
            StreamCounters::default()
        );
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
    assert_eq!(
        counter.stream_counters(1).expect("read"),
        StreamCounters {
            frames: 1,
            bytes: frame.len() as u64
        }
    );
}

#[test]
fn wrong_magic_is_passed_and_not_counted() {
    let counter = counter(4);
    let frame = ipv4_frame(&payload_header(PAYLOAD_MAGIC ^ 1, 2, 7));
    assert_eq!(
        counter.test_run(&frame).expect("test run"),
        xdp_action::PASS
    );
    assert_eq!(
        counter.stream_counters(2).expect("read"),
        StreamCounters::default()
    );
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
    assert_eq!(
        counter.stream_counters(2).expect("read"),
        StreamCounters::default()
    );
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
    assert_eq!(
        counter.stream_counters(0).expect("read"),
        StreamCounters::default()
    );
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
    assert_eq!(counter.stream_counters(1).expect("read").frames, 1);
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
    assert_eq!(
        counter.stream_counters(1).expect("read"),
        StreamCounters {
            frames: 1,
            bytes: 9000
        }
    );
}
