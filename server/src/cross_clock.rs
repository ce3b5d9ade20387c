//! One-way latency across agents: whether a stream sent on one agent and
//! counted on another (both ends on CLOCK_TAI) gets its latency reported,
//! with the most the two hosts' clocks may disagree, or refused with a
//! one-line reason, from the clock state each agent reported
//! ([`ClockInfo`]); and that verdict applied to the report (the bound next
//! to the latency, or the latency nulled) and to a `[pass]` latency limit
//! (refused before traffic).

use std::collections::BTreeMap;

use linerate_engine::report::{IntervalSection, ReportDocument};
use linerate_engine::scenario::Plan;

use crate::agent::ClockInfo;
use crate::coordinator::CoordinatorError;

/// One-way latency of a stream sent on one agent and counted on another:
/// `Ok(bound)` when it is reported (the most the two clocks may disagree,
/// ns: 0 on one host), `Err(reason)` when it is refused.
pub type CrossAgentClock = Result<u64, String>;

/// Per cross-agent stream, by name.
pub type CrossAgentClocks = BTreeMap<String, CrossAgentClock>;

/// Per stream crossing agents (by name), whether its one-way latency can
/// be reported. Both ends stamp and read CLOCK_TAI; two agents with one
/// boot id read one kernel clock (bound 0); two synchronized agents with
/// known bounds disagree by at most the sum; anything else is refused.
pub fn cross_agent_clocks<'a>(
    plan: &'a Plan,
    agents: &[(&'a str, &'a ClockInfo)],
) -> CrossAgentClocks {
    let clock_of = |port: usize| {
        let name = plan.ports.get(port)?.agent.as_deref()?;
        agents.iter().find(|(agent, _)| *agent == name).copied()
    };
    let mut clocks = BTreeMap::new();
    for stream in plan
        .streams
        .iter()
        .filter(|stream| plan.crosses_agents(stream))
    {
        let (Some((tx_name, tx)), Some((rx_name, rx))) =
            (clock_of(stream.tx_port), clock_of(stream.rx_port))
        else {
            continue;
        };
        let verdict = clock_verdict(tx_name, tx, rx_name, rx);
        clocks.insert(stream.name.clone(), verdict);
    }
    clocks
}

/// Whether one-way latency from agent `tx_name` (clock `tx`) to agent
/// `rx_name` (clock `rx`) can be reported, and with what bound.
fn clock_verdict(tx_name: &str, tx: &ClockInfo, rx_name: &str, rx: &ClockInfo) -> CrossAgentClock {
    if tx.host_id.is_some() && tx.host_id == rx.host_id {
        Ok(0)
    } else if let Some((tx_offset, rx_offset)) = tx
        .tai_offset_s
        .zip(rx.tai_offset_s)
        .filter(|(tx_offset, rx_offset)| tx_offset != rx_offset)
    {
        Err(format!(
            "one-way latency from agent {tx_name:?} to agent {rx_name:?} is refused: their kernels' TAI offsets differ ({tx_offset} s and {rx_offset} s), so their CLOCK_TAI disagree by whole seconds; set it on both hosts (chrony's leapsectz right/UTC, or linuxptp) or on neither"
        ))
    } else if let (true, true, Some(tx_bound), Some(rx_bound)) = (
        tx.synchronized,
        rx.synchronized,
        tx.error_bound_ns,
        rx.error_bound_ns,
    ) {
        Ok(tx_bound.saturating_add(rx_bound))
    } else {
        Err(format!(
            "one-way latency from agent {tx_name:?} ({}) to agent {rx_name:?} ({}) is refused: their clocks are not known to agree; synchronize both hosts with chrony or PTP, or measure the round trip through a `reflect = true` port",
            describe_clock(tx),
            describe_clock(rx)
        ))
    }
}

/// "chrony, not synchronized", for messages.
fn describe_clock(clock: &ClockInfo) -> String {
    match (clock.source.as_str(), clock.synchronized) {
        ("none", _) => "no chrony or PTP".to_string(),
        (source, true) if clock.error_bound_ns.is_none() => {
            format!("{source}, synchronized but no error bound")
        }
        (source, true) => format!("{source}, synchronized"),
        (source, false) => format!("{source}, not synchronized"),
    }
}

/// A `[pass]` latency limit cannot be checked on a stream whose latency
/// is refused: one line before any traffic.
pub fn refuse_unmeasurable_latency_limits(
    plan: &Plan,
    clocks: &CrossAgentClocks,
) -> Result<(), CoordinatorError> {
    if plan.pass.max_latency.is_empty() {
        return Ok(());
    }
    match clocks
        .iter()
        .find_map(|(name, clock)| Some((name, clock.as_ref().err()?)))
    {
        Some((name, reason)) => Err(CoordinatorError::Scenario(format!(
            "{}: [pass] limits latency, which stream {name:?} cannot measure: {reason}",
            plan.source
        ))),
        None => Ok(()),
    }
}

/// Nulls the latency of every stream of `interval` whose latency is refused.
pub fn null_refused_latency(interval: &mut IntervalSection, clocks: &CrossAgentClocks) {
    for stream in &mut interval.streams {
        if let Some(Err(_)) = clocks.get(&stream.name) {
            stream.latency_ns = None;
        }
    }
}

/// Puts each cross-agent stream's clock verdict into the report: the
/// bound next to its latency, or its latency nulled with the reason.
pub fn apply_cross_agent_clocks(report: &mut ReportDocument, clocks: &CrossAgentClocks) {
    for interval in &mut report.intervals {
        null_refused_latency(interval, clocks);
    }
    for stream in &mut report.streams {
        match clocks.get(&stream.name) {
            Some(Ok(bound)) => stream.clock_error_bound_ns = Some(*bound),
            Some(Err(reason)) => {
                stream.latency_ns = None;
                stream.latency_histogram = None;
                stream.latency_refused = Some(reason.clone());
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(synchronized: bool, bound: Option<u64>, host: &str, tai_offset_s: i64) -> ClockInfo {
        ClockInfo {
            source: if synchronized { "chrony" } else { "none" }.to_string(),
            offset_ns: None,
            synchronized,
            error_bound_ns: bound,
            host_id: Some(host.to_string()),
            tai_offset_s: Some(tai_offset_s),
        }
    }

    #[test]
    fn cross_agent_latency_is_bounded_or_refused_by_the_clocks() {
        let synced_a = clock(true, Some(1_000), "a", 37);
        let synced_b = clock(true, Some(2_500), "b", 37);
        let unsynced_b = clock(false, None, "b", 37);
        // One kernel: no clock error, whatever the sync.
        assert_eq!(clock_verdict("one", &unsynced_b, "two", &unsynced_b), Ok(0));
        // Two synchronized hosts: the sum of their bounds.
        assert_eq!(clock_verdict("one", &synced_a, "two", &synced_b), Ok(3_500));
        // One unsynchronized: refused, naming both and what to do.
        let refused = clock_verdict("one", &synced_a, "two", &unsynced_b).expect_err("refused");
        assert!(
            refused.contains(
                "from agent \"one\" (chrony, synchronized) to agent \"two\" (no chrony or PTP)"
            ),
            "{refused}"
        );
        assert!(refused.contains("reflect = true"), "{refused}");
        // Synchronized without a bound: refused too.
        let no_bound = clock(true, None, "b", 37);
        assert!(clock_verdict("one", &synced_a, "two", &no_bound).is_err());
        // Both synchronized but their kernels' TAI offsets differ by 37 s.
        let untagged = clock(true, Some(2_500), "b", 0);
        let refused = clock_verdict("one", &synced_a, "two", &untagged).expect_err("refused");
        assert!(
            refused.contains("TAI offsets differ (37 s and 0 s)"),
            "{refused}"
        );
    }
}
