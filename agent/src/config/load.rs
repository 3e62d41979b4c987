//! Reading project files from disk: parse each `*.toml` file in a directory, locate every error by
//! line and field path, then validate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::built::Project;
use super::datasource::DataSources;
use super::error::{ConfigError, ConfigErrors};
use super::locate::{line_of, locate};
use super::project::ProjectConfig;
use super::validate::validate;

/// Every project file of a directory, each loaded on its own.
#[derive(Debug, Default)]
pub struct DirScan {
    /// The valid projects, sorted by file name, each name once (the first file wins).
    pub projects: Vec<Project>,
    /// The files that failed to load, with their errors.
    pub broken: Vec<(PathBuf, ConfigErrors)>,
    /// Valid files whose project name an earlier file already uses: `(file, name, first file)`.
    pub duplicates: Vec<(PathBuf, String, PathBuf)>,
}

/// Loads every `*.toml` project file of `dir` on its own, so one bad file does not hide the
/// others (hot reload keeps running what is valid). Fails only when the directory or its data
/// source files cannot be used at all.
pub fn scan_dir(dir: &Path) -> Result<DirScan, ConfigErrors> {
    let sources = DataSources::load(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: dir.to_path_buf(),
            line: None,
            field: String::new(),
            message: format!("cannot read the config directory: {e}"),
        }])
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    let mut scan = DirScan::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        match load_file(&file, &sources) {
            Ok(p) => match seen.get(&p.config.name) {
                Some(first) => scan
                    .duplicates
                    .push((file, p.config.name.clone(), first.clone())),
                None => {
                    seen.insert(p.config.name.clone(), file);
                    scan.projects.push(p);
                }
            },
            Err(errors) => scan.broken.push((file, errors)),
        }
    }
    Ok(scan)
}

/// Loads every `*.toml` project file of `dir`, sorted by file name.
///
/// Returns every problem of every file at once; duplicate project names across files are errors.
pub fn load_dir(dir: &Path) -> Result<Vec<Project>, ConfigErrors> {
    let scan = scan_dir(dir)?;
    let mut errors: Vec<ConfigError> = scan.broken.into_iter().flat_map(|(_, e)| e.0).collect();
    for (file, name, first) in scan.duplicates {
        errors.push(ConfigError {
            file,
            line: None,
            field: "name".into(),
            message: format!(
                "duplicate project name {name:?}, already used by {}",
                first.display()
            ),
        });
    }
    if errors.is_empty() {
        Ok(scan.projects)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Loads and validates one project file, resolving `source = "name"` / `target = "name"` against
/// the data sources of its directory.
pub fn load_file(path: &Path, sources: &DataSources) -> Result<Project, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: None,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    let (mut config, mut uses) = parse(path, &text, sources).map_err(|e| ConfigErrors(vec![e]))?;
    let (mut imported, import_errors) = super::import::expand(path, &mut config);
    uses.append(&mut imported);
    let (config, typed, mut errors) = validate(path, &text, config);
    for e in &mut errors {
        super::import::reattribute(e, &config.objects);
    }
    errors.extend(import_errors);
    if errors.is_empty() {
        Ok(Project {
            path: path.to_path_buf(),
            config,
            uses,
            partition_rule: typed.partition_rule,
            time_zone: typed.time_zone,
            start: typed.start,
            format: typed.format,
            row_filters: typed.row_filters,
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

fn parse(
    path: &Path,
    text: &str,
    sources: &DataSources,
) -> Result<(ProjectConfig, Vec<PathBuf>), ConfigError> {
    // References to data sources are replaced by their tables before the typed parse.
    if let Ok(mut table) = text.parse::<toml::Table>() {
        let mut uses = Vec::new();
        let mut referenced = false;
        for (field, kind, map) in [
            ("source", "mysql", &sources.mysql),
            ("target", "rocketmq", &sources.rocketmq),
        ] {
            if let Some(toml::Value::String(name)) = table.get(field) {
                let name = name.clone();
                let Some((file, t)) = map.get(&name) else {
                    let known: Vec<&str> = map.keys().map(String::as_str).collect();
                    return Err(ConfigError {
                        file: path.to_path_buf(),
                        line: locate(text, field),
                        field: field.to_string(),
                        message: format!(
                            "data source {name:?} not found: expected a file {}/{name}.toml with a `[{kind}]` table (known: {})",
                            super::datasource::DATA_SOURCE_DIR,
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    });
                };
                table.insert(field.to_string(), toml::Value::Table(t.clone()));
                uses.push(file.clone());
                referenced = true;
            }
        }
        if referenced {
            return ProjectConfig::deserialize_with_path(toml::Value::Table(table))
                .map(|c| (c, uses))
                .map_err(|e| {
                    let field = e.path().to_string();
                    let line = locate(text, &field);
                    let message = e.into_inner().to_string().trim_end().to_string();
                    ConfigError {
                        file: path.to_path_buf(),
                        line,
                        message: super::redact::message_for(&field, text, line, message),
                        field: if field == "." { String::new() } else { field },
                    }
                });
        }
    }
    let de = toml::Deserializer::new(text);
    ProjectConfig::deserialize_with_path(de)
        .map(|c| (c, Vec::new()))
        .map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let line =
                locate(text, &field).or_else(|| inner.span().map(|s| line_of(text, s.start)));
            let message = inner.message().trim_end_matches('\n').to_string();
            ConfigError {
                file: path.to_path_buf(),
                line,
                message: super::redact::message_for(&field, text, line, message),
                field: if field == "." { String::new() } else { field },
            }
        })
}

trait DeserializeWithPath: Sized {
    fn deserialize_with_path<'de, D: serde::Deserializer<'de>>(
        de: D,
    ) -> Result<Self, serde_path_to_error::Error<D::Error>>;
}

impl<T: for<'de> Deserialize<'de>> DeserializeWithPath for T {
    fn deserialize_with_path<'de, D: serde::Deserializer<'de>>(
        de: D,
    ) -> Result<Self, serde_path_to_error::Error<D::Error>> {
        serde_path_to_error::deserialize(de)
    }
}
