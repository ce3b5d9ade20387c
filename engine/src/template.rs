//! Frame templates: a stream's whole frame built once off the hot path, and
//! the per-frame stamp (sequence, TX timestamp, UDP checksum updated
//! incrementally) that the sender applies to each copy in the UMEM.

use std::net::Ipv4Addr;

use crate::wire::checksum;
use crate::wire::ipv4::{FLAG_DONT_FRAGMENT, PROTOCOL_UDP};
use crate::wire::{
    EtherType, EthernetFrame, Ipv4Packet, MacAddr, PayloadHeader, Truncated, UdpDatagram,
};

/// Ethernet + IPv4 + UDP header bytes.
pub const IPV4_UDP_HEADERS_LEN: usize = EthernetFrame::<&[u8]>::HEADER_LEN
    + Ipv4Packet::<&[u8]>::HEADER_LEN
    + UdpDatagram::<&[u8]>::HEADER_LEN;

/// The smallest frame that holds the headers and the payload header.
pub const MIN_FRAME_SIZE: usize = IPV4_UDP_HEADERS_LEN + PayloadHeader::<&[u8]>::LEN;

/// What one stream's frames look like on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// Source MAC address.
    pub src_mac: MacAddr,
    /// Destination MAC address.
    pub dst_mac: MacAddr,
    /// Source IPv4 address.
    pub src_ip: Ipv4Addr,
    /// Destination IPv4 address.
    pub dst_ip: Ipv4Addr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// Frame length in bytes, Ethernet header to end of payload, no FCS.
    pub frame_size: usize,
    /// IPv4 time to live.
    pub ttl: u8,
}

/// Why a template could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The frame cannot hold the headers and the payload header.
    #[error("frame size {frame_size} is below the minimum of {minimum} bytes (Ethernet, IPv4, UDP and the linerate payload header)")]
    FrameTooSmall {
        /// The size asked for.
        frame_size: usize,
        /// The smallest that works.
        minimum: usize,
    },
    /// A header view did not fit (a bug: the size was checked first).
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// A stream's frame, built once, with where its per-frame fields live.
#[derive(Debug, Clone)]
pub struct FrameTemplate {
    bytes: Vec<u8>,
    udp_offset: usize,
    payload_header_offset: usize,
    /// The UDP checksum with sequence and timestamp zero.
    udp_checksum_base: u16,
}

impl FrameTemplate {
    /// Builds the frame for `spec`, tagged with `stream_id`: valid IPv4 and
    /// UDP checksums, sequence and timestamp zero, the rest of the payload
    /// zeros.
    pub fn build(spec: &FrameSpec, stream_id: u16) -> Result<Self, TemplateError> {
        if spec.frame_size < MIN_FRAME_SIZE {
            return Err(TemplateError::FrameTooSmall {
                frame_size: spec.frame_size,
                minimum: MIN_FRAME_SIZE,
            });
        }
        let mut bytes = vec![0u8; spec.frame_size];
        let ip_offset = EthernetFrame::<&[u8]>::HEADER_LEN;
        let udp_offset = ip_offset + Ipv4Packet::<&[u8]>::HEADER_LEN;
        let payload_header_offset = udp_offset + UdpDatagram::<&[u8]>::HEADER_LEN;
        let ip_total_len = (spec.frame_size - ip_offset) as u16;
        let udp_len = (spec.frame_size - udp_offset) as u16;

        let mut ethernet = EthernetFrame::new_checked(&mut bytes[..])?;
        ethernet.set_destination(spec.dst_mac);
        ethernet.set_source(spec.src_mac);
        ethernet.set_ether_type(EtherType::IPV4);

        let mut payload = PayloadHeader::new_checked(&mut bytes[payload_header_offset..])?;
        payload.set_magic(PayloadHeader::<&[u8]>::MAGIC);
        payload.set_stream_id(stream_id);

        let mut ip = Ipv4Packet::new_checked(&mut bytes[ip_offset..])?;
        ip.set_version_and_header_len(Ipv4Packet::<&[u8]>::HEADER_LEN);
        ip.set_total_len(ip_total_len);
        ip.set_flags_fragment(FLAG_DONT_FRAGMENT);
        ip.set_ttl(spec.ttl);
        ip.set_protocol(PROTOCOL_UDP);
        ip.set_source(spec.src_ip);
        ip.set_destination(spec.dst_ip);
        ip.fill_checksum();

        let mut udp = UdpDatagram::new_checked(&mut bytes[udp_offset..])?;
        udp.set_source_port(spec.src_port);
        udp.set_destination_port(spec.dst_port);
        udp.set_length(udp_len);
        udp.set_checksum(0);
        let pseudo = checksum::ipv4_pseudo_header_sum(
            spec.src_ip.octets(),
            spec.dst_ip.octets(),
            PROTOCOL_UDP,
            udp_len,
        );
        let udp_checksum_base = checksum::finish(checksum::sum_words(pseudo, &bytes[udp_offset..]));
        let mut udp = UdpDatagram::new_checked(&mut bytes[udp_offset..])?;
        udp.set_checksum(checksum::udp_wire_value(udp_checksum_base));

        Ok(FrameTemplate {
            bytes,
            udp_offset,
            payload_header_offset,
            udp_checksum_base,
        })
    }

    /// The template's bytes (sequence and timestamp zero).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The frame length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a template holds at least [`MIN_FRAME_SIZE`] bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Writes the per-frame fields into `frame`, which must hold a copy of
    /// this template: the sequence number, the TX timestamp, and the UDP
    /// checksum updated for both (RFC 1624) rather than recomputed.
    #[inline]
    pub fn stamp(&self, frame: &mut [u8], sequence: u32, tx_timestamp_ns: u64) {
        debug_assert!(frame.len() >= self.bytes.len());
        if let Ok(mut header) = PayloadHeader::new_checked(&mut frame[self.payload_header_offset..])
        {
            header.set_sequence(sequence);
            header.set_tx_timestamp_ns(tx_timestamp_ns);
        }
        let added = checksum::words_of_u32(sequence) + checksum::words_of_u64(tx_timestamp_ns);
        let updated = checksum::add_to_checksum(self.udp_checksum_base, added);
        if let Ok(mut udp) = UdpDatagram::new_checked(&mut frame[self.udp_offset..]) {
            udp.set_checksum(checksum::udp_wire_value(updated));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn spec(frame_size: usize) -> FrameSpec {
        FrameSpec {
            src_mac: MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0a]),
            dst_mac: MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0b]),
            src_ip: Ipv4Addr::new(198, 18, 0, 1),
            dst_ip: Ipv4Addr::new(198, 18, 0, 2),
            src_port: 9000,
            dst_port: 9001,
            frame_size,
            ttl: 64,
        }
    }

    /// Parses `frame` with etherparse and checks both checksums against its
    /// own computation; returns the UDP payload.
    fn parse_and_verify(frame: &[u8]) -> Vec<u8> {
        let packet = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
        let Some(NetSlice::Ipv4(ip)) = packet.net else {
            panic!("not IPv4")
        };
        let header = ip.header().to_header();
        assert_eq!(
            ip.header().header_checksum(),
            header.calc_header_checksum(),
            "IPv4 checksum"
        );
        let Some(TransportSlice::Udp(udp)) = packet.transport else {
            panic!("not UDP")
        };
        let expected = udp
            .to_header()
            .calc_checksum_ipv4(&header, udp.payload())
            .expect("checksum computes");
        assert_eq!(udp.checksum(), expected, "UDP checksum");
        udp.payload().to_vec()
    }

    #[test]
    fn template_is_a_valid_frame_of_the_asked_size() {
        for size in [MIN_FRAME_SIZE, 61, 128, 1514] {
            let template = FrameTemplate::build(&spec(size), 3).expect("builds");
            assert_eq!(template.len(), size);
            let payload = parse_and_verify(template.bytes());
            let header = PayloadHeader::new_checked(&payload[..]).expect("header fits");
            assert_eq!(header.magic(), PayloadHeader::<&[u8]>::MAGIC);
            assert_eq!(header.stream_id(), 3);
            assert_eq!(header.sequence(), 0);
        }
    }

    #[test]
    fn stamped_frames_keep_valid_checksums() {
        for size in [60usize, 61, 1514] {
            let template = FrameTemplate::build(&spec(size), 1).expect("builds");
            let mut frame = template.bytes().to_vec();
            for (sequence, timestamp) in [
                (1u32, 1u64),
                (0xFFFF_FFFF, u64::MAX),
                (42, 1_700_000_000_123_456_789),
                (0, 0),
            ] {
                template.stamp(&mut frame, sequence, timestamp);
                let payload = parse_and_verify(&frame);
                let header = PayloadHeader::new_checked(&payload[..]).expect("header fits");
                assert_eq!(header.sequence(), sequence);
                assert_eq!(header.tx_timestamp_ns(), timestamp);
            }
        }
    }

    #[test]
    fn too_small_frames_are_refused() {
        assert_eq!(
            FrameTemplate::build(&spec(59), 0).err(),
            Some(TemplateError::FrameTooSmall {
                frame_size: 59,
                minimum: 60
            })
        );
    }
}
