//! The outbox's two doors: the part of the store it reads and writes
//! ([`DeliveryStore`]) and the Discord requests it makes ([`DiscordPort`]).
//! Production passes the real store and REST client; the unit tests pass
//! in-memory fakes, so the whole delivery path runs without I/O.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::discord::rest::{DiscordError, DiscordRest};
use crate::secret::Secret;
use crate::store::{Delivery, Store, StoreError, StoredWebhook, Subscription};

type StoreResult<T> = Result<T, StoreError>;
type DiscordResult<T> = Result<T, DiscordError>;

/// What the outbox needs of the store: its deliveries, the subscriptions
/// they were made for, and the channel webhooks it posts through.
#[async_trait::async_trait]
pub trait DeliveryStore: Send + Sync {
    async fn delivery(&self, id: i64) -> StoreResult<Option<Delivery>>;
    async fn subscription(&self, guild_id: u64, id: i64) -> StoreResult<Option<Subscription>>;
    /// A POST is about to leave, through `webhook` (None: as the bot).
    async fn attempting(&self, id: i64, at: DateTime<Utc>, webhook: Option<u64>)
        -> StoreResult<()>;
    async fn sent(&self, id: i64, message_id: u64, at: DateTime<Utc>) -> StoreResult<()>;
    async fn closed(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()>;
    async fn note_attempt(&self, id: i64, error: &str) -> StoreResult<()>;
    async fn drop_delivery(&self, id: i64, reason: &str) -> StoreResult<()>;
    async fn thread_started(&self, id: i64, thread_id: u64) -> StoreResult<()>;
    async fn thread_archived(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()>;
    async fn subscription_ok(&self, subscription_id: i64) -> StoreResult<()>;
    /// Returns whether the subscription is now disabled.
    async fn subscription_failed(
        &self,
        subscription_id: i64,
        reason: &str,
        disable_after: u32,
    ) -> StoreResult<bool>;
    async fn identity_fallback(&self, subscription_id: i64, reason: &str) -> StoreResult<()>;
    async fn channel_webhook(&self, channel_id: u64) -> StoreResult<Option<StoredWebhook>>;
    async fn webhook(&self, id: u64) -> StoreResult<Option<StoredWebhook>>;
    async fn webhooks_deleted(&self, channel_id: u64, since: DateTime<Utc>) -> StoreResult<u64>;
    async fn save_webhook(&self, id: u64, channel_id: u64, token: &Secret) -> StoreResult<()>;
    async fn webhook_gone(&self, id: u64) -> StoreResult<()>;
}

/// The Discord requests the outbox makes.
#[async_trait::async_trait]
pub trait DiscordPort: Send + Sync {
    async fn bot_user_id(&self) -> DiscordResult<u64>;
    /// Wait until the channel's message bucket has room (nothing to wait
    /// for when it is not known to be spent).
    async fn wait_to_post(&self, channel_id: u64);
    async fn create_message(&self, channel_id: u64, body: &Value) -> DiscordResult<u64>;
    async fn edit_message(
        &self,
        channel_id: u64,
        message_id: u64,
        body: &Value,
    ) -> DiscordResult<()>;
    async fn messages_after(
        &self,
        channel_id: u64,
        after: u64,
        limit: u8,
    ) -> DiscordResult<Vec<Value>>;
    /// The id of the channel's newest message, readable history or not.
    async fn last_message_id(&self, channel_id: u64) -> DiscordResult<Option<u64>>;
    async fn channel_webhooks(&self, channel_id: u64) -> DiscordResult<Vec<Value>>;
    async fn create_webhook(&self, channel_id: u64, name: &str) -> DiscordResult<(u64, Secret)>;
    async fn execute_webhook(&self, id: u64, token: &Secret, body: &Value) -> DiscordResult<u64>;
    async fn edit_webhook_message(
        &self,
        id: u64,
        token: &Secret,
        message_id: u64,
        body: &Value,
    ) -> DiscordResult<()>;
    async fn start_thread(
        &self,
        channel_id: u64,
        message_id: u64,
        name: &str,
    ) -> DiscordResult<u64>;
    async fn get_message(&self, channel_id: u64, message_id: u64) -> DiscordResult<Value>;
    async fn archive_thread(&self, thread_id: u64) -> DiscordResult<()>;
}

/// The real store, seen through the outbox's door.
pub struct Deliveries(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl DeliveryStore for Deliveries {
    async fn delivery(&self, id: i64) -> StoreResult<Option<Delivery>> {
        self.0.get_delivery(id).await
    }
    async fn subscription(&self, guild_id: u64, id: i64) -> StoreResult<Option<Subscription>> {
        self.0.get_subscription(guild_id, id).await
    }
    async fn attempting(
        &self,
        id: i64,
        at: DateTime<Utc>,
        webhook: Option<u64>,
    ) -> StoreResult<()> {
        self.0.mark_attempting(id, at, webhook).await
    }
    async fn sent(&self, id: i64, message_id: u64, at: DateTime<Utc>) -> StoreResult<()> {
        self.0.mark_sent(id, message_id, at).await
    }
    async fn closed(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        self.0.mark_end_edited(id, at).await
    }
    async fn note_attempt(&self, id: i64, error: &str) -> StoreResult<()> {
        self.0.note_attempt(id, Some(error)).await
    }
    async fn drop_delivery(&self, id: i64, reason: &str) -> StoreResult<()> {
        self.0.mark_failed(id, reason).await
    }
    async fn thread_started(&self, id: i64, thread_id: u64) -> StoreResult<()> {
        self.0.set_thread(id, thread_id).await
    }
    async fn thread_archived(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        self.0.mark_thread_archived(id, at).await
    }
    async fn subscription_ok(&self, subscription_id: i64) -> StoreResult<()> {
        self.0.record_delivery_success(subscription_id).await
    }
    async fn subscription_failed(
        &self,
        subscription_id: i64,
        reason: &str,
        disable_after: u32,
    ) -> StoreResult<bool> {
        self.0
            .record_delivery_failure(subscription_id, reason, disable_after)
            .await
    }
    async fn identity_fallback(&self, subscription_id: i64, reason: &str) -> StoreResult<()> {
        self.0
            .set_identity_fallback(subscription_id, Some(reason))
            .await
    }
    async fn channel_webhook(&self, channel_id: u64) -> StoreResult<Option<StoredWebhook>> {
        self.0.channel_webhook(channel_id).await
    }
    async fn webhook(&self, id: u64) -> StoreResult<Option<StoredWebhook>> {
        self.0.get_webhook(id).await
    }
    async fn webhooks_deleted(&self, channel_id: u64, since: DateTime<Utc>) -> StoreResult<u64> {
        self.0.webhooks_deleted(channel_id, since).await
    }
    async fn save_webhook(&self, id: u64, channel_id: u64, token: &Secret) -> StoreResult<()> {
        self.0.save_webhook(id, channel_id, token).await
    }
    async fn webhook_gone(&self, id: u64) -> StoreResult<()> {
        self.0.webhook_gone(id).await
    }
}

#[async_trait::async_trait]
impl DiscordPort for DiscordRest {
    async fn bot_user_id(&self) -> DiscordResult<u64> {
        DiscordRest::bot_user_id(self).await
    }
    async fn wait_to_post(&self, channel_id: u64) {
        DiscordRest::wait_to_post(self, channel_id).await
    }
    async fn create_message(&self, channel_id: u64, body: &Value) -> DiscordResult<u64> {
        DiscordRest::create_message(self, channel_id, body).await
    }
    async fn edit_message(
        &self,
        channel_id: u64,
        message_id: u64,
        body: &Value,
    ) -> DiscordResult<()> {
        DiscordRest::edit_message(self, channel_id, message_id, body).await
    }
    async fn messages_after(
        &self,
        channel_id: u64,
        after: u64,
        limit: u8,
    ) -> DiscordResult<Vec<Value>> {
        DiscordRest::messages_after(self, channel_id, after, limit).await
    }
    async fn last_message_id(&self, channel_id: u64) -> DiscordResult<Option<u64>> {
        DiscordRest::last_message_id(self, channel_id).await
    }
    async fn channel_webhooks(&self, channel_id: u64) -> DiscordResult<Vec<Value>> {
        DiscordRest::channel_webhooks(self, channel_id).await
    }
    async fn create_webhook(&self, channel_id: u64, name: &str) -> DiscordResult<(u64, Secret)> {
        DiscordRest::create_webhook(self, channel_id, name).await
    }
    async fn execute_webhook(&self, id: u64, token: &Secret, body: &Value) -> DiscordResult<u64> {
        DiscordRest::execute_webhook(self, id, token, body).await
    }
    async fn edit_webhook_message(
        &self,
        id: u64,
        token: &Secret,
        message_id: u64,
        body: &Value,
    ) -> DiscordResult<()> {
        DiscordRest::edit_webhook_message(self, id, token, message_id, body).await
    }
    async fn start_thread(
        &self,
        channel_id: u64,
        message_id: u64,
        name: &str,
    ) -> DiscordResult<u64> {
        DiscordRest::start_thread(self, channel_id, message_id, name).await
    }
    async fn get_message(&self, channel_id: u64, message_id: u64) -> DiscordResult<Value> {
        DiscordRest::get_message(self, channel_id, message_id).await
    }
    async fn archive_thread(&self, thread_id: u64) -> DiscordResult<()> {
        DiscordRest::archive_thread(self, thread_id).await
    }
}
