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
    /// A change was seen and not reported yet: report it once quiet until then. Kept here so
    /// `changed` is cancel-safe even when cancelled more often than [`DEBOUNCE`].
    quiet_until: Option<tokio::time::Instant>,
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
            quiet_until: None,
        })
    }

    /// Resolves after a change once the directory has been quiet for [`DEBOUNCE`]. Cancel-safe:
    /// a change seen by a cancelled call is reported by a later one, at the same moment.
    pub async fn changed(&mut self) {
        loop {
            match self.quiet_until {
                None => {
                    if self.events.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                    self.quiet_until = Some(tokio::time::Instant::now() + DEBOUNCE);
                }
                Some(until) => {
                    tokio::select! {
                        ev = self.events.recv() => match ev {
                            Some(()) => self.quiet_until = Some(tokio::time::Instant::now() + DEBOUNCE),
                            None => {
                                self.quiet_until = None;
                                return;
                            }
                        },
                        _ = tokio::time::sleep_until(until) => {
                            self.quiet_until = None;
                            return;
                        }
                    }
                }
            }
        }
    }
}
