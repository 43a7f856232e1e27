//! What the leader shares with the other processes on its database: each
//! source's last state, and a notice when it changes. Only PostgreSQL
//! shares (a row and a `NOTIFY`); SQLite serves one process.

use futures::stream::BoxStream;

use super::error::StoreError;

/// The PostgreSQL channel the leader notifies when it shared a new state.
pub const SNAPSHOT_CHANNEL: &str = "onair_snapshot";

/// Notices that the shared state changed: `Ok(())` for each notice, and
/// also after a lost connection was re-established (notices may have been
/// missed: read again); an error when listening failed (listen again).
pub type StateNotices = BoxStream<'static, Result<(), StoreError>>;

/// The snapshot table, and the database's health.
#[async_trait::async_trait]
pub trait SnapshotTable: Send + Sync {
    /// The leader shares what one source last told it (`state`: JSON) with
    /// the other processes on this database (PostgreSQL: a row and a
    /// `NOTIFY` on [`SNAPSHOT_CHANNEL`]; SQLite, one process: nothing).
    async fn publish_state(&self, source: &str, state: &str) -> Result<(), StoreError>;
    /// Every source's shared state, `(source, JSON)`.
    async fn published_states(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Start listening for [`publish_state`](Self::publish_state)'s notices
    /// (SQLite: none ever come).
    async fn state_notices(&self) -> Result<StateNotices, StoreError>;
    /// A round trip to the database (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
