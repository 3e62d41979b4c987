//! The binlog streams this agent opened, so that its own streams are never taken for another
//! replica using the same server id, and so that a stream being closed really leaves the source.
//!
//! A source notices a replica that went away only when writing to it fails: a closed stream stays
//! in `SHOW SLAVE HOSTS` until the next event or heartbeat, and a stream whose task ended without
//! closing it can stay longer. Each stream is recorded here by source address, server id, owner
//! (the project) and the connection id the server gave it, from before it is requested until its
//! dump thread is gone.
//!
//! Invariants: an entry names only a connection this process opened as a binlog stream of that
//! owner; killing it can never hit another client (MySQL and MariaDB do not reuse connection ids
//! while running) nor another project that (wrongly) uses the same server id.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use mysql_async::prelude::Queryable;

type Key = (String, u32, String);

static OWN: LazyLock<Mutex<HashMap<Key, Vec<u32>>>> = LazyLock::new(Mutex::default);

fn with_registry<T>(f: impl FnOnce(&mut HashMap<Key, Vec<u32>>) -> T) -> T {
    // Single inserts and removes: a panic elsewhere cannot leave the map half-written.
    let mut guard = OWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

/// Records connection `conn_id` to `addr` as `owner`'s binlog stream as replica `server_id`.
pub fn record(addr: &str, server_id: u32, owner: &str, conn_id: u32) {
    with_registry(|m| {
        m.entry((addr.to_string(), server_id, owner.to_string()))
            .or_default()
            .push(conn_id)
    });
}

/// The connection ids of `owner`'s streams to `addr` as replica `server_id`.
pub fn of(addr: &str, server_id: u32, owner: &str) -> Vec<u32> {
    with_registry(|m| {
        m.get(&(addr.to_string(), server_id, owner.to_string()))
            .cloned()
            .unwrap_or_default()
    })
}

fn forget(addr: &str, server_id: u32, owner: &str, conn_id: u32) {
    with_registry(|m| {
        let key = (addr.to_string(), server_id, owner.to_string());
        if let Some(ids) = m.get_mut(&key) {
            ids.retain(|&i| i != conn_id);
            if ids.is_empty() {
                m.remove(&key);
            }
        }
    });
}

/// Ends `owner`'s streams to `addr` as replica `server_id` on the server side: each dump
/// thread still listed in the process list is killed (a user may kill its own connections), and
/// an entry is forgotten once its thread is gone. Returns how many were killed. Errors (a server
/// without `KILL`, a lost connection) leave the entries for a later call.
pub async fn end(conn: &mut mysql_async::Conn, addr: &str, server_id: u32, owner: &str) -> usize {
    let mut killed = 0;
    for id in of(addr, server_id, owner) {
        if end_one(conn, addr, server_id, owner, id).await {
            killed += 1;
        }
    }
    killed
}

/// Ends one recorded stream (see [`end`]); returns whether its thread was killed.
pub async fn end_one(
    conn: &mut mysql_async::Conn,
    addr: &str,
    server_id: u32,
    owner: &str,
    id: u32,
) -> bool {
    if id == conn.id() {
        return false;
    }
    let alive: Result<Option<u32>, _> = conn
        .exec_first(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?",
            (id,),
        )
        .await;
    match alive {
        Ok(None) => forget(addr, server_id, owner, id),
        Ok(Some(_)) => match conn.query_drop(format!("KILL CONNECTION {id}")).await {
            Ok(()) => {
                forget(addr, server_id, owner, id);
                return true;
            }
            // The thread ended between the two statements.
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => {
                forget(addr, server_id, owner, id)
            }
            Err(e) => {
                tracing::debug!(%addr, server_id, conn_id = id, error = %e, "cannot end an old binlog stream")
            }
        },
        Err(e) => {
            tracing::debug!(%addr, server_id, conn_id = id, error = %e, "cannot list the source's threads")
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_kept_per_source_and_server_id() {
        record("h:1", 7, "p", 100);
        record("h:1", 7, "p", 101);
        record("h:2", 7, "p", 102);
        record("h:1", 7, "twin", 103);
        assert_eq!(of("h:1", 7, "p"), [100, 101]);
        assert_eq!(of("h:2", 7, "p"), [102]);
        assert_eq!(of("h:1", 7, "twin"), [103]);
        assert!(of("h:1", 8, "p").is_empty());
        forget("h:1", 7, "p", 100);
        forget("h:1", 7, "p", 101);
        assert!(of("h:1", 7, "p").is_empty());
        assert_eq!(of("h:2", 7, "p"), [102]);
        assert_eq!(of("h:1", 7, "twin"), [103]);
    }
}
