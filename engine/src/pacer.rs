//! Rate control for one stream: how many frames are due at a moment of the
//! monotonic clock, counted from the start so that no error accumulates,
//! and released in bounded bursts. The stream's [`Schedule`] (continuous,
//! one burst, or K bursts with a gap; a start delay; a stop time) is part of
//! the count: frames due at time t are a function of the mode, so totals are
//! exact and the sender's loop does not change with the mode.

use std::time::Duration;

use crate::types::Rate;

/// Picoseconds-per-second scale of [`Rate::FramesPerSecond`]'s millipps:
/// frames in t ns at m millipps = t × m / 10^12.
const SCALE: u128 = 1_000_000_000_000;

/// Bursts of a stream: `count` bursts of `frames` frames each, the frames
/// of a burst at the stream's rate, `gap` of silence between bursts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bursts {
    /// How many bursts (1 for a single burst).
    pub count: u64,
    /// Frames in each burst.
    pub frames: u64,
    /// Idle time between the end of one burst and the start of the next,
    /// beyond one frame interval: with a gap of zero the bursts join into
    /// one continuous stream.
    pub gap: Duration,
}

/// When a stream sends: its mode, start delay and stop time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Time after the run's start before the stream's first frame.
    pub start_delay: Duration,
    /// The stream stops this long after its own start (after the delay).
    pub stop_after: Option<Duration>,
    /// `None`: continuous; otherwise bursts.
    pub bursts: Option<Bursts>,
}

impl Schedule {
    /// Sends continuously from the start, until the run stops.
    pub const CONTINUOUS: Schedule = Schedule {
        start_delay: Duration::ZERO,
        stop_after: None,
        bursts: None,
    };

    /// The most frames this schedule ever sends at `rate` (`u64::MAX` when
    /// only the run's own stop ends it).
    pub fn frames_limit(&self, rate: Rate) -> u64 {
        let by_bursts = self.bursts.map_or(u64::MAX, |bursts| {
            bursts.count.saturating_mul(bursts.frames)
        });
        let by_time = match (self.stop_after, rate) {
            (Some(stop), Rate::FramesPerSecond { .. }) => self.frames_due(rate, duration_ns(stop)),
            _ => u64::MAX,
        };
        by_bursts.min(by_time)
    }

    /// Frames a run stopping `run` after its start sends: the time after
    /// the start delay, up to the stop time (`u64::MAX` for rate max
    /// continuous: it stops on time).
    pub fn frames_in_run(&self, rate: Rate, run: Duration) -> u64 {
        let active = run.saturating_sub(self.start_delay);
        let active = self.stop_after.map_or(active, |stop| active.min(stop));
        self.frames_due(rate, duration_ns(active))
            .min(self.frames_limit(rate))
    }

    /// Frames due `elapsed_ns` after the stream's own start (after the
    /// delay), before any total. Continuous: frame k (from 1) at k/R.
    /// Bursts: burst j starts at j × (N/R + gap); its frame i (from 0) is
    /// due i/R after that.
    pub fn frames_due(&self, rate: Rate, elapsed_ns: u64) -> u64 {
        let Some(bursts) = self.bursts else {
            return rate.frames_in(Duration::from_nanos(elapsed_ns));
        };
        if bursts.count == 0 || bursts.frames == 0 {
            return 0;
        }
        let period = burst_period_ns(rate, bursts);
        let all = bursts.count.saturating_mul(bursts.frames);
        if period == 0 {
            // Rate max and no gap: every burst is due at once.
            return all;
        }
        let elapsed = u128::from(elapsed_ns);
        let burst = elapsed / period;
        if burst >= u128::from(bursts.count) {
            return all;
        }
        let in_burst = match rate {
            Rate::Max => bursts.frames,
            Rate::FramesPerSecond { .. } => rate
                .frames_in(Duration::from_nanos((elapsed % period) as u64))
                .saturating_add(1)
                .min(bursts.frames),
        };
        (burst as u64)
            .saturating_mul(bursts.frames)
            .saturating_add(in_burst)
    }

    /// When (ns after the stream's own start) frame `index` (from 0) falls
    /// due; `None` when the schedule never sends it.
    pub fn due_time_ns(&self, rate: Rate, index: u64) -> Option<u64> {
        let frame_time = |frames: u64| -> u128 {
            match rate {
                Rate::FramesPerSecond { millipps } if millipps > 0 => {
                    (u128::from(frames) * SCALE).div_ceil(u128::from(millipps))
                }
                _ => 0,
            }
        };
        let time = match self.bursts {
            None if rate.is_zero() => return None,
            None => frame_time(index + 1),
            Some(bursts) => {
                if bursts.frames == 0 || index >= bursts.count.saturating_mul(bursts.frames) {
                    return None;
                }
                let burst = index / bursts.frames;
                let within = index % bursts.frames;
                u128::from(burst) * burst_period_ns(rate, bursts) + frame_time(within)
            }
        };
        Some(u64::try_from(time).unwrap_or(u64::MAX))
    }
}

impl Schedule {
    /// Of the time from the run's start to `since_start_ns`, how much the
    /// stream spent sending: less the start delay and the gaps between
    /// bursts, plus one frame interval for a burst's last frame (frame i of
    /// a burst is due i/R after its start, so N frames on schedule take N/R
    /// of sending time, as in continuous mode). The achieved rate of a
    /// delayed or bursty stream is its frames over this.
    pub fn sending_time_ns(&self, rate: Rate, since_start_ns: u64) -> u64 {
        let since = since_start_ns.saturating_sub(duration_ns(self.start_delay));
        let Some(bursts) = self.bursts else {
            return since;
        };
        let period = burst_period_ns(rate, bursts);
        if period == 0 || bursts.count == 0 {
            return since;
        }
        let gaps = (u128::from(since) / period).min(u128::from(bursts.count - 1));
        let interval = match rate {
            Rate::FramesPerSecond { millipps } if millipps > 0 => SCALE / u128::from(millipps),
            _ => 0,
        };
        let sending = (u128::from(since) + interval).saturating_sub(gaps * bursts.gap.as_nanos());
        u64::try_from(sending).unwrap_or(u64::MAX)
    }
}

/// A burst's length plus its gap, in ns: N frames at the rate take N/R.
fn burst_period_ns(rate: Rate, bursts: Bursts) -> u128 {
    let length = match rate {
        Rate::FramesPerSecond { millipps } if millipps > 0 => {
            (u128::from(bursts.frames) * SCALE).div_ceil(u128::from(millipps))
        }
        _ => 0,
    };
    length + bursts.gap.as_nanos()
}

fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Paces one stream.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: Rate,
    schedule: Schedule,
    frames_total: u64,
    frames_released: u64,
    burst_limit: u32,
    /// The run's start.
    start_ns: u64,
    /// The schedule's origin: the stream's own start, moved on by a resume
    /// so that the schedule goes on from where it was.
    origin_ns: u64,
    /// When the stream stops (its stop time), if it has one.
    stop_ns: Option<u64>,
}

impl Pacer {
    /// A pacer that releases at most `frames_total` frames at `rate` on
    /// `schedule`, at most `burst_limit` at a time, counting from `start_ns`.
    pub fn new(
        rate: Rate,
        schedule: Schedule,
        frames_total: u64,
        burst_limit: u32,
        start_ns: u64,
    ) -> Pacer {
        let mut pacer = Pacer {
            rate,
            schedule,
            frames_total: if rate.is_zero() {
                0
            } else {
                frames_total.min(schedule.frames_limit(rate))
            },
            frames_released: 0,
            burst_limit: burst_limit.max(1),
            start_ns,
            origin_ns: start_ns,
            stop_ns: None,
        };
        pacer.restart_at(start_ns);
        pacer
    }

    /// Counts from `start_ns` (the run's start) with nothing released yet.
    pub fn restart_at(&mut self, start_ns: u64) {
        self.start_ns = start_ns;
        self.origin_ns = start_ns.saturating_add(duration_ns(self.schedule.start_delay));
        self.stop_ns = self
            .schedule
            .stop_after
            .map(|stop| self.origin_ns.saturating_add(duration_ns(stop)));
        self.frames_released = 0;
    }

    /// Counts the schedule again from `now_ns`, keeping what was released:
    /// a stream resumed after a pause goes on at its rate (and in its burst
    /// pattern) from where it was, without a burst for the time it was
    /// paused.
    pub fn resume_at(&mut self, now_ns: u64) {
        let reached = match self.frames_released {
            0 => 0,
            released => self
                .schedule
                .due_time_ns(self.rate, released - 1)
                .unwrap_or(0),
        };
        self.origin_ns = now_ns.saturating_sub(reached);
    }

    /// Frames that may go at `now_ns`: those due by then and not yet
    /// released, at most the burst limit. A stream past its stop time at
    /// rate max is finished here.
    #[inline]
    pub fn due(&mut self, now_ns: u64) -> u32 {
        if now_ns < self.origin_ns {
            return 0;
        }
        if self.rate == Rate::Max && self.stop_ns.is_some_and(|stop| now_ns >= stop) {
            self.finish();
            return 0;
        }
        let target = self
            .schedule
            .frames_due(self.rate, now_ns - self.origin_ns)
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
        let offset = self.schedule.due_time_ns(self.rate, self.frames_released)?;
        let due = self.origin_ns.saturating_add(offset);
        match self.stop_ns {
            // A rate-max stream's stop time is a moment to look again.
            Some(stop) if self.rate == Rate::Max => Some(due.min(stop)),
            _ => Some(due),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn pps(frames_per_second: u64) -> Rate {
        Rate::FramesPerSecond {
            millipps: frames_per_second * 1000,
        }
    }

    fn continuous(rate: Rate, total: u64, burst_limit: u32, start: u64) -> Pacer {
        Pacer::new(rate, Schedule::CONTINUOUS, total, burst_limit, start)
    }

    fn bursts(count: u64, frames: u64, gap_ms: u64) -> Schedule {
        Schedule {
            bursts: Some(Bursts {
                count,
                frames,
                gap: Duration::from_millis(gap_ms),
            }),
            ..Schedule::CONTINUOUS
        }
    }

    /// Releases everything due every `step` ns from `from` to `to`,
    /// recording (time, frames) of each release.
    fn drain(pacer: &mut Pacer, from: u64, to: u64, step: u64) -> Vec<(u64, u32)> {
        let mut releases = Vec::new();
        let mut now = from;
        while now <= to {
            loop {
                let due = pacer.due(now);
                if due == 0 {
                    break;
                }
                pacer.released(due);
                releases.push((now, due));
            }
            now += step;
        }
        releases
    }

    #[test]
    fn releases_exactly_the_rate_over_time() {
        let mut pacer = continuous(pps(10_000), u64::MAX, u32::MAX, 5 * SECOND);
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
        let mut pacer = continuous(pps(1_000_000), 1000, 64, 0);
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
        let mut pacer = continuous(pps(1000), 10, 8, 100);
        let next = pacer.next_due_ns().expect("not done");
        assert_eq!(next, 100 + 1_000_000);
        assert_eq!(pacer.due(next - 1), 0);
        assert_eq!(pacer.due(next), 1);
        pacer.released(1);
        assert_eq!(pacer.next_due_ns(), Some(100 + 2_000_000));
    }

    #[test]
    fn max_rate_releases_a_burst_at_a_time_until_finished() {
        let mut pacer = continuous(Rate::Max, u64::MAX, 64, 0);
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
        let mut pacer = continuous(pps(1000), 100, 1000, 0);
        let due = pacer.due(10_000_000);
        pacer.released(due);
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
        let mut pacer = continuous(pps(0), 1000, 64, 0);
        assert!(pacer.is_done());
        assert_eq!(pacer.due(100 * SECOND), 0);
    }

    #[test]
    fn k_bursts_of_n_frames_with_gaps_have_exact_totals_and_timing() {
        // 3 bursts of 5 frames at 1000 fps (5 ms each), 10 ms gap: bursts
        // start at 0, 15 ms and 30 ms.
        let schedule = bursts(3, 5, 10);
        let mut pacer = Pacer::new(pps(1000), schedule, u64::MAX, 64, SECOND);
        assert_eq!(pacer.due(SECOND - 1), 0, "nothing before the start");
        let releases = drain(&mut pacer, SECOND, SECOND + 100 * MS, 100_000);
        assert_eq!(pacer.frames_released(), 15, "K x N exactly");
        assert!(pacer.is_done());
        let times: Vec<u64> = releases
            .iter()
            .flat_map(|(time, frames)| {
                std::iter::repeat_n((time - SECOND) / 100_000, *frames as usize)
            })
            .collect();
        // Frame i of burst j at j × 15 ms + i ms (in 0.1 ms polling steps).
        let expected: Vec<u64> = (0..3)
            .flat_map(|burst| (0..5).map(move |frame| burst * 150 + frame * 10))
            .collect();
        assert_eq!(times, expected);
        for index in 0..15 {
            let (burst, frame) = (index / 5, index % 5);
            assert_eq!(
                schedule.due_time_ns(pps(1000), index),
                Some(burst * 15 * MS + frame * MS)
            );
        }
        assert_eq!(schedule.due_time_ns(pps(1000), 15), None);
    }

    #[test]
    fn bursts_at_max_rate_go_at_once_then_wait_out_the_gap() {
        let mut pacer = Pacer::new(Rate::Max, bursts(4, 100, 10), u64::MAX, 64, 0);
        assert_eq!(pacer.due(0), 64, "bounded by the burst limit");
        pacer.released(64);
        assert_eq!(pacer.due(0), 36, "the rest of the first burst");
        pacer.released(36);
        assert_eq!(pacer.due(10 * MS - 1), 0, "the gap");
        assert_eq!(pacer.next_due_ns(), Some(10 * MS));
        let releases = drain(&mut pacer, 10 * MS, SECOND, MS);
        assert_eq!(pacer.frames_released(), 400);
        assert!(pacer.is_done());
        let starts: Vec<u64> = releases.iter().map(|(time, _)| *time).collect();
        assert_eq!(starts.first(), Some(&(10 * MS)));
        assert_eq!(starts.last(), Some(&(30 * MS)));
    }

    #[test]
    fn a_single_burst_of_n_sends_n() {
        let mut pacer = Pacer::new(pps(1_000_000), bursts(1, 1000, 0), u64::MAX, 64, 0);
        drain(&mut pacer, 0, SECOND, 10_000);
        assert_eq!(pacer.frames_released(), 1000);
        // A frames-count run smaller than the burst cuts it.
        let mut short = Pacer::new(pps(1_000_000), bursts(1, 1000, 0), 300, 64, 0);
        drain(&mut short, 0, SECOND, 10_000);
        assert_eq!(short.frames_released(), 300);
    }

    #[test]
    fn zero_gap_bursts_join_into_one_continuous_stream() {
        let joined = bursts(10, 7, 0);
        for index in 0..70 {
            assert_eq!(
                joined.due_time_ns(pps(1000), index).map(|t| t / MS),
                Some(index),
                "frame {index}"
            );
        }
    }

    #[test]
    fn a_start_delay_shifts_the_schedule_and_a_stop_time_ends_it() {
        let schedule = Schedule {
            start_delay: Duration::from_millis(200),
            stop_after: Some(Duration::from_millis(300)),
            bursts: None,
        };
        let mut pacer = Pacer::new(pps(1000), schedule, u64::MAX, 1000, 0);
        assert_eq!(pacer.due(200 * MS), 0);
        assert_eq!(pacer.next_due_ns(), Some(201 * MS));
        drain(&mut pacer, 0, 2 * SECOND, 100_000);
        assert_eq!(pacer.frames_released(), 300, "1000 fps for 300 ms");
        assert!(pacer.is_done());
        assert_eq!(schedule.frames_limit(pps(1000)), 300);
        // A 400 ms run: 200 ms of delay, then 200 ms of sending.
        assert_eq!(
            schedule.frames_in_run(pps(1000), Duration::from_millis(400)),
            200
        );
    }

    #[test]
    fn a_rate_max_stream_stops_at_its_stop_time() {
        let schedule = Schedule {
            stop_after: Some(Duration::from_millis(5)),
            ..Schedule::CONTINUOUS
        };
        let mut pacer = Pacer::new(Rate::Max, schedule, u64::MAX, 64, 0);
        assert_eq!(pacer.due(MS), 64);
        pacer.released(64);
        assert!(!pacer.is_done());
        assert_eq!(pacer.due(5 * MS), 0);
        assert!(pacer.is_done());
    }

    #[test]
    fn sending_time_leaves_out_the_delay_and_the_gaps() {
        let schedule = Schedule {
            start_delay: Duration::from_millis(100),
            ..bursts(3, 5, 10)
        };
        // The last of 15 frames at 1000 fps: burst 2 starts at 30 ms, its
        // frame 4 at 34 ms, after the 100 ms delay: 15 ms of sending.
        assert_eq!(schedule.sending_time_ns(pps(1000), 134 * MS), 15 * MS);
        let continuous = Schedule {
            start_delay: Duration::from_millis(100),
            ..Schedule::CONTINUOUS
        };
        assert_eq!(continuous.sending_time_ns(pps(1000), 150 * MS), 50 * MS);
    }

    #[test]
    fn a_paused_burst_stream_resumes_where_it_was_in_its_pattern() {
        let mut pacer = Pacer::new(pps(1000), bursts(2, 4, 10), u64::MAX, 64, 0);
        drain(&mut pacer, 0, 2 * MS, 100_000);
        assert_eq!(pacer.frames_released(), 3);
        pacer.resume_at(SECOND);
        assert_eq!(pacer.due(SECOND), 0);
        assert_eq!(
            pacer.next_due_ns(),
            Some(SECOND + MS),
            "the 4th frame, 1/R later"
        );
        drain(&mut pacer, SECOND, 2 * SECOND, 100_000);
        assert_eq!(pacer.frames_released(), 8, "the total stays exact");
    }
}
