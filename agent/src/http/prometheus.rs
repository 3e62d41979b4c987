//! The Prometheus text exposition (format 0.0.4) of every project's metrics.
//!
//! Invariant: every family is announced once with `# HELP` and `# TYPE`, then one line per
//! project (and change type); label values are escaped, so any project, file or state name is safe.

use std::fmt::Write;

use crate::metrics::{KIND_LABELS, MetricsSnapshot};
use crate::status::ProjectStatus;

/// One project as the renderer needs it.
pub struct Entry<'a> {
    /// The project name.
    pub name: &'a str,
    /// Its status.
    pub status: &'a ProjectStatus,
    /// Its metrics.
    pub metrics: &'a MetricsSnapshot,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

type Family<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Box<dyn Fn(&Entry<'_>) -> Vec<(String, f64)> + 'a>,
);

/// Renders every project's metrics.
pub fn render(entries: &[Entry<'_>]) -> String {
    let per_kind = |f: fn(&MetricsSnapshot) -> [u64; 3]| {
        Box::new(move |e: &Entry<'_>| {
            f(e.metrics)
                .iter()
                .zip(KIND_LABELS)
                .map(|(v, k)| (format!(",type=\"{k}\""), *v as f64))
                .collect()
        }) as Box<dyn Fn(&Entry<'_>) -> Vec<(String, f64)>>
    };
    let one = |f: fn(&Entry<'_>) -> Option<f64>| {
        Box::new(move |e: &Entry<'_>| f(e).map(|v| (String::new(), v)).into_iter().collect())
            as Box<dyn Fn(&Entry<'_>) -> Vec<(String, f64)>>
    };
    let families: Vec<Family<'_>> = vec![
        (
            "obsync_project_state",
            "gauge",
            "1 for the project's current state",
            Box::new(|e: &Entry<'_>| {
                vec![(format!(",state=\"{}\"", e.status.state.as_str()), 1.0)]
            }),
        ),
        (
            "obsync_rows_read_total",
            "counter",
            "rows of carried tables read from the binlog",
            per_kind(|m| m.rows_read),
        ),
        (
            "obsync_read_bytes_total",
            "counter",
            "binlog bytes of the row events read for carried tables",
            per_kind(|m| m.bytes_read),
        ),
        (
            "obsync_binlog_bytes_total",
            "counter",
            "binlog bytes received (every event)",
            one(|e| Some(e.metrics.binlog_bytes as f64)),
        ),
        (
            "obsync_messages_sent_total",
            "counter",
            "messages acknowledged by the broker",
            per_kind(|m| m.messages_sent),
        ),
        (
            "obsync_sent_bytes_total",
            "counter",
            "message body bytes acknowledged by the broker",
            per_kind(|m| m.bytes_sent),
        ),
        (
            "obsync_latency_seconds",
            "gauge",
            "now minus the commit time of the last delivered transaction (near 0 when idle and caught up)",
            one(|e| e.metrics.latency_seconds),
        ),
        (
            "obsync_checkpoint_timestamp_seconds",
            "gauge",
            "commit time of the checkpointed position",
            one(|e| e.status.position.as_ref().map(|p| f64::from(p.timestamp))),
        ),
        (
            "obsync_checkpoint_offset",
            "gauge",
            "offset of the checkpointed position in its binlog file",
            Box::new(|e: &Entry<'_>| {
                e.status
                    .position
                    .as_ref()
                    .map(|p| (format!(",file=\"{}\"", escape(&p.file)), p.offset as f64))
                    .into_iter()
                    .collect()
            }),
        ),
        (
            "obsync_in_flight_messages",
            "gauge",
            "messages sent and not yet acknowledged",
            one(|e| Some(e.metrics.in_flight as f64)),
        ),
        (
            "obsync_retries_total",
            "counter",
            "stream restarts from the checkpoint after a retryable error",
            one(|e| Some(e.metrics.retries as f64)),
        ),
        (
            "obsync_errors_total",
            "counter",
            "errors seen (retryable or not)",
            one(|e| Some(e.metrics.errors as f64)),
        ),
        (
            "obsync_wasm_call_seconds_total",
            "counter",
            "time spent in WebAssembly module calls",
            Box::new(|e: &Entry<'_>| {
                vec![
                    (",kind=\"format\"".into(), e.metrics.format_seconds),
                    (",kind=\"filter\"".into(), e.metrics.filter_seconds),
                ]
            }),
        ),
        (
            "obsync_wasm_calls_total",
            "counter",
            "WebAssembly module calls (one per batch)",
            Box::new(|e: &Entry<'_>| {
                vec![
                    (",kind=\"format\"".into(), e.metrics.format_calls as f64),
                    (",kind=\"filter\"".into(), e.metrics.filter_calls as f64),
                ]
            }),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, values) in &families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for e in entries {
            for (labels, v) in values(e) {
                let _ = writeln!(out, "{name}{{project=\"{}\"{labels}}} {v}", escape(e.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Position;
    use crate::status::ProjectState;

    #[test]
    fn renders_escaped_labels_and_every_family() {
        let status = ProjectStatus {
            state: ProjectState::Running,
            position: Some(Position {
                file: "mysql-bin.000003".into(),
                offset: 1234,
                gtid: None,
                timestamp: 1_700_000_000,
                sequence: 0,
            }),
            ..ProjectStatus::new()
        };
        let metrics = MetricsSnapshot {
            rows_read: [3, 2, 1],
            messages_sent: [3, 2, 1],
            latency_seconds: Some(0.5),
            ..Default::default()
        };
        let text = render(&[Entry {
            name: "订单\"x",
            status: &status,
            metrics: &metrics,
        }]);
        assert!(text.contains("obsync_project_state{project=\"订单\\\"x\",state=\"running\"} 1"));
        assert!(
            text.contains("obsync_messages_sent_total{project=\"订单\\\"x\",type=\"update\"} 2")
        );
        assert!(text.contains("obsync_latency_seconds{project=\"订单\\\"x\"} 0.5"));
        assert!(text.contains(
            "obsync_checkpoint_offset{project=\"订单\\\"x\",file=\"mysql-bin.000003\"} 1234"
        ));
        assert_eq!(text.matches("# TYPE ").count(), 14);
    }
}
