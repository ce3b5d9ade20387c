//! A multi-host run on one machine: three agents (`linerate serve`), each
//! started inside its own network namespace and reached by the coordinator
//! (`linerate run` with `[[agent]]` tables) over a control veth to the root
//! namespace; data veths join the namespaces in a ring, and streams go
//! 1→2, 2→3 and 3→1, each sent by one agent and counted by another.
//! Checked: each of the four pre-traffic errors (wrong token, unreachable
//! agent, agent of another version, a port its agent lacks) is one line;
//! every stream's counts are exact and equal to the same scenario run on
//! one host; the merged histograms equal the union of the agents' own
//! results; the start skew is measured and under 1 ms; an agent refuses a
//! start time already past; Ctrl-C on the coordinator stops every agent
//! (the report interrupted, counts exact); killing an agent
//! mid-run ends the coordinator within 2 s with a failed verdict naming it
//! and the others' results kept. Also: the merged interval series and the
//! `--csv`/`--html` files written from it; cross-agent one-way latency on
//! CLOCK_TAI with bound 0 on one host, and with declared clock states
//! (`linerate serve --clock-state`) a bound of the two agents' sum or the
//! latency refused (and a `[pass]` latency limit refused before traffic);
//! `linerate serve` as the coordinator, one stream stopped and started
//! over its API and a run stopped over it. Needs root. Everything it creates
//! (namespaces, veths, agent processes) goes in drop guards.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use linerate_engine::merge::merge_histogram_sections;
use linerate_engine::report::LatencyHistogramSection;
use serde_json::Value;

const FRAMES: u64 = 5_000;
const TOKEN: &str = "multihost-test-token";
const NAMES: [&str; 3] = ["one", "two", "three"];
/// Streams: name, sending namespace index, receiving namespace index.
const STREAMS: [(&str, usize, usize); 3] = [("s12", 0, 1), ("s23", 1, 2), ("s31", 2, 0)];

fn run_ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The namespaces, their control veths and data ring; deleted on drop
/// (deleting a namespace deletes the veths in it and their peers).
struct Net {
    namespaces: Vec<String>,
    /// The agents' control addresses (inside their namespaces).
    agent_addresses: Vec<String>,
}

impl Net {
    fn create() -> Net {
        let pid = std::process::id() % 100_000;
        let namespaces: Vec<String> = (1..=3).map(|k| format!("lrtest-mh{pid}-{k}")).collect();
        let octet = 200 + pid % 50;
        let mut net = Net {
            namespaces: Vec::new(),
            agent_addresses: Vec::new(),
        };
        for (index, namespace) in namespaces.iter().enumerate() {
            run_ip(&["netns", "add", namespace]);
            net.namespaces.push(namespace.clone());
            let root_side = format!("lrmc{pid}{}", index + 1);
            let root_address = format!("198.18.{octet}.{}/30", 4 * index + 1);
            let agent_address = format!("198.18.{octet}.{}", 4 * index + 2);
            run_ip(&[
                "link", "add", &root_side, "type", "veth", "peer", "name", "ctl", "netns",
                namespace,
            ]);
            run_ip(&["addr", "add", &root_address, "dev", &root_side]);
            run_ip(&["link", "set", &root_side, "up"]);
            run_ip(&[
                "-n",
                namespace,
                "addr",
                "add",
                &format!("{agent_address}/30"),
                "dev",
                "ctl",
            ]);
            run_ip(&["-n", namespace, "link", "set", "ctl", "up"]);
            run_ip(&["-n", namespace, "link", "set", "lo", "up"]);
            net.agent_addresses.push(agent_address);
        }
        for (_, from, to) in STREAMS {
            let (here, there) = (interface(from, to), interface(to, from));
            run_ip(&[
                "link",
                "add",
                &here,
                "netns",
                &namespaces[from],
                "type",
                "veth",
                "peer",
                "name",
                &there,
                "netns",
                &namespaces[to],
            ]);
            for (index, name, peer) in [(from, &here, to), (to, &there, from)] {
                let namespace = &namespaces[index];
                run_ip(&[
                    "-n",
                    namespace,
                    "link",
                    "set",
                    name,
                    "address",
                    &mac(index, peer),
                ]);
                run_ip(&["-n", namespace, "link", "set", name, "up"]);
            }
        }
        // Addresses on the 1-2 link, for a ping endpoint beside the streams.
        run_ip(&[
            "-n",
            &namespaces[0],
            "addr",
            "add",
            "10.77.12.1/24",
            "dev",
            "d12",
        ]);
        run_ip(&[
            "-n",
            &namespaces[1],
            "addr",
            "add",
            "10.77.12.2/24",
            "dev",
            "d21",
        ]);
        net
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for namespace in &self.namespaces {
            let _ = Command::new("ip")
                .args(["netns", "del", namespace])
                .status();
        }
    }
}

/// Namespace `from`'s data interface towards `to`: d12, d21, ...
fn interface(from: usize, to: usize) -> String {
    format!("d{}{}", from + 1, to + 1)
}

fn mac(from: usize, to: usize) -> String {
    format!("02:00:00:00:0{}:0{}", from + 1, to + 1)
}

/// The agent processes, killed by pid on drop.
struct Agents {
    children: Vec<Option<Child>>,
    urls: Vec<String>,
}

impl Agents {
    /// Starts one agent per namespace; agent i declares its clock state in
    /// `clock_states[i]` when there is one (`--clock-state`), else asks
    /// chrony/linuxptp as on a real host.
    fn start(net: &Net, token_file: &Path, clock_states: &[Option<PathBuf>]) -> Agents {
        let mut agents = Agents {
            children: Vec::new(),
            urls: Vec::new(),
        };
        for (index, (namespace, address)) in
            net.namespaces.iter().zip(&net.agent_addresses).enumerate()
        {
            let listen = format!("{address}:18080");
            let mut command = Command::new("ip");
            command
                .args(["netns", "exec", namespace])
                .arg(env!("CARGO_BIN_EXE_linerate"))
                .args(["serve", "--listen", &listen, "--token-file"])
                .arg(token_file);
            if let Some(Some(file)) = clock_states.get(index) {
                command.arg("--clock-state").arg(file);
            }
            let child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("linerate serve starts");
            agents.children.push(Some(child));
            agents.urls.push(format!("http://{listen}"));
        }
        let client = client();
        for url in &agents.urls {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let ready = client
                    .get(format!("{url}/agent"))
                    .bearer_auth(TOKEN)
                    .send()
                    .is_ok_and(|response| response.status().is_success());
                if ready {
                    break;
                }
                assert!(Instant::now() < deadline, "agent at {url} never answered");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        agents
    }

    /// Kills agent `index` (SIGKILL) and reaps it.
    fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.children[index].take() {
            child.kill().expect("kill the agent");
            child.wait().expect("reap the agent");
        }
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client")
}

/// The scenario: `[[agent]]` tables when `agents` is given (ports on their
/// agents, no namespace: each agent runs inside its own), else the same
/// ports with their namespaces for one host.
fn scenario(
    run: &str,
    agents: Option<&[(String, String, PathBuf)]>,
    namespaces: &[String],
) -> String {
    let mut text = format!("[run]\n{run}\n\n[pass]\nmax_loss_frames = 0\n");
    if let Some(agents) = agents {
        for (name, url, token_file) in agents {
            text.push_str(&format!(
                "\n[[agent]]\nname = \"{name}\"\nurl = \"{url}\"\ntoken_file = \"{}\"\n",
                token_file.display()
            ));
        }
    }
    for (_, from, to) in STREAMS {
        for (index, peer) in [(from, to), (to, from)] {
            text.push_str(&format!(
                "\n[[port]]\nname = \"p{}{}\"\ninterface = \"{}\"\n",
                index + 1,
                peer + 1,
                interface(index, peer)
            ));
            match agents {
                Some(_) => text.push_str(&format!("agent = \"{}\"\n", NAMES[index])),
                None => text.push_str(&format!("namespace = \"{}\"\n", namespaces[index])),
            }
        }
    }
    for (name, from, to) in STREAMS {
        text.push_str(&format!(
            "\n[[stream]]\nname = \"{name}\"\ntx = \"p{f}{t}\"\nrx = \"p{t}{f}\"\n\
             src_mac = \"{}\"\ndst_mac = \"{}\"\nsrc_ip = \"10.9.{f}.1\"\ndst_ip = \"10.9.{t}.1\"\n\
             src_port = 9000\ndst_port = 9000\nframe_size = 128\nrate = \"5kpps\"\n",
            mac(from, to),
            mac(to, from),
            f = from + 1,
            t = to + 1,
        ));
    }
    text
}

fn linerate_run(dir: &Path, file: &str, text: &str) -> (Output, Option<Value>) {
    linerate_run_with(dir, file, text, &[])
}

/// `linerate run FILE --json FILE.json` with `extra` arguments.
fn linerate_run_with(
    dir: &Path,
    file: &str,
    text: &str,
    extra: &[&std::ffi::OsStr],
) -> (Output, Option<Value>) {
    let path = dir.join(file);
    std::fs::write(&path, text).expect("write the scenario");
    let json = dir.join(format!("{file}.json"));
    let _ = std::fs::remove_file(&json);
    let output = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .arg("run")
        .arg(&path)
        .arg("--json")
        .arg(&json)
        .args(extra)
        .output()
        .expect("linerate run runs");
    let report = std::fs::read(&json)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).expect("the report is JSON"));
    (output, report)
}

/// `linerate run PATH --json JSON` started in the background, its output
/// piped (for a test that signals or kills something while it runs).
fn spawn_coordinator(path: &Path, json: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .arg("run")
        .arg(path)
        .arg("--json")
        .arg(json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the coordinator starts")
}

/// A run that passed: exit 0 (else both outputs shown); its stdout.
fn assert_passed(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A one-line error before traffic: exit 2, one line on stderr holding `needle`.
fn assert_one_line_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} in: {stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("tx "),
        "no traffic started"
    );
}

/// A fake agent of another version on loopback: answers one request.
fn old_agent() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking");
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    let body = r#"{"version":"0.0.0-old","ports":[],"clock":{"source":"none","offset_ns":null,"synchronized":false}}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (url, handle)
}

/// An endpoint runs on the agent of the port it is on: a `[[ping]]` on
/// agent one's port p12 pings agent two's end of the link while the
/// streams run, and its results are in the merged report beside them. A
/// `[[tcp]]` with its sides on two agents, an endpoint placed without a
/// port, and `[[file_io]]` are refused before traffic, one line each.
fn endpoints_on_their_ports_agents(dir: &Path, agent_tables: &[(String, String, PathBuf)]) {
    let ping_table = "\n[[ping]]\nname = \"one-to-two\"\ndestination = \"10.77.12.2\"\nport = \"p12\"\ninterval = \"250ms\"\ntimeout = \"2s\"\n";
    let text = scenario("duration = \"3s\"", Some(agent_tables), &[]) + ping_table;
    let csv = dir.join("ping.csv");
    let (output, report) = linerate_run_with(
        dir,
        "ping.toml",
        &text,
        &["--csv".as_ref(), csv.as_os_str()],
    );
    assert_passed(&output);
    let report = report.expect("the report");
    let pings = report["endpoints"]["ping"]
        .as_array()
        .expect("ping results");
    assert_eq!(pings.len(), 1, "run once, by agent one: {pings:?}");
    let ping = &pings[0];
    assert_eq!(ping["name"], "one-to-two");
    let sent = ping["sent"].as_u64().expect("sent");
    println!("ping endpoint on agent one: {ping}");
    assert!(sent >= 8, "about 12 pings in 3 s: {ping}");
    assert_eq!(ping["replies"], sent, "{ping}");
    let intervals = report["intervals"].as_array().expect("intervals");
    let last = intervals.last().expect("an interval");
    assert_eq!(
        last["endpoints"]["ping"].as_array().map(Vec::len),
        Some(1),
        "the endpoint in the merged intervals: {last}"
    );
    for (name, _, _) in STREAMS {
        let merged = stream(&report, name);
        assert_eq!(merged["frames_received"], merged["frames_sent"], "{name}");
    }
    // The endpoints' CSV beside the streams' one, as for a local run.
    let rows = std::fs::read_to_string(dir.join("ping.endpoints.csv")).expect("endpoints CSV");
    assert!(rows.starts_with("elapsed_s,interval_s,final,kind,endpoint,counter,value"));
    assert!(
        rows.lines()
            .any(|row| row.contains(",true,ping,one-to-two,replies,")
                && row.ends_with(&format!(",{sent}"))),
        "{rows}"
    );

    let tcp = "\n[[tcp]]\nname = \"cx\"\na = { port = \"p12\", address = \"10.77.12.1\", rate = \"1Mbps\" }\nb = { port = \"p21\", address = \"10.77.12.2\", rate = \"1Mbps\" }\n";
    let text = scenario("duration = \"3s\"", Some(agent_tables), &[]) + tcp;
    let (output, _) = linerate_run(dir, "tcp.toml", &text);
    assert_one_line_error(&output, "tcp[0].b.port");
    assert_one_line_error(&output, "put both sides on ports of one agent");
    let unplaced = ping_table.replace("port = \"p12\"", "namespace = \"x\"\ninterface = \"d12\"");
    let text = scenario("duration = \"3s\"", Some(agent_tables), &[]) + &unplaced;
    let (output, _) = linerate_run(dir, "unplaced.toml", &text);
    assert_one_line_error(&output, "ping[0].port");
    // A [[file_io]] names its agent: without one it is refused; with one
    // that agent writes and verifies the files.
    let files = dir.join("file-io");
    std::fs::create_dir_all(&files).expect("a directory for the files");
    let file_io = format!(
        "\n[[file_io]]\nname = \"disk\"\ndirectory = \"{}\"\nmin_size = 2048\nmax_size = 4096\nrate = \"1Mbps\"\n",
        files.display()
    );
    let text = scenario("duration = \"3s\"", Some(agent_tables), &[]) + &file_io;
    let (output, _) = linerate_run(dir, "file_io.toml", &text);
    assert_one_line_error(&output, "file_io[0].agent");
    let on_three = file_io.replace("name = \"disk\"\n", "name = \"disk\"\nagent = \"three\"\n");
    let text = scenario("duration = \"3s\"", Some(agent_tables), &[]) + &on_three;
    let (output, report) = linerate_run(dir, "file_io_three.toml", &text);
    assert_passed(&output);
    let report = report.expect("the report");
    let disks = report["endpoints"]["file_io"]
        .as_array()
        .expect("file_io results");
    assert_eq!(disks.len(), 1, "run once, by agent three: {disks:?}");
    println!("file_io endpoint on agent three: {}", disks[0]);
    assert!(disks[0]["first_error"].is_null(), "{}", disks[0]);
}

/// Seconds since 1970, now.
fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// Sleeps until `at_s` (seconds since 1970).
fn wait_until(at_s: f64) {
    let left = at_s - unix_now_s();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

/// Polls `GET /runs/{id}` until the run has ended; returns it.
fn wait_ended(api: &reqwest::blocking::Client, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run: Value = api
            .get(url)
            .send()
            .expect("GET the run")
            .json()
            .expect("JSON");
        if run["state"] == "finished" || run["state"] == "failed" {
            return run;
        }
        assert!(Instant::now() < deadline, "the run never ended: {run}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `linerate serve` as the coordinator (a scenario with `[[agent]]` tables
/// posted to POST /runs): one cross-agent stream stopped for about a second
/// and started again through the API stands still in the merged interval
/// series while the others rise, and every count is exact at the end;
/// /stats, /events and /report work for the run; POST /runs/{id}/stop
/// stops every agent.
fn coordinated_over_the_api(agent_tables: &[(String, String, PathBuf)], agent_urls: &[String]) {
    let coordinator = common::serve::ServeProcess::start(&[]);
    let api = client();
    // The coordinator's one-line errors come back as the answer: an
    // unreachable agent is 502, a port its agent lacks 400; no run is left.
    let mut unreachable = agent_tables.to_vec();
    unreachable[1].1 = unreachable[1].1.replace(":18080", ":18081");
    let missing_port = scenario("frames = 100", Some(agent_tables), &[]).replacen(
        "interface = \"d32\"",
        "interface = \"nosuch0\"",
        1,
    );
    for (text, status, needle) in [
        (
            scenario("frames = 100", Some(&unreachable), &[]),
            502,
            "agent \"two\" at http://",
        ),
        (
            missing_port,
            400,
            "agent \"three\" has no interface nosuch0",
        ),
    ] {
        let refused = api
            .post(coordinator.url("/runs"))
            .json(&serde_json::json!({ "scenario_toml": text }))
            .send()
            .expect("POST /runs");
        assert_eq!(refused.status().as_u16(), status);
        let body: Value = refused.json().expect("JSON");
        let error = body["error"].as_str().expect("an error");
        assert!(error.contains(needle) && !error.contains('\n'), "{error}");
    }
    let runs: Value = api
        .get(coordinator.url("/runs"))
        .send()
        .expect("GET /runs")
        .json()
        .expect("JSON");
    assert_eq!(runs, serde_json::json!([]), "no run kept");
    let text = scenario(
        "duration = \"4s\"\nreport_interval = \"250ms\"",
        Some(agent_tables),
        &[],
    );
    let created = api
        .post(coordinator.url("/runs"))
        .json(&serde_json::json!({ "scenario_toml": text }))
        .send()
        .expect("POST /runs");
    assert_eq!(created.status().as_u16(), 201);
    let run: Value = created.json().expect("JSON");
    let id = run["id"].as_str().expect("an id").to_string();
    let run_url = coordinator.url(&format!("/runs/{id}"));
    assert_eq!(run["state"], "running", "{run}");
    assert_eq!(run["streams"].as_array().expect("streams").len(), 3);
    // The events stream, read to its end on a thread of its own.
    let events_url = coordinator.url(&format!("/runs/{id}/events"));
    let events = std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client")
            .get(events_url)
            .send()
            .and_then(|response| response.text())
            .expect("the events")
    });
    let start_s = run["started_unix_s"].as_f64().expect("the start");
    wait_until(start_s + 1.0);
    let stopped: Value = api
        .post(coordinator.url(&format!("/runs/{id}/streams/s12/stop")))
        .send()
        .expect("stop s12")
        .json()
        .expect("JSON");
    assert_eq!(stopped["stopped"], true, "{stopped}");
    let during: Value = api.get(&run_url).send().expect("GET").json().expect("JSON");
    let s12_info = during["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|stream| stream["name"] == "s12")
        .expect("s12")
        .clone();
    assert_eq!(s12_info["stopped"], true, "{during}");
    wait_until(start_s + 2.2);
    let started: Value = api
        .post(coordinator.url(&format!("/runs/{id}/streams/s12/start")))
        .send()
        .expect("start s12")
        .json()
        .expect("JSON");
    assert_eq!(started["stopped"], false, "{started}");
    let stats: Value = api
        .get(coordinator.url(&format!("/runs/{id}/stats")))
        .send()
        .expect("GET /stats")
        .json()
        .expect("JSON");
    assert!(
        stats["interval"]["streams"].is_array(),
        "merged live stats: {stats}"
    );
    let metrics = api
        .get(coordinator.url("/metrics"))
        .send()
        .expect("GET /metrics");
    assert_eq!(metrics.status().as_u16(), 200);
    let metrics = metrics.text().expect("text");
    assert!(
        metrics.contains(&format!("run=\"{id}\"")),
        "the run in the metrics: {metrics}"
    );
    let ended = wait_ended(&api, &run_url);
    assert_eq!(ended["state"], "finished", "{ended}");
    assert_eq!(ended["verdict"]["passed"], true, "{ended}");

    check_stopped_stream_run(&api, &coordinator, &id);
    let events = events.join().expect("the events thread");
    assert!(events.contains("event: interval"), "{events}");
    assert!(events.contains("event: end"), "{events}");

    run_stopped_over_the_api(&coordinator, agent_tables, agent_urls);
}

/// The report and merged series of the run whose stream s12 was stopped
/// for about 1.2 s: every count exact, s12 about 6,000 frames short, and
/// s12 standing still in the series while s23 rises.
fn check_stopped_stream_run(
    api: &reqwest::blocking::Client,
    coordinator: &common::serve::ServeProcess,
    id: &str,
) {
    let report: Value = api
        .get(coordinator.url(&format!("/runs/{id}/report")))
        .send()
        .expect("GET /report")
        .json()
        .expect("JSON");
    assert!(report["start_skew_ns"].as_u64().is_some(), "{report}");
    assert_eq!(report["agents"].as_array().expect("agents").len(), 3);
    let sent = |name: &str| stream(&report, name)["frames_sent"].as_u64().expect("sent");
    for (name, _, _) in STREAMS {
        assert_eq!(
            stream(&report, name)["frames_received"],
            sent(name),
            "{name}: exact"
        );
        assert_eq!(stream(&report, name)["frames_lost"], 0, "{name}");
    }
    // About 1.2 s of 5 kpps not sent by s12.
    let others = sent("s23").min(sent("s31"));
    assert!(others > 18_000, "s23/s31 sent {others}");
    assert!(
        sent("s12") + 4_000 < others && sent("s12") > 8_000,
        "s12 sent {}, the others {others}",
        sent("s12")
    );
    // In the merged series s12 stands still for several intervals while
    // s23 rises.
    let intervals: Vec<Value> = api
        .get(coordinator.url(&format!("/runs/{id}/intervals")))
        .send()
        .expect("GET /intervals")
        .json()
        .expect("JSON");
    let totals = |interval: &Value, name: &str| {
        interval["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .find(|stream| stream["name"] == name)
            .and_then(|stream| stream["tx_frames"].as_u64())
            .expect("tx_frames")
    };
    let still_while_others_rise = intervals
        .windows(2)
        .filter(|pair| {
            totals(&pair[0], "s12") == totals(&pair[1], "s12")
                && totals(&pair[0], "s23") < totals(&pair[1], "s23")
        })
        .count();
    let s12_series: Vec<u64> = intervals
        .iter()
        .map(|interval| totals(interval, "s12"))
        .collect();
    println!(
        "s12 stopped 1 s through the coordinator's API: tx_frames per interval {s12_series:?}"
    );
    assert!(still_while_others_rise >= 3, "{s12_series:?}");
    assert_eq!(s12_series.last(), Some(&sent("s12")));
}

/// POST /runs/{id}/stop on a coordinated run stops every agent: the run
/// ends soon after, stopped on request, every frame sent counted, every
/// agent's run finished.
fn run_stopped_over_the_api(
    coordinator: &common::serve::ServeProcess,
    agent_tables: &[(String, String, PathBuf)],
    agent_urls: &[String],
) {
    let api = client();
    // POST /runs/{id}/stop stops every agent.
    let text = scenario("duration = \"8s\"", Some(agent_tables), &[]);
    let run: Value = api
        .post(coordinator.url("/runs"))
        .json(&serde_json::json!({ "scenario_toml": text }))
        .send()
        .expect("POST /runs")
        .json()
        .expect("JSON");
    let id = run["id"].as_str().expect("an id").to_string();
    wait_until(run["started_unix_s"].as_f64().expect("start") + 1.0);
    let asked = Instant::now();
    let stopping = api
        .post(coordinator.url(&format!("/runs/{id}/stop")))
        .send()
        .expect("POST /stop");
    assert_eq!(stopping.status().as_u16(), 202);
    let ended = wait_ended(&api, &coordinator.url(&format!("/runs/{id}")));
    let took = asked.elapsed();
    println!("a coordinated run stopped over the API ended {took:?} after the stop");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(ended["verdict"]["stopped_on_request"], true, "{ended}");
    let report: Value = api
        .get(coordinator.url(&format!("/runs/{id}/report")))
        .send()
        .expect("GET /report")
        .json()
        .expect("JSON");
    for (name, _, _) in STREAMS {
        let sent = stream(&report, name)["frames_sent"].as_u64().expect("sent");
        assert!(
            sent > 2_000 && sent < 30_000,
            "{name} stopped early: {sent}"
        );
        assert_eq!(stream(&report, name)["frames_received"], sent, "{name}");
    }
    for (url, section) in agent_urls
        .iter()
        .zip(report["agents"].as_array().expect("agents"))
    {
        let run_id = section["run_id"].as_str().expect("run id");
        let agent_run: Value = api
            .get(format!("{url}/runs/{run_id}"))
            .bearer_auth(TOKEN)
            .send()
            .expect("GET the agent's run")
            .json()
            .expect("JSON");
        assert_eq!(agent_run["state"], "finished", "{agent_run}");
    }
}

fn stream<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|stream| stream["name"] == name)
        .unwrap_or_else(|| panic!("stream {name} in the report"))
}

fn histogram(value: &Value) -> Option<LatencyHistogramSection> {
    serde_json::from_value(value.clone()).expect("a histogram section")
}

/// The merged interval series: totals so far never fall, the last interval
/// is final and holds every stream's final counts; the CSV has the same rows,
/// the HTML report the same document. One host, one boot id: cross-agent
/// one-way latency (CLOCK_TAI at both ends) with a clock error bound of 0.
fn check_merged_series_and_latency(report: &Value, stdout: &str, csv: &Path, html: &Path) {
    // The merged interval series: totals so far never fall, the last
    // interval is final and holds every stream's final counts; the CSV has
    // the same rows, the HTML report the same document.
    let intervals = report["intervals"].as_array().expect("intervals");
    assert!(
        intervals.len() >= 4,
        "a merged interval series: {intervals:?}"
    );
    assert_eq!(intervals.last().expect("last")["final"], true);
    for (name, _, _) in STREAMS {
        let series: Vec<(u64, u64)> = intervals
            .iter()
            .map(|interval| {
                let entry = interval["streams"]
                    .as_array()
                    .expect("streams")
                    .iter()
                    .find(|stream| stream["name"] == name)
                    .unwrap_or_else(|| panic!("{name} in every interval"));
                (
                    entry["tx_frames"].as_u64().expect("tx"),
                    entry["rx_frames"].as_u64().expect("rx"),
                )
            })
            .collect();
        assert!(
            series
                .windows(2)
                .all(|pair| pair[0].0 <= pair[1].0 && pair[0].1 <= pair[1].1),
            "{name}: {series:?}"
        );
        assert_eq!(series.last(), Some(&(FRAMES, FRAMES)), "{name}: {series:?}");
        println!("{name}: merged interval totals {series:?}");
    }
    let csv_text = std::fs::read_to_string(csv).expect("the CSV");
    let rows: Vec<&str> = csv_text.lines().collect();
    assert!(rows[0].starts_with("elapsed_s,interval_s,final,stream_id,stream,tx_frames,rx_frames"));
    assert_eq!(
        rows.len(),
        1 + intervals.len() * STREAMS.len(),
        "{csv_text}"
    );
    for (name, _, _) in STREAMS {
        assert!(
            rows.iter().any(|row| row.contains(",true,")
                && row.contains(&format!(",{name},{FRAMES},{FRAMES},"))),
            "{name}'s final row: {csv_text}"
        );
    }
    let page = std::fs::read_to_string(html).expect("the HTML report");
    assert!(
        page.contains("report-data") && page.contains("\"s31\""),
        "an HTML report"
    );

    // One host, one boot id: cross-agent one-way latency (CLOCK_TAI at both
    // ends) is reported with a clock error bound of 0, and is sane.
    let send_ns = (report["send_duration_s"].as_f64().expect("duration") * 1e9) as u64;
    for (name, _, _) in STREAMS {
        let merged = stream(report, name);
        assert_eq!(merged["clock_error_bound_ns"], 0, "{name}: {merged}");
        assert!(merged.get("latency_refused").is_none(), "{name}");
        let latency = &merged["latency_ns"];
        let (min, p50, max) = (
            latency["min"].as_u64().expect("min"),
            latency["p50"].as_u64().expect("p50"),
            latency["max"].as_u64().expect("max"),
        );
        println!("{name}: one-way latency across agents min {min} ns, p50 {p50} ns, max {max} ns");
        assert!(
            min > 0 && max < send_ns,
            "{name}: {latency}, run {send_ns} ns"
        );
        assert_eq!(merged["frames_without_latency"], 0, "{name}");
    }
    assert!(
        stdout.contains("clock error bound ±0.000 µs"),
        "the bound is printed: {stdout}"
    );
}

/// Two hosts as far as the agents say (declared clock states): a bound of
/// the two agents' sum, or the latency refused, and a `[pass]` latency
/// limit refused before traffic. Puts one host back at the end.
fn declared_clocks(
    dir: &Path,
    good: &[(String, String, PathBuf)],
    clock_files: &[Option<PathBuf>],
    agent_three_url: &str,
) {
    let frames_run = format!("frames = {FRAMES}");
    let client = client();
    // Two hosts as far as the agents say: one declares itself synchronized
    // within 1 µs, two within 2 µs, three (no chrony or PTP here) not at
    // all. s12 is reported with a bound of 3 µs; s23 and s31 are refused:
    // latency null, the reason naming both agents; counts still exact.
    std::fs::write(
        clock_files[0].as_ref().expect("one's file"),
        r#"{"synchronized": true, "error_bound_ns": 1000, "host_id": "lab-host-one"}"#,
    )
    .expect("write");
    std::fs::write(
        clock_files[1].as_ref().expect("two's file"),
        r#"{"synchronized": true, "error_bound_ns": 2000, "host_id": "lab-host-two"}"#,
    )
    .expect("write");
    let agent_three: Value = client
        .get(format!("{agent_three_url}/agent"))
        .bearer_auth(TOKEN)
        .send()
        .expect("GET /agent")
        .json()
        .expect("JSON");
    let three_synchronized = agent_three["clock"]["synchronized"] == true;
    let (output, clocked) =
        linerate_run(dir, "clocks.toml", &scenario(&frames_run, Some(good), &[]));
    let stdout = assert_passed(&output);
    let clocked = clocked.expect("the report");
    let s12 = stream(&clocked, "s12");
    assert_eq!(s12["clock_error_bound_ns"], 3000, "{s12}");
    assert!(s12["latency_ns"]["min"].as_u64().expect("min") > 0);
    if !three_synchronized {
        for (name, from, to) in [("s23", "two", "three"), ("s31", "three", "one")] {
            let refused = stream(&clocked, name);
            assert!(refused["latency_ns"].is_null(), "{name}: {refused}");
            assert!(refused["latency_histogram"].is_null(), "{name}");
            assert!(refused.get("clock_error_bound_ns").is_none(), "{name}");
            let reason = refused["latency_refused"].as_str().expect("a reason");
            assert!(
                reason.contains(&format!("from agent \"{from}\""))
                    && reason.contains(&format!("to agent \"{to}\""))
                    && reason.contains("chrony or PTP")
                    && reason.contains("reflect = true")
                    && !reason.contains('\n'),
                "{reason}"
            );
            assert!(stdout.contains(reason), "printed: {stdout}");
            assert_eq!(refused["frames_received"], FRAMES, "{name}");
        }
        // A latency criterion cannot be checked on them: one line, no traffic.
        let limited = scenario(&frames_run, Some(good), &[]).replace(
            "[pass]\n",
            "[pass]\nmax_latency = [{ percentile = 99, max = \"10ms\" }]\n",
        );
        let (output, _) = linerate_run(dir, "limited.toml", &limited);
        assert_one_line_error(&output, "[pass] limits latency, which stream \"s23\" cannot measure: one-way latency from agent \"two\"");
    }
    // Back to one host for the rest.
    for file in clock_files.iter().flatten() {
        std::fs::write(file, r#"{"synchronized": false}"#).expect("write");
    }
}

#[test]
fn three_agents_run_one_scenario_with_exact_merged_counts() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write the token");
    let wrong_token = dir.path().join("wrong-token");
    std::fs::write(&wrong_token, "not-the-token\n").expect("write the wrong token");
    // Agents one and two declare their clock state (unsynchronized, the
    // host id left to the boot id); agent three asks chrony/linuxptp.
    let clock_files: Vec<Option<PathBuf>> = vec![
        Some(dir.path().join("clock-one.json")),
        Some(dir.path().join("clock-two.json")),
        None,
    ];
    for file in clock_files.iter().flatten() {
        std::fs::write(file, r#"{"synchronized": false}"#).expect("write a clock state");
    }
    let net = Net::create();
    let mut agents = Agents::start(&net, &token_file, &clock_files);
    let agent_tables = |token: &Path, urls: &[String]| -> Vec<(String, String, PathBuf)> {
        NAMES
            .iter()
            .zip(urls)
            .map(|(name, url)| (name.to_string(), url.clone(), token.to_path_buf()))
            .collect()
    };
    let frames_run = format!("frames = {FRAMES}");
    let good = agent_tables(&token_file, &agents.urls);

    // Four errors before any traffic, one line each.
    let wrong = agent_tables(&wrong_token, &agents.urls);
    let (output, _) = linerate_run(
        dir.path(),
        "wrong-token.toml",
        &scenario(&frames_run, Some(&wrong), &[]),
    );
    assert_one_line_error(&output, "agent \"one\" at http://");
    assert_one_line_error(&output, "refused the token (401)");
    let mut unreachable_urls = agents.urls.clone();
    unreachable_urls[1] = unreachable_urls[1].replace(":18080", ":18081");
    let unreachable = agent_tables(&token_file, &unreachable_urls);
    let (output, _) = linerate_run(
        dir.path(),
        "unreachable.toml",
        &scenario(&frames_run, Some(&unreachable), &[]),
    );
    assert_one_line_error(&output, "agent \"two\" at http://");
    assert_one_line_error(&output, "is unreachable");
    let (old_url, old_thread) = old_agent();
    let mut old_urls = agents.urls.clone();
    old_urls[0] = old_url;
    let old = agent_tables(&token_file, &old_urls);
    let (output, _) = linerate_run(
        dir.path(),
        "old.toml",
        &scenario(&frames_run, Some(&old), &[]),
    );
    old_thread.join().expect("the fake agent ends");
    assert_one_line_error(&output, "runs linerate 0.0.0-old, this is");
    let missing = scenario(&frames_run, Some(&good), &[]).replacen(
        "interface = \"d32\"",
        "interface = \"nosuch0\"",
        1,
    );
    let (output, _) = linerate_run(dir.path(), "missing.toml", &missing);
    assert_one_line_error(
        &output,
        "port \"p32\": agent \"three\" has no interface nosuch0",
    );

    // The run over three agents: exact counts, measured skew.
    let csv = dir.path().join("multi.csv");
    let html = dir.path().join("multi.html");
    let (output, report) = linerate_run_with(
        dir.path(),
        "multi.toml",
        &scenario(
            &format!("{frames_run}\nreport_interval = \"250ms\""),
            Some(&good),
            &[],
        ),
        &[
            "--csv".as_ref(),
            csv.as_os_str(),
            "--html".as_ref(),
            html.as_os_str(),
        ],
    );
    let stdout = assert_passed(&output);
    let report = report.expect("the multi-host report");
    assert!(stdout.contains("start skew "), "{stdout}");
    for (name, from, to) in STREAMS {
        let merged = stream(&report, name);
        assert_eq!(merged["frames_sent"], FRAMES, "{name}");
        assert_eq!(merged["frames_received"], FRAMES, "{name}");
        assert_eq!(merged["frames_lost"], 0, "{name}");
        let agent_sections = report["agents"].as_array().expect("agents");
        assert!(agent_sections[from]["streams_sent"]
            .as_array()
            .expect("sent")
            .iter()
            .any(|sent| sent == name));
        assert!(agent_sections[to]["streams_counted"]
            .as_array()
            .expect("counted")
            .iter()
            .any(|counted| counted == name));
    }
    let skew = report["start_skew_ns"].as_u64().expect("a measured skew");
    println!("measured start skew: {skew} ns");
    assert!(skew < 1_000_000, "start skew {skew} ns");
    assert_eq!(report["verdict"]["passed"], true, "{}", report["verdict"]);
    check_merged_series_and_latency(&report, &stdout, &csv, &html);

    // The merge equals the union: each agent's own raw results, fetched
    // from it, merged here, are the report's histograms exactly.
    let client = client();
    let results: Vec<Value> = report["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .zip(&agents.urls)
        .map(|(section, url)| {
            let id = section["run_id"].as_str().expect("run id");
            client
                .get(format!("{url}/runs/{id}/result"))
                .bearer_auth(TOKEN)
                .send()
                .expect("the result")
                .json()
                .expect("JSON")
        })
        .collect();
    for (name, _, _) in STREAMS {
        let parts: Vec<LatencyHistogramSection> = results
            .iter()
            .filter_map(|result| {
                let part = result["streams"]
                    .as_array()?
                    .iter()
                    .find(|stream| stream["name"] == name)?;
                histogram(&part["latency_histogram"])
            })
            .collect();
        let union = merge_histogram_sections(&parts)
            .expect("merge")
            .expect("measured");
        let merged = histogram(&stream(&report, name)["latency_histogram"]).expect("merged");
        assert_eq!(union, merged, "{name}");
        assert_eq!(merged.count, FRAMES, "{name}: every frame has a latency");
    }

    coordinated_over_the_api(&good, &agents.urls);
    endpoints_on_their_ports_agents(dir.path(), &good);

    declared_clocks(dir.path(), &good, &clock_files, &agents.urls[2]);

    // The same scenario on one host: equal counts.
    let (output, local) = linerate_run(
        dir.path(),
        "local.toml",
        &scenario(&frames_run, None, &net.namespaces),
    );
    assert_passed(&output);
    let local = local.expect("the local report");
    for (name, _, _) in STREAMS {
        for field in [
            "frames_sent",
            "frames_received",
            "frames_lost",
            "duplicates",
            "late",
        ] {
            assert_eq!(
                stream(&local, name)[field],
                stream(&report, name)[field],
                "{name}.{field}"
            );
        }
    }

    // An agent refuses a start already past, naming the field, and holds
    // nothing afterwards.
    let past = client
        .post(format!("{}/runs", agents.urls[0]))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "scenario_toml": scenario(&frames_run, Some(&good), &[]),
            "agent": "one",
            "start_at_unix_ns": 1_000_000_000u64,
        }))
        .send()
        .expect("an answer");
    assert_eq!(past.status().as_u16(), 400);
    let body: Value = past.json().expect("JSON");
    assert_eq!(body["field"], "start_at_unix_ns", "{body}");
    assert!(
        body["error"].as_str().expect("error").contains("passed"),
        "{body}"
    );

    // Ctrl-C on the coordinator reaches every agent: all stop, the report
    // is marked interrupted, and what was sent was counted exactly.
    let path = dir.path().join("interrupt.toml");
    std::fs::write(&path, scenario("duration = \"8s\"", Some(&good), &[])).expect("write");
    let json = dir.path().join("interrupt.json");
    let coordinator = spawn_coordinator(&path, &json);
    std::thread::sleep(Duration::from_millis(3000));
    // SAFETY: sending a signal to our own child process.
    let sent = unsafe { libc::kill(coordinator.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let output = coordinator
        .wait_with_output()
        .expect("the coordinator ends");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report written")).expect("JSON");
    assert_eq!(report["verdict"]["interrupted"], true);
    for (name, _, _) in STREAMS {
        let sent = stream(&report, name)["frames_sent"].as_u64().expect("sent");
        assert!(
            sent > 1_000 && sent < 40_000,
            "{name} stopped early: {sent}"
        );
        assert_eq!(stream(&report, name)["frames_received"], sent, "{name}");
    }

    // Killing an agent mid-run: the coordinator ends within 2 s, naming it,
    // with the others' results.
    let path = dir.path().join("kill.toml");
    std::fs::write(&path, scenario("duration = \"5s\"", Some(&good), &[])).expect("write");
    let json = dir.path().join("kill.json");
    let mut coordinator = spawn_coordinator(&path, &json);
    // The start is 2 s ahead; kill agent three 1.5 s into sending.
    std::thread::sleep(Duration::from_millis(3500));
    agents.kill(2);
    let killed = Instant::now();
    let output = loop {
        if coordinator.try_wait().expect("wait").is_some() {
            break coordinator.wait_with_output().expect("output");
        }
        if killed.elapsed() > Duration::from_secs(10) {
            let _ = coordinator.kill();
            panic!("the coordinator did not end after the agent was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = killed.elapsed();
    println!("the coordinator ended {took:?} after the agent was killed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        took < Duration::from_secs(2),
        "ended {took:?} after the kill; {stdout}"
    );
    assert_eq!(output.status.code(), Some(1), "failed verdict: {stdout}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report written")).expect("JSON");
    assert_eq!(report["verdict"]["passed"], false);
    let first_failure = report["verdict"]["failures"][0]
        .as_str()
        .expect("a failure");
    assert!(
        first_failure.starts_with("agent \"three\" failed: stopped answering"),
        "{first_failure}"
    );
    let sections = report["agents"].as_array().expect("agents");
    assert_eq!(sections[2]["state"], "lost");
    for section in &sections[..2] {
        assert_eq!(section["state"], "finished", "{section}");
        assert_eq!(section["partial"], true, "{section}");
    }
    // s12 ran between the two agents still alive: sent and counted exactly.
    let s12 = stream(&report, "s12");
    let sent = s12["frames_sent"].as_u64().expect("sent");
    assert!(sent > 2_000 && sent < 25_000, "stopped early: {sent}");
    assert_eq!(s12["frames_received"], sent);
    // Nothing left running: the survivors' runs ended, the killed agent's
    // XDP programs went with it.
    for url in &agents.urls[..2] {
        let runs: Value = client
            .get(format!("{url}/runs"))
            .bearer_auth(TOKEN)
            .send()
            .expect("runs")
            .json()
            .expect("JSON");
        for run in runs.as_array().expect("runs") {
            assert!(
                run["state"] == "finished" || run["state"] == "failed",
                "{run}"
            );
        }
    }
    for name in ["d32", "d31"] {
        let output = Command::new("ip")
            .args([
                "-j",
                "-d",
                "-n",
                &net.namespaces[2],
                "link",
                "show",
                "dev",
                name,
            ])
            .output()
            .expect("ip runs");
        let links: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert!(links[0].get("xdp").is_none(), "{name}: {}", links[0]);
    }
}
