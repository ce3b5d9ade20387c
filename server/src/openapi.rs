//! The OpenAPI document, derived by utoipa from the handlers and the API's
//! types (checked in as docs/openapi.json). The report model's types are
//! described by docs/report.schema.json and appear here as objects.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::agent::{AgentInfo, AgentPort, ClockInfo, RunResultDocument, StreamResultDocument};
use crate::error::ErrorBody;
use crate::model::{
    EndEvent, RunInfo, RunRequest, RunState, RxSetup, ScenarioInfo, SetupInfo, StatsInfo,
    StreamInfo, StreamSwitch, TxSetup,
};

/// Adds the bearer token scheme (`--token-file`).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "Needed on every API request when the server was started with --token-file",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// The API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "linerate",
        description = "linerate serve: scenarios, runs (each a session of the engine), live stats and events, reports, metrics. Errors are ErrorBody JSON. Report-model objects (interval sections, verdicts, reports) follow docs/report.schema.json.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::api::create_scenario,
        crate::api::list_scenarios,
        crate::api::get_scenario,
        crate::api::create_run,
        crate::api::list_runs,
        crate::api::get_run,
        crate::api::delete_run,
        crate::api::get_stats,
        crate::events::run_events,
        crate::api::get_intervals,
        crate::api::stop_run,
        crate::api::stop_stream,
        crate::api::start_stream,
        crate::api::get_report,
        crate::api::get_result,
        crate::api::get_agent,
        crate::api::metrics,
        crate::api::openapi,
        crate::api::dashboard_page,
        crate::api::dashboard_asset,
    ),
    components(schemas(
        ErrorBody, ScenarioInfo, RunState, RunRequest, TxSetup, RxSetup, SetupInfo, StreamInfo,
        RunInfo, StatsInfo, StreamSwitch, EndEvent, AgentInfo, AgentPort, ClockInfo,
        RunResultDocument, StreamResultDocument
    )),
    modifiers(&BearerToken),
    security(("token" = [])),
)]
pub struct ApiDoc;

/// The document as pretty JSON, ending in a newline.
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}
