//! The durable state a binlog stream keeps beside its position: the schema history (table
//! versions for binlogs without column names) and the prepared XA branches waiting for their
//! outcome. The checkpoint store hands it out per project; the source alone reads and writes it.
//!
//! Invariant: both parts are keyed by binlog position, so a stream resumed at a checkpoint sees
//! exactly the state as of that checkpoint (later entries are dropped when it opens).

/// One project's source state.
pub struct SourceState {
    pub(super) schemas: sled::Tree,
    pub(super) xa_branches: sled::Tree,
}

impl SourceState {
    /// The state kept in these two stores.
    pub fn new(schemas: sled::Tree, xa_branches: sled::Tree) -> SourceState {
        SourceState {
            schemas,
            xa_branches,
        }
    }

    /// A state that lives as long as the process (tools and tests).
    pub fn temporary() -> Result<SourceState, sled::Error> {
        let db = sled::Config::new().temporary(true).open()?;
        Ok(SourceState::new(
            db.open_tree("schemas")?,
            db.open_tree("xa")?,
        ))
    }
}
