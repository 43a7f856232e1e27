//! The channel webhooks onair made to post as a member; their tokens are
//! credentials, sealed at rest (`seal.rs`).

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::error::StoreError;
use super::sql::{ms, snow, unsnow, SqlEngine, SqlStore};
use crate::secret::Secret;

/// A channel webhook onair made (its token is a credential).
#[derive(Debug, Clone)]
pub struct StoredWebhook {
    pub id: u64,
    pub channel_id: u64,
    pub token: Secret,
    pub gone: bool,
}

/// The webhooks table.
#[async_trait::async_trait]
pub trait WebhookTable: Send + Sync {
    /// The channel's webhook in use (the newest not gone).
    async fn channel_webhook(&self, channel_id: u64) -> Result<Option<StoredWebhook>, StoreError>;
    /// A webhook by id, gone or not.
    async fn get_webhook(&self, id: u64) -> Result<Option<StoredWebhook>, StoreError>;
    /// How many of onair's webhooks in this channel Discord reported
    /// deleted since `since` (a subscription's start: a subscription has
    /// its webhook recreated once, then posts as the bot).
    async fn webhooks_deleted(
        &self,
        channel_id: u64,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    async fn save_webhook(
        &self,
        id: u64,
        channel_id: u64,
        token: &Secret,
    ) -> Result<(), StoreError>;
    /// Discord says the webhook no longer exists (10015).
    async fn webhook_gone(&self, id: u64) -> Result<(), StoreError>;
}

/// A webhook row, its token as stored (sealed).
pub(super) fn stored_webhook<R: Row>(r: &R) -> Result<StoredWebhook, StoreError>
where
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: ColumnIndex<R>,
{
    Ok(StoredWebhook {
        id: unsnow(r.try_get("id")?)?,
        channel_id: unsnow(r.try_get("channel_id")?)?,
        token: Secret::new(r.try_get::<String, _>("token")?),
        gone: r.try_get::<Option<i64>, _>("gone_at")?.is_some(),
    })
}

impl<DB: SqlEngine> SqlStore<DB> {
    /// A stored webhook with its token opened; `None` when it cannot be
    /// (sealed under another bot token): the announcer adopts the
    /// channel's webhook from Discord again.
    pub(super) fn opened(&self, mut hook: StoredWebhook) -> Option<StoredWebhook> {
        let plain = self.sealer.open(hook.token.expose())?;
        hook.token = Secret::new(plain);
        Some(hook)
    }
}

#[async_trait::async_trait]
impl<DB> WebhookTable for SqlStore<DB>
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
    async fn channel_webhook(&self, channel_id: u64) -> Result<Option<StoredWebhook>, StoreError> {
        Ok(self
            .select(
                "SELECT * FROM webhooks WHERE channel_id = $1 AND gone_at IS NULL
                 ORDER BY created_at DESC, id DESC LIMIT 1",
                Some(snow(channel_id)?),
                stored_webhook,
            )
            .await?
            .into_iter()
            .next()
            .and_then(|h| self.opened(h)))
    }

    async fn get_webhook(&self, id: u64) -> Result<Option<StoredWebhook>, StoreError> {
        Ok(self
            .select(
                "SELECT * FROM webhooks WHERE id = $1",
                Some(snow(id)?),
                stored_webhook,
            )
            .await?
            .into_iter()
            .next()
            .and_then(|h| self.opened(h)))
    }

    async fn webhooks_deleted(
        &self,
        channel_id: u64,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhooks WHERE channel_id = $1 AND gone_at >= $2",
        )
        .bind(snow(channel_id)?)
        .bind(ms(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, fields(webhook = id, channel = channel_id))]
    async fn save_webhook(
        &self,
        id: u64,
        channel_id: u64,
        token: &Secret,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (id, channel_id, token, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET token = excluded.token, gone_at = NULL",
        )
        .bind(snow(id)?)
        .bind(snow(channel_id)?)
        .bind(self.sealer.seal(token.expose()))
        .bind(ms(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(webhook = id))]
    async fn webhook_gone(&self, id: u64) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE webhooks SET gone_at = $1 WHERE id = $2 AND gone_at IS NULL",
            ms(Utc::now()),
            snow(id)?,
        )
        .await
    }
}
