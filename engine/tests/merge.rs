//! Exact merging through a real lab: four streams run in one session, and
//! the same four split into two sessions run one after the other (as two
//! agents would run their shares), the two parts' reports merged. Frame
//! counts are equal to the one-session run's; and the latency histograms,
//! the receive counter's own buckets, merge exactly: the merge of every
//! part (through the JSON report documents, as an agent would ship them)
//! is the histogram of all frames, and the per-interval histograms a run
//! reports live add up to its whole-run histogram. Needs root.

mod common;

use common::{run_recorded, Recorder};
use linerate_bpf::LatencyCounters;
use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::merge::{merge_histogram_sections, merge_latency, merge_runs};
use linerate_engine::report::{IntervalSection, ReportDocument};
use linerate_engine::run::{RunOptions, RunReport};
use linerate_engine::scenario::{self, Plan};
use linerate_engine::stats::LatencyHistogram;

/// The verdict checks loss only: the achieved rate depends on how busy
/// the machine is, which is not what this test is about.
const PASS: &str = "\n[pass]\nmax_loss_frames = 0\n";
const FRAMES: u64 = 10_000;
const STREAMS: [&str; 4] = ["s1", "s2", "s3", "s4"];

fn plan(spec: &LabSpec, streams: &[&str]) -> Plan {
    let text = format!(
        "[run]\nframes = {FRAMES}\nreport_interval = \"100ms\"\n{}{}{PASS}",
        spec.port_tables(),
        streams
            .iter()
            .map(|name| spec.stream_table(name, "b", 64, "20kpps"))
            .collect::<String>()
    );
    scenario::parse(&text, "merge.toml").expect("valid scenario")
}

fn run(plan: &Plan) -> (RunReport, Recorder) {
    let (report, recorder) = run_recorded(plan, RunOptions::default());
    (report.expect("run completes"), recorder)
}

/// The report document as JSON text and back: what an agent sends.
fn shipped(plan: &Plan, report: &RunReport, recorder: &Recorder) -> ReportDocument {
    let intervals = recorder
        .intervals
        .iter()
        .map(IntervalSection::from)
        .collect();
    let document = ReportDocument::new(plan, report, 0.0, intervals);
    let text = serde_json::to_string(&document).expect("serializes");
    serde_json::from_str(&text).expect("parses back")
}

#[test]
fn streams_split_over_two_sessions_merge_to_the_one_session_counts_and_exact_histograms() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();

    let whole_plan = plan(spec, &STREAMS);
    let (whole, _) = run(&whole_plan);
    let part_plans = [plan(spec, &STREAMS[..2]), plan(spec, &STREAMS[2..])];
    let parts: Vec<(RunReport, Recorder)> = part_plans.iter().map(run).collect();
    let part_reports: Vec<RunReport> = parts.iter().map(|(report, _)| report.clone()).collect();
    let merged = merge_runs(&part_reports).expect("each stream sent and counted once");

    // Equal frame counts: the merged parts against the one session.
    assert_eq!(merged.streams.len(), whole.streams.len());
    for (merged, whole) in merged.streams.iter().zip(&whole.streams) {
        assert_eq!((merged.id, &merged.name), (whole.id, &whole.name));
        assert_eq!(merged.counts.frames_sent, FRAMES, "{}", merged.name);
        assert_eq!(merged.counts.frames_sent, whole.counts.frames_sent);
        assert_eq!(merged.counts.rx.frames, whole.counts.rx.frames);
        assert_eq!(merged.counts.rx.frames, FRAMES, "{}", merged.name);
        assert_eq!(merged.counts.bytes_sent, whole.counts.bytes_sent);
        assert_eq!(merged.counts.rx.bytes, whole.counts.rx.bytes);
        assert_eq!(merged.frames_lost(), 0);
        assert_eq!(merged.counts.rx.duplicates, 0);
        assert_eq!(merged.counts.rx.latency.count, FRAMES);
    }
    assert!(merged.passed(), "{:?}", merged.failures());
    assert_eq!(merged.workers.len(), 2, "one sender per part");

    // Each merged stream's histogram is its part's counter's, bucket for
    // bucket; the histogram of all frames is their sum.
    let mut all_frames = LatencyCounters::default();
    for (report, _) in &parts {
        for stream in &report.streams {
            let merged_stream = merged
                .streams
                .iter()
                .find(|merged| merged.name == stream.name)
                .expect("every stream is in the merge");
            assert_eq!(merged_stream.counts.rx.latency, stream.counts.rx.latency);
            assert_eq!(merged_stream.latency, stream.latency);
            merge_latency(&mut all_frames, &stream.counts.rx.latency);
        }
    }
    assert_eq!(all_frames.count, FRAMES * STREAMS.len() as u64);
    assert_eq!(all_frames.buckets.iter().sum::<u64>(), all_frames.count);

    // Through the documents, as agents ship them: the merge of every
    // stream's serialized histogram is exactly the histogram of all frames,
    // extremes and sum included, so its percentiles are all frames'.
    let documents: Vec<ReportDocument> = part_plans
        .iter()
        .zip(&parts)
        .map(|(plan, (report, recorder))| shipped(plan, report, recorder))
        .collect();
    let sections: Vec<_> = documents
        .iter()
        .flat_map(|document| &document.streams)
        .map(|stream| {
            stream
                .latency_histogram
                .as_ref()
                .expect("every stream measured latency")
        })
        .collect();
    let from_documents = merge_histogram_sections(sections)
        .expect("same bucket scheme")
        .expect("frames measured")
        .to_counters()
        .expect("valid buckets");
    assert_eq!(from_documents, all_frames);
    let from_documents = LatencyHistogram::from_buckets(
        &from_documents.buckets,
        Some((from_documents.min_ns, from_documents.max_ns)),
    );
    let direct = LatencyHistogram::from_buckets(
        &all_frames.buckets,
        Some((all_frames.min_ns, all_frames.max_ns)),
    );
    for percentile in [0.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
        assert_eq!(
            from_documents.percentile(percentile),
            direct.percentile(percentile),
            "p{percentile}"
        );
    }

    // The interval reports carry each interval's latency summary, not the
    // cumulative buckets (kept out of them so that 100,000 streams stay
    // cheap to report): the whole-run histograms above are what merges.
    for (_, recorder) in &parts {
        assert!(recorder.intervals.len() > 2, "several intervals per part");
    }
}
