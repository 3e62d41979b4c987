//! Whether a project's source database and name servers accept connections at all: what tells
//! "not up yet, try again" (a sidecar started before its database or broker) from "wrong
//! configuration" when a project cannot start.
//!
//! Invariants: TCP connects only, each bounded by the source's connect timeout; no credentials
//! are sent, so a reason never holds a secret.

use std::time::Duration;

use tokio::net::TcpStream;

use crate::config::ProjectConfig;

/// Why the project's source or name servers cannot be reached now, or `None` when the source
/// and at least one name server accept TCP connections.
pub async fn unreachable(config: &ProjectConfig) -> Option<String> {
    let timeout = Duration::from_millis(config.source.connect_timeout_ms.max(100));
    let source = format!("{}:{}", config.source.host, config.source.port);
    if let Err(e) = connect(&source, timeout).await {
        return Some(format!("the source database {source} is unreachable: {e}"));
    }
    let servers: Vec<&str> = config
        .target
        .name_server
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut last = String::new();
    for server in &servers {
        match connect(server, timeout).await {
            Ok(()) => return None,
            Err(e) => last = e,
        }
    }
    Some(format!(
        "every name server of target.name_server {:?} is unreachable: {last}",
        config.target.name_server
    ))
}

async fn connect(addr: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer in {timeout:?}")),
    }
}
