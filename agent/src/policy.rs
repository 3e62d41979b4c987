//! What happens after an error, decided once by the stage that knows its cause and read by the
//! supervisor, which acts on it without looking at the error's text.
//!
//! Invariant: no policy ever moves a checkpoint; `Retry` and `Stop` both keep the position of the
//! last acknowledged commit, so whatever follows (a retry, a fix and a restart) resumes there.

/// The consequence of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPolicy {
    /// Transient (a lost connection, a broker that refuses writes for now): the project restarts
    /// from its checkpoint after a growing wait.
    Retry,
    /// The project cannot go on as it is configured or as its data is (a malformed message, a
    /// module trap, a table it cannot carry): it stops and keeps its position until its file
    /// changes or the agent restarts. Other projects go on.
    Stop,
}

// Fatal for the agent is a type, not a policy value: what the agent as a whole cannot survive
// (its data directory, checkpoint store, engine, client or listener) is a `supervisor::RunError`,
// which `run` returns and the binary exits on; no project error ever ends the agent.
