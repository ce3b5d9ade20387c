//! Validation of the keys added for stream modes, size mixes, rates in %
//! of the line, unicast source MACs and the `[rfc2544]` table: good values
//! become the expected plan, bad ones one line with file:line:column.

use std::time::Duration;

use super::*;
use crate::frame::SIMPLE_IMIX;

const BASE: &str = r#"[run]
duration = "5s"

[[port]]
name = "a"
interface = "lr-a"

[[port]]
name = "b"
interface = "lr-b"

[[stream]]
name = "one"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:00:0a"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9001
rate = "100kpps"
"#;

/// BASE with `extra` lines added to the stream (and any tables after it).
fn with(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

fn plan(extra: &str) -> Plan {
    parse(&with(extra), "good.toml").unwrap_or_else(|error| panic!("{error}"))
}

/// The one-line error, and that it points at the line holding `needle`.
fn error_at(extra: &str, needle: &str) -> String {
    let text = with(extra);
    let error = parse(&text, "bad.toml").expect_err("refused");
    let offset = text.find(needle).expect("needle present");
    let line = text[..offset].matches('\n').count() + 1;
    assert_eq!(error.line, line, "{error}");
    assert!(error.column > 0, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("bad.toml:{line}:")),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

#[test]
fn modes_become_schedules() {
    assert_eq!(plan("").streams[0].schedule, Schedule::CONTINUOUS);
    assert_eq!(
        plan("mode = \"continuous\"").streams[0].schedule,
        Schedule::CONTINUOUS
    );
    let burst = plan("mode = { burst = 1000 }").streams[0].schedule;
    assert_eq!(
        burst.bursts,
        Some(Bursts {
            count: 1,
            frames: 1000,
            gap: Duration::ZERO
        })
    );
    let bursts = plan("mode = { bursts = 10, frames = 64, gap = \"10ms\" }\nstart_delay = \"1s\"\nstop_after = \"2s\"");
    let stream = &bursts.streams[0];
    assert_eq!(
        stream.schedule,
        Schedule {
            start_delay: Duration::from_secs(1),
            stop_after: Some(Duration::from_secs(2)),
            bursts: Some(Bursts {
                count: 10,
                frames: 64,
                gap: Duration::from_millis(10)
            }),
        }
    );
    // K x N frames, whatever the run's length.
    assert_eq!(stream.frames_to_send(bursts.run.stop), 640);
}

#[test]
fn bad_modes_are_refused_where_they_are() {
    for (extra, expected) in [
        ("mode = \"bursty\"", "is not a mode"),
        ("mode = { burst = 0 }", "burst must be 1 or more"),
        ("mode = { bursts = 3 }", "needs frames = N"),
        (
            "mode = { burst = 5, bursts = 3, frames = 2 }",
            "do not go together",
        ),
        ("mode = { bursts = 3, frames = 2, gap = \"soon\" }", "gap:"),
    ] {
        let message = error_at(extra, "mode");
        assert!(message.contains("stream[0].mode"), "{message}");
        assert!(message.contains(expected), "{extra}: {message}");
    }
    let message = error_at("stop_after = \"0s\"", "stop_after");
    assert!(message.contains("longer than zero"), "{message}");
    let message = error_at("start_delay = \"later\"", "start_delay");
    assert!(message.contains("stream[0].start_delay"), "{message}");
}

#[test]
fn imix_and_weighted_mixes_use_sizes_on_the_wire() {
    let simple = plan("frame_size = { imix = \"simple\" }");
    let SizeRule::Mix(mix) = simple.streams[0].frame.size else {
        panic!("a mix");
    };
    assert_eq!(mix.entries().collect::<Vec<_>>(), SIMPLE_IMIX.to_vec());
    let listed = plan("frame_size = { mix = [[64, 7], [594, 4], [1518, 1]] }");
    assert_eq!(listed.streams[0].frame.size, SizeRule::Mix(mix));
    // Bit rates use the mix's average: 12 frames of 4,234 bytes plus 24 x 12 at L1.
    let rated = parse(
        &with("frame_size = { imix = \"simple\" }")
            .replace("rate = \"100kpps\"", "rate = \"1Gbps\""),
        "good.toml",
    )
    .expect("valid");
    let average = (7.0 * 60.0 + 4.0 * 590.0 + 1514.0) / 12.0;
    let expected = 1e9 / ((average + 24.0) * 8.0);
    assert!((rated.streams[0].rate.frames_per_second() - expected).abs() < 0.01);
}

#[test]
fn bad_mixes_are_refused_where_they_are() {
    for (extra, expected) in [
        ("frame_size = { imix = \"fancy\" }", "not a named IMIX"),
        ("frame_size = { mix = [] }", "1 to 8"),
        ("frame_size = { mix = [[40, 1]] }", "out of range"),
        ("frame_size = { mix = [[64, 0]] }", "weight 0"),
        (
            "frame_size = { imix = \"simple\", mix = [[64, 1]] }",
            "either",
        ),
    ] {
        let message = error_at(extra, "frame_size");
        assert!(message.contains(expected), "{extra}: {message}");
    }
    let message = error_at("udp_payload = { imix = \"simple\" }", "udp_payload");
    assert!(message.contains("goes in frame_size"), "{message}");
}

#[test]
fn rates_in_percent_of_the_line_wait_for_the_session() {
    let text = with("").replace("rate = \"100kpps\"", "rate = \"50%\"");
    let plan = parse(&text, "good.toml").expect("valid");
    assert_eq!(plan.streams[0].line_percent, Some(50.0));
    assert_eq!(
        plan.streams[0].rate,
        Rate::Max,
        "resolved when the session is prepared"
    );
    for (rate, expected) in [
        ("0%", "more than 0%"),
        ("150%", "at most 100%"),
        ("lots%", "invalid percentage"),
    ] {
        let text = with("").replace("rate = \"100kpps\"", &format!("rate = \"{rate}\""));
        let error = parse(&text, "bad.toml").expect_err("refused").to_string();
        assert!(
            error.contains("stream[0].rate") && error.contains(expected),
            "{error}"
        );
    }
    let text = with("rate_layer = \"l2\"").replace("rate = \"100kpps\"", "rate = \"10%\"");
    let error = parse(&text, "bad.toml").expect_err("refused").to_string();
    assert!(error.contains("rate_layer"), "{error}");
}

#[test]
fn a_group_source_mac_is_refused() {
    let text = with("").replace(
        "src_mac = \"02:4c:52:00:00:0a\"",
        "src_mac = \"01:00:5e:00:00:01\"",
    );
    let error = parse(&text, "bad.toml").expect_err("refused");
    assert_eq!(
        error.line,
        text[..text.find("src_mac").expect("key")]
            .matches('\n')
            .count()
            + 1
    );
    let message = error.to_string();
    assert!(
        message.contains("stream[0].src_mac") && message.contains("group (multicast)"),
        "{message}"
    );
    // A sweep that reaches the group bit: 02:.. is fine, ..ff:ff:ff:ff:ff + 1 is 03:..
    let sweep = "[[stream.sweep]]\nfield = \"src_mac\"\nstart = \"02:ff:ff:ff:ff:fe\"\ncount = 3";
    let message = error_at(sweep, "count = 3");
    assert!(
        message.contains("stream[0].sweep[0].count") && message.contains("03:00:00:00:00:00"),
        "{message}"
    );
    let message = error_at(
        "[[stream.sweep]]\nfield = \"src_mac\"\nstart = \"ff:ff:ff:ff:ff:00\"\ncount = 2",
        "start = \"ff",
    );
    assert!(message.contains("sweep[0].start"), "{message}");
    // Up to the last unicast address is fine.
    plan("[[stream.sweep]]\nfield = \"src_mac\"\nstart = \"02:ff:ff:ff:ff:fe\"\ncount = 2");
    // A destination may be a group address (multicast streams).
    parse(
        &with("").replace(
            "dst_mac = \"02:4c:52:00:00:0b\"",
            "dst_mac = \"01:00:5e:00:00:01\"",
        ),
        "good.toml",
    )
    .expect("a multicast destination is fine");
}

#[test]
fn the_rfc2544_table_has_rfc_defaults() {
    let suite = plan("[rfc2544]").rfc2544.expect("a table");
    assert_eq!(suite.frame_sizes, [64, 128, 256, 512, 1024, 1280, 1518]);
    assert_eq!(suite.trial_duration, Duration::from_secs(60));
    assert_eq!(suite.wait_after_trial, Duration::from_secs(2));
    assert_eq!(
        suite.tests,
        [
            SuiteTest::Throughput,
            SuiteTest::Latency,
            SuiteTest::FrameLoss,
            SuiteTest::BackToBack
        ]
    );
    assert_eq!(suite.loss_tolerance_percent, 0.0);
    assert_eq!(suite.max_rate, SuiteRate::LinePercent(100.0));
    assert_eq!(suite.resolution, SuiteRate::LinePercent(0.5));
    assert_eq!(suite.trials, 20);
    assert_eq!(suite.learning_frames, 0);
    assert!(plan("").rfc2544.is_none());
}

#[test]
fn the_rfc2544_table_takes_every_key() {
    let suite = plan(
        "[rfc2544]\nframe_sizes = [64, 1518]\ntrial_duration = \"2s\"\ntests = [\"throughput\", \"back_to_back\"]\n\
         loss_tolerance = 0.1\nresolution = \"1kpps\"\nmax_rate = \"1Gbps\"\ntrials = 3\nwait_after_trial = \"500ms\"\n\
         learning_frames = 10\nback_to_back_max_frames = 5000",
    )
    .rfc2544
    .expect("a table");
    assert_eq!(suite.frame_sizes, [64, 1518]);
    assert_eq!(suite.trial_duration, Duration::from_secs(2));
    assert_eq!(suite.tests, [SuiteTest::Throughput, SuiteTest::BackToBack]);
    assert_eq!(suite.loss_tolerance_percent, 0.1);
    assert_eq!(suite.resolution, SuiteRate::FramesPerSecond(1000.0));
    assert_eq!(suite.max_rate, SuiteRate::BitsPerSecond(1e9));
    assert_eq!((suite.trials, suite.learning_frames), (3, 10));
    assert_eq!(suite.wait_after_trial, Duration::from_millis(500));
    assert_eq!(suite.back_to_back_max_frames, Some(5000));
    // 1 Gbit/s at L1 in 64-byte frames: 1,488,095 frames/s.
    assert_eq!(
        suite.max_rate.frames_per_second(10e9, 64).round(),
        1_488_095.0
    );
    assert_eq!(
        SuiteRate::LinePercent(50.0)
            .frames_per_second(10e9, 1518)
            .round(),
        406_372.0
    );
}

#[test]
fn bad_rfc2544_keys_are_refused_where_they_are() {
    for (line, expected) in [
        ("frame_sizes = [32]", "out of range"),
        ("frame_sizes = []", "at least one"),
        ("tests = [\"speed\"]", "is not a test"),
        ("loss_tolerance = 120", "percentage"),
        ("resolution = \"1Gbps\"", "share of max_rate"),
        ("max_rate = \"fast\"", "a share of the line"),
        ("trials = 0", "1 or more"),
        ("trial_duration = \"1ms\"", "at least 10ms"),
        ("learning_frames = -1", "zero or more"),
        ("frame_sise = [64]", "did you mean `frame_sizes`"),
    ] {
        let message = error_at(&format!("[rfc2544]\n{line}"), line);
        assert!(message.contains(expected), "{line}: {message}");
    }
}
