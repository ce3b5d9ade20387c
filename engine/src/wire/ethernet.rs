//! Ethernet II header view and MAC addresses.

use std::fmt;
use std::str::FromStr;

use super::field::{self, Field};
use super::{check_len, Truncated};

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// True for group (multicast or broadcast) addresses.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

/// A MAC address string was not six hex octets separated by `:` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex octets like 02:00:00:00:00:01")]
pub struct MacParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || MacParseError(text.to_string());
        let mut octets = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for octet in &mut octets {
            let part = parts.next().ok_or_else(error)?;
            if part.is_empty() || part.len() > 2 {
                return Err(error());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| error())?;
        }
        if parts.next().is_some() {
            return Err(error());
        }
        Ok(MacAddr(octets))
    }
}

/// EtherType values linerate builds or recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// IPv6.
    pub const IPV6: EtherType = EtherType(0x86DD);
    /// 802.1Q VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
}

mod offsets {
    use super::Field;
    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHER_TYPE: Field = 12..14;
}

/// A view over an Ethernet II frame (no FCS).
#[derive(Debug)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of the Ethernet II header.
    pub const HEADER_LEN: usize = 14;

    /// Wraps `buffer` without checking its length, for hot paths that
    /// checked the whole frame's length once; an accessor on a buffer that is
    /// too short panics rather than reading out of bounds.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        check_len("Ethernet header", buffer.as_ref(), Self::HEADER_LEN)?;
        Ok(EthernetFrame { buffer })
    }

    /// The destination address.
    pub fn destination(&self) -> MacAddr {
        let mut octets = [0u8; 6];
        octets.copy_from_slice(&self.buffer.as_ref()[offsets::DESTINATION]);
        MacAddr(octets)
    }

    /// The source address.
    pub fn source(&self) -> MacAddr {
        let mut octets = [0u8; 6];
        octets.copy_from_slice(&self.buffer.as_ref()[offsets::SOURCE]);
        MacAddr(octets)
    }

    /// The EtherType.
    pub fn ether_type(&self) -> EtherType {
        EtherType(field::read_u16(self.buffer.as_ref(), offsets::ETHER_TYPE))
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_destination(&mut self, address: MacAddr) {
        self.buffer.as_mut()[offsets::DESTINATION].copy_from_slice(&address.0);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_source(&mut self, address: MacAddr) {
        self.buffer.as_mut()[offsets::SOURCE].copy_from_slice(&address.0);
    }

    /// Sets the EtherType.
    #[inline]
    pub fn set_ether_type(&mut self, ether_type: EtherType) {
        field::write_u16(self.buffer.as_mut(), offsets::ETHER_TYPE, ether_type.0);
    }

    /// The bytes after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[Self::HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_prints() {
        let mac: MacAddr = "02:4C:52:00:00:0a".parse().expect("valid");
        assert_eq!(mac.0, [0x02, 0x4c, 0x52, 0, 0, 0x0a]);
        assert_eq!(mac.to_string(), "02:4c:52:00:00:0a");
        assert_eq!("02-4c-52-00-00-0a".parse::<MacAddr>(), Ok(mac));
        for bad in [
            "",
            "02:4c:52:00:00",
            "02:4c:52:00:00:0a:01",
            "02:4c:52:00:00:zz",
            "024c:52:00:00:0a:1",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn header_round_trip_and_truncation() {
        let mut bytes = [0u8; 20];
        let mut frame = EthernetFrame::new_checked(&mut bytes[..]).expect("long enough");
        frame.set_destination(MacAddr([1, 2, 3, 4, 5, 6]));
        frame.set_source(MacAddr([7, 8, 9, 10, 11, 12]));
        frame.set_ether_type(EtherType::IPV4);
        assert_eq!(frame.destination(), MacAddr([1, 2, 3, 4, 5, 6]));
        assert_eq!(frame.source(), MacAddr([7, 8, 9, 10, 11, 12]));
        assert_eq!(frame.ether_type(), EtherType::IPV4);
        assert_eq!(frame.payload().len(), 6);
        assert!(EthernetFrame::new_checked(&bytes[..13]).is_err());
    }
}
