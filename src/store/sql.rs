//! The SQL both stores share. SQLite and PostgreSQL run the same statements
//! (`$N` placeholders, `RETURNING`, `ON CONFLICT`): `sql_store!` stamps the
//! one implementation of [`Store`](super::Store) onto each driver's pool, so
//! a query is written once and the store tests run it on both engines.
//! Times are unix milliseconds and snowflakes signed 64-bit integers.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::live::Platform;

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

/// Implements [`Store`](super::Store) for `$store` (a struct with a
/// `pool: sqlx::Pool<_>` field) whose rows are `$row`; the braces hold the
/// trait's engine-specific methods.
macro_rules! sql_store {
    ($store:ident, $row:ty, { $($engine:tt)* }) => {
        fn subscription(r: &$row) -> Result<Subscription, StoreError> {
            Ok(Subscription {
                id: r.try_get("id")?,
                guild_id: unsnow(r.try_get("guild_id")?)?,
                channel_id: unsnow(r.try_get("channel_id")?)?,
                platform: platform(r.try_get("platform")?)?,
                member: r.try_get("member")?,
                tiktok: r.try_get("tiktok")?,
                realtimekit_id: r.try_get("realtimekit_id")?,
                role_id: r
                    .try_get::<Option<i64>, _>("role_id")?
                    .map(unsnow)
                    .transpose()?,
                template: r.try_get("template")?,
                language: r.try_get("language")?,
                created_by: unsnow(r.try_get("created_by")?)?,
                created_at: time(r.try_get("created_at")?).unwrap_or_default(),
                disabled_reason: r.try_get("disabled_reason")?,
                consecutive_failures: u32::try_from(r.try_get::<i64, _>("consecutive_failures")?)
                    .unwrap_or(0),
                last_delivery_at: time(r.try_get("last_delivery_at")?),
                last_error: r.try_get("last_error")?,
                identity: Identity::parse(&r.try_get::<String, _>("identity")?)?,
                identity_fallback: r.try_get("identity_fallback")?,
                thread: r.try_get::<i64, _>("thread")? != 0,
            })
        }

        fn stored_stream(r: &$row) -> Result<StoredStream, StoreError> {
            let data: String = r.try_get("data")?;
            let stream: LiveStream = serde_json::from_str(&data)
                .map_err(|e| StoreError::Corrupt(format!("stream JSON: {e}")))?;
            Ok(StoredStream {
                id: r.try_get("id")?,
                stream_id: r.try_get("stream_id")?,
                platform: platform(Some(r.try_get("platform")?))?.unwrap_or(stream.platform),
                started_at: time(r.try_get("started_at")?),
                first_seen: time(r.try_get("first_seen")?).unwrap_or_default(),
                ended_at: time(r.try_get("ended_at")?),
                peak_viewers: r
                    .try_get::<Option<i64>, _>("peak_viewers")?
                    .and_then(|v| u64::try_from(v).ok()),
                first_title: r.try_get("first_title")?,
                card: r.try_get("card")?,
                card_at: time(r.try_get("card_at")?),
                stream,
            })
        }

        fn delivery(r: &$row) -> Result<Delivery, StoreError> {
            Ok(Delivery {
                id: r.try_get("id")?,
                stream_row: r.try_get("stream_row")?,
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

        fn stored_webhook(r: &$row) -> Result<StoredWebhook, StoreError> {
            Ok(StoredWebhook {
                id: unsnow(r.try_get("id")?)?,
                channel_id: unsnow(r.try_get("channel_id")?)?,
                token: $crate::secret::Secret::new(r.try_get::<String, _>("token")?),
                gone: r.try_get::<Option<i64>, _>("gone_at")?.is_some(),
            })
        }

        const DELIVERY_COLS: &str = "id, stream_row, subscription_id, guild_id, channel_id, status, message_id, attempts, last_error, created_at, sent_at, end_edited_at, first_attempt_at, webhook_id, thread_id, thread_archived_at";
        const STREAM_COLS: &str = "id, stream_id, platform, started_at, first_seen, ended_at, data, peak_viewers, first_title, card, card_at";

        impl $store {
            /// Seal webhook tokens from now on with `sealer`, and seal any
            /// token an older version stored in the clear.
            pub async fn seal_with(mut self, sealer: $crate::store::seal::Sealer) -> Result<Self, StoreError> {
                self.sealer = sealer;
                let rows = sqlx::query("SELECT id, token FROM webhooks")
                    .fetch_all(&self.pool)
                    .await?;
                for r in &rows {
                    let token: String = r.try_get("token")?;
                    if !$crate::store::seal::Sealer::is_sealed(&token) {
                        sqlx::query("UPDATE webhooks SET token = $1 WHERE id = $2")
                            .bind(self.sealer.seal(&token))
                            .bind(r.try_get::<i64, _>("id")?)
                            .execute(&self.pool)
                            .await?;
                    }
                }
                Ok(self)
            }

            /// A stored webhook with its token opened; `None` when it
            /// cannot be (sealed under another bot token): the announcer
            /// adopts the channel's webhook from Discord again.
            fn opened(&self, mut hook: StoredWebhook) -> Option<StoredWebhook> {
                let plain = self.sealer.open(hook.token.expose())?;
                hook.token = $crate::secret::Secret::new(plain);
                Some(hook)
            }

            /// Rows of `sql` (with at most one bound id), each read by `row`.
            async fn select<T>(
                &self,
                sql: &str,
                bind: Option<i64>,
                row: fn(&$row) -> Result<T, StoreError>,
            ) -> Result<Vec<T>, StoreError> {
                let mut q = sqlx::query(sql);
                if let Some(b) = bind {
                    q = q.bind(b);
                }
                let rows = q.fetch_all(&self.pool).await?;
                // A row that cannot be read (a value no version wrote, a
                // hand-edited database) is skipped and logged: one bad row
                // never stops every announcement.
                Ok(rows
                    .iter()
                    .filter_map(|r| match row(r) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            let id: Option<i64> = r.try_get("id").ok();
                            tracing::error!(row = ?id, error = %e, "skipping an unreadable row");
                            None
                        }
                    })
                    .collect())
            }

            /// One `UPDATE … SET … $1 … WHERE id = $2`.
            async fn set_by_id<V>(&self, sql: &'static str, value: V, id: i64) -> Result<(), StoreError>
            where
                V: for<'q> sqlx::Encode<'q, <$row as sqlx::Row>::Database>
                    + sqlx::Type<<$row as sqlx::Row>::Database>
                    + Send
                    + 'static,
            {
                sqlx::query(sql).bind(value).bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn subscriptions_where(
                &self,
                clause: &str,
                guild: Option<i64>,
            ) -> Result<Vec<Subscription>, StoreError> {
                let sql = format!("SELECT * FROM subscriptions WHERE {clause} ORDER BY id");
                self.select(&sql, guild, subscription).await
            }

            async fn deliveries_where(
                &self,
                clause: &str,
                bind: Option<i64>,
            ) -> Result<Vec<Delivery>, StoreError> {
                let sql = format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE {clause} ORDER BY id");
                self.select(&sql, bind, delivery).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            #[tracing::instrument(skip_all, fields(guild = new.guild_id, channel = new.channel_id))]
            async fn add_subscription(&self, new: NewSubscription) -> Result<Subscription, StoreError> {
                let row = sqlx::query(
                    "INSERT INTO subscriptions (guild_id, channel_id, platform, member, tiktok, realtimekit_id, role_id, template, language, created_by, created_at, identity, thread)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *",
                )
                .bind(snow(new.guild_id)?)
                .bind(snow(new.channel_id)?)
                .bind(new.platform.map(|p| p.as_str()))
                .bind(new.member)
                .bind(new.tiktok.map(|t| t.to_lowercase()))
                .bind(new.realtimekit_id)
                .bind(new.role_id.map(snow).transpose()?)
                .bind(new.template)
                .bind(new.language)
                .bind(snow(new.created_by)?)
                .bind(ms(Utc::now()))
                .bind(new.identity.as_str())
                .bind(i64::from(new.thread))
                .fetch_one(&self.pool)
                .await?;
                subscription(&row)
            }

            #[tracing::instrument(skip_all, fields(guild = guild_id, id))]
            async fn get_subscription(
                &self,
                guild_id: u64,
                id: i64,
            ) -> Result<Option<Subscription>, StoreError> {
                sqlx::query("SELECT * FROM subscriptions WHERE id = $1 AND guild_id = $2")
                    .bind(id)
                    .bind(snow(guild_id)?)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(subscription)
                    .transpose()
            }

            #[tracing::instrument(skip_all, fields(guild = guild_id))]
            async fn list_subscriptions(&self, guild_id: u64) -> Result<Vec<Subscription>, StoreError> {
                self.subscriptions_where("guild_id = $1", Some(snow(guild_id)?))
                    .await
            }

            #[tracing::instrument(skip_all, fields(guild = guild_id, id))]
            async fn remove_subscription(&self, guild_id: u64, id: i64) -> Result<bool, StoreError> {
                let r = sqlx::query("DELETE FROM subscriptions WHERE id = $1 AND guild_id = $2")
                    .bind(id)
                    .bind(snow(guild_id)?)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn active_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
                self.subscriptions_where("disabled_reason IS NULL", None)
                    .await
            }

            #[tracing::instrument(skip_all)]
            async fn tiktok_usernames(&self) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query(
                    "SELECT DISTINCT lower(tiktok) AS u FROM subscriptions WHERE tiktok IS NOT NULL AND disabled_reason IS NULL ORDER BY u",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get("u")?)).collect()
            }

            #[tracing::instrument(skip_all, fields(subscription = subscription_id))]
            async fn record_delivery_success(&self, subscription_id: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE subscriptions SET consecutive_failures = 0, last_delivery_at = $1, last_error = NULL WHERE id = $2",
                )
                .bind(ms(Utc::now()))
                .bind(subscription_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, fields(subscription = subscription_id))]
            async fn record_delivery_failure(
                &self,
                subscription_id: i64,
                reason: &str,
                disable_after: u32,
            ) -> Result<bool, StoreError> {
                let row = sqlx::query(
                    "UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1, last_error = $1,
                       disabled_reason = CASE WHEN consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END
                     WHERE id = $4 RETURNING disabled_reason",
                )
                .bind(reason)
                .bind(i64::from(disable_after))
                .bind(reason)
                .bind(subscription_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(match row {
                    Some(r) => r.try_get::<Option<String>, _>("disabled_reason")?.is_some(),
                    None => false,
                })
            }

            async fn count_subscriptions(&self) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM subscriptions")
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            #[tracing::instrument(skip_all, fields(stream = %stream.id()))]
            async fn upsert_stream(&self, stream: &LiveStream) -> Result<StoredStream, StoreError> {
                let data = serde_json::to_string(stream).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let sql = format!(
                    "INSERT INTO streams (stream_id, platform, started_at, first_seen, data, peak_viewers, first_title)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (stream_id) DO UPDATE SET data = excluded.data, ended_at = NULL,
                       peak_viewers = CASE WHEN streams.peak_viewers IS NULL OR excluded.peak_viewers > streams.peak_viewers
                         THEN COALESCE(excluded.peak_viewers, streams.peak_viewers) ELSE streams.peak_viewers END
                     RETURNING {STREAM_COLS}"
                );
                let row = sqlx::query(&sql)
                    .bind(stream.id().to_string())
                    .bind(stream.platform.as_str())
                    .bind(stream.started_at.map(ms))
                    .bind(ms(Utc::now()))
                    .bind(data)
                    .bind(stream.viewers.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
                    .bind(stream.title.as_deref())
                    .fetch_one(&self.pool)
                    .await?;
                stored_stream(&row)
            }

            #[tracing::instrument(skip_all, fields(row))]
            async fn end_stream(&self, row: i64, ended_at: DateTime<Utc>) -> Result<(), StoreError> {
                self.set_by_id("UPDATE streams SET ended_at = $1 WHERE id = $2", ms(ended_at), row).await
            }

            #[tracing::instrument(skip_all, fields(row))]
            async fn mark_card_shown(&self, row: i64, card: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query("UPDATE streams SET card = $1, card_at = $2 WHERE id = $3")
                    .bind(card)
                    .bind(ms(at))
                    .bind(row)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn recent_streams(&self, limit: u32) -> Result<Vec<StoredStream>, StoreError> {
                let sql = format!(
                    "SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NOT NULL ORDER BY ended_at DESC, id DESC LIMIT $1"
                );
                self.select(&sql, Some(i64::from(limit)), stored_stream).await
            }

            #[tracing::instrument(skip_all)]
            async fn open_streams(&self) -> Result<Vec<StoredStream>, StoreError> {
                let sql = format!("SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NULL ORDER BY id");
                sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(stored_stream)
                    .collect()
            }

            async fn get_stream(&self, row: i64) -> Result<Option<StoredStream>, StoreError> {
                let sql = format!("SELECT {STREAM_COLS} FROM streams WHERE id = $1");
                sqlx::query(&sql)
                    .bind(row)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(stored_stream)
                    .transpose()
            }

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
                        "INSERT INTO deliveries (stream_row, subscription_id, guild_id, channel_id, created_at)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_row, channel_id) DO NOTHING",
                    )
                    .bind(stream_row)
                    .bind(sub)
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
                self.deliveries_where("status = 'pending'", None).await
            }

            async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
                Ok(self
                    .deliveries_where("id = $1", Some(id))
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
                    "UPDATE deliveries SET status = 'sent', message_id = $1, sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $3",
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
                self.set_by_id("UPDATE deliveries SET status = 'failed', last_error = $1 WHERE id = $2", reason.to_string(), id).await
            }

            #[tracing::instrument(skip_all, fields(delivery = id))]
            async fn note_attempt(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
                self.set_by_id("UPDATE deliveries SET attempts = attempts + 1, last_error = $1 WHERE id = $2", error.map(str::to_string), id).await
            }

            async fn deliveries_for_stream(&self, stream_row: i64) -> Result<Vec<Delivery>, StoreError> {
                self.deliveries_where("stream_row = $1", Some(stream_row))
                    .await
            }

            #[tracing::instrument(skip_all)]
            async fn deliveries_needing_end_edit(
                &self,
            ) -> Result<Vec<(Delivery, StoredStream)>, StoreError> {
                let ds = self
                    .deliveries_where(
                        "status = 'sent' AND end_edited_at IS NULL AND stream_row IN (SELECT id FROM streams WHERE ended_at IS NOT NULL)",
                        None,
                    )
                    .await?;
                let mut out = Vec::with_capacity(ds.len());
                for d in ds {
                    if let Some(s) = self.get_stream(d.stream_row).await? {
                        out.push((d, s));
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(skip_all, fields(delivery = id))]
            async fn mark_end_edited(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
                self.set_by_id("UPDATE deliveries SET end_edited_at = $1 WHERE id = $2", ms(at), id).await
            }

            #[tracing::instrument(skip_all, fields(delivery = id))]
            async fn clear_end_edited(&self, id: i64) -> Result<(), StoreError> {
                self.set_by_id("UPDATE deliveries SET end_edited_at = $1 WHERE id = $2", None::<i64>, id)
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
                    "UPDATE deliveries SET first_attempt_at = COALESCE(first_attempt_at, $1), webhook_id = $2 WHERE id = $3",
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
                self.set_by_id("UPDATE deliveries SET thread_id = $1 WHERE id = $2", snow(thread_id)?, id).await
            }

            #[tracing::instrument(skip_all, fields(delivery = id))]
            async fn mark_thread_archived(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
                self.set_by_id("UPDATE deliveries SET thread_archived_at = $1 WHERE id = $2", ms(at), id).await
            }

            #[tracing::instrument(skip_all)]
            async fn deliveries_needing_thread_work(&self) -> Result<Vec<Delivery>, StoreError> {
                self.deliveries_where(
                    "status = 'sent' AND ((thread_id IS NULL AND end_edited_at IS NULL
                       AND subscription_id IN (SELECT id FROM subscriptions WHERE thread <> 0))
                     OR (thread_id IS NOT NULL AND thread_archived_at IS NULL AND end_edited_at IS NOT NULL))",
                    None,
                )
                .await
            }

            #[tracing::instrument(skip_all, fields(subscription = subscription_id))]
            async fn set_identity_fallback(
                &self,
                subscription_id: i64,
                reason: Option<&str>,
            ) -> Result<(), StoreError> {
                self.set_by_id("UPDATE subscriptions SET identity_fallback = $1 WHERE id = $2", reason.map(str::to_string), subscription_id).await
            }

            async fn channel_webhook(&self, channel_id: u64) -> Result<Option<StoredWebhook>, StoreError> {
                Ok(self
                    .select(
                        "SELECT * FROM webhooks WHERE channel_id = $1 AND gone_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
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
                    .select("SELECT * FROM webhooks WHERE id = $1", Some(snow(id)?), stored_webhook)
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
                token: &$crate::secret::Secret,
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
                .await?
                .rows_affected();
                let streams = sqlx::query(
                    "DELETE FROM streams WHERE ended_at IS NOT NULL AND ended_at < $1",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok((streams, finished))
            }

            #[tracing::instrument(skip_all, fields(guild = guild_id))]
            async fn leave_guild(&self, guild_id: u64) -> Result<Vec<StoredWebhook>, StoreError> {
                let guild = snow(guild_id)?;
                let mut tx = self.pool.begin().await?;
                let hooks = sqlx::query(
                    "SELECT * FROM webhooks WHERE channel_id IN (
                         SELECT channel_id FROM subscriptions WHERE guild_id = $1
                         UNION SELECT channel_id FROM deliveries WHERE guild_id = $2)",
                )
                .bind(guild)
                .bind(guild)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(stored_webhook)
                .collect::<Result<Vec<_>, _>>()?;
                for h in &hooks {
                    sqlx::query("DELETE FROM webhooks WHERE id = $1")
                        .bind(snow(h.id)?)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM subscriptions WHERE guild_id = $1")
                    .bind(guild)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE deliveries SET status = 'failed', last_error = 'onair left the server'
                     WHERE guild_id = $1 AND status IN ('pending', 'sent')",
                )
                .bind(guild)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                // Those sealed under another bot token cannot be deleted at
                // Discord; they are forgotten all the same.
                Ok(hooks.into_iter().filter_map(|h| self.opened(h)).collect())
            }

            #[tracing::instrument(skip_all, fields(webhook = id))]
            async fn webhook_gone(&self, id: u64) -> Result<(), StoreError> {
                self.set_by_id("UPDATE webhooks SET gone_at = $1 WHERE id = $2 AND gone_at IS NULL", ms(Utc::now()), snow(id)?).await
            }

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

            // What only this engine does.
            $($engine)*

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn go_live_times(
                &self,
                platforms: &[Platform],
                since: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<DateTime<Utc>>, StoreError> {
                if platforms.is_empty() {
                    return Ok(Vec::new());
                }
                let n = platforms.len();
                let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT COALESCE(started_at, first_seen) FROM streams
                     WHERE platform IN ({}) AND first_seen >= ${} ORDER BY first_seen DESC, id DESC LIMIT ${}",
                    marks.join(", "),
                    n + 1,
                    n + 2
                );
                let mut q = sqlx::query_scalar::<_, i64>(&sql);
                for p in platforms {
                    q = q.bind(p.as_str());
                }
                let mut times: Vec<DateTime<Utc>> = q
                    .bind(ms(since))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .filter_map(DateTime::from_timestamp_millis)
                    .collect();
                times.reverse();
                Ok(times)
            }
        }
    };
}

pub(super) use sql_store;
