//! What both engines share: [`SqlStore`], one store over a sqlx pool of
//! either engine. SQLite and PostgreSQL run the same statements (`$N`
//! placeholders, `RETURNING`, `ON CONFLICT`), so each table group's queries
//! are written once, as generic code over [`SqlEngine`], in the module of that
//! group (`subscriptions.rs`, `streams.rs`, `deliveries.rs`, `webhooks.rs`,
//! `budgets.rs`); only the shared snapshot differs (`postgres.rs`,
//! `sqlite.rs`). Times are unix milliseconds and snowflakes signed 64-bit
//! integers.
//!
//! Generic sqlx code states what it needs of the engine in a `where` clause
//! (the compiler does not carry such bounds from a trait to its users), so
//! every generic `impl` here repeats the same one; [`SqlEngine`] documents it.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::error::StoreError;
use super::seal::Sealer;
use crate::live::Platform;

/// A database engine onair runs on (SQLite or PostgreSQL). Generic code
/// over it also asks, in its `where` clause:
///
/// ```text
/// for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,  // run queries
/// for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,             // bind values
/// for<'r> i64: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,      // numbers
/// for<'r> String: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,   // text
/// for<'r> &'r str: Encode<'r, DB> + Type<DB> + ColumnIndex<DB::Row>,
/// for<'r> Option<i64>: Encode<'r, DB>,                        // NULLs
/// for<'r> Option<String>: Encode<'r, DB>,
/// for<'r> Option<&'r str>: Encode<'r, DB>,
/// usize: ColumnIndex<DB::Row>,                                  // scalars
/// ```
pub trait SqlEngine: sqlx::Database {
    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl SqlEngine for sqlx::Sqlite {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqlEngine for sqlx::Postgres {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// The store on one engine's pool; webhook tokens are sealed with `sealer`.
pub struct SqlStore<DB: SqlEngine> {
    pub(super) pool: Pool<DB>,
    pub(super) sealer: Sealer,
}

impl<DB> SqlStore<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> String: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> &'r str: Encode<'r, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'r> Option<i64>: Encode<'r, DB>,
    for<'r> Option<String>: Encode<'r, DB>,
    for<'r> Option<&'r str>: Encode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    pub(super) fn new(pool: Pool<DB>) -> Self {
        SqlStore {
            pool,
            sealer: Sealer::ephemeral(),
        }
    }

    /// Seal webhook tokens from now on with `sealer`, and seal any token an
    /// older version stored in the clear.
    pub async fn seal_with(mut self, sealer: Sealer) -> Result<Self, StoreError> {
        self.sealer = sealer;
        let rows = sqlx::query("SELECT id, token FROM webhooks")
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            let token: String = r.try_get("token")?;
            if !Sealer::is_sealed(&token) {
                sqlx::query("UPDATE webhooks SET token = $1 WHERE id = $2")
                    .bind(self.sealer.seal(&token))
                    .bind(r.try_get::<i64, _>("id")?)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(self)
    }

    /// Rows of `sql` (with at most one bound id), each read by `row`
    /// ([`readable`]).
    pub(super) async fn select<T>(
        &self,
        sql: &str,
        bind: Option<i64>,
        row: fn(&DB::Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut q = sqlx::query(sql);
        if let Some(b) = bind {
            q = q.bind(b);
        }
        Ok(readable(&q.fetch_all(&self.pool).await?, row))
    }

    /// One `UPDATE … SET … $1 … WHERE id = $2`.
    pub(super) async fn set_by_id<V>(
        &self,
        sql: &'static str,
        value: V,
        id: i64,
    ) -> Result<(), StoreError>
    where
        V: for<'q> Encode<'q, DB> + Type<DB> + Send + 'static,
    {
        sqlx::query(sql)
            .bind(value)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// `rows`, each read by `row`. A row that cannot be read (a value no
/// version wrote, a hand-edited database) is skipped and logged: one bad row
/// never stops every announcement.
pub(super) fn readable<R: Row, T>(rows: &[R], row: fn(&R) -> Result<T, StoreError>) -> Vec<T>
where
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: ColumnIndex<R>,
{
    rows.iter()
        .filter_map(|r| match row(r) {
            Ok(v) => Some(v),
            Err(e) => {
                let id: Option<i64> = r.try_get("id").ok().flatten();
                tracing::error!(row = ?id, error = %e, "skipping an unreadable row");
                None
            }
        })
        .collect()
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn time(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(DateTime::from_timestamp_millis)
}

pub(super) fn snow(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("id {v} out of range")))
}

pub(super) fn unsnow(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative id {v}")))
}

pub(super) fn opt_snow(v: Option<i64>) -> Result<Option<u64>, StoreError> {
    v.map(unsnow).transpose()
}

pub(super) fn platform(s: Option<String>) -> Result<Option<Platform>, StoreError> {
    s.map(|p| Platform::from_str(&p).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}
