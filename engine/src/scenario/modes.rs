//! A stream's sending schedule in the scenario: `mode` (continuous, one
//! burst, or K bursts of N frames with a gap), `start_delay` and
//! `stop_after`, validated into a [`Schedule`] for the pacer.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::RawStream;
use super::{units, ScenarioError, Validator};
use crate::pacer::{Bursts, Schedule};

/// `mode = "continuous"` or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawMode {
    /// "continuous".
    Name(String),
    /// `{ burst = N }` or `{ bursts = K, frames = N, gap = "10ms" }`.
    Table(RawModeTable),
}

/// The table form of `mode`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModeTable {
    /// A single burst of this many frames.
    pub burst: Option<i64>,
    /// How many bursts.
    pub bursts: Option<i64>,
    /// Frames in each burst (with `bursts`).
    pub frames: Option<i64>,
    /// Silence between bursts (with `bursts`), e.g. "10ms".
    pub gap: Option<String>,
}

const MODE_HELP: &str =
    "give mode = \"continuous\", { burst = 1000 } or { bursts = 10, frames = 100, gap = \"10ms\" }";

impl Validator<'_> {
    /// The stream's schedule from `mode`, `start_delay` and `stop_after`.
    pub(super) fn schedule(
        &self,
        stream: &RawStream,
        field: &dyn Fn(&str) -> String,
    ) -> Result<Schedule, ScenarioError> {
        let time = |value: &Option<Spanned<String>>,
                    key: &str|
         -> Result<Option<Duration>, ScenarioError> {
            value
                .as_ref()
                .map(|text| {
                    units::parse_duration(text.get_ref())
                        .map_err(|message| self.error(text.span(), &field(key), message))
                })
                .transpose()
        };
        let start_delay = time(&stream.start_delay, "start_delay")?.unwrap_or_default();
        let stop_after = time(&stream.stop_after, "stop_after")?;
        if let (Some(stop), Some(text)) = (stop_after, &stream.stop_after) {
            if stop.is_zero() {
                return Err(self.error(
                    text.span(),
                    &field("stop_after"),
                    "must be longer than zero",
                ));
            }
        }
        let bursts = match &stream.mode {
            None => None,
            Some(mode) => self.bursts(mode.get_ref(), mode.span(), &field("mode"))?,
        };
        Ok(Schedule {
            start_delay,
            stop_after,
            bursts,
        })
    }

    fn bursts(
        &self,
        mode: &RawMode,
        span: Range<usize>,
        key: &str,
    ) -> Result<Option<Bursts>, ScenarioError> {
        let error = |message: String| self.error(span.clone(), key, message);
        let table = match mode {
            RawMode::Name(name) if name == "continuous" => return Ok(None),
            RawMode::Name(name) => {
                return Err(error(format!("{name:?} is not a mode: {MODE_HELP}")))
            }
            RawMode::Table(table) => table,
        };
        let positive = |value: i64, what: &str| -> Result<u64, ScenarioError> {
            u64::try_from(value)
                .ok()
                .filter(|count| *count > 0)
                .ok_or_else(|| error(format!("{what} must be 1 or more, got {value}")))
        };
        match (table.burst, table.bursts, table.frames, &table.gap) {
            (Some(frames), None, None, None) => Ok(Some(Bursts {
                count: 1,
                frames: positive(frames, "burst")?,
                gap: Duration::ZERO,
            })),
            (None, Some(count), Some(frames), gap) => {
                let gap = match gap {
                    None => Duration::ZERO,
                    Some(text) => units::parse_duration(text)
                        .map_err(|message| error(format!("gap: {message}")))?,
                };
                Ok(Some(Bursts {
                    count: positive(count, "bursts")?,
                    frames: positive(frames, "frames")?,
                    gap,
                }))
            }
            (None, Some(_), None, _) => Err(error(
                "bursts = K needs frames = N (frames in each burst)".to_string(),
            )),
            _ => Err(error(format!(
                "{MODE_HELP}; burst and bursts do not go together"
            ))),
        }
    }
}
