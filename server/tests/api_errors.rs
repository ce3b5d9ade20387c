//! Bad requests against a real server in this process: each gets its JSON
//! error with the right status and the fields at fault, and the server
//! goes on answering. Scenario checks here need no lab; the one prepare
//! error (a namespace that does not exist) needs root.

mod common;

use common::{client, json, TestServer};
use serde_json::json as object;

const VALID: &str = "[run]\nframes = 10\n\n[[port]]\nname = \"a\"\ninterface = \"lrnone0\"\nnamespace = \"lrtest-absent-a\"\n\n[[stream]]\nname = \"s\"\ntx = \"a\"\nrx = \"a\"\nsrc_mac = \"02:00:00:00:00:01\"\ndst_mac = \"02:00:00:00:00:02\"\nsrc_ip = \"198.18.0.1\"\ndst_ip = \"198.18.0.2\"\nsrc_port = 9000\ndst_port = 9000\nrate = \"1kpps\"\n";

fn error_fields(value: &serde_json::Value) -> (String, Option<&str>, Option<u64>, Option<u64>) {
    (
        value["error"]
            .as_str()
            .expect("an error message")
            .to_string(),
        value["field"].as_str(),
        value["line"].as_u64(),
        value["column"].as_u64(),
    )
}

#[test]
fn scenarios_in_toml_and_json_are_validated_as_the_cli_does() {
    let server = TestServer::start();
    let http = client();

    let created = json(
        http.post(server.url("/scenarios"))
            .header("content-type", "application/toml")
            .body(VALID)
            .send()
            .expect("answer"),
        201,
    );
    assert_eq!(created["id"], "sc-1");
    assert_eq!(created["source"], "sc-1.toml");
    assert_eq!(
        (created["ports"].as_u64(), created["streams"].as_u64()),
        (Some(1), Some(1))
    );
    let fetched = json(
        http.get(server.url("/scenarios/sc-1"))
            .send()
            .expect("answer"),
        200,
    );
    assert_eq!(fetched, created);

    // Bad TOML syntax: the parser's line and column.
    let broken = VALID.replace("rate = \"1kpps\"", "rate = \"1kpps");
    let error = json(
        http.post(server.url("/scenarios?name=broken.toml"))
            .body(broken)
            .send()
            .expect("answer"),
        400,
    );
    let (message, field, line, column) = error_fields(&error);
    assert!(message.starts_with("broken.toml:19:"), "{message}");
    assert_eq!((field, line), (Some("stream[0].rate"), Some(19)));
    assert!(column.is_some());

    // A value that parses but does not validate: the CLI's one line, split.
    let bad_rate = VALID.replace("\"1kpps\"", "\"fast\"");
    let error = json(
        http.post(server.url("/scenarios"))
            .header("content-type", "text/plain; charset=utf-8")
            .body(bad_rate)
            .send()
            .expect("answer"),
        400,
    );
    let (message, field, line, column) = error_fields(&error);
    assert!(
        message.starts_with("sc-3.toml:19:8: stream[0].rate: "),
        "{message}"
    );
    assert_eq!(
        (field, line, column),
        (Some("stream[0].rate"), Some(19), Some(8))
    );

    // The same structure as JSON is accepted; a bad value names its field
    // but no line (it would point into converted text).
    let as_json = object!({
        "run": {"frames": 10},
        "port": [{"name": "a", "interface": "lrnone0"}],
        "stream": [{"name": "s", "tx": "a", "rx": "a", "src_mac": "02:00:00:00:00:01",
                    "dst_mac": "02:00:00:00:00:02", "src_ip": "198.18.0.1", "dst_ip": "198.18.0.2", "src_port": 9000, "dst_port": 9000,
                    "rate": "1kpps"}]
    });
    let created = json(
        http.post(server.url("/scenarios"))
            .json(&as_json)
            .send()
            .expect("answer"),
        201,
    );
    assert_eq!(created["streams"], 1);
    assert!(created["toml"]
        .as_str()
        .expect("text")
        .contains("[[stream]]"));
    let mut bad = as_json.clone();
    bad["stream"][0]["src_mac"] = object!("02:00:zz");
    let error = json(
        http.post(server.url("/scenarios"))
            .json(&bad)
            .send()
            .expect("answer"),
        400,
    );
    let (message, field, line, _) = error_fields(&error);
    assert_eq!(field, Some("stream[0].src_mac"), "{message}");
    assert_eq!(line, None);

    // Malformed JSON: serde's line and column.
    let error = json(
        http.post(server.url("/scenarios"))
            .header("content-type", "application/json")
            .body("{\"run\": {\n  \"frames\": 10,,\n}")
            .send()
            .expect("answer"),
        400,
    );
    let (_, _, line, column) = error_fields(&error);
    assert_eq!((line, column), (Some(2), Some(16)));

    // Neither TOML nor JSON.
    let error = json(
        http.post(server.url("/scenarios"))
            .header("content-type", "application/xml")
            .body("<run/>")
            .send()
            .expect("answer"),
        415,
    );
    assert_eq!(error["field"], "Content-Type");
}

#[test]
fn malformed_or_misdirected_requests_get_json_errors_and_the_server_goes_on() {
    let server = TestServer::start();
    let http = client();

    // Malformed JSON run request: line and column.
    let error = json(
        http.post(server.url("/runs"))
            .header("content-type", "application/json")
            .body("{\"scenario\": \"sc-1\"")
            .send()
            .expect("answer"),
        400,
    );
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(1), Some(19))
    );
    // Unknown request field, wrong option value, no scenario or two.
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario": "sc-1", "bacth": 3}))
            .send()
            .expect("answer"),
        400,
    );
    assert!(
        error["error"].as_str().expect("message").contains("bacth"),
        "{error}"
    );
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario_toml": VALID, "xsk_mode": "fastest"}))
            .send()
            .expect("answer"),
        400,
    );
    assert_eq!(error["field"], "xsk_mode");
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"batch": 0, "scenario_toml": VALID}))
            .send()
            .expect("answer"),
        400,
    );
    assert_eq!(error["field"], "batch");
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({}))
            .send()
            .expect("answer"),
        400,
    );
    assert_eq!(error["field"], "scenario");
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario": "sc-1", "scenario_toml": VALID}))
            .send()
            .expect("answer"),
        400,
    );
    assert_eq!(error["field"], "scenario");
    // A bad inline scenario: the CLI's message, named after the run.
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario_toml": VALID.replace("frames = 10", "frames = -1")}))
            .send()
            .expect("answer"),
        400,
    );
    assert!(
        error["error"]
            .as_str()
            .expect("message")
            .starts_with("run-"),
        "{error}"
    );
    assert_eq!(error["field"], "run.frames");
    // A run request that is not JSON.
    let error = json(
        http.post(server.url("/runs"))
            .header("content-type", "text/plain")
            .body("scenario")
            .send()
            .expect("answer"),
        415,
    );
    assert_eq!(error["field"], "Content-Type");

    // Over 1 MiB, with and without a length given up front.
    let (status, body) = upload(server.addr, 1024 * 1024 + 1, false);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("1 MiB"), "{body}");
    assert_eq!(upload(server.addr, 20 * 64 * 1024, true).0, 413);
    assert_eq!(upload(server.addr, 64, true).0, 400, "small is parsed");

    // Unknown ids and paths.
    for path in [
        "/runs/run-99",
        "/runs/run-99/stats",
        "/runs/run-99/events",
        "/runs/run-99/intervals",
        "/runs/run-99/report",
        "/scenarios/sc-99",
        "/scenarios/nonsense",
        "/nowhere",
        "/assets/nothing.js",
    ] {
        let error = json(http.get(server.url(path)).send().expect("answer"), 404);
        assert!(error["error"].is_string(), "{path}: {error}");
    }
    for path in [
        "/runs/run-99/stop",
        "/runs/run-99/streams/s/stop",
        "/runs/run-99/streams/s/start",
    ] {
        json(http.post(server.url(path)).send().expect("answer"), 404);
    }
    json(
        http.delete(server.url("/runs/run-99"))
            .send()
            .expect("answer"),
        404,
    );
    let error = json(
        http.post(server.url("/runs"))
            .json(&object!({"scenario": "sc-7"}))
            .send()
            .expect("answer"),
        404,
    );
    assert_eq!(error["field"], "scenario");

    // Wrong methods: 405 with what the path takes.
    let error = json(http.put(server.url("/runs")).send().expect("answer"), 405);
    assert!(
        error["error"]
            .as_str()
            .expect("message")
            .contains("does not take that method"),
        "{error}"
    );
    json(
        http.delete(server.url("/scenarios"))
            .send()
            .expect("answer"),
        405,
    );
    json(
        http.get(server.url("/runs/run-1/stop"))
            .send()
            .expect("answer"),
        405,
    );

    // Still answering.
    let runs = json(http.get(server.url("/runs")).send().expect("answer"), 200);
    assert_eq!(runs, object!([]));
    let page = http.get(server.url("/")).send().expect("answer");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .expect("text")
        .starts_with("text/html"));
}

#[test]
fn a_port_that_is_not_there_is_refused_before_anything_is_attached() {
    let server = TestServer::start();
    let error = json(
        client()
            .post(server.url("/runs"))
            .json(&object!({"scenario_toml": VALID}))
            .send()
            .expect("answer"),
        400,
    );
    let message = error["error"].as_str().expect("message");
    assert!(
        message.contains("lrtest-absent-a") && message.contains("does not exist"),
        "{message}"
    );
    // Its ports were let go: the same request fails the same way, not 409.
    json(
        client()
            .post(server.url("/runs"))
            .json(&object!({"scenario_toml": VALID}))
            .send()
            .expect("answer"),
        400,
    );
    assert_eq!(
        json(
            client().get(server.url("/runs")).send().expect("answer"),
            200
        ),
        object!([])
    );
}

#[test]
fn with_a_token_every_api_request_needs_it_and_the_dashboard_page_is_open() {
    let server = TestServer::with(Some("s3cret-token"), None);
    let http = client();
    let error = json(http.get(server.url("/runs")).send().expect("answer"), 401);
    assert_eq!(error["field"], "Authorization");
    json(
        http.get(server.url("/metrics"))
            .bearer_auth("wrong")
            .send()
            .expect("answer"),
        401,
    );
    json(
        http.get(server.url("/runs"))
            .bearer_auth("s3cret-token")
            .send()
            .expect("answer"),
        200,
    );
    let metrics = http
        .get(server.url("/metrics"))
        .bearer_auth("s3cret-token")
        .send()
        .expect("answer");
    assert_eq!(metrics.status().as_u16(), 200);
    assert_eq!(
        http.get(server.url("/"))
            .send()
            .expect("answer")
            .status()
            .as_u16(),
        200
    );
}

/// The status a chunked upload of `bytes` (no length up front) gets: the
/// body goes from another thread, so that a server answering before it
/// has read everything does not stall the test.
/// Posts `bytes` bytes of scenario text over a plain TCP connection, with
/// the length declared up front or chunked, reading the answer while the
/// body is still being sent (the server may answer and close before it has
/// read it all); returns the status and the body.
fn upload(addr: std::net::SocketAddr, bytes: usize, chunked: bool) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_string()
        } else {
            format!("Content-Length: {bytes}")
        };
        let head = format!(
            "POST /scenarios HTTP/1.1\r\nHost: test\r\n{framing}\r\nConnection: close\r\n\r\n"
        );
        let chunk = vec![b'#'; 64 * 1024];
        let mut sent = 0;
        let mut write = || -> std::io::Result<()> {
            writer.write_all(head.as_bytes())?;
            while sent < bytes {
                let piece = &chunk[..chunk.len().min(bytes - sent)];
                if chunked {
                    writer.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                }
                writer.write_all(piece)?;
                if chunked {
                    writer.write_all(b"\r\n")?;
                }
                sent += piece.len();
            }
            if chunked {
                writer.write_all(b"0\r\n\r\n")?;
            }
            Ok(())
        };
        // The server may close early once it has answered.
        let _ = write();
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}
