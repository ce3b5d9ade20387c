//! How the endpoints on kernel sockets print: one live line per endpoint
//! per report interval (its counters so far and its rate in the interval),
//! and one summary line per endpoint at the end, kind by kind.

use linerate_endpoints::{EndpointsReport, EndpointsSnapshot};

/// Bits per second for `bytes` over `seconds` (0 for no time).
fn bits_per_second(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 * 8.0 / seconds
    } else {
        0.0
    }
}

/// The growth of a counter between two snapshots.
fn grown(now: u64, before: Option<u64>) -> u64 {
    now.saturating_sub(before.unwrap_or(0))
}

/// Prints the live lines of one interval: `now` against `before` (the
/// previous interval's snapshot, if any) over `seconds`.
pub fn print_interval(
    elapsed_s: f64,
    now: &EndpointsSnapshot,
    before: Option<&EndpointsSnapshot>,
    seconds: f64,
) {
    for (index, tcp) in now.tcp.iter().enumerate() {
        let earlier = before.and_then(|snapshot| snapshot.tcp.get(index));
        let a_to_b = grown(
            tcp.a_to_b.received_bytes,
            earlier.map(|e| e.a_to_b.received_bytes),
        );
        let b_to_a = grown(
            tcp.b_to_a.received_bytes,
            earlier.map(|e| e.b_to_a.received_bytes),
        );
        println!(
            "{elapsed_s:>7.1}s  tcp  {:<16} A->B {:>9.2} Mbit/s  B->A {:>9.2} Mbit/s  bytes {} / {}  errors: {}",
            tcp.name,
            bits_per_second(a_to_b, seconds) / 1e6,
            bits_per_second(b_to_a, seconds) / 1e6,
            tcp.a_to_b.received_bytes,
            tcp.b_to_a.received_bytes,
            tcp.errors.describe()
        );
    }
    for (index, url) in now.url.iter().enumerate() {
        let earlier = before.and_then(|snapshot| snapshot.url.get(index));
        let completed = grown(url.completed, earlier.map(|e| e.completed));
        let rx = grown(url.rx_bytes, earlier.map(|e| e.rx_bytes));
        println!(
            "{elapsed_s:>7.1}s  url  {:<16} {:>6} urls ({:.2}/s)  rx {:>9.2} Mbit/s  errors: {}",
            url.name,
            url.completed,
            if seconds > 0.0 {
                completed as f64 / seconds
            } else {
                0.0
            },
            bits_per_second(rx, seconds) / 1e6,
            url.errors.describe()
        );
    }
    for ping in &now.ping {
        println!(
            "{elapsed_s:>7.1}s  ping {:<16} sent {}  replies {}  unreachable {}  rtt avg {} ns  errors: {}",
            ping.name,
            ping.sent,
            ping.replies,
            ping.unreachable,
            ping.rtt_avg_ns,
            ping.errors.describe()
        );
    }
    for (index, file_io) in now.file_io.iter().enumerate() {
        let earlier = before.and_then(|snapshot| snapshot.file_io.get(index));
        let written = grown(file_io.bytes_written, earlier.map(|e| e.bytes_written));
        println!(
            "{elapsed_s:>7.1}s  file {:<16} write {:>9.2} Mbit/s  files {} written, {} read, {} failed verify  errors: {}",
            file_io.name,
            bits_per_second(written, seconds) / 1e6,
            file_io.files_written,
            file_io.files_read,
            file_io.verify_failures,
            file_io.errors.describe()
        );
    }
}

/// Prints one summary line per endpoint.
pub fn print_summary(report: &EndpointsReport) {
    let target = |bps: Option<u64>| {
        bps.map(|bps| format!("{:.2} Mbit/s", bps as f64 / 1e6))
            .unwrap_or_else(|| "max".to_string())
    };
    for tcp in &report.tcp {
        for (direction, side) in [("A->B", &tcp.a_to_b), ("B->A", &tcp.b_to_a)] {
            println!(
                "tcp  {:<16} {direction}: sent {} bytes, received {}, {:.2} Mbit/s (target {})",
                tcp.name,
                side.sent_bytes,
                side.received_bytes,
                side.achieved_bps / 1e6,
                target(side.target_bps)
            );
        }
        println!("tcp  {:<16} errors: {}", tcp.name, tcp.errors.describe());
    }
    for url in &report.url {
        println!(
            "url  {:<16} {}: {} completed ({:.2}/s{}), rx {} bytes, tx {} bytes, errors: {}",
            url.name,
            url.url,
            url.completed,
            url.urls_per_second,
            url.expected_requests
                .map(|expected| format!(", {expected:.1} expected"))
                .unwrap_or_default(),
            url.rx_bytes,
            url.tx_bytes,
            url.errors.describe()
        );
    }
    for ping in &report.ping {
        println!(
            "ping {:<16} {}: {} sent, {} replies, {} unreachable, {} no reply, loss {:.1} %, rtt min/avg/max {}/{}/{} ns",
            ping.counts.name,
            ping.destination,
            ping.counts.sent,
            ping.counts.replies,
            ping.counts.unreachable,
            ping.no_reply,
            ping.loss_percent,
            ping.counts.rtt_min_ns,
            ping.counts.rtt_avg_ns,
            ping.counts.rtt_max_ns
        );
    }
    for file_io in &report.file_io {
        println!(
            "file {:<16} {} files written ({} bytes) at {:.2} Mbit/s (target {:.2}), {} read back, {} failed verify, errors: {}",
            file_io.counts.name,
            file_io.counts.files_written,
            file_io.counts.bytes_written,
            file_io.write_bps / 1e6,
            file_io.target_bps as f64 / 1e6,
            file_io.counts.files_read,
            file_io.counts.verify_failures,
            file_io.counts.errors.describe()
        );
    }
}
