//! SQLite implementation of [`Store`](super::Store): one file, WAL,
//! migrations embedded. The statements are shared with PostgreSQL
//! (`super::sql`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::sql::{ms, opt_snow, platform, snow, sql_store, time, unsnow};
use super::{
    Delivery, DeliveryStatus, Identity, NewSubscription, StoreError, StoredStream, StoredWebhook,
    Subscription,
};
use crate::live::{LiveStream, Platform};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    sealer: super::seal::Sealer,
}

impl SqliteStore {
    /// `sqlite://path` (created if missing) or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Open(e.to_string()))?
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
            .map_err(|e| StoreError::Open(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        // Prove the file is writable now, not at the first announcement: a
        // read-only or locked database stops the start with a clear error.
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&pool)
            .await?;
        sqlx::query(&format!("PRAGMA user_version = {version}"))
            .execute(&pool)
            .await
            .map_err(|e| StoreError::Open(format!("the database is not writable: {e}")))?;
        Ok(SqliteStore {
            pool,
            sealer: super::seal::Sealer::ephemeral(),
        })
    }
}

sql_store!(SqliteStore, SqliteRow, {
    /// One process per SQLite file: nobody to share with.
    async fn publish_state(&self, _source: &str, _state: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn published_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(Vec::new())
    }
});
