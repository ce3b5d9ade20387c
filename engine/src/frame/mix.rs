//! Weighted frame-size mixes (IMIX): the sizes and weights of a mix, and
//! the cursor that hands out its sizes in a fixed, interleaved order that is
//! exact over every cycle of the weights (smooth weighted round robin: in
//! each cycle of W = Σ weights frames, size i comes exactly wᵢ times, spread
//! out rather than in runs). No allocation: a mix is a small fixed array.

/// Most sizes one mix may hold.
pub const MAX_MIX_SIZES: usize = 8;
/// Largest weight of one size (so a cycle stays short enough to check).
pub const MAX_MIX_WEIGHT: u32 = 10_000;

/// The "simple" IMIX: 64, 594 and 1518 bytes on the wire, 7:4:1; frame
/// sizes here are without the FCS.
pub const SIMPLE_IMIX: [(usize, u32); 3] = [(60, 7), (590, 4), (1514, 1)];

/// Sizes (bytes without FCS) and their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeMix {
    sizes: [u16; MAX_MIX_SIZES],
    weights: [u32; MAX_MIX_SIZES],
    len: u8,
}

/// Why a list of (size, weight) pairs is not a mix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    /// No sizes, or more than [`MAX_MIX_SIZES`].
    #[error("a mix has 1 to {MAX_MIX_SIZES} sizes, this one has {0}")]
    Count(usize),
    /// A weight of zero or above [`MAX_MIX_WEIGHT`].
    #[error("weight {0} is not 1 to {MAX_MIX_WEIGHT}")]
    Weight(u32),
    /// A size that does not fit.
    #[error("size {0} is too large")]
    Size(usize),
}

impl SizeMix {
    /// A mix of `(size, weight)` pairs, in the given order.
    pub fn new(entries: &[(usize, u32)]) -> Result<SizeMix, MixError> {
        if entries.is_empty() || entries.len() > MAX_MIX_SIZES {
            return Err(MixError::Count(entries.len()));
        }
        let mut mix = SizeMix {
            sizes: [0; MAX_MIX_SIZES],
            weights: [0; MAX_MIX_SIZES],
            len: entries.len() as u8,
        };
        for (index, &(size, weight)) in entries.iter().enumerate() {
            if weight == 0 || weight > MAX_MIX_WEIGHT {
                return Err(MixError::Weight(weight));
            }
            mix.sizes[index] = u16::try_from(size).map_err(|_| MixError::Size(size))?;
            mix.weights[index] = weight;
        }
        Ok(mix)
    }

    /// The (size, weight) pairs.
    pub fn entries(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.sizes[..usize::from(self.len)]
            .iter()
            .zip(&self.weights[..usize::from(self.len)])
            .map(|(size, weight)| (usize::from(*size), *weight))
    }

    /// Frames in one cycle of the weights.
    pub fn cycle_len(&self) -> u64 {
        self.entries().map(|(_, weight)| u64::from(weight)).sum()
    }

    /// Bytes (without FCS) of one cycle's frames.
    pub fn cycle_bytes(&self) -> u64 {
        self.entries()
            .map(|(size, weight)| size as u64 * u64::from(weight))
            .sum()
    }

    /// The weighted average frame size (bytes without FCS).
    pub fn average(&self) -> f64 {
        self.cycle_bytes() as f64 / self.cycle_len() as f64
    }

    /// The smallest size.
    pub fn min(&self) -> usize {
        self.entries().map(|(size, _)| size).min().unwrap_or(0)
    }

    /// The largest size.
    pub fn max(&self) -> usize {
        self.entries().map(|(size, _)| size).max().unwrap_or(0)
    }
}

/// Hands out a mix's sizes: smooth weighted round robin.
#[derive(Debug, Clone)]
pub struct MixCursor {
    mix: SizeMix,
    credit: [i64; MAX_MIX_SIZES],
    total: i64,
    current: usize,
}

impl MixCursor {
    /// A cursor at the first frame of the first cycle.
    pub fn new(mix: SizeMix) -> MixCursor {
        let mut cursor = MixCursor {
            mix,
            credit: [0; MAX_MIX_SIZES],
            total: mix.cycle_len() as i64,
            current: 0,
        };
        cursor.advance();
        cursor
    }

    /// The current frame's size.
    #[inline]
    pub fn current(&self) -> usize {
        self.current
    }

    /// Moves to the next frame: every size gains its weight in credit, the
    /// size with the most credit (the first on a tie) goes next and pays
    /// the cycle's total.
    #[inline]
    pub fn advance(&mut self) {
        let len = usize::from(self.mix.len);
        let mut best = 0;
        for index in 0..len {
            self.credit[index] += i64::from(self.mix.weights[index]);
            if self.credit[index] > self.credit[best] {
                best = index;
            }
        }
        self.credit[best] -= self.total;
        self.current = usize::from(self.mix.sizes[best]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(mix: SizeMix, frames: usize) -> Vec<usize> {
        let mut cursor = MixCursor::new(mix);
        (0..frames)
            .map(|_| {
                let size = cursor.current();
                cursor.advance();
                size
            })
            .collect()
    }

    #[test]
    fn simple_imix_is_exact_every_cycle_and_interleaved() {
        let mix = SizeMix::new(&SIMPLE_IMIX).expect("a valid mix");
        assert_eq!(mix.cycle_len(), 12);
        assert_eq!(mix.cycle_bytes(), 7 * 60 + 4 * 590 + 1514);
        let all = sizes(mix, 12 * 50);
        for cycle in all.chunks(12) {
            let count = |size| cycle.iter().filter(|s| **s == size).count();
            assert_eq!((count(60), count(590), count(1514)), (7, 4, 1), "{cycle:?}");
        }
        // The same order every cycle, and no run of 4 small frames.
        assert_eq!(all[..12], all[12..24]);
        let longest_run = all[..12]
            .chunk_by(|a, b| a == b)
            .map(<[usize]>::len)
            .max()
            .unwrap_or(0);
        assert!(longest_run <= 2, "interleaved: {:?}", &all[..12]);
        assert!((mix.average() - (7.0 * 60.0 + 4.0 * 590.0 + 1514.0) / 12.0).abs() < 1e-9);
    }

    #[test]
    fn any_weighted_list_is_exact_per_cycle() {
        let mix = SizeMix::new(&[(100, 3), (200, 5), (1000, 2), (60, 1)]).expect("valid");
        let all = sizes(mix, 11 * 20);
        for cycle in all.chunks(11) {
            for (size, weight) in mix.entries() {
                assert_eq!(
                    cycle.iter().filter(|s| **s == size).count(),
                    weight as usize
                );
            }
        }
        assert_eq!((mix.min(), mix.max()), (60, 1000));
    }

    #[test]
    fn the_generator_makes_a_mix_of_valid_frames_in_the_cursor_order() {
        use crate::frame::{FrameGenerator, FrameSpec, SizeRule};
        use crate::wire::MacAddr;
        let mix = SizeMix::new(&SIMPLE_IMIX).expect("valid");
        let mut spec = FrameSpec::ipv4(
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0, 2]),
            "198.18.0.1".parse().expect("address"),
            "198.18.0.2".parse().expect("address"),
            (9000, 9000),
            60,
        );
        spec.size = SizeRule::Mix(mix);
        let mut generator = FrameGenerator::new(&spec, 1).expect("generator");
        let mut buffer = generator.template().to_vec();
        let expected = sizes(mix, 36);
        for (index, size) in expected.iter().enumerate() {
            assert_eq!(generator.next_frame_len(), *size);
            let len = generator.fill(&mut buffer, index as u32, 0).expect("fills");
            assert_eq!(len, *size);
            let parsed = etherparse::SlicedPacket::from_ethernet(&buffer[..len]).expect("parses");
            let Some(etherparse::NetSlice::Ipv4(ip)) = parsed.net else {
                panic!("an IPv4 frame");
            };
            assert_eq!(usize::from(ip.header().total_len()), len - 14);
        }
    }

    #[test]
    fn bad_mixes_are_refused() {
        assert_eq!(SizeMix::new(&[]), Err(MixError::Count(0)));
        assert_eq!(SizeMix::new(&[(60, 0)]), Err(MixError::Weight(0)));
        assert_eq!(SizeMix::new(&[(70_000, 1)]), Err(MixError::Size(70_000)));
        assert_eq!(SizeMix::new(&[(60, 1); 9]), Err(MixError::Count(9)));
    }
}
