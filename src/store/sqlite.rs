//! SQLite: one file, WAL, migrations embedded (`migrations/sqlite`). The
//! statements are shared with PostgreSQL (`sql.rs` and the table modules).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

use super::error::StoreError;
use super::snapshot::{SnapshotTable, StateNotices};
use super::sql::SqlStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The store on SQLite.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// `sqlite://path` (created if missing) or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a crash of the bot loses nothing committed;
            // only an OS crash or power cut may lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // An in-memory database lives per connection: keep exactly one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(if max == 1 { 1 } else { 0 })
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        MIGRATOR.run(&pool).await?;
        // Prove the file is writable now, not at the first announcement: a
        // read-only or locked database stops the start with a clear error.
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&pool)
            .await?;
        sqlx::query(&format!("PRAGMA user_version = {version}"))
            .execute(&pool)
            .await
            .map_err(|e| StoreError::Open(format!("the database is not writable: {e}")))?;
        Ok(SqlStore::new(pool))
    }
}

/// One process per SQLite file: nobody to share with.
#[async_trait::async_trait]
impl SnapshotTable for SqlStore<Sqlite> {
    async fn publish_state(&self, _source: &str, _state: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn published_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(Vec::new())
    }

    async fn state_notices(&self) -> Result<StateNotices, StoreError> {
        Ok(Box::pin(futures::stream::pending()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
