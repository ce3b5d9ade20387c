//! A finished run's results: per stream and per worker, and the verdict
//! the scenario's `[pass]` criteria give.

use std::time::Duration;

use crate::run::{RunSetup, TxPortInfo};
use crate::scenario::PassCriteria;
use crate::stats::{latency_histogram, LatencySummary, StreamCounts};

/// A stream's final results.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    /// The stream id.
    pub id: u32,
    /// The stream's name.
    pub name: String,
    /// Final counters, after the drain.
    pub counts: StreamCounts,
    /// The configured rate in frames per second (infinite for max).
    pub target_fps: f64,
    /// Frames per second achieved by the sender, from the common start to
    /// this stream's last frame.
    pub tx_fps: f64,
    /// Frames per second received over the same time.
    pub rx_fps: f64,
    /// Latency over the whole run; `None` when no frame had a usable one.
    pub latency: Option<LatencySummary>,
    /// Frames the stream should have sent: rate x duration, or the frame
    /// count; `None` for rate max, which sends what it can in the time, and
    /// for a stream a controller stopped for a while.
    pub frames_planned: Option<u64>,
}

impl StreamResult {
    /// Frames sent and never received (exact: the run has drained).
    pub fn frames_lost(&self) -> u64 {
        self.counts.lost()
    }

    /// Lost frames as a percentage of those sent.
    pub fn loss_percent(&self) -> f64 {
        self.counts.loss_percent()
    }

    /// The achieved sending rate as a percentage of the target; `None` for
    /// streams without one (rate max, or zero).
    pub fn rate_percent(&self) -> Option<f64> {
        (self.target_fps.is_finite() && self.target_fps > 0.0)
            .then(|| self.tx_fps * 100.0 / self.target_fps)
    }
}

/// What one sending worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerResult {
    /// The worker as it was set up: port, queue, mode, core, streams.
    pub setup: TxPortInfo,
    /// Frames its streams placed on the TX ring.
    pub frames_sent: u64,
    /// Descriptors the kernel completed (one per frame, more for jumbo frames).
    pub completions: u64,
    /// Times frames were due but the ring or a pool had no room.
    pub ring_full_events: u64,
    /// Wakeups (sendto calls).
    pub wakeups: u64,
}

/// The results of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The scenario's source.
    pub source: String,
    /// What was set up.
    pub setup: RunSetup,
    /// Time from the start of sending to the last frame sent.
    pub send_duration: Duration,
    /// Per-stream results, in stream id order.
    pub streams: Vec<StreamResult>,
    /// Per-worker results, in the order of [`RunSetup::tx_ports`].
    pub workers: Vec<WorkerResult>,
    /// Frames with linerate's magic but a stream id this run does not have.
    pub frames_unknown_stream: u64,
    /// True when the user interrupted the run (Ctrl-C, SIGTERM) before
    /// every frame was sent: the verdict fails.
    pub interrupted: bool,
    /// True when a controller (the HTTP API, a suite) stopped the run
    /// before every frame was sent: a normal end, not a failure by itself.
    pub stopped_on_request: bool,
    /// The criteria the verdict applies.
    pub pass: PassCriteria,
    /// How many sequence numbers back the receive counter still recognises
    /// a duplicate.
    pub duplicate_window: u64,
    /// The endpoints' results (TCP, URL, ping, File-IO), when the run has any.
    pub endpoints: Option<linerate_endpoints::EndpointsReport>,
    /// When the first frame was produced, CLOCK_REALTIME ns since 1970
    /// (the multi-host start skew is measured from it); `None` when
    /// nothing was sent.
    pub first_frame_unix_ns: Option<u64>,
    /// The WiFi stations' state (association, BSSID, signal, bitrates,
    /// times), when the scenario has `[[station]]` tables.
    pub stations: Vec<crate::wifi::StationReport>,
}

impl RunReport {
    /// Every failed pass criterion, one sentence each, stream by stream.
    pub fn failures(&self) -> Vec<String> {
        let pass = &self.pass;
        let station_failures: Vec<String> = self
            .stations
            .iter()
            .filter_map(crate::wifi::StationReport::failure_sentence)
            .collect();
        if self.stations.iter().any(|station| !station.associated) {
            // Nothing was sent: the streams' shortfall says nothing more.
            let mut failures = station_failures;
            failures.push(
                "no stream was sent: every station must associate before the run starts"
                    .to_string(),
            );
            return failures;
        }
        let mut failures = station_failures;
        for stream in &self.streams {
            let name = &stream.name;
            let counts = &stream.counts;
            if let Some(planned) = stream
                .frames_planned
                .filter(|planned| counts.frames_sent < *planned)
            {
                if !self.interrupted && !self.stopped_on_request {
                    failures.push(format!(
                        "stream {name:?}: sent {} of the {planned} frames planned (the sender could not keep up: fewer streams or lower rates per queue, or more queues)",
                        counts.frames_sent
                    ));
                }
            }
            let lost = stream.frames_lost();
            if let Some(limit) = pass.max_loss_frames.filter(|limit| lost > *limit) {
                failures.push(format!(
                    "stream {name:?}: lost {lost} of {} frames (max_loss_frames = {limit})",
                    counts.unique_sent()
                ));
            }
            if let Some(limit) = pass
                .max_loss_percent
                .filter(|limit| stream.loss_percent() > *limit)
            {
                failures.push(format!(
                    "stream {name:?}: lost {:.4} % of frames (max_loss_percent = {limit})",
                    stream.loss_percent()
                ));
            }
            if let Some(limit) = pass.max_reorder.filter(|limit| counts.rx.late > *limit) {
                failures.push(format!(
                    "stream {name:?}: {} frames arrived out of order (max_reorder = {limit})",
                    counts.rx.late
                ));
            }
            if let Some(limit) = pass
                .max_duplicates
                .filter(|limit| counts.rx.duplicates > *limit)
            {
                failures.push(format!(
                    "stream {name:?}: {} duplicate frames (max_duplicates = {limit})",
                    counts.rx.duplicates
                ));
            }
            for limit in &pass.max_latency {
                let max_ns = limit.max.as_nanos() as u64;
                match &stream.latency {
                    None => failures.push(format!(
                        "stream {name:?}: no latency measured, so p{} cannot be checked against {:?}",
                        limit.percentile, limit.max
                    )),
                    Some(_) => {
                        let measured = stream_percentile(stream, limit.percentile);
                        if measured > max_ns {
                            failures.push(format!(
                                "stream {name:?}: latency p{} is {} (max {:?})",
                                limit.percentile,
                                format_ns(measured),
                                limit.max
                            ));
                        }
                    }
                }
            }
            if let (Some(limit), Some(percent)) = (pass.min_rate_percent, stream.rate_percent()) {
                if percent < limit && !self.interrupted {
                    failures.push(format!(
                        "stream {name:?}: sent at {:.0} frames/s, {percent:.1} % of the target {:.0} (min_rate_percent = {limit})",
                        stream.tx_fps, stream.target_fps
                    ));
                }
            }
        }
        if let Some(endpoints) = &self.endpoints {
            failures.extend(linerate_endpoints::failures(endpoints, &pass.endpoints));
        }
        if self.interrupted {
            failures.push("the run was interrupted before every frame was sent".to_string());
        }
        failures
    }

    /// True when no criterion failed.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }
}

/// The latency of `stream` at `percentile` over the whole run.
pub fn stream_percentile(stream: &StreamResult, percentile: f64) -> u64 {
    latency_histogram(&stream.counts).percentile(percentile)
}

/// A latency in ns as text with a fitting unit: "850 ns", "12.3 us", "4.56 ms".
pub fn format_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=9_999_999 => format!("{:.1} us", ns as f64 / 1e3),
        10_000_000..=9_999_999_999 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunSetup;

    fn report(sent: u64, planned: Option<u64>) -> RunReport {
        let mut counts = StreamCounts {
            frames_sent: sent,
            sequence_span: sent,
            ..StreamCounts::default()
        };
        counts.rx.frames = sent;
        counts.rx.next_expected = sent;
        RunReport {
            source: "test.toml".to_string(),
            setup: RunSetup {
                tx_ports: Vec::new(),
                rx_ports: Vec::new(),
                reflect_ports: Vec::new(),
                router_macs: Vec::new(),
            },
            send_duration: Duration::from_secs(3),
            streams: vec![StreamResult {
                id: 0,
                name: "flow7".to_string(),
                counts,
                target_fps: 10.0,
                tx_fps: 10.0,
                rx_fps: 10.0,
                latency: None,
                frames_planned: planned,
            }],
            workers: Vec::new(),
            frames_unknown_stream: 0,
            interrupted: false,
            stopped_on_request: false,
            pass: PassCriteria::default(),
            duplicate_window: 4096,
            endpoints: None,
            first_frame_unix_ns: None,
            stations: Vec::new(),
        }
    }

    #[test]
    fn a_stream_that_sent_fewer_frames_than_planned_fails_the_verdict() {
        assert!(report(30, Some(30)).passed());
        assert!(
            report(5, None).passed(),
            "nothing planned (rate max, or paused)"
        );
        let short = report(29, Some(30));
        assert_eq!(short.failures().len(), 1, "{:?}", short.failures());
        assert!(
            short.failures()[0].starts_with("stream \"flow7\": sent 29 of the 30 frames planned"),
            "{:?}",
            short.failures()
        );
        let mut stopped = report(29, Some(30));
        stopped.stopped_on_request = true;
        assert!(stopped.passed(), "a controller stopped the run early");
    }
}
