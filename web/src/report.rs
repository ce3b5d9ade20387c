//! The self-contained HTML run report: the summary, verdict, totals,
//! latency, setup and pass criteria as static HTML (readable without
//! scripts), the ReportDocument embedded as JSON, and the inline uPlot and
//! chart code (assets/report.js) that draw its charts from it. Written as a
//! stream so that a caller whose interval series waits on disk (the CLI's
//! Recorder) never holds it in memory.

use std::fmt::Write as _;
use std::io::{self, Write};

use linerate_engine::report::{LatencySection, PassSection, ReportDocument, StreamSection};

const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");
const LINERATE_CSS: &str = include_str!("../assets/linerate.css");
const REPORT_CSS: &str = include_str!("../assets/report.css");
const HEALTH_JS: &str = include_str!("../assets/health.js");
const CHARTS_JS: &str = include_str!("../assets/charts.js");
const REPORT_JS: &str = include_str!("../assets/report.js");

/// How serde_json writes the empty interval series in the compact document
/// (only as the document's own key: inside strings a quote is escaped).
const EMPTY_SERIES: &str = "\"intervals\":[]";

/// Writes the report page for `document` to `out`. The interval series is
/// the document's own intervals followed by `more_intervals`, each an
/// IntervalSection as compact JSON (a line of the CLI's spool file).
pub fn write_report_html<W, I>(
    out: &mut W,
    document: &ReportDocument,
    more_intervals: I,
) -> io::Result<()>
where
    W: Write,
    I: IntoIterator<Item = io::Result<String>>,
{
    out.write_all(page_head(document).as_bytes())?;
    out.write_all(page_body(document).as_bytes())?;
    out.write_all(b"<script type=\"application/json\" id=\"report-data\">")?;
    write_document_json(out, document, more_intervals)?;
    out.write_all(b"</script>\n")?;
    for script in [UPLOT_JS, CHARTS_JS, REPORT_JS] {
        out.write_all(b"<script>")?;
        out.write_all(script_text(script).as_bytes())?;
        out.write_all(b"</script>\n")?;
    }
    out.write_all(b"</body>\n</html>\n")
}

/// The document as JSON, its series spliced together from the document and
/// `more_intervals`; every `<` is written `\u003c` so that nothing in it can
/// end the script element (`</script>`) or open a comment.
fn write_document_json<W, I>(
    out: &mut W,
    document: &ReportDocument,
    more_intervals: I,
) -> io::Result<()>
where
    W: Write,
    I: IntoIterator<Item = io::Result<String>>,
{
    let shell = if document.intervals.is_empty() {
        serde_json::to_string(document)
    } else {
        serde_json::to_string(&ReportDocument {
            intervals: Vec::new(),
            ..document.clone()
        })
    }
    .map_err(io::Error::from)?;
    let (before, after) = shell
        .split_once(EMPTY_SERIES)
        .ok_or_else(|| io::Error::other("the report document has no interval series to fill in"))?;
    out.write_all(json_in_script(before).as_bytes())?;
    out.write_all(b"\"intervals\":[")?;
    let own = document
        .intervals
        .iter()
        .map(|interval| serde_json::to_string(interval).map_err(io::Error::from));
    for (index, interval) in own.chain(more_intervals).enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        out.write_all(json_in_script(interval?.trim_end()).as_bytes())?;
    }
    out.write_all(b"]")?;
    out.write_all(json_in_script(after).as_bytes())
}

/// JSON text made safe inside a `<script>` element: `<` appears in JSON
/// only within strings, where `\u003c` means the same.
fn json_in_script(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// Script text made safe inside a `<script>` element (the vendored and own
/// scripts have no `</script`; this keeps it so).
fn script_text(script: &str) -> String {
    script.replace("</script", "<\\/script")
}

/// Text made safe for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn verdict_word(document: &ReportDocument) -> &'static str {
    if document.verdict.passed {
        "PASS"
    } else {
        "FAIL"
    }
}

fn page_head(document: &ReportDocument) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"linerate {version}\">\n\
         <title>linerate report · {source} · {verdict}</title>\n\
         <style>\n{UPLOT_CSS}\n{LINERATE_CSS}\n{REPORT_CSS}\n</style>\n\
         <script>{health}</script>\n</head>\n",
        version = escape(&document.linerate_version),
        source = escape(&document.scenario.source),
        verdict = verdict_word(document),
        health = script_text(HEALTH_JS),
    );
    html
}

fn page_body(document: &ReportDocument) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<body>\n<header class=\"topbar\"><h1>linerate report</h1><span class=\"sub\">{source}</span>\
         <span class=\"spacer\"></span><span class=\"sub\">started {started}</span></header>\n\
         <pre id=\"page-errors\" hidden></pre>\n<main class=\"report\">\n",
        source = escape(&document.scenario.source),
        started = utc_time(document.environment.started_unix_s),
    );
    html.push_str(&verdict_section(document));
    html.push_str(&run_section(document));
    html.push_str(&totals_section(document));
    html.push_str(&latency_section(document));
    html.push_str(
        "<section class=\"charts\">\n\
         <div class=\"chart wide\" id=\"chart-rate\"></div>\n\
         <div class=\"chart\" id=\"chart-loss\"></div>\n\
         <div class=\"chart\" id=\"chart-latency\"></div>\n\
         <div class=\"chart wide\" id=\"chart-distribution\"></div>\n</section>\n",
    );
    html.push_str(&setup_section(document));
    html.push_str(&criteria_section(&document.scenario.pass));
    let _ = write!(
        html,
        "</main>\n<footer>linerate {} · report schema {} · charts drawn with uPlot (MIT)</footer>\n",
        escape(&document.linerate_version),
        escape(&document.schema)
    );
    html
}

fn verdict_section(document: &ReportDocument) -> String {
    let verdict = &document.verdict;
    let mut html = String::from("<section class=\"panel verdict\">");
    let _ = write!(
        html,
        "<span class=\"badge {}\">{}</span>",
        if verdict.passed { "pass" } else { "fail" },
        verdict_word(document)
    );
    if verdict.interrupted {
        html.push_str("<span class=\"badge note\">INTERRUPTED</span>");
    }
    if verdict.stopped_on_request {
        html.push_str("<span class=\"badge note\">STOPPED ON REQUEST</span>");
    }
    let sent: u64 = document.streams.iter().map(|s| s.frames_sent).sum();
    let received: u64 = document.streams.iter().map(|s| s.frames_received).sum();
    let lost: u64 = document.streams.iter().map(|s| s.frames_lost).sum();
    let loss_percent = if sent > 0 {
        lost as f64 * 100.0 / sent as f64
    } else {
        0.0
    };
    let _ = write!(
        html,
        "<span class=\"summary\">{} stream(s) · sending took {:.3} s · {} frames sent · {} received · \
         {} lost ({:.4} %)</span>",
        document.streams.len(),
        document.send_duration_s,
        grouped(sent),
        grouped(received),
        grouped(lost),
        loss_percent
    );
    if !verdict.failures.is_empty() {
        html.push_str("<ul class=\"failures\">");
        for failure in &verdict.failures {
            let _ = write!(html, "<li>{}</li>", escape(failure));
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>\n");
    html
}

fn run_section(document: &ReportDocument) -> String {
    let scenario = &document.scenario;
    let environment = &document.environment;
    let length = match (scenario.duration_s, scenario.frames_per_stream) {
        (Some(duration), _) => format!("{duration} s"),
        (None, Some(frames)) => format!("{} frames per stream", grouped(frames)),
        (None, None) => "–".to_string(),
    };
    let facts = [
        ("scenario", escape(&scenario.source)),
        ("started", utc_time(environment.started_unix_s)),
        ("runs for", length),
        ("sending took", format!("{:.3} s", document.send_duration_s)),
        (
            "report interval",
            format!("{} s", scenario.report_interval_s),
        ),
        ("host", escape(&environment.hostname)),
        (
            "kernel",
            format!(
                "{} · {} CPUs",
                escape(&environment.kernel),
                environment.cpus
            ),
        ),
        ("linerate", escape(&document.linerate_version)),
        (
            "duplicate window",
            format!("{} sequence numbers", grouped(document.duplicate_window)),
        ),
        (
            "frames of unknown streams",
            grouped(document.frames_unknown_stream),
        ),
    ];
    let mut html = String::from("<section class=\"panel\"><h2>Run</h2><dl class=\"facts\">");
    for (name, value) in facts {
        let _ = write!(html, "<dt>{name}</dt><dd>{value}</dd>");
    }
    html.push_str("</dl></section>\n");
    html
}

/// The stream's name cell, with the swatch report.js colours.
fn stream_name_cell(index: usize, name: &str) -> String {
    format!(
        "<td class=\"text\"><span class=\"swatch\" data-stream-index=\"{index}\"></span>{}</td>",
        escape(name)
    )
}

fn totals_section(document: &ReportDocument) -> String {
    let mut html = String::from(
        "<section class=\"panel\"><h2>Totals per stream (after the drain)</h2><table class=\"data\">\
         <thead><tr><th class=\"text\">stream</th><th>sent</th><th>received</th><th>lost</th>\
         <th>loss %</th><th>dup</th><th>late</th><th>target fps</th><th>tx fps</th><th>rx fps</th>\
         <th>rate %</th><th>bytes sent</th><th>bytes received</th><th>faults injected</th></tr></thead><tbody>",
    );
    for (index, stream) in document.streams.iter().enumerate() {
        html.push_str("<tr>");
        html.push_str(&stream_name_cell(index, &stream.name));
        let _ = write!(
            html,
            "<td>{}</td><td>{}</td><td{}>{}</td><td>{:.4}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            grouped(stream.frames_sent),
            grouped(stream.frames_received),
            if stream.frames_lost > 0 {
                " class=\"bad\""
            } else {
                ""
            },
            grouped(stream.frames_lost),
            stream.loss_percent,
            grouped(stream.duplicates),
            grouped(stream.late),
            stream.target_fps.map_or("max".to_string(), rate),
            rate(stream.tx_fps),
            rate(stream.rx_fps),
            stream
                .rate_percent
                .map_or("–".to_string(), |percent| format!("{percent:.2}")),
            grouped(stream.bytes_sent),
            grouped(stream.bytes_received),
            faults(stream),
        );
    }
    html.push_str("</tbody></table></section>\n");
    html
}

/// The faults injected on purpose, the kinds that happened: "19 swapped".
fn faults(stream: &StreamSection) -> String {
    let injected = &stream.faults_injected;
    let kinds: Vec<String> = [
        (injected.skipped, "skipped"),
        (injected.repeated, "repeated"),
        (injected.swapped, "swapped"),
    ]
    .iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, kind)| format!("{} {kind}", grouped(*count)))
    .collect();
    if kinds.is_empty() {
        "–".to_string()
    } else {
        kinds.join(" · ")
    }
}

fn latency_section(document: &ReportDocument) -> String {
    let mut html = String::from(
        "<section class=\"panel\"><h2>Latency per stream (whole run)</h2><table class=\"data\">\
         <thead><tr><th class=\"text\">stream</th><th>frames measured</th><th>min</th><th>mean</th>\
         <th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>jitter</th>\
         <th>without latency</th></tr></thead><tbody>",
    );
    for (index, stream) in document.streams.iter().enumerate() {
        html.push_str("<tr>");
        html.push_str(&stream_name_cell(index, &stream.name));
        match &stream.latency_ns {
            Some(latency) => html.push_str(&latency_cells(latency)),
            None => {
                html.push_str("<td colspan=\"9\" class=\"text muted\">no latency measured</td>")
            }
        }
        let _ = write!(
            html,
            "<td>{}</td></tr>",
            grouped(stream.frames_without_latency)
        );
    }
    html.push_str("</tbody></table></section>\n");
    html
}

fn latency_cells(latency: &LatencySection) -> String {
    let mut html = format!("<td>{}</td>", grouped(latency.count));
    for nanoseconds in [
        latency.min as f64,
        latency.mean,
        latency.p50 as f64,
        latency.p90 as f64,
        latency.p99 as f64,
        latency.p99_9 as f64,
        latency.max as f64,
        latency.jitter,
    ] {
        let _ = write!(html, "<td>{}</td>", duration_ns(nanoseconds));
    }
    html
}

fn setup_section(document: &ReportDocument) -> String {
    let environment = &document.environment;
    let mut html = String::from(
        "<section class=\"panel setup\"><div><h2>Senders (AF_XDP)</h2><table class=\"data\">\
         <thead><tr><th class=\"text\">port</th><th class=\"text\">interface</th><th>queue</th>\
         <th class=\"text\">mode</th><th>core</th><th class=\"text\">streams</th></tr></thead><tbody>",
    );
    for tx in &environment.tx {
        let _ = write!(
            html,
            "<tr><td class=\"text\">{}</td><td class=\"text mono\">{}</td><td>{}</td>\
             <td class=\"text\">{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            escape(&tx.port),
            escape(&tx.interface),
            tx.queue,
            escape(&tx.xsk_mode),
            tx.core.map_or("–".to_string(), |core| core.to_string()),
            escape(&tx.streams.join(", "))
        );
    }
    html.push_str(
        "</tbody></table></div><div><h2>Receive counters (XDP)</h2><table class=\"data\">\
         <thead><tr><th class=\"text\">port</th><th class=\"text\">interface</th>\
         <th class=\"text\">XDP mode</th></tr></thead><tbody>",
    );
    for rx in &environment.rx {
        let _ = write!(
            html,
            "<tr><td class=\"text\">{}</td><td class=\"text mono\">{}</td><td class=\"text\">{}</td></tr>",
            escape(&rx.port),
            escape(&rx.interface),
            escape(&rx.xdp_mode)
        );
    }
    html.push_str("</tbody></table></div></section>\n");
    html
}

fn criteria_section(pass: &PassSection) -> String {
    let mut criteria = Vec::new();
    if let Some(frames) = pass.max_loss_frames {
        criteria.push(format!(
            "at most {} frames lost per stream",
            grouped(frames)
        ));
    }
    if let Some(percent) = pass.max_loss_percent {
        criteria.push(format!("at most {percent} % of frames lost"));
    }
    if let Some(late) = pass.max_reorder {
        criteria.push(format!("at most {} late (reordered) frames", grouped(late)));
    }
    if let Some(duplicates) = pass.max_duplicates {
        criteria.push(format!("at most {} duplicates", grouped(duplicates)));
    }
    for limit in &pass.max_latency {
        let which = if limit.percentile >= 100.0 {
            "maximum latency".to_string()
        } else {
            format!("p{} latency", limit.percentile)
        };
        criteria.push(format!(
            "{which} at most {}",
            duration_ns(limit.max_ns as f64)
        ));
    }
    if let Some(percent) = pass.min_rate_percent {
        criteria.push(format!("at least {percent} % of the target rate sent"));
    }
    let mut html = String::from("<section class=\"panel\"><h2>Pass criteria</h2>");
    if criteria.is_empty() {
        html.push_str(
            "<p class=\"muted\">None given ([pass]): no frame lost, and every stream with a target \
             rate sent at least 90 % of it.</p>",
        );
    } else {
        html.push_str("<ul class=\"criteria\">");
        for criterion in criteria {
            let _ = write!(html, "<li>{}</li>", escape(&criterion));
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>\n");
    html
}

/// 1234567 as "1,234,567".
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// A rate in frames per second, whole, grouped.
fn rate(fps: f64) -> String {
    if fps.is_finite() && fps >= 0.0 {
        grouped(fps.round() as u64)
    } else {
        "–".to_string()
    }
}

/// Nanoseconds as "850 ns", "12.4 µs", "1.25 ms" or "1.20 s".
fn duration_ns(nanoseconds: f64) -> String {
    if !nanoseconds.is_finite() {
        return "–".to_string();
    }
    let (value, unit) = if nanoseconds < 1e3 {
        return format!("{nanoseconds:.0} ns");
    } else if nanoseconds < 1e6 {
        (nanoseconds / 1e3, "µs")
    } else if nanoseconds < 1e9 {
        (nanoseconds / 1e6, "ms")
    } else {
        (nanoseconds / 1e9, "s")
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

/// Seconds since 1970 as "2026-11-25 15:16:33 UTC".
fn utc_time(unix_seconds: f64) -> String {
    if !unix_seconds.is_finite() || unix_seconds < 0.0 {
        return "–".to_string();
    }
    let seconds = unix_seconds as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_engineers_write_them() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(duration_ns(850.0), "850 ns");
        assert_eq!(duration_ns(12_400.0), "12.4 µs");
        assert_eq!(duration_ns(1_250_000.0), "1.25 ms");
        assert_eq!(duration_ns(206_400.0), "206 µs");
        assert_eq!(rate(199_998.6), "199,999");
    }

    #[test]
    fn utc_times_match_known_dates() {
        assert_eq!(utc_time(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_time(1_795_965_393.9), "2026-11-29 15:16:33 UTC");
    }

    #[test]
    fn html_and_script_text_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            json_in_script("{\"name\":\"</script><b>\"}"),
            "{\"name\":\"\\u003c/script>\\u003cb>\"}"
        );
    }
}
