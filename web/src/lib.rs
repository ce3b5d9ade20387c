//! linerate's web pages, built into the binary (no CDN: they work offline):
//! the live dashboard that `linerate serve` shows at `/`, fed by the HTTP
//! API's events stream, and the self-contained HTML run report that
//! `linerate run --html FILE` writes. Both draw with the same chart code
//! (assets/charts.js on the vendored uPlot, see web/README.md).
//!
//! This file is the interface the server and the CLI use: [`asset`] serves
//! the dashboard's files, [`report_html`] and [`write_report_html`] build the
//! report (report.rs). With the `testing` feature, [`testing`] opens pages
//! in headless Chromium and says whether their scripts ran cleanly and their
//! charts drew.

mod report;
#[cfg(feature = "testing")]
pub mod testing;

use linerate_engine::report::ReportDocument;

pub use report::write_report_html;

/// A file the dashboard needs, with its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The media type, for Content-Type.
    pub content_type: &'static str,
    /// The bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// The dashboard's files by the name the page asks for under `assets/`
/// (flat names, so that a server routing one path segment finds them all).
const ASSETS: &[(&str, Asset)] = &[
    (
        "index.html",
        Asset {
            content_type: HTML,
            body: include_bytes!("../assets/index.html"),
        },
    ),
    (
        "dashboard.js",
        Asset {
            content_type: JAVASCRIPT,
            body: include_bytes!("../assets/dashboard.js"),
        },
    ),
    (
        "dashboard.css",
        Asset {
            content_type: CSS,
            body: include_bytes!("../assets/dashboard.css"),
        },
    ),
    (
        "charts.js",
        Asset {
            content_type: JAVASCRIPT,
            body: include_bytes!("../assets/charts.js"),
        },
    ),
    (
        "health.js",
        Asset {
            content_type: JAVASCRIPT,
            body: include_bytes!("../assets/health.js"),
        },
    ),
    (
        "linerate.css",
        Asset {
            content_type: CSS,
            body: include_bytes!("../assets/linerate.css"),
        },
    ),
    (
        "uPlot.iife.min.js",
        Asset {
            content_type: JAVASCRIPT,
            body: include_bytes!("../assets/vendor/uPlot.iife.min.js"),
        },
    ),
    (
        "uPlot.min.css",
        Asset {
            content_type: CSS,
            body: include_bytes!("../assets/vendor/uPlot.min.css"),
        },
    ),
    (
        "uPlot.LICENSE",
        Asset {
            content_type: TEXT,
            body: include_bytes!("../assets/vendor/LICENSE"),
        },
    ),
];

/// The dashboard's file at `path` ("" or "index.html" for the page itself,
/// otherwise a name under `/assets/`, such as "dashboard.js"; a leading `/`
/// or `assets/` is allowed); `None` when there is no such file.
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    let name = path.strip_prefix("assets/").unwrap_or(path);
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, asset)| *asset)
}

/// The names [`asset`] knows, the page itself first.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _)| *name)
}

/// The whole run report as one self-contained HTML file: summary and
/// verdict, totals, latency, setup, and charts drawn from the document
/// embedded in it (inline CSS, uPlot and chart code; nothing fetched).
pub fn report_html(document: &ReportDocument) -> String {
    let mut page = Vec::new();
    // Writing to a Vec cannot fail, and the document's own series always
    // serializes; an error here would leave a truncated page, not a panic.
    let _ = write_report_html(&mut page, document, std::iter::empty());
    String::from_utf8_lossy(&page).into_owned()
}
