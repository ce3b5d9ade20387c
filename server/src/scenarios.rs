//! Scenarios sent to the API: TOML text, or JSON of the same structure
//! (turned into TOML so that the engine validates both exactly as the CLI
//! does), and the store of those `POST /scenarios` accepted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::{header, HeaderMap, StatusCode};
use linerate_engine::scenario::{self, Plan};

use crate::error::ApiError;
use crate::model::ScenarioInfo;

/// The form a scenario arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioFormat {
    /// TOML text, as in a scenario file.
    Toml,
    /// JSON with the same structure.
    Json,
}

impl ScenarioFormat {
    /// The format a request's Content-Type says: none, text/plain or
    /// application/toml → TOML; application/json → JSON; anything else 415.
    pub fn from_headers(headers: &HeaderMap) -> Result<ScenarioFormat, ApiError> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Ok(ScenarioFormat::Toml);
        };
        let media = media_type(value.to_str().unwrap_or(""));
        match media.as_str() {
            "" | "text/plain" | "application/toml" => Ok(ScenarioFormat::Toml),
            "application/json" => Ok(ScenarioFormat::Json),
            other => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Type {other:?} is not a scenario: send TOML (text/plain or application/toml) or JSON (application/json)"),
            )
            .with_field("Content-Type")),
        }
    }
}

/// The media type of a Content-Type value, lowercase, without parameters.
pub fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A validated scenario and its TOML text.
#[derive(Debug, Clone)]
pub struct ParsedScenario {
    /// What the engine runs.
    pub plan: Plan,
    /// The scenario as TOML.
    pub toml: String,
}

/// Validates TOML scenario text named `source` exactly as `linerate
/// validate` does: 400 with file:line:column, field and message.
pub fn parse_toml(text: &str, source: &str) -> Result<ParsedScenario, ApiError> {
    let plan = scenario::parse(text, source).map_err(|error| ApiError::scenario(&error, true))?;
    Ok(ParsedScenario {
        plan,
        toml: text.to_string(),
    })
}

/// Validates a JSON scenario (the TOML file's structure as JSON) named
/// `source`: turned into TOML, then validated as the CLI does. Errors name
/// the field; their line and column would point into the generated TOML,
/// so they are left out.
pub fn parse_json_value(
    value: &serde_json::Value,
    source: &str,
) -> Result<ParsedScenario, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a JSON scenario is an object with run, port and stream keys, as in the TOML file",
        ));
    }
    let toml_value = toml::Value::try_from(value).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the JSON scenario has no TOML equivalent ({error}); remove null values"),
        )
    })?;
    let text = toml::to_string(&toml_value).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the JSON scenario has no TOML equivalent: {error}"),
        )
    })?;
    let plan = scenario::parse(&text, source).map_err(|error| ApiError::scenario(&error, false))?;
    Ok(ParsedScenario { plan, toml: text })
}

/// Validates a request body in `format`.
pub fn parse_body(
    body: &[u8],
    format: ScenarioFormat,
    source: &str,
) -> Result<ParsedScenario, ApiError> {
    let text = std::str::from_utf8(body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the scenario is not UTF-8 text: {error}"),
        )
    })?;
    match format {
        ScenarioFormat::Toml => parse_toml(text, source),
        ScenarioFormat::Json => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|error| ApiError::json(&error, "the JSON scenario does not parse"))?;
            parse_json_value(&value, source)
        }
    }
}

/// A stored scenario.
#[derive(Debug, Clone)]
pub struct StoredScenario {
    /// What the API shows.
    pub info: ScenarioInfo,
    /// What runs use.
    pub plan: Plan,
}

/// The scenarios `POST /scenarios` accepted, by id.
#[derive(Debug, Default)]
pub struct ScenarioStore {
    next: AtomicU64,
    stored: Mutex<BTreeMap<u64, StoredScenario>>,
}

impl ScenarioStore {
    /// The next id (`sc-1`, `sc-2`, ...), taken whether or not the
    /// scenario then validates.
    pub fn next_id(&self) -> (u64, String) {
        let number = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        (number, format!("sc-{number}"))
    }

    /// Keeps a validated scenario under `number`.
    pub fn insert(&self, number: u64, scenario: StoredScenario) {
        lock(&self.stored).insert(number, scenario);
    }

    /// The scenario with `id`, if stored.
    pub fn get(&self, id: &str) -> Option<StoredScenario> {
        let number = id.strip_prefix("sc-")?.parse::<u64>().ok()?;
        lock(&self.stored).get(&number).cloned()
    }

    /// Every stored scenario, oldest first.
    pub fn list(&self) -> Vec<ScenarioInfo> {
        lock(&self.stored)
            .values()
            .map(|stored| stored.info.clone())
            .collect()
    }
}

/// Locks `mutex`, going on with the data if a holder panicked (the data
/// here is plain values, always consistent between statements).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
