//! The dashboard page in headless Chromium against a small axum server that
//! serves `linerate_web::asset` and canned API answers built from a real
//! run's report (tests/data/run-report.json, see web/README.md): a finished
//! run and a running one whose history comes from /intervals and the rest
//! live from a server-sent events stream that ends with the verdict. The
//! page must log no JavaScript error, draw every chart over all the run's
//! intervals (history and live together, none twice), and show the end
//! state; the assets are checked to be the ones the page refers to.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use linerate_engine::report::{IntervalSection, ReportDocument};
use linerate_web::testing::{check_page_with, Browser, PageOptions};
use serde_json::{json, Value};

/// How many of the running run's intervals /intervals gives; the rest come
/// over the events stream.
const HISTORY: usize = 5;
/// How many of the fixture's intervals, from its end, a run whose events
/// stream stays open has not reached yet (a live run is short of its end).
const NOT_YET: usize = 4;

/// What the canned server answers from.
struct Canned {
    document: ReportDocument,
    /// Whether the running run's events stream ends (with `event: end`) or
    /// stays open after its intervals, as a live run's does.
    stream_ends: bool,
    /// The API token the server wants, if any.
    token: Option<&'static str>,
    /// Every request's method and path, in order.
    requests: Mutex<Vec<String>>,
    /// The running run's streams stopped through the API.
    stopped: Mutex<std::collections::HashSet<String>>,
    /// Whether the running run's events have all gone out since the page
    /// was last loaded (its history waits for them, see `intervals`).
    events_sent: AtomicBool,
}

type Shared = Arc<Canned>;

fn load_document() -> ReportDocument {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-report.json");
    let text = std::fs::read_to_string(&path).expect("the fixture is there");
    serde_json::from_str(&text)
        .expect("the fixture is a ReportDocument (regenerate it if the model changed)")
}

/// run-1 finished long ago; run-2 runs until its events stream has ended
/// (in the test where it ends), counted from the page's last load.
fn run_info(canned: &Canned, id: &str) -> Option<Value> {
    let document = &canned.document;
    if id != "run-1" && id != "run-2" {
        return None;
    }
    let running =
        id == "run-2" && !(canned.stream_ends && canned.events_sent.load(Ordering::SeqCst));
    let environment = &document.environment;
    let elapsed = if running {
        document.intervals[live_intervals(canned) - 1].elapsed_s
    } else {
        document.send_duration_s
    };
    Some(json!({
        "id": id,
        "state": if running { "running" } else { "finished" },
        "source": document.scenario.source,
        "started_unix_s": environment.started_unix_s + if id == "run-2" { 600.0 } else { 0.0 },
        "elapsed_s": elapsed,
        "setup": {
            "tx": environment.tx.iter().map(|tx| json!({
                "port": tx.port, "interface": tx.interface, "queue": tx.queue,
                "xsk_mode": tx.xsk_mode, "core": tx.core, "streams": tx.streams,
                // The fixture's run printed "UMEM 0.9 MiB".
                "umem_bytes": 943_718,
            })).collect::<Vec<_>>(),
            "rx": environment.rx.iter().map(|rx| json!({
                "port": rx.port, "interface": rx.interface, "xdp_mode": rx.xdp_mode,
            })).collect::<Vec<_>>(),
        },
        "streams": document.streams.iter().map(|stream| json!({
            "id": stream.id, "name": stream.name,
            "stopped": running && canned.stopped.lock().expect("stopped").contains(&stream.name),
        })).collect::<Vec<_>>(),
        "error": null,
        "verdict": if running { Value::Null } else { json!(document.verdict) },
    }))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("no {what}") })),
    )
        .into_response()
}

fn log(canned: &Canned, method: &str, path: String) {
    canned
        .requests
        .lock()
        .expect("request log")
        .push(format!("{method} {path}"));
}

async fn page(State(canned): State<Shared>) -> Response {
    log(&canned, "GET", "/".to_string());
    canned.events_sent.store(false, Ordering::SeqCst);
    asset_response("index.html")
}

async fn asset_file(State(canned): State<Shared>, UrlPath(file): UrlPath<String>) -> Response {
    log(&canned, "GET", format!("/assets/{file}"));
    asset_response(&file)
}

fn asset_response(name: &str) -> Response {
    match linerate_web::asset(name) {
        Some(asset) => ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response(),
        None => not_found("such asset"),
    }
}

async fn runs(State(canned): State<Shared>) -> Json<Value> {
    log(&canned, "GET", "/runs".to_string());
    Json(json!([
        run_info(&canned, "run-1"),
        run_info(&canned, "run-2")
    ]))
}

async fn run(State(canned): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    log(&canned, "GET", format!("/runs/{id}"));
    match run_info(&canned, &id) {
        Some(info) => Json(info).into_response(),
        None => not_found("such run"),
    }
}

/// How many intervals the running run has reported by the end of its events.
fn live_intervals(canned: &Canned) -> usize {
    let all = canned.document.intervals.len();
    if canned.stream_ends {
        all
    } else {
        all - NOT_YET
    }
}

fn history(canned: &Canned, id: &str) -> Vec<IntervalSection> {
    let all = &canned.document.intervals;
    if id == "run-2" {
        all[..HISTORY].to_vec()
    } else {
        all.clone()
    }
}

/// The history. The running run's waits until its events have gone out:
/// headless Chromium's virtual time does not wait for a stream's body, but
/// it does wait for this answer, so the page has the events in hand (and
/// buffers those that come before the history) when the test reads it.
async fn intervals(State(canned): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    log(&canned, "GET", format!("/runs/{id}/intervals"));
    if id == "run-2" {
        for _ in 0..2000 {
            if canned.events_sent.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    match run_info(&canned, &id) {
        Some(_) => Json(history(&canned, &id)).into_response(),
        None => not_found("such run"),
    }
}

/// The events stream: a keep-alive comment, then the intervals after the
/// history (the first of them one the history already has, which the page
/// must not draw twice), then the end event or nothing more (the stream
/// stays open). Sent at once, in 500-byte pieces that cut events and lines
/// anywhere: headless Chromium's virtual time does not wait for a stream,
/// so pacing it in real time would only make the test racy.
async fn events(State(canned): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    log(&canned, "GET", format!("/runs/{id}/events"));
    if id != "run-2" {
        return not_found("live run");
    }
    let mut text = ": keep-alive\n\n".to_string();
    for interval in &canned.document.intervals[HISTORY - 1..live_intervals(&canned)] {
        let data = serde_json::to_string(interval).expect("JSON");
        text.push_str(&format!("event: interval\ndata: {data}\n\n"));
    }
    if canned.stream_ends {
        let end = json!({ "state": "finished", "verdict": canned.document.verdict, "error": null });
        text.push_str(&format!("event: end\ndata: {end}\n\n"));
    }
    let pieces: Vec<String> = text
        .as_bytes()
        .chunks(500)
        .map(|piece| String::from_utf8_lossy(piece).into_owned())
        .collect();
    assert_eq!(pieces.concat(), text, "the pieces cut no character");
    let stream_ends = canned.stream_ends;
    let shared = canned.clone();
    let stream = futures_util::stream::unfold(pieces.into_iter(), move |mut rest| {
        let shared = shared.clone();
        async move {
            match rest.next() {
                Some(piece) => {
                    tokio::task::yield_now().await;
                    Some((Ok::<_, std::convert::Infallible>(piece), rest))
                }
                None if stream_ends => {
                    shared.events_sent.store(true, Ordering::SeqCst);
                    None
                }
                None => {
                    shared.events_sent.store(true, Ordering::SeqCst);
                    // A live run's stream stays open: a keep-alive now and then.
                    tokio::time::sleep(Duration::from_secs(15)).await;
                    Some((Ok(": keep-alive\n\n".to_string()), rest))
                }
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("response")
}

async fn stream_action(
    State(canned): State<Shared>,
    UrlPath((id, name, action)): UrlPath<(String, String, String)>,
) -> Response {
    log(
        &canned,
        "POST",
        format!("/runs/{id}/streams/{name}/{action}"),
    );
    let known = canned
        .document
        .streams
        .iter()
        .any(|stream| stream.name == name);
    if id != "run-2" || !known || (action != "stop" && action != "start") {
        return not_found("such run, stream or action");
    }
    let mut stopped = canned.stopped.lock().expect("stopped");
    if action == "stop" {
        stopped.insert(name.clone());
    } else {
        stopped.remove(&name);
    }
    Json(json!({ "name": name, "stopped": action == "stop" })).into_response()
}

/// The canned server on a loopback port, on its own runtime thread; stopped
/// (its runtime and every connection with it) on drop.
struct CannedServer {
    address: SocketAddr,
    canned: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// 401 for the API (not the page and its assets, which hold no data)
/// without `Authorization: Bearer <token>`, when the server has a token.
async fn require_token(
    State(canned): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    if let Some(token) = canned.token {
        let sent = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        if path.starts_with("/runs") && sent != Some(&format!("Bearer {token}")) {
            log(&canned, "401", path);
            let error = json!({ "error": "this server needs its API token: Authorization: Bearer <token>" });
            return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
        }
    }
    next.run(request).await
}

fn start_server(stream_ends: bool, token: Option<&'static str>) -> CannedServer {
    let canned = Arc::new(Canned {
        document: load_document(),
        stream_ends,
        token,
        requests: Mutex::new(Vec::new()),
        stopped: Mutex::new(std::collections::HashSet::new()),
        events_sent: AtomicBool::new(false),
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset_file))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/intervals", get(intervals))
        .route("/runs/{id}/events", get(events))
        .route("/runs/{id}/streams/{name}/{action}", post(stream_action))
        .layer(axum::middleware::from_fn_with_state(
            canned.clone(),
            require_token,
        ))
        .with_state(canned.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime.block_on(async move {
            tokio::select! {
                _ = axum::serve(listener, app) => {}
                _ = stopped => {}
            }
        })
    });
    CannedServer {
        address,
        canned,
        stop: Some(stop),
        thread: Some(thread),
    }
}

fn requests(canned: &Canned) -> Vec<String> {
    canned.requests.lock().expect("request log").clone()
}

#[test]
fn dashboard_draws_history_then_live_events_and_shows_the_end() {
    let server = start_server(true, None);
    let (address, canned) = (server.address, &server.canned);
    let intervals = canned.document.intervals.len();
    assert!(
        intervals > HISTORY + 2,
        "the fixture has {intervals} intervals"
    );
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-finished.png");
    let page = check_page_with(
        &format!("http://{address}/"),
        &PageOptions::new(&screenshot),
    )
    .expect("chromium opens the dashboard");
    assert_eq!(
        page.errors, 0,
        "JavaScript errors: {:?}",
        page.error_messages
    );
    let ids: Vec<&str> = page.charts.iter().map(|chart| chart.id.as_str()).collect();
    assert_eq!(ids, ["chart-rate", "chart-loss", "chart-latency"]);
    let every = format!("{intervals} points");
    assert_eq!(
        page.charts_drawn(),
        vec![every.clone(), every.clone(), every],
        "history ({HISTORY}) and live intervals, the overlap drawn once"
    );
    // The newest running run was chosen, and the end event shown.
    assert!(
        page.dom.contains("<h1 id=\"run-title\">run-2 · "),
        "run-2 is shown"
    );
    assert!(
        page.dom
            .contains("<span id=\"run-state\" class=\"badge finished\">finished</span>"),
        "the end event's state is shown"
    );
    assert!(
        page.dom.contains("class=\"badge fail\">FAIL</span>"),
        "the fixture's run failed"
    );
    for failure in &canned.document.verdict.failures {
        let shown = failure
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(page.dom.contains(&format!("<li>{shown}</li>")), "{failure}");
    }
    // The streams table shows the final interval's totals.
    let last = canned.document.intervals.last().expect("intervals");
    for stream in &last.streams {
        let sent = format_count(stream.tx_frames);
        assert!(
            page.dom.contains(&format!("<td>{sent}</td>")),
            "{} sent {sent}",
            stream.name
        );
    }
    let asked = requests(canned);
    for expected in [
        "GET /",
        "GET /assets/uPlot.iife.min.js",
        "GET /assets/charts.js",
        "GET /assets/dashboard.js",
        "GET /runs",
        "GET /runs/run-2",
        "GET /runs/run-2/intervals",
        "GET /runs/run-2/events",
    ] {
        assert!(
            asked.iter().any(|request| request == expected),
            "{expected} in {asked:?}"
        );
    }
    assert!(
        page.non_background_share > 0.10,
        "{}",
        page.non_background_share
    );
}

#[test]
fn dashboard_during_a_live_run_keeps_its_events_stream_open() {
    let server = start_server(false, None);
    let (address, canned) = (server.address, &server.canned);
    let intervals = live_intervals(canned);
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-running.png");
    let page = check_page_with(
        &format!("http://{address}/"),
        &PageOptions::new(&screenshot),
    )
    .expect("chromium opens the dashboard while the stream stays open");
    assert_eq!(
        page.errors, 0,
        "JavaScript errors: {:?}",
        page.error_messages
    );
    let every = format!("{intervals} points");
    assert_eq!(
        page.charts_drawn(),
        vec![every.clone(), every.clone(), every]
    );
    assert!(
        page.dom
            .contains("<span id=\"run-state\" class=\"badge running\">running</span>"),
        "still running"
    );
    assert!(
        page.non_background_share > 0.10,
        "{}",
        page.non_background_share
    );
    if let Ok(target) = std::env::var("LINERATE_DASHBOARD_PNG") {
        std::fs::copy(&screenshot, &target).expect("copy the screenshot");
    }
}

#[test]
fn dashboard_asks_for_the_token_when_the_api_wants_one() {
    let server = start_server(true, Some("s3cret"));
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-token.png");
    let page = check_page_with(
        &format!("http://{}/", server.address),
        &PageOptions::new(&screenshot),
    )
    .expect("chromium opens the dashboard");
    assert_eq!(
        page.errors, 0,
        "a 401 asks for the token, it is no error: {:?}",
        page.error_messages
    );
    assert!(
        page.dom
            .contains("<form id=\"token-form\" class=\"panel token\">"),
        "the token form is shown (not hidden)"
    );
    assert!(
        page.dom.contains("needs the API token"),
        "and the status says so"
    );
    assert!(
        page.charts_drawn().is_empty(),
        "nothing to draw without the API"
    );
    let asked = requests(&server.canned);
    assert!(
        asked.iter().any(|request| request == "401 /runs"),
        "{asked:?}"
    );
    assert!(
        !asked.iter().any(|request| request.starts_with("GET /runs")),
        "no API answer without the token: {asked:?}"
    );
}

#[test]
fn every_asset_the_page_refers_to_is_served() {
    let page =
        String::from_utf8_lossy(linerate_web::asset("").expect("the page").body).into_owned();
    let mut referred = 0;
    for piece in page.split("\"assets/").skip(1) {
        let name = &piece[..piece.find('"').expect("quoted")];
        assert!(linerate_web::asset(name).is_some(), "assets/{name}");
        assert!(
            linerate_web::asset(&format!("/assets/{name}")).is_some(),
            "/assets/{name}"
        );
        referred += 1;
    }
    assert_eq!(referred, 7, "3 stylesheets and 4 scripts");
    assert_eq!(linerate_web::asset("/"), linerate_web::asset("index.html"));
    assert!(linerate_web::asset("nonexistent.js").is_none());
    assert!(linerate_web::asset("../Cargo.toml").is_none());
    assert!(
        String::from_utf8_lossy(linerate_web::asset("uPlot.LICENSE").expect("licence").body)
            .contains("MIT")
    );
}

fn format_count(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// The first stream's row: "stopped" or "sending", and its button's label.
const FIRST_ROW: &str = "(() => { const row = document.querySelector('#streams tbody tr'); \
    return row ? row.children[1].textContent + '/' + row.querySelector('button').textContent : ''; })()";

fn wait_until_equal(browser: &mut Browser, expression: &str, expected: &str) {
    browser
        .wait_for(
            &format!("({expression}) === {}", json!(expected)),
            Duration::from_secs(20),
        )
        .unwrap_or_else(|error| {
            let now = browser.evaluate(expression).unwrap_or_default();
            let errors = browser.errors().unwrap_or_default();
            panic!("{error}; now {now}; page errors {errors:?}")
        });
}

#[test]
fn stream_stop_and_start_buttons_call_the_api_and_show_the_state() {
    let server = start_server(false, None);
    let mut browser = Browser::open(&format!("http://{}/", server.address), 1400, 1000)
        .expect("chromium opens the dashboard");
    let points = format!("{} points", live_intervals(&server.canned));
    wait_until_equal(
        &mut browser,
        "document.getElementById('chart-rate').dataset.drawn",
        &points,
    );
    wait_until_equal(&mut browser, FIRST_ROW, "sending/stop");
    browser
        .evaluate("document.querySelector('#streams tbody button').click()")
        .expect("click stop");
    wait_until_equal(&mut browser, FIRST_ROW, "stopped/start");
    // The next refresh reads the state back from the server: still stopped.
    std::thread::sleep(Duration::from_millis(2500));
    wait_until_equal(&mut browser, FIRST_ROW, "stopped/start");
    browser
        .evaluate("document.querySelector('#streams tbody button').click()")
        .expect("click start");
    wait_until_equal(&mut browser, FIRST_ROW, "sending/stop");
    let errors = browser.errors().expect("errors");
    assert!(errors.is_empty(), "{errors:?}");
    let charts = browser.charts().expect("charts");
    assert_eq!(charts.len(), 3);
    assert!(
        charts
            .iter()
            .all(|chart| chart.drawn.as_deref() == Some(points.as_str())),
        "{charts:?}"
    );
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-clicked.png");
    let drawn = browser.screenshot(&screenshot).expect("screenshot");
    assert!(drawn > 0.10, "{drawn}");
    let asked = requests(&server.canned);
    let first = &server.canned.document.streams[0].name;
    let actions: Vec<&String> = asked
        .iter()
        .filter(|request| request.starts_with("POST"))
        .collect();
    assert_eq!(
        actions,
        [
            &format!("POST /runs/run-2/streams/{first}/stop"),
            &format!("POST /runs/run-2/streams/{first}/start")
        ]
    );
}

#[test]
fn dashboard_sends_the_token_it_is_given_with_every_call_and_the_events_stream() {
    let server = start_server(false, Some("s3cret"));
    let mut browser = Browser::open(&format!("http://{}/", server.address), 1400, 1000)
        .expect("chromium opens the dashboard");
    browser
        .wait_for(
            "!document.getElementById('token-form').hidden",
            Duration::from_secs(20),
        )
        .expect("the page asks for the token");
    browser
        .evaluate(
            "document.getElementById('token-input').value = 's3cret'; \
             document.getElementById('token-form').requestSubmit(); true",
        )
        .expect("type the token");
    let points = format!("{} points", live_intervals(&server.canned));
    wait_until_equal(
        &mut browser,
        "document.getElementById('chart-rate').dataset.drawn",
        &points,
    );
    assert_eq!(
        browser
            .evaluate("sessionStorage.getItem('linerate-token')")
            .expect("storage"),
        json!("s3cret")
    );
    assert_eq!(
        browser
            .evaluate("document.getElementById('token-form').hidden")
            .expect("form"),
        json!(true)
    );
    let errors = browser.errors().expect("errors");
    assert!(errors.is_empty(), "{errors:?}");
    let asked = requests(&server.canned);
    // Logged by the handlers only once the token was right.
    for expected in [
        "GET /runs",
        "GET /runs/run-2/intervals",
        "GET /runs/run-2/events",
    ] {
        assert!(
            asked.iter().any(|request| request == expected),
            "{expected}: {asked:?}"
        );
    }
    assert!(
        asked.iter().any(|request| request == "401 /runs"),
        "{asked:?}"
    );
}
