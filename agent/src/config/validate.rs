//! Rules that serde cannot express, checked without any I/O. Each error names the field path and
//! the bad value and, where it helps, says what would be accepted.

use std::collections::HashSet;
use std::path::Path;

use super::env::expand;
use super::error::ConfigError;
use super::load::line_of;
use super::project::ProjectConfig;

/// The formats built into the binary.
pub const BUILTIN_FORMATS: &[&str] = &["default"];

/// Checks a parsed project; returns it with `${ENV}` references expanded, plus every problem.
pub fn validate(
    path: &Path,
    text: &str,
    mut c: ProjectConfig,
) -> (ProjectConfig, Vec<ConfigError>) {
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
    if c.target.producer_group.trim().is_empty() {
        err("target.producer_group", "must not be empty".into());
    }
    if c.target.send_timeout_ms == 0 {
        err("target.send_timeout_ms", "must be greater than 0".into());
    }
    if c.objects.is_empty() {
        err(
            "objects",
            "at least one object (`[[objects]]` with database, table and topic) is required".into(),
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
        if !seen.insert((o.database.as_str(), o.table.as_str())) {
            err(
                &format!("objects[{i}]"),
                format!("table `{}`.`{}` is listed twice", o.database, o.table),
            );
        }
    }
    if !BUILTIN_FORMATS.contains(&c.options.format.as_str()) {
        err(
            "options.format",
            format!(
                "unknown format {:?}: expected one of {}",
                c.options.format,
                BUILTIN_FORMATS.join(", ")
            ),
        );
    }
    (c, errors)
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

/// Finds the line of a dotted field path such as `objects[1].topic` (best effort).
pub(crate) fn locate(text: &str, path: &str) -> Option<usize> {
    let mut offset = 0;
    let segments: Vec<&str> = path.split('.').collect();
    for (n, seg) in segments.iter().enumerate() {
        let last = n + 1 == segments.len();
        if let Some((name, idx)) = seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
            let idx: usize = idx.parse().ok()?;
            let header = format!("[[{name}]]");
            let mut found = None;
            let mut from = offset;
            for _ in 0..=idx {
                let at = text[from..].find(&header)? + from;
                found = Some(at);
                from = at + header.len();
            }
            offset = found?;
        } else if !last {
            let header = format!("[{seg}]");
            if let Some(at) = text[offset..].find(&header) {
                offset += at;
            }
        } else {
            let at = text[offset..]
                .lines()
                .scan(offset, |pos, line| {
                    let start = *pos;
                    *pos += line.len() + 1;
                    Some((start, line))
                })
                .find(|(_, line)| {
                    let l = line.trim_start();
                    l.strip_prefix(seg)
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                })
                .map(|(start, _)| start)?;
            offset = at;
        }
    }
    Some(line_of(text, offset))
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

    #[test]
    fn locates_fields() {
        let text = "name = \"a\"\n[source]\nhost = \"h\"\n[[objects]]\ntopic = \"t\"\n[[objects]]\ntopic = \"u\"\n";
        assert_eq!(locate(text, "source.host"), Some(3));
        assert_eq!(locate(text, "objects[1].topic"), Some(7));
        assert_eq!(locate(text, "objects[0]"), Some(4));
        assert_eq!(locate(text, "name"), Some(1));
    }
}
