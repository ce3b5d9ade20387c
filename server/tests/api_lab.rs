//! Runs through a real lab (two namespaces and a veth pair) driven over
//! HTTP against a server in this process: the port a run holds refused to
//! a second run naming the holder, stream commands for a stream the run
//! lacks, the report refused while running, metrics accepted by promtool,
//! stop, the events stream of an ended run, and DELETE of a running run
//! detaching everything. Needs root.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, json, TestServer};
use linerate_engine::lab::{Lab, LabSpec};
use serde_json::json as object;

fn scenario(spec: &LabSpec, duration: &str) -> String {
    format!(
        "[run]\nduration = \"{duration}\"\nreport_interval = \"100ms\"\n{}{}",
        spec.port_tables(),
        spec.stream_table("s", "b", 60, "10kpps")
    )
}

/// Polls `GET /runs/{id}` until `done` says so (at most `limit`).
fn wait_for(
    server: &TestServer,
    id: &str,
    limit: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let run = json(
            client()
                .get(server.url(&format!("/runs/{id}")))
                .send()
                .expect("answer"),
            200,
        );
        if done(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "waited too long: {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The id of the XDP program on `interface` in `namespace`, if any.
fn xdp_program_id(namespace: &str, interface: &str) -> Option<u64> {
    let output = Command::new("ip")
        .args(["-j", "-n", namespace, "link", "show", "dev", interface])
        .output()
        .expect("ip runs");
    let links: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("ip -j prints JSON");
    links[0]["xdp"]["prog"]["id"].as_u64()
}

/// `promtool check metrics` on `text`: None when promtool is missing
/// (`make` installs it), else its verdict and output.
fn promtool_check(text: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            eprintln!("SKIPPED promtool check: promtool cannot run ({error}); `make` installs it (Debian package prometheus)");
            return None;
        }
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("promtool reads");
    }
    let output = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some((output.status.success(), said))
}

fn metrics(server: &TestServer) -> String {
    let response = client().get(server.url("/metrics")).send().expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    response.text().expect("text")
}

/// The value of the sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"))
}

#[test]
fn a_run_holds_its_ports_answers_commands_and_metrics_and_stops_on_request() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let server = TestServer::start();
    let http = client();
    let text = scenario(spec, "60s");

    let scenario = json(
        http.post(server.url("/scenarios"))
            .body(text.clone())
            .send()
            .expect("answer"),
        201,
    );
    let run = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario": scenario["id"], "xsk_mode": "copy"}))
            .send()
            .expect("answer"),
        201,
    );
    assert_eq!(run["id"], "run-1");
    assert_eq!(run["state"], "running");
    assert_eq!(run["source"], "sc-1.toml");
    let interface = run["setup"]["tx"][0]["interface"].as_str().expect("text");
    assert!(interface.starts_with(&spec.a.interface), "{interface}");
    assert_eq!(run["setup"]["tx"][0]["xsk_mode"], "copy");
    assert!(run["setup"]["tx"][0]["umem_bytes"].as_u64().expect("bytes") > 0);
    assert_eq!(run["setup"]["rx"][0]["port"], "b");
    assert_eq!(
        run["streams"],
        object!([{"id": 0, "name": "s", "stopped": false}])
    );

    // The same ports again: refused, naming the holder.
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario_toml": text}))
            .send()
            .expect("answer"),
        409,
    );
    assert!(
        error["error"].as_str().expect("message").contains("run-1"),
        "{error}"
    );

    // A stream the run lacks; the report before the end.
    let error = json(
        http.post(server.url("/runs/run-1/streams/nope/stop"))
            .send()
            .expect("answer"),
        404,
    );
    assert_eq!(error["field"], "name");
    assert!(error["error"]
        .as_str()
        .expect("message")
        .starts_with("the run has no stream \"nope\""));
    json(
        http.post(server.url("/runs/run-1/streams/nope/start"))
            .send()
            .expect("answer"),
        404,
    );
    json(
        http.get(server.url("/runs/run-1/report"))
            .send()
            .expect("answer"),
        409,
    );

    // Live stats and metrics once a few intervals have passed.
    std::thread::sleep(Duration::from_millis(600));
    let stats = json(
        http.get(server.url("/runs/run-1/stats"))
            .send()
            .expect("answer"),
        200,
    );
    let sent = stats["interval"]["streams"][0]["tx_frames"]
        .as_u64()
        .expect("a count");
    assert!(sent > 1000, "{stats}");
    let intervals = json(
        http.get(server.url("/runs/run-1/intervals"))
            .send()
            .expect("answer"),
        200,
    );
    assert!(
        intervals.as_array().expect("a list").len() >= 3,
        "{intervals}"
    );
    let live_metrics = metrics(&server);
    assert!(
        sample(
            &live_metrics,
            "linerate_stream_tx_frames_total{run=\"run-1\",stream=\"s\"}"
        ) > 1000.0
    );
    assert_eq!(
        sample(&live_metrics, "linerate_run_running{run=\"run-1\"}"),
        1.0
    );
    assert!(
        live_metrics.contains(
            "linerate_stream_latency_seconds{run=\"run-1\",stream=\"s\",quantile=\"0.99\"}"
        ),
        "{live_metrics}"
    );
    assert!(sample(&live_metrics, "process_resident_memory_bytes") > 1e6);
    // The senders' own counters while the run goes.
    assert!(
        sample(
            &live_metrics,
            "linerate_worker_completions_total{run=\"run-1\",port=\"a\",queue=\"0\"}"
        ) > 1000.0,
        "{live_metrics}"
    );
    assert!(live_metrics
        .contains("linerate_worker_wakeups_total{run=\"run-1\",port=\"a\",queue=\"0\"}"));
    if let Some((accepted, said)) = promtool_check(&live_metrics) {
        assert!(accepted, "promtool: {said}\n{live_metrics}");
    }

    // Stop: the run drains and reports, stopped on request.
    let stopping = json(
        http.post(server.url("/runs/run-1/stop"))
            .send()
            .expect("answer"),
        202,
    );
    assert!(["stopping", "finished"].contains(&stopping["state"].as_str().expect("state")));
    let finished = wait_for(&server, "run-1", Duration::from_secs(15), |run| {
        run["state"] == "finished"
    });
    assert_eq!(finished["verdict"]["stopped_on_request"], true);
    assert_eq!(finished["verdict"]["passed"], true, "{finished}");
    let report = json(
        http.get(server.url("/runs/run-1/report"))
            .send()
            .expect("answer"),
        200,
    );
    let stream = &report["streams"][0];
    assert_eq!(stream["frames_received"], stream["frames_sent"]);
    assert_eq!(
        report["intervals"]
            .as_array()
            .expect("series")
            .last()
            .expect("one")["final"],
        true
    );
    // Commands after the end; the events of an ended run are its end.
    json(
        http.post(server.url("/runs/run-1/streams/s/stop"))
            .send()
            .expect("answer"),
        409,
    );
    let events = http
        .get(server.url("/runs/run-1/events"))
        .send()
        .expect("answer");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let body = events.text().expect("the stream closes after the end");
    assert!(
        body.starts_with("event: end\ndata: {\"state\":\"finished\""),
        "{body}"
    );
    // The senders' own counters once finished; promtool still agrees.
    let final_metrics = metrics(&server);
    assert_eq!(
        sample(&final_metrics, "linerate_run_running{run=\"run-1\"}"),
        0.0
    );
    let completions = sample(
        &final_metrics,
        "linerate_worker_completions_total{run=\"run-1\",port=\"a\",queue=\"0\"}",
    );
    assert_eq!(completions, stream["frames_sent"].as_f64().expect("count"));
    assert_eq!(
        sample(
            &final_metrics,
            "linerate_stream_rx_frames_total{run=\"run-1\",stream=\"s\"}"
        ),
        stream["frames_received"].as_f64().expect("count")
    );
    if let Some((accepted, said)) = promtool_check(&final_metrics) {
        assert!(accepted, "promtool: {said}\n{final_metrics}");
    }

    // The ports are free again: a second run starts; DELETE stops it and
    // everything detaches.
    let second = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario": "sc-1"}))
            .send()
            .expect("answer"),
        201,
    );
    assert_eq!(second["id"], "run-3", "ids are taken by refused runs too");
    assert!(xdp_program_id(&spec.b.namespace, &spec.b.interface).is_some());
    let response = http
        .delete(server.url("/runs/run-3"))
        .send()
        .expect("answer");
    assert_eq!(response.status().as_u16(), 204);
    json(
        http.get(server.url("/runs/run-3")).send().expect("answer"),
        404,
    );
    assert_eq!(xdp_program_id(&spec.b.namespace, &spec.b.interface), None);
    let left: Vec<String> = json(http.get(server.url("/runs")).send().expect("answer"), 200)
        .as_array()
        .expect("a list")
        .iter()
        .map(|run| run["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(left, ["run-1"]);
}

#[test]
fn shutting_the_server_down_stops_every_run_and_writes_its_report() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let dir = std::env::temp_dir().join(format!("linerate-serve-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let server = TestServer::with(None, Some(dir.clone()));
    json(
        client()
            .post(server.url("/runs"))
            .json(&object!({"scenario_toml": scenario(spec, "60s")}))
            .send()
            .expect("answer"),
        201,
    );
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let lines = server.stop();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("run-1: run-1.toml finished: "),
        "{lines:?}"
    );
    assert!(lines[0].contains("verdict PASS"), "{lines:?}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("run-1.json")).expect("the report was written"),
    )
    .expect("JSON");
    assert_eq!(report["verdict"]["stopped_on_request"], true);
    assert_eq!(xdp_program_id(&spec.b.namespace, &spec.b.interface), None);
    let _ = std::fs::remove_dir_all(&dir);
}
