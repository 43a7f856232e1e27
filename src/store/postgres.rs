//! PostgreSQL, selected by `DATABASE_URL=postgres://…`: the statements are
//! shared with SQLite (`sql.rs` and the table modules), the schema has its
//! own migrations (`migrations/postgres`). Several onair processes may share
//! one database; sqlx takes an advisory lock while migrating, so replicas
//! starting together migrate once.

use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Row};

use super::error::StoreError;
use super::snapshot::{SnapshotTable, StateNotices, SNAPSHOT_CHANNEL};
use super::sql::{ms, SqlStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store on PostgreSQL.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connect to `postgres://…`, run the migrations and prove the server
    /// takes writes (a hot standby does not).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .application_name("onair");
        // One plain connection first: a refused connection or a wrong
        // password fails now, not after the pool's acquire timeout.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(StoreError::Connect)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        MIGRATOR.run(&pool).await?;
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&pool)
            .await?;
        if standby {
            return Err(StoreError::Open(
                "the PostgreSQL server is a read-only standby: point DATABASE_URL at the primary"
                    .into(),
            ));
        }
        Ok(SqlStore::new(pool))
    }
}

#[async_trait::async_trait]
impl SnapshotTable for SqlStore<Postgres> {
    async fn publish_state(&self, source: &str, state: &str) -> Result<(), StoreError> {
        // The row and the notice in one transaction: a listener that hears
        // the notice reads the row it announced.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO snapshot (source, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (source) DO UPDATE SET state = excluded.state,
               updated_at = excluded.updated_at",
        )
        .bind(source)
        .bind(state)
        .bind(ms(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(SNAPSHOT_CHANNEL)
            .bind(source)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn published_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT source, state FROM snapshot ORDER BY source")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("source")?, r.try_get("state")?)))
            .collect()
    }

    async fn state_notices(&self) -> Result<StateNotices, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(SNAPSHOT_CHANNEL).await?;
        // `try_recv` answers `None` after a lost connection (re-established
        // by the next call): a notice may have been missed, so it counts.
        Ok(Box::pin(futures::stream::unfold(
            listener,
            |mut listener| async move {
                let next = listener
                    .try_recv()
                    .await
                    .map(|_| ())
                    .map_err(StoreError::from);
                Some((next, listener))
            },
        )))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
