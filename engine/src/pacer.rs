//! Rate control for one stream: how many frames are due at a moment of the
//! monotonic clock, counted from the start so that no error accumulates,
//! and released in bounded bursts.

use std::time::Duration;

use crate::types::Rate;

/// Paces one stream.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: Rate,
    frames_total: u64,
    frames_released: u64,
    burst_limit: u32,
    start_ns: u64,
    /// Frames released before `start_ns` (a stream resumed after a pause
    /// counts its schedule from the resume).
    released_before_start: u64,
}

impl Pacer {
    /// A pacer that releases `frames_total` frames at `rate`, at most
    /// `burst_limit` at a time, counting from `start_ns`.
    pub fn new(rate: Rate, frames_total: u64, burst_limit: u32, start_ns: u64) -> Pacer {
        Pacer {
            rate,
            frames_total: if rate.is_zero() { 0 } else { frames_total },
            frames_released: 0,
            burst_limit: burst_limit.max(1),
            start_ns,
            released_before_start: 0,
        }
    }

    /// Counts from `start_ns` with nothing released yet.
    pub fn restart_at(&mut self, start_ns: u64) {
        self.start_ns = start_ns;
        self.frames_released = 0;
        self.released_before_start = 0;
    }

    /// Counts the schedule again from `now_ns`, keeping what was released:
    /// a stream resumed after a pause goes on at its rate, without a burst
    /// for the time it was paused.
    pub fn resume_at(&mut self, now_ns: u64) {
        self.start_ns = now_ns;
        self.released_before_start = self.frames_released;
    }

    /// Frames that may go at `now_ns`: those due by then and not yet
    /// released, at most the burst limit.
    #[inline]
    pub fn due(&self, now_ns: u64) -> u32 {
        let elapsed = Duration::from_nanos(now_ns.saturating_sub(self.start_ns));
        let target = self
            .released_before_start
            .saturating_add(self.rate.frames_in(elapsed))
            .min(self.frames_total);
        let owed = target.saturating_sub(self.frames_released);
        owed.min(u64::from(self.burst_limit)) as u32
    }

    /// Ends the stream now: nothing more falls due.
    pub fn finish(&mut self) {
        self.frames_total = self.frames_released;
    }

    /// Records that `frames` were released.
    #[inline]
    pub fn released(&mut self, frames: u32) {
        self.frames_released += u64::from(frames);
    }

    /// Frames released so far.
    pub fn frames_released(&self) -> u64 {
        self.frames_released
    }

    /// True once every frame has been released.
    pub fn is_done(&self) -> bool {
        self.frames_released >= self.frames_total
    }

    /// When the next frame falls due, or `None` once done.
    pub fn next_due_ns(&self) -> Option<u64> {
        if self.is_done() {
            return None;
        }
        let Rate::FramesPerSecond { millipps } = self.rate else {
            return Some(self.start_ns);
        };
        // The smallest t with floor(t * millipps / 1e12) >= released + 1.
        let since_start = self.frames_released - self.released_before_start;
        let needed = u128::from(since_start + 1) * 1_000_000_000_000;
        let offset = needed.div_ceil(u128::from(millipps));
        Some(
            self.start_ns
                .saturating_add(u64::try_from(offset).unwrap_or(u64::MAX)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn pps(frames_per_second: u64) -> Rate {
        Rate::FramesPerSecond {
            millipps: frames_per_second * 1000,
        }
    }

    #[test]
    fn releases_exactly_the_rate_over_time() {
        let mut pacer = Pacer::new(pps(10_000), u64::MAX, u32::MAX, 5 * SECOND);
        assert_eq!(pacer.due(5 * SECOND), 0);
        let mut now = 5 * SECOND;
        while now <= 6 * SECOND {
            let due = pacer.due(now);
            pacer.released(due);
            now += 37_000; // an uneven polling period
        }
        let expected = Rate::frames_in(
            &pps(10_000),
            Duration::from_nanos(now - 37_000 - 5 * SECOND),
        );
        assert_eq!(pacer.frames_released(), expected);
        assert!((9_990..=10_000).contains(&pacer.frames_released()));
    }

    #[test]
    fn bursts_are_bounded_and_the_total_is_exact() {
        let mut pacer = Pacer::new(pps(1_000_000), 1000, 64, 0);
        assert_eq!(pacer.due(SECOND), 64, "far behind: one burst at a time");
        while !pacer.is_done() {
            let due = pacer.due(SECOND);
            assert!(due > 0);
            pacer.released(due);
        }
        assert_eq!(pacer.frames_released(), 1000);
        assert_eq!(pacer.due(2 * SECOND), 0);
        assert_eq!(pacer.next_due_ns(), None);
    }

    #[test]
    fn next_due_is_when_the_next_frame_falls_due() {
        let mut pacer = Pacer::new(pps(1000), 10, 8, 100);
        let next = pacer.next_due_ns().expect("not done");
        assert_eq!(next, 100 + 1_000_000);
        assert_eq!(pacer.due(next - 1), 0);
        assert_eq!(pacer.due(next), 1);
        pacer.released(1);
        assert_eq!(pacer.next_due_ns(), Some(100 + 2_000_000));
    }

    #[test]
    fn max_rate_releases_a_burst_at_a_time_until_finished() {
        let mut pacer = Pacer::new(Rate::Max, u64::MAX, 64, 0);
        assert_eq!(pacer.due(0), 64);
        pacer.released(64);
        assert_eq!(pacer.due(1), 64);
        assert_eq!(pacer.next_due_ns(), Some(0));
        pacer.finish();
        assert!(pacer.is_done());
        assert_eq!(pacer.due(2), 0);
    }

    #[test]
    fn a_resumed_stream_goes_on_at_its_rate_without_a_burst() {
        let mut pacer = Pacer::new(pps(1000), 100, 1000, 0);
        pacer.released(pacer.due(10_000_000));
        assert_eq!(pacer.frames_released(), 10);
        // Paused for a second, then resumed: nothing is owed for the pause.
        pacer.resume_at(SECOND + 10_000_000);
        assert_eq!(pacer.due(SECOND + 10_000_000), 0);
        assert_eq!(pacer.next_due_ns(), Some(SECOND + 11_000_000));
        assert_eq!(pacer.due(SECOND + 15_000_000), 5);
        pacer.released(5);
        // The total stays exact.
        assert_eq!(pacer.due(100 * SECOND), 85);
    }

    #[test]
    fn zero_rate_sends_nothing() {
        let pacer = Pacer::new(pps(0), 1000, 64, 0);
        assert!(pacer.is_done());
        assert_eq!(pacer.due(100 * SECOND), 0);
    }
}
