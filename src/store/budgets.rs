//! Provider budgets: the calls spent per provider and billing period,
//! shared by every process on the database.

use chrono::Utc;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::error::StoreError;
use super::sql::{ms, SqlEngine, SqlStore};

/// The provider_calls table.
#[async_trait::async_trait]
pub trait BudgetTable: Send + Sync {
    /// Calls recorded for `provider` in billing period `period` (0 if none).
    async fn calls_spent(&self, provider: &str, period: &str) -> Result<u64, StoreError>;
    /// Spend `cost` calls of `provider`'s period `period` if that keeps the
    /// count within `limit`: atomically, so processes sharing the database
    /// (the bot, `onair live`, `onair check`) never together pass it.
    /// `Some(total after)` when granted, `None` when refused.
    async fn spend_calls(
        &self,
        provider: &str,
        period: &str,
        cost: u64,
        limit: u64,
    ) -> Result<Option<u64>, StoreError>;
}

#[async_trait::async_trait]
impl<DB> BudgetTable for SqlStore<DB>
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
    async fn calls_spent(&self, provider: &str, period: &str) -> Result<u64, StoreError> {
        let calls: Option<i64> = sqlx::query_scalar(
            "SELECT calls FROM provider_calls WHERE provider = $1 AND period = $2",
        )
        .bind(provider)
        .bind(period)
        .fetch_optional(&self.pool)
        .await?;
        Ok(calls.unwrap_or(0).max(0) as u64)
    }

    async fn spend_calls(
        &self,
        provider: &str,
        period: &str,
        cost: u64,
        limit: u64,
    ) -> Result<Option<u64>, StoreError> {
        let now = ms(Utc::now());
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO provider_calls (provider, period, calls, updated_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (provider, period) DO NOTHING",
        )
        .bind(provider)
        .bind(period)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let total: Option<i64> = sqlx::query_scalar(
            "UPDATE provider_calls SET calls = calls + $1, updated_at = $2
             WHERE provider = $3 AND period = $4 AND calls + $5 <= $6
             RETURNING calls",
        )
        .bind(as_i64(cost))
        .bind(now)
        .bind(provider)
        .bind(period)
        .bind(as_i64(cost))
        .bind(as_i64(limit))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(total.map(|t| t.max(0) as u64))
    }
}
