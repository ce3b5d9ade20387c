//! IPv6 fixed header view (extension headers are not written).

use std::net::Ipv6Addr;

use super::field::{self, Field};
use super::{check_len, Truncated};

mod offsets {
    use super::Field;
    pub const VERSION_CLASS_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SOURCE: Field = 8..24;
    pub const DESTINATION: Field = 24..40;
}

/// A view over an IPv6 fixed header and what follows it.
#[derive(Debug)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn read_address(buffer: &[u8], at: Field) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&buffer[at]);
    Ipv6Addr::from(octets)
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Length of the fixed header.
    pub const HEADER_LEN: usize = 40;

    /// Wraps `buffer` without checking its length, for hot paths that
    /// checked the whole frame's length once; an accessor on a buffer that is
    /// too short panics rather than reading out of bounds.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after checking it holds a whole fixed header.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        check_len("IPv6 header", buffer.as_ref(), Self::HEADER_LEN)?;
        Ok(Ipv6Packet { buffer })
    }

    /// The version field (6).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class.
    pub fn traffic_class(&self) -> u8 {
        (field::read_u32(self.buffer.as_ref(), offsets::VERSION_CLASS_FLOW) >> 20) as u8
    }

    /// The payload length.
    pub fn payload_len(&self) -> u16 {
        field::read_u16(self.buffer.as_ref(), offsets::PAYLOAD_LEN)
    }

    /// The next header (17 for UDP).
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[offsets::NEXT_HEADER]
    }

    /// The hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[offsets::HOP_LIMIT]
    }

    /// The source address.
    pub fn source(&self) -> Ipv6Addr {
        read_address(self.buffer.as_ref(), offsets::SOURCE)
    }

    /// The destination address.
    pub fn destination(&self) -> Ipv6Addr {
        read_address(self.buffer.as_ref(), offsets::DESTINATION)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and a zero flow label.
    pub fn set_version_and_class(&mut self, traffic_class: u8) {
        let value = (6u32 << 28) | (u32::from(traffic_class) << 20);
        field::write_u32(self.buffer.as_mut(), offsets::VERSION_CLASS_FLOW, value);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, value: u16) {
        field::write_u16(self.buffer.as_mut(), offsets::PAYLOAD_LEN, value);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[offsets::NEXT_HEADER] = value;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[offsets::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    #[inline]
    pub fn set_source(&mut self, address: Ipv6Addr) {
        self.buffer.as_mut()[offsets::SOURCE].copy_from_slice(&address.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_destination(&mut self, address: Ipv6Addr) {
        self.buffer.as_mut()[offsets::DESTINATION].copy_from_slice(&address.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut bytes = [0u8; 48];
        let mut packet = Ipv6Packet::new_checked(&mut bytes[..]).expect("fits");
        packet.set_version_and_class(0xB8);
        packet.set_payload_len(8);
        packet.set_next_header(17);
        packet.set_hop_limit(64);
        let source: Ipv6Addr = "2001:db8::1".parse().expect("valid");
        let destination: Ipv6Addr = "2001:db8::2".parse().expect("valid");
        packet.set_source(source);
        packet.set_destination(destination);
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0xB8);
        assert_eq!(
            (
                packet.payload_len(),
                packet.next_header(),
                packet.hop_limit()
            ),
            (8, 17, 64)
        );
        assert_eq!(
            (packet.source(), packet.destination()),
            (source, destination)
        );
        let parsed = etherparse::Ipv6HeaderSlice::from_slice(&bytes).expect("etherparse reads it");
        assert_eq!(parsed.source_addr(), source);
        assert!(Ipv6Packet::new_checked(&bytes[..39]).is_err());
    }
}
