//! Rates given as a percentage of the sending port's link speed,
//! `rate = "50%"` (at L1: frame, FCS, preamble and gap). The scenario only
//! records the percentage; the session turns it into frames/s from the
//! link speed it reads when the run is prepared.

use super::raw::{NumberOrText, RawStream};
use super::{ScenarioError, Validator};

impl Validator<'_> {
    /// The percentage when `rate` is written as "N%", else `None`.
    pub(super) fn line_percent(
        &self,
        stream: &RawStream,
        field: &dyn Fn(&str) -> String,
    ) -> Result<Option<f64>, ScenarioError> {
        let NumberOrText::Text(text) = stream.rate.get_ref() else {
            return Ok(None);
        };
        let Some(number) = text.trim().strip_suffix('%') else {
            return Ok(None);
        };
        let span = stream.rate.span();
        let percent: f64 = number.trim().parse().map_err(|_| {
            self.error(
                span.clone(),
                &field("rate"),
                format!(
                    "invalid percentage {text:?}: expected a rate like \"50%\" of the link speed"
                ),
            )
        })?;
        if !(percent > 0.0 && percent <= 100.0) {
            return Err(self.error(
                span,
                &field("rate"),
                format!("{text:?} is not a share of the link: give more than 0% and at most 100%"),
            ));
        }
        if let Some(layer) = &stream.rate_layer {
            if !layer.get_ref().eq_ignore_ascii_case("l1") {
                return Err(self.error(
                    layer.span(),
                    &field("rate_layer"),
                    "a rate in % of the link speed is at L1 (the link speed is an L1 rate); leave rate_layer out",
                ));
            }
        }
        Ok(Some(percent))
    }
}
