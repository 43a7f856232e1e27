//! Subscriptions: which channel announces whom, how, and how its
//! deliveries have been going; and what a server leaving takes with it.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::calendar::CalendarChoice;
use super::error::StoreError;
use super::sql::{ms, platform, snow, time, unsnow, SqlEngine, SqlStore};
use super::webhooks::{stored_webhook, StoredWebhook};
use crate::live::Platform;

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: i64,
    pub guild_id: u64,
    pub channel_id: u64,
    pub platform: Option<Platform>,
    pub member: Option<String>,
    pub tiktok: Option<String>,
    pub realtimekit_id: Option<String>,
    pub role_id: Option<u64>,
    pub template: Option<String>,
    pub language: Option<String>,
    pub created_by: u64,
    pub created_at: DateTime<Utc>,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: u32,
    pub last_delivery_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Who the announcements look like they come from.
    pub identity: Identity,
    /// Why a member-identity subscription posts as the bot for now.
    pub identity_fallback: Option<String>,
    /// Start a discussion thread on each announcement.
    pub thread: bool,
    /// A calendar feed instead of lives (None: a live subscription).
    pub calendar: Option<CalendarChoice>,
}

/// Who a subscription's announcements look like they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Identity {
    /// The bot.
    #[default]
    Bot,
    /// The member: posted through a channel webhook with her name and
    /// avatar.
    Member,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Bot => "bot",
            Identity::Member => "member",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "bot" => Ok(Identity::Bot),
            "member" => Ok(Identity::Member),
            other => Err(StoreError::Corrupt(format!("identity `{other}`"))),
        }
    }
}

impl Subscription {
    /// A subscription for tests: id 1 of guild 1, channel `channel_id`,
    /// to everyone, as the bot.
    #[cfg(test)]
    pub(crate) fn sample(channel_id: u64) -> Subscription {
        Subscription {
            id: 1,
            guild_id: 1,
            channel_id,
            platform: None,
            member: None,
            tiktok: None,
            realtimekit_id: None,
            role_id: None,
            template: None,
            language: None,
            created_by: 2,
            created_at: Utc::now(),
            disabled_reason: None,
            consecutive_failures: 0,
            last_delivery_at: None,
            last_error: None,
            identity: Identity::Bot,
            identity_fallback: None,
            thread: false,
            calendar: None,
        }
    }

    /// Posts through a webhook as the member (chosen, and not fallen back).
    pub fn as_member(&self) -> bool {
        self.identity == Identity::Member && self.identity_fallback.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewSubscription {
    pub guild_id: u64,
    pub channel_id: u64,
    pub platform: Option<Platform>,
    pub member: Option<String>,
    pub tiktok: Option<String>,
    pub realtimekit_id: Option<String>,
    pub role_id: Option<u64>,
    pub template: Option<String>,
    pub language: Option<String>,
    pub created_by: u64,
    pub identity: Identity,
    pub thread: bool,
    pub calendar: Option<CalendarChoice>,
}

/// The subscriptions table.
#[async_trait::async_trait]
pub trait SubscriptionTable: Send + Sync {
    async fn add_subscription(&self, new: NewSubscription) -> Result<Subscription, StoreError>;
    /// None when the id belongs to another guild (guild isolation).
    async fn get_subscription(
        &self,
        guild_id: u64,
        id: i64,
    ) -> Result<Option<Subscription>, StoreError>;
    async fn list_subscriptions(&self, guild_id: u64) -> Result<Vec<Subscription>, StoreError>;
    /// false when the id is not this guild's.
    async fn remove_subscription(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;
    /// Not disabled, all guilds.
    async fn active_subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    async fn tiktok_usernames(&self) -> Result<Vec<String>, StoreError>;
    async fn record_delivery_success(&self, subscription_id: i64) -> Result<(), StoreError>;
    /// Returns whether the subscription is now disabled.
    async fn record_delivery_failure(
        &self,
        subscription_id: i64,
        reason: &str,
        disable_after: u32,
    ) -> Result<bool, StoreError>;
    async fn count_subscriptions(&self) -> Result<u64, StoreError>;
    /// Why a member-identity subscription posts as the bot (None: it
    /// posts as the member again).
    async fn set_identity_fallback(
        &self,
        subscription_id: i64,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
    /// onair was removed from the server: its subscriptions are deleted,
    /// its deliveries with work left (pending, or sent and not closed) are
    /// failed, and the webhooks onair made in its channels are forgotten;
    /// returns them (with their tokens) so the caller can delete them at
    /// Discord. One transaction.
    async fn leave_guild(&self, guild_id: u64) -> Result<Vec<StoredWebhook>, StoreError>;
}

fn subscription<R: Row>(r: &R) -> Result<Subscription, StoreError>
where
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: ColumnIndex<R>,
{
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
        calendar: r
            .try_get::<Option<String>, _>("calendar")?
            .as_deref()
            .map(CalendarChoice::parse)
            .transpose()?,
    })
}

/// The subscriptions matching `clause`, oldest first.
fn subscriptions_where(clause: &str) -> String {
    format!("SELECT * FROM subscriptions WHERE {clause} ORDER BY id")
}

#[async_trait::async_trait]
impl<DB> SubscriptionTable for SqlStore<DB>
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
    #[tracing::instrument(skip_all, fields(guild = new.guild_id, channel = new.channel_id))]
    async fn add_subscription(&self, new: NewSubscription) -> Result<Subscription, StoreError> {
        let row = sqlx::query(
            "INSERT INTO subscriptions (guild_id, channel_id, platform, member, tiktok,
               realtimekit_id, role_id, template, language, created_by, created_at, identity, thread,
               calendar)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *",
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
        .bind(new.calendar.as_ref().map(CalendarChoice::to_json))
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
        self.select(
            &subscriptions_where("guild_id = $1"),
            Some(snow(guild_id)?),
            subscription,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(guild = guild_id, id))]
    async fn remove_subscription(&self, guild_id: u64, id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM subscriptions WHERE id = $1 AND guild_id = $2")
            .bind(id)
            .bind(snow(guild_id)?)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&r) > 0)
    }

    #[tracing::instrument(skip_all)]
    async fn active_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.select(
            &subscriptions_where("disabled_reason IS NULL"),
            None,
            subscription,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn tiktok_usernames(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT lower(tiktok) AS u FROM subscriptions
             WHERE tiktok IS NOT NULL AND disabled_reason IS NULL ORDER BY u",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("u")?)).collect()
    }

    #[tracing::instrument(skip_all, fields(subscription = subscription_id))]
    async fn record_delivery_success(&self, subscription_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE subscriptions SET consecutive_failures = 0, last_delivery_at = $1,
               last_error = NULL WHERE id = $2",
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

    #[tracing::instrument(skip_all, fields(subscription = subscription_id))]
    async fn set_identity_fallback(
        &self,
        subscription_id: i64,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE subscriptions SET identity_fallback = $1 WHERE id = $2",
            reason.map(str::to_string),
            subscription_id,
        )
        .await
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
}
