//! `linerate run --html FILE` end to end: a real two-stream run through a
//! lab writes one self-contained page whose embedded document is the
//! `--json` document, and headless Chromium opens it with no JavaScript
//! error, every chart drawn from the run's points and a screenshot that is
//! not blank; an interrupted run writes its page too, marked so; a bad path
//! fails before sending. Lab and Chromium tests need root (and Debian's
//! chromium).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use linerate_engine::lab::{Lab, LabSpec};
use linerate_web::testing::{check_page_with, PageOptions};

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("linerate-html-{}-{serial}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.file(name);
        std::fs::write(&path, text).expect("write file");
        path.to_str().expect("utf-8 path").to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn linerate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(args)
        .output()
        .expect("the linerate binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two streams from port a to port b of `lab`.
fn two_streams(lab: &LabSpec, run: &str, extra: &str) -> String {
    format!(
        "[run]\n{run}\n{extra}{}{}{}",
        lab.port_tables(),
        lab.stream_table("alpha", "b", 128, "20kpps"),
        lab.stream_table("beta", "b", 512, "40kpps"),
    )
}

/// The document embedded in the page.
fn embedded_document(html: &str) -> serde_json::Value {
    let start_tag = "<script type=\"application/json\" id=\"report-data\">";
    let start = html.find(start_tag).expect("the page embeds the document") + start_tag.len();
    let length = html[start..].find("</script>").expect("its script ends");
    serde_json::from_str(&html[start..start + length]).expect("the embedded document is JSON")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn html_report_of_a_lab_run_opens_cleanly_with_every_chart_drawn() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let dir = TempDir::new();
    let scenario = dir.write(
        "two.toml",
        &two_streams(
            lab.spec(),
            "duration = \"2s\"\nreport_interval = \"250ms\"\ndrain = \"500ms\"",
            "",
        ),
    );
    let (html_path, json_path) = (dir.file("report.html"), dir.file("report.json"));
    let output = linerate(&[
        "run",
        &scenario,
        "--html",
        path_str(&html_path),
        "--json",
        path_str(&json_path),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("HTML report: {}", html_path.display())),
        "{stdout}"
    );
    assert!(
        !dir.file("report.json.intervals").exists(),
        "the series file is gone"
    );

    let html = std::fs::read_to_string(&html_path).expect("the HTML report is written");
    // Self-contained: nothing to fetch.
    for outside in [
        "<script src",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(http",
    ] {
        assert!(
            !html.contains(outside),
            "the page refers outside: {outside}"
        );
    }
    // The embedded document is the --json document, series and all.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("JSON report"))
            .expect("JSON");
    let embedded = embedded_document(&html);
    assert_eq!(embedded, json, "the page embeds the --json document");
    let intervals = json["intervals"].as_array().expect("intervals").len();
    assert!(intervals >= 8, "2 s at 250 ms: {intervals} intervals");
    for stream in json["streams"].as_array().expect("streams") {
        assert_eq!(stream["frames_lost"], 0, "{stream}");
        assert!(html.contains(&format!("{}</td>", stream["name"].as_str().expect("name"))));
    }
    assert!(html.contains("<span class=\"badge pass\">PASS</span>"));

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report.png");
    let mut options = PageOptions::new(&screenshot);
    options.window = (1400, 2000);
    let url = format!("file://{}", html_path.display());
    let page = check_page_with(&url, &options).expect("chromium opens the report");
    assert_eq!(
        page.errors, 0,
        "JavaScript errors: {:?}",
        page.error_messages
    );
    assert_eq!(page.charts.len(), 4, "{:?}", page.charts);
    assert!(
        page.charts_not_drawn().is_empty(),
        "charts not drawn: {:?}",
        page.charts_not_drawn()
    );
    let over_time = format!("{intervals} points");
    let drawn = page.charts_drawn();
    assert_eq!(
        drawn,
        vec![
            over_time.clone(),
            over_time.clone(),
            over_time,
            "12 points".to_string()
        ],
        "rate, loss and latency over every interval; 6 percentiles of 2 streams"
    );
    assert!(
        page.non_background_share > 0.10,
        "the screenshot {} is mostly blank: {:.3}",
        screenshot.display(),
        page.non_background_share
    );
    println!(
        "report page: {} intervals, charts {drawn:?}, {:.1} % of the screenshot drawn ({})",
        intervals,
        page.non_background_share * 100.0,
        screenshot.display()
    );
}

#[test]
fn interrupted_run_writes_its_html_report_marked_interrupted() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let dir = TempDir::new();
    let scenario = dir.write(
        "long.toml",
        &two_streams(
            lab.spec(),
            "duration = \"10s\"\nreport_interval = \"250ms\"\ndrain = \"500ms\"",
            "",
        ),
    );
    let html_path = dir.file("partial.html");
    let child = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(["run", &scenario, "--html", path_str(&html_path)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("linerate starts");
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let output = child.wait_with_output().expect("linerate ends");
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let html = std::fs::read_to_string(&html_path).expect("the partial HTML report");
    assert!(html.contains("<span class=\"badge note\">INTERRUPTED</span>"));
    let document = embedded_document(&html);
    assert_eq!(document["verdict"]["interrupted"], true);
    let sent: u64 = document["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|stream| stream["frames_sent"].as_u64().expect("frames_sent"))
        .sum();
    assert!(
        sent > 1000 && sent < 600_000,
        "stopped part way: {sent} frames"
    );
    let intervals = document["intervals"].as_array().expect("intervals");
    assert!(
        intervals.len() >= 4,
        "the series so far: {}",
        intervals.len()
    );
    assert!(
        !dir.file("partial.html.intervals").exists(),
        "the series file is gone"
    );
}

#[test]
fn bad_html_path_fails_before_sending() {
    let lab = LabSpec::unique();
    let dir = TempDir::new();
    let scenario = dir.write("never.toml", &two_streams(&lab, "duration = \"1s\"", ""));
    let output = linerate(&["run", &scenario, "--html", "/nonexistent/dir/report.html"]);
    let message = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("cannot write /nonexistent/dir/report.html"),
        "{message}"
    );
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    assert!(
        !text(&output.stdout).contains("tx  port"),
        "nothing was set up"
    );
}

/// Writes web/tests/data/run-report.json, the real run document the
/// dashboard test serves: a routed lab whose router shapes the two streams
/// a little below their sum (tbf: it queues, delays and drops), one stream
/// swapping neighbours on purpose, and loss and latency limits the run fails. Run by hand:
/// `cargo test -p linerate --test html_report -- --ignored make_dashboard_fixture`.
#[test]
#[ignore = "writes the dashboard test's fixture; run by hand"]
fn make_dashboard_fixture() {
    let lab =
        Lab::create(LabSpec::unique().routed()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let router = spec.router.as_ref().expect("routed lab");
    let shaper = Command::new("tc")
        .args(["-n", &router.toward_b.namespace, "qdisc", "add", "dev"])
        .arg(&router.toward_b.interface)
        .args([
            "root", "tbf", "rate", "170mbit", "burst", "32kb", "limit", "100kb",
        ])
        .output()
        .expect("tc runs");
    assert!(shaper.status.success(), "{}", text(&shaper.stderr));
    let dir = TempDir::new();
    let streams = format!(
        "{}\n[stream.fault]\nkind = \"swap\"\nevery = 5000\n{}",
        spec.stream_table("voice", "b", 128, "10kpps"),
        spec.stream_table("video", "b", 1024, "20kpps"),
    );
    dir.write(
        "shaped-link.toml",
        &format!(
            "[run]\nduration = \"10s\"\nreport_interval = \"500ms\"\ndrain = \"1s\"\n\
             [pass]\nmax_loss_percent = 0.01\nmax_latency = [{{ percentile = 99, max = \"2ms\" }}]\n{}{streams}",
            spec.port_tables()
        ),
    );
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/data/run-report.json");
    std::fs::create_dir_all(fixture.parent().expect("a directory")).expect("web/tests/data");
    // Run from the scenario's directory, so that the report names it plainly.
    let output = Command::new(env!("CARGO_BIN_EXE_linerate"))
        .current_dir(&dir.0)
        .args(["run", "shaped-link.toml", "--json", path_str(&fixture)])
        .output()
        .expect("the linerate binary runs");
    println!("{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(fixture.exists(), "the fixture is written");
}
