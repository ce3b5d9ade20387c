//! The RFC 2544 suite through real labs, against known answers: a tbf
//! shaper of R Mbit/s on the routed lab's egress toward b (throughput = R
//! in frames/s at each size, counting L2 bytes as tbf does; frame loss =
//! (offered − R)/offered), a tbf with a known bucket and queue in front of a
//! slow link (back-to-back = what bucket + queue hold), and the plain lab
//! (throughput = the highest rate the path takes without loss). Short
//! trials; each test builds its own lab, so cargo runs them in parallel.
//! Needs root.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use common::command_output;
use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::rfc2544::search::Verdict;
use linerate_engine::rfc2544::{run_suite, SuiteObserver, SuiteReport, TrialRecord, TrialStart};
use linerate_engine::run::RunOptions;
use linerate_engine::scenario;
use linerate_engine::scenario::SuiteTest;

/// The suite's trials are timed: two of them at once on a small machine
/// starve each other's sender (it falls behind, then catches up in bursts
/// a shaper's queue cannot hold), so the tests here take turns.
static ONE_SUITE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Prints each trial, so that a failure shows the search.
struct PrintTrials;

impl SuiteObserver for PrintTrials {
    fn trial_starting(&mut self, _start: &TrialStart) {}
    fn trial_done(&mut self, record: &TrialRecord) {
        let stream = &record.streams[0];
        println!(
            "trial {} {:?} {} B load {:.4} burst {:?}: sent {} received {} tx {:.0} fps: {:?}",
            record.number,
            record.test,
            record.frame_size,
            record.load,
            record.burst_frames,
            stream.sent,
            stream.received,
            stream.tx_fps,
            record.verdict
        );
    }
}

/// A tbf on the routed lab's egress toward b.
fn shape(lab: &Lab, args: &[&str]) {
    let router = lab.spec().router.as_ref().expect("routed lab");
    let egress = &router.toward_b;
    let mut command = vec![
        "-n",
        &egress.namespace,
        "qdisc",
        "add",
        "dev",
        &egress.interface,
        "root",
        "tbf",
    ];
    command.extend_from_slice(args);
    command_output("tc", &command);
}

fn suite(lab: &Lab, rfc2544: &str) -> SuiteReport {
    let _turn = ONE_SUITE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let spec = lab.spec();
    let text = format!(
        "[run]\nduration = \"1s\"\n[rfc2544]\n{rfc2544}\n{}{}",
        spec.port_tables(),
        spec.stream_table("a-to-b", "b", 60, "1kpps"),
    );
    let plan = scenario::parse(&text, "rfc2544.toml").expect("valid scenario");
    run_suite(
        &plan,
        RunOptions::default(),
        &AtomicBool::new(false),
        &mut PrintTrials,
    )
    .expect("the suite runs")
}

/// Frames/s a tbf of `mbit` passes at `wire_size`: it counts L2 bytes
/// (the frame without FCS).
fn tbf_fps(mbit: f64, wire_size: usize) -> f64 {
    mbit * 1e6 / ((wire_size - 4) * 8) as f64
}

/// The shaper's rate.
const TBF_MBIT: f64 = 32.0;

/// A tbf of [`TBF_MBIT`] with `buffer_kb` of bucket and as much queue
/// (tc's kb is 1024 bytes): the bucket and the queue let a busy machine
/// hold the sender or the router's softirq up for about buffer / rate and
/// still lose nothing below the rate, and let (bucket + queue) / trial
/// length more through than the rate.
fn tbf_args(buffer_kb: u32) -> Vec<String> {
    [
        "rate",
        "32mbit",
        "burst",
        &format!("{buffer_kb}kb"),
        "limit",
        &format!("{buffer_kb}kb"),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect()
}

#[test]
fn throughput_through_a_shaper_is_its_rate_at_each_frame_size() {
    let lab =
        Lab::create(LabSpec::unique().routed()).expect("build the lab (run the tests as root)");
    let buffer_kb = 192;
    let args = tbf_args(buffer_kb);
    shape(&lab, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let trial_seconds = 4.0;
    let report = suite(
        &lab,
        "frame_sizes = [512, 1024, 1518]\ntrial_duration = \"4s\"\ntests = [\"throughput\"]\n\
         max_rate = \"50Mbps\"\nresolution = \"2%\"\nwait_after_trial = \"500ms\"\nlearning_frames = 100",
    );
    assert!(!report.interrupted);
    assert_eq!(report.throughput.len(), 3);
    for result in &report.throughput {
        let size = result.frame_size;
        let max_fps = 50e6 / ((size + 20) * 8) as f64;
        let resolution_fps = 0.02 * max_fps;
        let shaper_fps = tbf_fps(TBF_MBIT, size);
        // What the bucket and the queue let through beyond the rate in a trial.
        let allowance_fps = 2.0 * f64::from(buffer_kb) * 1024.0 / (size - 4) as f64 / trial_seconds;
        println!(
            "{size} B: found {:.0} fps, shaper {shaper_fps:.0} fps (resolution {resolution_fps:.0}, allowance {allowance_fps:.0})",
            result.fps_per_stream
        );
        assert!(allowance_fps < resolution_fps);
        assert!(
            (result.fps_per_stream - shaper_fps).abs() <= resolution_fps,
            "{size} B: throughput {:.0} fps, the shaper passes {shaper_fps:.0} fps; resolution {resolution_fps:.0} fps",
            result.fps_per_stream
        );
        assert!((result.mbps_l2 - result.fps_total * (size * 8) as f64 / 1e6).abs() < 1e-6);
        assert!(result.trials >= 2);
    }
    // Every trial is logged; none sent more than its rate for the trial's
    // length (the learning frames are not in it), and a pass sent it all
    // but for the 1 % a busy machine's sender may fall short by.
    assert_eq!(
        report.trials.len() as u32,
        report
            .throughput
            .iter()
            .map(|result| result.trials)
            .sum::<u32>()
    );
    for trial in &report.trials {
        let stream = &trial.streams[0];
        let expected = (stream.offered_fps * trial_seconds).round() as u64;
        assert!(
            stream.sent <= expected,
            "trial {}: sent {} of {expected}",
            trial.number,
            stream.sent
        );
        if trial.verdict == Verdict::Pass {
            assert!(
                stream.sent as f64 >= expected as f64 * 0.99,
                "trial {}: passed, sent {} of {expected}",
                trial.number,
                stream.sent
            );
        }
    }
}

#[test]
fn frame_loss_rate_through_a_shaper_is_the_excess_over_its_rate() {
    let lab =
        Lab::create(LabSpec::unique().routed()).expect("build the lab (run the tests as root)");
    let args = tbf_args(64);
    shape(&lab, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let report = suite(
        &lab,
        "frame_sizes = [1518]\ntrial_duration = \"4s\"\ntests = [\"frame_loss\"]\n\
         max_rate = \"50Mbps\"\nwait_after_trial = \"500ms\"",
    );
    let result = &report.frame_loss[0];
    let shaper_fps = tbf_fps(TBF_MBIT, 1518);
    for point in &result.points {
        assert!(!point.generator_limited, "{point:?}");
        let expected = ((point.offered_fps - shaper_fps) / point.offered_fps * 100.0).max(0.0);
        println!(
            "load {:.0} %: offered {:.0} fps, loss {:.3} %, expected {expected:.3} %",
            point.load * 100.0,
            point.offered_fps,
            point.loss_percent
        );
        assert!(
            (point.loss_percent - expected).abs() <= 1.0,
            "at {:.0} fps: loss {:.3} %, (offered - R)/offered = {expected:.3} %",
            point.offered_fps,
            point.loss_percent
        );
    }
    // 100 % to 70 % of 4,063 fps lose; 60 % and 50 % are below 2,642.
    let loads: Vec<u32> = result
        .points
        .iter()
        .map(|point| (point.load * 100.0).round() as u32)
        .collect();
    assert_eq!(
        loads,
        [100, 90, 80, 70, 60, 50],
        "down until two lossless trials"
    );
}

#[test]
fn back_to_back_is_what_the_bucket_and_the_queue_hold() {
    let lab =
        Lab::create(LabSpec::unique().routed()).expect("build the lab (run the tests as root)");
    // 1514-byte frames: a bucket of 10 and a queue of 20, then a 2 Mbit/s link
    // that takes 6 ms per frame, so that nothing drains during a burst.
    let frame = 1514;
    shape(
        &lab,
        &[
            "rate",
            "2mbit",
            "burst",
            &(10 * frame).to_string(),
            "limit",
            &(20 * frame).to_string(),
        ],
    );
    let report = suite(
        &lab,
        "frame_sizes = [1518]\ntests = [\"back_to_back\"]\ntrials = 2\n\
         back_to_back_max_frames = 200\nwait_after_trial = \"1s\"\ntrial_duration = \"1s\"",
    );
    let result = &report.back_to_back[0];
    println!("longest whole bursts {:?}", result.bursts);
    assert_eq!(result.bursts.len(), 2, "one per trial");
    for burst in &result.bursts {
        assert!(
            (27..=33).contains(burst),
            "longest whole burst {burst}, predicted 30"
        );
    }
    assert!(report
        .trials
        .iter()
        .all(|trial| trial.test == SuiteTest::BackToBack && trial.burst_frames.is_some()));
    // Every burst sent whole, at the line's pace (as fast as possible).
    for trial in &report.trials {
        assert_eq!(Some(trial.streams[0].sent), trial.burst_frames);
    }
}

#[test]
fn throughput_on_the_plain_lab_is_the_highest_lossless_rate_it_reaches() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let report = suite(
        &lab,
        "frame_sizes = [64]\ntrial_duration = \"500ms\"\ntests = [\"throughput\", \"latency\"]\n\
         resolution = \"0.5%\"\ntrials = 1\nwait_after_trial = \"500ms\"",
    );
    let result = &report.throughput[0];
    println!(
        "plain lab: {:.0} fps ({:.3} % of line), load {:.4}",
        result.fps_per_stream, result.percent_line, result.load
    );
    assert!(result.load > 0.0, "something passes");
    let resolution = report.settings.resolution_load;
    let throughput_trials: Vec<&TrialRecord> = report
        .trials
        .iter()
        .filter(|trial| trial.test == SuiteTest::Throughput)
        .collect();
    // The rate found passed; the lowest rate above it that was tried did
    // not (it lost or the sender could not reach it), and is within one
    // resolution step.
    assert!(throughput_trials
        .iter()
        .any(|trial| trial.load == result.load && trial.verdict == Verdict::Pass));
    if result.load < 1.0 {
        let above = throughput_trials
            .iter()
            .filter(|trial| trial.load > result.load)
            .min_by(|a, b| a.load.total_cmp(&b.load))
            .expect("a failing trial above the throughput");
        assert_ne!(above.verdict, Verdict::Pass);
        assert!(
            above.load - result.load < resolution + 1e-9,
            "{} vs {}",
            above.load,
            result.load
        );
    }
    // At the throughput, the latency trial loses nothing.
    let latency = report
        .trials
        .iter()
        .find(|trial| trial.test == SuiteTest::Latency)
        .expect("a latency trial");
    assert_eq!(latency.streams[0].lost, 0, "{latency:?}");
    let summary = report.latency[0].summary.expect("latency measured");
    assert!(
        summary.min_ns <= summary.p50_ns
            && summary.p50_ns <= summary.p99_ns
            && summary.p99_ns <= summary.max_ns
    );
}
