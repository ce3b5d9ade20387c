//! The `[rfc2544]` table: the settings of the RFC 2544 benchmark suite
//! (`linerate bench rfc2544`), read from TOML and validated into an
//! [`Rfc2544Plan`]. Every stream of the scenario is one direction of the
//! suite's trials.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::NumberOrText;
use super::{
    units, ScenarioError, StreamPlan, Validator, FCS_BYTES, L1_OVERHEAD_BYTES, MAX_FRAME_SIZE,
};

/// RFC 2544's frame sizes for Ethernet, on the wire (with FCS).
pub const DEFAULT_FRAME_SIZES: [usize; 7] = [64, 128, 256, 512, 1024, 1280, 1518];
/// RFC 2544 section 24: trials of 60 seconds.
pub const DEFAULT_TRIAL_DURATION: Duration = Duration::from_secs(60);
/// RFC 2544 section 23: two seconds after a trial before counters are read.
pub const DEFAULT_WAIT_AFTER_TRIAL: Duration = Duration::from_secs(2);
/// RFC 2544 section 26.2: at least 20 latency trials.
pub const DEFAULT_TRIALS: u32 = 20;
/// The search stops when its bounds are closer than this share of max_rate.
pub const DEFAULT_RESOLUTION_PERCENT: f64 = 0.5;

/// `[rfc2544]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRfc2544 {
    /// Frame sizes on the wire (with FCS).
    pub frame_sizes: Option<Spanned<Vec<i64>>>,
    /// Length of one trial, e.g. "60s".
    pub trial_duration: Option<Spanned<String>>,
    /// Which tests: "throughput", "latency", "frame_loss", "back_to_back".
    pub tests: Option<Spanned<Vec<String>>>,
    /// Loss allowed in a passing trial, percent (0 = NDR).
    pub loss_tolerance: Option<Spanned<NumberOrText>>,
    /// When the search stops: "0.5%" (of max_rate) or a frame rate "1kpps".
    pub resolution: Option<Spanned<NumberOrText>>,
    /// The highest rate tried: "100%" of the line (default), a bit rate at L1, or a frame rate.
    pub max_rate: Option<Spanned<String>>,
    /// Trials per latency and back-to-back measurement.
    pub trials: Option<Spanned<i64>>,
    /// Longest wait for frames in flight after a trial (the drain).
    pub wait_after_trial: Option<Spanned<String>>,
    /// Frames sent before each trial so that switches learn the addresses.
    pub learning_frames: Option<Spanned<i64>>,
    /// The longest burst the back-to-back search tries.
    pub back_to_back_max_frames: Option<Spanned<i64>>,
}

/// One of the suite's tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteTest {
    /// RFC 2544 26.1.
    Throughput,
    /// RFC 2544 26.2 (needs the throughput).
    Latency,
    /// RFC 2544 26.3.
    FrameLoss,
    /// RFC 2544 26.4.
    BackToBack,
}

impl SuiteTest {
    /// The name in scenarios and reports.
    pub fn name(&self) -> &'static str {
        match self {
            SuiteTest::Throughput => "throughput",
            SuiteTest::Latency => "latency",
            SuiteTest::FrameLoss => "frame_loss",
            SuiteTest::BackToBack => "back_to_back",
        }
    }
}

/// A rate the suite turns into frames/s per frame size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SuiteRate {
    /// Percent of the sending port's link speed at L1.
    LinePercent(f64),
    /// Bits per second at L1.
    BitsPerSecond(f64),
    /// Frames per second, whatever the size.
    FramesPerSecond(f64),
}

impl SuiteRate {
    /// Frames/s at `wire_size` bytes (with FCS) on a link of `line_bps`.
    pub fn frames_per_second(&self, line_bps: f64, wire_size: usize) -> f64 {
        let l1_bits = ((wire_size - FCS_BYTES + L1_OVERHEAD_BYTES) * 8) as f64;
        match *self {
            SuiteRate::LinePercent(percent) => line_bps * percent / 100.0 / l1_bits,
            SuiteRate::BitsPerSecond(bits) => bits / l1_bits,
            SuiteRate::FramesPerSecond(fps) => fps,
        }
    }
}

/// The validated `[rfc2544]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Rfc2544Plan {
    /// Frame sizes on the wire (with FCS), in the order tested.
    pub frame_sizes: Vec<usize>,
    /// Length of one trial.
    pub trial_duration: Duration,
    /// The tests, in the order given.
    pub tests: Vec<SuiteTest>,
    /// Loss a passing trial may have, percent of frames sent (0: NDR).
    pub loss_tolerance_percent: f64,
    /// The search stops when its bounds are closer than this.
    pub resolution: SuiteRate,
    /// The highest rate tried.
    pub max_rate: SuiteRate,
    /// Trials per latency and back-to-back measurement.
    pub trials: u32,
    /// Longest wait for frames in flight after a trial.
    pub wait_after_trial: Duration,
    /// Frames per stream sent before each trial, not counted.
    pub learning_frames: u64,
    /// The longest burst back-to-back tries (default: a trial's length at max_rate).
    pub back_to_back_max_frames: Option<u64>,
}

impl Validator<'_> {
    /// `[rfc2544]`, checked against the streams it will drive.
    pub(super) fn rfc2544(
        &self,
        raw: &RawRfc2544,
        span: Range<usize>,
        streams: &[StreamPlan],
    ) -> Result<Rfc2544Plan, ScenarioError> {
        let key = |name: &str| format!("rfc2544.{name}");
        let frame_sizes = self.suite_frame_sizes(raw, streams)?;
        let trial_duration = self.suite_duration(
            &raw.trial_duration,
            "trial_duration",
            DEFAULT_TRIAL_DURATION,
        )?;
        if trial_duration < Duration::from_millis(10) {
            let span = raw.trial_duration.as_ref().map_or(span, Spanned::span);
            return Err(self.error(
                span,
                &key("trial_duration"),
                "must be at least 10ms (RFC 2544: 60s)",
            ));
        }
        let wait_after_trial = self.suite_duration(
            &raw.wait_after_trial,
            "wait_after_trial",
            DEFAULT_WAIT_AFTER_TRIAL,
        )?;
        let loss_tolerance_percent = match &raw.loss_tolerance {
            None => 0.0,
            Some(value) => self.suite_percent(value, &key("loss_tolerance"))?,
        };
        let resolution = match &raw.resolution {
            None => SuiteRate::LinePercent(DEFAULT_RESOLUTION_PERCENT),
            Some(value) => {
                self.suite_rate(value.get_ref(), value.span(), &key("resolution"), false)?
            }
        };
        let max_rate = match &raw.max_rate {
            None => SuiteRate::LinePercent(100.0),
            Some(text) => self.suite_rate(
                &NumberOrText::Text(text.get_ref().clone()),
                text.span(),
                &key("max_rate"),
                true,
            )?,
        };
        let trials = self
            .suite_count(&raw.trials, "trials", 1)?
            .map_or(DEFAULT_TRIALS, |trials| {
                trials.min(u64::from(u32::MAX)) as u32
            });
        Ok(Rfc2544Plan {
            frame_sizes,
            trial_duration,
            tests: self.suite_tests(raw)?,
            loss_tolerance_percent,
            resolution,
            max_rate,
            trials,
            wait_after_trial,
            learning_frames: self
                .suite_count(&raw.learning_frames, "learning_frames", 0)?
                .unwrap_or(0),
            back_to_back_max_frames: self.suite_count(
                &raw.back_to_back_max_frames,
                "back_to_back_max_frames",
                1,
            )?,
        })
    }

    /// `frame_sizes`: on the wire, each at least what every stream's
    /// headers need.
    fn suite_frame_sizes(
        &self,
        raw: &RawRfc2544,
        streams: &[StreamPlan],
    ) -> Result<Vec<usize>, ScenarioError> {
        let Some(sizes) = &raw.frame_sizes else {
            return Ok(DEFAULT_FRAME_SIZES.to_vec());
        };
        let key = "rfc2544.frame_sizes";
        if sizes.get_ref().is_empty() {
            return Err(self.error(
                sizes.span(),
                key,
                "give at least one frame size, e.g. [64, 512, 1518]",
            ));
        }
        let smallest = streams
            .iter()
            .map(|stream| stream.frame.min_frame_size() + FCS_BYTES)
            .max()
            .unwrap_or(64);
        let largest = MAX_FRAME_SIZE + FCS_BYTES;
        sizes
            .get_ref()
            .iter()
            .map(|&size| match usize::try_from(size) {
                Ok(size) if (smallest..=largest).contains(&size) => Ok(size),
                _ => Err(self.error(
                    sizes.span(),
                    key,
                    format!("{size} is out of range: sizes are on the wire (with FCS), {smallest} to {largest} bytes for these streams"),
                )),
            })
            .collect()
    }

    /// `tests`: names, each once, in the order given.
    fn suite_tests(&self, raw: &RawRfc2544) -> Result<Vec<SuiteTest>, ScenarioError> {
        let Some(names) = &raw.tests else {
            return Ok(vec![
                SuiteTest::Throughput,
                SuiteTest::Latency,
                SuiteTest::FrameLoss,
                SuiteTest::BackToBack,
            ]);
        };
        let mut tests = Vec::new();
        for name in names.get_ref() {
            let test = match name.as_str() {
                "throughput" => SuiteTest::Throughput,
                "latency" => SuiteTest::Latency,
                "frame_loss" => SuiteTest::FrameLoss,
                "back_to_back" => SuiteTest::BackToBack,
                other => return Err(self.error(
                    names.span(),
                    "rfc2544.tests",
                    format!("{other:?} is not a test: \"throughput\", \"latency\", \"frame_loss\" or \"back_to_back\""),
                )),
            };
            if !tests.contains(&test) {
                tests.push(test);
            }
        }
        if tests.is_empty() {
            return Err(self.error(names.span(), "rfc2544.tests", "name at least one test"));
        }
        Ok(tests)
    }

    /// A duration key of the table, or its default.
    fn suite_duration(
        &self,
        value: &Option<Spanned<String>>,
        name: &str,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        match value {
            None => Ok(default),
            Some(text) => units::parse_duration(text.get_ref())
                .map_err(|message| self.error(text.span(), &format!("rfc2544.{name}"), message)),
        }
    }

    /// A count key of the table, at least `least`.
    fn suite_count(
        &self,
        value: &Option<Spanned<i64>>,
        name: &str,
        least: u64,
    ) -> Result<Option<u64>, ScenarioError> {
        match value {
            None => Ok(None),
            Some(count) => match u64::try_from(*count.get_ref()) {
                Ok(count) if count >= least => Ok(Some(count)),
                _ => Err(self.error(
                    count.span(),
                    &format!("rfc2544.{name}"),
                    if least == 0 {
                        "must be zero or more"
                    } else {
                        "must be 1 or more"
                    },
                )),
            },
        }
    }

    /// A percentage given as a number (5) or text ("5%").
    fn suite_percent(
        &self,
        value: &Spanned<NumberOrText>,
        field: &str,
    ) -> Result<f64, ScenarioError> {
        let percent = match value.get_ref() {
            NumberOrText::Integer(number) => *number as f64,
            NumberOrText::Float(number) => *number,
            NumberOrText::Text(text) => text
                .trim()
                .trim_end_matches('%')
                .trim()
                .parse()
                .unwrap_or(f64::NAN),
        };
        if !(0.0..100.0).contains(&percent) {
            return Err(self.error(
                value.span(),
                field,
                "must be a percentage from 0 (no loss: NDR) to below 100, e.g. 0.1 or \"0.1%\"",
            ));
        }
        Ok(percent)
    }

    /// "N%" (of the line, or of max_rate for a resolution), a bit rate at
    /// L1 ("1Gbps", max_rate only) or a frame rate ("100kpps").
    fn suite_rate(
        &self,
        value: &NumberOrText,
        span: Range<usize>,
        field: &str,
        bits_allowed: bool,
    ) -> Result<SuiteRate, ScenarioError> {
        let error = |message: String| self.error(span.clone(), field, message);
        let expected = if bits_allowed {
            "give a share of the line like \"100%\", a bit rate at L1 like \"1Gbps\" or a frame rate like \"100kpps\""
        } else {
            "give a share of max_rate like \"0.5%\" or a frame rate like \"1kpps\""
        };
        let text = match value {
            NumberOrText::Text(text) => text.trim(),
            _ => return Err(error(expected.to_string())),
        };
        if let Some(number) = text.strip_suffix('%') {
            return match number.trim().parse::<f64>() {
                Ok(percent) if percent > 0.0 && percent <= 100.0 => {
                    Ok(SuiteRate::LinePercent(percent))
                }
                _ => Err(error(format!(
                    "{text:?}: {expected} (more than 0% and at most 100%)"
                ))),
            };
        }
        match units::parse_rate(text) {
            Ok(units::RateText::FramesMilli(millipps)) if millipps > 0 => {
                Ok(SuiteRate::FramesPerSecond(millipps as f64 / 1000.0))
            }
            Ok(units::RateText::Bits(bits)) if bits > 0.0 && bits_allowed => {
                Ok(SuiteRate::BitsPerSecond(bits))
            }
            _ => Err(error(format!("{text:?}: {expected}"))),
        }
    }
}
