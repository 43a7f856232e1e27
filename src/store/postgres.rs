//! PostgreSQL implementation of [`Store`](super::Store), selected by
//! `DATABASE_URL=postgres://…`: the statements are shared with SQLite
//! (`super::sql`), the schema has its own migrations
//! (`migrations/postgres`). Several onair processes may share one database;
//! sqlx takes an advisory lock while migrating, so replicas starting
//! together migrate once.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Row};

use super::sql::{ms, opt_snow, platform, snow, sql_store, time, unsnow};
use super::{
    Delivery, DeliveryStatus, Identity, NewSubscription, StoreError, StoredStream, StoredWebhook,
    Subscription,
};
use crate::live::{LiveStream, Platform};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pool: PgPool,
    sealer: super::seal::Sealer,
}

impl PgStore {
    /// Connect to `postgres://…`, run the migrations and prove the server
    /// takes writes (a hot standby does not).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Open(e.to_string()))?
            .application_name("onair");
        // One plain connection first: a refused connection or a wrong
        // password fails now, not after the pool's acquire timeout.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&pool)
            .await?;
        if standby {
            return Err(StoreError::Open(
                "the PostgreSQL server is a read-only standby: point DATABASE_URL at the primary"
                    .into(),
            ));
        }
        Ok(PgStore {
            pool,
            sealer: super::seal::Sealer::ephemeral(),
        })
    }

    /// The pool, for the parts of onair that need PostgreSQL itself.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

sql_store!(PgStore, PgRow, {
    async fn publish_state(&self, source: &str, state: &str) -> Result<(), StoreError> {
        // The row and the notice in one transaction: a listener that hears
        // the notice reads the row it announced.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO snapshot (source, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (source) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(source)
        .bind(state)
        .bind(ms(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(super::SNAPSHOT_CHANNEL)
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
});
