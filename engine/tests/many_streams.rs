//! Many streams through a real lab: 10,000 and 100,000 streams at low
//! rates for a few seconds, declared as one stream table with `count`;
//! every stream must send exactly rate x duration frames and receive every
//! one of them. Needs root.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::run::{IntervalReport, RunObserver, RunOptions, RunSetup};
use linerate_engine::scenario;
use linerate_engine::session::{drive, Session};

/// Counts interval reports and remembers when the first came.
#[derive(Default)]
struct Intervals {
    count: usize,
}

impl RunObserver for Intervals {
    fn setup_done(&mut self, _setup: &RunSetup) {}
    fn interval(&mut self, _report: &IntervalReport) {
        self.count += 1;
    }
}

/// Runs `count` streams of `rate` frames/s each for `seconds` through a new
/// lab, copies of one table whose fields move by `step` per copy, and
/// checks every stream's counts exactly.
fn many_streams_arrive_exactly(count: usize, rate: u64, seconds: u64, step: &str) {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let table = spec.stream_table("flow{index}", "b", 60, &format!("{rate}pps"));
    let text = format!(
        // How fast the sender keeps up is the benchmark's business
        // (benches/many_streams.sh), not this test's: it checks counts.
        "[run]\nduration = \"{seconds}s\"\nreport_interval = \"1s\"\n\
         [pass]\nmin_rate_percent = 0\n{}{table}count = {count}\nstep = {{ {step} }}\n",
        spec.port_tables(),
    );
    let parse_started = Instant::now();
    let plan = scenario::parse(&text, "many.toml").expect("valid scenario");
    assert_eq!(plan.streams.len(), count);
    let prepare_started = Instant::now();
    let session = Session::prepare(&plan, RunOptions::default()).expect("prepare");
    let prepared = prepare_started.elapsed();
    eprintln!(
        "{count} streams: parsed in {:?}, prepared in {prepared:?}",
        prepare_started - parse_started
    );
    let mut intervals = Intervals::default();
    let driven = Instant::now();
    let report = drive(session, &AtomicBool::new(false), &mut intervals).expect("run");
    eprintln!(
        "{count} streams: ran and drained in {:?}, {} interval reports",
        driven.elapsed(),
        intervals.count
    );
    let planned = rate * seconds;
    let mut histogram = std::collections::BTreeMap::new();
    for stream in &report.streams {
        *histogram.entry(stream.counts.frames_sent).or_insert(0) += 1;
    }
    eprintln!(
        "sent per stream (frames: streams) {histogram:?}; sending took {:?}; workers {:?}",
        report.send_duration,
        report
            .workers
            .iter()
            .map(|worker| (worker.frames_sent, worker.ring_full_events, worker.wakeups))
            .collect::<Vec<_>>()
    );
    let mut short = 0;
    for stream in &report.streams {
        if stream.counts.frames_sent != planned {
            short += 1;
        }
    }
    assert_eq!(
        short, 0,
        "streams that did not send exactly {planned} frames"
    );
    let short_received: Vec<(&str, u64, u64)> = report
        .streams
        .iter()
        .filter(|stream| stream.counts.rx.frames != stream.counts.frames_sent)
        .map(|stream| {
            (
                stream.name.as_str(),
                stream.counts.frames_sent,
                stream.counts.rx.frames,
            )
        })
        .collect();
    assert!(
        short_received.is_empty(),
        "{} streams received other than they sent (name, sent, received), first: {:?}",
        short_received.len(),
        &short_received[..short_received.len().min(10)]
    );
    for stream in &report.streams {
        assert_eq!(
            stream.counts.rx.frames, stream.counts.frames_sent,
            "{}: received = sent",
            stream.name
        );
        assert_eq!(stream.frames_lost(), 0, "{}", stream.name);
        assert_eq!(stream.counts.rx.duplicates, 0, "{}", stream.name);
    }
    assert_eq!(report.frames_unknown_stream, 0);
    assert!(
        report.passed(),
        "{:?}",
        &report.failures()[..report.failures().len().min(5)]
    );
    assert!(intervals.count >= 1, "interval reports made");
}

#[test]
fn ten_thousand_streams_send_and_receive_exactly() {
    many_streams_arrive_exactly(10_000, 2, 3, "src_port = 1");
}

#[test]
fn a_hundred_thousand_streams_send_and_receive_exactly() {
    // Source ports would run out: one source address per stream instead.
    many_streams_arrive_exactly(100_000, 1, 2, "src_ip = 1");
}
