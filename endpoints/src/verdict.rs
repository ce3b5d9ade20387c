//! The endpoints' part of the verdict: each criterion not met becomes one
//! sentence naming the endpoint. Per kind: the rate reached as a percentage
//! of the target (TCP each direction, URL requests, File-IO writes), the
//! most errors, the most ping loss; every ping endpoint must have replies
//! and none be unreachable; TCP must deliver every byte sent; File-IO must
//! verify every file.

use serde::Serialize;

use crate::report::{EndpointsReport, ErrorCounts};

/// What the endpoints must reach to pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EndpointCriteria {
    /// Least rate, % of target, for TCP directions with a target.
    pub tcp_min_rate_percent: f64,
    /// Least request rate, % of `requests_per_ten`, for URL endpoints.
    pub url_min_rate_percent: f64,
    /// Least write rate, % of target, for File-IO endpoints.
    pub file_io_min_rate_percent: f64,
    /// Most errors any one endpoint may count.
    pub max_errors: u64,
    /// Most ping loss, percent of requests sent.
    pub max_ping_loss_percent: f64,
}

impl Default for EndpointCriteria {
    /// 90 % of every target (as LANforge's URL endpoints), no error, no
    /// ping loss.
    fn default() -> EndpointCriteria {
        EndpointCriteria {
            tcp_min_rate_percent: 90.0,
            url_min_rate_percent: 90.0,
            file_io_min_rate_percent: 90.0,
            max_errors: 0,
            max_ping_loss_percent: 0.0,
        }
    }
}

fn mbit(bps: f64) -> String {
    format!("{:.1} Mbit/s", bps / 1e6)
}

fn too_many_errors(
    kind: &str,
    name: &str,
    errors: &ErrorCounts,
    first: &Option<String>,
    criteria: &EndpointCriteria,
) -> Option<String> {
    (errors.total() > criteria.max_errors).then(|| {
        format!(
            "{kind} endpoint {name:?}: {} error(s) ({}), at most {} allowed{}",
            errors.total(),
            errors.describe(),
            criteria.max_errors,
            first
                .as_ref()
                .map(|first| format!("; first: {first}"))
                .unwrap_or_default()
        )
    })
}

/// Every criterion the endpoints missed, one sentence each.
pub fn failures(report: &EndpointsReport, criteria: &EndpointCriteria) -> Vec<String> {
    let mut failures = Vec::new();
    for tcp in &report.tcp {
        for (label, direction) in [("A to B", &tcp.a_to_b), ("B to A", &tcp.b_to_a)] {
            if let Some(target) = direction.target_bps.filter(|&target| target > 0) {
                let percent = direction.achieved_bps * 100.0 / target as f64;
                if percent < criteria.tcp_min_rate_percent {
                    failures.push(format!(
                        "tcp endpoint {:?}: {label} reached {} ({percent:.1} % of its {} target; at least {} % wanted)",
                        tcp.name,
                        mbit(direction.achieved_bps),
                        mbit(target as f64),
                        criteria.tcp_min_rate_percent
                    ));
                }
            }
            if direction.received_bytes != direction.sent_bytes {
                failures.push(format!(
                    "tcp endpoint {:?}: {label}: {} bytes sent but {} received",
                    tcp.name, direction.sent_bytes, direction.received_bytes
                ));
            }
        }
        failures.extend(too_many_errors(
            "tcp",
            &tcp.name,
            &tcp.errors,
            &tcp.first_error,
            criteria,
        ));
    }
    for url in &report.url {
        if let Some(expected) = url.expected_requests.filter(|&expected| expected >= 1.0) {
            let percent = url.completed as f64 * 100.0 / expected;
            if percent < criteria.url_min_rate_percent {
                failures.push(format!(
                    "url endpoint {:?}: {} request(s) completed of the {expected:.0} its target of {} per ten minutes asks for ({percent:.1} %; at least {} % wanted)",
                    url.name,
                    url.completed,
                    url.requests_per_ten.unwrap_or_default(),
                    criteria.url_min_rate_percent
                ));
            }
        }
        failures.extend(too_many_errors(
            "url",
            &url.name,
            &url.errors,
            &url.first_error,
            criteria,
        ));
    }
    for ping in &report.ping {
        let name = &ping.counts.name;
        if ping.counts.replies == 0 {
            failures.push(format!(
                "ping endpoint {name:?}: no results: none of {} request(s) to {} was answered",
                ping.counts.sent, ping.destination
            ));
        }
        if ping.counts.unreachable > 0 {
            failures.push(format!(
                "ping endpoint {name:?}: {} is unreachable ({} of {} request(s) came back unreachable)",
                ping.destination, ping.counts.unreachable, ping.counts.sent
            ));
        }
        if ping.loss_percent > criteria.max_ping_loss_percent {
            failures.push(format!(
                "ping endpoint {name:?}: {:.2} % loss to {} ({} of {} answered), at most {} % allowed",
                ping.loss_percent, ping.destination, ping.counts.replies, ping.counts.sent, criteria.max_ping_loss_percent
            ));
        }
        failures.extend(too_many_errors(
            "ping",
            name,
            &ping.counts.errors,
            &ping.first_error,
            criteria,
        ));
    }
    for file_io in &report.file_io {
        let name = &file_io.counts.name;
        let percent = file_io.write_bps * 100.0 / file_io.target_bps as f64;
        if percent < criteria.file_io_min_rate_percent {
            failures.push(format!(
                "file_io endpoint {name:?}: wrote at {} ({percent:.1} % of its {} target; at least {} % wanted)",
                mbit(file_io.write_bps),
                mbit(file_io.target_bps as f64),
                criteria.file_io_min_rate_percent
            ));
        }
        if file_io.counts.verify_failures > 0 {
            failures.push(format!(
                "file_io endpoint {name:?}: {} of {} file(s) read back differently from what was written",
                file_io.counts.verify_failures, file_io.counts.files_read
            ));
        }
        failures.extend(too_many_errors(
            "file_io",
            name,
            &file_io.counts.errors,
            &file_io.first_error,
            criteria,
        ));
    }
    failures
}
