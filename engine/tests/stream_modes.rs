//! Stream modes, IMIX and rates in % of the line through real labs: K
//! bursts of N frames arrive exactly (sent = received = K × N) with the
//! gaps between them seen by an independent capture; a single burst, a
//! start delay and a stop time give exact counts; an IMIX stream's sizes
//! are exact per cycle in the pcap `linerate pcap` writes and in the bytes
//! received; "10%" of veth's 10 Gbit/s sends at the right frame rate.
//! Needs root.

mod common;

use std::sync::{Mutex, MutexGuard, PoisonError};

use common::{capture, is_linerate_frame, run_recorded, run_text};
use linerate_engine::frame::{SizeMix, SIMPLE_IMIX};
use linerate_engine::lab::{Lab, LabSpec};
use linerate_engine::run::RunOptions;
use linerate_engine::scenario;
use linerate_engine::CountedFrames;

/// The tests here check timing; two senders at once on a small machine
/// hold each other up, so they take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stream table with extra keys after the lab's own.
fn stream_with(spec: &LabSpec, name: &str, size: usize, rate: &str, extra: &str) -> String {
    format!("{}{extra}\n", spec.stream_table(name, "b", size, rate))
}

#[test]
fn k_bursts_of_n_frames_arrive_exactly_with_the_gaps_between_them() {
    let _turn = turn();
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let (bursts, frames) = (5_usize, 200_usize);
    let text = format!(
        "[run]\nduration = \"3s\"\n{}{}",
        spec.port_tables(),
        stream_with(
            spec,
            "bursty",
            60,
            "100kpps",
            "mode = { bursts = 5, frames = 200, gap = \"100ms\" }"
        )
    );
    let plan = scenario::parse(&text, "bursts.toml").expect("valid scenario");
    let (ready, captured) = capture(
        spec.b.namespace.clone(),
        spec.b.interface.clone(),
        bursts * frames,
    );
    ready.recv().expect("capture ready");
    let options = RunOptions {
        counted_frames: CountedFrames::Pass,
        ..RunOptions::default()
    };
    let (report, _) = run_recorded(&plan, options);
    let report = report.expect("run completes");
    let stream = &report.streams[0];
    assert_eq!(
        stream.counts.frames_sent,
        (bursts * frames) as u64,
        "K x N sent"
    );
    assert_eq!(
        stream.counts.rx.frames,
        (bursts * frames) as u64,
        "K x N received"
    );
    assert_eq!(stream.frames_lost(), 0);
    // The achieved rate is the rate within the bursts: the gaps are not
    // counted against it, so the default verdict passes.
    let percent = stream.rate_percent().expect("a paced stream");
    assert!(
        (90.0..=103.0).contains(&percent),
        "rate {percent} % of target"
    );
    assert!(report.passed(), "{:?}", report.failures());

    let mut times: Vec<u64> = captured
        .join()
        .expect("capture thread")
        .iter()
        .filter(|frame| is_linerate_frame(&frame.bytes))
        .map(|frame| frame.rx_realtime_ns)
        .collect();
    assert_eq!(times.len(), bursts * frames, "the capture saw every frame");
    times.sort_unstable();
    let gaps: Vec<u64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let long: Vec<usize> = gaps
        .iter()
        .enumerate()
        .filter(|(_, gap)| **gap > 50_000_000)
        .map(|(index, _)| index)
        .collect();
    assert_eq!(
        long,
        [199, 399, 599, 799],
        "a long gap after every 200th frame, and nowhere else"
    );
    // Bursts start a period apart: 2 ms of burst plus the 100 ms gap,
    // counted from the start so that no lateness accumulates.
    let starts: Vec<u64> = [0, 200, 400, 600, 800].iter().map(|i| times[*i]).collect();
    for (index, start) in starts.iter().enumerate() {
        let offset = (start - starts[0]) as f64 / 1e6;
        let expected = index as f64 * 102.0;
        assert!(
            (offset - expected).abs() < 15.0,
            "burst {index} started at {offset} ms, expected {expected} ms"
        );
    }
    // Each burst lasts about 200 frames at 100 kpps: 2 ms (give or take a
    // busy machine's few ms), against 100 ms of gap.
    let first_burst = times[199] - times[0];
    assert!(
        (1_000_000..=10_000_000).contains(&first_burst),
        "first burst took {first_burst} ns"
    );
}

#[test]
fn a_single_burst_a_start_delay_and_a_stop_time_give_exact_counts() {
    let _turn = turn();
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nduration = \"2s\"\nreport_interval = \"100ms\"\n{}{}{}",
        spec.port_tables(),
        stream_with(spec, "burst", 60, "50kpps", "mode = { burst = 5000 }"),
        stream_with(
            spec,
            "window",
            60,
            "10kpps",
            "start_delay = \"500ms\"\nstop_after = \"700ms\""
        ),
    );
    let (report, recorder) = run_text(&text);
    let burst = &report.streams[0];
    let window = &report.streams[1];
    assert_eq!(burst.counts.frames_sent, 5000);
    assert_eq!(burst.counts.rx.frames, 5000);
    assert_eq!(window.counts.frames_sent, 7000, "10 kpps for 700 ms");
    assert_eq!(window.counts.rx.frames, 7000);
    // The achieved rate leaves the start delay out; at least the default
    // verdict's 90 % (a busy machine holds a sender up for a few ms).
    for stream in [burst, window] {
        let percent = stream.rate_percent().expect("a paced stream");
        assert!(
            (90.0..=103.0).contains(&percent),
            "{}: rate {percent} % of target",
            stream.name
        );
    }
    assert!(report.passed(), "{:?}", report.failures());
    // The delayed stream sent nothing before its start, about half by
    // 1 s, and stopped at its stop time, not at the run's 2 s.
    let sent_by = |elapsed: f64| {
        recorder
            .intervals
            .iter()
            .filter(|interval| !interval.is_final && interval.elapsed.as_secs_f64() <= elapsed)
            .map(|interval| interval.streams[1].totals.frames_sent)
            .max()
            .unwrap_or(0)
    };
    assert_eq!(sent_by(0.45), 0, "nothing before the start delay");
    let by_one_second = sent_by(1.0);
    assert!(
        (3_500..=6_500).contains(&by_one_second),
        "sent {by_one_second} by 1 s, about 5,000"
    );
    assert!(
        report.send_duration < std::time::Duration::from_millis(1_400),
        "sending ended at {:?}, at the stop time (1.2 s)",
        report.send_duration
    );
}

#[test]
fn imix_is_exact_per_cycle_in_the_pcap_and_on_the_receive_side() {
    let _turn = turn();
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let cycles = 1000_u64;
    let text = format!(
        "[run]\nframes = {}\n{}{}",
        12 * cycles,
        spec.port_tables(),
        spec.stream_table("imix", "b", 60, "50kpps")
            .replace("frame_size = 60", "frame_size = { imix = \"simple\" }"),
    );
    let plan = scenario::parse(&text, "imix.toml").expect("valid scenario");

    // The pcap `linerate pcap` writes: 100 cycles, each exactly 7:4:1.
    let mut pcap = Vec::new();
    let written =
        linerate_engine::pcap::write_plan_frames(&plan, 1200, &mut pcap).expect("pcap written");
    assert_eq!(written, 1200);
    let sizes = pcap_frame_sizes(&pcap);
    assert_eq!(sizes.len(), 1200);
    for cycle in sizes.chunks(12) {
        let count = |size| cycle.iter().filter(|len| **len == size).count();
        assert_eq!((count(60), count(590), count(1514)), (7, 4, 1), "{cycle:?}");
    }

    let (report, _) = run_text(&text);
    let stream = &report.streams[0];
    let mix = SizeMix::new(&SIMPLE_IMIX).expect("valid mix");
    assert_eq!(stream.counts.frames_sent, 12 * cycles);
    assert_eq!(stream.counts.rx.frames, 12 * cycles);
    assert_eq!(stream.counts.bytes_sent, mix.cycle_bytes() * cycles);
    assert_eq!(
        stream.counts.rx.bytes,
        mix.cycle_bytes() * cycles,
        "bytes received = the cycle's bytes x cycles"
    );
}

/// The captured length of every record of a pcap file.
fn pcap_frame_sizes(pcap: &[u8]) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let captured = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().expect("4 bytes"));
        sizes.push(captured as usize);
        at += 16 + captured as usize;
    }
    sizes
}

#[test]
fn ten_percent_of_veths_ten_gigabits_sends_the_right_frame_rate() {
    let _turn = turn();
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    // 1518 bytes on the wire, 1538 at L1: 10 % of 10 Gbit/s is 81,274 fps.
    let expected_fps = 10e9 * 0.10 / (1538.0 * 8.0);
    let frames = 81_274_u64;
    let text = format!(
        "[run]\nframes = {frames}\n{}{}",
        spec.port_tables(),
        spec.stream_table("share", "b", 1514, "10%"),
    );
    let (report, _) = run_text(&text);
    let stream = &report.streams[0];
    assert!(
        (stream.target_fps - expected_fps).abs() < 1.0,
        "target {} fps",
        stream.target_fps
    );
    assert_eq!(stream.counts.frames_sent, frames);
    assert_eq!(stream.counts.rx.frames, frames, "every frame arrived");
    let achieved = stream.tx_fps / expected_fps;
    assert!(
        (0.99..=1.01).contains(&achieved),
        "achieved {} fps of {expected_fps}",
        stream.tx_fps
    );
}
