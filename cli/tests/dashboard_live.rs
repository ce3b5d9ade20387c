//! The live dashboard during a real run: `linerate serve` on a loopback
//! port, a run through a lab, and the page opened in headless Chromium while
//! the run sends: it lists the run, its charts draw the run's intervals as
//! they arrive, the per-stream table shows the streams, the screenshot is
//! not blank, and the page logs no JavaScript error. Needs root and Debian's
//! chromium (`make test` installs it).

mod common;

use std::time::Duration;

use common::serve::{client, json, ServeProcess};
use linerate_engine::lab::{Lab, LabSpec};
use linerate_web::testing::Browser;

#[test]
fn the_dashboard_draws_a_running_run_live_without_errors() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let text = format!(
        "[run]\nduration = \"8s\"\nreport_interval = \"250ms\"\n{}{}{}",
        spec.port_tables(),
        spec.stream_table("east", "b", 60, "20kpps"),
        spec.stream_table("west", "b", 512, "5kpps")
    );
    let server = ServeProcess::start(&[]);
    let run = json(
        client()
            .post(server.url("/runs"))
            .json(&serde_json::json!({ "scenario_toml": text }))
            .send()
            .expect("answer"),
        201,
    );
    let run_id = run["id"].as_str().expect("a run id").to_string();

    let mut browser = Browser::open(&server.url("/"), 1400, 1000).expect("chromium opens the page");
    // The run appears and its charts draw from its live intervals.
    browser
        .wait_for(
            &format!("document.body.innerText.includes('{run_id}')"),
            Duration::from_secs(10),
        )
        .expect("the dashboard lists the run");
    browser
        .wait_for(
            "Array.from(document.querySelectorAll('div.chart')).length > 0 && \
             Array.from(document.querySelectorAll('div.chart')).every(c => c.dataset.drawn)",
            Duration::from_secs(10),
        )
        .expect("every chart draws");
    let drawn_early = points(&mut browser);
    std::thread::sleep(Duration::from_millis(1500));
    let drawn_later = points(&mut browser);
    assert!(
        drawn_later > drawn_early,
        "live events add points while the run goes: {drawn_early} then {drawn_later}"
    );
    let page_text = browser
        .evaluate("document.body.innerText")
        .expect("page text");
    for stream in ["east", "west"] {
        assert!(
            page_text.as_str().unwrap_or_default().contains(stream),
            "stream {stream} in the table"
        );
    }
    let shot = std::env::temp_dir().join(format!("linerate-dashboard-{}.png", std::process::id()));
    let share = browser.screenshot(&shot).expect("a screenshot");
    let _ = std::fs::remove_file(&shot);
    assert!(share > 0.05, "the screenshot shows drawn content: {share}");
    let errors = browser.errors().expect("the page's error list");
    assert!(errors.is_empty(), "JavaScript errors: {errors:?}");
    drop(browser);

    // The run then ends normally and its report is served.
    let stop = client()
        .post(server.url(&format!("/runs/{run_id}/stop")))
        .send()
        .expect("answer");
    assert_eq!(stop.status().as_u16(), 202);
}

/// The largest "N points" any chart reports.
fn points(browser: &mut Browser) -> u64 {
    browser
        .charts()
        .expect("the charts")
        .iter()
        .filter_map(|chart| chart.drawn.as_deref())
        .filter_map(|drawn| drawn.split_whitespace().next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}
