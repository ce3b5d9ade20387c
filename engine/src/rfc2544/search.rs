//! The suite's search logic, pure: which rate or burst length to try next
//! given what the trials so far said. A trial is a function the caller
//! passes (the lab's session in the suite, a fake in the tests); `None`
//! from it means the suite was interrupted, and the search returns what it
//! had.

/// What a trial at one rate said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every stream lost at most the tolerance and the sender reached the rate.
    Pass,
    /// A stream lost more than the tolerance.
    Loss,
    /// The sender did not reach the offered rate: not a pass at this rate.
    GeneratorLimited,
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchEnd<T> {
    /// The best value found (`None`: nothing passed).
    pub found: Option<T>,
    /// False when the suite was interrupted during the search.
    pub complete: bool,
}

/// RFC 2544 26.1: binary search on the load, a fraction of max_rate in
/// (0, 1]. The first trial is at 1 (a pass ends the search); then the
/// midpoint of the highest pass (0 at first) and the lowest failure, until
/// they are closer than `resolution`. Returns the highest passing load.
pub fn throughput_search(
    resolution: f64,
    trial: &mut dyn FnMut(f64) -> Option<Verdict>,
) -> SearchEnd<f64> {
    let resolution = resolution.clamp(1e-6, 1.0);
    let (mut passed, mut failed) = (0.0_f64, 1.0_f64);
    let mut found = None;
    let mut load = 1.0;
    loop {
        match trial(load) {
            None => {
                return SearchEnd {
                    found,
                    complete: false,
                }
            }
            Some(Verdict::Pass) => {
                passed = load;
                found = Some(load);
                if load >= 1.0 {
                    break;
                }
            }
            Some(_) => failed = load,
        }
        if failed - passed < resolution {
            break;
        }
        load = (passed + failed) / 2.0;
    }
    SearchEnd {
        found,
        complete: true,
    }
}

/// The loads RFC 2544 26.3 tries: 100 %, 90 %, ... 10 % of max_rate.
pub const FRAME_LOSS_STEPS: [f64; 10] = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];

/// RFC 2544 26.3: trials from 100 % down in 10 % steps until two
/// successive trials lose nothing; `trial` returns the frames lost, percent,
/// and whether the sender reached the load (a trial it did not reach says
/// nothing about the path, so it is not one of the two). Returns the (load,
/// loss %) points in the order tried.
pub fn frame_loss_steps(
    trial: &mut dyn FnMut(f64) -> Option<(f64, bool)>,
) -> (Vec<(f64, f64)>, bool) {
    let mut points = Vec::new();
    let mut lossless_in_a_row = 0;
    for load in FRAME_LOSS_STEPS {
        let Some((loss, reached)) = trial(load) else {
            return (points, false);
        };
        points.push((load, loss));
        lossless_in_a_row = if loss == 0.0 && reached {
            lossless_in_a_row + 1
        } else {
            0
        };
        if lossless_in_a_row == 2 {
            break;
        }
    }
    (points, true)
}

/// RFC 2544 26.4: the longest burst (1 to `max_frames`) that arrives
/// whole, by binary search on the length: the first trial is `max_frames`
/// (a pass ends the search). `trial` says whether a burst arrived whole.
pub fn back_to_back_search(
    max_frames: u64,
    trial: &mut dyn FnMut(u64) -> Option<bool>,
) -> SearchEnd<u64> {
    let max_frames = max_frames.max(1);
    let (mut whole, mut broken) = (0_u64, max_frames + 1);
    let mut frames = max_frames;
    loop {
        match trial(frames) {
            None => {
                return SearchEnd {
                    found: (whole > 0).then_some(whole),
                    complete: false,
                }
            }
            Some(true) => whole = frames,
            Some(false) => broken = frames,
        }
        if broken - whole <= 1 {
            break;
        }
        frames = whole + (broken - whole) / 2;
    }
    SearchEnd {
        found: (whole > 0).then_some(whole),
        complete: true,
    }
}

/// Trials a throughput search takes at most at `resolution`.
pub fn throughput_trials_estimate(resolution: f64) -> u32 {
    (1.0 / resolution.clamp(1e-6, 1.0)).log2().ceil() as u32 + 1
}

/// Trials a back-to-back search takes at most up to `max_frames`.
pub fn back_to_back_trials_estimate(max_frames: u64) -> u32 {
    (max_frames.max(1) as f64).log2().ceil() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path that forwards up to `capacity` (a load) and a sender that
    /// reaches up to `generator`; records the loads tried.
    fn fake_path(
        capacity: f64,
        generator: f64,
        tried: &mut Vec<f64>,
    ) -> impl FnMut(f64) -> Option<Verdict> + '_ {
        move |load| {
            tried.push(load);
            Some(if load > generator {
                Verdict::GeneratorLimited
            } else if load > capacity {
                Verdict::Loss
            } else {
                Verdict::Pass
            })
        }
    }

    #[test]
    fn throughput_is_found_within_the_resolution() {
        for capacity in [0.013, 0.25, 0.5, 0.6667, 0.999] {
            let mut tried = Vec::new();
            let end = throughput_search(0.01, &mut fake_path(capacity, 1.0, &mut tried));
            let found = end.found.expect("something passes");
            assert!(end.complete);
            assert!(
                found <= capacity && capacity - found < 0.01,
                "{capacity}: {found}"
            );
            assert!(
                tried.len() as u32 <= throughput_trials_estimate(0.01),
                "{tried:?}"
            );
            assert_eq!(tried[0], 1.0, "the first trial is at max_rate");
        }
    }

    #[test]
    fn a_path_that_forwards_everything_passes_at_max_rate_in_one_trial() {
        let mut tried = Vec::new();
        let end = throughput_search(0.01, &mut fake_path(1.0, 1.0, &mut tried));
        assert_eq!(end.found, Some(1.0));
        assert_eq!(tried, [1.0]);
    }

    #[test]
    fn a_generator_limit_is_not_a_pass() {
        let mut tried = Vec::new();
        let end = throughput_search(0.01, &mut fake_path(1.0, 0.3, &mut tried));
        let found = end.found.expect("passes below the generator limit");
        assert!(found <= 0.3 && 0.3 - found < 0.01, "{found}");
    }

    #[test]
    fn nothing_passing_finds_nothing_and_ends() {
        let mut tried = Vec::new();
        let end = throughput_search(0.01, &mut fake_path(0.0, 1.0, &mut tried));
        assert_eq!(end.found, None);
        assert!(end.complete && tried.len() <= 8);
    }

    #[test]
    fn an_interrupt_ends_the_search_with_what_was_found() {
        let mut calls = 0;
        let end = throughput_search(0.001, &mut |load| {
            calls += 1;
            match calls {
                1 => Some(Verdict::Loss),
                2 => Some(Verdict::Pass),
                _ => None,
            }
            .inspect(|_| assert!(load > 0.0))
        });
        assert_eq!(end.found, Some(0.5));
        assert!(!end.complete);
    }

    #[test]
    fn frame_loss_steps_down_until_two_lossless_trials() {
        // A path forwarding 55 % of max_rate.
        let (points, complete) = frame_loss_steps(&mut |load: f64| {
            Some((((load - 0.55) / load * 100.0).max(0.0), true))
        });
        assert!(complete);
        let loads: Vec<f64> = points.iter().map(|(load, _)| *load).collect();
        assert_eq!(loads, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]);
        assert!((points[0].1 - 45.0).abs() < 1e-9);
        // A lossless first trial still needs a second.
        let (points, _) = frame_loss_steps(&mut |_| Some((0.0, true)));
        assert_eq!(points.len(), 2);
        // Loss at every step: all ten.
        let (points, _) = frame_loss_steps(&mut |_| Some((1.0, true)));
        assert_eq!(points.len(), 10);
        // A sender that cannot reach 100 % and 90 %: those lose nothing but
        // do not count.
        let (points, _) = frame_loss_steps(&mut |load: f64| Some((0.0, load < 0.85)));
        let loads: Vec<f64> = points.iter().map(|(load, _)| *load).collect();
        assert_eq!(loads, [1.0, 0.9, 0.8, 0.7]);
    }

    #[test]
    fn back_to_back_finds_the_longest_whole_burst_exactly() {
        for (capacity, max) in [
            (37_u64, 1000_u64),
            (1, 50),
            (999, 1000),
            (1000, 1000),
            (0, 64),
        ] {
            let mut tried = Vec::new();
            let end = back_to_back_search(max, &mut |frames| {
                tried.push(frames);
                Some(frames <= capacity)
            });
            assert_eq!(
                end.found,
                (capacity > 0).then_some(capacity.min(max)),
                "{capacity}"
            );
            assert!(
                tried.len() as u32 <= back_to_back_trials_estimate(max) + 1,
                "{tried:?}"
            );
        }
    }
}
