//! Data sources defined once and shared by several projects: one file per data source in
//! `<config-dir>/datasources/<name>.toml`, holding either a `[mysql]` table (the fields of a
//! project's `[source]`) or a `[rocketmq]` table (the fields of `[target]`). A project refers to
//! one with `source = "<name>"` or `target = "<name>"` instead of an inline table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{ConfigError, ConfigErrors};
use super::project::{SourceConfig, TargetConfig};

/// The subdirectory of the config directory that holds data source files.
pub const DATA_SOURCE_DIR: &str = "datasources";

/// The data sources of a config directory, by name (the file stem).
#[derive(Debug, Clone, Default)]
pub struct DataSources {
    /// MySQL-protocol sources: file and `[mysql]` table.
    pub mysql: BTreeMap<String, (PathBuf, toml::Table)>,
    /// RocketMQ targets: file and `[rocketmq]` table.
    pub rocketmq: BTreeMap<String, (PathBuf, toml::Table)>,
}

impl DataSources {
    /// Loads `<dir>/datasources/*.toml` (a missing directory means no data sources).
    pub fn load(dir: &Path) -> Result<Self, ConfigErrors> {
        let ds_dir = dir.join(DATA_SOURCE_DIR);
        let mut out = DataSources::default();
        let Ok(entries) = std::fs::read_dir(&ds_dir) else {
            return Ok(out);
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        let mut errors = Vec::new();
        for file in files {
            let err = |field: &str, message: String| ConfigError {
                file: file.clone(),
                line: None,
                field: field.to_string(),
                message,
            };
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(err("", format!("cannot read the file: {e}")));
                    continue;
                }
            };
            let mut table: toml::Table = match text.parse::<toml::Table>() {
                Ok(t) => t,
                Err(e) => {
                    // The message and line only: toml's full text quotes the source line,
                    // which may hold a password.
                    let line = e.span().map(|s| super::locate::line_of(&text, s.start));
                    let message = e.message().trim_end().to_string();
                    errors.push(ConfigError {
                        line,
                        message: super::redact::message_for("", &text, line, message),
                        ..err("", String::new())
                    });
                    continue;
                }
            };
            let kinds: Vec<String> = table.keys().cloned().collect();
            match (table.remove("mysql"), table.remove("rocketmq")) {
                (Some(toml::Value::Table(t)), None) if table.is_empty() => {
                    if let Err(e) = check::<SourceConfig>(&t) {
                        let field = format!("mysql.{}", e.0);
                        let message = super::redact::message_for(&field, "", None, e.1);
                        errors.push(err(&field, message));
                    }
                    out.mysql.insert(name, (file.clone(), t));
                }
                (None, Some(toml::Value::Table(t))) if table.is_empty() => {
                    if let Err(e) = check::<TargetConfig>(&t) {
                        let field = format!("rocketmq.{}", e.0);
                        let message = super::redact::message_for(&field, "", None, e.1);
                        errors.push(err(&field, message));
                    }
                    out.rocketmq.insert(name, (file.clone(), t));
                }
                _ => errors.push(err(
                    "",
                    format!(
                        "a data source file holds exactly one `[mysql]` or `[rocketmq]` table, found {kinds:?}"
                    ),
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// Deserializes a table into `T` to report a bad field early: `(field path, message)`.
fn check<T: for<'de> Deserialize<'de>>(t: &toml::Table) -> Result<(), (String, String)> {
    serde_path_to_error::deserialize::<_, T>(toml::Value::Table(t.clone()))
        .map(|_| ())
        .map_err(|e| {
            (
                e.path().to_string(),
                e.into_inner().to_string().trim_end().to_string(),
            )
        })
}
