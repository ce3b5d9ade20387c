//! Typed views over frame bytes, in the manner of smoltcp's `wire` module:
//! each header is a view over a byte buffer whose length is checked once,
//! with field offsets as named constants and a getter and setter per field.
//! Nothing outside this module indexes into header bytes by hand.

pub mod checksum;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod payload;
pub mod recognise;
pub mod udp;
pub mod vlan;

pub use ethernet::{EtherType, EthernetFrame, MacAddr};
pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;
pub use payload::PayloadHeader;
pub use udp::UdpDatagram;
pub use vlan::VlanTag;

/// A buffer was too short for the header a view was asked to cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{header} needs {needed} bytes, buffer has {available}")]
pub struct Truncated {
    /// The header that did not fit.
    pub header: &'static str,
    /// Bytes the header needs.
    pub needed: usize,
    /// Bytes the buffer has.
    pub available: usize,
}

pub(crate) fn check_len(
    header: &'static str,
    buffer: &[u8],
    needed: usize,
) -> Result<(), Truncated> {
    if buffer.len() < needed {
        Err(Truncated {
            header,
            needed,
            available: buffer.len(),
        })
    } else {
        Ok(())
    }
}

/// Big-endian field access on a byte slice whose length the view checked.
pub(crate) mod field {
    use std::ops::Range;

    /// A field's byte range.
    pub type Field = Range<usize>;

    #[inline]
    pub fn read_u16(buffer: &[u8], at: Field) -> u16 {
        let mut bytes = [0u8; 2];
        bytes.copy_from_slice(&buffer[at]);
        u16::from_be_bytes(bytes)
    }

    /// A 24-bit big-endian field (three bytes).
    #[inline]
    pub fn read_u24(buffer: &[u8], at: Field) -> u32 {
        let mut bytes = [0u8; 4];
        bytes[1..].copy_from_slice(&buffer[at]);
        u32::from_be_bytes(bytes)
    }

    #[inline]
    pub fn read_u32(buffer: &[u8], at: Field) -> u32 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&buffer[at]);
        u32::from_be_bytes(bytes)
    }

    #[inline]
    pub fn read_u64(buffer: &[u8], at: Field) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&buffer[at]);
        u64::from_be_bytes(bytes)
    }

    #[inline]
    pub fn write_u16(buffer: &mut [u8], at: Field, value: u16) {
        buffer[at].copy_from_slice(&value.to_be_bytes());
    }

    /// Writes the low 24 bits of `value` big-endian (three bytes).
    #[inline]
    pub fn write_u24(buffer: &mut [u8], at: Field, value: u32) {
        buffer[at].copy_from_slice(&value.to_be_bytes()[1..]);
    }

    #[inline]
    pub fn write_u32(buffer: &mut [u8], at: Field, value: u32) {
        buffer[at].copy_from_slice(&value.to_be_bytes());
    }

    #[inline]
    pub fn write_u64(buffer: &mut [u8], at: Field, value: u64) {
        buffer[at].copy_from_slice(&value.to_be_bytes());
    }
}
