//! The API's error answer: `{"error", "field", "line", "column"}` with the
//! right status, built from scenario errors, JSON errors, body rejections and
//! engine errors; and the middleware that turns the framework's own plain
//! error answers (405, 413, unknown routes) into the same JSON.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use linerate_engine::run::RunError;
use linerate_engine::scenario::ScenarioError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// One line: what is wrong and what to do.
    pub error: String,
    /// The field (scenario path like `stream[0].rate`, or request field) at fault, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 1-based line in the request body, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column in the request body, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// An error answer: a status and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What the client reads.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with a message only.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: message.into(),
                field: None,
                line: None,
                column: None,
            },
        }
    }

    /// 400 about one request field.
    pub fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message).with_field(field)
    }

    /// 404 for an id nothing has.
    pub fn not_found(kind: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no {kind} {id:?}; GET /{kind}s lists them"),
        )
    }

    /// The same error naming `field`.
    pub fn with_field(mut self, field: &str) -> ApiError {
        self.body.field = Some(field.to_string());
        self
    }

    /// A scenario that did not validate: 400 with the CLI's one-line
    /// `file:line:column: field: message` as the error, and its parts split
    /// out. `with_position` is false when the line and column refer to text
    /// the client did not send (a JSON scenario turned into TOML).
    pub fn scenario(error: &ScenarioError, with_position: bool) -> ApiError {
        let positioned = with_position && error.line > 0;
        let message = if with_position {
            error.to_string()
        } else {
            match &error.field {
                Some(field) => format!("{}: {field}: {}", error.file, error.message),
                None => format!("{}: {}", error.file, error.message),
            }
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: message,
                field: error.field.clone(),
                line: positioned.then_some(error.line),
                column: positioned.then_some(error.column),
            },
        }
    }

    /// A request body that is not the JSON it should be: 400 with serde's
    /// message, line and column.
    pub fn json(error: &serde_json::Error, what: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: format!("{what}: {error}"),
                field: None,
                line: (error.line() > 0).then_some(error.line()),
                column: (error.line() > 0).then_some(error.column()),
            },
        }
    }

    /// A run that could not be prepared: 400 when the scenario asks for
    /// something this machine cannot do as written (no such namespace or
    /// interface, MTU, link speed, core, frame), 500 for the environment
    /// (the counter or a sender would not open).
    pub fn prepare(error: &RunError) -> ApiError {
        let status = match error {
            RunError::Port { .. }
            | RunError::Mtu { .. }
            | RunError::AboveLinkSpeed { .. }
            | RunError::Template { .. }
            | RunError::Core { .. }
            | RunError::UnknownLinkSpeed { .. }
            | RunError::Endpoints(
                linerate_endpoints::EndpointError::Invalid { .. }
                | linerate_endpoints::EndpointError::Namespace { .. },
            ) => StatusCode::BAD_REQUEST,
            RunError::Endpoints(_) => StatusCode::INTERNAL_SERVER_ERROR,
            RunError::Receive { .. }
            | RunError::Transmit { .. }
            | RunError::Reflect { .. }
            | RunError::SenderPanicked { .. }
            | RunError::Wifi(_)
            | RunError::NoLease { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.body.error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// Turns an error answer the framework wrote (an empty 405, a plain-text
/// 413 or 415, the 404 for an unknown route) into the JSON error body, so
/// that every error a client sees has the same shape. JSON answers pass.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = response
                .headers()
                .get(header::ALLOW)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_string();
            if allowed.is_empty() {
                "this path does not take that method; GET /openapi.json says which it takes"
                    .to_string()
            } else {
                format!("this path does not take that method; it takes: {allowed}")
            }
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is over the 1 MiB limit; send a smaller scenario".to_string()
        }
        StatusCode::NOT_FOUND => "no such path; GET /openapi.json lists the API".to_string(),
        StatusCode::UNAUTHORIZED => {
            "send the token: Authorization: Bearer <token from --token-file>".to_string()
        }
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    };
    let (mut parts, _) = response.into_parts();
    let body = serde_json::to_vec(&ErrorBody {
        error: message,
        field: None,
        line: None,
        column: None,
    })
    .unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
