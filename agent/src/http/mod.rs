//! The agent's HTTP listener: `/healthz`, `/readyz`, `/metrics` (Prometheus), `/api/projects`
//! (JSON) and the status page at `/`.
//!
//! Invariants: read-only (nothing here changes a project); no row values and no secrets are ever
//! served (the project info carries names, topics, filters and module digests only); the page is
//! one self-contained file with no external script, style or font.

mod api;
pub mod client;
mod prometheus;

pub use api::{ProjectReport, report, reports};

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use self::prometheus::{Entry, render};
use crate::metrics::now_ms;
use crate::status::{ProjectState, StatusBoard};

/// The status page.
const PAGE: &str = include_str!("page.html");

/// Errors of the listener.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        message: String,
    },
}

/// A bound listener, ready to serve.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    board: StatusBoard,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, board: StatusBoard) -> Result<Self, HttpError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| HttpError::Bind {
                addr: addr.to_string(),
                message: e.to_string(),
            })?;
        Ok(HttpServer { listener, board })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until the task is dropped or aborted.
    pub async fn serve(self) {
        let app = Router::new()
            .route("/", get(page))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/api/projects", get(projects))
            .route("/api/projects/{name}", get(project))
            .with_state(self.board);
        if let Err(e) = axum::serve(self.listener, app).await {
            tracing::error!(error = %e, "the HTTP listener stopped");
        }
    }
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; img-src 'self' data:",
            ),
        ],
        Html(PAGE),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when no project is starting, retrying or failed (saved, paused and stopped projects are
/// deliberate and do not count).
async fn readyz(State(board): State<StatusBoard>) -> Response {
    let not_ready: Vec<String> = board
        .all()
        .into_iter()
        .filter(|(_, s)| {
            matches!(
                s.state,
                ProjectState::Starting | ProjectState::Retrying | ProjectState::Failed
            )
        })
        .map(|(name, s)| format!("{name}: {}", s.state.as_str()))
        .collect();
    if not_ready.is_empty() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{}\n", not_ready.join("\n")),
        )
            .into_response()
    }
}

async fn metrics(State(board): State<StatusBoard>) -> Response {
    let now = now_ms();
    let all = board.all();
    let snapshots: Vec<_> = all
        .iter()
        .map(|(name, s)| (name, s, board.metrics(name).snapshot(now)))
        .collect();
    let entries: Vec<Entry<'_>> = snapshots
        .iter()
        .map(|(name, status, metrics)| Entry {
            name,
            status,
            metrics,
        })
        .collect();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&entries),
    )
        .into_response()
}

async fn projects(State(board): State<StatusBoard>) -> Response {
    axum::Json(reports(&board)).into_response()
}

async fn project(State(board): State<StatusBoard>, Path(name): Path<String>) -> Response {
    match report(&board, &name, true) {
        Some(r) => axum::Json(r).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no project {name:?}\n")).into_response(),
    }
}
