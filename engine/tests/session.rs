//! The run as a session, through a real lab: one stream stopped and started
//! again while the other goes on (its frames stop and resume, counts stay
//! exact), a whole run stopped by its control, and stream commands naming a
//! stream the run lacks. Needs root.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::Recorder;
use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::run::{RunObserver, RunOptions};
use linerate_engine::scenario;
use linerate_engine::session::{drive, Session};

fn prepared(text: &str) -> Session {
    let plan = scenario::parse(text, "session.toml").expect("valid scenario");
    Session::prepare(&plan, RunOptions::default()).expect("prepare the session")
}

#[test]
fn a_stream_stopped_and_started_again_pauses_then_resumes_with_exact_counts() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nduration = \"3s\"\nreport_interval = \"100ms\"\n{}{}{}",
        spec.port_tables(),
        spec.stream_table("steady", "b", 60, "10kpps"),
        spec.stream_table("paused", "b", 60, "10kpps")
    );
    let session = prepared(&text);
    let control = session.control();
    let mut recorder = Recorder::default();
    recorder.setup_done(session.setup());
    let commands = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        control.stop_stream("paused").expect("the stream exists");
        assert_eq!(control.stream_stopped("paused"), Some(true));
        std::thread::sleep(Duration::from_millis(1000));
        control.start_stream("paused").expect("the stream exists");
        assert_eq!(control.stream_stopped("paused"), Some(false));
    });
    let report = drive(session, &AtomicBool::new(false), &mut recorder).expect("run completes");
    commands.join().expect("commands sent");

    let steady = &report.streams[0];
    let paused = &report.streams[1];
    assert_eq!(steady.counts.frames_sent, 30_000, "rate x duration");
    for stream in [steady, paused] {
        assert_eq!(
            stream.counts.rx.frames, stream.counts.frames_sent,
            "{}: received = sent",
            stream.name
        );
        assert_eq!(stream.frames_lost(), 0);
        assert_eq!(stream.counts.rx.duplicates, 0);
        assert_eq!(stream.counts.rx.late, 0);
    }
    // About 1 s of 3 s was stopped: about 20,000 frames, not 30,000.
    let sent = paused.counts.frames_sent;
    assert!(
        (17_000..=23_000).contains(&sent),
        "paused stream sent {sent}"
    );
    // Its rate is over the time it ran: the target, not two thirds of it.
    let percent = paused.rate_percent().expect("a paced stream");
    assert!(
        (97.0..=103.0).contains(&percent),
        "rate {percent} % of target"
    );
    assert!(!report.stopped_on_request && !report.interrupted);
    assert!(report.passed(), "{:?}", report.failures());

    // The interval series shows the stream stop and resume: some intervals
    // in the middle sent nothing for it, and it sent again after them.
    let per_interval: Vec<f64> = recorder
        .intervals
        .iter()
        .filter(|interval| !interval.is_final)
        .map(|interval| interval.streams[1].tx_fps)
        .collect();
    let first_silent = per_interval
        .iter()
        .position(|fps| *fps == 0.0)
        .expect("an interval with the stream stopped");
    let silent = per_interval[first_silent..]
        .iter()
        .take_while(|fps| **fps == 0.0)
        .count();
    assert!(silent >= 7, "stopped for {silent} intervals of 100 ms");
    assert!(
        per_interval[first_silent + silent..]
            .iter()
            .any(|fps| *fps > 9_000.0),
        "sending resumed at its rate: {per_interval:?}"
    );
}

#[test]
fn a_run_stopped_by_its_control_ends_early_drains_and_passes() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nduration = \"60s\"\n{}{}",
        spec.port_tables(),
        spec.stream_table("long", "b", 60, "20kpps")
    );
    let session = prepared(&text);
    let control = session.control();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        control.request_stop();
    });
    let started = std::time::Instant::now();
    let report =
        drive(session, &AtomicBool::new(false), &mut Recorder::default()).expect("run completes");
    stopper.join().expect("stop sent");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped early");
    let stream = &report.streams[0];
    assert!(stream.counts.frames_sent > 10_000);
    assert_eq!(stream.counts.rx.frames, stream.counts.frames_sent);
    assert!(report.stopped_on_request);
    assert!(!report.interrupted);
    assert!(report.passed(), "{:?}", report.failures());
}

#[test]
fn stream_commands_name_only_the_runs_streams_and_a_dropped_session_detaches() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 10\n{}{}",
        spec.port_tables(),
        spec.stream_table("only", "b", 60, "1kpps")
    );
    let session = prepared(&text);
    let control = session.control();
    let error = control.stop_stream("other").expect_err("no such stream");
    assert_eq!(
        error.to_string(),
        "the run has no stream \"other\"; its streams are: \"only\""
    );
    assert_eq!(control.stream_stopped("other"), None);
    assert_eq!(control.stream_names(), ["only".to_string()]);
    // Never started: dropping it ends the waiting sender and detaches the
    // counter, so the same port can be prepared again at once.
    drop(session);
    let again = prepared(&text);
    let report =
        drive(again, &AtomicBool::new(false), &mut Recorder::default()).expect("run completes");
    assert_eq!(report.streams[0].counts.rx.frames, 10);
}
