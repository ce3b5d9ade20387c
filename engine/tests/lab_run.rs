//! Runs through a real lab: two network namespaces joined by a veth pair,
//! frames sent by the AF_XDP sender and counted by the XDP receive program.
//! Counts are checked exactly. Needs root.

use std::sync::atomic::AtomicBool;

use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::run::{run, IntervalReport, RunObserver, RunOptions, RunReport, RunSetup};
use linerate_engine::scenario;
use linerate_engine::tx::XskMode;

#[derive(Default)]
struct Recorder {
    setup: Option<RunSetup>,
    intervals: Vec<IntervalReport>,
}

impl RunObserver for Recorder {
    fn setup_done(&mut self, setup: &RunSetup) {
        self.setup = Some(setup.clone());
    }
    fn interval(&mut self, report: &IntervalReport) {
        self.intervals.push(report.clone());
    }
}

fn run_text(text: &str) -> (RunReport, Recorder) {
    let plan = scenario::parse(text, "test.toml").expect("valid scenario");
    let mut recorder = Recorder::default();
    let stop = AtomicBool::new(false);
    let report = run(&plan, RunOptions::default(), &stop, &mut recorder).expect("run completes");
    (report, recorder)
}

#[test]
fn known_frame_count_arrives_exactly() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 25000\nreport_interval = \"100ms\"\n{}{}",
        spec.port_tables(),
        spec.stream_table("exact", "b", 60, "50kpps")
    );
    let (report, recorder) = run_text(&text);
    let stream = &report.streams[0];
    assert_eq!(stream.counts.frames_sent, 25_000);
    assert_eq!(stream.counts.frames_received, 25_000);
    assert_eq!(stream.counts.bytes_received, 25_000 * 60);
    assert_eq!(stream.frames_lost, 0);
    assert!(report.passed(), "{:?}", report.failures());
    assert!(!report.interrupted);
    let setup = recorder.setup.expect("setup reported");
    assert_eq!(
        setup.tx_ports[0].mode,
        XskMode::Copy,
        "veth has no zero-copy: the fallback is used"
    );
    assert!(!recorder.intervals.is_empty(), "interval lines reported");
    // 25,000 frames at 50 kpps take half a second.
    let seconds = report.send_duration.as_secs_f64();
    assert!((0.45..0.6).contains(&seconds), "sent in {seconds} s");
}

#[test]
fn several_streams_are_counted_apart() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nframes = 8000\n{}{}{}{}",
        spec.port_tables(),
        spec.stream_table("small", "b", 60, "40kpps"),
        spec.stream_table("large", "b", 1514, "20kpps"),
        spec.stream_table("silent", "b", 128, "0")
    );
    let (report, _) = run_text(&text);
    let counts: Vec<(u64, u64, u64)> = report
        .streams
        .iter()
        .map(|stream| {
            (
                stream.counts.frames_sent,
                stream.counts.frames_received,
                stream.counts.bytes_received,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            (8000, 8000, 8000 * 60),
            (8000, 8000, 8000 * 1514),
            (0, 0, 0)
        ]
    );
    assert!(report.passed(), "{:?}", report.failures());
}
