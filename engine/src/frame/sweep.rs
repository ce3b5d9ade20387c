//! A sweep's position while frames are made: the current value and how to
//! reach the next, with no allocation and a few instructions a frame.

use super::spec::{Sweep, SweepMode};

/// Full-period LCG modulo a power of two, walked until it lands below the
/// sweep's count: each index in 0..count comes up exactly once per cycle,
/// in an order fixed by the seed.
#[derive(Debug, Clone)]
struct Permutation {
    state: u64,
    mask: u64,
    increment: u64,
}

/// LCG multiplier; ≡ 1 (mod 4), so the period modulo 2^k is 2^k.
const LCG_MULTIPLIER: u64 = 0x5851_F42D_4C95_7F2D;

impl Permutation {
    fn new(count: u64, seed: u64) -> Permutation {
        let bits = 64 - count.saturating_sub(1).leading_zeros();
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits.max(1)) - 1
        };
        Permutation {
            state: seed & mask,
            mask,
            increment: (seed << 1) | 1,
        }
    }

    #[inline]
    fn next_below(&mut self, count: u64) -> u64 {
        loop {
            self.state = self
                .state
                .wrapping_mul(LCG_MULTIPLIER)
                .wrapping_add(self.increment)
                & self.mask;
            if self.state < count {
                return self.state;
            }
        }
    }
}

/// The integer a cursor walks in: u64 for fields up to 48 bits (MACs,
/// IPv4 addresses, ports, VLAN ids), u128 for IPv6 addresses. Values are
/// taken modulo 2^bits of the type, so a narrow field's value, truncated to
/// its width, is the same in either.
pub(crate) trait SweepValue: Copy + std::fmt::Debug {
    /// `value` truncated to this type.
    fn from_u128(value: u128) -> Self;
    /// `self + other`, wrapping.
    fn wrapping_add(self, other: Self) -> Self;
    /// `self × index`, wrapping.
    fn wrapping_mul_index(self, index: u64) -> Self;
}

impl SweepValue for u64 {
    #[inline]
    fn from_u128(value: u128) -> Self {
        value as u64
    }
    #[inline]
    fn wrapping_add(self, other: Self) -> Self {
        u64::wrapping_add(self, other)
    }
    #[inline]
    fn wrapping_mul_index(self, index: u64) -> Self {
        self.wrapping_mul(index)
    }
}

impl SweepValue for u128 {
    #[inline]
    fn from_u128(value: u128) -> Self {
        value
    }
    #[inline]
    fn wrapping_add(self, other: Self) -> Self {
        u128::wrapping_add(self, other)
    }
    #[inline]
    fn wrapping_mul_index(self, index: u64) -> Self {
        self.wrapping_mul(u128::from(index))
    }
}

/// Where one sweep is.
#[derive(Debug, Clone)]
pub(crate) struct SweepCursor<V: SweepValue = u128> {
    sweep: Sweep,
    /// The sweep's value count, at least 1.
    count: u64,
    /// Values left before the sweep wraps to its start.
    remaining: u64,
    value: V,
    /// The first value.
    start: V,
    /// What is added to move one value on: the step, or its two's
    /// complement for a decrement (wrapping arithmetic makes both an add).
    signed_step: V,
    /// Present for random order.
    permutation: Option<Permutation>,
}

impl<V: SweepValue> SweepCursor<V> {
    pub(crate) fn new(sweep: Sweep) -> SweepCursor<V> {
        let count = sweep.count.max(1);
        let mut permutation = match sweep.mode {
            SweepMode::Random { seed } => Some(Permutation::new(count, seed)),
            SweepMode::Increment | SweepMode::Decrement => None,
        };
        let first_index = permutation
            .as_mut()
            .map(|p| p.next_below(count))
            .unwrap_or(0);
        let signed_step = match sweep.mode {
            SweepMode::Decrement => sweep.step.wrapping_neg(),
            SweepMode::Increment | SweepMode::Random { .. } => sweep.step,
        };
        SweepCursor {
            value: V::from_u128(sweep.value_at(first_index)),
            sweep: Sweep { count, ..sweep },
            count,
            remaining: count - 1,
            start: V::from_u128(sweep.start),
            signed_step: V::from_u128(signed_step),
            permutation,
        }
    }

    /// The sweep this cursor walks.
    pub(crate) fn sweep(&self) -> &Sweep {
        &self.sweep
    }

    /// The current value.
    #[inline]
    pub(crate) fn value(&self) -> V {
        self.value
    }

    /// Moves to the next value; true when the sweep wrapped to its start.
    #[inline]
    pub(crate) fn advance(&mut self) -> bool {
        let wrapped = self.remaining == 0;
        if let Some(permutation) = &mut self.permutation {
            // Random order steps up from the start: signed_step is the step.
            let index = permutation.next_below(self.count);
            self.value = self
                .start
                .wrapping_add(self.signed_step.wrapping_mul_index(index));
        } else if wrapped {
            self.value = self.start;
        } else {
            self.value = self.value.wrapping_add(self.signed_step);
        }
        self.remaining = if wrapped {
            self.count - 1
        } else {
            self.remaining - 1
        };
        wrapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::spec::SweepField;

    fn sweep(count: u64, step: u128, mode: SweepMode) -> Sweep {
        Sweep {
            field: SweepField::SrcPort,
            start: 1000,
            count,
            step,
            mode,
        }
    }

    fn values(cursor: &mut SweepCursor, frames: usize) -> Vec<u128> {
        (0..frames)
            .map(|_| {
                let value = cursor.value();
                cursor.advance();
                value
            })
            .collect()
    }

    #[test]
    fn increment_and_decrement_wrap_to_start() {
        let mut up = SweepCursor::new(sweep(3, 5, SweepMode::Increment));
        assert_eq!(
            values(&mut up, 7),
            vec![1000, 1005, 1010, 1000, 1005, 1010, 1000]
        );
        let mut down = SweepCursor::new(sweep(3, 2, SweepMode::Decrement));
        assert_eq!(values(&mut down, 4), vec![1000, 998, 996, 1000]);
    }

    #[test]
    fn random_visits_every_value_once_per_cycle_reproducibly() {
        for count in [1u64, 2, 3, 7, 64, 65, 1000, 65_025] {
            let mut cursor = SweepCursor::new(sweep(count, 1, SweepMode::Random { seed: 42 }));
            let cycle = values(&mut cursor, count as usize);
            let mut sorted = cycle.clone();
            sorted.sort_unstable();
            let expected: Vec<u128> = (0..count).map(|index| 1000 + u128::from(index)).collect();
            assert_eq!(sorted, expected, "count {count}");
            assert_eq!(
                values(&mut cursor, count as usize),
                cycle,
                "the next cycle repeats, count {count}"
            );
            let mut again = SweepCursor::new(sweep(count, 1, SweepMode::Random { seed: 42 }));
            assert_eq!(
                values(&mut again, count as usize),
                cycle,
                "same seed, same order"
            );
        }
        let mut one = SweepCursor::new(sweep(1000, 1, SweepMode::Random { seed: 1 }));
        let mut two = SweepCursor::new(sweep(1000, 1, SweepMode::Random { seed: 2 }));
        assert_ne!(
            values(&mut one, 1000),
            values(&mut two, 1000),
            "seeds give different orders"
        );
    }
}
