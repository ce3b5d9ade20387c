//! Which frames are linerate's, decided exactly as the XDP receive counter
//! decides (`bpf/src/linerate_rx.bpf.c`): Ethernet, up to two VLAN tags,
//! IPv4 (not a fragment) or IPv6 with UDP next, and the payload header with
//! the magic. Tests compare the counter against it frame by frame; the fuzz
//! target feeds it arbitrary bytes.

use super::ipv4::PROTOCOL_UDP;
use super::{
    EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet, PayloadHeader, UdpDatagram, VlanTag,
};

/// Most VLAN tags the counter looks through.
pub const MAX_VLAN_TAGS: usize = 2;
/// The 802.1ad (QinQ) outer tag's EtherType, which the counter also skips.
pub const QINQ: EtherType = EtherType(0x88A8);
/// IPv4 flags-and-offset bits that mark a fragment (MF and the offset).
const FRAGMENT_MASK: u16 = 0x3FFF;

/// The payload header of a frame that is linerate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recognised {
    /// The stream id.
    pub stream_id: u32,
    /// The 32-bit sequence number.
    pub sequence: u32,
    /// The sender's CLOCK_MONOTONIC timestamp.
    pub tx_timestamp_ns: u64,
}

/// The payload header of `frame` if the receive counter would count it as
/// linerate's; `None` for anything it passes on untouched.
pub fn recognise(frame: &[u8]) -> Option<Recognised> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    let mut ether_type = ethernet.ether_type();
    let mut rest = ethernet.payload();
    for _ in 0..MAX_VLAN_TAGS {
        if ether_type != EtherType::VLAN && ether_type != QINQ {
            break;
        }
        let tag = VlanTag::new_checked(rest).ok()?;
        ether_type = tag.ether_type();
        rest = &rest[VlanTag::<&[u8]>::LEN..];
    }
    let udp_bytes = if ether_type == EtherType::IPV4 {
        let ip = Ipv4Packet::new_checked(rest).ok()?;
        if ip.protocol() != PROTOCOL_UDP
            || ip.header_len() < Ipv4Packet::<&[u8]>::HEADER_LEN
            || ip.flags_fragment() & FRAGMENT_MASK != 0
        {
            return None;
        }
        &rest[ip.header_len()..]
    } else if ether_type == EtherType::IPV6 {
        let ip = Ipv6Packet::new_checked(rest).ok()?;
        if ip.next_header() != PROTOCOL_UDP {
            return None;
        }
        &rest[Ipv6Packet::<&[u8]>::HEADER_LEN..]
    } else {
        return None;
    };
    let udp = UdpDatagram::new_checked(udp_bytes).ok()?;
    let header = PayloadHeader::new_checked(udp.payload()).ok()?;
    (header.magic() == PayloadHeader::<&[u8]>::MAGIC).then(|| Recognised {
        stream_id: header.stream_id(),
        sequence: header.sequence(),
        tx_timestamp_ns: header.tx_timestamp_ns(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameGenerator;

    #[test]
    fn generated_frames_are_recognised_and_cut_ones_are_not() {
        let spec = crate::frame::FrameSpec::ipv4(
            crate::wire::MacAddr([2, 0, 0, 0, 0, 1]),
            crate::wire::MacAddr([2, 0, 0, 0, 0, 2]),
            std::net::Ipv4Addr::new(198, 18, 0, 1),
            std::net::Ipv4Addr::new(198, 18, 0, 2),
            (9000, 9001),
            128,
        );
        let mut generator = FrameGenerator::new(&spec, 3).expect("generator");
        // The generator writes what changes over its template.
        let mut frame = generator.template().to_vec();
        let len = generator.fill(&mut frame, 77, 123).expect("fill");
        let frame = &frame[..len];
        assert_eq!(
            recognise(frame),
            Some(Recognised {
                stream_id: 3,
                sequence: 77,
                tx_timestamp_ns: 123
            })
        );
        for cut in 0..frame.len().min(60) {
            assert_eq!(recognise(&frame[..cut]), None, "cut to {cut}");
        }
    }
}
