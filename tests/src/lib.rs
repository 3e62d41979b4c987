//! Test harness for obsync's integration tests: connections to the private MariaDB and RocketMQ
//! started by `scripts/services.sh`, unique names per test, a consumer that reads a whole topic,
//! and an in-process agent with a shutdown handle.
//!
//! Every wait polls a condition with a deadline; nothing sleeps for a fixed time.
#![recursion_limit = "256"]

pub mod agent;
pub mod mq;
pub mod raw_json;
pub mod relay;
pub mod scene;
pub mod sql;
pub mod webhook;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads a port from the environment with the scripts' default.
fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// The private MariaDB port (`scripts/env.sh`).
pub fn mysql_port() -> u16 {
    env_or("OBSYNC_MYSQL_PORT", "13306")
        .parse()
        .unwrap_or(13306)
}

/// The second private MariaDB's port: a STATEMENT binlog, for precheck failures.
pub fn mysql2_port() -> u16 {
    env_or("OBSYNC_MYSQL2_PORT", "13307")
        .parse()
        .unwrap_or(13307)
}

/// The private name server address.
pub fn name_server() -> String {
    format!("127.0.0.1:{}", env_or("OBSYNC_NAMESRV_PORT", "19876"))
}

/// The private broker address.
pub fn broker_addr() -> String {
    format!("127.0.0.1:{}", env_or("OBSYNC_BROKER_PORT", "20911"))
}

/// The ACL broker's address (`scripts/services.sh start aclbroker`).
pub fn acl_broker_addr() -> String {
    format!("127.0.0.1:{}", env_or("OBSYNC_ACL_BROKER_PORT", "20921"))
}

/// The broker that never answers SEND_OK (`scripts/services.sh start syncbroker`).
pub fn sync_broker_addr() -> String {
    format!("127.0.0.1:{}", env_or("OBSYNC_SYNC_BROKER_PORT", "20931"))
}

/// Runs `scripts/services.sh ARGS...` (start or stop a service of a test's own, `mqadmin ...`).
pub fn services(args: &[&str]) -> anyhow::Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    let status = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .status()?;
    anyhow::ensure!(status.success(), "services.sh {args:?} failed");
    Ok(())
}

/// Sets `key` to `value` on a running broker, as an operator does (`mqadmin updateBrokerConfig`).
pub fn update_broker_config(broker: &str, key: &str, value: &str) -> anyhow::Result<()> {
    services(&[
        "mqadmin",
        "updateBrokerConfig",
        "-b",
        broker,
        "-k",
        key,
        "-v",
        value,
    ])
}

/// The broker of the tests of the broker's own limits (`scripts/services.sh start limitbroker`).
pub fn limit_broker_addr() -> String {
    format!("127.0.0.1:{}", env_or("OBSYNC_LIMIT_BROKER_PORT", "20941"))
}

/// The limit broker's store: a private tmpfs (`scripts/services.sh`), filled by the disk test.
pub fn limit_broker_store() -> std::path::PathBuf {
    let services = std::env::var_os("OBSYNC_SERVICES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/obsync/services")
        });
    let version = env_or("OBSYNC_ROCKETMQ_VERSION", "5.3.3");
    services.join(format!("rocketmq-{version}/store-limit"))
}

/// The ACL broker's super user: access key and secret key.
pub fn acl_keys() -> (String, String) {
    (
        env_or("OBSYNC_ACL_ACCESS_KEY", "obsync_ak"),
        env_or("OBSYNC_ACL_SECRET_KEY", "obsync_sk"),
    )
}

/// The replication user and password obsync connects with.
pub fn repl_user() -> (String, String) {
    (
        env_or("OBSYNC_MYSQL_REPL_USER", "obsync"),
        env_or("OBSYNC_MYSQL_REPL_PASSWORD", "obsync"),
    )
}

/// The admin user tests write data with.
pub fn admin_user() -> (String, String) {
    (
        env_or("OBSYNC_MYSQL_ADMIN_USER", "obsync_admin"),
        env_or("OBSYNC_MYSQL_ADMIN_PASSWORD", "obsync_admin"),
    )
}

/// Returns a name unique to this process and call, usable as a database, topic or group name.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

/// Returns a replica server id unique to this process and call.
pub fn unique_server_id() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    10_000 + (std::process::id() % 10_000) * 100 + N.fetch_add(1, Ordering::Relaxed)
}

/// Installs a test log subscriber (RUST_LOG, default warn).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
