//! `linerate serve` end to end, the binary on a free loopback port (killed
//! by pid on drop) and a real lab: the whole workflow over HTTP (scenario,
//! run, events, one stream stopped and started again, report) matching
//! `linerate run --json` for the same scenario; SIGINT and SIGTERM stopping
//! every run with its report kept; SIGKILL leaving nothing attached; the
//! Python example's workflow passing and failing; refused options. Lab
//! tests need root.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::serve::{client, json, ServeProcess};
use common::xdp_program_id;
use linerate_engine::lab::{Lab, LabSpec};
use serde_json::{json as object, Value};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "linerate-serve-{tag}-{}-{serial}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn two_streams(spec: &LabSpec, run: &str, pass: &str) -> String {
    format!(
        "[run]\n{run}\nreport_interval = \"200ms\"\n{}{}{}{pass}",
        spec.port_tables(),
        spec.stream_table("steady", "b", 60, "10kpps"),
        spec.stream_table("toggled", "b", 60, "10kpps")
    )
}

/// Reads a run's events stream on a thread: (event name, data) pairs until
/// the stream closes.
fn read_events(url: String) -> std::thread::JoinHandle<Vec<(String, Value)>> {
    std::thread::spawn(move || {
        let response = client().get(url).send().expect("the events stream");
        assert_eq!(response.status().as_u16(), 200);
        let mut events = Vec::new();
        let mut name = String::new();
        for line in std::io::BufReader::new(response).lines() {
            let line = line.expect("a line");
            if let Some(event) = line.strip_prefix("event: ") {
                name = event.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                events.push((
                    name.clone(),
                    serde_json::from_str(data).expect("one line of JSON"),
                ));
            }
        }
        events
    })
}

fn stream_tx(server: &ServeProcess, run: &str, index: usize) -> u64 {
    let stats = json(
        client()
            .get(server.url(&format!("/runs/{run}/stats")))
            .send()
            .expect("answer"),
        200,
    );
    stats["interval"]["streams"][index]["tx_frames"]
        .as_u64()
        .expect("a count")
}

#[test]
fn the_whole_workflow_over_http_matches_run_json_for_the_same_scenario() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let dir = TempDir::new("workflow");
    let text = two_streams(spec, "frames = 40000", "");
    let server = ServeProcess::start(&[]);
    let http = client();

    let scenario = json(
        http.post(server.url("/scenarios?name=workflow.toml"))
            .body(text.clone())
            .send()
            .expect("answer"),
        201,
    );
    let run = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario": scenario["id"]}))
            .send()
            .expect("answer"),
        201,
    );
    let id = run["id"].as_str().expect("id").to_string();
    let events = read_events(server.url(&format!("/runs/{id}/events")));

    // One stream stopped: its frames stop while the other's go on; then
    // started again, it resumes.
    std::thread::sleep(Duration::from_millis(800));
    let stopped = json(
        http.post(server.url(&format!("/runs/{id}/streams/toggled/stop")))
            .send()
            .expect("answer"),
        200,
    );
    assert_eq!(stopped, object!({"name": "toggled", "stopped": true}));
    std::thread::sleep(Duration::from_millis(400));
    let (paused_at, steady_at) = (stream_tx(&server, &id, 1), stream_tx(&server, &id, 0));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        stream_tx(&server, &id, 1),
        paused_at,
        "a stopped stream sends nothing"
    );
    assert!(
        stream_tx(&server, &id, 0) > steady_at + 4000,
        "the other goes on"
    );
    let info = json(
        http.get(server.url(&format!("/runs/{id}")))
            .send()
            .expect("answer"),
        200,
    );
    assert_eq!(info["streams"][1]["stopped"], true);
    let started = json(
        http.post(server.url(&format!("/runs/{id}/streams/toggled/start")))
            .send()
            .expect("answer"),
        200,
    );
    assert_eq!(started["stopped"], false);
    std::thread::sleep(Duration::from_millis(600));
    assert!(stream_tx(&server, &id, 1) > paused_at + 3000, "it resumed");

    // The events: intervals, then the end; the stream closes.
    let events = events.join().expect("events read");
    let intervals = events.iter().filter(|(name, _)| name == "interval").count();
    assert!(intervals >= 3, "{intervals} interval events");
    let (last_name, end) = events.last().expect("events");
    assert_eq!(last_name, "end");
    assert_eq!(end["state"], "finished");
    assert_eq!(end["verdict"]["passed"], true, "{end}");
    // Stop on an ended run changes nothing.
    let stopped = json(
        http.post(server.url(&format!("/runs/{id}/stop")))
            .send()
            .expect("answer"),
        202,
    );
    assert_eq!(stopped["state"], "finished");

    // The report: valid against the schema, exact counts, the same as
    // `linerate run --json` gives for the same scenario.
    let report = json(
        http.get(server.url(&format!("/runs/{id}/report")))
            .send()
            .expect("answer"),
        200,
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("docs/report.schema.json")).expect("schema"),
    )
    .expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let problems: Vec<String> = validator
        .iter_errors(&report)
        .map(|error| format!("{error} at {}", error.instance_path))
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(report["scenario"]["source"], "workflow.toml");
    assert!(report["intervals"].as_array().expect("series").len() >= 3);
    let scenario_file = dir.file("workflow.toml", &text);
    let json_file = dir.0.join("run.json");
    let output = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args([
            "run",
            scenario_file.to_str().expect("utf-8"),
            "--json",
            json_file.to_str().expect("utf-8"),
        ])
        .output()
        .expect("linerate run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&std::fs::read(&json_file).expect("the CLI's report"))
        .expect("JSON");
    let counts = |document: &Value| -> Vec<Value> {
        document["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .map(|stream| {
                object!([
                    stream["name"],
                    stream["frames_sent"],
                    stream["bytes_sent"],
                    stream["frames_received"],
                    stream["frames_lost"],
                    stream["duplicates"],
                    stream["late"],
                    stream["missing_below_highest"]
                ])
            })
            .collect()
    };
    assert_eq!(counts(&report), counts(&cli));
    for stream in report["streams"].as_array().expect("streams") {
        assert_eq!(
            (
                stream["frames_sent"].as_u64(),
                stream["frames_received"].as_u64()
            ),
            (Some(40_000), Some(40_000)),
            "{stream}"
        );
        assert_eq!(stream["frames_lost"], 0);
    }
    assert_eq!(report["verdict"]["stopped_on_request"], false);
    assert_eq!(cli["verdict"], report["verdict"]);

    let response = http
        .delete(server.url(&format!("/runs/{id}")))
        .send()
        .expect("answer");
    assert_eq!(response.status().as_u16(), 204);
}

#[test]
fn sigint_and_sigterm_stop_every_run_keep_its_report_and_exit_128_plus_the_signal() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let reports = TempDir::new("signals");
        let server = ServeProcess::start(&["--report-dir", reports.0.to_str().expect("utf-8")]);
        let text = two_streams(spec, "duration = \"60s\"", "");
        json(
            client()
                .post(server.url("/runs"))
                .json(&object!({"scenario_toml": text}))
                .send()
                .expect("answer"),
            201,
        );
        std::thread::sleep(Duration::from_millis(600));
        let started = Instant::now();
        let output = server.signal_and_wait(signal);
        assert!(started.elapsed() < Duration::from_secs(15));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout
            .lines()
            .find(|line| line.starts_with("run-1: run-1.toml finished: "))
            .unwrap_or_else(|| panic!("no summary line: {stdout}"));
        assert!(
            line.contains("verdict PASS") && line.contains("run-1.json"),
            "{line}"
        );
        let report: Value = serde_json::from_slice(
            &std::fs::read(reports.0.join("run-1.json")).expect("the report was kept"),
        )
        .expect("JSON");
        assert_eq!(report["verdict"]["stopped_on_request"], true);
        let sent = report["streams"][0]["frames_sent"].as_u64().expect("count");
        assert!(sent > 4000, "{sent}");
        assert_eq!(report["streams"][0]["frames_received"].as_u64(), Some(sent));
        assert_eq!(
            xdp_program_id(&spec.b.namespace, &spec.b.interface),
            None,
            "detached"
        );
    }
}

#[test]
fn sigkill_on_serve_leaves_nothing_attached_and_the_ports_run_again() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let server = ServeProcess::start(&[]);
    let long = two_streams(spec, "duration = \"60s\"", "");
    json(
        client()
            .post(server.url("/runs"))
            .json(&object!({"scenario_toml": long}))
            .send()
            .expect("answer"),
        201,
    );
    assert!(xdp_program_id(&spec.b.namespace, &spec.b.interface).is_some());
    std::thread::sleep(Duration::from_millis(300));
    drop(server); // SIGKILL
    assert_eq!(xdp_program_id(&spec.b.namespace, &spec.b.interface), None);
    let again = ServeProcess::start(&[]);
    let short = two_streams(spec, "frames = 2000", "");
    let run = json(
        client()
            .post(again.url("/runs"))
            .json(&object!({"scenario_toml": short}))
            .send()
            .expect("answer"),
        201,
    );
    let events =
        read_events(again.url(&format!("/runs/{}/events", run["id"].as_str().expect("id"))));
    let events = events.join().expect("events read");
    let (_, end) = events.last().expect("the end");
    assert_eq!(end["verdict"]["passed"], true, "{end}");
}

#[test]
fn the_python_example_runs_the_seed_workflow_and_exits_1_on_a_failed_criterion() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let dir = TempDir::new("python");
    let server = ServeProcess::start(&[]);
    let script = repo_file("examples/python/seed_workflow.py");
    let run_script = |scenario: &Path| {
        Command::new("python3")
            .arg(&script)
            .args([
                "--url",
                &server.base,
                "--scenario",
                scenario.to_str().expect("utf-8"),
                "--stream",
                "toggled",
                "--pause",
                "0.7",
            ])
            .output()
            .expect("python3 runs (Debian package python3)")
    };
    let passing = dir.file("pass.toml", &two_streams(spec, "duration = \"30s\"", ""));
    let output = run_script(&passing);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("stream toggled stopped")
            && stdout.contains("stream toggled started again"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nPASS\n") && stdout.contains("run-1 deleted"),
        "{stdout}"
    );

    let failing = dir.file(
        "fail.toml",
        &two_streams(
            spec,
            "duration = \"30s\"",
            "\n[pass]\nmax_latency = [{ percentile = 50, max = \"1ns\" }]\n",
        ),
    );
    let output = run_script(&failing);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fail = stdout
        .lines()
        .find(|line| line.starts_with("FAIL: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(fail.contains("latency"), "{fail}");
    assert!(stdout.contains("run-2 deleted"), "{stdout}");
    // Cleaned up: the server has no runs left.
    assert_eq!(
        json(
            client().get(server.url("/runs")).send().expect("answer"),
            200
        ),
        object!([])
    );
}

#[test]
fn serve_refuses_a_non_loopback_address_without_a_token_and_an_empty_token_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(["serve", "--listen", "0.0.0.0:18080"])
        .output()
        .expect("linerate runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--token-file"), "{stderr}");

    let dir = TempDir::new("token");
    let empty = dir.file("token", "  \n");
    let output = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            empty.to_str().expect("utf-8"),
        ])
        .output()
        .expect("linerate runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--token-file") && stderr.contains("one line"),
        "{stderr}"
    );
}
