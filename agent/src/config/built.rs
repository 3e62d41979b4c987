//! The validated project: what `load_file` hands to the rest of the agent. Every setting that is
//! text in the file but has a meaning (the partition rule, the time zone, the start position,
//! the format, the row filters) is parsed exactly once, during validation, into a typed field
//! here; later stages read those fields and never parse the text again.
//!
//! Invariant: a [`Project`] exists only for a file that passed every check of `validate`, so its
//! typed fields agree with `config` (which is kept as written, `${ENV}` expanded, for display,
//! fingerprints and the settings that need no parsing).

use std::path::PathBuf;
use std::sync::Arc;

use super::project::ProjectConfig;
use super::start::StartAt;
use crate::filter::RowFilter;

/// A parsed, validated project with the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The project file.
    pub path: PathBuf,
    /// The configuration as written, with `${ENV}` references expanded and data source
    /// references resolved.
    pub config: ProjectConfig,
    /// The data source files the project refers to (a change to them changes the project).
    pub uses: Vec<PathBuf>,
    /// `target.partition_rule`.
    pub partition_rule: PartitionRule,
    /// `options.time_zone`.
    pub time_zone: TimeZone,
    /// Where a project without a checkpoint starts.
    pub start: StartAt,
    /// `options.format`.
    pub format: FormatRef,
    /// The row filter of each object (`objects[i].where`), parsed, by object index.
    pub row_filters: Vec<Option<Arc<RowFilter>>>,
}

/// How a message's queue is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionRule {
    /// By the hash of the row's sharding values (the OMS default).
    #[default]
    Hash,
    /// By the hash of `db.table`: one queue per table.
    Table,
}

impl PartitionRule {
    /// Reads `hash` or `table`.
    pub fn parse(text: &str) -> Option<PartitionRule> {
        match text {
            "hash" => Some(PartitionRule::Hash),
            "table" => Some(PartitionRule::Table),
            _ => None,
        }
    }
}

/// A fixed UTC offset, for wall-clock times in formats and TIMESTAMP literals in row filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeZone {
    offset_seconds: i32,
}

impl TimeZone {
    /// Reads `+HH:MM` or `-HH:MM` (at most ±14:59).
    pub fn parse(text: &str) -> Option<TimeZone> {
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let (h, m) = rest.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        if h > 14 || m > 59 {
            return None;
        }
        Some(TimeZone {
            offset_seconds: sign * (h * 3600 + m * 60),
        })
    }

    /// The offset east of UTC, in seconds.
    pub fn offset_seconds(self) -> i32 {
        self.offset_seconds
    }
}

/// Which format module a project uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatRef {
    /// A format built into the agent, by its config name.
    Builtin(&'static str),
    /// A `.wasm` module, by its path relative to the project file's directory.
    Module(String),
}

impl FormatRef {
    /// Reads a built-in format name or a `*.wasm` path; `None` for anything else.
    pub fn parse(text: &str) -> Option<FormatRef> {
        if let Some(name) = super::builtin::builtin_format_names().find(|n| *n == text) {
            return Some(FormatRef::Builtin(name));
        }
        text.ends_with(".wasm")
            .then(|| FormatRef::Module(text.to_string()))
    }

    /// True for the built-in format `name`.
    pub fn is_builtin(&self, name: &str) -> bool {
        matches!(self, FormatRef::Builtin(n) if *n == name)
    }

    /// The name or path as written.
    pub fn as_str(&self) -> &str {
        match self {
            FormatRef::Builtin(n) => n,
            FormatRef::Module(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_offsets_only() {
        assert_eq!(
            TimeZone::parse("+08:00").map(TimeZone::offset_seconds),
            Some(28_800)
        );
        assert_eq!(
            TimeZone::parse("-05:30").map(TimeZone::offset_seconds),
            Some(-19_800)
        );
        for bad in ["Asia/Shanghai", "+8:00", "+15:00", "+08:60", "08:00", ""] {
            assert_eq!(TimeZone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_are_built_in_names_or_module_paths() {
        assert_eq!(FormatRef::parse("canal"), Some(FormatRef::Builtin("canal")));
        assert_eq!(
            FormatRef::parse("m/x.wasm"),
            Some(FormatRef::Module("m/x.wasm".into()))
        );
        assert_eq!(FormatRef::parse("avro"), None);
        assert!(FormatRef::parse("shareplex").is_some_and(|f| f.is_builtin("shareplex")));
    }

    #[test]
    fn partition_rules() {
        assert_eq!(PartitionRule::parse("table"), Some(PartitionRule::Table));
        assert_eq!(PartitionRule::parse("round_robin"), None);
    }
}
