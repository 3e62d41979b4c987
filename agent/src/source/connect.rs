//! Connecting to the source, detecting its flavour and finding the current binlog position.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};

use super::error::SourceError;
use super::position::Position;

/// The kind of server at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// MariaDB 10.5+ (v1 row events, MariaDB GTIDs).
    MariaDb,
    /// MySQL 5.7 / 8.x.
    MySql,
    /// The OceanBase binlog service (MySQL 5.7 shape).
    OceanBase,
}

impl Flavor {
    /// Returns the OMS `dbType` for messages from this source.
    pub fn db_type(self) -> &'static str {
        match self {
            Flavor::OceanBase => "OB_MYSQL",
            Flavor::MariaDb | Flavor::MySql => "MYSQL",
        }
    }

    fn from_version(version: &str) -> Flavor {
        if version.contains("MariaDB") {
            Flavor::MariaDb
        } else if version.to_ascii_lowercase().contains("oceanbase") {
            Flavor::OceanBase
        } else {
            Flavor::MySql
        }
    }
}

/// How to reach the source.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Password (never logged).
    pub password: String,
    /// Replica server id.
    pub server_id: u32,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Heartbeat period asked from the server.
    pub heartbeat: Duration,
    /// Whose streams these are (the project's name): a stream is only ever taken for "our own"
    /// (see `own_streams`) by the same owner.
    pub owner: String,
}

impl SourceOptions {
    /// Builds the options of a project's `[source]`.
    pub fn from_config(c: &crate::config::SourceConfig) -> Self {
        SourceOptions {
            host: c.host.clone(),
            port: c.port,
            user: c.user.clone(),
            password: c.password.expose().to_string(),
            server_id: c.server_id,
            connect_timeout: Duration::from_millis(c.connect_timeout_ms),
            heartbeat: Duration::from_millis(c.heartbeat_ms),
            owner: String::new(),
        }
    }

    /// Returns `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn connect_error(&self, message: String) -> SourceError {
        SourceError::Connect {
            addr: self.addr(),
            user: self.user.clone(),
            message,
        }
    }

    /// Opens a plain connection (TCP only, never the server's socket).
    pub async fn connect(&self) -> Result<Conn, SourceError> {
        let opts = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(10)))
            .max_allowed_packet(Some(1 << 30));
        match tokio::time::timeout(self.connect_timeout, Conn::new(opts)).await {
            Err(_) => {
                Err(self.connect_error(format!("timed out after {:?}", self.connect_timeout)))
            }
            Ok(Err(e)) => Err(self.connect_error(e.to_string())),
            Ok(Ok(conn)) => Ok(conn),
        }
    }

    /// Returns the server flavour.
    pub async fn flavor(&self, conn: &mut Conn) -> Result<Flavor, SourceError> {
        let version: Option<String> = conn
            .query_first("SELECT @@version")
            .await
            .map_err(|e| self.connect_error(e.to_string()))?;
        Ok(Flavor::from_version(version.as_deref().unwrap_or_default()))
    }

    /// Returns the server's current binlog end as a position (the default start: "now").
    pub async fn current_position(&self, conn: &mut Conn) -> Result<Position, SourceError> {
        let mut row: Option<Row> = None;
        for q in ["SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"] {
            match conn.query_first::<Row, _>(q).await {
                Ok(r) => {
                    row = r;
                    break;
                }
                Err(e) => tracing::debug!(query = q, error = %e, "position query failed"),
            }
        }
        let setup = |message: &str| SourceError::Setup {
            addr: self.addr(),
            message: message.to_string(),
        };
        let row = row.ok_or_else(|| {
            setup("binary logging is off or the user lacks REPLICATION CLIENT / BINLOG MONITOR")
        })?;
        let file: String = row
            .get_opt::<String, _>(0)
            .and_then(Result::ok)
            .ok_or_else(|| setup("SHOW MASTER STATUS returned no file name"))?;
        let offset: u64 = row
            .get_opt::<u64, _>(1)
            .and_then(Result::ok)
            .ok_or_else(|| setup("SHOW MASTER STATUS returned no position"))?;
        Ok(Position {
            file,
            offset,
            gtid: None,
            timestamp: 0,
            sequence: 0,
        })
    }
}
