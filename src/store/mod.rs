//! The store: subscriptions, the broadcasts seen, and every delivery (the
//! outbox). Callers hold an `Arc<dyn Store>`, served by SQLite (embedded,
//! the default) or PostgreSQL (`DATABASE_URL=postgres://…`, for several
//! processes on one database). Both run the same SQL (`sql.rs`).

mod postgres;
pub mod seal;
mod sql;
mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::live::{LiveStream, Platform};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("could not open the database: {0}")]
    Open(String),
    #[error("database migration failed: {0}")]
    Migrate(String),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

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
    /// Posts through a webhook as the member (chosen, and not fallen back).
    pub fn as_member(&self) -> bool {
        self.identity == Identity::Member && self.identity_fallback.is_none()
    }
}

/// A channel webhook onair made (its token is a credential).
#[derive(Debug, Clone)]
pub struct StoredWebhook {
    pub id: u64,
    pub channel_id: u64,
    pub token: crate::secret::Secret,
    pub gone: bool,
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredStream {
    pub id: i64,
    /// `StreamId` as text: `platform:key@start`.
    pub stream_id: String,
    pub platform: Platform,
    pub started_at: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The highest viewer count any poll reported while it was live.
    pub peak_viewers: Option<u64>,
    /// The title it went live with (the recap shows a change).
    pub first_title: Option<String>,
    /// What the live-update edits last showed (JSON of
    /// [`crate::announce::card::CardState`]) and when.
    pub card: Option<String>,
    pub card_at: Option<DateTime<Utc>>,
    /// As last seen (the final viewers, the current title).
    pub stream: LiveStream,
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub stream_row: i64,
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

/// Everything the bot persists.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    // subscriptions
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

    // streams
    async fn upsert_stream(&self, stream: &LiveStream) -> Result<StoredStream, StoreError>;
    async fn end_stream(&self, row: i64, ended_at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn open_streams(&self) -> Result<Vec<StoredStream>, StoreError>;
    /// Record what the live-update edits of a broadcast now show.
    async fn mark_card_shown(
        &self,
        row: i64,
        card: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The broadcasts that ended, latest end first, at most `limit`.
    async fn recent_streams(&self, limit: u32) -> Result<Vec<StoredStream>, StoreError>;
    async fn get_stream(&self, row: i64) -> Result<Option<StoredStream>, StoreError>;

    // deliveries (outbox)
    /// Idempotent: one delivery per (stream, channel); returns all of that
    /// stream's deliveries to those channels.
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
    /// Why a member-identity subscription posts as the bot (None: it
    /// posts as the member again).
    async fn set_identity_fallback(
        &self,
        subscription_id: i64,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;

    // webhooks
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
        token: &crate::secret::Secret,
    ) -> Result<(), StoreError>;
    /// Discord says the webhook no longer exists (10015).
    async fn webhook_gone(&self, id: u64) -> Result<(), StoreError>;
    /// Delete the broadcasts that ended before `before` with their
    /// deliveries, and the dropped deliveries created before it (data
    /// retention); returns (broadcasts, deliveries) deleted.
    async fn prune(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError>;
    /// onair was removed from the server: its subscriptions are deleted,
    /// its deliveries with work left (pending, or sent and not closed) are
    /// failed, and the webhooks onair made in its channels are forgotten;
    /// returns them (with their tokens) so the caller can delete them at
    /// Discord. One transaction.
    async fn leave_guild(&self, guild_id: u64) -> Result<Vec<StoredWebhook>, StoreError>;

    // provider budgets
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
    /// When broadcasts on these platforms went live (their start, or when
    /// the bot first saw them), since `since`, oldest first, at most `limit`.
    /// The leader shares what one source last told it (`state`: JSON) with
    /// the other processes on this database (PostgreSQL: a row and a
    /// `NOTIFY` on [`SNAPSHOT_CHANNEL`]; SQLite, one process: nothing).
    async fn publish_state(&self, source: &str, state: &str) -> Result<(), StoreError>;
    /// Every source's shared state, `(source, JSON)`.
    async fn published_states(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// A round trip to the database (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    async fn go_live_times(
        &self,
        platforms: &[Platform],
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DateTime<Utc>>, StoreError>;
}

/// The database engine a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite:…`: embedded, one bot process per file.
    Sqlite,
    /// `postgres://…` or `postgresql://…`: shared by any number of processes.
    Postgres,
}

impl Engine {
    /// The engine of `database_url`; `None` for anything else.
    pub fn of(database_url: &str) -> Option<Engine> {
        if database_url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// The PostgreSQL channel the leader notifies when it shared a new state.
pub const SNAPSHOT_CHANNEL: &str = "onair_snapshot";

/// Held by the bot for as long as it runs on a SQLite file: a second bot
/// process on the same file refuses to start (SQLite serves one process;
/// several replicas share a PostgreSQL database instead). Released when
/// dropped or when the process dies.
#[derive(Debug)]
pub struct ProcessLock {
    _file: std::fs::File,
}

/// Claim `DATABASE_URL` for this bot process. PostgreSQL and in-memory
/// databases need no claim (`None`); a SQLite file is claimed by an
/// exclusive lock on `<file>.lock` beside it.
pub fn claim(database_url: &str) -> Result<Option<ProcessLock>, StoreError> {
    use std::str::FromStr;
    if Engine::of(database_url) != Some(Engine::Sqlite) || database_url.contains(":memory:") {
        return Ok(None);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
        .map_err(|e| StoreError::Open(e.to_string()))?;
    let mut path = options.get_filename().as_os_str().to_owned();
    path.push(".lock");
    let path = std::path::PathBuf::from(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ProcessLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Open(format!(
            "another onair process is already running on {} (its lock {} is held): SQLite serves \
             one process at a time; stop the other one, or run several replicas on a shared \
             DATABASE_URL=postgres://…",
            options.get_filename().display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Open(format!("{}: {e}", path.display())))
        }
    }
}

/// Open the store the bot runs on: [`connect`], with webhook tokens sealed
/// under a key derived from the bot token ([`seal`]).
pub async fn connect_sealed(
    database_url: &str,
    sealer: seal::Sealer,
) -> Result<Arc<dyn Store>, StoreError> {
    prepare_file(database_url)?;
    match Engine::of(database_url) {
        Some(Engine::Postgres) => Ok(Arc::new(
            PgStore::connect(database_url)
                .await?
                .seal_with(sealer)
                .await?,
        )),
        Some(Engine::Sqlite) => Ok(Arc::new(
            SqliteStore::connect(database_url)
                .await?
                .seal_with(sealer)
                .await?,
        )),
        None => Err(StoreError::Unsupported(
            "DATABASE_URL must start with sqlite:// or postgres://",
        )),
    }
}

/// A SQLite file that does not exist yet is created readable and writable
/// by its owner only (0600), before SQLite opens it: its journal files take
/// the same mode. An existing file is left as the operator set it.
fn prepare_file(database_url: &str) -> Result<(), StoreError> {
    use std::str::FromStr;
    if Engine::of(database_url) != Some(Engine::Sqlite) || database_url.contains(":memory:") {
        return Ok(());
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
        .map_err(|e| StoreError::Open(e.to_string()))?;
    let path = options.get_filename();
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Open(format!("{}: {e}", path.display()))),
    }
}

/// Open the store named by `DATABASE_URL` and run the migrations. Webhook
/// tokens it seals are readable by this process only (tools and tests; the
/// bot uses [`connect_sealed`]).
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    prepare_file(database_url)?;
    match Engine::of(database_url) {
        Some(Engine::Postgres) => Ok(Arc::new(PgStore::connect(database_url).await?)),
        Some(Engine::Sqlite) => Ok(Arc::new(SqliteStore::connect(database_url).await?)),
        None => Err(StoreError::Unsupported(
            "DATABASE_URL must start with sqlite:// or postgres://",
        )),
    }
}
