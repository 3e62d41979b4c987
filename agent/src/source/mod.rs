//! The binlog source: connects to the server as a replica, reads events, and turns them into row
//! chunks and commit points.
//!
//! Invariants: rows are produced in binlog order; every [`SourceEvent::Commit`] carries a position
//! at a transaction boundary, so resuming from it never starts mid-transaction; a silent link is
//! detected by a read deadline of three heartbeats; a server shutdown (end of stream), a network
//! error and a timeout are all reported as [`SourceError::Disconnected`], which is retryable.

mod change;
mod connect;
pub mod decode;
mod error;
mod event_decoder;
mod events;
pub mod json_diff;
mod mariadb_compression;
pub mod own_streams;
mod payload;
mod payload_copies;
mod position;
mod reader;
mod savepoints;
mod seek;
pub mod start_at;
mod state;
mod xa;

pub use change::{RowsChunk, SourceEvent};
pub use connect::{Flavor, SourceOptions};
pub use error::SourceError;
pub use event_decoder::EventDecoder;
pub use events::parsed_data;
pub use position::Position;
pub use reader::BinlogReader;
pub use seek::{binlog_files, position_at};
pub use state::SourceState;
