//! The sync-project file format (TOML). Field names, defaults and units follow OMS where OMS has
//! the same setting (`../shared/reference/oms-spec.md` §1.15, §3).

use serde::{Deserialize, Serialize};

pub use super::secret::Secret;

/// One sync project: a source, a RocketMQ target, the objects to carry and options.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Project name: letters, digits, CJK, `-` and `_`; at most 64 characters.
    pub name: String,
    /// False saves the project without starting it (OMS "save").
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Free-form labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where changes are read from.
    pub source: SourceConfig,
    /// Where messages are written to.
    pub target: TargetConfig,
    /// Which DML kinds are carried.
    #[serde(default)]
    pub sync: SyncConfig,
    /// The tables and their topics.
    #[serde(default)]
    pub objects: Vec<ObjectConfig>,
    /// More objects, imported from an OMS CSV file or the `SCHEMA.TB1 | SCHEMA.TB2` text form.
    #[serde(default)]
    pub imports: Vec<ImportConfig>,
    /// Project options.
    #[serde(default)]
    pub options: OptionsConfig,
    /// Alert thresholds and the webhook.
    #[serde(default)]
    pub alerts: super::alerts::AlertsConfig,
}

/// A MySQL-protocol source: the OceanBase binlog service, MySQL or MariaDB.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    #[serde(default = "default_mysql_port")]
    pub port: u16,
    /// User with REPLICATION SLAVE, REPLICATION CLIENT and SELECT.
    pub user: String,
    /// Password; `${ENV_NAME}` reads it from the environment.
    #[serde(default)]
    pub password: Secret,
    /// Replica server id, unique among the server's replicas.
    pub server_id: u32,
    /// Connect timeout in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Heartbeat period asked from the server, in milliseconds; the stream is considered dead
    /// after three missed heartbeats.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// OceanBase config URL (the cluster's `obconfig_url`), kept for the OceanBase-specific
    /// checks and LogProxy support; unused by the binlog path.
    #[serde(default)]
    pub ob_config_url: Option<String>,
    /// The OceanBase tenant, for the Default formats' `db` (`{tenant}.{database}`, as OMS writes
    /// it for OceanBase); default: the tenant in `user` (`user@tenant` or `user@tenant#cluster`).
    /// Unused for MySQL and MariaDB.
    #[serde(default)]
    pub tenant: Option<String>,
}

impl SourceConfig {
    /// The OceanBase tenant: `tenant`, else the part of `user` after `@` (up to a `#cluster`).
    pub fn tenant(&self) -> Option<String> {
        if let Some(t) = self.tenant.as_deref().filter(|t| !t.is_empty()) {
            return Some(t.to_string());
        }
        let (_, rest) = self.user.split_once('@')?;
        let tenant = rest.split('#').next().unwrap_or_default();
        (!tenant.is_empty()).then(|| tenant.to_string())
    }
}

/// A RocketMQ target.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Name server list, `host:port;host:port`.
    pub name_server: String,
    /// Producer group (OMS default `OMS`).
    #[serde(default = "default_producer_group")]
    pub producer_group: String,
    /// Send timeout in milliseconds (OMS default 3000).
    #[serde(default = "default_send_timeout_ms")]
    pub send_timeout_ms: u64,
    /// Message tag prefix; messages carry `<tag>_tag` (OMS default `default` → `default_tag`).
    #[serde(default = "default_tag")]
    pub tag: String,
    /// ACL access key (RocketMQ `AccessKey`); requires `secret_key`.
    #[serde(default)]
    pub access_key: Option<String>,
    /// ACL secret key; `${ENV}` reads it from the environment; never printed.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    /// Turn on RocketMQ message trace (OMS "message trace").
    #[serde(default)]
    pub message_trace: bool,
    /// The trace topic (default `RMQ_SYS_TRACE_TOPIC`).
    #[serde(default)]
    pub trace_topic: Option<String>,
    /// Queue choice: `hash` of the sharding values (OMS default) or `table` (hash of `db.table`).
    #[serde(default = "default_partition_rule")]
    pub partition_rule: String,
    /// Messages not yet below the acknowledgement watermark (unacknowledged, or acknowledged
    /// behind one that is not), at most; reading waits when it is reached. Also bounds the
    /// duplicates after a crash.
    #[serde(default = "default_in_flight_messages")]
    pub in_flight_messages: usize,
    /// Message body megabytes not yet below the acknowledgement watermark, at most.
    #[serde(default = "default_in_flight_mb")]
    pub in_flight_mb: usize,
    /// The largest message body sent: a bigger one stops the project with an error naming its
    /// table and key, before it is sent. Match the broker's `maxMessageSize`.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

/// 4 MiB: Apache RocketMQ's default `maxMessageSize` (4.x and 5.x).
fn default_max_message_bytes() -> usize {
    4 << 20
}

/// 4096 messages in flight: every lane busy with a batch and the next one ready (a larger window
/// bought 5% speed for 20 MiB more RSS per burst, BENCHMARKS.md), duplicates after a crash bounded.
fn default_in_flight_messages() -> usize {
    4096
}

/// 16 MiB of bodies in flight: the message bound comes first below 4 KiB per message.
fn default_in_flight_mb() -> usize {
    16
}

/// OMS default partition rule.
fn default_partition_rule() -> String {
    "hash".into()
}

/// The DML kinds carried (all by default).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Carry INSERT.
    #[serde(default = "default_true")]
    pub insert: bool,
    /// Carry UPDATE.
    #[serde(default = "default_true")]
    pub update: bool,
    /// Carry DELETE.
    #[serde(default = "default_true")]
    pub delete: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            insert: true,
            update: true,
            delete: true,
        }
    }
}

/// One source table mapped to one existing topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectConfig {
    /// Source database.
    pub database: String,
    /// Source table.
    pub table: String,
    /// Existing RocketMQ topic.
    pub topic: String,
    /// Columns whose values choose the queue; default the primary key.
    #[serde(default)]
    pub sharding_columns: Vec<String>,
    /// Columns to carry, in output order; default all.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The database name consumers see (OMS rename); default the source name.
    #[serde(default)]
    pub rename_database: Option<String>,
    /// The table name consumers see (OMS rename); default the source name.
    #[serde(default)]
    pub rename_table: Option<String>,
    /// Column renames, `source_name = "output_name"`.
    #[serde(default)]
    pub column_renames: std::collections::BTreeMap<String, String>,
    /// Row filter (OMS "row filter"): a SQL `WHERE` condition on the source columns; rows for
    /// which it is not TRUE are not carried. See the README for how UPDATEs are tested.
    #[serde(default, rename = "where")]
    pub row_filter: Option<String>,
    /// Where an imported object came from (file and line); not a file field.
    #[serde(skip)]
    pub origin: Option<(std::path::PathBuf, usize)>,
}

impl ObjectConfig {
    /// An object carrying every column of `database.table` to `topic`, sharded by its key.
    pub fn new(database: &str, table: &str, topic: &str) -> Self {
        ObjectConfig {
            database: database.to_string(),
            table: table.to_string(),
            topic: topic.to_string(),
            sharding_columns: Vec::new(),
            columns: Vec::new(),
            rename_database: None,
            rename_table: None,
            column_renames: Default::default(),
            row_filter: None,
            origin: None,
        }
    }
}

/// One import of objects: an OMS CSV file, or OMS's `SCHEMA.TB1 | SCHEMA.TB2` text with a topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportConfig {
    /// A CSV file (relative to the config directory) in OMS's layout: source database, source
    /// table, topic, selected columns (`;`), column mapping (`src:dst;…`), sharding columns
    /// (`;`), row filter, and optionally renamed database and renamed table.
    #[serde(default)]
    pub csv: Option<String>,
    /// Tables as `db.table` entries separated by `|`.
    #[serde(default)]
    pub tables: Option<String>,
    /// The topic of every table in `tables`.
    #[serde(default)]
    pub topic: Option<String>,
}

/// How an UPDATE that changes the sharding values is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyChange {
    /// As a DELETE of the old row on the old key's queue, then an INSERT of the new row on the
    /// new key's queue: per-key order holds for both keys (default).
    #[default]
    Split,
    /// As one UPDATE on the new key's queue (OMS behaviour): a consumer may see the old key's
    /// earlier changes after it.
    Update,
}

/// Project options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsConfig {
    /// Serialization format: a built-in name (`default`, `canal`, `dataworks`, `shareplex`,
    /// `default_extend_column_type`) or the path of a format module (`*.wasm`, relative to the
    /// config directory).
    #[serde(default = "default_format")]
    pub format: String,
    /// Limits of the format module.
    #[serde(default)]
    pub format_limits: ModuleLimitsConfig,
    /// Filter modules, applied in order before the format.
    #[serde(default)]
    pub filters: Vec<FilterConfig>,
    /// Number the rows of each transaction 1, 2, 3, … in `meta.seq` (OMS "in-transaction
    /// sequence numbering"; SharePlex only).
    #[serde(default)]
    pub sequence_within_transaction: bool,
    /// Business system identifier (OMS option, 1–20 characters; DataWorks `extend.load_fm`).
    #[serde(default)]
    pub business_system_id: Option<String>,
    /// Where a new project starts: a Unix timestamp in seconds (not in the future); default now.
    /// Ignored once the project has a checkpoint.
    #[serde(default)]
    pub start_timestamp: Option<u64>,
    /// Where a new project starts: `binlog-file:offset` (must be a transaction boundary, such
    /// as `SHOW MASTER STATUS` prints). Ignored once the project has a checkpoint.
    #[serde(default)]
    pub start_position: Option<String>,
    /// Where a new project starts: after this GTID set (MariaDB `0-1-100`, MySQL
    /// `uuid:1-100`). Ignored once the project has a checkpoint.
    #[serde(default)]
    pub start_gtid: Option<String>,
    /// UTC offset for formats that print wall-clock times (SharePlex) and for TIMESTAMP values
    /// in row filters, `+08:00` style.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// How an UPDATE that changes the sharding values is sent.
    #[serde(default)]
    pub key_change: KeyChange,
    /// Send DataWorks heartbeat messages (`"op": "HEARTBEAT"`, spec §1.6) to every queue of
    /// every topic of the project (DataWorks only; off by default, as in OMS).
    #[serde(default)]
    pub heartbeats: bool,
    /// The heartbeat period in milliseconds (100 to 3 600 000; default 5000, OMS's heartbeat
    /// period).
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
}

impl Default for OptionsConfig {
    fn default() -> Self {
        OptionsConfig {
            format: default_format(),
            format_limits: ModuleLimitsConfig::default(),
            filters: Vec::new(),
            sequence_within_transaction: false,
            business_system_id: None,
            start_timestamp: None,
            start_position: None,
            start_gtid: None,
            time_zone: default_time_zone(),
            key_change: KeyChange::default(),
            heartbeats: false,
            heartbeat_interval_ms: default_heartbeat_interval_ms(),
        }
    }
}

impl OptionsConfig {
    /// Returns every module the project uses, format first, with its limits and kind.
    pub fn module_specs(
        &self,
    ) -> impl Iterator<Item = (&str, ModuleLimitsConfig, obsync_sdk::ModuleKind)> {
        std::iter::once((
            self.format.as_str(),
            self.format_limits,
            obsync_sdk::ModuleKind::Format,
        ))
        .chain(self.filters.iter().map(|f| {
            (
                f.module.as_str(),
                f.limits(),
                obsync_sdk::ModuleKind::Filter,
            )
        }))
    }
}

/// Sandbox limits of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleLimitsConfig {
    /// Maximum linear memory, in MiB (1–4096).
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u64,
    /// Maximum time of one batch call, in milliseconds (1–600000).
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
}

impl Default for ModuleLimitsConfig {
    fn default() -> Self {
        ModuleLimitsConfig {
            memory_limit_mb: default_memory_limit_mb(),
            call_timeout_ms: default_call_timeout_ms(),
        }
    }
}

/// One filter module.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Path of the module (`*.wasm`, relative to the config directory).
    pub module: String,
    /// Maximum linear memory, in MiB (1–4096).
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u64,
    /// Maximum time of one batch call, in milliseconds (1–600000).
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
}

impl FilterConfig {
    /// Returns the filter's limits.
    pub fn limits(&self) -> ModuleLimitsConfig {
        ModuleLimitsConfig {
            memory_limit_mb: self.memory_limit_mb,
            call_timeout_ms: self.call_timeout_ms,
        }
    }
}

/// OMS writes its heartbeats every 5 seconds.
fn default_heartbeat_interval_ms() -> u64 {
    5000
}

/// UTC: the same everywhere; set `+08:00` to match the OMS documentation examples.
fn default_time_zone() -> String {
    "+00:00".into()
}

/// 256 MiB: room for large batches of wide rows, small enough to stop a runaway module.
fn default_memory_limit_mb() -> u64 {
    256
}

/// 5 s per batch call: far above a format's needs, short enough to notice an endless loop.
fn default_call_timeout_ms() -> u64 {
    5_000
}

fn default_true() -> bool {
    true
}

/// The MySQL protocol's standard port.
fn default_mysql_port() -> u16 {
    3306
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}

/// One heartbeat a second: a dead link is noticed within about three seconds.
fn default_heartbeat_ms() -> u64 {
    1_000
}

/// OMS default producer group.
fn default_producer_group() -> String {
    "OMS".into()
}

/// OMS default send timeout.
fn default_send_timeout_ms() -> u64 {
    3_000
}

/// OMS default tag (`default` → `default_tag`).
fn default_tag() -> String {
    "default".into()
}

/// OMS default serialization format.
fn default_format() -> String {
    "default".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(extra: &str) -> SourceConfig {
        toml::from_str(&format!("host = \"h\"\nserver_id = 1\n{extra}")).expect("source")
    }

    #[test]
    fn the_tenant_comes_from_the_option_else_the_user() {
        assert_eq!(source("user = \"app\"").tenant(), None);
        assert_eq!(source("user = \"app@t1\"").tenant().as_deref(), Some("t1"));
        assert_eq!(
            source("user = \"app@t1#obcluster\"").tenant().as_deref(),
            Some("t1")
        );
        assert_eq!(
            source("user = \"app@t1\"\ntenant = \"sales\"")
                .tenant()
                .as_deref(),
            Some("sales")
        );
        assert_eq!(source("user = \"app@\"").tenant(), None);
    }
}
