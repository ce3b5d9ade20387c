//! The `linerate` binary end to end: exit codes and messages for bad input,
//! and real runs through a lab (two namespaces and a veth pair). Lab tests
//! need root.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::xdp_program_id;
use linerate_engine::lab::{Lab, LabSpec};

fn linerate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(args)
        .output()
        .expect("the linerate binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scenario file in a fresh temporary directory, removed on drop.
struct TempScenario {
    dir: PathBuf,
    path: PathBuf,
}

impl TempScenario {
    fn new(name: &str, text: &str) -> TempScenario {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("linerate-cli-{}-{serial}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write scenario");
        TempScenario { dir, path }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }
}

impl Drop for TempScenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn scenario_for(lab: &LabSpec, frames: u64, rate: &str, rx_port: &str) -> String {
    format!(
        "[run]\nframes = {frames}\nreport_interval = \"200ms\"\ndrain = \"500ms\"\n{}{}",
        lab.port_tables(),
        lab.stream_table("cli", rx_port, 128, rate)
    )
}

#[test]
fn bad_scenario_exits_2_naming_file_line_and_field() {
    let text = std::fs::read_to_string(repo_file("scenarios/quickstart.toml"))
        .expect("quickstart exists")
        .replacen("src_ip = \"198.18.0.1\"", "src_ip = \"198.18.0.999\"", 1);
    let line = text[..text.find("198.18.0.999").expect("edited")]
        .matches('\n')
        .count()
        + 1;
    let scenario = TempScenario::new("bad.toml", &text);
    for command in ["run", "validate"] {
        let output = linerate(&[command, scenario.path()]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        let expected = format!("{}:{line}:", scenario.path());
        assert!(
            message.contains(&expected),
            "{command}: {message:?} should contain {expected:?}"
        );
        assert!(message.contains("stream[0].src_ip"), "{message}");
        assert!(message.contains("invalid IP address"), "{message}");
        assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    }
}

#[test]
fn missing_scenario_file_exits_2() {
    let output = linerate(&["run", "/nonexistent/scenario.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/scenario.toml: cannot read"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn shipped_scenarios_validate() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_file("scenarios")).expect("scenarios/ exists") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|ext| ext.to_str()) != Some("toml") {
            continue;
        }
        let output = linerate(&["validate", path.to_str().expect("utf-8")]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            stderr(&output)
        );
        checked += 1;
    }
    assert!(checked >= 1, "no scenarios checked");
}

#[test]
fn run_through_a_lab_passes_with_exact_counts() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let scenario = TempScenario::new("run.toml", &scenario_for(lab.spec(), 30_000, "60kpps", "b"));
    let output = linerate(&["run", scenario.path()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert!(text.contains("AF_XDP copy mode"), "{text}");
    assert!(
        text.contains("XDP counter in driver (native XDP) mode"),
        "{text}"
    );
    let summary = summary_line(&text, "cli");
    let fields: Vec<&str> = summary.split_whitespace().collect();
    assert_eq!(&fields[1..4], &["30000", "30000", "0"], "{summary}");
    assert!(text.contains("verdict: PASS"), "{text}");
}

/// Fails unless `output` exited with `code`, showing what it printed.
fn expect_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The stream's line in the summary's counts table (the first after
/// "summary:" that starts with its name).
fn summary_line<'a>(text: &'a str, stream: &str) -> &'a str {
    text.lines()
        .skip_while(|line| !line.starts_with("summary:"))
        .find(|line| line.split_whitespace().next() == Some(stream))
        .unwrap_or_else(|| panic!("no summary line for {stream}: {text}"))
}

#[test]
fn frames_that_never_arrive_fail_with_exit_1() {
    // The stream is counted on its own sending port, where none of its
    // frames arrive: every frame is lost, and the verdict says so.
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let scenario = TempScenario::new("lost.toml", &scenario_for(lab.spec(), 2_000, "20kpps", "a"));
    let output = linerate(&["run", scenario.path()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}\n{}", stderr(&output));
    assert!(text.contains("verdict: FAIL"), "{text}");
    assert!(
        text.contains("stream \"cli\": lost 2000 of 2000 frames (max_loss_frames = 0)"),
        "{text}"
    );
}

#[test]
fn unknown_interface_exits_2_and_lists_the_real_ones() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = scenario_for(spec, 10, "1kpps", "b").replacen(
        &format!("interface = \"{}\"", spec.a.interface),
        "interface = \"eth-missing\"",
        1,
    );
    let scenario = TempScenario::new("noif.toml", &text);
    let output = linerate(&["run", scenario.path()]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("no interface \"eth-missing\""),
        "{message}"
    );
    assert!(
        message.contains(&spec.a.interface),
        "lists what exists: {message}"
    );
}

#[test]
fn lab_up_twice_and_down_twice_are_not_errors() {
    // Uses the standard lab names, as a user would: skip nothing, but make
    // sure the standard lab is not already in use by a person on this machine.
    let standard = LabSpec::standard();
    assert!(
        !linerate_engine::lab::is_up(&standard),
        "the standard lab is up already; run `linerate lab down` first"
    );
    struct Down;
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = linerate_engine::lab::down(&LabSpec::standard());
        }
    }
    let _down = Down;
    let first = linerate(&["lab", "up"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("198.18.0.1/24"),
        "{}",
        stdout(&first)
    );
    let second = linerate(&["lab", "up"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stdout(&second).contains("already up"));
    assert!(linerate_engine::lab::is_up(&standard));
    assert_eq!(linerate(&["lab", "down"]).status.code(), Some(0));
    let again = linerate(&["lab", "down"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("no lab to remove"));
    assert!(!linerate_engine::lab::is_up(&standard));
}

/// Stops a 10-second run with `signal` part way; it must exit with
/// `code`, print the partial summary and write the partial JSON report,
/// both marked interrupted, every frame sent before the stop counted.
fn stopped_run_reports_partial_results(signal: libc::c_int, code: i32) {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    // 10 s of sending unless interrupted.
    let scenario = TempScenario::new(
        "long.toml",
        &scenario_for(lab.spec(), 500_000, "50kpps", "b"),
    );
    let json_path = scenario.dir.join("partial.json");
    let child = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args([
            "run",
            scenario.path(),
            "--json",
            json_path.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("linerate starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0);
    let output = child.wait_with_output().expect("linerate ends");
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{text}\n{}",
        stderr(&output)
    );
    assert!(text.contains("INTERRUPTED: partial results"), "{text}");
    let summary = summary_line(&text, "cli");
    let fields: Vec<u64> = summary
        .split_whitespace()
        .skip(1)
        .take(3)
        .map(|f| f.parse().expect("number"))
        .collect();
    assert!(
        fields[0] > 10_000 && fields[0] < 500_000,
        "stopped part way: {summary}"
    );
    assert_eq!(
        fields[0], fields[1],
        "every frame sent before the stop arrives: {summary}"
    );
    assert_eq!(fields[2], 0, "{summary}");
    // The partial report is written too, marked as interrupted.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("partial report"))
            .expect("JSON");
    assert_eq!(report["verdict"]["interrupted"], true);
    assert_eq!(report["streams"][0]["frames_sent"], fields[0]);
}

#[test]
fn ctrl_c_stops_sending_and_reports_partial_results() {
    stopped_run_reports_partial_results(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_sending_and_reports_partial_results() {
    stopped_run_reports_partial_results(libc::SIGTERM, 143);
}

#[test]
fn macgen_pcap_has_valid_checksums_and_the_swept_sets_per_tshark() {
    // 70,000 frames: past the 65,025 MACs (so they wrap) and past the
    // 65,278 source and destination IPs of the seed-like scenario.
    let dir = TempScenario::new("unused.toml", "");
    let pcap = dir.dir.join("macgen.pcap");
    let scenario = repo_file("scenarios/macgen.toml");
    let output = linerate(&[
        "pcap",
        scenario.to_str().expect("utf-8"),
        "--count",
        "70000",
        "--output",
        pcap.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let fields = Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().expect("utf-8"),
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args([
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
        ])
        .args([
            "-e",
            "eth.src",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
        ])
        .output()
        .expect("tshark runs (make test installs it)");
    assert!(fields.status.success(), "{}", stderr(&fields));
    let text = stdout(&fields);
    let mut frames = 0;
    let (mut macs, mut sources, mut destinations) =
        (HashSet::new(), HashSet::new(), HashSet::new());
    for line in text.lines() {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 8, "{line}");
        // Wireshark's checksum status: 1 is "Good" (0 bad, 2 unverified).
        assert_eq!(&columns[..3], &["1514", "1", "1"], "frame {frames}: {line}");
        assert_eq!(columns[6], "", "malformed frame {frames}: {line}");
        assert_eq!(columns[7], "", "expert info on frame {frames}: {line}");
        macs.insert(columns[3].to_string());
        sources.insert(columns[4].to_string());
        destinations.insert(columns[5].to_string());
        frames += 1;
    }
    assert_eq!(frames, 70_000);
    assert_eq!(macs.len(), 65_025);
    assert!(
        macs.contains("00:01:00:00:00:00") && macs.contains("00:01:00:00:fe:00"),
        "first and last MAC"
    );
    assert_eq!((sources.len(), destinations.len()), (65_278, 65_278));
    assert!(sources.contains("10.26.0.1") && sources.contains("10.26.254.254"));
    assert!(destinations.contains("10.27.0.1") && destinations.contains("10.27.254.254"));
}

#[test]
fn busy_poll_is_applied_and_reported_and_the_report_names_each_worker() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let scenario = TempScenario::new("busy.toml", &scenario_for(lab.spec(), 5_000, "20kpps", "b"));
    let output = linerate(&["run", "--busy-poll", "20", scenario.path()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert!(text.contains("busy-poll 20 µs"), "{text}");
    assert!(
        text.contains("tx  port a queue 0 (copy mode): 5000 frames, 5000 completions"),
        "{text}"
    );
    assert!(
        text.contains("rx  port b counted by XDP in driver (native XDP) mode"),
        "{text}"
    );
}

#[test]
fn count_sees_another_senders_frames_and_names_a_missing_interface() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let counter = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args([
            "count",
            "--interface",
            &spec.b.interface,
            "--namespace",
            &spec.b.namespace,
            "--duration",
            "3s",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("linerate count starts");
    std::thread::sleep(std::time::Duration::from_millis(700));
    // A linerate run counted on its own sending port, so that the receiving
    // port is free for `count`: its 5,000 frames arrive at `count`.
    let scenario = TempScenario::new("send.toml", &scenario_for(spec, 5_000, "20kpps", "a"));
    let sender = linerate(&["run", scenario.path()]);
    assert_eq!(
        sender.status.code(),
        Some(1),
        "counted on the wrong port on purpose: {}",
        stdout(&sender)
    );
    let output = counter.wait_with_output().expect("count ends");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("total: ") && text.contains("(5000 linerate,"),
        "{text}"
    );

    let missing = linerate(&[
        "count",
        "--interface",
        "eth-missing",
        "--namespace",
        &spec.b.namespace,
        "--duration",
        "1s",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no interface \"eth-missing\""),
        "{}",
        stderr(&missing)
    );
}

/// Every property name in a JSON schema, recursively.
fn schema_property_names(schema: &serde_json::Value, names: &mut HashSet<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            for value in map.values() {
                schema_property_names(value, names);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                schema_property_names(item, names);
            }
        }
        _ => {}
    }
}

#[test]
fn json_report_validates_against_the_documented_schema_and_csv_has_every_interval() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let text = format!(
        "{}[stream.fault]\nkind = \"repeat\"\nevery = 100\n[pass]\nmax_duplicates = 200\nmax_latency = [{{ percentile = 99.9, max = \"1s\" }}]\n",
        scenario_for(lab.spec(), 20_000, "20kpps", "b")
    );
    let scenario = TempScenario::new("report.toml", &text);
    let json_path = scenario.dir.join("report.json");
    let csv_path = scenario.dir.join("report.csv");
    let output = linerate(&[
        "run",
        scenario.path(),
        "--json",
        json_path.to_str().expect("utf-8"),
        "--csv",
        csv_path.to_str().expect("utf-8"),
    ]);
    expect_exit(&output, 0);

    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("docs/report.schema.json")).expect("schema file"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    assert!(
        !scenario.dir.join("report.json.intervals").exists(),
        "the interval series' side file is removed once spliced in"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("report written"))
            .expect("the report is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|error| format!("{} at {}", error, error.instance_path))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");

    // The schema is not vacuous: a report without its verdict, or with a
    // negative count, is refused.
    let mut broken = report.clone();
    broken.as_object_mut().expect("object").remove("verdict");
    assert!(!validator.is_valid(&broken));
    let mut broken = report.clone();
    broken["streams"][0]["frames_lost"] = serde_json::json!(-1);
    assert!(!validator.is_valid(&broken));

    // The numbers are the run's.
    let stream = &report["streams"][0];
    assert_eq!(stream["frames_sent"], 20_000);
    assert_eq!(stream["frames_received"], 20_000);
    assert_eq!(stream["duplicates"], 200);
    assert_eq!(stream["faults_injected"]["repeated"], 200);
    assert_eq!(stream["frames_lost"], 0);
    assert!(stream["latency_ns"]["p50"].as_u64().expect("p50") > 0);
    assert_eq!(report["verdict"]["passed"], true);
    assert_eq!(report["scenario"]["pass"]["max_duplicates"], 200);
    let intervals = report["intervals"].as_array().expect("intervals");
    assert!(
        intervals.len() >= 4,
        "1 s at 200 ms intervals, and the final one"
    );
    assert_eq!(intervals.last().expect("final")["final"], true);
    assert!(
        intervals
            .iter()
            .all(|interval| interval["resident_bytes"].as_u64() > Some(1 << 20)),
        "resident memory in every interval"
    );

    // One CSV row per stream per interval, the same intervals.
    let csv = std::fs::read_to_string(&csv_path).expect("csv written");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), intervals.len());
    assert!(rows.iter().all(|row| row.len() == header.len()));
    let rx_frames = header
        .iter()
        .position(|name| *name == "rx_frames")
        .expect("rx_frames");
    assert_eq!(rows.last().expect("final row")[rx_frames], "20000");

    // The README documents every field of the schema.
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("README");
    let mut names = HashSet::new();
    schema_property_names(&schema, &mut names);
    let undocumented: Vec<&String> = names
        .iter()
        .filter(|name| !readme.contains(&format!("`{name}`")))
        .collect();
    assert!(undocumented.is_empty(), "README lacks {undocumented:?}");
}

#[test]
fn sigkill_leaves_no_xdp_program_or_map_behind() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let scenario = TempScenario::new("killed.toml", &scenario_for(spec, 500_000, "50kpps", "b"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(["run", scenario.path()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("linerate starts");
    // Wait for the counter to be attached, and note what it holds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let program = loop {
        if let Some(id) = xdp_program_id(&spec.b.namespace, &spec.b.interface) {
            break linerate_bpf::introspect::program_info(id).expect("the attached program");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the counter was never attached"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(program.name, "linerate_rx");
    assert!(program.map_ids.len() >= 4, "{program:?}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // The bpf_link died with the process: nothing attached, and the
    // kernel frees the program and its maps (asynchronously, so poll).
    assert_eq!(xdp_program_id(&spec.b.namespace, &spec.b.interface), None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let program_left = linerate_bpf::introspect::program_info(program.id).is_some();
        let maps_left: Vec<u32> = program
            .map_ids
            .iter()
            .copied()
            .filter(|id| linerate_bpf::introspect::map_exists(*id))
            .collect();
        if !program_left && maps_left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: program {program_left}, maps {maps_left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The next run starts cleanly on the same ports.
    let again = TempScenario::new("again.toml", &scenario_for(spec, 2_000, "20kpps", "b"));
    let output = linerate(&["run", again.path()]);
    expect_exit(&output, 0);
}

#[test]
fn another_xdp_program_on_the_port_is_named_and_force_detaches_it() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    // Another tool's program on the receiving port, through its own link.
    let mut other = linerate_bpf::DropProgram::load().expect("load the drop program");
    {
        let _inside = linerate_engine::netns::NetnsGuard::enter(&spec.b.namespace)
            .expect("enter the namespace");
        let ifindex =
            linerate_engine::netns::interface_index(&spec.b.interface, Some(&spec.b.namespace))
                .expect("interface");
        other.attach(ifindex).expect("attach the other program");
    }
    let other_id =
        xdp_program_id(&spec.b.namespace, &spec.b.interface).expect("the other program is on");
    let scenario = TempScenario::new("busy.toml", &scenario_for(spec, 2_000, "20kpps", "b"));

    let output = linerate(&["run", scenario.path()]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    for words in [
        "another XDP program is already attached",
        "\"xdp_drop_all\"",
        &format!("id {other_id}"),
        "--force",
        &spec.b.interface,
    ] {
        assert!(message.contains(words), "{words:?} in {message}");
    }
    assert_eq!(
        xdp_program_id(&spec.b.namespace, &spec.b.interface),
        Some(other_id),
        "refusing leaves the other program where it was"
    );

    let output = linerate(&["run", scenario.path(), "--force"]);
    expect_exit(&output, 0);
    assert_eq!(
        summary_line(&stdout(&output), "cli")
            .split_whitespace()
            .nth(2),
        Some("2000")
    );
    assert_eq!(xdp_program_id(&spec.b.namespace, &spec.b.interface), None);
}

#[test]
fn rates_above_the_link_speed_are_refused_naming_both() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    // veth says 10000 Mbit/s; 20 Gbit/s of 1514-byte frames is refused
    // before anything is sent.
    let text = format!(
        "[run]\nframes = 1000\n{}{}",
        spec.port_tables(),
        spec.stream_table("fast", "b", 1514, "20Gbps")
    );
    let scenario = TempScenario::new("fast.toml", &text);
    let output = linerate(&["run", scenario.path()]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    for words in [
        "port \"a\"",
        "20000.0 Mbit/s at L1",
        "above the link speed",
        &spec.a.interface,
        "10000 Mbit/s",
        "lower their rates",
    ] {
        assert!(message.contains(words), "{words:?} in {message}");
    }
    assert!(!stdout(&output).contains("summary"), "nothing was sent");
}

#[test]
fn without_privileges_the_missing_capabilities_are_named() {
    // Scenario as the quickstart's (namespaces): checked before anything else.
    let scenario = TempScenario::new(
        "unprivileged.toml",
        &std::fs::read_to_string(repo_file("scenarios/quickstart.toml")).expect("quickstart"),
    );
    for args in [vec!["run", scenario.path()], vec!["lab", "up"]] {
        let output = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                env!("CARGO_BIN_EXE_linerate"),
            ])
            .args(&args)
            .output()
            .expect("setpriv runs (util-linux)");
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "one line: {message}");
        for words in [
            "needs root",
            "CAP_NET_ADMIN",
            "CAP_BPF",
            "CAP_SYS_ADMIN",
            "run it as root",
        ] {
            assert!(message.contains(words), "{args:?}: {words:?} in {message}");
        }
    }
}

#[test]
fn doctor_reports_what_the_kernel_says_about_a_port() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let output = linerate(&[
        "doctor",
        &spec.a.interface,
        "--namespace",
        &spec.a.namespace,
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    for words in [
        "driver    veth",
        "MTU 1500, speed 10000 Mbit/s",
        "native XDP",
        "AF_XDP zero-copy: no (copy mode)",
        "attached  no XDP program",
        "advice:",
        "has no AF_XDP zero-copy",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    let output = linerate(&["doctor", "eth-missing", "--namespace", &spec.a.namespace]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("no interface \"eth-missing\"") && message.contains(&spec.a.interface),
        "{message}"
    );
}
