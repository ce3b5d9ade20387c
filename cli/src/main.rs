//! The `linerate` binary: parses arguments (args.rs), turns them into
//! engine calls, prints (output.rs) and maps outcomes to exit codes:
//! 0 pass, 1 fail, 2 bad input or environment, 128 + the signal's number
//! when SIGINT (130) or SIGTERM (143) stopped the run.

mod args;
mod bench;
mod endpoints_output;
mod multihost;
mod output;
mod report;
mod stations_output;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::anyhow;
use clap::Parser;
use linerate_engine::lab::{self, LabSpec};
use linerate_engine::pcap;
use linerate_engine::run::{self, RunOptions};
use linerate_engine::scenario::{self, Plan};
use linerate_engine::tx::{BusyPoll, XskModeRequest};
use linerate_engine::wifi::lab::{self as wifi_lab, LabSecurity, WifiLabSpec};
use linerate_engine::CountedFrames;

use args::{Args, BenchSuite, Command, LabAction, RunArgs, ServeArgs, XskModeArg};

/// The quickstart scenario, built in so that `linerate demo` runs anywhere.
const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");
const QUICKSTART_NAME: &str = "scenarios/quickstart.toml";

const EXIT_PASS: u8 = 0;
const EXIT_FAIL: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// Set by SIGINT and SIGTERM; the run stops sending and reports.
static STOP: AtomicBool = AtomicBool::new(false);
/// The signal that set [`STOP`].
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn request_stop(signal: libc::c_int) {
    STOP_SIGNAL.store(signal, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
}

fn install_stop_handler() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; `signal` replaces the default disposition.
        unsafe {
            libc::signal(
                signal,
                request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match args.command {
        Command::Run(run_args) => command_run(&run_args),
        Command::Validate { files } => command_validate(&files),
        Command::Lab { action } => command_lab(action),
        Command::Pcap {
            file,
            count,
            output,
        } => command_pcap(&file, count, &output),
        Command::Count {
            interface,
            namespace,
            duration,
        } => command_count(interface, namespace, &duration),
        Command::Reflect {
            interface,
            namespace,
            force,
        } => command_reflect(interface, namespace, force),
        Command::Doctor {
            interface,
            namespace,
        } => command_doctor(&interface, namespace.as_deref()),
        Command::Serve(serve_args) => command_serve(&serve_args),
        Command::Bench {
            suite: BenchSuite::Rfc2544(bench_args),
        } => command_bench_rfc2544(&bench_args),
        Command::Demo { scenario } => command_demo(scenario.as_deref()),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("linerate: error: {error}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    scenario::load(path).map_err(|error| anyhow!("{error}"))
}

fn command_validate(files: &[std::path::PathBuf]) -> anyhow::Result<u8> {
    for file in files {
        let plan = load_plan(file)?;
        println!(
            "{}: ok ({} port(s), {} stream(s))",
            file.display(),
            plan.ports.len(),
            plan.streams.len()
        );
    }
    Ok(EXIT_PASS)
}

fn command_pcap(file: &Path, count: u64, output: &Path) -> anyhow::Result<u8> {
    let plan = load_plan(file)?;
    let (plan, _) = run::resolve_router_macs(&plan).map_err(|error| anyhow!("{error}"))?;
    let out = std::fs::File::create(output)
        .map_err(|error| anyhow!("cannot create {}: {error}", output.display()))?;
    let written = pcap::write_plan_frames(&plan, count, std::io::BufWriter::new(out))
        .map_err(|error| anyhow!("{}: {error}", output.display()))?;
    println!(
        "{}: {written} frames from {}",
        output.display(),
        plan.source
    );
    Ok(EXIT_PASS)
}

fn command_count(
    interface: String,
    namespace: Option<String>,
    duration: &str,
) -> anyhow::Result<u8> {
    let duration = scenario::units::parse_duration(duration)
        .map_err(|message| anyhow!("--duration: {message}"))?;
    let port = scenario::PortPlan::on_interface(interface.clone(), interface, namespace);
    require_privileges(port.namespace.is_some())?;
    install_stop_handler();
    println!(
        "counting on {} for {:.1} s",
        port.describe(),
        duration.as_secs_f64()
    );
    let mut previous = (std::time::Duration::ZERO, 0u64);
    let (counts, elapsed) = run::count(
        &port,
        duration,
        std::time::Duration::from_secs(1),
        &STOP,
        &mut |at, counts| {
            let fps = (counts.total() - previous.1) as f64 / (at - previous.0).as_secs_f64();
            println!(
                "{:>7.1}s  {:>12.0} fps  linerate {:>12}  other {:>12}",
                at.as_secs_f64(),
                fps,
                counts.frames_linerate,
                counts.frames_other
            );
            previous = (at, counts.total());
        },
    )
    .map_err(|error| anyhow!("{error}"))?;
    println!(
        "total: {} frames ({} linerate, {} other) in {:.3} s",
        counts.total(),
        counts.frames_linerate,
        counts.frames_other,
        elapsed.as_secs_f64()
    );
    Ok(EXIT_PASS)
}

fn command_reflect(
    interface: String,
    namespace: Option<String>,
    force: bool,
) -> anyhow::Result<u8> {
    let port = scenario::PortPlan {
        reflect: true,
        ..scenario::PortPlan::on_interface(interface.clone(), interface, namespace)
    };
    require_privileges(port.namespace.is_some())?;
    install_stop_handler();
    let (reflector, mode) =
        run::attach_reflector(&port, force).map_err(|error| anyhow!("{error}"))?;
    println!(
        "reflecting linerate frames on {} (XDP in {mode} mode) until Ctrl-C",
        port.describe()
    );
    let started = std::time::Instant::now();
    let mut previous = linerate_engine::ReflectTotals::default();
    let mut next = started + std::time::Duration::from_secs(1);
    while !STOP.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if std::time::Instant::now() < next {
            continue;
        }
        next += std::time::Duration::from_secs(1);
        let totals = reflector.totals().unwrap_or(previous);
        println!(
            "{:>7.1}s  {:>12} fps reflected  reflected {:>12}  passed {:>12}",
            started.elapsed().as_secs_f64(),
            totals.frames_reflected - previous.frames_reflected,
            totals.frames_reflected,
            totals.frames_passed
        );
        previous = totals;
    }
    let totals = reflector.totals().unwrap_or(previous);
    println!(
        "total: {} frames reflected, {} passed, in {:.3} s",
        totals.frames_reflected,
        totals.frames_passed,
        started.elapsed().as_secs_f64()
    );
    Ok(EXIT_PASS)
}

fn command_doctor(interface: &str, namespace: Option<&str>) -> anyhow::Result<u8> {
    require_privileges(namespace.is_some())?;
    let diagnosis = linerate_engine::doctor::diagnose(interface, namespace)
        .map_err(|error| anyhow!("{error}"))?;
    output::print_diagnosis(&diagnosis);
    Ok(EXIT_PASS)
}

fn command_run(run_args: &RunArgs) -> anyhow::Result<u8> {
    let plan = load_plan(&run_args.file)?;
    if plan.has_agents() {
        install_stop_handler();
        let passed = multihost::run(&plan, run_args, &STOP)?;
        return Ok(if passed { EXIT_PASS } else { EXIT_FAIL });
    }
    let options = RunOptions {
        xsk_mode: run_args.xsk_mode.map(|mode| match mode {
            XskModeArg::Auto => XskModeRequest::Auto,
            XskModeArg::Copy => XskModeRequest::Copy,
            XskModeArg::ZeroCopy => XskModeRequest::ZeroCopy,
        }),
        batch_size: run_args.batch,
        release_interval: std::time::Duration::from_micros(u64::from(run_args.release_interval)),
        force_xdp: run_args.force,
        busy_poll: run_args.busy_poll.map(|usecs| BusyPoll {
            usecs,
            budget: run_args.batch,
        }),
        counted_frames: if run_args.rx_pass {
            CountedFrames::Pass
        } else {
            CountedFrames::Drop
        },
        interrupt: Some(&STOP),
    };
    let outputs = ReportFiles {
        json: run_args.json.clone(),
        csv: run_args.csv.clone(),
        html: run_args.html.clone(),
    };
    execute(&plan, options, &outputs, run_args.show as usize)
}

fn command_bench_rfc2544(bench_args: &args::BenchArgs) -> anyhow::Result<u8> {
    let plan = load_plan(&bench_args.file)?;
    if plan.rfc2544.is_none() {
        return Err(anyhow!(
            "{}: no [rfc2544] table; add one (see docs/rfc2544.md), e.g. [rfc2544] trial_duration = \"10s\"",
            plan.source
        ));
    }
    require_privileges(plan.ports.iter().any(|port| port.namespace.is_some()))?;
    let options = RunOptions {
        xsk_mode: bench_args.xsk_mode.map(|mode| match mode {
            XskModeArg::Auto => XskModeRequest::Auto,
            XskModeArg::Copy => XskModeRequest::Copy,
            XskModeArg::ZeroCopy => XskModeRequest::ZeroCopy,
        }),
        force_xdp: bench_args.force,
        ..RunOptions::default()
    };
    install_stop_handler();
    let interrupted = bench::run(
        &plan,
        options,
        &STOP,
        bench_args.json.as_deref(),
        bench_args.csv.as_deref(),
    )?;
    Ok(if interrupted {
        128 + STOP_SIGNAL.load(Ordering::Relaxed).clamp(1, 127) as u8
    } else {
        EXIT_PASS
    })
}

/// Where the machine-readable reports go, if anywhere.
#[derive(Debug, Default)]
struct ReportFiles {
    json: Option<std::path::PathBuf>,
    csv: Option<std::path::PathBuf>,
    html: Option<std::path::PathBuf>,
}

/// Fails with one line naming the missing capabilities, if any.
fn require_privileges(enters_namespaces: bool) -> anyhow::Result<()> {
    let missing = linerate_engine::privilege::missing_for_run(enters_namespaces);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(linerate_engine::privilege::explain(&missing)))
    }
}

/// Runs a plan, prints live lines and the summary (at most `show` streams
/// of them), writes the report files, returns the exit code.
fn execute(
    plan: &Plan,
    options: RunOptions,
    files: &ReportFiles,
    show: usize,
) -> anyhow::Result<u8> {
    require_privileges(plan.ports.iter().any(|port| port.namespace.is_some()))?;
    let mut recorder = report::Recorder::new(
        files.csv.as_deref(),
        files.json.as_deref(),
        files.html.as_deref(),
    )?;
    install_stop_handler();
    println!(
        "linerate {}: {} ({} stream(s), {} port(s))",
        env!("CARGO_PKG_VERSION"),
        plan.source,
        plan.streams.len(),
        plan.ports.len()
    );
    stations_output::print_plan(plan);
    let mut observers = output::Observers {
        printer: output::LivePrinter::new(show),
        recorder: &mut recorder,
    };
    let report =
        run::run(plan, options, &STOP, &mut observers).map_err(|error| anyhow!("{error}"))?;
    output::print_summary(&report, show);
    recorder.finish_csv()?;
    if let Some(path) = &files.json {
        recorder.write_json(path, plan, &report)?;
        println!("report: {}", path.display());
    }
    if let Some(path) = recorder.write_html(plan, &report)? {
        println!("HTML report: {}", path.display());
    }
    Ok(if STOP.load(Ordering::Relaxed) {
        128 + STOP_SIGNAL.load(Ordering::Relaxed).clamp(1, 127) as u8
    } else if report.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

fn command_lab(action: LabAction) -> anyhow::Result<u8> {
    let spec = LabSpec::standard();
    if !matches!(action, LabAction::Status) {
        require_privileges(true)?;
    }
    match action {
        LabAction::Up {
            wifi: Some(radios),
            security,
            ..
        } => {
            let security = LabSecurity::from_name(&security).unwrap_or(LabSecurity::Wpa2);
            let spec = WifiLabSpec::standard(radios).with_security(security);
            wifi_lab::up(&spec).map_err(|error| anyhow!("{error}"))?;
            println!(
                "WiFi lab up: mac80211_hwsim with {} station radio(s) and one AP radio",
                radios
            );
            println!("{spec}");
        }
        LabAction::Up {
            queues,
            mtu,
            router,
            wifi: None,
            ..
        } => {
            let spec = spec.with_queues(queues).with_mtu(mtu);
            let spec = if router { spec.routed() } else { spec };
            let already = lab::is_up(&spec);
            lab::up(&spec).map_err(|error| anyhow!("{error}"))?;
            println!("lab {}", if already { "already up" } else { "up" });
            println!("{spec}");
        }
        LabAction::Down => {
            // The routed lab's namespaces include the plain one's.
            let mut removed = lab::down(&spec.routed()).map_err(|error| anyhow!("{error}"))?;
            if wifi_lab::down(&WifiLabSpec::standard(0)).map_err(|error| anyhow!("{error}"))? {
                println!("WiFi lab removed (hostapd, udhcpd, namespaces, mac80211_hwsim)");
                removed = true;
            }
            println!(
                "{}",
                if removed {
                    "lab removed"
                } else {
                    "no lab to remove"
                }
            );
        }
        LabAction::Status => {
            let routed = spec.clone().routed();
            if lab::is_up(&routed) {
                println!("lab up (routed)\n{routed}");
            } else if lab::is_up(&spec) {
                println!("lab up\n{spec}");
            } else {
                println!("lab down");
            }
            if wifi_lab::is_up() {
                println!(
                    "WiFi lab up\n{}",
                    WifiLabSpec::standard(0).with_security(wifi_lab::security_up())
                );
            }
        }
    }
    Ok(EXIT_PASS)
}

/// Removes the lab on drop, unless it was there before the demo.
struct DemoLab {
    spec: LabSpec,
    remove: bool,
}

impl Drop for DemoLab {
    fn drop(&mut self) {
        if self.remove {
            match lab::down(&self.spec) {
                Ok(_) => println!("lab removed"),
                Err(error) => eprintln!("linerate: error: could not remove the lab: {error}"),
            }
        }
    }
}

fn command_demo(scenario_path: Option<&Path>) -> anyhow::Result<u8> {
    let plan = match scenario_path {
        Some(path) => load_plan(path)?,
        None => scenario::parse(QUICKSTART, QUICKSTART_NAME).map_err(|error| anyhow!("{error}"))?,
    };
    require_privileges(true)?;
    let spec = LabSpec::standard();
    let already = lab::is_up(&spec);
    lab::up(&spec).map_err(|error| anyhow!("{error}"))?;
    let _lab = DemoLab {
        spec: spec.clone(),
        remove: !already,
    };
    println!(
        "lab {}\n{spec}\n",
        if already {
            "already up (left as it is)"
        } else {
            "up"
        }
    );
    execute(
        &plan,
        RunOptions::default(),
        &ReportFiles::default(),
        output::DEFAULT_SHOW as usize,
    )
}

/// `linerate serve`: the HTTP API until SIGINT or SIGTERM, then every run
/// stopped and reported; exits 128 + the signal's number.
fn command_serve(serve_args: &ServeArgs) -> anyhow::Result<u8> {
    let token = match &serve_args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| anyhow!("--token-file {}: {error}", path.display()))?;
            let token = text.trim();
            if token.is_empty() || token.contains(char::is_whitespace) {
                return Err(anyhow!(
                    "--token-file {}: put the token on one line, without spaces",
                    path.display()
                ));
            }
            Some(token.to_string())
        }
        None => None,
    };
    if !serve_args.listen.ip().is_loopback() && token.is_none() {
        return Err(anyhow!(
            "--listen {} is reachable from other machines: give --token-file FILE so that every request needs the token, or listen on 127.0.0.1",
            serve_args.listen
        ));
    }
    require_privileges(true)?;
    let exit = linerate_server::serve_until_signal(linerate_server::ServeOptions {
        listen: serve_args.listen,
        token,
        report_dir: serve_args.report_dir.clone(),
        clock_state: serve_args.clock_state.clone(),
    })
    .map_err(|error| anyhow!("{error}"))?;
    for line in &exit.stopped_runs {
        println!("{line}");
    }
    Ok(128 + exit.signal.clamp(1, 127) as u8)
}
