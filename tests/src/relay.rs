//! A TCP relay to a real service, started late: lets a test start the agent while "the
//! database" or "the name server" at the relay's port is down, then bring it up — the real
//! MariaDB or name server behind it, bytes passed through unchanged.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running relay; stops accepting (and drops its connections) when dropped.
pub struct Relay {
    task: JoinHandle<()>,
}

/// A port nothing listens on now (bound once by the OS, then released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Relay {
    /// Listens on `127.0.0.1:port` and passes each connection through to `target`.
    pub async fn start(port: u16, target: String) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let task = tokio::spawn(async move {
            let mut links = Vec::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                links.push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Ok(Relay { task })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
