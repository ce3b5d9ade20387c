//! Receive capacity of linerate's XDP counter against a bare XDP_DROP
//! program, on the same lab, in one run, the two alternating round by round.
//!
//! The receiving veth's NAPI runs in its own kernel thread (threaded NAPI,
//! pinned to core 0; the sender is pinned to core 1), so the CPU time that
//! thread spends per frame is the receive side's cost alone: capacity is
//! its inverse. linerate sends 64-byte frames at rate max; its own counter
//! sits on the sending port, where nothing arrives, and the program under
//! test on the receiving one. Run as root: `benches/rx_cost.sh`.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use linerate_bpf::{CountedFrames, DropProgram, RxCounter};
use linerate_engine::lab::{self, Lab, LabSpec};
use linerate_engine::netns::{interface_index, NetnsGuard};
use linerate_engine::run::{self, IntervalReport, RunObserver, RunOptions, RunSetup};
use linerate_engine::scenario;

struct Quiet;

impl RunObserver for Quiet {
    fn setup_done(&mut self, _: &RunSetup) {}
    fn interval(&mut self, _: &IntervalReport) {}
}

fn command(program: &str, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("{program}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Frames the interface's XDP program has seen, over every queue (ethtool).
fn xdp_packets(namespace: &str, interface: &str) -> Result<u64, String> {
    let text = command(
        "ip",
        &["netns", "exec", namespace, "ethtool", "-S", interface],
    )?;
    Ok(text
        .lines()
        .filter_map(|line| line.trim().split_once("_xdp_packets:"))
        .filter(|(name, _)| name.starts_with("rx_queue_"))
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum())
}

/// Nanoseconds thread `pid` has run (first field of its schedstat).
fn cpu_ns(pid: i32) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .map_err(|error| format!("schedstat of {pid}: {error}"))?;
    text.split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| format!("schedstat of {pid}: {text}"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|text| text.parse().ok()).unwrap_or(15);
    let seconds: u64 = args.next().and_then(|text| text.parse().ok()).unwrap_or(2);
    let lab = Lab::create(LabSpec::unique()).map_err(|error| error.to_string())?;
    let spec = lab.spec().clone();
    // Core 0 is the receive thread's alone: this process (and the threads
    // it starts) stay on core 1.
    let napi = *lab::threaded_receive(&spec.b, &[0])
        .map_err(|error| error.to_string())?
        .first()
        .ok_or("no NAPI thread on the receiving veth")?;
    lab::pin_thread(0, 1);
    // The run's own counter goes on port a (nothing arrives there); the
    // frames go to b, where the program under test is.
    let text = format!(
        "[run]\nduration = \"{seconds}s\"\ndrain = \"100ms\"\n{}{}",
        spec.port_tables().replacen(
            &format!("namespace = \"{}\"\n", spec.a.namespace),
            &format!("namespace = \"{}\"\ncores = [1]\n", spec.a.namespace),
            1
        ),
        spec.stream_table("load", "a", 60, "max"),
    );
    let plan = scenario::parse(&text, "rx_cost.toml").map_err(|error| error.to_string())?;
    let spec = &spec;

    // The kernel's per-program run time, for the programs' own cost.
    let stats_switch = "/proc/sys/kernel/bpf_stats_enabled";
    let stats_before = std::fs::read_to_string(stats_switch).unwrap_or_default();
    std::fs::write(stats_switch, "1").map_err(|error| format!("{stats_switch}: {error}"))?;
    let result = measure(spec, napi, &plan, rounds, seconds);
    let _ = std::fs::write(stats_switch, stats_before.trim());
    result
}

/// The alternating rounds, and the summary.
fn measure(
    spec: &LabSpec,
    napi: i32,
    plan: &scenario::Plan,
    rounds: usize,
    seconds: u64,
) -> Result<(), String> {
    println!("round  program          frames      rx Mpps   receive ns/frame   capacity Mpps   program ns/frame");
    let mut capacity = [Vec::new(), Vec::new()];
    let mut program_ns = [Vec::new(), Vec::new()];
    let mut path_ns = Vec::new();
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        for (which, name) in ["XDP_DROP", "linerate counter"].iter().enumerate() {
            // What is attached to the receiving port; dropping it detaches.
            let (bare, counter) = {
                let _inside =
                    NetnsGuard::enter(&spec.b.namespace).map_err(|error| error.to_string())?;
                let ifindex = interface_index(&spec.b.interface, Some(&spec.b.namespace))
                    .map_err(|error| error.to_string())?;
                if which == 0 {
                    let mut program = DropProgram::load().map_err(|error| error.to_string())?;
                    program.attach(ifindex).map_err(|error| error.to_string())?;
                    (Some(program), None)
                } else {
                    let mut counter = RxCounter::load(1, CountedFrames::Drop)
                        .map_err(|error| error.to_string())?;
                    counter
                        .attach(ifindex, false)
                        .map_err(|error| error.to_string())?;
                    (None, Some(counter))
                }
            };
            let (frames_before, cpu_before) = (
                xdp_packets(&spec.b.namespace, &spec.b.interface)?,
                cpu_ns(napi)?,
            );
            let program_stats = || {
                match (&bare, &counter) {
                    (Some(bare), _) => bare.run_stats(),
                    (_, Some(counter)) => counter.run_stats(),
                    _ => Ok(Default::default()),
                }
                .map_err(|error| error.to_string())
            };
            let program_before = program_stats()?;
            run::run(
                plan,
                RunOptions::default(),
                &AtomicBool::new(false),
                &mut Quiet,
            )
            .map_err(|error| error.to_string())?;
            let frames = xdp_packets(&spec.b.namespace, &spec.b.interface)? - frames_before;
            let cpu = cpu_ns(napi)? - cpu_before;
            let program_after = program_stats()?;
            let in_program = (program_after.run_time_ns - program_before.run_time_ns) as f64
                / (program_after.run_count - program_before.run_count).max(1) as f64;
            program_ns[which].push(in_program);
            if let Some(counter) = &counter {
                // Every frame the program ran on: linerate's, and any other
                // (passed to the stack).
                let counted = counter.stream_rx(0).map_err(|error| error.to_string())?;
                let totals = counter.totals().map_err(|error| error.to_string())?;
                let seen = counted.frames + totals.frames_passed + totals.frames_unknown_stream;
                if seen != frames {
                    return Err(format!("the counter saw {seen} of {frames} frames"));
                }
            }
            drop((bare, counter));
            let per_frame = cpu as f64 / frames.max(1) as f64;
            capacity[which].push(1e3 / per_frame);
            if which == 0 {
                path_ns.push(per_frame);
            }
            println!(
                "{round:>5}  {name:<16} {frames:>10} {:>10.3} {per_frame:>18.1} {:>15.3} {in_program:>18.1}",
                frames as f64 / seconds as f64 / 1e6,
                1e3 / per_frame
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        ratios.push(capacity[1][round - 1] / capacity[0][round - 1]);
        println!("{round:>5}  ratio {:.3}", ratios[round - 1]);
    }
    let drop_capacity = median(&mut capacity[0]);
    let counter_capacity = median(&mut capacity[1]);
    println!(
        "median receive capacity: XDP_DROP {drop_capacity:.3} Mpps, linerate counter {counter_capacity:.3} Mpps"
    );
    let ratio = median(&mut ratios);
    println!(
        "counter / XDP_DROP, median of the {rounds} rounds' ratios = {ratio:.3}: the counter costs {:.1} % of receive capacity (goal: at most 10 %)",
        (1.0 - ratio) * 100.0
    );
    // The steadier estimate: the receive path's cost per frame with the bare
    // program, and the extra time the counter itself spends per frame.
    let (drop_ns, counter_ns) = (median(&mut program_ns[0]), median(&mut program_ns[1]));
    let path = median(&mut path_ns);
    let estimate = path / (path + counter_ns - drop_ns);
    println!(
        "in the program (kernel run statistics, medians): XDP_DROP {drop_ns:.1} ns/frame, counter {counter_ns:.1} ns/frame; \
         receive path with XDP_DROP {path:.1} ns/frame; capacity ratio from these {estimate:.3}: the counter costs {:.1} %",
        (1.0 - estimate) * 100.0
    );
    Ok(())
}
