//! Which of a sender's streams falls due next: a binary heap of next-due
//! times, so that a release pops only the streams that are due instead of
//! scanning every stream; and the phase offsets that spread streams sharing
//! a rate over their period instead of letting them all fall due at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::types::Rate;

/// A sender's streams ordered by when they next fall due; streams due at
/// the same time come out in the order they were queued.
#[derive(Debug)]
pub struct DueQueue {
    /// (due time, order queued, stream index), smallest first.
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// How many pushes so far: the tie-break that keeps equal times FIFO.
    pushes: u64,
}

impl DueQueue {
    /// An empty queue with room for `streams` entries: pushing no more than
    /// that many at once never allocates.
    pub fn with_capacity(streams: usize) -> DueQueue {
        DueQueue {
            heap: BinaryHeap::with_capacity(streams),
            pushes: 0,
        }
    }

    /// Queues stream `index` to fall due at `due_ns`.
    #[inline]
    pub fn push(&mut self, index: u32, due_ns: u64) {
        self.heap.push(Reverse((due_ns, self.pushes, index)));
        self.pushes += 1;
    }

    /// Takes the earliest stream due at or before `now_ns`: its index and
    /// the time it fell due. `None` when none is due yet.
    #[inline]
    pub fn pop_due(&mut self, now_ns: u64) -> Option<(u32, u64)> {
        let Reverse((due_ns, _, _)) = self.heap.peek()?;
        if *due_ns > now_ns {
            return None;
        }
        self.heap
            .pop()
            .map(|Reverse((due_ns, _, index))| (index, due_ns))
    }

    /// When the earliest queued stream falls due.
    #[inline]
    pub fn next_due_ns(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((due_ns, _, _))| *due_ns)
    }

    /// Streams queued.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no stream is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// How late stream `index` of `count` streams starts so that their frames
/// are spread over the period of `rate`: `index / count` of one period
/// (0 for rate max, a zero rate, or a single stream).
pub fn phase_offset_ns(rate: Rate, index: usize, count: usize) -> u64 {
    let Rate::FramesPerSecond { millipps } = rate else {
        return 0;
    };
    if millipps == 0 || count <= 1 {
        return 0;
    }
    // One period is 1e12 / millipps ns; offset = period * index / count.
    let offset = 1_000_000_000_000u128 * index as u128 / (u128::from(millipps) * count as u128);
    u64::try_from(offset).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_only_what_is_due_earliest_first_ties_in_push_order() {
        let mut queue = DueQueue::with_capacity(4);
        queue.push(0, 300);
        queue.push(1, 100);
        queue.push(2, 200);
        queue.push(3, 100);
        assert_eq!(queue.next_due_ns(), Some(100));
        assert_eq!(queue.pop_due(50), None, "nothing due yet");
        assert_eq!(queue.pop_due(200), Some((1, 100)));
        assert_eq!(
            queue.pop_due(200),
            Some((3, 100)),
            "same time: queued later"
        );
        assert_eq!(queue.pop_due(200), Some((2, 200)));
        assert_eq!(queue.pop_due(200), None);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.pop_due(u64::MAX), Some((0, 300)));
        assert!(queue.is_empty());
        assert_eq!(queue.next_due_ns(), None);
    }

    #[test]
    fn offsets_spread_streams_over_one_period() {
        let rate = Rate::FramesPerSecond { millipps: 10_000 }; // 10 fps: 100 ms
        let offsets: Vec<u64> = (0..4)
            .map(|index| phase_offset_ns(rate, index, 4))
            .collect();
        assert_eq!(offsets, vec![0, 25_000_000, 50_000_000, 75_000_000]);
        assert_eq!(phase_offset_ns(rate, 0, 1), 0);
        assert_eq!(phase_offset_ns(Rate::Max, 3, 4), 0);
        assert_eq!(
            phase_offset_ns(Rate::FramesPerSecond { millipps: 0 }, 3, 4),
            0
        );
        // 100,000 streams at 1 fps: the last starts just under a second late.
        let one = Rate::FramesPerSecond { millipps: 1000 };
        assert_eq!(phase_offset_ns(one, 99_999, 100_000), 999_990_000);
    }
}
