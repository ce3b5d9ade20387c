//! URL endpoints: parsing a URL into what the HTTP and FTP clients need,
//! and the loop that starts one request at a time at the target rate
//! (`requests_per_ten`), or back to back, until the run stops. Requests
//! still in flight when the run stops are abandoned and not counted.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::time::Instant;

use crate::error::ErrorKind;
use crate::plan::{UrlPlan, URL_SCHEMES};
use crate::report::UrlCounters;
use crate::stop::Stop;

/// The parts of a URL the clients use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// "http", "https" or "ftp".
    pub scheme: String,
    /// Host name or address.
    pub host: String,
    /// Port (the scheme's default if not given).
    pub port: u16,
    /// Path, percent-decoded.
    pub path: String,
    /// User name, percent-decoded (`None`: anonymous).
    pub user: Option<String>,
    /// Password, percent-decoded.
    pub password: Option<String>,
}

/// Parses and checks a URL: one of [`URL_SCHEMES`], with a host.
pub fn parse(text: &str) -> Result<ParsedUrl, String> {
    let url =
        reqwest::Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    let scheme = url.scheme().to_string();
    if !URL_SCHEMES.contains(&scheme.as_str()) {
        return Err(format!(
            "{text:?}: unknown URL scheme {scheme:?}; linerate fetches {} URLs",
            URL_SCHEMES.join(", ")
        ));
    }
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| format!("{text:?} has no host"))?
        .to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{text:?} has no port and its scheme has no default"))?;
    let user = (!url.username().is_empty()).then(|| percent_decode(url.username()));
    Ok(ParsedUrl {
        scheme,
        host,
        port,
        path: percent_decode(url.path()),
        user,
        password: url.password().map(percent_decode),
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// How one request ended.
pub(crate) enum Outcome {
    /// It completed without error.
    Completed,
    /// It failed, counted under this kind.
    Failed(ErrorKind, String),
    /// The run stopped while it was in flight.
    Abandoned,
}

/// What a URL endpoint's requests go through.
pub(crate) enum Transport {
    /// reqwest, for http and https.
    Http(reqwest::Client),
    /// suppaftp on a blocking thread, for ftp.
    Ftp,
}

/// Runs the URL endpoint until the run stops or its request limit is met.
pub(crate) async fn run(
    plan: Arc<UrlPlan>,
    transport: Transport,
    counters: Arc<UrlCounters>,
    mut stop: Stop,
) {
    let parsed = match parse(&plan.url) {
        Ok(parsed) => Arc::new(parsed),
        Err(message) => {
            counters.errors.record(ErrorKind::BadUrl, || message);
            return;
        }
    };
    let start = Instant::now();
    let interval = plan.request_interval();
    let mut issued: u64 = 0;
    loop {
        if plan.max_requests.is_some_and(|max| issued >= max) {
            break;
        }
        let stopped = match interval {
            Some(interval) => {
                stop.sleep_until(start + interval.mul_f64(issued as f64))
                    .await
            }
            None => stop.is_stopped(),
        };
        if stopped {
            break;
        }
        issued += 1;
        let request_stop = stop.clone();
        let outcome = tokio::select! {
            outcome = request(&plan, &parsed, &transport, &counters, &request_stop) => outcome,
            _ = stop.stopped() => Outcome::Abandoned,
        };
        match outcome {
            Outcome::Completed => {
                counters.completed.fetch_add(1, Relaxed);
            }
            Outcome::Failed(kind, message) => counters.errors.record(kind, || message),
            Outcome::Abandoned => break,
        }
    }
}

async fn request(
    plan: &Arc<UrlPlan>,
    parsed: &Arc<crate::url::ParsedUrl>,
    transport: &Transport,
    counters: &Arc<UrlCounters>,
    stop: &Stop,
) -> Outcome {
    match transport {
        Transport::Http(client) => crate::http::request(client, plan, counters).await,
        Transport::Ftp => {
            let (plan, parsed, counters, stop) =
                (plan.clone(), parsed.clone(), counters.clone(), stop.clone());
            tokio::task::spawn_blocking(move || {
                crate::ftp::transfer(&plan, &parsed, &counters, &stop)
            })
            .await
            .unwrap_or_else(|error| {
                Outcome::Failed(
                    ErrorKind::Other,
                    format!("FTP transfer task failed: {error}"),
                )
            })
        }
    }
}
