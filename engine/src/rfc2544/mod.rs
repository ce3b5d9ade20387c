//! The RFC 2544 benchmark suite on a port pair: throughput (26.1, binary
//! search per frame size, NDR or PDR), latency at the throughput (26.2),
//! frame loss rate from 100 % down in 10 % steps (26.3) and back-to-back
//! bursts (26.4). The search logic is pure ([`search`]); each trial is a
//! session driven by the one run loop ([`trial`]); this module runs the
//! tests in order, keeps every trial, and builds the report (serde: the
//! `--json` document, schema in docs/rfc2544.schema.json).

pub mod search;
pub mod trial;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::line_rate::port_line_bps;
use crate::outcome::RunReport;
use crate::run::{RunError, RunOptions};
use crate::scenario::{
    Plan, Rate, Rfc2544Plan, SuiteRate, SuiteTest, FCS_BYTES, L1_OVERHEAD_BYTES,
};
use search::{back_to_back_search, frame_loss_steps, throughput_search, Verdict};
use trial::{learning_plan, run_plan, trial_plan, verdict, TrialLoad};

/// Why the suite cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The scenario has no `[rfc2544]` table.
    #[error("{file}: no [rfc2544] table; add one (see docs/rfc2544.md), e.g. [rfc2544] trial_duration = \"10s\"")]
    NoTable {
        /// The scenario file.
        file: String,
    },
    /// A trial could not run.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A stream's line: its port's link speed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamLine {
    /// The stream (one direction).
    pub stream: String,
    /// Its sending port.
    pub port: String,
    /// The port's link speed, Mbit/s.
    pub line_mbps: f64,
}

/// Latency of one stream in one trial, ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrialLatency {
    /// Frames measured.
    pub count: u64,
    /// Smallest.
    pub min_ns: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Largest.
    pub max_ns: u64,
    /// RFC 3550 interarrival jitter.
    pub jitter_ns: f64,
}

/// One stream's counts in a trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialStream {
    /// The stream.
    pub stream: String,
    /// Offered rate, frames/s.
    pub offered_fps: f64,
    /// Frames sent.
    pub sent: u64,
    /// Frames received.
    pub received: u64,
    /// Frames lost.
    pub lost: u64,
    /// Lost, percent of sent.
    pub loss_percent: f64,
    /// Rate the sender achieved, frames/s.
    pub tx_fps: f64,
    /// Latency, when frames carried one.
    pub latency: Option<TrialLatency>,
}

/// Every trial, as it was run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRecord {
    /// 1, 2, ... over the whole suite.
    pub number: u32,
    /// Which test it belongs to.
    pub test: SuiteTest,
    /// Frame size on the wire (with FCS).
    pub frame_size: usize,
    /// Load: fraction of max_rate (1 = max_rate).
    pub load: f64,
    /// Offered rate of the first stream, percent of its line (L1).
    pub offered_percent_line: f64,
    /// Burst length (back-to-back trials).
    pub burst_frames: Option<u64>,
    /// Pass, loss or generator limited.
    pub verdict: Verdict,
    /// Per stream.
    pub streams: Vec<TrialStream>,
    /// Wall time of the trial, seconds (learning frames and drain included).
    pub wall_seconds: f64,
}

/// Throughput at one frame size (RFC 2544 26.1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThroughputResult {
    /// Frame size on the wire.
    pub frame_size: usize,
    /// Highest passing load, fraction of max_rate; 0 when nothing passed.
    pub load: f64,
    /// Per stream (direction), frames/s.
    pub fps_per_stream: f64,
    /// All streams together, frames/s.
    pub fps_total: f64,
    /// All streams together at L1 (frame, FCS, preamble, gap), Mbit/s.
    pub mbps_l1: f64,
    /// All streams together at L2 (frame and FCS), Mbit/s.
    pub mbps_l2: f64,
    /// Per stream, percent of its line.
    pub percent_line: f64,
    /// Trials the search took.
    pub trials: u32,
    /// True when some trial failed because the sender could not reach the rate.
    pub generator_limited: bool,
}

/// Latency at the throughput, at one frame size (RFC 2544 26.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyResult {
    /// Frame size on the wire.
    pub frame_size: usize,
    /// The rate (the throughput found), frames/s per stream.
    pub fps_per_stream: f64,
    /// Over every trial and stream: min, means of mean/p50/p99/jitter, max.
    pub summary: Option<TrialLatency>,
    /// Each trial's (first stream's) latency.
    pub per_trial: Vec<TrialLatency>,
}

/// One offered load of the frame loss rate test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossPoint {
    /// Fraction of max_rate.
    pub load: f64,
    /// Offered, percent of line (first stream).
    pub offered_percent_line: f64,
    /// Offered, frames/s per stream.
    pub offered_fps: f64,
    /// Frames lost, percent of sent (all streams).
    pub loss_percent: f64,
    /// True when the sender did not reach the offered rate.
    pub generator_limited: bool,
}

/// Frame loss rate at one frame size (RFC 2544 26.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameLossResult {
    /// Frame size on the wire.
    pub frame_size: usize,
    /// Points from 100 % down.
    pub points: Vec<LossPoint>,
}

/// Back-to-back at one frame size (RFC 2544 26.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackToBackResult {
    /// Frame size on the wire.
    pub frame_size: usize,
    /// The burst rate per stream, frames/s (infinite: as fast as possible).
    pub rate_fps: Option<f64>,
    /// Longest whole burst of each repetition, frames (0: none arrived whole).
    pub bursts: Vec<u64>,
    /// Their mean.
    pub mean_frames: f64,
}

/// The settings the suite ran with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteSettings {
    /// Frame sizes on the wire.
    pub frame_sizes: Vec<usize>,
    /// Seconds per trial.
    pub trial_duration_s: f64,
    /// The tests.
    pub tests: Vec<SuiteTest>,
    /// Loss allowed per trial, percent (0: NDR).
    pub loss_tolerance_percent: f64,
    /// The search resolution as a fraction of max_rate (first stream, smallest size).
    pub resolution_load: f64,
    /// Trials per latency and back-to-back measurement.
    pub trials: u32,
    /// Longest drain after each trial, seconds.
    pub wait_after_trial_s: f64,
    /// Learning frames per stream before each trial.
    pub learning_frames: u64,
}

/// The whole suite's results (the `--json` document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteReport {
    /// The scenario file.
    pub source: String,
    /// What the suite ran with.
    pub settings: SuiteSettings,
    /// Each stream's line.
    pub streams: Vec<StreamLine>,
    /// 26.1, per frame size done.
    pub throughput: Vec<ThroughputResult>,
    /// 26.2, per frame size done.
    pub latency: Vec<LatencyResult>,
    /// 26.3, per frame size done.
    pub frame_loss: Vec<FrameLossResult>,
    /// 26.4, per frame size done.
    pub back_to_back: Vec<BackToBackResult>,
    /// Every trial, in order.
    pub trials: Vec<TrialRecord>,
    /// True when Ctrl-C stopped the suite: the results are those completed.
    pub interrupted: bool,
}

/// A trial about to start, for progress lines.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialStart {
    /// Its number (from 1).
    pub number: u32,
    /// The test.
    pub test: SuiteTest,
    /// Frame size on the wire.
    pub frame_size: usize,
    /// Offered percent of line (first stream).
    pub offered_percent_line: f64,
    /// Offered frames/s per stream (first stream; infinite for max).
    pub offered_fps: f64,
    /// Burst length (back-to-back).
    pub burst_frames: Option<u64>,
    /// Trials the suite will take at most from here, this one included.
    pub trials_left_estimate: u32,
}

/// Hears of the suite's progress.
pub trait SuiteObserver {
    /// A trial is about to start.
    fn trial_starting(&mut self, start: &TrialStart);
    /// A trial has finished.
    fn trial_done(&mut self, record: &TrialRecord);
}

/// What the suite knows about its streams.
struct Line {
    /// Per stream: its port's link speed, bits/s.
    line_bps: Vec<f64>,
    /// Per stream: how many streams share its port.
    sharing: Vec<usize>,
}

/// The suite in progress.
struct Suite<'a> {
    plan: &'a Plan,
    settings: &'a Rfc2544Plan,
    options: RunOptions,
    stop: &'a AtomicBool,
    observer: &'a mut dyn SuiteObserver,
    line: Line,
    report: SuiteReport,
    trials_left_estimate: u32,
    error: Option<RunError>,
}

/// Runs the suite `plan`'s `[rfc2544]` table describes, every stream a
/// direction. `stop` (Ctrl-C) abandons the trial in progress: the report
/// then holds what completed and says it was interrupted.
pub fn run_suite(
    plan: &Plan,
    options: RunOptions,
    stop: &AtomicBool,
    observer: &mut dyn SuiteObserver,
) -> Result<SuiteReport, SuiteError> {
    let settings = plan.rfc2544.as_ref().ok_or_else(|| SuiteError::NoTable {
        file: plan.source.clone(),
    })?;
    let line_bps = plan
        .streams
        .iter()
        .map(|stream| port_line_bps(&plan.ports[stream.tx_port]))
        .collect::<Result<Vec<_>, _>>()?;
    let sharing = plan
        .streams
        .iter()
        .map(|stream| {
            plan.streams
                .iter()
                .filter(|other| other.tx_port == stream.tx_port)
                .count()
        })
        .collect();
    let line = Line { line_bps, sharing };
    let resolution_load = resolution_load(settings, &line, settings.frame_sizes[0]);
    let report = SuiteReport {
        source: plan.source.clone(),
        settings: SuiteSettings {
            frame_sizes: settings.frame_sizes.clone(),
            trial_duration_s: settings.trial_duration.as_secs_f64(),
            tests: settings.tests.clone(),
            loss_tolerance_percent: settings.loss_tolerance_percent,
            resolution_load,
            trials: settings.trials,
            wait_after_trial_s: settings.wait_after_trial.as_secs_f64(),
            learning_frames: settings.learning_frames,
        },
        streams: plan
            .streams
            .iter()
            .zip(&line.line_bps)
            .map(|(stream, bps)| StreamLine {
                stream: stream.name.clone(),
                port: plan.ports[stream.tx_port].name.clone(),
                line_mbps: bps / 1e6,
            })
            .collect(),
        throughput: Vec::new(),
        latency: Vec::new(),
        frame_loss: Vec::new(),
        back_to_back: Vec::new(),
        trials: Vec::new(),
        interrupted: false,
    };
    let mut suite = Suite {
        plan,
        settings,
        options,
        stop,
        observer,
        trials_left_estimate: 0,
        line,
        report,
        error: None,
    };
    suite.trials_left_estimate = suite.estimate_trials();
    for &size in &settings.frame_sizes {
        if !suite.run_size(size) {
            break;
        }
    }
    if let Some(error) = suite.error {
        return Err(error.into());
    }
    Ok(suite.report)
}

/// The resolution as a fraction of max_rate at `wire_size`.
fn resolution_load(settings: &Rfc2544Plan, line: &Line, wire_size: usize) -> f64 {
    let max = max_fps(settings, line, 0, wire_size);
    match settings.resolution {
        SuiteRate::LinePercent(percent) => percent / 100.0,
        rate => rate.frames_per_second(line.line_bps[0], wire_size) / max,
    }
}

/// Stream `index`'s rate at load 1 and `wire_size`: max_rate, a share of
/// the line split among the port's streams, capped at the line.
fn max_fps(settings: &Rfc2544Plan, line: &Line, index: usize, wire_size: usize) -> f64 {
    let line_fps = SuiteRate::LinePercent(100.0).frames_per_second(line.line_bps[index], wire_size)
        / line.sharing[index] as f64;
    let asked = match settings.max_rate {
        SuiteRate::FramesPerSecond(fps) => fps,
        rate => {
            rate.frames_per_second(line.line_bps[index], wire_size) / line.sharing[index] as f64
        }
    };
    asked.min(line_fps)
}

fn l1_bits(wire_size: usize) -> f64 {
    ((wire_size - FCS_BYTES + L1_OVERHEAD_BYTES) * 8) as f64
}

fn trial_latency(report: &RunReport, index: usize) -> Option<TrialLatency> {
    report
        .streams
        .get(index)?
        .latency
        .map(|summary| TrialLatency {
            count: summary.count,
            min_ns: summary.min_ns,
            mean_ns: summary.mean_ns,
            p50_ns: summary.p50_ns,
            p99_ns: summary.p99_ns,
            max_ns: summary.max_ns,
            jitter_ns: summary.jitter_ns,
        })
}

/// Each stream's counts in a trial's report, offered `rates`.
fn trial_streams(report: &RunReport, rates: &[Rate]) -> Vec<TrialStream> {
    report
        .streams
        .iter()
        .enumerate()
        .map(|(index, stream)| TrialStream {
            stream: stream.name.clone(),
            offered_fps: rates[index].frames_per_second(),
            sent: stream.counts.frames_sent,
            received: stream.counts.rx.frames,
            lost: stream.frames_lost(),
            loss_percent: stream.loss_percent(),
            tx_fps: stream.tx_fps,
            latency: trial_latency(report, index),
        })
        .collect()
}

/// Min of mins, max of maxes, count-weighted means of the rest.
fn combine_latency(all: &[TrialLatency]) -> Option<TrialLatency> {
    let count: u64 = all.iter().map(|latency| latency.count).sum();
    if count == 0 {
        return None;
    }
    let mean = |value: &dyn Fn(&TrialLatency) -> f64| {
        all.iter()
            .map(|latency| value(latency) * latency.count as f64)
            .sum::<f64>()
            / count as f64
    };
    Some(TrialLatency {
        count,
        min_ns: all.iter().map(|latency| latency.min_ns).min().unwrap_or(0),
        mean_ns: mean(&|latency| latency.mean_ns),
        p50_ns: mean(&|latency| latency.p50_ns as f64).round() as u64,
        p99_ns: mean(&|latency| latency.p99_ns as f64).round() as u64,
        max_ns: all.iter().map(|latency| latency.max_ns).max().unwrap_or(0),
        jitter_ns: mean(&|latency| latency.jitter_ns),
    })
}

impl Suite<'_> {
    fn wants(&self, test: SuiteTest) -> bool {
        self.settings.tests.contains(&test)
    }

    fn back_to_back_max(&self, wire_size: usize) -> u64 {
        self.settings.back_to_back_max_frames.unwrap_or_else(|| {
            (max_fps(self.settings, &self.line, 0, wire_size)
                * self.settings.trial_duration.as_secs_f64())
            .ceil()
            .max(1.0) as u64
        })
    }

    /// At most how many trials the whole suite takes.
    fn estimate_trials(&self) -> u32 {
        let settings = self.settings;
        settings
            .frame_sizes
            .iter()
            .map(|&size| {
                let mut trials = 0;
                if self.wants(SuiteTest::Throughput) || self.wants(SuiteTest::Latency) {
                    trials += search::throughput_trials_estimate(resolution_load(
                        settings, &self.line, size,
                    ));
                }
                if self.wants(SuiteTest::Latency) {
                    trials += settings.trials;
                }
                if self.wants(SuiteTest::FrameLoss) {
                    trials += search::FRAME_LOSS_STEPS.len() as u32;
                }
                if self.wants(SuiteTest::BackToBack) {
                    trials += settings.trials
                        * search::back_to_back_trials_estimate(self.back_to_back_max(size));
                }
                trials
            })
            .sum()
    }

    /// Every test at one frame size; false once interrupted or failed.
    fn run_size(&mut self, size: usize) -> bool {
        let mut throughput_load = None;
        if self.wants(SuiteTest::Throughput) || self.wants(SuiteTest::Latency) {
            let Some(load) = self.throughput(size) else {
                return false;
            };
            throughput_load = Some(load);
        }
        if self.wants(SuiteTest::Latency) && !self.latency(size, throughput_load.unwrap_or(0.0)) {
            return false;
        }
        if self.wants(SuiteTest::FrameLoss) && !self.frame_loss(size) {
            return false;
        }
        if self.wants(SuiteTest::BackToBack) && !self.back_to_back(size) {
            return false;
        }
        true
    }

    fn rates(&self, size: usize, load: f64) -> Vec<Rate> {
        (0..self.plan.streams.len())
            .map(|index| Rate::FramesPerSecond {
                // Rounded down: a full line's rate never asks for more than the line.
                millipps: (max_fps(self.settings, &self.line, index, size) * load * 1000.0).floor()
                    as u64,
            })
            .collect()
    }

    /// Runs one trial; `None` when interrupted or a run failed (kept in
    /// `self.error`).
    fn trial(
        &mut self,
        test: SuiteTest,
        size: usize,
        load: f64,
        trial_load: TrialLoad,
        as_fast_as_possible: bool,
    ) -> Option<(TrialRecord, RunReport)> {
        if self.stop.load(Ordering::Relaxed) {
            self.report.interrupted = true;
            return None;
        }
        let rates = if as_fast_as_possible {
            vec![Rate::Max; self.plan.streams.len()]
        } else {
            self.rates(size, load)
        };
        let offered_fps = rates[0].frames_per_second();
        let offered_percent_line =
            max_fps(self.settings, &self.line, 0, size) * load * l1_bits(size) * 100.0
                / self.line.line_bps[0];
        let number = self.report.trials.len() as u32 + 1;
        let burst_frames = match trial_load {
            TrialLoad::Burst(frames) => Some(frames),
            TrialLoad::Continuous => None,
        };
        self.observer.trial_starting(&TrialStart {
            number,
            test,
            frame_size: size,
            offered_percent_line,
            offered_fps,
            burst_frames,
            trials_left_estimate: self.trials_left_estimate.max(1),
        });
        self.trials_left_estimate = self.trials_left_estimate.saturating_sub(1);
        let started = Instant::now();
        let plan = trial_plan(self.plan, self.settings, size, &rates, trial_load);
        if self.settings.learning_frames > 0 {
            let learning = learning_plan(&plan, self.settings.learning_frames);
            self.session(&learning)?;
        }
        let report = self.session(&plan)?;
        let verdict = verdict(
            &report,
            &plan,
            self.settings.loss_tolerance_percent,
            trial_load,
        );
        let streams = trial_streams(&report, &rates);
        let record = TrialRecord {
            number,
            test,
            frame_size: size,
            load,
            offered_percent_line,
            burst_frames,
            verdict,
            streams,
            wall_seconds: started.elapsed().as_secs_f64(),
        };
        self.observer.trial_done(&record);
        self.report.trials.push(record.clone());
        Some((record, report))
    }

    /// Runs one session of the suite; `None` when interrupted (marked in
    /// the report) or when it failed (the error kept for the caller).
    fn session(&mut self, plan: &Plan) -> Option<RunReport> {
        match run_plan(plan, self.options, self.stop) {
            Ok(Some(report)) => Some(report),
            Ok(None) => {
                self.report.interrupted = true;
                None
            }
            Err(error) => {
                self.error = Some(error);
                None
            }
        }
    }

    /// 26.1 at `size`; the load found (0 when nothing passed), `None` when interrupted.
    fn throughput(&mut self, size: usize) -> Option<f64> {
        let resolution = resolution_load(self.settings, &self.line, size);
        let first = self.report.trials.len();
        let end = throughput_search(resolution, &mut |load| {
            self.trial(
                SuiteTest::Throughput,
                size,
                load,
                TrialLoad::Continuous,
                false,
            )
            .map(|(record, _)| record.verdict)
        });
        if !end.complete {
            return None;
        }
        let load = end.found.unwrap_or(0.0);
        let trials = &self.report.trials[first..];
        let fps: Vec<f64> = (0..self.plan.streams.len())
            .map(|index| max_fps(self.settings, &self.line, index, size) * load)
            .collect();
        let fps_total: f64 = fps.iter().sum();
        self.report.throughput.push(ThroughputResult {
            frame_size: size,
            load,
            fps_per_stream: fps[0],
            fps_total,
            mbps_l1: fps_total * l1_bits(size) / 1e6,
            mbps_l2: fps_total * (size * 8) as f64 / 1e6,
            percent_line: fps[0] * l1_bits(size) * 100.0 / self.line.line_bps[0],
            trials: trials.len() as u32,
            generator_limited: trials
                .iter()
                .any(|trial| trial.verdict == Verdict::GeneratorLimited),
        });
        Some(load)
    }

    /// 26.2 at `size`, at the throughput's load; false when interrupted.
    fn latency(&mut self, size: usize, load: f64) -> bool {
        let mut per_trial = Vec::new();
        let mut all = Vec::new();
        if load > 0.0 {
            for _ in 0..self.settings.trials {
                let Some((_, report)) =
                    self.trial(SuiteTest::Latency, size, load, TrialLoad::Continuous, false)
                else {
                    return false;
                };
                if let Some(first) = trial_latency(&report, 0) {
                    per_trial.push(first);
                }
                all.extend(
                    (0..report.streams.len()).filter_map(|index| trial_latency(&report, index)),
                );
            }
        }
        self.report.latency.push(LatencyResult {
            frame_size: size,
            fps_per_stream: max_fps(self.settings, &self.line, 0, size) * load,
            summary: combine_latency(&all),
            per_trial,
        });
        true
    }

    /// 26.3 at `size`; false when interrupted.
    fn frame_loss(&mut self, size: usize) -> bool {
        let mut points = Vec::new();
        let (_, complete) = frame_loss_steps(&mut |load| {
            let (record, _) = self.trial(
                SuiteTest::FrameLoss,
                size,
                load,
                TrialLoad::Continuous,
                false,
            )?;
            let sent: u64 = record.streams.iter().map(|stream| stream.sent).sum();
            let lost: u64 = record.streams.iter().map(|stream| stream.lost).sum();
            let loss = if sent == 0 {
                0.0
            } else {
                lost as f64 * 100.0 / sent as f64
            };
            let generator_limited = record.verdict == Verdict::GeneratorLimited;
            points.push(LossPoint {
                load,
                offered_percent_line: record.offered_percent_line,
                offered_fps: record.streams[0].offered_fps,
                loss_percent: loss,
                generator_limited,
            });
            Some((loss, !generator_limited))
        });
        if complete {
            self.report.frame_loss.push(FrameLossResult {
                frame_size: size,
                points,
            });
        }
        complete
    }

    /// 26.4 at `size`, `trials` times; false when interrupted.
    fn back_to_back(&mut self, size: usize) -> bool {
        // At max_rate 100 % of the line, as fast as the sender goes.
        let flat_out = self.settings.max_rate == SuiteRate::LinePercent(100.0);
        let max_frames = self.back_to_back_max(size);
        let mut bursts = Vec::new();
        for _ in 0..self.settings.trials {
            let end = back_to_back_search(max_frames, &mut |frames| {
                let (record, _) = self.trial(
                    SuiteTest::BackToBack,
                    size,
                    1.0,
                    TrialLoad::Burst(frames),
                    flat_out,
                )?;
                Some(
                    record.verdict != Verdict::Loss
                        && record
                            .streams
                            .iter()
                            .all(|stream| stream.sent == frames && stream.received == frames),
                )
            });
            if !end.complete {
                return false;
            }
            bursts.push(end.found.unwrap_or(0));
        }
        let mean_frames = bursts.iter().sum::<u64>() as f64 / bursts.len().max(1) as f64;
        self.report.back_to_back.push(BackToBackResult {
            frame_size: size,
            rate_fps: (!flat_out).then(|| max_fps(self.settings, &self.line, 0, size)),
            bursts,
            mean_frames,
        });
        true
    }
}
