//! Sync-project configuration: one TOML file per project in the config directory.
//!
//! Loading is two steps: parse (serde, unknown fields rejected, every error located by file, line
//! and field path) and validate (rules that need the whole file, no I/O). Every problem in every
//! file is collected and reported at once; a project is only built from a file without errors.

mod alerts;
mod built;
mod builtin;
mod datasource;
mod env;
mod error;
mod import;
mod load;
mod locate;
mod project;
mod redact;
mod secret;
mod start;
mod validate;

pub use alerts::{AlertLevel, AlertsConfig};
pub use built::{FormatRef, PartitionRule, Project, TimeZone};
pub use builtin::builtin_format_names;
pub use datasource::{DATA_SOURCE_DIR, DataSources};
pub use error::{ConfigError, ConfigErrors};
pub use import::parse_csv;
pub use load::{DirScan, load_dir, load_file, scan_dir};
pub use project::{
    FilterConfig, ImportConfig, KeyChange, ModuleLimitsConfig, ObjectConfig, OptionsConfig,
    ProjectConfig, SourceConfig, SyncConfig, TargetConfig,
};
pub use start::{GtidSet, StartAt, parse_file_offset, parse_gtid_set};
