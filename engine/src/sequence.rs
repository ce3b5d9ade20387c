//! The sequence numbers a stream's frames carry, and the faults the sender
//! can put into them on purpose (skip, repeat, swap) so that a receiver's
//! loss, duplicate and reorder counters can be checked against exact
//! expectations.

use crate::frame::SplitMix64;

/// What a fault does to the sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A number is left out: the receiver sees a gap, though nothing was lost.
    Skip,
    /// A frame carries the previous frame's number again: a duplicate.
    Repeat,
    /// Two consecutive numbers go out in the opposite order: one late arrival.
    Swap,
}

impl FaultKind {
    /// The name used in scenarios and reports.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Skip => "skip",
            FaultKind::Repeat => "repeat",
            FaultKind::Swap => "swap",
        }
    }
}

/// When a fault happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultTrigger {
    /// On every `n`th frame (frames n, 2n, 3n, ... counting from 1).
    Every(u64),
    /// On each frame with this probability, from a seeded generator (the
    /// same seed gives the same faults).
    Probability {
        /// Between 0 and 1.
        probability: f64,
        /// The generator's seed.
        seed: u64,
    },
}

/// A fault to inject into one stream's sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceFault {
    /// What it does.
    pub kind: FaultKind,
    /// When.
    pub trigger: FaultTrigger,
}

/// How many faults a sender injected into one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Numbers skipped (each a gap with no frame lost).
    pub skipped: u64,
    /// Frames that repeated the previous number.
    pub repeated: u64,
    /// Pairs sent in swapped order.
    pub swapped: u64,
}

/// Hands out a stream's sequence numbers in order, injecting its fault.
/// Numbers are 64-bit here and go on the wire as their low 32 bits; the
/// receiver extends them back.
#[derive(Debug, Clone)]
pub struct SequenceSource {
    next: u64,
    frames: u64,
    fault: Option<SequenceFault>,
    random: SplitMix64,
    /// The number the second frame of a swap will carry.
    swapped_pending: Option<u64>,
    last: Option<u64>,
    counts: FaultCounts,
}

impl SequenceSource {
    /// Numbers from 0, with `fault` injected if given.
    pub fn new(fault: Option<SequenceFault>) -> SequenceSource {
        let seed = match fault.map(|fault| fault.trigger) {
            Some(FaultTrigger::Probability { seed, .. }) => seed,
            _ => 0,
        };
        SequenceSource {
            next: 0,
            frames: 0,
            fault,
            random: SplitMix64::new(seed),
            swapped_pending: None,
            last: None,
            counts: FaultCounts::default(),
        }
    }

    /// The number for the next frame.
    pub fn next_number(&mut self) -> u64 {
        self.frames += 1;
        let number = if let Some(pending) = self.swapped_pending.take() {
            pending
        } else if self.fault_due() {
            self.inject()
        } else {
            self.take_next()
        };
        self.last = Some(number);
        number
    }

    fn take_next(&mut self) -> u64 {
        let number = self.next;
        self.next += 1;
        number
    }

    fn fault_due(&mut self) -> bool {
        match self.fault.map(|fault| fault.trigger) {
            None => false,
            Some(FaultTrigger::Every(every)) => every > 0 && self.frames % every == 0,
            Some(FaultTrigger::Probability { probability, .. }) => {
                // 53 random bits as a fraction in [0, 1).
                let draw = (self.random.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                draw < probability
            }
        }
    }

    fn inject(&mut self) -> u64 {
        let Some(fault) = self.fault else {
            return self.take_next();
        };
        match fault.kind {
            FaultKind::Skip => {
                self.next += 1;
                self.counts.skipped += 1;
                self.take_next()
            }
            FaultKind::Repeat => match self.last {
                Some(last) => {
                    self.counts.repeated += 1;
                    last
                }
                None => self.take_next(),
            },
            FaultKind::Swap => {
                let first = self.take_next();
                let second = self.take_next();
                self.swapped_pending = Some(first);
                self.counts.swapped += 1;
                second
            }
        }
    }

    /// True when a fault is injected into these numbers.
    pub fn has_fault(&self) -> bool {
        self.fault.is_some()
    }

    /// Numbers handed out or jumped over so far: one more than the highest.
    pub fn span(&self) -> u64 {
        self.next
    }

    /// The faults injected so far. A swap whose second frame was never sent
    /// (the run ended between the two) counts as a skip: its number is
    /// missing at the receiver, yet nothing was lost.
    pub fn fault_counts(&self) -> FaultCounts {
        let mut counts = self.counts;
        if self.swapped_pending.is_some() {
            counts.swapped -= 1;
            counts.skipped += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(fault: Option<SequenceFault>, frames: usize) -> (Vec<u64>, SequenceSource) {
        let mut source = SequenceSource::new(fault);
        let numbers = (0..frames).map(|_| source.next_number()).collect();
        (numbers, source)
    }

    fn every(kind: FaultKind, n: u64) -> Option<SequenceFault> {
        Some(SequenceFault {
            kind,
            trigger: FaultTrigger::Every(n),
        })
    }

    #[test]
    fn without_a_fault_numbers_count_up() {
        let (numbers, source) = numbers(None, 5);
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
        assert_eq!(source.span(), 5);
        assert_eq!(source.fault_counts(), FaultCounts::default());
    }

    #[test]
    fn skip_leaves_a_number_out() {
        let (numbers, source) = numbers(every(FaultKind::Skip, 3), 7);
        assert_eq!(numbers, [0, 1, 3, 4, 5, 7, 8]);
        assert_eq!(source.fault_counts().skipped, 2);
        assert_eq!(source.span(), 9);
    }

    #[test]
    fn repeat_sends_the_previous_number_again() {
        let (numbers, source) = numbers(every(FaultKind::Repeat, 3), 7);
        assert_eq!(numbers, [0, 1, 1, 2, 3, 3, 4]);
        assert_eq!(source.fault_counts().repeated, 2);
        assert_eq!(source.span(), 5);
    }

    #[test]
    fn swap_exchanges_two_neighbours() {
        let (numbers, source) = numbers(every(FaultKind::Swap, 3), 8);
        assert_eq!(numbers, [0, 1, 3, 2, 4, 6, 5, 7]);
        assert_eq!(source.fault_counts().swapped, 2);
    }

    #[test]
    fn a_swap_cut_short_counts_as_a_skip() {
        let (numbers, source) = numbers(every(FaultKind::Swap, 3), 3);
        assert_eq!(numbers, [0, 1, 3]);
        assert_eq!(
            source.fault_counts(),
            FaultCounts {
                skipped: 1,
                ..FaultCounts::default()
            }
        );
    }

    #[test]
    fn probability_faults_repeat_with_the_seed() {
        let fault = Some(SequenceFault {
            kind: FaultKind::Skip,
            trigger: FaultTrigger::Probability {
                probability: 0.01,
                seed: 42,
            },
        });
        let (first, source) = numbers(fault, 100_000);
        let (second, _) = numbers(fault, 100_000);
        assert_eq!(first, second);
        let skipped = source.fault_counts().skipped;
        assert!(
            (800..1200).contains(&skipped),
            "about 1 % of 100000: {skipped}"
        );
        assert_eq!(source.span(), 100_000 + skipped);
    }
}
