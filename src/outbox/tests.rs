//! The whole delivery path, without I/O: the real executor against an
//! in-memory store, a scripted Discord and a fixed card.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ports::{DeliveryStore, DiscordPort};
use super::*;
use crate::discord::rest::DiscordError;
use crate::secret::Secret;
use crate::store::{
    Delivery, DeliveryStatus, Identity, StoreError, StoredWebhook, Subscription, KIND_LIVE,
};

const BOT: u64 = 9;
const CHANNEL: u64 = 10;

#[derive(Default)]
struct MemStore {
    deliveries: Mutex<HashMap<i64, Delivery>>,
    subs: Mutex<HashMap<i64, Subscription>>,
    hooks: Mutex<Vec<StoredWebhook>>,
    /// The next this many `attempting` writes fail.
    failing_writes: AtomicU32,
}

impl MemStore {
    fn delivery_now(&self, id: i64) -> Delivery {
        lock(&self.deliveries)[&id].clone()
    }
    fn sub_now(&self, id: i64) -> Subscription {
        lock(&self.subs)[&id].clone()
    }
    fn edit(&self, id: i64, f: impl FnOnce(&mut Delivery)) {
        if let Some(d) = lock(&self.deliveries).get_mut(&id) {
            f(d);
        }
    }
}

type R<T> = Result<T, StoreError>;

#[async_trait::async_trait]
impl DeliveryStore for MemStore {
    async fn delivery(&self, id: i64) -> R<Option<Delivery>> {
        Ok(lock(&self.deliveries).get(&id).cloned())
    }
    async fn subscription(&self, guild_id: u64, id: i64) -> R<Option<Subscription>> {
        Ok(lock(&self.subs)
            .get(&id)
            .filter(|s| s.guild_id == guild_id)
            .cloned())
    }
    async fn attempting(&self, id: i64, at: DateTime<Utc>, webhook: Option<u64>) -> R<()> {
        let fail = self
            .failing_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(StoreError::Unsupported("the database is down"));
        }
        self.edit(id, |d| {
            d.first_attempt_at.get_or_insert(at);
            d.webhook_id = webhook;
        });
        Ok(())
    }
    async fn sent(&self, id: i64, message_id: u64, at: DateTime<Utc>) -> R<()> {
        self.edit(id, |d| {
            d.status = DeliveryStatus::Sent;
            d.message_id = Some(message_id);
            d.sent_at = Some(at);
        });
        Ok(())
    }
    async fn closed(&self, id: i64, at: DateTime<Utc>) -> R<()> {
        self.edit(id, |d| d.end_edited_at = Some(at));
        Ok(())
    }
    async fn note_attempt(&self, id: i64, error: &str) -> R<()> {
        self.edit(id, |d| {
            d.attempts += 1;
            d.last_error = Some(error.into());
        });
        Ok(())
    }
    async fn drop_delivery(&self, id: i64, reason: &str) -> R<()> {
        self.edit(id, |d| {
            d.status = DeliveryStatus::Failed;
            d.last_error = Some(reason.into());
        });
        Ok(())
    }
    async fn thread_started(&self, id: i64, thread_id: u64) -> R<()> {
        self.edit(id, |d| d.thread_id = Some(thread_id));
        Ok(())
    }
    async fn thread_archived(&self, id: i64, at: DateTime<Utc>) -> R<()> {
        self.edit(id, |d| d.thread_archived_at = Some(at));
        Ok(())
    }
    async fn subscription_ok(&self, subscription_id: i64) -> R<()> {
        if let Some(s) = lock(&self.subs).get_mut(&subscription_id) {
            s.consecutive_failures = 0;
        }
        Ok(())
    }
    async fn subscription_failed(&self, id: i64, reason: &str, disable_after: u32) -> R<bool> {
        let mut subs = lock(&self.subs);
        let Some(s) = subs.get_mut(&id) else {
            return Ok(false);
        };
        s.consecutive_failures += 1;
        s.last_error = Some(reason.into());
        if s.consecutive_failures >= disable_after {
            s.disabled_reason = Some(reason.into());
        }
        Ok(s.disabled_reason.is_some())
    }
    async fn identity_fallback(&self, id: i64, reason: &str) -> R<()> {
        if let Some(s) = lock(&self.subs).get_mut(&id) {
            s.identity_fallback = Some(reason.into());
        }
        Ok(())
    }
    async fn channel_webhook(&self, channel_id: u64) -> R<Option<StoredWebhook>> {
        Ok(lock(&self.hooks)
            .iter()
            .rev()
            .find(|h| h.channel_id == channel_id && !h.gone)
            .cloned())
    }
    async fn webhook(&self, id: u64) -> R<Option<StoredWebhook>> {
        Ok(lock(&self.hooks).iter().find(|h| h.id == id).cloned())
    }
    async fn webhooks_deleted(&self, channel_id: u64, _since: DateTime<Utc>) -> R<u64> {
        Ok(lock(&self.hooks)
            .iter()
            .filter(|h| h.channel_id == channel_id && h.gone)
            .count() as u64)
    }
    async fn save_webhook(&self, id: u64, channel_id: u64, token: &Secret) -> R<()> {
        lock(&self.hooks).push(StoredWebhook {
            id,
            channel_id,
            token: token.clone(),
            gone: false,
        });
        Ok(())
    }
    async fn webhook_gone(&self, id: u64) -> R<()> {
        for h in lock(&self.hooks).iter_mut().filter(|h| h.id == id) {
            h.gone = true;
        }
        Ok(())
    }
}

/// A Discord whose answers are scripted: each POST takes the next
/// scripted answer (then succeeds); every request is recorded.
#[derive(Default)]
struct ScriptedDiscord {
    posts: Mutex<VecDeque<Result<(), DiscordError>>>,
    /// What the channel's history holds (as the bot may read it).
    history: Mutex<Vec<Value>>,
    /// The channel's newest message, readable or not.
    last_message: Mutex<Option<u64>>,
    calls: Mutex<Vec<String>>,
    bodies: Mutex<Vec<Value>>,
    next_id: AtomicU64,
}

impl ScriptedDiscord {
    fn script(answers: Vec<Result<(), DiscordError>>) -> Self {
        ScriptedDiscord {
            posts: Mutex::new(answers.into()),
            next_id: AtomicU64::new(1_000),
            ..ScriptedDiscord::default()
        }
    }
    fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }
    fn count(&self, prefix: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }
    fn record(&self, call: String, body: Option<&Value>) {
        lock(&self.calls).push(call);
        if let Some(b) = body {
            lock(&self.bodies).push(b.clone());
        }
    }
    fn answer(&self) -> Result<u64, DiscordError> {
        let scripted = lock(&self.posts).pop_front().unwrap_or(Ok(()));
        scripted.map(|()| self.next_id.fetch_add(1, Ordering::SeqCst))
    }
}

type D<T> = Result<T, DiscordError>;

#[async_trait::async_trait]
impl DiscordPort for ScriptedDiscord {
    async fn bot_user_id(&self) -> D<u64> {
        Ok(BOT)
    }
    async fn wait_to_post(&self, _channel_id: u64) {}
    async fn create_message(&self, channel_id: u64, body: &Value) -> D<u64> {
        self.record(format!("POST message {channel_id}"), Some(body));
        self.answer()
    }
    async fn edit_message(&self, channel_id: u64, message_id: u64, body: &Value) -> D<()> {
        self.record(
            format!("PATCH message {channel_id}/{message_id}"),
            Some(body),
        );
        Ok(())
    }
    async fn messages_after(&self, channel_id: u64, after: u64, _limit: u8) -> D<Vec<Value>> {
        self.record(format!("GET messages {channel_id} after {after}"), None);
        Ok(lock(&self.history).clone())
    }
    async fn last_message_id(&self, channel_id: u64) -> D<Option<u64>> {
        self.record(format!("GET channel {channel_id}"), None);
        Ok(*lock(&self.last_message))
    }
    async fn channel_webhooks(&self, channel_id: u64) -> D<Vec<Value>> {
        self.record(format!("GET webhooks {channel_id}"), None);
        Ok(Vec::new())
    }
    async fn create_webhook(&self, channel_id: u64, _name: &str) -> D<(u64, Secret)> {
        self.record(format!("POST webhook {channel_id}"), None);
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        Ok((id, Secret::new(format!("token-{id}"))))
    }
    async fn execute_webhook(&self, id: u64, _token: &Secret, body: &Value) -> D<u64> {
        self.record(format!("EXECUTE webhook {id}"), Some(body));
        self.answer()
    }
    async fn edit_webhook_message(&self, id: u64, _t: &Secret, m: u64, body: &Value) -> D<()> {
        self.record(format!("PATCH webhook {id}/{m}"), Some(body));
        Ok(())
    }
    async fn start_thread(&self, channel_id: u64, message_id: u64, _name: &str) -> D<u64> {
        self.record(format!("POST thread {channel_id}/{message_id}"), None);
        Ok(self.next_id.fetch_add(1, Ordering::SeqCst))
    }
    async fn get_message(&self, channel_id: u64, message_id: u64) -> D<Value> {
        self.record(format!("GET message {channel_id}/{message_id}"), None);
        Ok(json!({}))
    }
    async fn archive_thread(&self, thread_id: u64) -> D<()> {
        self.record(format!("ARCHIVE thread {thread_id}"), None);
        Ok(())
    }
}

/// One fixed card; `ended` says whether its news is over.
struct FixedCard {
    ended_at: Mutex<Option<DateTime<Utc>>>,
}

#[async_trait::async_trait]
impl Content for FixedCard {
    async fn card(&self, _d: &Delivery, sub: Option<&Subscription>) -> R<Option<Card>> {
        let ended_at = *lock(&self.ended_at);
        let embed = |text: &str| json!({"content": text, "embeds": [{"title": text}]});
        Ok(Some(Card {
            marker: "onair · #1".into(),
            ended_at,
            post: sub.map(|_| {
                embed(if ended_at.is_some() {
                    "was live"
                } else {
                    "live"
                })
            }),
            close: ended_at.map(|_| embed("was live")),
            current: sub.map(|_| embed("live")),
            sender: Sender {
                name: "Fritzy".into(),
                avatar_url: None,
            },
            thread_name: "Fritzy · today".into(),
            post_until: None,
        }))
    }
    async fn ended(&self, _d: &Delivery) -> R<bool> {
        Ok(lock(&self.ended_at).is_some())
    }
}

struct Rig {
    store: Arc<MemStore>,
    discord: Arc<ScriptedDiscord>,
    content: Arc<FixedCard>,
    outbox: Arc<Outbox>,
}

impl Rig {
    fn new(discord: ScriptedDiscord, sub: Subscription, d: Delivery) -> Rig {
        let store = Arc::new(MemStore::default());
        lock(&store.subs).insert(sub.id, sub);
        lock(&store.deliveries).insert(d.id, d);
        let discord = Arc::new(discord);
        let content = Arc::new(FixedCard {
            ended_at: Mutex::new(None),
        });
        let outbox = Outbox::start(
            Arc::clone(&store) as Arc<dyn DeliveryStore>,
            Arc::clone(&discord) as Arc<dyn DiscordPort>,
            Arc::clone(&content) as Arc<dyn Content>,
            Options {
                pacing: pacing::Pacing::new(10_000, 10_000),
                concurrency: 2,
                backoff: Duration::from_millis(5),
                backoff_max: Duration::from_millis(20),
                disable_after: 3,
                ..Options::default()
            },
        );
        Rig {
            store,
            discord,
            content,
            outbox,
        }
    }

    async fn run(&self, job: Job) {
        self.outbox.enqueue(job);
        assert!(
            self.outbox.idle(Duration::from_secs(10)).await,
            "the outbox did not settle: {:?}",
            self.discord.calls()
        );
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.outbox.shutdown();
    }
}

fn subscription() -> Subscription {
    Subscription::sample(CHANNEL)
}

fn pending() -> Delivery {
    Delivery::sample(CHANNEL, Utc::now())
}

fn server_error() -> Result<(), DiscordError> {
    Err(DiscordError::Server(502))
}

fn forbidden() -> Result<(), DiscordError> {
    Err(DiscordError::Refused {
        status: 403,
        code: 50001,
        message: "Missing Access".into(),
    })
}

fn unknown_webhook() -> Result<(), DiscordError> {
    Err(DiscordError::Refused {
        status: 404,
        code: 10015,
        message: "Unknown Webhook".into(),
    })
}

#[tokio::test]
async fn a_post_refused_with_5xx_is_retried_with_the_same_nonce_and_recorded_once() {
    let rig = Rig::new(
        ScriptedDiscord::script(vec![server_error(), server_error()]),
        subscription(),
        pending(),
    );
    rig.run(Job::new(&pending(), Step::Post)).await;
    let d = rig.store.delivery_now(1);
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert_eq!(d.message_id, Some(1_000));
    assert_eq!(d.attempts, 2, "two failed attempts noted");
    assert_eq!(rig.discord.count("POST message"), 3);
    let bodies = lock(&rig.discord.bodies).clone();
    assert!(bodies
        .iter()
        .all(|b| b["nonce"] == "onair-1" && b["enforce_nonce"] == true));
    assert!(bodies
        .iter()
        .all(|b| b["embeds"][0]["footer"]["text"] == "onair · #1"));
}

#[tokio::test]
async fn an_answer_lost_past_the_nonce_window_is_found_in_the_channel_not_posted_again() {
    let mut d = pending();
    d.first_attempt_at = Some(Utc::now() - chrono::Duration::minutes(5));
    let discord = ScriptedDiscord::script(vec![]);
    lock(&discord.history).push(json!({
        "id": "4242",
        "author": {"id": BOT.to_string()},
        "embeds": [{"footer": {"text": "onair · #1"}}],
    }));
    let rig = Rig::new(discord, subscription(), d.clone());
    rig.run(Job::new(&d, Step::Post)).await;
    assert_eq!(rig.store.delivery_now(1).message_id, Some(4242));
    assert_eq!(
        rig.discord.count("POST message"),
        0,
        "{:?}",
        rig.discord.calls()
    );
    assert_eq!(rig.discord.count("GET messages"), 1);
}

#[tokio::test]
async fn an_unreadable_history_past_the_nonce_window_drops_the_post_and_shows_why() {
    let mut d = pending();
    d.first_attempt_at = Some(Utc::now() - chrono::Duration::minutes(5));
    let discord = ScriptedDiscord::script(vec![]);
    // The history reads empty, but the channel's newest message is newer
    // than the first attempt: the bot may not read what is there.
    *lock(&discord.last_message) = Some(crate::discord::rest::snowflake_at(Utc::now()));
    let rig = Rig::new(discord, subscription(), d.clone());
    rig.run(Job::new(&d, Step::Post)).await;
    let after = rig.store.delivery_now(1);
    assert_eq!(after.status, DeliveryStatus::Failed);
    assert_eq!(rig.discord.count("POST message"), 0, "never resent blind");
    let sub = rig.store.sub_now(1);
    assert!(
        sub.last_error
            .as_deref()
            .is_some_and(|e| e.contains("Read Message History")),
        "{sub:?}"
    );
    assert!(sub.disabled_reason.is_none(), "shown, not disabled");
}

#[tokio::test]
async fn an_empty_history_with_nothing_newer_past_the_nonce_window_posts_again() {
    let mut d = pending();
    d.first_attempt_at = Some(Utc::now() - chrono::Duration::minutes(5));
    let discord = ScriptedDiscord::script(vec![]);
    // The channel's newest message is older than the first attempt.
    *lock(&discord.last_message) = Some(crate::discord::rest::snowflake_at(
        Utc::now() - chrono::Duration::hours(1),
    ));
    let rig = Rig::new(discord, subscription(), d.clone());
    rig.run(Job::new(&d, Step::Post)).await;
    assert_eq!(rig.store.delivery_now(1).status, DeliveryStatus::Sent);
    assert_eq!(rig.discord.count("POST message"), 1);
    assert_eq!(rig.discord.count("GET channel"), 1);
}

#[tokio::test]
async fn a_channel_unusable_until_the_limit_disables_the_subscription_and_drops_the_post() {
    let rig = Rig::new(
        ScriptedDiscord::script(vec![forbidden(), forbidden(), forbidden(), Ok(())]),
        subscription(),
        pending(),
    );
    rig.run(Job::new(&pending(), Step::Post)).await;
    assert_eq!(rig.store.delivery_now(1).status, DeliveryStatus::Failed);
    assert!(rig.store.sub_now(1).disabled_reason.is_some());
    assert_eq!(rig.discord.count("POST message"), 3, "never a fourth");
}

#[tokio::test]
async fn a_store_failure_is_retried_as_a_store_failure_and_never_counted_against_discord() {
    let rig = Rig::new(ScriptedDiscord::script(vec![]), subscription(), pending());
    rig.store.failing_writes.store(2, Ordering::SeqCst);
    rig.run(Job::new(&pending(), Step::Post)).await;
    let d = rig.store.delivery_now(1);
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert_eq!(d.attempts, 0, "no Discord failure noted");
    assert_eq!(d.last_error, None);
    assert_eq!(rig.store.sub_now(1).consecutive_failures, 0);
    assert_eq!(
        rig.discord.count("POST message"),
        1,
        "nothing left before the first attempt was on record"
    );
}

#[tokio::test]
async fn a_deleted_webhook_is_made_again_once_then_the_member_posts_as_the_bot() {
    let mut sub = subscription();
    sub.identity = Identity::Member;
    let rig = Rig::new(
        ScriptedDiscord::script(vec![unknown_webhook(), unknown_webhook()]),
        sub,
        pending(),
    );
    rig.run(Job::new(&pending(), Step::Post)).await;
    assert_eq!(
        rig.discord.count("POST webhook"),
        2,
        "made, then made again"
    );
    assert_eq!(rig.discord.count("EXECUTE webhook"), 2);
    assert_eq!(rig.discord.count("POST message"), 1, "then as the bot");
    assert_eq!(
        rig.store.sub_now(1).identity_fallback.as_deref(),
        Some(webhook::FALLBACK_DELETED)
    );
    assert_eq!(rig.store.delivery_now(1).status, DeliveryStatus::Sent);
}

#[tokio::test]
async fn a_card_whose_news_ended_while_it_went_out_is_closed_and_its_thread_follows() {
    let mut sub = subscription();
    sub.thread = true;
    let rig = Rig::new(ScriptedDiscord::script(vec![]), sub, pending());
    rig.run(Job::new(&pending(), Step::Post)).await;
    let d = rig.store.delivery_now(1);
    assert!(d.thread_id.is_some(), "{:?}", rig.discord.calls());
    *lock(&rig.content.ended_at) = Some(Utc::now());
    rig.run(Job::new(&d, Step::Close)).await;
    let d = rig.store.delivery_now(1);
    assert!(d.end_edited_at.is_some());
    assert!(d.thread_archived_at.is_some(), "{:?}", rig.discord.calls());
    assert_eq!(
        rig.discord.calls(),
        [
            "POST message 10",
            "POST thread 10/1000",
            "PATCH message 10/1000",
            "ARCHIVE thread 1001",
        ]
    );
}

#[tokio::test]
async fn a_dropped_delivery_is_never_touched_again() {
    let mut d = pending();
    d.status = DeliveryStatus::Failed;
    let rig = Rig::new(ScriptedDiscord::script(vec![]), subscription(), d.clone());
    for step in [Step::Post, Step::Close, Step::Redraw, Step::StartThread] {
        rig.run(Job::new(&d, step)).await;
    }
    assert!(rig.discord.calls().is_empty());
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A card that says which renderer made it.
struct Labelled(&'static str);

#[async_trait::async_trait]
impl Content for Labelled {
    async fn card(&self, d: &Delivery, _sub: Option<&Subscription>) -> R<Option<Card>> {
        let body = json!({"content": self.0, "embeds": [{"title": self.0}]});
        Ok(Some(Card {
            marker: format!("onair · #{}", d.id),
            ended_at: None,
            post: Some(body.clone()),
            close: None,
            current: Some(body),
            sender: Sender {
                name: self.0.into(),
                avatar_url: None,
            },
            thread_name: self.0.into(),
            post_until: None,
        }))
    }
    async fn ended(&self, _d: &Delivery) -> R<bool> {
        Ok(false)
    }
}

#[tokio::test]
async fn each_kind_of_delivery_goes_out_as_its_own_renderer_draws_it_and_an_unknown_kind_waits() {
    let store = Arc::new(MemStore::default());
    lock(&store.subs).insert(1, subscription());
    let kinds = [(1, KIND_LIVE), (2, "reminder"), (3, "news")];
    for (id, kind) in kinds {
        lock(&store.deliveries).insert(
            id,
            Delivery {
                id,
                kind: kind.into(),
                ..pending()
            },
        );
    }
    let discord = Arc::new(ScriptedDiscord::script(vec![]));
    let outbox = Outbox::start(
        Arc::clone(&store) as Arc<dyn DeliveryStore>,
        Arc::clone(&discord) as Arc<dyn DiscordPort>,
        Arc::new(
            ByKind::default()
                .with(KIND_LIVE, Arc::new(Labelled("live card")))
                .with("reminder", Arc::new(Labelled("reminder card"))),
        ),
        Options {
            pacing: pacing::Pacing::new(10_000, 10_000),
            concurrency: 2,
            ..Options::default()
        },
    );
    let jobs = kinds
        .iter()
        .map(|(id, _)| Job::new(&store.delivery_now(*id), Step::Post))
        .collect();
    outbox.enqueue_all(jobs);
    assert!(outbox.idle(Duration::from_secs(10)).await);
    outbox.shutdown();
    let mut said: Vec<String> = lock(&discord.bodies)
        .iter()
        .map(|b| format!("{} {}", b["content"], b["embeds"][0]["footer"]["text"]))
        .collect();
    said.sort();
    assert_eq!(
        said,
        [
            r#""live card" "onair · #1""#,
            r#""reminder card" "onair · #2""#
        ]
    );
    assert_eq!(store.delivery_now(1).status, DeliveryStatus::Sent);
    assert_eq!(store.delivery_now(2).status, DeliveryStatus::Sent);
    let unknown = store.delivery_now(3);
    assert_eq!(
        unknown.status,
        DeliveryStatus::Pending,
        "left for a process that renders it"
    );
    assert_eq!(unknown.first_attempt_at, None);
}
