//! Deliveries, the outbox's records: one row per (broadcast, channel) or
//! (calendar item, channel, slot), from
//! queued to sent, edited at the end, its thread, or failed with a reason.
//! The rules that move a delivery live in `src/outbox/transition.rs`; this
//! is where they are written down.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::error::StoreError;
use super::sql::{ms, opt_snow, snow, time, unsnow, SqlEngine, SqlStore};
use super::streams::{StoredStream, StreamTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "sent" => Ok(DeliveryStatus::Sent),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(StoreError::Corrupt(format!("delivery status `{other}`"))),
        }
    }
}

/// The kind of a live announcement's delivery.
pub const KIND_LIVE: &str = "live";

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    /// What kind of card it carries ([`KIND_LIVE`] so far): the outbox asks the
    /// renderer registered for this kind.
    pub kind: String,
    /// The broadcast a live card announces.
    pub stream_row: Option<i64>,
    /// The calendar item a calendar card carries, and which of its posts
    /// this is (a show's 60- or 15-minute reminder: `"60"`, `"15"`).
    pub item_row: Option<i64>,
    pub slot: String,
    pub subscription_id: i64,
    pub guild_id: u64,
    pub channel_id: u64,
    pub status: DeliveryStatus,
    pub message_id: Option<u64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub end_edited_at: Option<DateTime<Utc>>,
    /// When the first POST of this delivery left (it may have reached
    /// Discord even without an answer).
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// The webhook its last POST went through (None: the bot).
    pub webhook_id: Option<u64>,
    /// The discussion thread started on it.
    pub thread_id: Option<u64>,
    pub thread_archived_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// A pending live delivery for tests: id 1 of subscription 1 in guild 1,
    /// to `channel_id`, created at `created_at`.
    #[cfg(test)]
    pub(crate) fn sample(channel_id: u64, created_at: DateTime<Utc>) -> Delivery {
        Delivery {
            id: 1,
            kind: KIND_LIVE.into(),
            stream_row: Some(1),
            item_row: None,
            slot: String::new(),
            subscription_id: 1,
            guild_id: 1,
            channel_id,
            status: DeliveryStatus::Pending,
            message_id: None,
            attempts: 0,
            last_error: None,
            created_at,
            sent_at: None,
            end_edited_at: None,
            first_attempt_at: None,
            webhook_id: None,
            thread_id: None,
            thread_archived_at: None,
        }
    }
}

/// The deliveries table.
#[async_trait::async_trait]
pub trait DeliveryTable: Send + Sync {
    /// Idempotent: one live-announcement delivery per (stream, channel);
    /// returns all of that stream's deliveries to those channels.
    async fn create_deliveries(
        &self,
        stream_row: i64,
        targets: &[(i64, u64, u64)],
    ) -> Result<Vec<Delivery>, StoreError>;
    async fn pending_deliveries(&self) -> Result<Vec<Delivery>, StoreError>;
    async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError>;
    async fn mark_sent(
        &self,
        id: i64,
        message_id: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn mark_failed(&self, id: i64, reason: &str) -> Result<(), StoreError>;
    async fn note_attempt(&self, id: i64, error: Option<&str>) -> Result<(), StoreError>;
    async fn deliveries_for_stream(&self, stream_row: i64) -> Result<Vec<Delivery>, StoreError>;
    async fn deliveries_needing_end_edit(
        &self,
    ) -> Result<Vec<(Delivery, StoredStream)>, StoreError>;
    async fn mark_end_edited(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// The broadcast came back: its end edit is undone (the message is
    /// edited back to live) and a later end edits it again.
    async fn clear_end_edited(&self, id: i64) -> Result<(), StoreError>;
    /// Record that a POST of this delivery is about to leave, through
    /// `webhook` (None: as the bot); the first attempt's time is kept.
    async fn mark_attempting(
        &self,
        id: i64,
        at: DateTime<Utc>,
        webhook: Option<u64>,
    ) -> Result<(), StoreError>;
    /// The thread started on a delivery's message.
    async fn set_thread(&self, id: i64, thread_id: u64) -> Result<(), StoreError>;
    async fn mark_thread_archived(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Sent deliveries whose thread is still to start (live, subscription
    /// wants one) or to archive (ended).
    async fn deliveries_needing_thread_work(&self) -> Result<Vec<Delivery>, StoreError>;
    /// Delete the broadcasts that ended before `before` with their
    /// deliveries, and the dropped deliveries created before it (data
    /// retention); returns (broadcasts, deliveries) deleted.
    async fn prune(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError>;
}

const DELIVERY_COLS: &str =
    "id, kind, stream_row, item_row, slot, subscription_id, guild_id, channel_id, status, \
                             message_id, attempts, last_error, created_at, sent_at, end_edited_at, \
                             first_attempt_at, webhook_id, thread_id, thread_archived_at";

pub(super) fn delivery<R: Row>(r: &R) -> Result<Delivery, StoreError>
where
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: ColumnIndex<R>,
{
    Ok(Delivery {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        stream_row: r.try_get("stream_row")?,
        item_row: r.try_get("item_row")?,
        slot: r.try_get("slot")?,
        subscription_id: r.try_get("subscription_id")?,
        guild_id: unsnow(r.try_get("guild_id")?)?,
        channel_id: unsnow(r.try_get("channel_id")?)?,
        status: DeliveryStatus::parse(&r.try_get::<String, _>("status")?)?,
        message_id: r
            .try_get::<Option<i64>, _>("message_id")?
            .map(unsnow)
            .transpose()?,
        attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
        last_error: r.try_get("last_error")?,
        created_at: time(r.try_get("created_at")?).unwrap_or_default(),
        sent_at: time(r.try_get("sent_at")?),
        end_edited_at: time(r.try_get("end_edited_at")?),
        first_attempt_at: time(r.try_get("first_attempt_at")?),
        webhook_id: opt_snow(r.try_get("webhook_id")?)?,
        thread_id: opt_snow(r.try_get("thread_id")?)?,
        thread_archived_at: time(r.try_get("thread_archived_at")?),
    })
}

/// The deliveries matching `clause`, oldest first.
pub(super) fn deliveries_where(clause: &str) -> String {
    format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE {clause} ORDER BY id")
}

#[async_trait::async_trait]
impl<DB> DeliveryTable for SqlStore<DB>
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
    #[tracing::instrument(skip_all, fields(stream_row, targets = targets.len()))]
    async fn create_deliveries(
        &self,
        stream_row: i64,
        targets: &[(i64, u64, u64)],
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = ms(Utc::now());
        for (sub, guild, channel) in targets {
            sqlx::query(
                "INSERT INTO deliveries (kind, stream_row, subscription_id, guild_id, channel_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_row, channel_id) DO NOTHING",
            )
            .bind(KIND_LIVE)
            .bind(stream_row)
            .bind(*sub)
            .bind(snow(*guild)?)
            .bind(snow(*channel)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let channels: std::collections::HashSet<u64> = targets.iter().map(|t| t.2).collect();
        Ok(self
            .deliveries_for_stream(stream_row)
            .await?
            .into_iter()
            .filter(|d| channels.contains(&d.channel_id))
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn pending_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.select(&deliveries_where("status = 'pending'"), None, delivery)
            .await
    }

    async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .select(&deliveries_where("id = $1"), Some(id), delivery)
            .await?
            .into_iter()
            .next())
    }

    #[tracing::instrument(skip_all, fields(delivery = id, message = message_id))]
    async fn mark_sent(
        &self,
        id: i64,
        message_id: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', message_id = $1, sent_at = $2,
               attempts = attempts + 1, last_error = NULL WHERE id = $3",
        )
        .bind(snow(message_id)?)
        .bind(ms(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn mark_failed(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE deliveries SET status = 'failed', last_error = $1 WHERE id = $2",
            reason.to_string(),
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn note_attempt(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
            error.map(str::to_string),
            id,
        )
        .await
    }

    async fn deliveries_for_stream(&self, stream_row: i64) -> Result<Vec<Delivery>, StoreError> {
        self.select(
            &deliveries_where("stream_row = $1"),
            Some(stream_row),
            delivery,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn deliveries_needing_end_edit(
        &self,
    ) -> Result<Vec<(Delivery, StoredStream)>, StoreError> {
        let ds = self
            .select(
                &deliveries_where(
                    "status = 'sent' AND end_edited_at IS NULL
                     AND stream_row IN (SELECT id FROM streams WHERE ended_at IS NOT NULL)",
                ),
                None,
                delivery,
            )
            .await?;
        let mut out = Vec::with_capacity(ds.len());
        for d in ds {
            let Some(row) = d.stream_row else { continue };
            if let Some(s) = self.get_stream(row).await? {
                out.push((d, s));
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn mark_end_edited(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE deliveries SET end_edited_at = $1 WHERE id = $2",
            ms(at),
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn clear_end_edited(&self, id: i64) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE deliveries SET end_edited_at = $1 WHERE id = $2",
            None::<i64>,
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn mark_attempting(
        &self,
        id: i64,
        at: DateTime<Utc>,
        webhook: Option<u64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET first_attempt_at = COALESCE(first_attempt_at, $1),
               webhook_id = $2 WHERE id = $3",
        )
        .bind(ms(at))
        .bind(webhook.map(snow).transpose()?)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn set_thread(&self, id: i64, thread_id: u64) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE deliveries SET thread_id = $1 WHERE id = $2",
            snow(thread_id)?,
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(delivery = id))]
    async fn mark_thread_archived(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE deliveries SET thread_archived_at = $1 WHERE id = $2",
            ms(at),
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn deliveries_needing_thread_work(&self) -> Result<Vec<Delivery>, StoreError> {
        self.select(
            &deliveries_where(
                "status = 'sent' AND ((thread_id IS NULL AND end_edited_at IS NULL
                   AND subscription_id IN (SELECT id FROM subscriptions WHERE thread <> 0))
                 OR (thread_id IS NOT NULL AND thread_archived_at IS NULL AND end_edited_at IS NOT NULL))",
            ),
            None,
            delivery,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn prune(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let cutoff = ms(before);
        let mut tx = self.pool.begin().await?;
        let finished = sqlx::query(
            "DELETE FROM deliveries WHERE (status = 'failed' AND created_at < $1)
             OR stream_row IN (SELECT id FROM streams WHERE ended_at IS NOT NULL AND ended_at < $2)",
        )
        .bind(cutoff)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let streams =
            sqlx::query("DELETE FROM streams WHERE ended_at IS NOT NULL AND ended_at < $1")
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok((DB::rows_affected(&streams), DB::rows_affected(&finished)))
    }
}
