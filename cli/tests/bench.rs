//! `linerate bench rfc2544` end to end: a scenario without an `[rfc2544]`
//! table is refused in one line; a short suite through a lab prints its
//! tables, writes JSON that validates against docs/rfc2544.schema.json and
//! a CSV row per trial; Ctrl-C abandons the trial in progress, keeps what
//! completed and exits 130. Lab tests need root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use linerate_engine::lab::{Lab, LabSpec};

fn linerate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(args)
        .output()
        .expect("the linerate binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory for one test's files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("linerate-bench-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A suite scenario for `lab`, written to `dir`.
fn suite_scenario(dir: &TempDir, lab: &LabSpec, rfc2544: &str) -> String {
    let path = dir.file("suite.toml");
    let text = format!(
        "[run]\nduration = \"1s\"\n[rfc2544]\n{rfc2544}\n{}{}",
        lab.port_tables(),
        lab.stream_table("a-to-b", "b", 60, "1kpps")
    );
    std::fs::write(&path, text).expect("write scenario");
    path
}

#[test]
fn a_scenario_without_an_rfc2544_table_exits_2_in_one_line() {
    let quickstart = repo_file("scenarios/quickstart.toml");
    let output = linerate(&["bench", "rfc2544", quickstart.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    let error = text(&output.stderr);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains("quickstart.toml: no [rfc2544] table"),
        "{error}"
    );
    assert!(
        text(&output.stdout).is_empty(),
        "nothing printed before the error"
    );
}

#[test]
fn the_shipped_rfc2544_scenario_validates() {
    let shipped = repo_file("scenarios/rfc2544.toml");
    let output = linerate(&["validate", shipped.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_short_suite_prints_tables_and_writes_valid_json_and_a_row_per_trial() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let dir = TempDir::new("short");
    // 512-byte frames up to 20 Mbit/s: the plain lab takes it all, so on a
    // quiet machine each search ends at its first trial.
    let scenario = suite_scenario(
        &dir,
        lab.spec(),
        "frame_sizes = [512]\ntrial_duration = \"300ms\"\nmax_rate = \"20Mbps\"\nresolution = \"5%\"\n\
         trials = 1\nwait_after_trial = \"200ms\"\nback_to_back_max_frames = 100",
    );
    let (json, csv) = (dir.file("suite.json"), dir.file("suite.csv"));
    let output = linerate(&[
        "bench", "rfc2544", &scenario, "--json", &json, "--csv", &csv,
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for table in [
        "Throughput (RFC 2544 26.1)",
        "Latency at the throughput (RFC 2544 26.2)",
        "Frame loss rate (RFC 2544 26.3)",
        "Back-to-back (RFC 2544 26.4)",
    ] {
        assert!(stdout.contains(table), "{table} missing:\n{stdout}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written")).expect("JSON");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("docs/rfc2544.schema.json")).expect("schema file"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|error| format!("{error} at {}", error.instance_path))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    // The schema is not vacuous.
    let mut broken = report.clone();
    broken["trials"][0]["verdict"] = "maybe".into();
    assert!(!validator.is_valid(&broken));

    assert_eq!(report["interrupted"], false);
    assert_eq!(report["throughput"][0]["load"], 1.0, "{stdout}");
    assert_eq!(report["back_to_back"][0]["bursts"][0], 100);
    let trials = report["trials"].as_array().expect("trials").len();
    assert_eq!(
        trials, 5,
        "throughput 1, latency 1, frame loss 2, back-to-back 1"
    );
    let csv = std::fs::read_to_string(&csv).expect("CSV written");
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .expect("header")
        .starts_with("trial,test,frame_size,load"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), trials, "a row per trial (one stream)");
    assert!(
        rows[0].starts_with("1,throughput,512,1.000000,"),
        "{}",
        rows[0]
    );
    let passes = rows.iter().filter(|row| row.contains(",pass,")).count();
    assert!(passes >= 5, "{csv}");
}

#[test]
fn ctrl_c_keeps_the_completed_results_and_exits_130() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let dir = TempDir::new("interrupted");
    let scenario = suite_scenario(
        &dir,
        lab.spec(),
        "frame_sizes = [512, 1518]\ntrial_duration = \"1s\"\nmax_rate = \"20Mbps\"\ntrials = 5\n\
         wait_after_trial = \"200ms\"\ntests = [\"throughput\", \"latency\"]",
    );
    let json = dir.file("partial.json");
    let child = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(["bench", "rfc2544", &scenario, "--json", &json])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("linerate starts");
    // The throughput trial (1 s) and some of the latency trials are done.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    // SAFETY: sending a signal to our own child process.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let output = child.wait_with_output().expect("linerate ends");
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(130),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("interrupted: the results below are those completed"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("partial JSON")).expect("JSON");
    assert_eq!(report["interrupted"], true);
    let trials = report["trials"].as_array().expect("trials");
    assert!(
        !trials.is_empty() && trials.len() < 12,
        "{} trials",
        trials.len()
    );
    // Only whole trials are kept: each sent its full second at its rate.
    for trial in trials {
        let stream = &trial["streams"][0];
        let offered = stream["offered_fps"].as_f64().expect("a rate");
        assert_eq!(
            stream["sent"].as_f64().expect("sent"),
            offered.floor(),
            "{trial}"
        );
    }
    assert_eq!(report["throughput"][0]["frame_size"], 512);
    assert!(
        report["latency"].as_array().expect("latency").is_empty(),
        "latency at 512 B was cut short"
    );
}
