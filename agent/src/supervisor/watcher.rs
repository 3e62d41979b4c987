//! Watching the config directory: any change below it (project files, module files, Kubernetes
//! ConfigMap `..data` symlink swaps, editors' write-then-rename saves) wakes the supervisor once
//! the directory has been quiet for [`DEBOUNCE`].

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long the directory must be quiet before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watcher; dropping it stops watching.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
    events: mpsc::Receiver<()>,
    /// A change was seen but not reported yet (keeps `changed` cancel-safe).
    pending: bool,
}

impl ConfigWatcher {
    /// Starts watching `dir` recursively.
    pub fn start(dir: &Path) -> Result<Self, notify::Error> {
        let (tx, events) = mpsc::channel(1);
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                tracing::debug!(event = ?res, "config directory event");
                if let Ok(ev) = res
                    && !ev.kind.is_access()
                {
                    // A full channel already holds a pending wake-up.
                    let _ = tx.try_send(());
                }
            })?;
        watcher.watch(dir, RecursiveMode::Recursive)?;
        tracing::debug!(dir = %dir.display(), "watching the config directory");
        Ok(ConfigWatcher {
            _watcher: watcher,
            events,
            pending: false,
        })
    }

    /// Resolves after a change once the directory has been quiet for [`DEBOUNCE`]. Cancel-safe:
    /// a change seen by a cancelled call is reported by the next one.
    pub async fn changed(&mut self) {
        if !self.pending {
            if self.events.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
            self.pending = true;
        }
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, self.events.recv()).await {}
        self.pending = false;
    }
}
