//! The alert state machine, free of I/O: given each project's observation at a moment, it says
//! which notices to send (an alert firing, the same alert again, or its recovery).
//!
//! Invariants: per (project, alert) at most one alert is active; a firing notice is followed by
//! repeats no closer than the repeat interval, and by exactly one recovery when the condition
//! clears, the project's alerts are turned off, or the project goes away.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::ProjectState;

/// Which condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Latency above its threshold (OMS `oms_sync_delay`).
    SyncDelay,
    /// Failed or retrying for longer than the threshold (OMS `oms_sync_failed`).
    SyncInterrupted,
}

/// Whether a notice raises or clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    /// The condition holds (first notice or a repeat).
    Firing,
    /// The condition cleared.
    Resolved,
}

/// One alert notice, as logged and POSTed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The project.
    pub project: String,
    /// The condition.
    pub alert: AlertKind,
    /// Firing or resolved.
    pub status: NoticeStatus,
    /// The OMS protection level.
    pub level: String,
    /// The measured value: latency seconds, or seconds failed/retrying.
    pub value_seconds: f64,
    /// The threshold in seconds.
    pub threshold_seconds: u64,
    /// The project state.
    pub state: ProjectState,
    /// The project's last error (interruptions only).
    pub error: Option<String>,
    /// When the condition started (ms since the epoch).
    pub since_ms: u64,
    /// When this notice was made (ms since the epoch).
    pub at_ms: u64,
    /// 1 for the first notice, 2 for the first repeat, ...
    pub count: u32,
    /// One line for a person.
    pub summary: String,
}

/// A project's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Level name.
    pub level: &'static str,
    /// Latency threshold (s), if alerts are on.
    pub latency_seconds: Option<u64>,
    /// Interruption threshold (s), if alerts are on.
    pub interruption_seconds: Option<u64>,
    /// Repeat interval (s).
    pub repeat_seconds: u64,
}

/// A project at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Its state.
    pub state: ProjectState,
    /// Since when (ms).
    pub state_since_ms: u64,
    /// The highest latency (ms) since the last look.
    pub latency_ms: Option<u64>,
    /// Its last error.
    pub last_error: Option<String>,
}

struct Active {
    since_ms: u64,
    last_sent_ms: u64,
    count: u32,
    threshold: u64,
}

/// The alerts in force.
#[derive(Default)]
pub struct Evaluator {
    active: BTreeMap<(String, AlertKind), Active>,
}

impl Evaluator {
    /// Evaluates every project at `now` (ms); projects absent from `projects` resolve.
    pub fn evaluate(
        &mut self,
        now: u64,
        projects: &BTreeMap<String, (Rule, Observation)>,
    ) -> Vec<Notice> {
        let mut out = Vec::new();
        for (name, (rule, obs)) in projects {
            for kind in [AlertKind::SyncDelay, AlertKind::SyncInterrupted] {
                let (holds, value, threshold) = condition(kind, rule, obs, now);
                self.step(
                    now, name, kind, rule, obs, holds, value, threshold, &mut out,
                );
            }
        }
        let gone: Vec<(String, AlertKind)> = self
            .active
            .keys()
            .filter(|(p, _)| !projects.contains_key(p))
            .cloned()
            .collect();
        for key in gone {
            if let Some(a) = self.active.remove(&key) {
                out.push(Notice {
                    summary: format!("{}: {} resolved (project removed)", key.0, name(key.1)),
                    project: key.0,
                    alert: key.1,
                    status: NoticeStatus::Resolved,
                    level: String::new(),
                    value_seconds: 0.0,
                    threshold_seconds: a.threshold,
                    state: ProjectState::Stopped,
                    error: None,
                    since_ms: a.since_ms,
                    at_ms: now,
                    count: a.count,
                });
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        now: u64,
        project: &str,
        kind: AlertKind,
        rule: &Rule,
        obs: &Observation,
        holds: bool,
        value: f64,
        threshold: u64,
        out: &mut Vec<Notice>,
    ) {
        let key = (project.to_string(), kind);
        let notice = |status, since_ms, count| Notice {
            project: project.to_string(),
            alert: kind,
            status,
            level: rule.level.to_string(),
            value_seconds: value,
            threshold_seconds: threshold,
            state: obs.state,
            error: (kind == AlertKind::SyncInterrupted)
                .then(|| obs.last_error.clone())
                .flatten(),
            since_ms,
            at_ms: now,
            count,
            summary: summary(project, kind, status, value, threshold, obs),
        };
        match (holds, self.active.get_mut(&key)) {
            (true, None) => {
                let since = if kind == AlertKind::SyncInterrupted {
                    obs.state_since_ms
                } else {
                    now
                };
                self.active.insert(
                    key,
                    Active {
                        since_ms: since,
                        last_sent_ms: now,
                        count: 1,
                        threshold,
                    },
                );
                out.push(notice(NoticeStatus::Firing, since, 1));
            }
            (true, Some(a)) => {
                if now >= a.last_sent_ms + rule.repeat_seconds * 1000 {
                    a.last_sent_ms = now;
                    a.count += 1;
                    out.push(notice(NoticeStatus::Firing, a.since_ms, a.count));
                }
            }
            (false, Some(_)) => {
                if let Some(a) = self.active.remove(&key) {
                    out.push(notice(NoticeStatus::Resolved, a.since_ms, a.count));
                }
            }
            (false, None) => {}
        }
    }
}

fn name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::SyncDelay => "sync_delay",
        AlertKind::SyncInterrupted => "sync_interrupted",
    }
}

/// Whether the condition holds, the measured value (s) and the threshold (s).
fn condition(kind: AlertKind, rule: &Rule, obs: &Observation, now: u64) -> (bool, f64, u64) {
    match kind {
        AlertKind::SyncDelay => {
            let Some(t) = rule.latency_seconds else {
                return (false, 0.0, 0);
            };
            // A person paused or saved the project on purpose; its growing latency is no news.
            let deliberate = matches!(
                obs.state,
                ProjectState::Paused | ProjectState::NotStarted | ProjectState::Stopped
            );
            let latency = obs.latency_ms.unwrap_or(0);
            (
                !deliberate && latency > t * 1000,
                latency as f64 / 1000.0,
                t,
            )
        }
        AlertKind::SyncInterrupted => {
            let Some(t) = rule.interruption_seconds else {
                return (false, 0.0, 0);
            };
            let down = matches!(obs.state, ProjectState::Failed | ProjectState::Retrying);
            let for_ms = now.saturating_sub(obs.state_since_ms);
            (down && for_ms >= t * 1000, for_ms as f64 / 1000.0, t)
        }
    }
}

fn summary(
    project: &str,
    kind: AlertKind,
    status: NoticeStatus,
    value: f64,
    threshold: u64,
    obs: &Observation,
) -> String {
    match (kind, status) {
        (AlertKind::SyncDelay, NoticeStatus::Firing) => {
            format!("{project}: latency {value:.1} s is above the {threshold} s threshold")
        }
        (AlertKind::SyncInterrupted, NoticeStatus::Firing) => format!(
            "{project}: {} for {value:.0} s (threshold {threshold} s): {}",
            obs.state.as_str(),
            obs.last_error
                .as_deref()
                .and_then(|e| e.lines().next())
                .unwrap_or("no error recorded")
        ),
        (kind, NoticeStatus::Resolved) => format!(
            "{project}: {} resolved (state {})",
            name(kind),
            obs.state.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        level: "high",
        latency_seconds: Some(30),
        interruption_seconds: Some(10),
        repeat_seconds: 60,
    };

    fn obs(state: ProjectState, since: u64, latency_ms: u64) -> Observation {
        Observation {
            state,
            state_since_ms: since,
            latency_ms: Some(latency_ms),
            last_error: Some("broker down\nmore".into()),
        }
    }

    fn run(e: &mut Evaluator, now: u64, o: Observation) -> Vec<(AlertKind, NoticeStatus, u32)> {
        let map = BTreeMap::from([("p".to_string(), (RULE, o))]);
        e.evaluate(now, &map)
            .into_iter()
            .map(|n| (n.alert, n.status, n.count))
            .collect()
    }

    #[test]
    fn delay_fires_repeats_and_resolves() {
        let mut e = Evaluator::default();
        let running = |l| obs(ProjectState::Running, 0, l);
        assert!(run(&mut e, 1_000, running(5_000)).is_empty());
        assert_eq!(
            run(&mut e, 2_000, running(31_000)),
            [(AlertKind::SyncDelay, NoticeStatus::Firing, 1)]
        );
        assert!(run(&mut e, 61_000, running(40_000)).is_empty());
        assert_eq!(
            run(&mut e, 62_000, running(40_000)),
            [(AlertKind::SyncDelay, NoticeStatus::Firing, 2)]
        );
        assert_eq!(
            run(&mut e, 63_000, running(100)),
            [(AlertKind::SyncDelay, NoticeStatus::Resolved, 2)]
        );
        assert!(run(&mut e, 64_000, running(100)).is_empty());
    }

    #[test]
    fn interruption_waits_for_its_threshold() {
        let mut e = Evaluator::default();
        let failed = obs(ProjectState::Failed, 1_000, 0);
        assert!(run(&mut e, 10_999, failed.clone()).is_empty());
        let map = BTreeMap::from([("p".to_string(), (RULE, failed.clone()))]);
        let n = e.evaluate(11_000, &map);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].alert, AlertKind::SyncInterrupted);
        assert_eq!(n[0].since_ms, 1_000);
        assert_eq!(n[0].error.as_deref(), Some("broker down\nmore"));
        assert!(n[0].summary.contains("failed for 10 s"), "{}", n[0].summary);
        assert_eq!(
            run(&mut e, 12_000, obs(ProjectState::Running, 12_000, 0)),
            [(AlertKind::SyncInterrupted, NoticeStatus::Resolved, 1)]
        );
    }

    #[test]
    fn paused_projects_do_not_alert_on_latency_and_removed_ones_resolve() {
        let mut e = Evaluator::default();
        assert!(run(&mut e, 1_000, obs(ProjectState::Paused, 0, 999_000)).is_empty());
        assert_eq!(
            run(&mut e, 2_000, obs(ProjectState::Running, 0, 999_000)).len(),
            1
        );
        let n = e.evaluate(3_000, &BTreeMap::new());
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].status, NoticeStatus::Resolved);
    }

    #[test]
    fn level_none_never_alerts() {
        let mut e = Evaluator::default();
        let rule = Rule {
            level: "none",
            latency_seconds: None,
            interruption_seconds: None,
            repeat_seconds: 60,
        };
        let map = BTreeMap::from([(
            "p".to_string(),
            (rule, obs(ProjectState::Failed, 0, 999_000)),
        )]);
        assert!(e.evaluate(999_000, &map).is_empty());
    }
}
