//! `GET /runs/{id}/events`: a run's server-sent events. Intervals from the
//! moment of connecting (the series so far is not replayed: clients GET
//! /stats or /intervals first), one `event: interval` each with the
//! interval section as one line of JSON, then one `event: end` with the
//! state, verdict and error, and the stream closes. A keep-alive comment
//! goes every 15 s.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::error::{ApiError, ErrorBody};
use crate::model::EndEvent;
use crate::runs::RunEvent;
use crate::AppState;

/// How often a keep-alive comment goes out on an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Where an events stream is.
enum Progress {
    /// Passing on what the run publishes.
    Live(broadcast::Receiver<RunEvent>),
    /// The run had ended before the client came: only the end is sent.
    EndNow(EndEvent),
    /// The end was sent.
    Done,
}

fn end_message(end: &EndEvent) -> Event {
    Event::default()
        .event("end")
        .data(serde_json::to_string(end).unwrap_or_else(|_| "{}".to_string()))
}

/// The next event, and where the stream then is.
async fn next_event(progress: Progress) -> Option<(Result<Event, Infallible>, Progress)> {
    match progress {
        Progress::Done => None,
        Progress::EndNow(end) => Some((Ok(end_message(&end)), Progress::Done)),
        Progress::Live(mut receiver) => loop {
            match receiver.recv().await {
                Ok(RunEvent::Interval(interval)) => {
                    let data = serde_json::to_string(&*interval).unwrap_or_default();
                    let event = Event::default().event("interval").data(data);
                    return Some((Ok(event), Progress::Live(receiver)));
                }
                Ok(RunEvent::End(end)) => return Some((Ok(end_message(&end)), Progress::Done)),
                // A client too slow for the intervals misses some; the end
                // still comes.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        },
    }
}

/// The run's events.
#[utoipa::path(get, path = "/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "text/event-stream: `event: interval` (data: the interval_section JSON) per report interval, then one `event: end` (data: EndEvent) and the stream closes", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn run_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let run = state.runs.get(&id)?;
    // Subscribe before looking at the state: an end published in between
    // is then either seen here or waiting in the receiver.
    let receiver = run.events.subscribe();
    let progress = match run.end_event() {
        Some(end) => Progress::EndNow(end),
        None => Progress::Live(receiver),
    };
    let events = stream::unfold(progress, next_event);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
