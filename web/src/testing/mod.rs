//! Page checks in headless Chromium, for tests (cargo feature `testing`):
//! [`check_page`] opens a URL twice — once to dump the DOM after the page's
//! scripts ran, once for a screenshot — and says how many JavaScript errors
//! the page recorded (`document.body.dataset.errors`, kept by health.js),
//! which charts drew (`data-drawn` on each `.chart`), and how much of the
//! screenshot differs from the background. Each Chromium runs with a fresh
//! profile directory, is ended by its pid if it overruns, and the profile is
//! removed afterwards. [`Browser`] (browser.rs) drives a page instead:
//! clicks and typing by JavaScript over the DevTools protocol, for tests of
//! what the page does when used. Needs Debian's `chromium`; runs as root.

mod browser;

pub use browser::Browser;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// What a page check found.
#[derive(Debug, Clone)]
pub struct PageCheck {
    /// JavaScript errors the page recorded (uncaught errors, unhandled
    /// rejections, failed API calls); 1 if its scripts never ran at all.
    pub errors: usize,
    /// The recorded errors' text (#page-errors).
    pub error_messages: Vec<String>,
    /// Every chart container (`class="chart ..."`) in page order.
    pub charts: Vec<ChartState>,
    /// The PNG screenshot.
    pub screenshot: PathBuf,
    /// Share of the screenshot's pixels that differ from its most common
    /// colour (0 for a blank page).
    pub non_background_share: f64,
    /// The DOM after the scripts ran, as Chromium serialized it.
    pub dom: String,
}

/// One chart container on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartState {
    /// The container's id.
    pub id: String,
    /// Its `data-drawn` value ("N points") once drawn with data.
    pub drawn: Option<String>,
}

impl PageCheck {
    /// The `data-drawn` values of the charts that drew, in page order.
    pub fn charts_drawn(&self) -> Vec<String> {
        self.charts
            .iter()
            .filter_map(|chart| chart.drawn.clone())
            .collect()
    }

    /// The ids of the charts that did not draw.
    pub fn charts_not_drawn(&self) -> Vec<String> {
        self.charts
            .iter()
            .filter(|chart| chart.drawn.is_none())
            .map(|chart| chart.id.clone())
            .collect()
    }
}

/// How to open the page.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// Where the screenshot goes (its directory must exist).
    pub screenshot: PathBuf,
    /// Browser window size in CSS pixels, also the screenshot's size.
    pub window: (u32, u32),
    /// Virtual time the page gets to run its scripts and timers.
    pub virtual_time_budget: Duration,
    /// Longest real time one Chromium may take before it is ended.
    pub timeout: Duration,
}

impl PageOptions {
    /// Screenshot to `screenshot`, a 1400×1000 window, 5 s of virtual
    /// time, 60 s at most per Chromium.
    pub fn new(screenshot: impl Into<PathBuf>) -> PageOptions {
        PageOptions {
            screenshot: screenshot.into(),
            window: (1400, 1000),
            virtual_time_budget: Duration::from_millis(5000),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why a page could not be checked (not what the page did wrong).
#[derive(Debug)]
pub struct PageError(pub String);

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PageError {}

/// Checks the page at `url` with the default options, the screenshot in a
/// fresh file under the system's temporary directory (the caller may keep
/// or remove it).
pub fn check_page(url: &str) -> Result<PageCheck, PageError> {
    let directory = std::env::temp_dir().join("linerate-pages");
    std::fs::create_dir_all(&directory)
        .map_err(|error| PageError(format!("cannot create {}: {error}", directory.display())))?;
    let name = format!("page-{}-{}.png", std::process::id(), next_serial());
    check_page_with(url, &PageOptions::new(directory.join(name)))
}

/// Checks the page at `url` with `options`.
pub fn check_page_with(url: &str, options: &PageOptions) -> Result<PageCheck, PageError> {
    let budget = format!(
        "--virtual-time-budget={}",
        options.virtual_time_budget.as_millis()
    );
    let window = format!("--window-size={},{}", options.window.0, options.window.1);
    let dom = run_chromium(&[&budget, &window, "--dump-dom", url], options.timeout)?;
    let _ = std::fs::remove_file(&options.screenshot);
    let screenshot = format!("--screenshot={}", options.screenshot.display());
    run_chromium(&[&budget, &window, &screenshot, url], options.timeout)?;
    let non_background_share = non_background_share(&options.screenshot)?;
    let visible = without_elements(&dom, &["script", "style"]);
    let (errors, error_messages) = page_errors(&visible);
    Ok(PageCheck {
        errors,
        error_messages,
        charts: charts(&visible),
        screenshot: options.screenshot.clone(),
        non_background_share,
        dom,
    })
}

fn next_serial() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A fresh Chromium profile directory, removed on drop.
struct Profile(PathBuf);

/// The flags every headless Chromium here runs with.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--mute-audio",
];

impl Profile {
    fn create() -> Result<Profile, PageError> {
        let path = std::env::temp_dir().join(format!(
            "linerate-chromium-{}-{}",
            std::process::id(),
            next_serial()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|error| PageError(format!("cannot create {}: {error}", path.display())))?;
        Ok(Profile(path))
    }
}

impl Drop for Profile {
    /// Removes the profile; again for up to a second while Chromium's
    /// helper processes, ending after the browser, still write into it
    /// (a single removal left `data/Default/Network Persistent State`).
    fn drop(&mut self) {
        for _ in 0..20 {
            let _ = std::fs::remove_dir_all(&self.0);
            if !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs headless Chromium with `arguments` after the fixed flags; returns
/// what it wrote to stdout. Ended by its pid after `timeout`.
fn run_chromium(arguments: &[&str], timeout: Duration) -> Result<String, PageError> {
    let profile = Profile::create()?;
    let stdout_path = profile.0.join("stdout.txt");
    let stderr_path = profile.0.join("stderr.txt");
    let create = |path: &Path| {
        File::create(path)
            .map_err(|error| PageError(format!("cannot create {}: {error}", path.display())))
    };
    let mut child = Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            profile.0.join("data").display()
        ))
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(create(&stdout_path)?)
        .stderr(create(&stderr_path)?)
        .spawn()
        .map_err(|error| {
            PageError(format!(
                "cannot start chromium: {error}; install Debian's chromium package"
            ))
        })?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PageError(format!(
                    "chromium {arguments:?} did not finish within {timeout:?}; ended it (pid {})",
                    child.id()
                )));
            }
        }
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    if !status.success() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        return Err(PageError(format!(
            "chromium {arguments:?} failed ({status}): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    Ok(stdout)
}

/// The share of the PNG's pixels that differ from its most common colour.
fn non_background_share(path: &Path) -> Result<f64, PageError> {
    let fail = |what: String| PageError(format!("screenshot {}: {what}", path.display()));
    let file = File::open(path).map_err(|error| fail(error.to_string()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|error| fail(error.to_string()))?;
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|error| fail(error.to_string()))?;
    let channels = frame.color_type.samples();
    let pixels: Vec<&[u8]> = buffer[..frame.buffer_size()]
        .chunks_exact(channels)
        .collect();
    if pixels.is_empty() {
        return Err(fail("no pixels".to_string()));
    }
    let mut counts = std::collections::HashMap::new();
    for pixel in &pixels {
        *counts.entry(*pixel).or_insert(0usize) += 1;
    }
    let background = counts.values().copied().max().unwrap_or(0);
    Ok((pixels.len() - background) as f64 / pixels.len() as f64)
}

/// The DOM text with the contents of every `names` element left out (so
/// that script text never reads as markup).
fn without_elements(dom: &str, names: &[&str]) -> String {
    let mut text = dom.to_string();
    for name in names {
        let open = format!("<{name}");
        let close = format!("</{name}>");
        let mut kept = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&open) {
            kept.push_str(&rest[..start]);
            match rest[start..].find(&close) {
                Some(end) => rest = &rest[start + end + close.len()..],
                None => {
                    rest = "";
                    break;
                }
            }
        }
        kept.push_str(rest);
        text = kept;
    }
    text
}

/// The start tags named `name` in `html`, each as its text between `<` and `>`.
fn start_tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find('>').unwrap_or(after.len());
        if after.starts_with([' ', '>', '\n', '\t', '/']) {
            tags.push(&after[..end]);
        }
        rest = &after[end..];
    }
    tags
}

/// An attribute's value in a start tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The error count on `<body data-errors>` and the messages in #page-errors.
fn page_errors(html: &str) -> (usize, Vec<String>) {
    let count = start_tags(html, "body")
        .first()
        .and_then(|tag| attribute(tag, "data-errors"))
        .and_then(|value| value.parse::<usize>().ok());
    let messages: Vec<String> = html
        .split_once("id=\"page-errors\"")
        .and_then(|(_, after)| after.split_once('>'))
        .and_then(|(_, after)| after.split_once("</pre>"))
        .map(|(text, _)| {
            unescape(text)
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    match count {
        Some(count) => (count, messages),
        None => (
            1,
            vec!["the page never set data-errors on <body>: its scripts did not run".to_string()],
        ),
    }
}

/// Every `.chart` container with its `data-drawn` value.
fn charts(html: &str) -> Vec<ChartState> {
    start_tags(html, "div")
        .into_iter()
        .filter(|tag| {
            attribute(tag, "class")
                .is_some_and(|class| class.split_whitespace().any(|name| name == "chart"))
        })
        .map(|tag| ChartState {
            id: attribute(tag, "id").unwrap_or_default(),
            drawn: attribute(tag, "data-drawn"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_errors_and_charts_but_not_script_text() {
        let dom = "<html><head><script>// sets data-drawn=\"9 points\" <div class=\"chart\" id=\"fake\"></script></head>\
                   <body class=\"x\" data-errors=\"2\"><pre id=\"page-errors\">a &lt;b&gt;\nc</pre>\
                   <div class=\"chart wide\" id=\"one\" data-drawn=\"12 points\"></div>\
                   <div class=\"chart\" id=\"two\"></div><div class=\"charts\" id=\"not\"></div></body></html>";
        let visible = without_elements(dom, &["script", "style"]);
        assert_eq!(
            page_errors(&visible),
            (2, vec!["a <b>".to_string(), "c".to_string()])
        );
        assert_eq!(
            charts(&visible),
            vec![
                ChartState {
                    id: "one".to_string(),
                    drawn: Some("12 points".to_string())
                },
                ChartState {
                    id: "two".to_string(),
                    drawn: None
                },
            ]
        );
    }

    #[test]
    fn a_page_whose_scripts_never_ran_counts_one_error() {
        let (errors, messages) = page_errors("<html><body><p>hi</p></body></html>");
        assert_eq!(errors, 1);
        assert!(messages[0].contains("never set data-errors"));
    }
}
