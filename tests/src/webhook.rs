//! A local HTTP receiver for alert webhooks: accepts POSTs on 127.0.0.1, answers 200 and hands
//! each JSON body to the test in arrival order.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A running receiver.
pub struct Receiver {
    /// The URL to configure as the webhook.
    pub url: String,
    bodies: mpsc::UnboundedReceiver<serde_json::Value>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts listening on a free port.
    pub async fn start() -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!(
            "http://{}/hook?access_token=secret-token",
            listener.local_addr()?
        );
        let (tx, bodies) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, tx).await;
                });
            }
        });
        Ok(Receiver { url, bodies, task })
    }

    /// Waits for the next body, for at most `timeout`.
    pub async fn next(
        &mut self,
        timeout: std::time::Duration,
    ) -> anyhow::Result<serde_json::Value> {
        tokio::time::timeout(timeout, self.bodies.recv())
            .await
            .map_err(|_| anyhow::anyhow!("no webhook call within {timeout:?}"))?
            .ok_or_else(|| anyhow::anyhow!("receiver stopped"))
    }
}

/// Serves the requests of one connection (keep-alive aware).
async fn serve(
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<serde_json::Value>,
) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let value = serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("webhook body is not JSON: {e}"))?;
        let _ = tx.send(value);
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}
