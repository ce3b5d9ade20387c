//! IPv4 header view (no options written; options skipped when read).

use std::net::Ipv4Addr;

use super::checksum;
use super::field::{self, Field};
use super::{check_len, Truncated};

mod offsets {
    use super::Field;
    pub const VERSION_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Field = 2..4;
    pub const IDENTIFICATION: Field = 4..6;
    pub const FLAGS_FRAGMENT: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SOURCE: Field = 12..16;
    pub const DESTINATION: Field = 16..20;
}

/// IP protocol number of UDP.
pub const PROTOCOL_UDP: u8 = 17;

/// The "don't fragment" flag in the flags/fragment-offset field.
pub const FLAG_DONT_FRAGMENT: u16 = 0x4000;

/// A view over an IPv4 header and what follows it.
#[derive(Debug)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Length of a header without options.
    pub const HEADER_LEN: usize = 20;

    /// Wraps `buffer` without checking its length, for hot paths that
    /// checked the whole frame's length once; an accessor on a buffer that is
    /// too short panics rather than reading out of bounds.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after checking it holds a whole option-less header.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        check_len("IPv4 header", buffer.as_ref(), Self::HEADER_LEN)?;
        let packet = Ipv4Packet { buffer };
        check_len(
            "IPv4 header with options",
            packet.buffer.as_ref(),
            packet.header_len(),
        )?;
        Ok(packet)
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.bytes()[offsets::VERSION_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[offsets::VERSION_IHL] & 0x0F) * 4
    }

    /// DSCP and ECN.
    pub fn dscp_ecn(&self) -> u8 {
        self.bytes()[offsets::DSCP_ECN]
    }

    /// Total length: header plus payload.
    pub fn total_len(&self) -> u16 {
        field::read_u16(self.bytes(), offsets::TOTAL_LEN)
    }

    /// Identification.
    pub fn identification(&self) -> u16 {
        field::read_u16(self.bytes(), offsets::IDENTIFICATION)
    }

    /// Flags and fragment offset.
    pub fn flags_fragment(&self) -> u16 {
        field::read_u16(self.bytes(), offsets::FLAGS_FRAGMENT)
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.bytes()[offsets::TTL]
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> u8 {
        self.bytes()[offsets::PROTOCOL]
    }

    /// The header checksum.
    pub fn checksum(&self) -> u16 {
        field::read_u16(self.bytes(), offsets::CHECKSUM)
    }

    /// The source address.
    pub fn source(&self) -> Ipv4Addr {
        Ipv4Addr::from(field::read_u32(self.bytes(), offsets::SOURCE))
    }

    /// The destination address.
    pub fn destination(&self) -> Ipv4Addr {
        Ipv4Addr::from(field::read_u32(self.bytes(), offsets::DESTINATION))
    }

    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum_words(0, &self.bytes()[..self.header_len()])) == 0xFFFF
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets version 4 and the header length in bytes (a multiple of 4).
    #[inline]
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.bytes_mut()[offsets::VERSION_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0F);
    }

    /// Sets DSCP and ECN.
    #[inline]
    pub fn set_dscp_ecn(&mut self, value: u8) {
        self.bytes_mut()[offsets::DSCP_ECN] = value;
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, value: u16) {
        field::write_u16(self.bytes_mut(), offsets::TOTAL_LEN, value);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_identification(&mut self, value: u16) {
        field::write_u16(self.bytes_mut(), offsets::IDENTIFICATION, value);
    }

    /// Sets flags and fragment offset.
    #[inline]
    pub fn set_flags_fragment(&mut self, value: u16) {
        field::write_u16(self.bytes_mut(), offsets::FLAGS_FRAGMENT, value);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, value: u8) {
        self.bytes_mut()[offsets::TTL] = value;
    }

    /// Sets the payload protocol.
    #[inline]
    pub fn set_protocol(&mut self, value: u8) {
        self.bytes_mut()[offsets::PROTOCOL] = value;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        field::write_u16(self.bytes_mut(), offsets::CHECKSUM, value);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_source(&mut self, address: Ipv4Addr) {
        field::write_u32(self.bytes_mut(), offsets::SOURCE, address.into());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_destination(&mut self, address: Ipv4Addr) {
        field::write_u32(self.bytes_mut(), offsets::DESTINATION, address.into());
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::sum_words(0, &self.bytes()[..header_len]);
        self.set_checksum(checksum::finish(sum));
    }

    /// The bytes after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.bytes_mut()[header_len..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_checksum_verifies() {
        let mut bytes = [0u8; 28];
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).expect("long enough");
        packet.set_version_and_header_len(20);
        packet.set_total_len(28);
        packet.set_flags_fragment(FLAG_DONT_FRAGMENT);
        packet.set_ttl(64);
        packet.set_protocol(PROTOCOL_UDP);
        packet.set_source(Ipv4Addr::new(198, 18, 0, 1));
        packet.set_destination(Ipv4Addr::new(198, 18, 0, 2));
        packet.fill_checksum();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.total_len(), 28);
        assert_eq!(packet.protocol(), PROTOCOL_UDP);
        assert_eq!(packet.source(), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(packet.destination(), Ipv4Addr::new(198, 18, 0, 2));
        assert!(packet.verify_checksum());
        let parsed = etherparse::Ipv4HeaderSlice::from_slice(&bytes).expect("etherparse reads it");
        assert_eq!(
            parsed.header_checksum(),
            parsed.to_header().calc_header_checksum()
        );
    }

    #[test]
    fn options_longer_than_buffer_are_refused() {
        let mut bytes = [0u8; 20];
        bytes[0] = 0x46; // IHL 6: 24 bytes
        assert!(Ipv4Packet::new_checked(&bytes[..]).is_err());
        assert!(Ipv4Packet::new_checked(&bytes[..19]).is_err());
    }
}
