//! The linerate payload header at the start of every UDP payload linerate
//! sends: magic, stream id, sequence number and TX timestamp. Its layout is
//! the one `bpf/src/linerate_abi.h` gives the XDP receive counter.

use linerate_bpf::abi::{self, payload_field};

use super::field;
use super::{check_len, Truncated};

/// A view over a linerate payload header.
#[derive(Debug)]
pub struct PayloadHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PayloadHeader<T> {
    /// Length of the header in bytes.
    pub const LEN: usize = abi::PAYLOAD_HEADER_LEN;
    /// The magic value that marks a linerate frame.
    pub const MAGIC: u32 = abi::PAYLOAD_MAGIC;

    /// Wraps `buffer` without checking its length, for hot paths that
    /// checked the whole frame's length once; an accessor on a buffer that is
    /// too short panics rather than reading out of bounds.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        PayloadHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        check_len("linerate payload header", buffer.as_ref(), Self::LEN)?;
        Ok(PayloadHeader { buffer })
    }

    /// The magic field (24 bits).
    pub fn magic(&self) -> u32 {
        field::read_u24(self.buffer.as_ref(), payload_field::MAGIC)
    }

    /// The stream id (24 bits).
    pub fn stream_id(&self) -> u32 {
        field::read_u24(self.buffer.as_ref(), payload_field::STREAM_ID)
    }

    /// The sequence number.
    pub fn sequence(&self) -> u32 {
        field::read_u32(self.buffer.as_ref(), payload_field::SEQUENCE)
    }

    /// The TX timestamp, CLOCK_MONOTONIC nanoseconds at the sender.
    pub fn tx_timestamp_ns(&self) -> u64 {
        field::read_u64(self.buffer.as_ref(), payload_field::TX_TIMESTAMP)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> PayloadHeader<T> {
    /// Sets the magic field (its low 24 bits).
    pub fn set_magic(&mut self, magic: u32) {
        field::write_u24(self.buffer.as_mut(), payload_field::MAGIC, magic);
    }

    /// Sets the stream id (its low 24 bits).
    pub fn set_stream_id(&mut self, stream_id: u32) {
        field::write_u24(self.buffer.as_mut(), payload_field::STREAM_ID, stream_id);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_sequence(&mut self, sequence: u32) {
        field::write_u32(self.buffer.as_mut(), payload_field::SEQUENCE, sequence);
    }

    /// Sets the TX timestamp.
    #[inline]
    pub fn set_tx_timestamp_ns(&mut self, timestamp: u64) {
        field::write_u64(self.buffer.as_mut(), payload_field::TX_TIMESTAMP, timestamp);
    }
}
