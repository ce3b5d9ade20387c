//! Parsing of the human units scenarios use: durations ("500ms", "1h30m")
//! and frame rates ("100kpps").

use std::time::Duration;

/// Splits "1.5kpps" into (1.5, "kpps"); `None` when there is no number.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '_'))
        .map(|(index, _)| index)
        .unwrap_or(text.len());
    if end == 0 {
        return None;
    }
    let number: String = text[..end].chars().filter(|c| *c != '_').collect();
    let value = number.parse::<f64>().ok()?;
    Some((value, &text[end..]))
}

/// Parses a duration made of number+unit parts, e.g. "10s", "500ms",
/// "1h30m", "2.5s". Units: ns, us, ms, s, m, h, d.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = "expected a duration like \"10s\", \"500ms\", \"5m\" or \"1h30m\"";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let (value, after) =
            split_number(rest).ok_or_else(|| format!("invalid duration {text:?}: {expected}"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let unit = after[..unit_len].trim();
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" | "sec" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "" => return Err(format!("duration {text:?} has no unit: {expected}")),
            other => {
                return Err(format!(
                    "unknown duration unit {other:?} in {text:?}: {expected}"
                ))
            }
        };
        total_ns += value * scale;
        rest = after[unit_len..].trim_start();
    }
    if !total_ns.is_finite() || total_ns > u64::MAX as f64 {
        return Err(format!("duration {text:?} is too long"));
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// A rate as written: frames or bits per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateText {
    /// Thousandths of a frame per second.
    FramesMilli(u64),
    /// Bits per second.
    Bits(f64),
    /// As fast as possible.
    Max,
}

/// Parses a rate: frames ("100kpps", "1.5Mpps", "250pps", "0"), bits
/// ("1Gbps", "500Mbps", "10kbps") or "max". Prefixes are decimal.
pub fn parse_rate(text: &str) -> Result<RateText, String> {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("max") {
        return Ok(RateText::Max);
    }
    let unit = trimmed
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '_')
        .trim();
    if unit.to_ascii_lowercase().ends_with("bps") {
        let expected = "expected a bit rate like \"1Gbps\", \"500Mbps\" or \"10kbps\"";
        let (value, unit) =
            split_number(trimmed).ok_or_else(|| format!("invalid rate {text:?}: {expected}"))?;
        let scale = match unit.trim() {
            "bps" => 1.0,
            "kbps" | "Kbps" => 1e3,
            "Mbps" | "mbps" => 1e6,
            "Gbps" | "gbps" => 1e9,
            "Tbps" | "tbps" => 1e12,
            other => {
                return Err(format!(
                    "unknown bit-rate unit {other:?} in {text:?}: {expected}"
                ))
            }
        };
        let bits = value * scale;
        if !bits.is_finite() {
            return Err(format!("rate {text:?} is too large"));
        }
        return Ok(RateText::Bits(bits));
    }
    parse_frame_rate_milli(trimmed).map(RateText::FramesMilli)
}

/// Parses a frame rate into thousandths of a frame per second: "100kpps",
/// "1.5Mpps", "250pps", "0". The `k`, `M` and `G` prefixes are decimal.
pub fn parse_frame_rate_milli(text: &str) -> Result<u64, String> {
    let expected =
        "expected a rate like \"100kpps\", \"1.5Mpps\", \"250pps\", \"1Gbps\" or \"max\"";
    let trimmed = text.trim();
    let (value, unit) =
        split_number(trimmed).ok_or_else(|| format!("invalid rate {text:?}: {expected}"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "pps" => 1.0,
        "kpps" => 1e3,
        "mpps" => 1e6,
        "gpps" => 1e9,
        other => {
            return Err(format!(
                "unknown rate unit {other:?} in {text:?}: {expected}"
            ))
        }
    };
    let millipps = value * scale * 1000.0;
    if !millipps.is_finite() || millipps > u64::MAX as f64 {
        return Err(format!("rate {text:?} is too large"));
    }
    Ok(millipps.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        for bad in ["", "10", "ten s", "5 parsecs", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_frame_rate_milli("100kpps"), Ok(100_000_000));
        assert_eq!(parse_frame_rate_milli("1.5Mpps"), Ok(1_500_000_000));
        assert_eq!(parse_frame_rate_milli("250pps"), Ok(250_000));
        assert_eq!(parse_frame_rate_milli("0"), Ok(0));
        assert_eq!(parse_frame_rate_milli("1_000"), Ok(1_000_000));
        for bad in ["", "fast", "10 furlongs", "1Gbps"] {
            assert!(
                parse_frame_rate_milli(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }
}
