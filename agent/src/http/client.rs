//! `obsync status`: reads `/api/projects` of a running agent and renders it for a person.
//!
//! Invariant: rendering is pure (reports in, text out), so its layout is unit-tested.

use std::fmt::Write;
use std::time::Duration;

use super::api::ProjectReport;

/// Errors of the status client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The agent could not be asked.
    #[error("cannot reach the agent at {url}: {message}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The cause.
        message: String,
    },
    /// The agent answered something else than a report.
    #[error("{url}: {message}")]
    Answer {
        /// The URL asked.
        url: String,
        /// What was wrong.
        message: String,
    },
}

/// Fetches every project's report (or one project's, with its chart points).
pub async fn fetch(base: &str, project: Option<&str>) -> Result<Vec<ProjectReport>, ClientError> {
    let base = base.trim_end_matches('/');
    let url = match project {
        Some(p) => format!("{base}/api/projects/{}", encode_segment(p)),
        None => format!("{base}/api/projects"),
    };
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: url.clone(),
        message: e.without_url().to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(unreachable)?;
    let response = client.get(&url).send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(ClientError::Answer {
            url,
            message: format!("{status}: {}", String::from_utf8_lossy(&body).trim_end()),
        });
    }
    let parsed = match project {
        Some(_) => serde_json::from_slice::<ProjectReport>(&body).map(|r| vec![r]),
        None => serde_json::from_slice::<Vec<ProjectReport>>(&body),
    };
    parsed.map_err(|e| ClientError::Answer {
        url,
        message: format!("not a project report: {e}"),
    })
}

/// Percent-encodes a path segment (project names may be CJK).
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Renders reports as a table; `detail` adds each project's objects, modules and counters.
pub fn render(reports: &[ProjectReport], detail: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<12} {:>9} {:>9} {:<20} {:<28} last error",
        "project", "state", "latency", "rps", "checkpoint time", "position"
    );
    for r in reports {
        let latency = r
            .latency_seconds
            .map(|l| format!("{l:.1}s"))
            .unwrap_or_else(|| "-".into());
        let checkpoint = r
            .checkpoint_time
            .map(utc_time)
            .unwrap_or_else(|| "-".into());
        let position = r
            .position
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let error = r
            .last_error
            .as_deref()
            .and_then(|e| e.lines().next())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "{:<28} {:<12} {latency:>9} {:>9.1} {checkpoint:<20} {position:<28} {error}",
            r.name,
            r.state.as_str(),
            r.rows_per_second
        );
        if detail {
            let m = &r.metrics;
            let _ = writeln!(
                out,
                "  rows read (insert/update/delete): {:?}; messages sent: {:?}; in flight: {}; retries: {}; errors: {}",
                m.rows_read, m.messages_sent, m.in_flight, m.retries, m.errors
            );
            if let Some(info) = &r.info {
                let _ = writeln!(
                    out,
                    "  source {} -> name server {}",
                    info.source, info.name_server
                );
                for o in &info.objects {
                    let filter = o
                        .row_filter
                        .as_deref()
                        .map(|f| format!(" where {f}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  object {}.{} -> {}{filter}",
                        o.database, o.table, o.topic
                    );
                }
                for m in &info.modules {
                    let _ = writeln!(out, "  {} module {} ({})", m.kind, m.name, m.version);
                }
            }
            if let Some(e) = &r.last_error {
                let _ = writeln!(out, "  last error: {e}");
            }
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a Unix time.
fn utc_time(seconds: u32) -> String {
    let (y, m, d) = obsync_sdk::render::civil_from_days(i64::from(seconds / 86_400));
    let rem = seconds % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ProjectState;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn encodes_cjk_names() {
        assert_eq!(encode_segment("订单-1"), "%E8%AE%A2%E5%8D%95-1");
    }

    #[test]
    fn renders_a_row_per_project() {
        let r = ProjectReport {
            name: "orders".into(),
            state: ProjectState::Failed,
            state_since_ms: 0,
            last_error: Some("first line\nsecond".into()),
            position: None,
            checkpoint_time: Some(1_700_000_000),
            latency_seconds: Some(1.25),
            rows_per_second: 12.0,
            bytes_per_second: 0.0,
            info: None,
            metrics: Default::default(),
            history: Vec::new(),
        };
        let text = render(&[r], true);
        let line = text.lines().nth(1).unwrap_or_default();
        assert!(line.starts_with("orders "), "{text}");
        assert!(line.contains("failed") && line.contains("1.2s") && line.contains("12.0"));
        assert!(line.contains("2023-11-14 22:13:20") && line.ends_with("first line"));
        assert!(text.contains("  last error: first line\nsecond"));
    }
}
