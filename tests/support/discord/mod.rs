//! A fake Discord on 127.0.0.1 that the real serenity/poise bot connects
//! to: REST under `/api/v10` and a JSON gateway websocket. It records every
//! request, keeps the messages it was sent per channel, checks every JSON
//! body against Discord's OpenAPI document (`tests/support/spec.rs`), sends
//! a `GUILD_CREATE` for each of the shard's guilds after READY (and on
//! demand: a guild joined, a guild back from an outage), pushes
//! `INTERACTION_CREATE`, refuses what the bot's roles and the channels'
//! overwrites do not allow, and injects faults (429 with Discord's headers
//! and body, 403/404 with Discord's codes, 5xx).
//!
//! This file holds the public [`FakeDiscord`] handle, what it records and
//! the state behind it. Each concern has its own file in
//! `tests/support/discord/`:
//!
//! - `routes.rs`: the REST routes, one handler per resource, and the
//!   credential checks every request goes through;
//! - `gateway.rs`: the websocket gateway (IDENTIFY, RESUME, shards) and
//!   dispatches;
//! - `interactions.rs`: slash commands, buttons and reading their answers,
//!   and Discord's rules for answering them (only registered commands are
//!   pushed; a callback needs the interaction's own token, in time, once,
//!   with a type that fits the interaction; follow-ups and `@original`
//!   need an acknowledged interaction whose token is under 15 minutes old);
//! - `limits.rs`: Discord's rate limits (every route's bucket, the global
//!   and per-IP limits), their headers and the invalid-request ban;
//! - `permissions.rs`: permission bits and a member's permissions in a
//!   channel (roles, overwrites), by Discord's algorithm;
//! - `faults.rs`: injected faults and lost answers;
//! - `builders.rs`: Discord's objects (messages, roles, channels, webhooks,
//!   errors) built from `tests/data/gateway-samples.json`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, Notify};

mod builders;
mod faults;
mod gateway;
mod interactions;
mod limits;
mod permissions;
mod routes;

use builders::samples;
use faults::FaultRule;

// The public API of the fake, wherever its parts live. Each test binary
// uses a different part of it (as `#![allow(dead_code)]` in
// `tests/support/mod.rs` says for the items themselves).
#[allow(unused_imports)]
pub use faults::{Fault, Loss};
#[allow(unused_imports)]
pub use gateway::{on_shard, IDENTIFY_WINDOW};
#[allow(unused_imports)]
pub use interactions::{Invoker, Pushed, INTERACTION_DEADLINE, INTERACTION_TOKEN_LIFETIME};
#[allow(unused_imports)]
pub use limits::{Scope, GLOBAL_PER_SECOND, INVALID_BAN};
#[allow(unused_imports)]
pub use permissions::{
    permissions_in, ADMINISTRATOR, ALL_PERMISSIONS, CREATE_PUBLIC_THREADS, EMBED_LINKS,
    EVERY_PERMISSION, MANAGE_GUILD, MANAGE_THREADS, MANAGE_WEBHOOKS, MENTION_EVERYONE,
    READ_MESSAGE_HISTORY, SEND_MESSAGES, VIEW_CHANNEL,
};

pub const APP_ID: u64 = 1100000000000000001;
pub const BOT_ID: u64 = 1100000000000000001;
pub const GUILD_ID: u64 = 1200000000000000001;
pub const CHANNEL_ID: u64 = 1300000000000000001;
pub const USER_ID: u64 = 1400000000000000001;
/// The owner of every fake guild unless a test says otherwise (someone
/// who never invokes a command).
pub const OWNER_ID: u64 = 1400000000000000009;

/// How every interaction token and every channel webhook token the fake
/// hands out begins: none may ever reach a log.
pub const TOKEN_MARKERS: [&str; 2] = ["INTERACTION-TOKEN-SECRET-", "WEBHOOK-TOKEN-SECRET-"];

/// One request the bot made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The query string ("" when none).
    pub query: String,
    pub body: Option<Value>,
    pub status: u16,
    pub at: Instant,
}

/// A message the bot posted in a channel (with its latest content).
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: u64,
    pub channel_id: u64,
    pub body: Value,
    pub edits: usize,
    pub at: Instant,
    /// What the channel showed over time: (when, content), the post first,
    /// then every edit.
    pub history: Vec<(Instant, String)>,
    /// Who posted it (the bot, unless a test injected someone's message;
    /// a channel webhook's id for its messages).
    pub author_id: u64,
    /// The channel webhook that posted it.
    pub webhook_id: Option<u64>,
    /// The thread started on it.
    pub thread_id: Option<u64>,
}

impl StoredMessage {
    /// A message as posted now by `author` (through `webhook`, if one).
    fn new(id: u64, channel_id: u64, body: Value, author_id: u64, webhook_id: Option<u64>) -> Self {
        let content = body["content"].as_str().unwrap_or("").to_string();
        StoredMessage {
            id,
            channel_id,
            body,
            edits: 0,
            at: Instant::now(),
            history: vec![(Instant::now(), content)],
            author_id,
            webhook_id,
            thread_id: None,
        }
    }

    /// Discord's edit: the body's fields replace the message's.
    fn apply_edit(&mut self, edit: &Value) {
        if let (Some(cur), Some(b)) = (self.body.as_object_mut(), edit.as_object()) {
            for (k, v) in b {
                cur.insert(k.clone(), v.clone());
            }
        }
        self.edits += 1;
        let content = self.body["content"].as_str().unwrap_or("").to_string();
        self.history.push((Instant::now(), content));
    }
}

/// A channel webhook (made through `POST /channels/{id}/webhooks`).
#[derive(Debug, Clone)]
pub struct FakeWebhook {
    pub id: u64,
    pub channel_id: u64,
    pub token: String,
    pub name: String,
    pub deleted: bool,
}

/// A thread started on a message.
#[derive(Debug, Clone)]
pub struct FakeThread {
    pub id: u64,
    pub parent_id: u64,
    pub message_id: u64,
    pub name: String,
    pub archived: bool,
}

/// A role of a fake guild (besides @everyone, whose id is the guild's).
#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub id: u64,
    pub name: String,
    /// Its guild-level permissions.
    pub permissions: u64,
    pub mentionable: bool,
}

impl RoleSpec {
    /// A role with no permissions, not mentionable.
    pub fn new(id: u64, name: &str) -> Self {
        RoleSpec {
            id,
            name: name.into(),
            permissions: 0,
            mentionable: false,
        }
    }

    pub fn permissions(mut self, permissions: u64) -> Self {
        self.permissions = permissions;
        self
    }

    pub fn mentionable(mut self, mentionable: bool) -> Self {
        self.mentionable = mentionable;
        self
    }
}

/// A channel's permission overwrite as Discord keeps it: for a role
/// (`kind` 0; @everyone's id is the guild's) or a member (`kind` 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overwrite {
    pub id: u64,
    pub kind: u8,
    pub allow: u64,
    pub deny: u64,
}

impl Overwrite {
    pub fn role(id: u64, allow: u64, deny: u64) -> Self {
        Overwrite {
            id,
            kind: 0,
            allow,
            deny,
        }
    }

    pub fn member(id: u64, allow: u64, deny: u64) -> Self {
        Overwrite {
            id,
            kind: 1,
            allow,
            deny,
        }
    }
}

/// A channel of a fake guild: its permission overwrites, and
/// `deny_everyone`, bits denied to @everyone (short for that overwrite;
/// merged into it when both are given).
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub id: u64,
    pub name: String,
    pub deny_everyone: u64,
    pub overwrites: Vec<Overwrite>,
}

impl ChannelSpec {
    /// A channel without overwrites.
    pub fn new(id: u64) -> Self {
        ChannelSpec {
            id,
            name: format!("channel-{id}"),
            deny_everyone: 0,
            overwrites: vec![],
        }
    }

    /// The overwrites as Discord shows them, `deny_everyone` included in
    /// @everyone's (`guild`'s id).
    pub fn effective_overwrites(&self, guild: u64) -> Vec<Overwrite> {
        let mut all = self.overwrites.clone();
        if self.deny_everyone != 0 {
            match all.iter_mut().find(|o| o.kind == 0 && o.id == guild) {
                Some(o) => o.deny |= self.deny_everyone,
                None => all.insert(0, Overwrite::role(guild, 0, self.deny_everyone)),
            }
        }
        all
    }
}

#[derive(Debug, Clone)]
pub struct GuildSpec {
    pub id: u64,
    pub name: String,
    pub locale: String,
    pub channels: Vec<ChannelSpec>,
    /// Permissions of @everyone.
    pub everyone_permissions: u64,
    /// The other roles.
    pub roles: Vec<RoleSpec>,
    /// The roles the bot has (besides @everyone).
    pub bot_roles: Vec<u64>,
    /// Who owns the server (has every permission): neither the bot nor
    /// the default invoker unless a test says so.
    pub owner_id: u64,
}

impl GuildSpec {
    pub fn new(id: u64, channels: &[u64]) -> Self {
        GuildSpec {
            id,
            name: format!("Guild {id}"),
            locale: "en-US".into(),
            channels: channels.iter().map(|c| ChannelSpec::new(*c)).collect(),
            everyone_permissions: VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY,
            roles: vec![],
            bot_roles: vec![],
            owner_id: OWNER_ID,
        }
    }

    /// The channel `id`, to change it.
    pub fn channel_mut(&mut self, id: u64) -> &mut ChannelSpec {
        self.channels
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no channel {id} in guild {}", self.id))
    }

    /// Give the bot `role` (added to the guild's roles).
    pub fn bot_role(mut self, role: RoleSpec) -> Self {
        self.bot_roles.push(role.id);
        self.roles.push(role);
        self
    }
}

/// Everything the fake knows, behind one lock; grouped by the file that
/// mostly uses it.
#[derive(Default)]
struct State {
    // What the bot sent (mod.rs, routes.rs).
    requests: Vec<Recorded>,
    /// Bodies Discord would refuse (checked by `tests/support/spec.rs`).
    violations: Vec<String>,
    /// Requests refused for a missing `Authorization: Bot` or a User-Agent
    /// that is not `DiscordBot (…)`.
    unauthenticated: Vec<String>,

    // Discord's resources (routes.rs).
    next_id: u64,
    guilds: HashMap<u64, GuildSpec>,
    /// Guilds the bot was removed from.
    left: HashSet<u64>,
    /// Deleted channels.
    deleted: HashSet<u64>,
    messages: HashMap<u64, Vec<StoredMessage>>,
    /// (channel, nonce) -> (message id, when): Discord remembers an
    /// `enforce_nonce` nonce for a few minutes only.
    nonces: HashMap<(u64, String), (u64, Instant)>,
    nonce_window: Option<Duration>,
    webhooks: HashMap<u64, FakeWebhook>,
    threads: HashMap<u64, FakeThread>,

    // Interactions and their answers (interactions.rs, routes.rs).
    /// Pushed interactions by id.
    interactions: HashMap<String, interactions::Interaction>,
    /// Command names of the last bulk overwrite of the global commands.
    commands_global: HashSet<String>,
    /// Command names of the last bulk overwrite of each guild's commands.
    commands_guild: HashMap<u64, HashSet<String>>,
    originals: HashMap<String, Value>,
    followups: HashMap<String, Vec<Value>>,

    // The gateway (gateway.rs).
    seq: u64,
    /// Every dispatched frame with its sequence number, for RESUME.
    /// (sequence, the guild it concerns, frame).
    sent_log: VecDeque<(u64, Option<u64>, String)>,
    /// Frames dropped from the front of `sent_log`: a RESUME from before
    /// them cannot be replayed (Discord answers op 9).
    sent_log_dropped_to: u64,
    identified: usize,
    /// The guild of every GUILD_CREATE a session delivered, in order.
    guild_creates_delivered: Vec<u64>,
    /// `[shard_id, shard_count]` of every IDENTIFY, in order.
    identified_shards: Vec<[u64; 2]>,
    /// When each accepted IDENTIFY arrived, with its shard.
    identify_times: Vec<(Instant, [u64; 2])>,
    resumed: usize,
    /// What `/gateway/bot` recommends.
    recommended_shards: u64,
    gateway: gateway::Rules,

    // Rate limits (limits.rs).
    /// Limits a test set on buckets, by hash.
    route_limits: HashMap<&'static str, (usize, Duration)>,
    /// (bucket hash, major parameter) -> requests in its window.
    route_sends: HashMap<(&'static str, u64), VecDeque<Instant>>,
    global_limit: Option<usize>,
    global_window: VecDeque<Instant>,
    /// Requests without the bot's token (webhook executions): Discord
    /// counts them per IP, apart from the bot's global limit.
    ip_limit: Option<usize>,
    ip_window: VecDeque<Instant>,
    rate_limited: usize,
    /// When each answer Discord counts as invalid (401, 403, 429 but
    /// shared) went out, over the last 10 minutes.
    invalid: VecDeque<Instant>,
    /// A test's lower ban threshold (Discord: 10,000).
    invalid_ban: Option<usize>,
    /// The IP is blocked until then: every request gets Cloudflare's 429.
    banned_until: Option<Instant>,

    // Injected faults (faults.rs).
    faults: Vec<FaultRule>,
    /// Writes whose answer is lost after the work is done.
    losses: Vec<faults::LossRule>,
}

impl State {
    /// A new id as Discord makes them: a snowflake whose top bits are the
    /// milliseconds since Discord's epoch (so `after=` works by time),
    /// strictly increasing.
    fn new_id(&mut self) -> u64 {
        let ms = chrono::Utc::now().timestamp_millis() as u64 - DISCORD_EPOCH_MS;
        self.next_id = (ms << 22).max(self.next_id + 1);
        self.next_id
    }
}

/// 2015-01-01T00:00:00Z, the epoch of Discord's snowflakes.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

struct Inner {
    state: Mutex<State>,
    /// Held while one REST request is handled (what it changes, then its
    /// record) and while a wait reads its condition: a waiter sees a
    /// request whole or not at all (never a stored edit whose request is
    /// not yet in `requests`).
    serial: Mutex<()>,
    changed: Notify,
    /// (the guild a dispatch concerns, frame): each session forwards only
    /// its shard's guilds, as Discord does.
    frames: broadcast::Sender<(Option<u64>, String)>,
    samples: Value,
    gateway_url: String,
}

pub struct FakeDiscord {
    inner: Arc<Inner>,
    pub rest_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    /// Every test checks, without opting in, that Discord would have
    /// accepted every body and every request's credentials.
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if std::thread::panicking() {
            return;
        }
        let s = self.state();
        let mut problems: Vec<String> = s.violations.clone();
        problems.extend(s.unauthenticated.iter().cloned());
        drop(s);
        if !problems.is_empty() {
            panic!(
                "the fake Discord refused what the bot sent:\n{}",
                problems.join("\n")
            );
        }
    }
}

/// How long the fake remembers a nonce unless a test says otherwise.
pub const DEFAULT_NONCE_WINDOW: Duration = Duration::from_secs(180);

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind REST");
        let gw = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind gateway");
        let rest_addr = rest.local_addr().expect("addr");
        let gw_addr = gw.local_addr().expect("addr");
        let (frames, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                next_id: 0,
                // Discord's global and per-IP limits, on by default (every
                // route's bucket is, always).
                global_limit: Some(limits::GLOBAL_PER_SECOND),
                ip_limit: Some(limits::GLOBAL_PER_SECOND),
                ..State::default()
            }),
            serial: Mutex::new(()),
            changed: Notify::new(),
            frames,
            samples: samples(),
            gateway_url: format!("ws://{gw_addr}"),
        });
        let app_inner = Arc::clone(&inner);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let inner = Arc::clone(&app_inner);
                async move {
                    let (response, delay) = inner.handle(method, uri, headers, body);
                    if let Some(d) = delay {
                        tokio::time::sleep(d).await;
                    }
                    response
                }
            },
        );
        let rest_task = tokio::spawn(async move {
            let _ = axum::serve(rest, app).await;
        });
        let gw_inner = Arc::clone(&inner);
        let gw_task = tokio::spawn(async move {
            while let Ok((stream, _)) = gw.accept().await {
                tokio::spawn(Arc::clone(&gw_inner).session(stream));
            }
        });
        let fd = FakeDiscord {
            inner,
            rest_addr,
            tasks: vec![rest_task, gw_task],
        };
        fd.add_guild(GuildSpec::new(GUILD_ID, &[CHANNEL_ID]));
        fd
    }

    /// The value for the bot's `DISCORD_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn wait_until(&self, timeout: Duration, what: &str, f: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        let holds = || {
            let _whole = self.inner.serial.lock().unwrap_or_else(|e| e.into_inner());
            f(&self.state())
        };
        loop {
            let notified = self.inner.changed.notified();
            if holds() {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                if holds() {
                    return;
                }
                let seen: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
                    .collect();
                panic!(
                    "timed out after {timeout:?} waiting for {what}; requests seen:\n{}",
                    seen.join("\n")
                );
            }
        }
    }

    /// Wait for a request matching `pred` (made at or after `since`).
    pub async fn wait_request(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Recorded {
        self.wait_until(timeout, what, |s| s.requests.iter().any(&pred))
            .await;
        self.requests()
            .into_iter()
            .find(|r| pred(r))
            .expect("request present")
    }

    /// Wait until `f` holds over the state of messages and requests.
    pub async fn wait_for(&self, timeout: Duration, what: &str, f: impl Fn(&FakeDiscord) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if f(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() && !f(self) {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
        }
    }

    /// How many recorded requests match, without copying them.
    pub fn request_count(&self, pred: impl Fn(&Recorded) -> bool) -> usize {
        self.state().requests.iter().filter(|r| pred(r)).count()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Forget refused bodies a test sent on purpose.
    pub fn clear_violations(&self) {
        self.state().violations.clear();
    }

    /// Panic listing every body Discord would have refused.
    pub fn assert_spec_clean(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "bodies Discord would refuse:\n{}",
            v.join("\n")
        );
    }

    pub fn messages(&self, channel: u64) -> Vec<StoredMessage> {
        self.state()
            .messages
            .get(&channel)
            .cloned()
            .unwrap_or_default()
    }

    /// How many messages were posted, without copying them.
    pub fn message_count(&self) -> usize {
        self.state().messages.values().map(Vec::len).sum()
    }

    pub fn all_messages(&self) -> Vec<StoredMessage> {
        let s = self.state();
        s.messages.values().flatten().cloned().collect()
    }

    /// The current `@original` response of an interaction.
    pub fn original(&self, token: &str) -> Option<Value> {
        self.state().originals.get(token).cloned()
    }

    pub fn followups(&self, token: &str) -> Vec<Value> {
        self.state()
            .followups
            .get(token)
            .cloned()
            .unwrap_or_default()
    }

    /// How long a message nonce is remembered (Discord: a few minutes).
    pub fn set_nonce_window(&self, window: Duration) {
        self.state().nonce_window = Some(window);
    }

    /// Someone else (a fan) posts in `channel`.
    pub fn inject_message(&self, channel: u64, author: u64, content: &str) {
        let mut s = self.state();
        let id = s.new_id();
        s.messages
            .entry(channel)
            .or_default()
            .push(StoredMessage::new(
                id,
                channel,
                json!({ "content": content }),
                author,
                None,
            ));
    }

    /// Requests refused for missing `Authorization` / `User-Agent`.
    pub fn unauthenticated(&self) -> Vec<String> {
        self.state().unauthenticated.clone()
    }

    /// Forget refusals a test caused on purpose (its own bad requests).
    pub fn clear_unauthenticated(&self) {
        self.state().unauthenticated.clear();
    }

    /// An admin changes `channel`'s overwrite: @everyone (so the bot) is
    /// denied `bits` there from now on.
    pub fn deny_in_channel(&self, channel: u64, bits: u64) {
        let mut s = self.state();
        for g in s.guilds.values_mut() {
            for c in g.channels.iter_mut().filter(|c| c.id == channel) {
                c.deny_everyone = bits;
            }
        }
    }

    pub fn delete_channel(&self, id: u64) {
        self.state().deleted.insert(id);
    }

    /// The channel webhooks made so far (deleted ones too).
    pub fn webhooks(&self) -> Vec<FakeWebhook> {
        let mut v: Vec<FakeWebhook> = self.state().webhooks.values().cloned().collect();
        v.sort_by_key(|w| w.id);
        v
    }

    /// Someone deletes the webhook in Discord's UI.
    pub fn delete_webhook(&self, id: u64) {
        if let Some(w) = self.state().webhooks.get_mut(&id) {
            w.deleted = true;
        }
    }

    pub fn threads(&self) -> Vec<FakeThread> {
        let mut v: Vec<FakeThread> = self.state().threads.values().cloned().collect();
        v.sort_by_key(|t| t.id);
        v
    }

    pub fn add_guild(&self, g: GuildSpec) {
        self.state().guilds.insert(g.id, g);
    }
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
