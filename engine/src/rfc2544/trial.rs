//! One trial of the suite on the real session: the scenario's plan with
//! every stream at the trial's frame size, rate and mode (continuous for a
//! trial duration, or one burst), learning frames first when asked for,
//! then [`crate::session::drive`] — the one run loop — and the trial's
//! verdict from the report.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::frame::SizeRule;
use crate::outcome::RunReport;
use crate::run::{IntervalReport, RunError, RunObserver, RunOptions, RunSetup};
use crate::scenario::{
    Bursts, PassCriteria, Plan, Rate, Rfc2544Plan, Schedule, StopCondition, FCS_BYTES,
};
use crate::session::{drive, Session};

use super::search::Verdict;

/// The sender reached the offered rate when it sent at least this share of it.
pub const GENERATOR_REACHED: f64 = 0.99;

/// What a trial sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrialLoad {
    /// Every stream at its rate (frames/s) for the trial duration.
    Continuous,
    /// Every stream sends one burst of this many frames at its rate.
    Burst(u64),
}

/// The plan one trial runs: `base` with every stream at `wire_size`
/// bytes, `rates[i]`, and `load`; the drain is the suite's wait. A
/// continuous trial's streams stop after the trial duration (their stop
/// time: exactly rate × duration frames each), and the run's own end comes
/// [`late_allowance`] later, so that a sender a busy machine held up still
/// sends every frame (and shows as generator limited if it fell behind by
/// more than 1 %) instead of being cut off.
pub fn trial_plan(
    base: &Plan,
    suite: &Rfc2544Plan,
    wire_size: usize,
    rates: &[Rate],
    load: TrialLoad,
) -> Plan {
    let mut plan = base.clone();
    plan.rfc2544 = None;
    plan.run.drain = suite.wait_after_trial;
    plan.run.report_interval = suite.trial_duration.max(Duration::from_millis(100));
    plan.run.stop = match load {
        TrialLoad::Continuous => {
            StopCondition::Duration(suite.trial_duration + late_allowance(suite.trial_duration))
        }
        TrialLoad::Burst(frames) => StopCondition::FramesPerStream(frames),
    };
    plan.pass = PassCriteria {
        max_loss_frames: None,
        max_loss_percent: Some(suite.loss_tolerance_percent),
        min_rate_percent: None,
        ..PassCriteria::default()
    };
    for (stream, rate) in plan.streams.iter_mut().zip(rates) {
        stream.frame.size = SizeRule::Fixed(wire_size - FCS_BYTES);
        stream.rate = *rate;
        stream.line_percent = None;
        stream.fault = None;
        stream.schedule = match load {
            TrialLoad::Continuous => Schedule {
                stop_after: Some(suite.trial_duration),
                ..Schedule::CONTINUOUS
            },
            TrialLoad::Burst(frames) => Schedule {
                bursts: Some(Bursts {
                    count: 1,
                    frames,
                    gap: Duration::ZERO,
                }),
                ..Schedule::CONTINUOUS
            },
        };
    }
    plan
}

/// How long after a trial's duration its run still lets a late sender
/// finish: half the trial, at least 100 ms and at most 2 s.
pub fn late_allowance(trial: Duration) -> Duration {
    (trial / 2).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// The learning frames' plan: `frames` per stream at the trial's rates
/// (at most 10 kpps), so that switches and routers learn the addresses
/// before the trial (RFC 2544 section 23). Not counted in the trial.
pub fn learning_plan(trial: &Plan, frames: u64) -> Plan {
    let mut plan = trial.clone();
    plan.run.stop = StopCondition::FramesPerStream(frames);
    plan.run.drain = Duration::from_millis(200);
    for stream in &mut plan.streams {
        stream.schedule = Schedule::CONTINUOUS;
        let learning = Rate::FramesPerSecond {
            millipps: 10_000_000,
        };
        if stream.rate.frames_per_second() > learning.frames_per_second() {
            stream.rate = learning;
        }
    }
    plan
}

/// An observer that keeps nothing: the suite reports per trial, not per interval.
struct Quiet;

impl RunObserver for Quiet {
    fn setup_done(&mut self, _setup: &RunSetup) {}
    fn interval(&mut self, _report: &IntervalReport) {}
}

/// Runs `plan` on a session; `None` when `stop` interrupted it. (The
/// previous trial's AF_XDP sockets on the same queues are released by the
/// kernel shortly after they close: the sender's bind waits for that.)
pub fn run_plan(
    plan: &Plan,
    options: RunOptions,
    stop: &AtomicBool,
) -> Result<Option<RunReport>, RunError> {
    let session = Session::prepare(plan, options)?;
    let report = drive(session, stop, &mut Quiet)?;
    Ok((!report.interrupted).then_some(report))
}

/// The trial's verdict: a loss above the tolerance is a loss; otherwise a
/// sender that sent fewer than [`GENERATOR_REACHED`] of the trial's frames
/// (the run's deadline cut it short), or sent them slower than that share
/// of the offered rate, is generator limited.
pub fn verdict(
    report: &RunReport,
    plan: &Plan,
    tolerance_percent: f64,
    load: TrialLoad,
) -> Verdict {
    let lossy = report.streams.iter().any(|stream| {
        let lost = stream.frames_lost();
        if tolerance_percent == 0.0 {
            lost > 0
        } else {
            stream.loss_percent() > tolerance_percent
        }
    });
    if lossy {
        return Verdict::Loss;
    }
    let limited = report
        .streams
        .iter()
        .zip(&plan.streams)
        .any(|(result, stream)| {
            let expected = stream.frames_to_send(plan.run.stop);
            let short = (result.counts.frames_sent as f64) < expected as f64 * GENERATOR_REACHED;
            let slow = load == TrialLoad::Continuous
                && result.target_fps.is_finite()
                && result.tx_fps < result.target_fps * GENERATOR_REACHED;
            short || slow
        });
    if limited {
        Verdict::GeneratorLimited
    } else {
        Verdict::Pass
    }
}
