//! What the endpoints count: the live counters each task updates (atomics,
//! read without stopping anything), the cumulative snapshot a report
//! interval takes of them, and the final per-endpoint report with rates.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;

/// Errors counted by kind, and the first one's message.
#[derive(Debug, Default)]
pub(crate) struct ErrorCounters {
    counts: [AtomicU64; ErrorKind::ALL.len()],
    first: Mutex<Option<String>>,
}

impl ErrorCounters {
    /// Counts one error of `kind`; the first message is kept.
    pub(crate) fn record(&self, kind: ErrorKind, message: impl FnOnce() -> String) {
        let index = ErrorKind::ALL
            .iter()
            .position(|&k| k == kind)
            .unwrap_or(ErrorKind::ALL.len() - 1);
        self.counts[index].fetch_add(1, Relaxed);
        let mut first = self
            .first
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if first.is_none() {
            *first = Some(format!("{}: {}", kind.name(), message()));
        }
    }

    fn counts(&self) -> ErrorCounts {
        let mut counts = ErrorCounts::default();
        for (kind, count) in ErrorKind::ALL.iter().zip(&self.counts) {
            *counts.slot(*kind) = count.load(Relaxed);
        }
        counts
    }

    fn first(&self) -> Option<String> {
        self.first
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Errors by kind (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Credentials refused (HTTP 401/403, FTP 530).
    pub access_denied: u64,
    /// The URL could not be used.
    pub bad_url: u64,
    /// HTTP 4xx other than 401/403.
    pub http_4xx: u64,
    /// HTTP 5xx.
    pub http_5xx: u64,
    /// No answer in time.
    pub timeout: u64,
    /// Nothing listening.
    pub connection_refused: u64,
    /// Host name did not resolve.
    pub dns_failure: u64,
    /// TLS handshake failed.
    pub tls: u64,
    /// FTP server refused the transfer.
    pub server_refused: u64,
    /// File errors (EIO and others without a kind of their own).
    pub io: u64,
    /// Stale NFS file handles (ESTALE).
    #[serde(default)]
    pub stale_handle: u64,
    /// File system full (ENOSPC, EDQUOT).
    #[serde(default)]
    pub no_space: u64,
    /// The mount's server gone, or the directory gone.
    #[serde(default)]
    pub mount_gone: u64,
    /// Anything else.
    pub other: u64,
}

impl ErrorCounts {
    fn slot(&mut self, kind: ErrorKind) -> &mut u64 {
        match kind {
            ErrorKind::AccessDenied => &mut self.access_denied,
            ErrorKind::BadUrl => &mut self.bad_url,
            ErrorKind::Http4xx => &mut self.http_4xx,
            ErrorKind::Http5xx => &mut self.http_5xx,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::ConnectionRefused => &mut self.connection_refused,
            ErrorKind::DnsFailure => &mut self.dns_failure,
            ErrorKind::Tls => &mut self.tls,
            ErrorKind::ServerRefused => &mut self.server_refused,
            ErrorKind::Io => &mut self.io,
            ErrorKind::StaleHandle => &mut self.stale_handle,
            ErrorKind::NoSpace => &mut self.no_space,
            ErrorKind::MountGone => &mut self.mount_gone,
            ErrorKind::Other => &mut self.other,
        }
    }

    /// The count of one kind.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        let mut copy = *self;
        *copy.slot(kind)
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        ErrorKind::ALL.iter().map(|&kind| self.get(kind)).sum()
    }

    /// "3 http_4xx, 1 timeout", or "none".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = ErrorKind::ALL
            .iter()
            .filter(|&&kind| self.get(kind) > 0)
            .map(|&kind| format!("{} {}", self.get(kind), kind.name()))
            .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// One direction of a TCP cross-connect, live.
#[derive(Debug, Default)]
pub(crate) struct DirectionCounters {
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) received_bytes: AtomicU64,
    /// How long the sender sent for, once it has stopped.
    pub(crate) send_nanos: AtomicU64,
}

/// A TCP cross-connect, live.
#[derive(Debug, Default)]
pub(crate) struct TcpCounters {
    pub(crate) a_to_b: DirectionCounters,
    pub(crate) b_to_a: DirectionCounters,
    pub(crate) errors: ErrorCounters,
}

/// One direction of a TCP cross-connect (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectionCounts {
    /// Payload bytes written by the sending side.
    pub sent_bytes: u64,
    /// Payload bytes read by the receiving side.
    pub received_bytes: u64,
}

/// A TCP cross-connect's counters so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpCounts {
    /// The endpoint.
    pub name: String,
    /// From A (connector) to B (listener).
    pub a_to_b: DirectionCounts,
    /// From B to A.
    pub b_to_a: DirectionCounts,
    /// Errors by kind.
    pub errors: ErrorCounts,
}

impl TcpCounters {
    pub(crate) fn counts(&self, name: &str) -> TcpCounts {
        let direction = |d: &DirectionCounters| DirectionCounts {
            sent_bytes: d.sent_bytes.load(Relaxed),
            received_bytes: d.received_bytes.load(Relaxed),
        };
        TcpCounts {
            name: name.to_string(),
            a_to_b: direction(&self.a_to_b),
            b_to_a: direction(&self.b_to_a),
            errors: self.errors.counts(),
        }
    }
}

/// A URL endpoint, live.
#[derive(Debug, Default)]
pub(crate) struct UrlCounters {
    pub(crate) completed: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    pub(crate) errors: ErrorCounters,
}

/// A URL endpoint's counters so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlCounts {
    /// The endpoint.
    pub name: String,
    /// Requests that completed without error.
    pub completed: u64,
    /// Body bytes received (downloads).
    pub rx_bytes: u64,
    /// Body bytes sent (uploads).
    pub tx_bytes: u64,
    /// Errors by kind; each failed request counts once.
    pub errors: ErrorCounts,
}

impl UrlCounters {
    pub(crate) fn counts(&self, name: &str) -> UrlCounts {
        UrlCounts {
            name: name.to_string(),
            completed: self.completed.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
            errors: self.errors.counts(),
        }
    }
}

/// A ping endpoint, live.
#[derive(Debug)]
pub(crate) struct PingCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) replies: AtomicU64,
    pub(crate) unreachable: AtomicU64,
    pub(crate) rtt_min_ns: AtomicU64,
    pub(crate) rtt_max_ns: AtomicU64,
    pub(crate) rtt_sum_ns: AtomicU64,
    pub(crate) errors: ErrorCounters,
}

impl Default for PingCounters {
    fn default() -> PingCounters {
        PingCounters {
            sent: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            unreachable: AtomicU64::new(0),
            rtt_min_ns: AtomicU64::new(u64::MAX),
            rtt_max_ns: AtomicU64::new(0),
            rtt_sum_ns: AtomicU64::new(0),
            errors: ErrorCounters::default(),
        }
    }
}

/// A ping endpoint's counters so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingCounts {
    /// The endpoint.
    pub name: String,
    /// Echo requests sent.
    pub sent: u64,
    /// Echo replies received (one per request at most).
    pub replies: u64,
    /// Requests answered by a destination-unreachable notice (or refused
    /// by the local stack as unreachable).
    pub unreachable: u64,
    /// Smallest round trip, nanoseconds (0 before the first reply).
    pub rtt_min_ns: u64,
    /// Mean round trip, nanoseconds.
    pub rtt_avg_ns: u64,
    /// Largest round trip, nanoseconds.
    pub rtt_max_ns: u64,
    /// Errors by kind (socket errors other than unreachable).
    pub errors: ErrorCounts,
}

impl PingCounters {
    pub(crate) fn counts(&self, name: &str) -> PingCounts {
        let replies = self.replies.load(Relaxed);
        let min = self.rtt_min_ns.load(Relaxed);
        PingCounts {
            name: name.to_string(),
            sent: self.sent.load(Relaxed),
            replies,
            unreachable: self.unreachable.load(Relaxed),
            rtt_min_ns: if min == u64::MAX { 0 } else { min },
            rtt_avg_ns: self
                .rtt_sum_ns
                .load(Relaxed)
                .checked_div(replies)
                .unwrap_or(0),
            rtt_max_ns: self.rtt_max_ns.load(Relaxed),
            errors: self.errors.counts(),
        }
    }

    pub(crate) fn record_rtt(&self, rtt: Duration) {
        let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        self.replies.fetch_add(1, Relaxed);
        self.rtt_min_ns.fetch_min(nanos, Relaxed);
        self.rtt_max_ns.fetch_max(nanos, Relaxed);
        self.rtt_sum_ns.fetch_add(nanos, Relaxed);
    }
}

/// A File-IO endpoint, live.
#[derive(Debug, Default)]
pub(crate) struct FileIoCounters {
    pub(crate) files_written: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    pub(crate) files_read: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) verify_failures: AtomicU64,
    /// How long the writer ran for, once it has stopped.
    pub(crate) write_nanos: AtomicU64,
    pub(crate) errors: ErrorCounters,
}

/// A File-IO endpoint's counters so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileIoCounts {
    /// The endpoint.
    pub name: String,
    /// Files written completely.
    pub files_written: u64,
    /// Bytes written (partial files included).
    pub bytes_written: u64,
    /// Files read back.
    pub files_read: u64,
    /// Bytes read back.
    pub bytes_read: u64,
    /// Files whose read-back checksum or length differed from what was written.
    pub verify_failures: u64,
    /// Errors by kind.
    pub errors: ErrorCounts,
}

impl FileIoCounters {
    pub(crate) fn counts(&self, name: &str) -> FileIoCounts {
        FileIoCounts {
            name: name.to_string(),
            files_written: self.files_written.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            files_read: self.files_read.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            verify_failures: self.verify_failures.load(Relaxed),
            errors: self.errors.counts(),
        }
    }
}

/// Every endpoint's cumulative counters at one moment: a report interval
/// differences two of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointsSnapshot {
    /// Time since the endpoints started, seconds.
    pub elapsed_s: f64,
    /// TCP cross-connects.
    pub tcp: Vec<TcpCounts>,
    /// URL endpoints.
    pub url: Vec<UrlCounts>,
    /// Ping endpoints.
    pub ping: Vec<PingCounts>,
    /// File-IO endpoints.
    pub file_io: Vec<FileIoCounts>,
}

/// One direction of a TCP cross-connect, at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpDirectionReport {
    /// Target, bits per second of payload (`None`: as fast as possible).
    pub target_bps: Option<u64>,
    /// Payload bytes written.
    pub sent_bytes: u64,
    /// Payload bytes read by the other side.
    pub received_bytes: u64,
    /// sent_bytes × 8 over the time the side sent for.
    pub achieved_bps: f64,
}

/// A TCP cross-connect's final results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpReport {
    /// The endpoint.
    pub name: String,
    /// A (connector) to B (listener).
    pub a_to_b: TcpDirectionReport,
    /// B to A.
    pub b_to_a: TcpDirectionReport,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// The first error's message.
    pub first_error: Option<String>,
}

/// A URL endpoint's final results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlReport {
    /// The endpoint.
    pub name: String,
    /// The URL.
    pub url: String,
    /// Target requests per ten minutes (`None`: as fast as possible).
    pub requests_per_ten: Option<u64>,
    /// Requests the target asks for in the time run (`None` without a target).
    pub expected_requests: Option<f64>,
    /// Requests completed without error.
    pub completed: u64,
    /// Completed requests per second.
    pub urls_per_second: f64,
    /// Body bytes received.
    pub rx_bytes: u64,
    /// Body bytes sent.
    pub tx_bytes: u64,
    /// rx_bytes × 8 per second.
    pub rx_bps: f64,
    /// tx_bytes × 8 per second.
    pub tx_bps: f64,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// The first error's message.
    pub first_error: Option<String>,
    /// How long the endpoint ran, seconds.
    pub duration_s: f64,
}

/// A ping endpoint's final results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingReport {
    /// The counters at the end.
    #[serde(flatten)]
    pub counts: PingCounts,
    /// The destination.
    pub destination: String,
    /// Requests neither answered nor reported unreachable within the timeout.
    pub no_reply: u64,
    /// (sent − replies) / sent, percent.
    pub loss_percent: f64,
    /// The first error's message.
    pub first_error: Option<String>,
}

/// A File-IO endpoint's final results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileIoReport {
    /// The counters at the end.
    #[serde(flatten)]
    pub counts: FileIoCounts,
    /// Target write rate, bits per second.
    pub target_bps: u64,
    /// bytes_written × 8 over the time the writer ran.
    pub write_bps: f64,
    /// bytes_read × 8 over the same time.
    pub read_bps: f64,
    /// The first error's message.
    pub first_error: Option<String>,
}

/// Every endpoint's final results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointsReport {
    /// How long the endpoints ran, seconds (start to stop).
    pub duration_s: f64,
    /// TCP cross-connects.
    pub tcp: Vec<TcpReport>,
    /// URL endpoints.
    pub url: Vec<UrlReport>,
    /// Ping endpoints.
    pub ping: Vec<PingReport>,
    /// File-IO endpoints.
    pub file_io: Vec<FileIoReport>,
}

/// bits per second for `bytes` over `nanos` (0 for no time).
pub(crate) fn bits_per_second(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 * 8.0 / seconds
    } else {
        0.0
    }
}

pub(crate) fn tcp_report(
    plan: &crate::plan::TcpPlan,
    counters: &TcpCounters,
    fallback_s: f64,
) -> TcpReport {
    let counts = counters.counts(&plan.name);
    let direction = |target: Option<u64>, c: DirectionCounts, live: &DirectionCounters| {
        let nanos = live.send_nanos.load(Relaxed);
        let seconds = if nanos > 0 {
            nanos as f64 / 1e9
        } else {
            fallback_s
        };
        TcpDirectionReport {
            target_bps: target,
            sent_bytes: c.sent_bytes,
            received_bytes: c.received_bytes,
            achieved_bps: bits_per_second(c.sent_bytes, seconds),
        }
    };
    TcpReport {
        name: plan.name.clone(),
        a_to_b: direction(plan.a.rate_bps, counts.a_to_b, &counters.a_to_b),
        b_to_a: direction(plan.b.rate_bps, counts.b_to_a, &counters.b_to_a),
        errors: counts.errors,
        first_error: counters.errors.first(),
    }
}

pub(crate) fn url_report(
    plan: &crate::plan::UrlPlan,
    counters: &UrlCounters,
    seconds: f64,
) -> UrlReport {
    let counts = counters.counts(&plan.name);
    UrlReport {
        name: plan.name.clone(),
        url: plan.url.clone(),
        requests_per_ten: plan.requests_per_ten,
        expected_requests: plan.requests_per_ten.map(|per_ten| {
            let expected = per_ten as f64 * seconds / 600.0;
            plan.max_requests
                .map_or(expected, |max| expected.min(max as f64))
        }),
        completed: counts.completed,
        urls_per_second: if seconds > 0.0 {
            counts.completed as f64 / seconds
        } else {
            0.0
        },
        rx_bytes: counts.rx_bytes,
        tx_bytes: counts.tx_bytes,
        rx_bps: bits_per_second(counts.rx_bytes, seconds),
        tx_bps: bits_per_second(counts.tx_bytes, seconds),
        errors: counts.errors,
        first_error: counters.errors.first(),
        duration_s: seconds,
    }
}

pub(crate) fn ping_report(plan: &crate::plan::PingPlan, counters: &PingCounters) -> PingReport {
    let counts = counters.counts(&plan.name);
    let answered = counts.replies + counts.unreachable;
    PingReport {
        destination: plan.destination.to_string(),
        no_reply: counts.sent.saturating_sub(answered),
        loss_percent: if counts.sent > 0 {
            counts.sent.saturating_sub(counts.replies) as f64 * 100.0 / counts.sent as f64
        } else {
            0.0
        },
        first_error: counters.errors.first(),
        counts,
    }
}

pub(crate) fn file_io_report(
    plan: &crate::plan::FileIoPlan,
    counters: &FileIoCounters,
    fallback_s: f64,
) -> FileIoReport {
    let counts = counters.counts(&plan.name);
    let nanos = counters.write_nanos.load(Relaxed);
    let seconds = if nanos > 0 {
        nanos as f64 / 1e9
    } else {
        fallback_s
    };
    FileIoReport {
        target_bps: plan.rate_bps,
        write_bps: bits_per_second(counts.bytes_written, seconds),
        read_bps: bits_per_second(counts.bytes_read, seconds),
        first_error: counters.errors.first(),
        counts,
    }
}
