//! Rules that serde cannot express, checked without any I/O. Each error names the field path and
//! the bad value and, where it helps, says what would be accepted.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::built::{FormatRef, PartitionRule, TimeZone};
use super::builtin::builtin_format_names;
use super::env::expand;
use super::error::ConfigError;
use super::locate::locate;
use super::project::ProjectConfig;
use super::start::StartAt;
use crate::filter::RowFilter;

/// Checks a module path (relative to the project file's directory): a `.wasm` file that exists.
fn module_problem(path: &Path, module: &str) -> Option<String> {
    if !module.ends_with(".wasm") {
        return Some(format!("{module:?} is not a module path (`*.wasm`)"));
    }
    let full = path.parent().unwrap_or(Path::new(".")).join(module);
    if !full.is_file() {
        return Some(format!("module file {} does not exist", full.display()));
    }
    None
}

fn limits_problems(l: &super::project::ModuleLimitsConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !(1..=4096).contains(&l.memory_limit_mb) {
        out.push((
            "memory_limit_mb",
            format!("{} is out of range 1–4096", l.memory_limit_mb),
        ));
    }
    if !(1..=600_000).contains(&l.call_timeout_ms) {
        out.push((
            "call_timeout_ms",
            format!("{} is out of range 1–600000", l.call_timeout_ms),
        ));
    }
    out
}

/// The settings validation parses into types (meaningful only when there is no error).
pub struct Typed {
    /// `target.partition_rule`.
    pub partition_rule: PartitionRule,
    /// `options.time_zone`.
    pub time_zone: TimeZone,
    /// The start options.
    pub start: StartAt,
    /// `options.format`.
    pub format: FormatRef,
    /// `objects[i].where`, by object index.
    pub row_filters: Vec<Option<Arc<RowFilter>>>,
}

/// Checks a parsed project; returns it with `${ENV}` references expanded, its typed settings,
/// plus every problem.
pub fn validate(
    path: &Path,
    text: &str,
    mut c: ProjectConfig,
) -> (ProjectConfig, Typed, Vec<ConfigError>) {
    let mut typed = Typed {
        partition_rule: PartitionRule::default(),
        time_zone: TimeZone::default(),
        start: StartAt::Now,
        format: FormatRef::Builtin("default"),
        row_filters: Vec::with_capacity(c.objects.len()),
    };
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| {
        errors.push(ConfigError {
            file: path.to_path_buf(),
            line: locate(text, field),
            field: field.to_string(),
            message,
        });
    };

    if let Some(problem) = name_problem(&c.name) {
        err(
            "name",
            format!("invalid project name {:?}: {problem}", c.name),
        );
    }
    if c.source.host.trim().is_empty() {
        err("source.host", "must not be empty".into());
    }
    if c.source.user.trim().is_empty() {
        err("source.user", "must not be empty".into());
    }
    if c.source.server_id == 0 {
        err(
            "source.server_id",
            "must be a non-zero replica server id, unique among the server's replicas".into(),
        );
    }
    if c.source.port == 0 {
        err("source.port", "must be between 1 and 65535".into());
    }
    match expand(c.source.password.expose()) {
        Ok(v) => c.source.password.0 = v,
        Err(problem) => err("source.password", problem),
    }
    if c.source.heartbeat_ms == 0 {
        err("source.heartbeat_ms", "must be greater than 0".into());
    }
    if c.target
        .name_server
        .split(';')
        .any(|a| !is_host_port(a.trim()))
    {
        err(
            "target.name_server",
            format!(
                "invalid name server list {:?}: expected `host:port[;host:port…]`",
                c.target.name_server
            ),
        );
    }
    let group = &c.target.producer_group;
    if group.is_empty()
        || group.len() > 120
        || !group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%|-_".contains(&b))
    {
        err(
            "target.producer_group",
            format!(
                "invalid producer group {group:?}: RocketMQ allows letters, digits, `%`, `|`, `-` and `_`, at most 120 characters"
            ),
        );
    }
    if let Some(sk) = &c.target.secret_key {
        match expand(sk.expose()) {
            Ok(v) => c.target.secret_key = Some(super::project::Secret(v)),
            Err(problem) => err("target.secret_key", problem),
        }
    }
    if c.target.access_key.is_some() != c.target.secret_key.is_some() {
        err(
            "target.access_key",
            "access_key and secret_key go together: set both for ACL, or neither".into(),
        );
    }
    if let Some(rule) = PartitionRule::parse(&c.target.partition_rule) {
        typed.partition_rule = rule;
    } else {
        err(
            "target.partition_rule",
            format!(
                "unknown partition rule {:?}: expected \"hash\" or \"table\"",
                c.target.partition_rule
            ),
        );
    }
    if !(1..=1_000_000).contains(&c.target.in_flight_messages) {
        err(
            "target.in_flight_messages",
            format!("{} is out of range 1–1000000", c.target.in_flight_messages),
        );
    }
    if !(1..=4096).contains(&c.target.in_flight_mb) {
        err(
            "target.in_flight_mb",
            format!("{} is out of range 1–4096", c.target.in_flight_mb),
        );
    }
    // 64 MiB: the RocketMQ client refuses limits above 128 MiB, and a broker reads requests of at
    // most 16 MiB unless its `com.rocketmq.remoting.frameMaxLength` is raised.
    if !(1024..=(64 << 20)).contains(&c.target.max_message_bytes) {
        err(
            "target.max_message_bytes",
            format!(
                "{} is out of range 1024–67108864 (the broker's maxMessageSize)",
                c.target.max_message_bytes
            ),
        );
    }
    if c.target.send_timeout_ms == 0 {
        err("target.send_timeout_ms", "must be greater than 0".into());
    }
    if c.objects.is_empty() {
        err(
            "objects",
            "at least one object (`[[objects]]` with database, table and topic, or `[[imports]]`) is required".into(),
        );
    }
    let mut seen = HashSet::new();
    for (i, o) in c.objects.iter().enumerate() {
        for (field, value) in [
            ("database", &o.database),
            ("table", &o.table),
            ("topic", &o.topic),
        ] {
            if value.trim().is_empty() {
                err(&format!("objects[{i}].{field}"), "must not be empty".into());
            }
        }
        if !o.topic.is_empty() && !is_topic_name(&o.topic) {
            err(
                &format!("objects[{i}].topic"),
                format!(
                    "invalid topic name {:?}: use letters, digits, `%`, `|`, `-` and `_`, at most 127 characters",
                    o.topic
                ),
            );
        }
        let mut cols = HashSet::new();
        for c in &o.columns {
            if c.trim().is_empty() || !cols.insert(c.as_str()) {
                err(
                    &format!("objects[{i}].columns"),
                    format!("column {c:?} is empty or listed twice"),
                );
            }
        }
        let mut outputs = HashSet::new();
        for (old, new) in &o.column_renames {
            if new.trim().is_empty() || !outputs.insert(new.as_str()) {
                err(
                    &format!("objects[{i}].column_renames"),
                    format!("{old:?} is renamed to {new:?}, which is empty or used twice"),
                );
            }
        }
        for (field, v) in [
            ("rename_database", &o.rename_database),
            ("rename_table", &o.rename_table),
        ] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                err(&format!("objects[{i}].{field}"), "must not be empty".into());
            }
        }
        typed.row_filters.push(match &o.row_filter {
            None => None,
            Some(filter) => match RowFilter::parse(filter) {
                Ok(f) => Some(Arc::new(f)),
                Err(e) => {
                    err(
                        &format!("objects[{i}].where"),
                        format!("invalid row filter {filter:?}: {e}"),
                    );
                    None
                }
            },
        });
        if !seen.insert((o.database.as_str(), o.table.as_str())) {
            err(
                &format!("objects[{i}]"),
                format!("table `{}`.`{}` is listed twice", o.database, o.table),
            );
        }
    }
    match FormatRef::parse(&c.options.format) {
        Some(format @ FormatRef::Builtin(_)) => typed.format = format,
        Some(format @ FormatRef::Module(_)) => {
            if let Some(p) = module_problem(path, &c.options.format) {
                err("options.format", p);
            }
            typed.format = format;
        }
        None => err(
            "options.format",
            format!(
                "unknown format {:?}: expected one of {} or the path of a `.wasm` format module",
                c.options.format,
                builtin_format_names().collect::<Vec<_>>().join(", ")
            ),
        ),
    }
    if c.options.sequence_within_transaction && !typed.format.is_builtin("shareplex") {
        err(
            "options.sequence_within_transaction",
            format!(
                "in-transaction sequence numbers exist only in the shareplex format, not in {:?}",
                c.options.format
            ),
        );
    }
    if c.options.heartbeats && !typed.format.is_builtin("dataworks") {
        err(
            "options.heartbeats",
            format!(
                "heartbeat messages exist only in the dataworks format, not in {:?}",
                c.options.format
            ),
        );
    }
    if !(100..=3_600_000).contains(&c.options.heartbeat_interval_ms) {
        err(
            "options.heartbeat_interval_ms",
            format!(
                "{} is not between 100 and 3600000 milliseconds",
                c.options.heartbeat_interval_ms
            ),
        );
    }
    if let Some(id) = &c.options.business_system_id
        && !(1..=20).contains(&id.chars().count())
    {
        err(
            "options.business_system_id",
            format!("{id:?} must be 1 to 20 characters"),
        );
    }
    if let Some(ts) = c.options.start_timestamp {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if ts == 0 || ts > now {
            err(
                "options.start_timestamp",
                format!("{ts} is not a Unix timestamp in seconds between 1 and now ({now})"),
            );
        }
    }
    if let Some(ts) = c.options.start_timestamp {
        typed.start = StartAt::Timestamp(ts);
    }
    if let Some(p) = &c.options.start_position {
        match super::start::parse_file_offset(p) {
            Ok((file, offset)) => typed.start = StartAt::FileOffset { file, offset },
            Err(e) => err("options.start_position", e),
        }
    }
    if let Some(g) = &c.options.start_gtid {
        match super::start::parse_gtid_set(g) {
            Ok(_) => typed.start = StartAt::Gtid(g.trim().to_string()),
            Err(e) => err("options.start_gtid", e),
        }
    }
    let starts = [
        c.options.start_timestamp.is_some(),
        c.options.start_position.is_some(),
        c.options.start_gtid.is_some(),
    ];
    if starts.iter().filter(|s| **s).count() > 1 {
        err(
            "options.start_timestamp",
            "set at most one of start_timestamp, start_position and start_gtid".into(),
        );
    }
    if let Some(tz) = TimeZone::parse(&c.options.time_zone) {
        typed.time_zone = tz;
    } else {
        err(
            "options.time_zone",
            format!(
                "{:?} is not a UTC offset such as \"+08:00\" or \"-05:30\"",
                c.options.time_zone
            ),
        );
    }
    for (field, problem) in limits_problems(&c.options.format_limits) {
        err(&format!("options.format_limits.{field}"), problem);
    }
    for (i, f) in c.options.filters.iter().enumerate() {
        if let Some(p) = module_problem(path, &f.module) {
            err(&format!("options.filters[{i}].module"), p);
        }
        for (field, problem) in limits_problems(&f.limits()) {
            err(&format!("options.filters[{i}].{field}"), problem);
        }
    }
    if let Some(hook) = &mut c.alerts.webhook {
        match expand(hook.expose()) {
            Ok(v) => hook.0 = v,
            Err(problem) => err("alerts.webhook", problem),
        }
    }
    for (field, problem) in c.alerts.problems() {
        err(&format!("alerts.{field}"), problem);
    }
    (c, typed, errors)
}

/// Returns why a project name is invalid, if it is.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("must not be empty");
    }
    if name.chars().count() > 64 {
        return Some("at most 64 characters");
    }
    if !name
        .chars()
        .all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_')
    {
        return Some("use letters, digits, CJK characters, `-` and `_` only");
    }
    None
}

fn is_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

/// RocketMQ's topic name rule: `^[%|a-zA-Z0-9_-]+$`, at most 127 characters.
fn is_topic_name(s: &str) -> bool {
    s.len() <= 127
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%|-_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_names() {
        assert!(name_problem("orders-sync_1").is_none());
        assert!(name_problem("订单同步").is_none());
        assert!(name_problem("has space").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem(&"x".repeat(65)).is_some());
    }
}
