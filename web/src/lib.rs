//! linerate's web pages, built into the binary (no CDN: they work offline):
//! the live dashboard that `linerate serve` shows at `/`, fed by the HTTP
//! API's events stream, and the self-contained HTML run report that
//! `linerate run --html FILE` writes. Both draw with the same chart code.
//!
//! This is the interface the server and the CLI use; the pages behind it are
//! being written (see the web helper's brief) — until then `asset` serves a
//! page that says so and `report_html` the document as preformatted JSON.

use linerate_engine::report::ReportDocument;

/// A file the dashboard needs, with its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The media type, for Content-Type.
    pub content_type: &'static str,
    /// The bytes.
    pub body: &'static [u8],
}

/// The dashboard's file at `path` ("" or "index.html" for the page itself,
/// otherwise a name under `/assets/`); `None` when there is no such file.
pub fn asset(path: &str) -> Option<Asset> {
    match path {
        "" | "index.html" => Some(Asset {
            content_type: "text/html; charset=utf-8",
            body: b"<!doctype html><title>linerate</title><p>dashboard not built yet</p>",
        }),
        _ => None,
    }
}

/// The whole run report as one self-contained HTML file.
pub fn report_html(document: &ReportDocument) -> String {
    let json = serde_json::to_string_pretty(document).unwrap_or_default();
    format!(
        "<!doctype html><title>linerate report</title><pre>{}</pre>",
        json.replace('&', "&amp;").replace('<', "&lt;")
    )
}
