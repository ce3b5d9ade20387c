//! `linerate serve`: the JSON HTTP API over the engine's sessions, on axum
//! and tokio. This file owns the server as a whole: its shared state, the
//! token check, binding, the router with its body limit and JSON errors,
//! and shutdown (every running run stopped, finished and reported before
//! the server ends). The API itself is in `api` (docs/openapi.json), runs in
//! `runs`, the events stream in `events`, metrics in `metrics`.

pub mod agent;
pub mod api;
pub mod coordinated_runs;
pub mod coordinator;
pub mod cross_clock;
pub mod error;
pub mod events;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod runs;
pub mod scenarios;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::ApiError;
use crate::runs::Runs;
use crate::scenarios::ScenarioStore;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The bearer token every API request must carry, if any.
    pub token: Option<String>,
    /// Where every finished run's report goes as `<run-id>.json`.
    pub report_dir: Option<PathBuf>,
    /// A file declaring the clock state `GET /agent` reports
    /// ([`agent::DeclaredClock`]), instead of asking chrony or linuxptp.
    pub clock_state: Option<PathBuf>,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; choose another --listen address or stop what uses it"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `--clock-state` file cannot be read.
    #[error("{0}")]
    ClockState(String),
    /// The report directory is missing or not a directory.
    #[error("--report-dir {}: {reason}; create it first", dir.display())]
    ReportDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The async runtime or the server itself failed.
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// Stored scenarios.
    pub scenarios: ScenarioStore,
    /// Runs and the ports they hold.
    pub runs: Arc<Runs>,
    /// The bearer token, if one is needed.
    pub token: Option<String>,
    /// Where reports go.
    pub report_dir: Option<PathBuf>,
    /// The declared clock state file (`--clock-state`), if any.
    pub clock_state: Option<PathBuf>,
}

impl AppState {
    /// Fresh state: no scenarios, no runs.
    pub fn new(token: Option<String>, report_dir: Option<PathBuf>) -> AppState {
        let runs = Arc::new(Runs::default());
        AppState {
            scenarios: ScenarioStore::default(),
            runs,
            token,
            report_dir,
            clock_state: None,
        }
    }
}

/// Requires `Authorization: Bearer <token>` when the server has a token.
/// The dashboard's page and files are open (a browser cannot send the
/// header when it opens the page); they hold no data, and the page asks
/// for the token and sends it with every API call.
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if path == "/" || path.starts_with("/assets/") {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if given.is_some_and(|given| same_bytes(given.trim().as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this server needs its token: send Authorization: Bearer <the token in --token-file>",
    )
    .with_field("Authorization")
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The whole application: routes, body limit (413 over 1 MiB), token
/// check, JSON errors.
pub fn app(state: Arc<AppState>) -> Router {
    api::routes()
        .layer(DefaultBodyLimit::max(api::BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(api::BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ))
        .layer(middleware::map_response(error::json_errors))
        .with_state(state)
}

/// A bound server, not yet answering.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Binds `options.listen` (port 0 picks a free port) and checks the
    /// report directory.
    pub async fn bind(options: ServeOptions) -> Result<Server, ServeError> {
        if let Some(dir) = &options.report_dir {
            if !dir.is_dir() {
                return Err(ServeError::ReportDir {
                    dir: dir.clone(),
                    reason: "not a directory".to_string(),
                });
            }
        }
        if let Some(path) = &options.clock_state {
            agent::read_declared_clock(path).map_err(ServeError::ClockState)?;
        }
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: options.listen,
                source,
            })?;
        Ok(Server {
            listener,
            state: Arc::new(AppState {
                clock_state: options.clock_state,
                ..AppState::new(options.token, options.report_dir)
            }),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// Answers requests until `shutdown` completes; then no new run starts,
    /// every active run is stopped and waited for (its report is kept and
    /// written to the report directory), and the server ends. Returns one
    /// summary line per run that was stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Vec<String>, ServeError> {
        let state = Arc::clone(&self.state);
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        let drain_runs = async move {
            shutdown.await;
            let _ = stopped_tx.send(stop_every_run(&state).await);
        };
        axum::serve(self.listener, app(Arc::clone(&self.state)))
            .with_graceful_shutdown(drain_runs)
            .await?;
        Ok(stopped_rx.await.unwrap_or_default())
    }
}

/// Closes the server to new runs, stops every active one, waits for each to
/// finish; one summary line per run stopped.
async fn stop_every_run(state: &AppState) -> Vec<String> {
    state.runs.close();
    let active: Vec<_> = state
        .runs
        .list()
        .into_iter()
        .filter(|run| run.state().is_active())
        .collect();
    for run in &active {
        run.request_stop();
    }
    let mut lines = Vec::with_capacity(active.len());
    for run in &active {
        run.wait_ended().await;
        lines.push(runs::summary_line(run, state.report_dir.as_deref()));
    }
    lines
}

/// How `serve` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeExit {
    /// The signal that ended it (SIGINT or SIGTERM).
    pub signal: i32,
    /// One line per run it stopped.
    pub stopped_runs: Vec<String>,
}

/// Runs the server on this thread until SIGINT or SIGTERM: prints where it
/// listens, then on the signal stops every run (see [`Server::run`]).
pub fn serve_until_signal(options: ServeOptions) -> Result<ServeExit, ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let server = Server::bind(options.clone()).await?;
        let addr = server.local_addr()?;
        println!(
            "linerate serve: listening on http://{addr}/ (API: /openapi.json{})",
            if options.token.is_some() {
                ", token required"
            } else {
                ""
            }
        );
        let (signal_tx, signal_rx) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            let number = tokio::select! {
                _ = interrupt.recv() => libc::SIGINT,
                _ = terminate.recv() => libc::SIGTERM,
            };
            println!("linerate serve: signal {number}: stopping every run");
            let _ = signal_tx.send(number);
        };
        let stopped_runs = server.run(shutdown).await?;
        let signal = signal_rx.await.unwrap_or(libc::SIGTERM);
        Ok(ServeExit {
            signal,
            stopped_runs,
        })
    })
}
