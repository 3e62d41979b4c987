//! A project's alert settings (`[alerts]`): OMS's protection levels with their latency and
//! interruption thresholds, the repeat interval, and an optional webhook.
//!
//! OMS defaults (spec §4.6): levels high / medium / low with thresholds 30 s / 300 s / 900 s,
//! "low" by default, alerts repeated every 3 minutes.

use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// OMS protection level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// No alerts (OMS 无保护).
    None,
    /// 30 s thresholds (OMS 高保护).
    High,
    /// 300 s thresholds (OMS 中保护).
    Medium,
    /// 900 s thresholds (OMS 低保护, the default).
    #[default]
    Low,
}

impl AlertLevel {
    /// The level's default threshold in seconds (`None` for no alerts).
    pub fn default_seconds(self) -> Option<u64> {
        match self {
            AlertLevel::None => None,
            AlertLevel::High => Some(30),
            AlertLevel::Medium => Some(300),
            AlertLevel::Low => Some(900),
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::None => "none",
            AlertLevel::High => "high",
            AlertLevel::Medium => "medium",
            AlertLevel::Low => "low",
        }
    }
}

/// `[alerts]` of a project file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// The protection level; its thresholds apply unless set below.
    #[serde(default)]
    pub level: AlertLevel,
    /// Alert when the latency exceeds this many seconds.
    #[serde(default)]
    pub latency_seconds: Option<u64>,
    /// Alert when the project has been failed or retrying for this many seconds (0: at once).
    #[serde(default)]
    pub interruption_seconds: Option<u64>,
    /// Send a lasting alert again after this many seconds (OMS: every 3 minutes).
    #[serde(default = "default_repeat_seconds")]
    pub repeat_seconds: u64,
    /// POST every alert and recovery as JSON to this `http://` or `https://` URL. Kept secret
    /// (such URLs often carry a token).
    #[serde(default)]
    pub webhook: Option<Secret>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            level: AlertLevel::default(),
            latency_seconds: None,
            interruption_seconds: None,
            repeat_seconds: default_repeat_seconds(),
            webhook: None,
        }
    }
}

fn default_repeat_seconds() -> u64 {
    180
}

impl AlertsConfig {
    /// The latency threshold in seconds, if alerts are on.
    pub fn latency_threshold(&self) -> Option<u64> {
        self.level
            .default_seconds()
            .map(|d| self.latency_seconds.unwrap_or(d))
    }

    /// The interruption threshold in seconds, if alerts are on.
    pub fn interruption_threshold(&self) -> Option<u64> {
        self.level
            .default_seconds()
            .map(|d| self.interruption_seconds.unwrap_or(d))
    }

    /// Every problem, as (field under `alerts.`, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.latency_seconds == Some(0) {
            out.push(("latency_seconds", "must be at least 1".to_string()));
        }
        if !(1..=36_000).contains(&self.repeat_seconds) {
            out.push((
                "repeat_seconds",
                format!(
                    "{} is out of range: must be between 1 and 36000 (10 hours)",
                    self.repeat_seconds
                ),
            ));
        }
        if let Some(url) = &self.webhook {
            let u = url.expose();
            let scheme_ok = u.starts_with("http://") || u.starts_with("https://");
            let host = u.split_once("://").map(|(_, rest)| rest).unwrap_or("");
            if !scheme_ok || host.is_empty() || u.chars().any(char::is_whitespace) {
                out.push((
                    "webhook",
                    "must be an http:// or https:// URL without spaces (value not shown: it may carry a token)".to_string(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_thresholds_and_overrides() {
        let mut a = AlertsConfig::default();
        assert_eq!(a.latency_threshold(), Some(900));
        a.level = AlertLevel::High;
        a.interruption_seconds = Some(0);
        assert_eq!(a.latency_threshold(), Some(30));
        assert_eq!(a.interruption_threshold(), Some(0));
        a.level = AlertLevel::None;
        assert_eq!(a.latency_threshold(), None);
    }

    #[test]
    fn problems_name_the_field() {
        let a = AlertsConfig {
            latency_seconds: Some(0),
            repeat_seconds: 0,
            webhook: Some(Secret("ftp://x?token=s3cret".into())),
            ..AlertsConfig::default()
        };
        let p = a.problems();
        let fields: Vec<&str> = p.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["latency_seconds", "repeat_seconds", "webhook"]);
        assert!(p.iter().all(|(_, m)| !m.contains("s3cret")));
    }
}
