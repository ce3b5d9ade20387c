//! 802.1Q VLAN tag view: the four bytes after the MAC addresses.

use super::ethernet::EtherType;
use super::field::{self, Field};
use super::{check_len, Truncated};

mod offsets {
    use super::Field;
    pub const TCI: Field = 0..2;
    pub const ETHER_TYPE: Field = 2..4;
}

/// Largest VLAN id (4095 is reserved).
pub const MAX_VLAN_ID: u16 = 4094;

/// A view over a VLAN tag: tag control information and the EtherType it
/// encapsulates.
#[derive(Debug)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Length of the tag after the outer EtherType.
    pub const LEN: usize = 4;

    /// Wraps `buffer` without checking its length, for hot paths that
    /// checked the whole frame's length once; an accessor on a buffer that is
    /// too short panics rather than reading out of bounds.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        VlanTag { buffer }
    }

    /// Wraps `buffer` after checking it holds a whole tag.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        check_len("VLAN tag", buffer.as_ref(), Self::LEN)?;
        Ok(VlanTag { buffer })
    }

    /// The VLAN id (12 bits).
    pub fn vlan_id(&self) -> u16 {
        field::read_u16(self.buffer.as_ref(), offsets::TCI) & 0x0FFF
    }

    /// The priority code point (3 bits).
    pub fn priority(&self) -> u8 {
        (field::read_u16(self.buffer.as_ref(), offsets::TCI) >> 13) as u8
    }

    /// The encapsulated EtherType.
    pub fn ether_type(&self) -> EtherType {
        EtherType(field::read_u16(self.buffer.as_ref(), offsets::ETHER_TYPE))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanTag<T> {
    /// Sets the VLAN id, keeping priority and DEI.
    #[inline]
    pub fn set_vlan_id(&mut self, vlan_id: u16) {
        let tci = field::read_u16(self.buffer.as_ref(), offsets::TCI);
        field::write_u16(
            self.buffer.as_mut(),
            offsets::TCI,
            (tci & 0xF000) | (vlan_id & 0x0FFF),
        );
    }

    /// Sets the priority code point, keeping DEI and the id.
    pub fn set_priority(&mut self, priority: u8) {
        let tci = field::read_u16(self.buffer.as_ref(), offsets::TCI);
        let value = (tci & 0x1FFF) | (u16::from(priority & 0x07) << 13);
        field::write_u16(self.buffer.as_mut(), offsets::TCI, value);
    }

    /// Sets the encapsulated EtherType.
    pub fn set_ether_type(&mut self, ether_type: EtherType) {
        field::write_u16(self.buffer.as_mut(), offsets::ETHER_TYPE, ether_type.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tci_fields_are_independent() {
        let mut bytes = [0u8; 4];
        let mut tag = VlanTag::new_checked(&mut bytes[..]).expect("fits");
        tag.set_priority(5);
        tag.set_vlan_id(4094);
        tag.set_ether_type(EtherType::IPV6);
        tag.set_vlan_id(100);
        assert_eq!(
            (tag.priority(), tag.vlan_id(), tag.ether_type()),
            (5, 100, EtherType::IPV6)
        );
        assert!(VlanTag::new_checked(&bytes[..3]).is_err());
    }
}
