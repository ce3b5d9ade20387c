//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// The one's complement sum of `bytes` as 16-bit big-endian words, unfolded,
/// added to `initial`. An odd trailing byte is padded with zero.
pub fn sum_words(initial: u32, bytes: &[u8]) -> u32 {
    let mut sum = u64::from(initial);
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        sum += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold_u64(sum)
}

fn fold_u64(mut sum: u64) -> u32 {
    while sum > 0xFFFF_FFFF {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
    }
    sum as u32
}

/// Folds a 32-bit one's complement sum into 16 bits.
#[inline]
pub fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum as u16
}

/// The checksum field value for data whose unfolded sum is `sum`.
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// The sum of the 16-bit words of a u32, for incremental updates.
#[inline]
pub fn words_of_u32(value: u32) -> u32 {
    (value >> 16) + (value & 0xFFFF)
}

/// The sum of the 16-bit words of a u64, for incremental updates.
#[inline]
pub fn words_of_u64(value: u64) -> u32 {
    words_of_u32((value >> 32) as u32) + words_of_u32(value as u32)
}

/// Folds a 64-bit accumulator of 16-, 32- or 64-bit big-endian quantities
/// into a 16-bit one's complement sum. Adding whole 32-bit values to a u64
/// and folding once gives the same result as adding their 16-bit words,
/// since both are congruent modulo 0xFFFF (the approach of RFC 1071
/// section 2, "deferred carries").
///
/// Each halving is one add with its carry added back in (end-around
/// carry), which the compiler turns into an add and an add-with-carry.
#[inline]
pub fn fold_u64_sum(sum: u64) -> u16 {
    let (low, carry) = (sum as u32).overflowing_add((sum >> 32) as u32);
    let sum = low.wrapping_add(u32::from(carry));
    // Neither add-back overflows: a carry leaves at most 0xFFFF_FFFE (or
    // 0xFFFE) before it. Congruence modulo 0xFFFF_FFFF implies it modulo
    // 0xFFFF, and only 0 folds to 0, as with `fold`.
    let (low, carry) = (sum as u16).overflowing_add((sum >> 16) as u16);
    low.wrapping_add(u16::from(carry))
}

/// RFC 1624 eqn. 3 where the changed words were zero when `checksum` was
/// computed: adds `added_words` (a sum of the new words) to the data the
/// checksum covers and returns the new checksum. Callers pass words aligned
/// to the checksummed data's 16-bit boundaries.
#[inline]
pub fn add_to_checksum(checksum: u16, added_words: u32) -> u16 {
    finish(u32::from(!checksum) + added_words)
}

/// The IPv4 pseudo-header sum for UDP or TCP (RFC 768).
pub fn ipv4_pseudo_header_sum(
    source: [u8; 4],
    destination: [u8; 4],
    protocol: u8,
    length: u16,
) -> u32 {
    let sum = sum_words(0, &source);
    let sum = sum_words(sum, &destination);
    sum + u32::from(protocol) + u32::from(length)
}

/// The sum of the 16-bit words of a u128 (an IPv6 address), unfolded.
#[inline]
pub fn words_of_u128(value: u128) -> u32 {
    words_of_u64((value >> 64) as u64) + words_of_u64(value as u64)
}

/// The IPv6 pseudo-header sum for UDP (RFC 8200 section 8.1), without the
/// addresses, which the caller adds.
pub fn ipv6_pseudo_header_sum_without_addresses(next_header: u8, length: u32) -> u32 {
    words_of_u32(length) + u32::from(next_header)
}

/// UDP transmits a computed checksum of zero as all ones (RFC 768).
#[inline]
pub fn udp_wire_value(checksum: u16) -> u16 {
    if checksum == 0 {
        0xFFFF
    } else {
        checksum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_words(0, &bytes)), 0xddf2);
        assert_eq!(finish(sum_words(0, &bytes)), !0xddf2);
    }

    #[test]
    fn deferred_carries_match_word_sums() {
        for (a, b, c) in [
            (0u32, 0u64, 0u16),
            (u32::MAX, u64::MAX, u16::MAX),
            (0x1234_5678, 0xdead_beef_0bad_f00d, 9000),
        ] {
            let words = words_of_u32(a) + words_of_u64(b) + u32::from(c);
            let wide = u64::from(a) + (b >> 32) + (b & 0xFFFF_FFFF) + u64::from(c);
            assert_eq!(fold(words), fold_u64_sum(wide), "{a:#x} {b:#x} {c:#x}");
        }
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut data = vec![
            0x12u8, 0x34, 0, 0, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0x55, 0x66,
        ];
        let base = finish(sum_words(0, &data));
        for (sequence, timestamp) in [
            (1u32, 2u64),
            (0xFFFF_FFFF, u64::MAX),
            (0x8000_0001, 0x0123_4567_89ab_cdef),
        ] {
            data[2..6].copy_from_slice(&sequence.to_be_bytes());
            data[8..16].copy_from_slice(&timestamp.to_be_bytes());
            let full = finish(sum_words(0, &data));
            let incremental =
                add_to_checksum(base, words_of_u32(sequence) + words_of_u64(timestamp));
            // 0x0000 and 0xFFFF are the same value in one's complement.
            let same = full == incremental
                || (full == 0 && incremental == 0xFFFF)
                || (full == 0xFFFF && incremental == 0);
            assert!(same, "full {full:#06x} incremental {incremental:#06x}");
        }
    }
}
