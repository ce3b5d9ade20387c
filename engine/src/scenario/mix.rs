//! Weighted frame sizes in the scenario: `frame_size = { imix = "simple" }`
//! or `frame_size = { mix = [[64, 7], [594, 4], [1518, 1]] }`, sizes on the
//! wire (with the 4-byte FCS, as IMIX is always quoted), validated into a
//! [`SizeRule::Mix`].

use std::ops::Range;

use serde::Deserialize;

use super::{ScenarioError, Validator, FCS_BYTES, MAX_FRAME_SIZE};
use crate::frame::mix::{SizeMix, MAX_MIX_SIZES, MAX_MIX_WEIGHT, SIMPLE_IMIX};
use crate::frame::SizeRule;

/// `{ imix = "simple" }` or `{ mix = [[size, weight], ...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSizeMix {
    /// A named mix: "simple" (64:7, 594:4, 1518:1).
    pub imix: Option<String>,
    /// [size on the wire, weight] pairs.
    pub mix: Option<Vec<(i64, i64)>>,
}

impl Validator<'_> {
    /// The size rule for a mix given at `key` (only `frame_size` takes one).
    pub(super) fn size_mix(
        &self,
        raw: &RawSizeMix,
        span: Range<usize>,
        key: &str,
        minimum: usize,
    ) -> Result<SizeRule, ScenarioError> {
        let error = |message: String| self.error(span.clone(), key, message);
        if !key.ends_with("frame_size") {
            return Err(error(
                "a size mix goes in frame_size (sizes on the wire), not udp_payload".to_string(),
            ));
        }
        let entries: Vec<(usize, u32)> = match (&raw.imix, &raw.mix) {
            (Some(name), None) if name == "simple" => SIMPLE_IMIX.to_vec(),
            (Some(name), None) => {
                return Err(error(format!(
                    "{name:?} is not a named IMIX: \"simple\" (64:7, 594:4, 1518:1), or give mix = [[size, weight], ...]"
                )))
            }
            (None, Some(pairs)) => {
                if pairs.is_empty() || pairs.len() > MAX_MIX_SIZES {
                    return Err(error(format!(
                        "mix has 1 to {MAX_MIX_SIZES} [size, weight] pairs, this one has {}",
                        pairs.len()
                    )));
                }
                let mut entries = Vec::with_capacity(pairs.len());
                for &(wire_size, weight) in pairs {
                    let frame = wire_size - FCS_BYTES as i64;
                    if frame < minimum as i64 || frame > MAX_FRAME_SIZE as i64 {
                        return Err(error(format!(
                            "mix size {wire_size} is out of range: sizes are on the wire (with FCS), {} to {} bytes for these headers",
                            minimum + FCS_BYTES,
                            MAX_FRAME_SIZE + FCS_BYTES
                        )));
                    }
                    if !(1..=i64::from(MAX_MIX_WEIGHT)).contains(&weight) {
                        return Err(error(format!(
                            "mix weight {weight} (for size {wire_size}) must be 1 to {MAX_MIX_WEIGHT}"
                        )));
                    }
                    entries.push((frame as usize, weight as u32));
                }
                entries
            }
            _ => {
                return Err(error(
                    "give either imix = \"simple\" or mix = [[size, weight], ...]".to_string(),
                ))
            }
        };
        if entries.iter().any(|(size, _)| *size < minimum) {
            return Err(error(format!(
                "the mix has frames below {} bytes on the wire, the least these headers allow",
                minimum + FCS_BYTES
            )));
        }
        SizeMix::new(&entries)
            .map(SizeRule::Mix)
            .map_err(|mix_error| error(mix_error.to_string()))
    }
}
