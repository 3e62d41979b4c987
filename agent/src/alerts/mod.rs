//! Alerts: once a second every project's latency and state are compared with its `[alerts]`
//! thresholds; each alert is logged and, when the project has a webhook, POSTed to it as JSON
//! ([`Notice`]); a lasting alert is sent again every `repeat_seconds`, and a recovery is sent when
//! it clears.
//!
//! Invariants: alerting never blocks or slows a project (webhooks are sent by their own task, in
//! order, with a timeout); webhook URLs are secrets and never logged.

mod evaluate;
mod webhook;

pub use evaluate::{AlertKind, Evaluator, Notice, NoticeStatus, Observation, Rule};

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::AlertsConfig;
use crate::metrics::now_ms;
use crate::status::StatusBoard;

/// How often the thresholds are checked.
pub const EVALUATE_EVERY: Duration = Duration::from_secs(1);

/// The alert settings of every started project, kept by the supervisor.
#[derive(Debug, Clone, Default)]
pub struct AlertRules {
    map: Arc<RwLock<BTreeMap<String, AlertsConfig>>>,
}

impl AlertRules {
    /// Sets a project's settings.
    pub fn set(&self, project: &str, config: AlertsConfig) {
        if let Ok(mut m) = self.map.write() {
            m.insert(project.to_string(), config);
        }
    }

    /// Forgets a project (its active alerts resolve).
    pub fn remove(&self, project: &str) {
        if let Ok(mut m) = self.map.write() {
            m.remove(project);
        }
    }

    fn all(&self) -> BTreeMap<String, AlertsConfig> {
        self.map.read().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Evaluates the alerts until the task is dropped.
pub async fn run(board: StatusBoard, rules: AlertRules) {
    let sender = webhook::Sender::start();
    let mut evaluator = Evaluator::default();
    let mut tick = tokio::time::interval(EVALUATE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = now_ms();
        let configs = rules.all();
        let mut projects = BTreeMap::new();
        for (name, config) in &configs {
            let Some(status) = board.get(name) else {
                continue;
            };
            let rule = Rule {
                level: config.level.as_str(),
                latency_seconds: config.latency_threshold(),
                interruption_seconds: config.interruption_threshold(),
                repeat_seconds: config.repeat_seconds,
            };
            let observation = Observation {
                state: status.state,
                state_since_ms: status.state_since_ms,
                latency_ms: board.metrics(name).take_latency_peak(now),
                last_error: status.last_error,
            };
            projects.insert(name.clone(), (rule, observation));
        }
        for notice in evaluator.evaluate(now, &projects) {
            match notice.status {
                NoticeStatus::Firing => {
                    tracing::warn!(project = %notice.project, alert = ?notice.alert, count = notice.count, "alert: {}", notice.summary)
                }
                NoticeStatus::Resolved => {
                    tracing::info!(project = %notice.project, alert = ?notice.alert, "alert resolved: {}", notice.summary)
                }
            }
            if let Some(url) = configs
                .get(&notice.project)
                .and_then(|c| c.webhook.as_ref())
            {
                sender.send(url.expose().to_string(), notice);
            }
        }
    }
}
