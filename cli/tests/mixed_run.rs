//! One run drives UDP streams and endpoints on kernel sockets together
//! (TCP both ways, ping, File-IO), through the `linerate` binary and a real
//! lab: exact frame counts, TCP bytes equal at both ends, every ping
//! answered, every file verified, endpoint lines live and in the summary,
//! and the JSON report (valid against the schema) carrying the endpoints in
//! its intervals and at the end. An unreachable ping fails the verdict.
//! Needs root.

use std::process::{Command, Output};

use linerate_engine::lab::{Lab, LabSpec};

fn run(text: &str, json: &std::path::Path) -> Output {
    let dir = json.parent().expect("a directory");
    let scenario = dir.join("mixed.toml");
    std::fs::write(&scenario, text).expect("write scenario");
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args([
            "run",
            scenario.to_str().expect("utf-8"),
            "--json",
            json.to_str().expect("utf-8"),
            "--csv",
            dir.join("report.csv").to_str().expect("utf-8"),
        ])
        .output()
        .expect("the linerate binary runs")
}

fn scenario(spec: &LabSpec, files: &std::path::Path, ping_to: &str) -> String {
    format!(
        "[run]\nduration = \"3s\"\nreport_interval = \"500ms\"\n{ports}{stream}\n\
         [[tcp]]\nname = \"cx\"\na = {{ port = \"a\", address = \"198.18.0.1\", rate = \"20Mbps\" }}\n\
         b = {{ port = \"b\", address = \"198.18.0.2\", rate = \"10Mbps\" }}\n\n\
         [[ping]]\nname = \"gw\"\ndestination = \"{ping_to}\"\nport = \"a\"\ninterval = \"250ms\"\ntimeout = \"3s\"\n\n\
         [[file_io]]\nname = \"disk\"\ndirectory = \"{dir}\"\nmin_size = 2048\nmax_size = 65536\nrate = \"8Mbps\"\n",
        ports = spec.port_tables(),
        stream = spec.stream_table("udp", "b", 60, "10kpps"),
        dir = files.display()
    )
}

#[test]
fn streams_and_endpoints_run_together_in_one_report() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let work = tempfile::tempdir().expect("temp dir");
    let files = work.path().join("files");
    std::fs::create_dir(&files).expect("files dir");
    let json = work.path().join("report.json");
    let output = run(&scenario(lab.spec(), &files, "198.18.0.2"), &json);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Live lines for every kind, and their summary lines.
    for needle in ["tcp  cx", "ping gw", "file disk", "verdict: PASS"] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }

    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report written"))
            .expect("JSON");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json"),
        )
        .expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| error.to_string())
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:?}");

    let udp = &document["streams"][0];
    assert_eq!(udp["frames_sent"], 30_000);
    assert_eq!(udp["frames_received"], 30_000);

    let endpoints = &document["endpoints"];
    let tcp = &endpoints["tcp"][0];
    for direction in ["a_to_b", "b_to_a"] {
        let sent = tcp[direction]["sent_bytes"].as_u64().expect("sent");
        assert!(sent > 0, "{direction} sent nothing");
        assert_eq!(
            tcp[direction]["received_bytes"].as_u64(),
            Some(sent),
            "{direction}: bytes sent = bytes received"
        );
    }
    let ping = &endpoints["ping"][0];
    let sent = ping["sent"].as_u64().expect("pings sent");
    assert!(sent >= 10, "{sent} pings in 3 s at 250 ms");
    assert_eq!(ping["replies"].as_u64(), Some(sent), "every ping answered");
    let file_io = &endpoints["file_io"][0];
    assert!(file_io["files_written"].as_u64().expect("files") > 0);
    assert_eq!(file_io["files_read"], file_io["files_written"]);
    assert_eq!(file_io["verify_failures"], 0);

    // Every interval carries the endpoints' counters, growing.
    let intervals = document["intervals"].as_array().expect("intervals");
    let tcp_bytes: Vec<u64> = intervals
        .iter()
        .map(|interval| {
            interval["endpoints"]["tcp"][0]["a_to_b"]["received_bytes"]
                .as_u64()
                .expect("endpoints in every interval")
        })
        .collect();
    assert!(tcp_bytes.len() >= 5, "{tcp_bytes:?}");
    assert!(tcp_bytes.windows(2).all(|pair| pair[0] <= pair[1]));
    assert!(tcp_bytes.first() < tcp_bytes.last());

    // The endpoints' CSV: one row per counter per endpoint per interval,
    // the last interval's equal to the JSON report's final counters.
    let csv = std::fs::read_to_string(work.path().join("report.endpoints.csv"))
        .expect("the endpoints' CSV beside --csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("elapsed_s,interval_s,final,kind,endpoint,counter,value")
    );
    let final_value = |kind: &str, endpoint: &str, counter: &str| -> Option<u64> {
        csv.lines()
            .rev()
            .find(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                fields.len() == 7
                    && fields[2] == "true"
                    && fields[3] == kind
                    && fields[4] == endpoint
                    && fields[5] == counter
            })
            .and_then(|line| line.rsplit(',').next()?.parse().ok())
    };
    assert_eq!(
        final_value("tcp", "cx", "a_to_b.received_bytes"),
        tcp["a_to_b"]["received_bytes"].as_u64()
    );
    assert_eq!(
        final_value("ping", "gw", "replies"),
        ping["replies"].as_u64()
    );
    assert_eq!(
        final_value("file_io", "disk", "files_written"),
        file_io["files_written"].as_u64()
    );
    let rows = csv.lines().filter(|line| line.contains(",tcp,cx,")).count();
    assert!(rows >= 5 * 4, "{rows} TCP rows over the intervals");
}

#[test]
fn an_unreachable_ping_fails_the_run_naming_the_endpoint() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let work = tempfile::tempdir().expect("temp dir");
    let files = work.path().join("files");
    std::fs::create_dir(&files).expect("files dir");
    let json = work.path().join("report.json");
    // An unused address in the lab subnet: no ARP answer.
    let output = run(&scenario(lab.spec(), &files, "198.18.0.99"), &json);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "stdout:\n{text}");
    let verdict = text
        .split("verdict: FAIL")
        .nth(1)
        .expect("a failed verdict");
    assert!(verdict.contains("\"gw\""), "{verdict}");
    assert!(verdict.contains("unreachable"), "{verdict}");
}
