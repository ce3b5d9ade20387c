//! The XDP reflector run through BPF_PROG_TEST_RUN on hand-built frames:
//! linerate frames (IPv4, IPv6 under a VLAN tag) come back as XDP_TX with
//! MACs, IP addresses and UDP ports swapped, the payload untouched and both
//! checksums still valid (checked by recomputing them with etherparse);
//! other frames are passed untouched. Needs root (CAP_BPF + CAP_NET_ADMIN).

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use linerate_bpf::abi::{payload_field, PAYLOAD_HEADER_LEN, PAYLOAD_MAGIC};
use linerate_bpf::{xdp_action, ReflectTotals, Reflector};

const SRC_MAC: [u8; 6] = [0x02, 0x4c, 0x52, 0, 0, 0x0a];
const DST_MAC: [u8; 6] = [0x02, 0x4c, 0x52, 0, 0, 0x0b];
const SRC_IP6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST_IP6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn payload(magic: u32) -> Vec<u8> {
    let mut payload = vec![0xA5u8; 64];
    payload[payload_field::MAGIC].copy_from_slice(&magic.to_be_bytes()[1..]);
    payload[payload_field::STREAM_ID].copy_from_slice(&7u32.to_be_bytes()[1..]);
    payload[payload_field::SEQUENCE].copy_from_slice(&4242u32.to_be_bytes());
    payload[payload_field::TX_TIMESTAMP].copy_from_slice(&987_654_321u64.to_be_bytes());
    assert!(payload.len() > PAYLOAD_HEADER_LEN);
    payload
}

fn ipv4_frame(payload: &[u8], source: [u8; 6], destination: [u8; 6], swapped: bool) -> Vec<u8> {
    let (a, b, pa, pb) = if swapped {
        ([198, 18, 0, 2], [198, 18, 0, 1], 9001, 9000)
    } else {
        ([198, 18, 0, 1], [198, 18, 0, 2], 9000, 9001)
    };
    let builder = PacketBuilder::ethernet2(source, destination)
        .ipv4(a, b, 64)
        .udp(pa, pb);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("frame builds");
    frame
}

fn ipv6_vlan_frame(
    payload: &[u8],
    source: [u8; 6],
    destination: [u8; 6],
    swapped: bool,
) -> Vec<u8> {
    let (a, b, pa, pb) = if swapped {
        (DST_IP6, SRC_IP6, 9001, 9000)
    } else {
        (SRC_IP6, DST_IP6, 9000, 9001)
    };
    let builder = PacketBuilder::ethernet2(source, destination)
        .single_vlan(etherparse::VlanId::try_new(100).expect("valid vlan"))
        .ipv6(a, b, 64)
        .udp(pa, pb);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("frame builds");
    frame
}

/// The IPv4 header checksum and the UDP checksum of `frame` both verify
/// (the UDP one recomputed from the frame's own headers and payload).
fn checksums_valid(frame: &[u8]) -> bool {
    let packet = SlicedPacket::from_ethernet(frame).expect("the reflected frame parses");
    let Some(TransportSlice::Udp(udp)) = &packet.transport else {
        return false;
    };
    let header = udp.to_header();
    match &packet.net {
        Some(NetSlice::Ipv4(ip)) => {
            let ip_header = ip.header().to_header();
            ip_header.header_checksum == ip_header.calc_header_checksum()
                && header.checksum
                    == header
                        .calc_checksum_ipv4(&ip_header, udp.payload())
                        .expect("checksum computes")
        }
        Some(NetSlice::Ipv6(ip)) => {
            header.checksum
                == header
                    .calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
                    .expect("checksum computes")
        }
        _ => false,
    }
}

fn reflector() -> Reflector {
    Reflector::load().expect("load the XDP reflector (run the tests as root)")
}

#[test]
fn linerate_frames_come_back_with_addresses_and_ports_swapped_and_checksums_valid() {
    let reflector = reflector();
    let payload = payload(PAYLOAD_MAGIC);
    type Build = fn(&[u8], [u8; 6], [u8; 6], bool) -> Vec<u8>;
    for (kind, build) in [
        ("ipv4", ipv4_frame as Build),
        ("ipv6+vlan", ipv6_vlan_frame),
    ] {
        let frame = build(&payload, SRC_MAC, DST_MAC, false);
        assert!(checksums_valid(&frame), "{kind}: the frame sent is valid");
        let run = reflector.test_run(&frame).expect("test run");
        assert_eq!(run.action, xdp_action::TX, "{kind}: sent back");
        // Exactly the frame built with every pair swapped: same payload,
        // same TTL, same checksums.
        assert_eq!(run.frame, build(&payload, DST_MAC, SRC_MAC, true), "{kind}");
        assert!(checksums_valid(&run.frame), "{kind}: checksums still valid");
    }
    assert_eq!(
        reflector.totals().expect("read the totals"),
        ReflectTotals {
            frames_reflected: 2,
            frames_passed: 0
        }
    );
}

#[test]
fn other_frames_pass_untouched() {
    let reflector = reflector();
    let wrong_magic = ipv4_frame(&payload(0xDEAD_BEEF), SRC_MAC, DST_MAC, false);
    let mut truncated = ipv4_frame(&payload(PAYLOAD_MAGIC), SRC_MAC, DST_MAC, false);
    truncated.truncate(14 + 20 + 8 + PAYLOAD_HEADER_LEN - 1);
    let mut fragment = ipv4_frame(&payload(PAYLOAD_MAGIC), SRC_MAC, DST_MAC, false);
    fragment[14 + 6] |= 0x20; // more fragments
    let mut arp = ipv4_frame(&payload(PAYLOAD_MAGIC), SRC_MAC, DST_MAC, false);
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    let frames = [wrong_magic, truncated, fragment, arp];
    for (index, frame) in frames.iter().enumerate() {
        let run = reflector.test_run(frame).expect("test run");
        assert_eq!(run.action, xdp_action::PASS, "frame {index}");
        assert_eq!(&run.frame, frame, "frame {index} untouched");
    }
    assert_eq!(
        reflector.totals().expect("read the totals"),
        ReflectTotals {
            frames_reflected: 0,
            frames_passed: frames.len() as u64
        }
    );
}
