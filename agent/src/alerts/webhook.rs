//! Delivers alert notices to webhooks: one task, notices in order, each POSTed as JSON with a
//! timeout and a few retries. A notice that cannot be delivered is logged and dropped (a lasting
//! alert is sent again at its next repeat).

use std::time::Duration;

use tokio::sync::mpsc;

use super::Notice;

/// Attempts per notice.
const ATTEMPTS: u32 = 3;
/// Time allowed for one POST.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The sending task's inbox.
pub struct Sender {
    tx: mpsc::UnboundedSender<(String, Notice)>,
}

impl Sender {
    /// Starts the sending task.
    pub fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(deliver(rx));
        Sender { tx }
    }

    /// Queues a notice for `url`.
    pub fn send(&self, url: String, notice: Notice) {
        let _ = self.tx.send((url, notice));
    }
}

async fn deliver(mut rx: mpsc::UnboundedReceiver<(String, Notice)>) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("obsync/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the webhook client; alerts are only logged");
            return;
        }
    };
    while let Some((url, notice)) = rx.recv().await {
        let body = match serde_json::to_vec(&notice) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an alert");
                continue;
            }
        };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let result = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let problem = match result {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => format!("the webhook answered {}", r.status()),
                // Without the URL: it may carry a token.
                Err(e) => format!("cannot reach the webhook: {}", e.without_url()),
            };
            if attempt == ATTEMPTS {
                tracing::error!(project = %notice.project, alert = ?notice.alert, "alert not delivered after {ATTEMPTS} attempts: {problem}");
            } else {
                tracing::warn!(project = %notice.project, alert = ?notice.alert, attempt, "alert delivery failed, retrying: {problem}");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
