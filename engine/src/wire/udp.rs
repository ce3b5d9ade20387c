//! UDP header view.

use super::field::{self, Field};
use super::{check_len, Truncated};

mod offsets {
    use super::Field;
    pub const SOURCE_PORT: Field = 0..2;
    pub const DESTINATION_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A view over a UDP header and its payload.
#[derive(Debug)]
pub struct UdpDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Length of the UDP header.
    pub const HEADER_LEN: usize = 8;

    /// Wraps `buffer` without checking its length, for hot paths that
    /// checked the whole frame's length once; an accessor on a buffer that is
    /// too short panics rather than reading out of bounds.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        UdpDatagram { buffer }
    }

    /// Wraps `buffer` after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        check_len("UDP header", buffer.as_ref(), Self::HEADER_LEN)?;
        Ok(UdpDatagram { buffer })
    }

    /// The source port.
    pub fn source_port(&self) -> u16 {
        field::read_u16(self.buffer.as_ref(), offsets::SOURCE_PORT)
    }

    /// The destination port.
    pub fn destination_port(&self) -> u16 {
        field::read_u16(self.buffer.as_ref(), offsets::DESTINATION_PORT)
    }

    /// The length field: header plus payload.
    pub fn length(&self) -> u16 {
        field::read_u16(self.buffer.as_ref(), offsets::LENGTH)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        field::read_u16(self.buffer.as_ref(), offsets::CHECKSUM)
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_source_port(&mut self, port: u16) {
        field::write_u16(self.buffer.as_mut(), offsets::SOURCE_PORT, port);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_destination_port(&mut self, port: u16) {
        field::write_u16(self.buffer.as_mut(), offsets::DESTINATION_PORT, port);
    }

    /// Sets the length field.
    #[inline]
    pub fn set_length(&mut self, length: u16) {
        field::write_u16(self.buffer.as_mut(), offsets::LENGTH, length);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, checksum: u16) {
        field::write_u16(self.buffer.as_mut(), offsets::CHECKSUM, checksum);
    }

    /// The bytes after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[Self::HEADER_LEN..]
    }
}
