//! Source errors, classified: [`SourceError::policy`] tells the supervisor whether to reconnect
//! from the checkpoint or to stop the project.

use crate::policy::ErrorPolicy;
use crate::schema::SchemaError;
use crate::source::decode::DecodeError;

/// Why reading the binlog failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {addr} as {user:?}: {message}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The user.
        user: String,
        /// The cause.
        message: String,
    },
    /// The stream broke: network error, server shutdown or no heartbeat in time.
    #[error("binlog stream from {addr} interrupted: {message}")]
    Disconnected {
        /// `host:port`.
        addr: String,
        /// The cause.
        message: String,
    },
    /// The server refused the dump request or reported an error (e.g. a purged position).
    #[error("server {addr} refused the binlog stream: {message}")]
    Server {
        /// `host:port`.
        addr: String,
        /// The server's words.
        message: String,
    },
    /// The binlog is not usable as configured (binlog off, wrong format, ...).
    #[error("server {addr}: {message}")]
    Setup {
        /// `host:port`.
        addr: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An event could not be parsed.
    #[error("bad binlog event at {position}: {message}")]
    Protocol {
        /// `file:offset` of the event.
        position: String,
        /// What was wrong.
        message: String,
    },
    /// A change of a carried table was written in a shape obsync cannot carry faithfully (a
    /// partial row image, DML logged as a statement): delivering it would send wrong rows.
    #[error("cannot carry a change of `{database}`.`{table}` at {position}: {message}")]
    NotCarriable {
        /// The database.
        database: String,
        /// The table.
        table: String,
        /// `file:offset` of the event.
        position: String,
        /// What was written and the setting to change.
        message: String,
    },
    /// A table's schema could not be determined.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A row image could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl SourceError {
    /// Reconnecting may cure a failed connection or a broken stream; anything the server said
    /// or wrote stays the same on the next read.
    pub fn policy(&self) -> ErrorPolicy {
        match self {
            SourceError::Connect { .. } | SourceError::Disconnected { .. } => ErrorPolicy::Retry,
            _ => ErrorPolicy::Stop,
        }
    }
}
