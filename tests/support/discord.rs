//! A fake Discord on 127.0.0.1 that the real serenity/poise bot connects
//! to: REST under `/api/v10` and a JSON gateway websocket. It records every
//! request, keeps the messages it was sent per channel, checks every JSON
//! body against Discord's OpenAPI document (`spec.rs`), pushes
//! `GUILD_CREATE` / `INTERACTION_CREATE` on demand and injects faults (429
//! with Discord's headers and body, 403/404 with Discord's codes, 5xx).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, Notify};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::spec;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/gateway-samples.json"
);
pub const APP_ID: u64 = 1100000000000000001;
pub const BOT_ID: u64 = 1100000000000000001;
pub const GUILD_ID: u64 = 1200000000000000001;
pub const CHANNEL_ID: u64 = 1300000000000000001;
pub const USER_ID: u64 = 1400000000000000001;
/// Every permission a server owner has (as Discord sends it).
pub const ALL_PERMISSIONS: u64 = 2248473465835073;
pub const MANAGE_GUILD: u64 = 1 << 5;
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const MENTION_EVERYONE: u64 = 1 << 17;
pub const ADMINISTRATOR: u64 = 1 << 3;

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

/// MANAGE_WEBHOOKS, CREATE_PUBLIC_THREADS, MANAGE_THREADS.
pub const MANAGE_WEBHOOKS: u64 = 1 << 29;
pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
pub const MANAGE_THREADS: u64 = 1 << 34;

/// A fault to inject.
#[derive(Debug, Clone)]
pub enum Fault {
    RateLimited {
        retry_after: f64,
        global: bool,
    },
    Discord {
        status: u16,
        code: u64,
        message: &'static str,
    },
    Server(u16),
    /// Any status with this exact JSON body (e.g. a 400 with `errors`).
    Body {
        status: u16,
        body: Value,
    },
}

#[derive(Debug, Clone)]
struct FaultRule {
    method: String,
    path_prefix: String,
    fault: Fault,
    times: usize,
    /// When set, the rule applies until then (however many times).
    until: Option<Instant>,
}

/// A channel of a fake guild; `deny_everyone` are permission bits denied to
/// @everyone in this channel.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub id: u64,
    pub name: String,
    pub deny_everyone: u64,
}

#[derive(Debug, Clone)]
pub struct GuildSpec {
    pub id: u64,
    pub name: String,
    pub locale: String,
    pub channels: Vec<ChannelSpec>,
    /// Permissions of @everyone (the bot has no other role).
    pub everyone_permissions: u64,
    /// Extra roles: (id, name, mentionable).
    pub roles: Vec<(u64, String, bool)>,
}

impl GuildSpec {
    pub fn new(id: u64, channels: &[u64]) -> Self {
        GuildSpec {
            id,
            name: format!("Guild {id}"),
            locale: "en-US".into(),
            channels: channels
                .iter()
                .map(|c| ChannelSpec {
                    id: *c,
                    name: format!("channel-{c}"),
                    deny_everyone: 0,
                })
                .collect(),
            everyone_permissions: VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | 1 << 16,
            roles: vec![],
        }
    }
}

/// Who sends an interaction and from where.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub user_id: u64,
    pub guild_id: u64,
    pub channel_id: u64,
    pub permissions: u64,
    pub locale: String,
    pub guild_locale: String,
}

impl Default for Invoker {
    fn default() -> Self {
        Invoker {
            user_id: USER_ID,
            guild_id: GUILD_ID,
            channel_id: CHANNEL_ID,
            // A server admin (Manage Server) by default.
            permissions: ALL_PERMISSIONS | MANAGE_GUILD,
            locale: "en-US".into(),
            guild_locale: "en-US".into(),
        }
    }
}

/// A pushed interaction: its id and token, and when the frame left.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub id: u64,
    pub token: String,
    pub sent_at: Instant,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    violations: Vec<String>,
    messages: HashMap<u64, Vec<StoredMessage>>,
    originals: HashMap<String, Value>,
    followups: HashMap<String, Vec<Value>>,
    next_id: u64,
    faults: Vec<FaultRule>,
    deleted: HashSet<u64>,
    /// Guilds the bot was removed from.
    left: HashSet<u64>,
    /// (channel, nonce) -> (message id, when): Discord remembers an
    /// `enforce_nonce` nonce for a few minutes only.
    nonces: HashMap<(u64, String), (u64, Instant)>,
    nonce_window: Option<Duration>,
    /// POSTs to these channels store the message, then lose the answer
    /// (502 after the delay), as a dropped connection would.
    lost_answers: Vec<(u64, usize, Duration)>,
    /// Requests refused for a missing `Authorization: Bot` or a User-Agent
    /// that is not `DiscordBot (…)`.
    unauthenticated: Vec<String>,
    /// Pushed interactions: id -> (when, acknowledged).
    interactions: HashMap<String, (Instant, bool)>,
    /// Every dispatched frame with its sequence number, for RESUME.
    /// (sequence, the guild it concerns, frame).
    sent_log: VecDeque<(u64, Option<u64>, String)>,
    /// `[shard_id, shard_count]` of every IDENTIFY, in order.
    identified_shards: Vec<[u64; 2]>,
    /// What `/gateway/bot` recommends.
    recommended_shards: u64,
    resumed: usize,
    guilds: HashMap<u64, GuildSpec>,
    identified: usize,
    seq: u64,
    channel_limit: Option<(usize, Duration)>,
    channel_sends: HashMap<u64, VecDeque<Instant>>,
    global_limit: Option<usize>,
    global_window: VecDeque<Instant>,
    /// Requests without the bot's token (webhook executions): Discord
    /// counts them per IP, apart from the bot's global limit.
    ip_limit: Option<usize>,
    ip_window: VecDeque<Instant>,
    rate_limited: usize,
    webhooks: HashMap<u64, FakeWebhook>,
    threads: HashMap<u64, FakeThread>,
    /// Thread creations that start the thread, then lose the answer.
    lost_thread_answers: usize,
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

/// The internal signal that closes every gateway connection.
const CLOSE: &str = "__close__";

/// Discord's deadline for the first answer to an interaction.
pub const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);

fn samples() -> Value {
    let text = std::fs::read_to_string(SAMPLES)
        .unwrap_or_else(|e| panic!("read {SAMPLES}: {e} (vendored test data)"));
    serde_json::from_str(&text).expect("gateway samples are JSON")
}

/// How long the fake remembers a nonce unless a test says otherwise.
pub const DEFAULT_NONCE_WINDOW: Duration = Duration::from_secs(180);

/// Discord refuses a request without `Authorization: Bot …` (except on the
/// token-authenticated interaction and webhook routes) and, per its
/// documentation, one without a `DiscordBot (url, version)` User-Agent.
fn authentication_problem(path: &str, headers: &HeaderMap) -> Option<&'static str> {
    let ua = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ua.starts_with("DiscordBot (") {
        return Some("User-Agent is not `DiscordBot (url, version)`");
    }
    let token_route =
        path.starts_with("/api/v10/interactions/") || path.starts_with("/api/v10/webhooks/");
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !token_route && !auth.starts_with("Bot ") {
        return Some("no `Authorization: Bot …`");
    }
    None
}

fn webhook_object(w: &FakeWebhook) -> Value {
    json!({
        "id": w.id.to_string(), "type": 1, "channel_id": w.channel_id.to_string(),
        "guild_id": GUILD_ID.to_string(), "name": w.name, "avatar": null, "token": w.token,
        "application_id": APP_ID.to_string(),
        "user": {"id": BOT_ID.to_string(), "username": "onair-bot", "discriminator": "0", "bot": true, "avatar": null}
    })
}

fn thread_object(t: &FakeThread) -> Value {
    json!({
        "id": t.id.to_string(), "type": 11, "guild_id": GUILD_ID.to_string(),
        "parent_id": t.parent_id.to_string(), "owner_id": BOT_ID.to_string(), "name": t.name,
        "thread_metadata": {"archived": t.archived, "auto_archive_duration": 1440,
            "archive_timestamp": "2026-12-01T00:00:00.000000+00:00", "locked": false}
    })
}

fn discord_error(status: u16, code: u64, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({"message": message, "code": code})),
    )
        .into_response()
}

fn rate_limited(retry_after: f64, global: bool) -> Response {
    let mut headers = HeaderMap::new();
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        h.insert(k, v.parse().expect("header value"));
    };
    // A global 429 carries only the global headers (no bucket: it is not
    // a route's bucket that ran out).
    if !global {
        set(&mut headers, "x-ratelimit-limit", "5".into());
        set(&mut headers, "x-ratelimit-remaining", "0".into());
        set(
            &mut headers,
            "x-ratelimit-reset-after",
            format!("{retry_after:.3}"),
        );
        set(
            &mut headers,
            "x-ratelimit-reset",
            format!("{:.3}", chrono::Utc::now().timestamp() as f64 + retry_after),
        );
        set(&mut headers, "x-ratelimit-bucket", "fakebucket".into());
    }
    set(
        &mut headers,
        "retry-after",
        format!("{}", retry_after.ceil() as u64),
    );
    set(
        &mut headers,
        "x-ratelimit-scope",
        if global { "global" } else { "user" }.into(),
    );
    if global {
        set(&mut headers, "x-ratelimit-global", "true".into());
    }
    let body = json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global});
    (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response()
}

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
                // Discord's per-channel message limit, on by default.
                channel_limit: Some((5, Duration::from_secs(5))),
                ..State::default()
            }),
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

    /// Wait until a client identified (and got READY).
    pub async fn wait_ready(&self, timeout: Duration) {
        self.wait_until(timeout, "the bot to identify", |s| s.identified > 0)
            .await;
    }

    /// Wait until `n` gateway sessions have identified in total.
    pub async fn wait_identified(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, "another identify", |s| s.identified >= n)
            .await;
    }

    async fn wait_until(&self, timeout: Duration, what: &str, f: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if f(&self.state()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                if f(&self.state()) {
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

    pub fn rate_limited_count(&self) -> usize {
        self.state().rate_limited
    }

    pub fn fail_next(&self, method: &str, path_prefix: &str, fault: Fault, times: usize) {
        self.state().faults.push(FaultRule {
            method: method.into(),
            path_prefix: path_prefix.into(),
            fault,
            times,
            until: None,
        });
    }

    /// Serve normally again: every pending fault is forgotten.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Answer every matching request with `fault` for `duration` from now
    /// (an incident), then serve normally again.
    pub fn fail_for(&self, method: &str, path_prefix: &str, fault: Fault, duration: Duration) {
        self.state().faults.push(FaultRule {
            method: method.into(),
            path_prefix: path_prefix.into(),
            fault,
            times: usize::MAX,
            until: Some(Instant::now() + duration),
        });
    }

    /// How long a message nonce is remembered (Discord: a few minutes).
    pub fn set_nonce_window(&self, window: Duration) {
        self.state().nonce_window = Some(window);
    }

    /// The next `times` message POSTs to `channel` store the message, then
    /// lose the answer: a 502 after `delay`.
    pub fn lose_answers(&self, channel: u64, times: usize, delay: Duration) {
        self.state().lost_answers.push((channel, times, delay));
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

    pub fn delete_channel(&self, id: u64) {
        self.state().deleted.insert(id);
    }

    /// At most `n` messages per `window` per channel, 429 past it.
    pub fn set_channel_limit(&self, n: usize, window: Duration) {
        self.state().channel_limit = Some((n, window));
    }

    /// At most `rps` requests per second overall, global 429 past it.
    pub fn set_global_limit(&self, rps: usize) {
        self.state().global_limit = Some(rps);
    }

    /// Discord's per-IP limit on requests without a bot token (webhooks).
    pub fn set_ip_limit(&self, rps: usize) {
        self.state().ip_limit = Some(rps);
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

    /// The next `n` thread creations start the thread, then answer 502.
    pub fn lose_thread_answers(&self, n: usize) {
        self.state().lost_thread_answers = n;
    }

    pub fn threads(&self) -> Vec<FakeThread> {
        let mut v: Vec<FakeThread> = self.state().threads.values().cloned().collect();
        v.sort_by_key(|t| t.id);
        v
    }

    pub fn add_guild(&self, g: GuildSpec) {
        self.state().guilds.insert(g.id, g);
    }

    fn next_seq(&self) -> u64 {
        let mut s = self.state();
        s.seq += 1;
        s.seq
    }

    /// Push a dispatch to every connected gateway session.
    pub fn dispatch(&self, t: &str, d: Value) -> Instant {
        let frame = json!({"op": 0, "t": t, "s": self.next_seq(), "d": d}).to_string();
        // What serenity cannot read it drops with a debug line, and the
        // test would only see a command that never answers: check here.
        match serde_json::from_str::<serenity::all::GatewayEvent>(&frame) {
            Ok(serenity::all::GatewayEvent::Dispatch(_, serenity::all::Event::Unknown(_))) => {
                panic!("serenity would drop this {t} frame as an unknown event\n{frame}")
            }
            Ok(_) => {}
            Err(e) => panic!("serenity would drop this {t} frame: {e}\n{frame}"),
        }
        // The guild it concerns routes it to that guild's shard.
        let guild = d["guild_id"]
            .as_str()
            .or_else(|| {
                matches!(t, "GUILD_CREATE" | "GUILD_DELETE")
                    .then(|| d["id"].as_str())
                    .flatten()
            })
            .and_then(|g| g.parse::<u64>().ok());
        let at = Instant::now();
        {
            // Kept for RESUME: a client that reconnects gets what it missed.
            let mut st = self.state();
            let seq = st.seq;
            st.sent_log.push_back((seq, guild, frame.clone()));
            if st.sent_log.len() > 2000 {
                st.sent_log.pop_front();
            }
        }
        let _ = self.inner.frames.send((guild, frame));
        at
    }

    /// The bot is removed from `guild` (kicked): its channels answer
    /// 50001 from now on, and the gateway says GUILD_DELETE (no
    /// `unavailable`). Webhooks in its channels keep working, as on Discord.
    pub fn remove_bot_from(&self, guild: u64) -> Instant {
        self.state().left.insert(guild);
        self.dispatch("GUILD_DELETE", json!({"id": guild.to_string()}))
    }

    /// `guild` is unavailable for a while (a Discord outage): GUILD_DELETE
    /// with `unavailable: true`; the bot is still a member.
    pub fn guild_outage(&self, guild: u64) -> Instant {
        self.dispatch(
            "GUILD_DELETE",
            json!({"id": guild.to_string(), "unavailable": true}),
        )
    }

    /// Drop every gateway connection (as a network blip or Discord's
    /// load balancing would): serenity reconnects and RESUMEs.
    pub fn drop_gateway_connections(&self) {
        let _ = self.inner.frames.send((None, CLOSE.to_string()));
    }

    /// `[shard_id, shard_count]` of every IDENTIFY so far.
    pub fn identified_shards(&self) -> Vec<[u64; 2]> {
        self.state().identified_shards.clone()
    }

    /// Wait until every shard in `shards` (of `count`) has identified.
    pub async fn wait_shards(&self, shards: std::ops::Range<u64>, count: u64, timeout: Duration) {
        self.wait_until(timeout, "every shard to identify", |s| {
            shards
                .clone()
                .all(|id| s.identified_shards.contains(&[id, count]))
        })
        .await;
    }

    /// How many shards `/gateway/bot` recommends (default 1).
    pub fn set_recommended_shards(&self, n: u64) {
        self.state().recommended_shards = n;
    }

    /// Sessions that identified (a RESUME does not count).
    pub fn identified_count(&self) -> usize {
        self.state().identified
    }

    /// Wait until `n` sessions have resumed in total.
    pub async fn wait_resumed(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, "a RESUME", |s| s.resumed >= n)
            .await;
    }

    /// Announce a guild (its channels, roles and the bot's membership).
    pub fn push_guild_create(&self, g: &GuildSpec) {
        self.add_guild(g.clone());
        let mut d = self.inner.samples["gateway_events"]["guild_create"]["d"].clone();
        d["id"] = g.id.to_string().into();
        d["name"] = g.name.clone().into();
        d["preferred_locale"] = g.locale.clone().into();
        d["roles"] = Value::Array(role_objects(g));
        d["channels"] = Value::Array(g.channels.iter().map(|c| channel_object(g, c)).collect());
        self.dispatch("GUILD_CREATE", d);
    }

    fn interaction_base(&self, who: &Invoker) -> (Value, u64, String) {
        let mut d = self.inner.samples["gateway_events"]["interaction_create_command"]["d"].clone();
        let id = {
            let mut s = self.state();
            s.new_id()
        };
        let token = format!("fake-token-{id}");
        d["id"] = id.to_string().into();
        d["token"] = token.clone().into();
        d["guild_id"] = who.guild_id.to_string().into();
        d["channel_id"] = who.channel_id.to_string().into();
        d["channel"]["id"] = who.channel_id.to_string().into();
        d["channel"]["guild_id"] = who.guild_id.to_string().into();
        d["member"]["user"]["id"] = who.user_id.to_string().into();
        d["member"]["permissions"] = who.permissions.to_string().into();
        d["locale"] = who.locale.clone().into();
        d["guild_locale"] = who.guild_locale.clone().into();
        d["authorizing_integration_owners"] = json!({"0": who.guild_id.to_string()});
        (d, id, token)
    }

    fn push(&self, d: Value, id: u64, token: String) -> Pushed {
        let sent_at = self.dispatch("INTERACTION_CREATE", d);
        self.state()
            .interactions
            .insert(id.to_string(), (sent_at, false));
        Pushed { id, token, sent_at }
    }

    /// A slash command with `options` (and optional `resolved` data).
    pub fn slash(
        &self,
        name: &str,
        options: Value,
        resolved: Option<Value>,
        who: &Invoker,
    ) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        if let Some(r) = resolved {
            d["data"]["resolved"] = r;
        }
        self.push(d, id, token)
    }

    /// A slash command in the bot's DMs (context 1), from a fan who
    /// installed the app to their account: no guild, `user` not `member`.
    pub fn slash_in_dm(&self, name: &str, options: Value, user_id: u64) -> Pushed {
        let mut d =
            self.inner.samples["gateway_events"]["interaction_create_command_dm"]["d"].clone();
        let id = self.state().new_id();
        let token = format!("fake-token-{id}");
        d["id"] = id.to_string().into();
        d["token"] = token.clone().into();
        d["user"]["id"] = user_id.to_string().into();
        d["channel"]["recipients"][0]["id"] = user_id.to_string().into();
        d["authorizing_integration_owners"] = json!({"1": user_id.to_string()});
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push(d, id, token)
    }

    /// A slash command in a server that has not added the bot (context 0),
    /// through the invoker's own install: only the user owner is there.
    pub fn slash_user_installed(&self, name: &str, options: Value, who: &Invoker) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["authorizing_integration_owners"] = json!({"1": who.user_id.to_string()});
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push(d, id, token)
    }

    /// `/name sub options…`
    pub fn subcommand(&self, name: &str, sub: &str, options: Value, who: &Invoker) -> Pushed {
        self.slash(
            name,
            json!([{"name": sub, "type": 1, "options": options}]),
            None,
            who,
        )
    }

    /// An autocomplete request for `name`, with `options` (one `focused`).
    pub fn autocomplete(&self, name: &str, options: Value, who: &Invoker) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["type"] = 4.into();
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push(d, id, token)
    }

    /// A button press on a message.
    pub fn button(&self, custom_id: &str, message_id: u64, who: &Invoker) -> Pushed {
        let mut d = self.inner.samples["gateway_events"]["interaction_create_component_button"]
            ["d"]
            .clone();
        let (base, id, token) = self.interaction_base(who);
        for k in [
            "id",
            "token",
            "guild_id",
            "channel_id",
            "channel",
            "member",
            "locale",
        ] {
            d[k] = base[k].clone();
        }
        d["data"]["custom_id"] = custom_id.into();
        d["message"]["id"] = message_id.to_string().into();
        d["message"]["channel_id"] = who.channel_id.to_string().into();
        self.push(d, id, token)
    }

    /// `/subscribe channel:<channel>` plus `extra` options, with the
    /// `resolved` data Discord sends (and the role's, when one is given).
    pub fn subscribe_command(
        &self,
        channel: u64,
        extra: &[Value],
        role: Option<(u64, bool)>,
        who: &Invoker,
    ) -> Pushed {
        let mut options = vec![json!({"name": "channel", "type": 7, "value": channel.to_string()})];
        options.extend(extra.iter().cloned());
        let resolved = match role {
            Some((id, mentionable)) => {
                options.push(json!({"name": "role", "type": 8, "value": id.to_string()}));
                resolved_channel_and_role(channel, id, mentionable)
            }
            None => resolved_channel(channel),
        };
        // Discord computes the invoker's permissions in the chosen channel.
        let mut resolved = resolved;
        resolved["channels"][channel.to_string()]["permissions"] =
            who.permissions.to_string().into();
        self.slash("subscribe", Value::Array(options), Some(resolved), who)
    }

    /// The visible text of an interaction's final answer.
    pub async fn answer_text(&self, p: &Pushed, timeout: Duration) -> String {
        let a = self.answer(p, timeout).await;
        a["content"].as_str().unwrap_or_default().to_string()
    }

    /// The text of an immediate answer that must be private (ephemeral).
    pub async fn private_text(&self, p: &Pushed, timeout: Duration) -> String {
        let cb = self.callback(p, timeout).await.body.unwrap_or(Value::Null);
        assert_eq!(cb["data"]["flags"], 64, "not ephemeral: {cb}");
        cb["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The interaction callback body the bot sent for `token`.
    pub async fn callback(&self, p: &Pushed, timeout: Duration) -> Recorded {
        let path = format!("/api/v10/interactions/{}/{}/callback", p.id, p.token);
        let r = self
            .wait_request(timeout, &format!("callback of interaction {}", p.id), |r| {
                r.path == path
            })
            .await;
        assert_eq!(
            r.status, 204,
            "Discord refused the interaction answer (late: 10062, twice: 40060)"
        );
        r
    }

    /// The final visible answer to an interaction: the callback's message,
    /// or after a deferral the `@original` edit / first follow-up.
    pub async fn answer(&self, p: &Pushed, timeout: Duration) -> Value {
        let cb = self.callback(p, timeout).await;
        let body = cb.body.clone().unwrap_or(Value::Null);
        let kind = body["type"].as_u64().unwrap_or(0);
        if kind == 5 || kind == 6 {
            let token = p.token.clone();
            self.wait_request(timeout, "the deferred answer", |r| {
                r.path.contains(&token)
                    && !r.path.ends_with("/callback")
                    && matches!(r.method.as_str(), "PATCH" | "POST")
            })
            .await
            .body
            .unwrap_or(Value::Null)
        } else {
            body["data"].clone()
        }
    }
}

fn role_objects(g: &GuildSpec) -> Vec<Value> {
    let mut roles = vec![role_object(
        g.id,
        "@everyone",
        g.everyone_permissions,
        false,
    )];
    for (id, name, mentionable) in &g.roles {
        roles.push(role_object(*id, name, 0, *mentionable));
    }
    roles
}

fn role_object(id: u64, name: &str, permissions: u64, mentionable: bool) -> Value {
    json!({
        "id": id.to_string(), "name": name, "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false, "icon": null, "unicode_emoji": null, "position": 0,
        "permissions": permissions.to_string(), "managed": false, "mentionable": mentionable, "flags": 0
    })
}

/// Discord's routing: a guild's events go to shard `(guild_id >> 22) %
/// shard_count`; events of no guild (DMs) to shard 0.
pub fn on_shard(guild: Option<u64>, [id, count]: [u64; 2]) -> bool {
    match guild {
        Some(g) => (g >> 22) % count.max(1) == id,
        None => id == 0,
    }
}

fn channel_object(g: &GuildSpec, c: &ChannelSpec) -> Value {
    let overwrites = if c.deny_everyone != 0 {
        json!([{"id": g.id.to_string(), "type": 0, "allow": "0", "deny": c.deny_everyone.to_string()}])
    } else {
        json!([])
    };
    json!({
        "id": c.id.to_string(), "type": 0, "guild_id": g.id.to_string(), "name": c.name,
        "position": 0, "permission_overwrites": overwrites, "parent_id": null, "topic": null,
        "nsfw": false, "last_message_id": null, "rate_limit_per_user": 0, "flags": 0
    })
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn session(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (mut tx, mut rx) = ws.split();
        let mut pushes = self.frames.subscribe();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
        if tx.send(WsMessage::text(hello.to_string())).await.is_err() {
            return;
        }
        let mut ready = false;
        // `[id, count]` from IDENTIFY (or the resumed session's id).
        let mut shard: [u64; 2] = [0, 1];
        // The highest sequence this connection has delivered: replayed
        // frames and live pushes never go out twice.
        let mut last_sent: u64 = 0;
        loop {
            tokio::select! {
                frame = rx.next() => {
                    let Some(Ok(frame)) = frame else { return };
                    let Ok(text) = frame.to_text() else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
                    match v["op"].as_u64() {
                        Some(1) => {
                            let ack = json!({"op": 11}).to_string();
                            if tx.send(WsMessage::text(ack)).await.is_err() { return; }
                        }
                        Some(2) => {
                            if let Some([id, count]) = v["d"]["shard"].as_array().and_then(|a| {
                                Some([a.first()?.as_u64()?, a.get(1)?.as_u64()?])
                            }) {
                                shard = [id, count.max(1)];
                            }
                            let mut d = self.samples["gateway_events"]["ready"]["d"].clone();
                            d["resume_gateway_url"] = self.gateway_url.clone().into();
                            d["shard"] = json!(shard);
                            // The session id names the shard, for RESUME.
                            d["session_id"] = format!("fake-session-{}-{}", shard[0], shard[1]).into();
                            let seq = { let mut s = self.state(); s.seq += 1; s.seq };
                            let frame = json!({"op": 0, "t": "READY", "s": seq, "d": d}).to_string();
                            if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                            last_sent = seq;
                            ready = true;
                            {
                                let mut st = self.state();
                                st.identified += 1;
                                st.identified_shards.push(shard);
                            }
                            self.changed.notify_waiters();
                        }
                        Some(6) => {
                            // RESUME: replay what the client missed after its
                            // last sequence, then RESUMED.
                            let from = v["d"]["seq"].as_u64().unwrap_or(0);
                            if let Some(rest) = v["d"]["session_id"].as_str().and_then(|s| s.strip_prefix("fake-session-")) {
                                if let Some((id, count)) = rest.split_once('-') {
                                    if let (Ok(id), Ok(count)) = (id.parse(), count.parse()) {
                                        shard = [id, count];
                                    }
                                }
                            }
                            let missed: Vec<(u64, String)> = self
                                .state()
                                .sent_log
                                .iter()
                                .filter(|(s, g, _)| *s > from && on_shard(*g, shard))
                                .map(|(s, _, f)| (*s, f.clone()))
                                .collect();
                            for (seq, frame) in missed {
                                if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                                last_sent = last_sent.max(seq);
                            }
                            let seq = { let mut s = self.state(); s.seq += 1; s.seq };
                            let resumed = json!({"op": 0, "t": "RESUMED", "s": seq, "d": {}}).to_string();
                            if tx.send(WsMessage::text(resumed)).await.is_err() { return; }
                            last_sent = last_sent.max(seq);
                            ready = true;
                            self.state().resumed += 1;
                            self.changed.notify_waiters();
                        }
                        _ => {}
                    }
                }
                push = pushes.recv(), if ready => {
                    match push {
                        Ok((_, frame)) if frame == CLOSE => {
                            // 4000 "unknown error": Discord's invitation to
                            // reconnect and resume.
                            let close = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                                code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::from(4000),
                                reason: "reconnect".into(),
                            };
                            let _ = tx.send(WsMessage::Close(Some(close))).await;
                            return;
                        }
                        Ok((guild, _)) if !on_shard(guild, shard) => {}
                        Ok((_, frame)) => {
                            let seq = serde_json::from_str::<Value>(&frame)
                                .ok()
                                .and_then(|v| v["s"].as_u64())
                                .unwrap_or(u64::MAX);
                            if seq <= last_sent {
                                continue;
                            }
                            last_sent = seq;
                            if tx.send(WsMessage::text(frame)).await.is_err() { return }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    }
                }
            }
        }
    }

    fn message_object(&self, id: u64, channel: u64, body: &Value) -> Value {
        self.message_by(id, channel, body, BOT_ID)
    }

    fn message_by(&self, id: u64, channel: u64, body: &Value, author: u64) -> Value {
        let mut m =
            self.samples["rest_responses"]["POST /api/v10/channels/{id}/messages (200)"].clone();
        if author != BOT_ID {
            m["author"]["id"] = author.to_string().into();
            m["author"]["bot"] = false.into();
            m["author"]["username"] = "a-fan".into();
        }
        m["id"] = id.to_string().into();
        m["channel_id"] = channel.to_string().into();
        for k in ["content", "embeds", "components"] {
            if let Some(v) = body.get(k) {
                m[k] = v.clone();
            }
        }
        m
    }

    /// A stored message as Discord shows it (a webhook's as its post, with
    /// the name it used; its thread, if one was started).
    fn render_stored(&self, m: &StoredMessage) -> Value {
        let mut v = self.message_by(m.id, m.channel_id, &m.body, m.author_id);
        if let Some(w) = m.webhook_id {
            v["webhook_id"] = w.to_string().into();
            v["author"]["bot"] = true.into();
            v["author"]["username"] = m.body["username"].clone();
        }
        if let Some(t) = m.thread_id {
            v["thread"] =
                json!({"id": t.to_string(), "type": 11, "parent_id": m.channel_id.to_string()});
        }
        v
    }

    /// A channel webhook's routes: execute (`?wait=true`) and edit its
    /// messages. Discord answers 10015 for a deleted webhook or a wrong
    /// token.
    fn route_webhook(
        &self,
        method: &str,
        segs: &[&str],
        query: Option<&str>,
        body: Option<&Value>,
        hook: &FakeWebhook,
    ) -> (u16, Response) {
        let token_ok = segs.get(2).is_some_and(|t| *t == hook.token);
        if hook.deleted || !token_ok {
            return (404, discord_error(404, 10015, "Unknown Webhook"));
        }
        let b = body.cloned().unwrap_or(Value::Null);
        let ch = hook.channel_id;
        if self.state().deleted.contains(&ch) {
            return (404, discord_error(404, 10003, "Unknown Channel"));
        }
        match (method, segs) {
            ("POST", [_, _, _]) => {
                let name = b["username"].as_str().unwrap_or("").to_lowercase();
                if name.contains("discord") || name.contains("clyde") {
                    return (
                        400,
                        discord_error(400, 50035, "Invalid Form Body (username)"),
                    );
                }
                let mut s = self.state();
                let id = s.new_id();
                s.messages.entry(ch).or_default().push(StoredMessage::new(
                    id,
                    ch,
                    b.clone(),
                    hook.id,
                    Some(hook.id),
                ));
                let stored = s.messages[&ch].last().cloned();
                drop(s);
                let waits = query.unwrap_or("").split('&').any(|kv| kv == "wait=true");
                match stored {
                    Some(m) if waits => (200, axum::Json(self.render_stored(&m)).into_response()),
                    _ => (204, StatusCode::NO_CONTENT.into_response()),
                }
            }
            ("DELETE", [_, _, _]) => {
                if let Some(w) = self.state().webhooks.get_mut(&hook.id) {
                    w.deleted = true;
                }
                (204, StatusCode::NO_CONTENT.into_response())
            }
            ("PATCH", [_, _, _, "messages", mid]) => {
                let mid: u64 = mid.parse().unwrap_or(0);
                let mut s = self.state();
                let Some(msg) = s.messages.get_mut(&ch).and_then(|ms| {
                    ms.iter_mut()
                        .find(|m| m.id == mid && m.webhook_id == Some(hook.id))
                }) else {
                    return (404, discord_error(404, 10008, "Unknown Message"));
                };
                msg.apply_edit(&b);
                let m = msg.clone();
                drop(s);
                (200, axum::Json(self.render_stored(&m)).into_response())
            }
            _ => (404, discord_error(404, 0, "404: Not Found")),
        }
    }

    fn record(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) {
        let mut s = self.state();
        if let Some(b) = &body {
            if matches!(method, "POST" | "PUT" | "PATCH") {
                for e in spec::check(method, path, b) {
                    s.violations.push(format!("{method} {path}: {e}"));
                }
            }
        }
        s.requests.push(Recorded {
            method: method.into(),
            path: path.into(),
            query: query.unwrap_or("").into(),
            body,
            status,
            at: Instant::now(),
        });
        drop(s);
        self.changed.notify_waiters();
    }

    fn handle(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (Response, Option<Duration>) {
        let path = uri.path().to_string();
        let m = method.as_str().to_string();
        let json_body: Option<Value> = if body.is_empty() {
            None
        } else {
            Some(
                serde_json::from_slice(&body)
                    .unwrap_or(Value::String(String::from_utf8_lossy(&body).into())),
            )
        };
        if let Some(problem) = authentication_problem(&path, &headers) {
            self.state()
                .unauthenticated
                .push(format!("{m} {path}: {problem}"));
            self.record(&m, &path, uri.query(), json_body, 401);
            return (discord_error(401, 0, "401: Unauthorized"), None);
        }
        if path.starts_with("/api/v10/webhooks/") && headers.contains_key("authorization") {
            let id = path
                .trim_start_matches("/api/v10/webhooks/")
                .split('/')
                .next()
                .and_then(|id| id.parse::<u64>().ok());
            let mut s = self.state();
            if id.is_some_and(|id| s.webhooks.contains_key(&id)) {
                s.violations.push(format!(
                    "{m} /api/v10/webhooks/…: a channel webhook request carries the bot token"
                ));
            }
        }
        let (status, mut response) = self.route(&m, &path, uri.query(), json_body.as_ref());
        let mut delay = None;
        if status == 200 && m == "POST" {
            if let Some(lost) = self.lose_answer(&path) {
                response = discord_error(502, 0, "Bad Gateway");
                delay = Some(lost);
            }
        }
        let status = response.status().as_u16();
        if status == 200 {
            self.bucket_headers(&m, &path, response.headers_mut());
        }
        self.record(&m, &path, uri.query(), json_body, status);
        (response, delay)
    }

    /// A successful message POST carries its channel bucket's headers, as
    /// Discord's answers do: what is left and when it resets.
    fn bucket_headers(&self, method: &str, path: &str, headers: &mut HeaderMap) {
        let segs: Vec<&str> = path
            .trim_start_matches("/api/v10")
            .trim_matches('/')
            .split('/')
            .collect();
        let (["channels", ch, "messages"], "POST") = (segs.as_slice(), method) else {
            return;
        };
        let Ok(ch) = ch.parse::<u64>() else { return };
        let s = self.state();
        let Some((n, window)) = s.channel_limit else {
            return;
        };
        let now = Instant::now();
        let used: Vec<Instant> = s
            .channel_sends
            .get(&ch)
            .map(|q| {
                q.iter()
                    .copied()
                    .filter(|t| now.duration_since(*t) < window)
                    .collect()
            })
            .unwrap_or_default();
        let remaining = n.saturating_sub(used.len());
        let reset_after = used
            .first()
            .map_or(window, |t| window.saturating_sub(now.duration_since(*t)));
        let mut set = |k: &'static str, v: String| {
            if let Ok(v) = v.parse() {
                headers.insert(k, v);
            }
        };
        set("x-ratelimit-limit", n.to_string());
        set("x-ratelimit-remaining", remaining.to_string());
        set(
            "x-ratelimit-reset-after",
            format!("{:.3}", reset_after.as_secs_f64()),
        );
        set(
            "x-ratelimit-reset",
            format!(
                "{:.3}",
                chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + reset_after.as_secs_f64()
            ),
        );
        set("x-ratelimit-bucket", format!("channel-messages-{ch}"));
    }

    /// A matching rule for a lost answer on this POST, used up by one.
    fn lose_answer(&self, path: &str) -> Option<Duration> {
        let segs: Vec<&str> = path
            .trim_start_matches("/api/v10")
            .trim_matches('/')
            .split('/')
            .collect();
        let mut s = self.state();
        let ch: u64 = match segs.as_slice() {
            ["channels", ch, "messages"] => ch.parse().ok()?,
            // A channel webhook's post loses its answer the same way.
            ["webhooks", id, _] => s.webhooks.get(&id.parse().ok()?)?.channel_id,
            _ => return None,
        };
        let i = s
            .lost_answers
            .iter()
            .position(|(c, n, _)| *c == ch && *n > 0)?;
        s.lost_answers[i].1 -= 1;
        Some(s.lost_answers[i].2)
    }

    fn fault_for(&self, method: &str, path: &str) -> Option<Fault> {
        let mut s = self.state();
        let now = Instant::now();
        s.faults.retain(|f| f.until.is_none_or(|u| u > now));
        let i = s
            .faults
            .iter()
            .position(|f| f.times > 0 && f.method == method && path.starts_with(&f.path_prefix))?;
        s.faults[i].times -= 1;
        let f = s.faults[i].fault.clone();
        if s.faults[i].times == 0 {
            s.faults.remove(i);
        }
        Some(f)
    }

    /// Discord's own limits, when a test or benchmark turned them on.
    fn limits(&self, method: &str, channel: Option<u64>, by_ip: bool) -> Option<Response> {
        let mut guard = self.state();
        let s = &mut *guard;
        let now = Instant::now();
        let (limit, window) = if by_ip {
            (s.ip_limit, &mut s.ip_window)
        } else {
            (s.global_limit, &mut s.global_window)
        };
        if let Some(rps) = limit {
            while window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                window.pop_front();
            }
            if window.len() >= rps {
                let wait = window
                    .front()
                    .map_or(0.05, |t| 1.0 - now.duration_since(*t).as_secs_f64());
                s.rate_limited += 1;
                return Some(rate_limited(wait.max(0.001), true));
            }
            window.push_back(now);
        }
        if let (Some((n, window)), Some(ch), "POST") = (s.channel_limit, channel, method) {
            let q = s.channel_sends.entry(ch).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.len() >= n {
                let wait = q
                    .front()
                    .map_or(0.1, |t| (window - now.duration_since(*t)).as_secs_f64());
                s.rate_limited += 1;
                return Some(rate_limited(wait.max(0.001), false));
            }
            q.push_back(now);
        }
        None
    }

    fn route(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Response) {
        let segs: Vec<&str> = path
            .trim_start_matches("/api/v10")
            .trim_matches('/')
            .split('/')
            .collect();
        // A channel webhook's requests: no bot token, counted per IP, and
        // its posts count toward the channel's limit.
        let hook: Option<FakeWebhook> = match segs.as_slice() {
            ["webhooks", id, ..] => id
                .parse::<u64>()
                .ok()
                .and_then(|id| self.state().webhooks.get(&id).cloned()),
            _ => None,
        };
        let channel = match segs.as_slice() {
            ["channels", id, ..] => id.parse().ok(),
            _ => hook.as_ref().map(|h| h.channel_id),
        };
        if let Some(f) = self.fault_for(method, path) {
            let r = match f {
                Fault::RateLimited {
                    retry_after,
                    global,
                } => {
                    self.state().rate_limited += 1;
                    rate_limited(retry_after, global)
                }
                Fault::Discord {
                    status,
                    code,
                    message,
                } => discord_error(status, code, message),
                Fault::Server(code) => discord_error(code, 0, "Internal Server Error"),
                Fault::Body { status, body } => (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    axum::Json(body),
                )
                    .into_response(),
            };
            return (r.status().as_u16(), r);
        }
        if let Some(r) = self.limits(method, channel, hook.is_some()) {
            return (429, r);
        }
        if let Some(hook) = hook {
            return self.route_webhook(method, &segs, query, body, &hook);
        }
        if let Some(ch) = channel {
            if self.state().deleted.contains(&ch) {
                return (404, discord_error(404, 10003, "Unknown Channel"));
            }
        }
        let ok = |v: Value| (200, axum::Json(v).into_response());
        let new_id = || {
            let mut s = self.state();
            s.new_id()
        };
        let rest = &self.samples["rest_responses"];
        match (method, segs.as_slice()) {
            ("GET", ["gateway"]) => ok(json!({"url": self.gateway_url})),
            ("GET", ["gateway", "bot"]) => ok(json!({
                "url": self.gateway_url, "shards": self.state().recommended_shards.max(1),
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            })),
            ("GET", ["oauth2", "applications", "@me"]) => {
                ok(rest["GET /api/v10/oauth2/applications/@me"].clone())
            }
            ("GET", ["users", "@me"]) => {
                ok(self.samples["gateway_events"]["ready"]["d"]["user"].clone())
            }
            ("PUT", ["applications", _, "commands"])
            | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
                if segs.len() == 5 {
                    // "only for globally-scoped commands"
                    for c in body.and_then(Value::as_array).into_iter().flatten() {
                        for k in ["integration_types", "contexts"] {
                            if c.get(k).is_some() {
                                self.state().violations.push(format!(
                                    "PUT {path}: guild command {} has `{k}`, which is only for globally-scoped commands",
                                    c["name"]
                                ));
                            }
                        }
                    }
                }
                let cmds: Vec<Value> = body
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| {
                        // Discord's echo: the body plus the fields it fills in.
                        let mut out = json!({
                            "type": 1, "options": [], "default_member_permissions": null,
                            "nsfw": false, "integration_types": [0], "contexts": [0]
                        });
                        if let (Some(o), Some(c)) = (out.as_object_mut(), c.as_object()) {
                            for (k, v) in c {
                                o.insert(k.clone(), v.clone());
                            }
                        }
                        out["id"] = new_id().to_string().into();
                        out["application_id"] = APP_ID.to_string().into();
                        out["version"] = new_id().to_string().into();
                        out
                    })
                    .collect();
                ok(Value::Array(cmds))
            }
            ("POST", ["interactions", id, token, "callback"]) => {
                let b = body.cloned().unwrap_or(Value::Null);
                let mut s = self.state();
                if let Some((at, acked)) = s.interactions.get_mut(*id) {
                    if *acked {
                        drop(s);
                        return (
                            400,
                            discord_error(400, 40060, "Interaction has already been acknowledged."),
                        );
                    }
                    if at.elapsed() > INTERACTION_DEADLINE {
                        drop(s);
                        return (404, discord_error(404, 10062, "Unknown interaction"));
                    }
                    *acked = true;
                }
                match b["type"].as_u64() {
                    Some(4) | Some(7) => {
                        s.originals.insert(token.to_string(), b["data"].clone());
                    }
                    Some(5) | Some(6) => {
                        s.originals.entry(token.to_string()).or_insert(json!({}));
                    }
                    _ => {}
                }
                (204, StatusCode::NO_CONTENT.into_response())
            }
            (_, ["webhooks", _, token, "messages", "@original"]) => {
                let token = token.to_string();
                let mut s = self.state();
                match method {
                    "DELETE" => {
                        s.originals.remove(&token);
                        (204, StatusCode::NO_CONTENT.into_response())
                    }
                    "PATCH" => {
                        let cur = s.originals.entry(token).or_insert(json!({}));
                        if let (Some(cur), Some(b)) =
                            (cur.as_object_mut(), body.and_then(Value::as_object))
                        {
                            for (k, v) in b {
                                cur.insert(k.clone(), v.clone());
                            }
                        }
                        let v = cur.clone();
                        drop(s);
                        ok(self.message_object(1, CHANNEL_ID, &v))
                    }
                    _ => match s.originals.get(&token).cloned() {
                        Some(v) => {
                            drop(s);
                            ok(self.message_object(1, CHANNEL_ID, &v))
                        }
                        None => (404, discord_error(404, 10008, "Unknown Message")),
                    },
                }
            }
            ("POST", ["webhooks", _, token]) => {
                let b = body.cloned().unwrap_or(Value::Null);
                self.state()
                    .followups
                    .entry(token.to_string())
                    .or_default()
                    .push(b.clone());
                let id = new_id();
                ok(self.message_object(id, CHANNEL_ID, &b))
            }
            ("PATCH", ["webhooks", _, _, "messages", _]) => {
                let b = body.cloned().unwrap_or(Value::Null);
                ok(self.message_object(new_id(), CHANNEL_ID, &b))
            }
            ("POST", ["channels", ch, "messages"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                if let Some(perms) = self.bot_permissions_in(ch) {
                    if perms & VIEW_CHANNEL == 0 {
                        return (403, discord_error(403, 50001, "Missing Access"));
                    }
                    if perms & SEND_MESSAGES == 0 {
                        return (403, discord_error(403, 50013, "Missing Permissions"));
                    }
                }
                let b = body.cloned().unwrap_or(Value::Null);
                let nonce = b["nonce"].as_str().map(str::to_string);
                let enforce = b["enforce_nonce"].as_bool().unwrap_or(false);
                let mut s = self.state();
                let window = s.nonce_window.unwrap_or(DEFAULT_NONCE_WINDOW);
                if let (Some(n), true) = (&nonce, enforce) {
                    if let Some((existing, at)) = s.nonces.get(&(ch, n.clone())).copied() {
                        if at.elapsed() < window {
                            drop(s);
                            return ok(self.message_object(existing, ch, &b));
                        }
                    }
                }
                let id = s.new_id();
                if let (Some(n), true) = (nonce, enforce) {
                    s.nonces.insert((ch, n), (id, Instant::now()));
                }
                s.messages.entry(ch).or_default().push(StoredMessage::new(
                    id,
                    ch,
                    b.clone(),
                    BOT_ID,
                    None,
                ));
                drop(s);
                ok(self.message_object(id, ch, &b))
            }
            ("GET", ["channels", ch, "messages"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let limit = query
                    .unwrap_or("")
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("limit="))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(50);
                if !(1..=100).contains(&limit) {
                    return (400, discord_error(400, 50035, "Invalid Form Body (limit)"));
                }
                let after = query
                    .unwrap_or("")
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("after="))
                    .and_then(|v| v.parse::<u64>().ok());
                let stored: Vec<StoredMessage> =
                    self.state().messages.get(&ch).cloned().unwrap_or_default();
                let render = |m: &StoredMessage| self.render_stored(m);
                let page: Vec<Value> = match after {
                    // Forward paging: the oldest `limit` after that id.
                    Some(a) => stored
                        .iter()
                        .filter(|m| m.id > a)
                        .take(limit)
                        .map(render)
                        .collect(),
                    None => stored.iter().rev().take(limit).map(render).collect(),
                };
                ok(Value::Array(page))
            }
            ("PATCH", ["channels", ch, "messages", mid]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let mid: u64 = mid.parse().unwrap_or(0);
                let b = body.cloned().unwrap_or(Value::Null);
                let mut s = self.state();
                let Some(msg) = s
                    .messages
                    .get_mut(&ch)
                    .and_then(|ms| ms.iter_mut().find(|m| m.id == mid))
                else {
                    return (404, discord_error(404, 10008, "Unknown Message"));
                };
                msg.apply_edit(&b);
                let v = msg.body.clone();
                drop(s);
                ok(self.message_object(mid, ch, &v))
            }
            ("GET", ["channels", ch, "webhooks"]) | ("POST", ["channels", ch, "webhooks"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                if self.bot_permissions_in(ch).unwrap_or(0) & MANAGE_WEBHOOKS == 0 {
                    return (403, discord_error(403, 50013, "Missing Permissions"));
                }
                let mut s = self.state();
                if method == "GET" {
                    let list: Vec<Value> = s
                        .webhooks
                        .values()
                        .filter(|w| w.channel_id == ch && !w.deleted)
                        .map(webhook_object)
                        .collect();
                    drop(s);
                    return ok(Value::Array(list));
                }
                let live = s
                    .webhooks
                    .values()
                    .filter(|w| w.channel_id == ch && !w.deleted)
                    .count();
                if live >= 15 {
                    return (
                        400,
                        discord_error(400, 30007, "Maximum number of webhooks reached (15)"),
                    );
                }
                let id = s.new_id();
                let w = FakeWebhook {
                    id,
                    channel_id: ch,
                    token: format!("WEBHOOK-TOKEN-SECRET-{id}"),
                    name: body
                        .and_then(|b| b["name"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    deleted: false,
                };
                s.webhooks.insert(id, w.clone());
                drop(s);
                ok(webhook_object(&w))
            }
            ("POST", ["channels", ch, "messages", mid, "threads"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let mid: u64 = mid.parse().unwrap_or(0);
                if self.bot_permissions_in(ch).unwrap_or(0) & CREATE_PUBLIC_THREADS == 0 {
                    return (403, discord_error(403, 50013, "Missing Permissions"));
                }
                let mut guard = self.state();
                let s = &mut *guard;
                let id = s.new_id();
                let Some(msg) = s
                    .messages
                    .get_mut(&ch)
                    .and_then(|ms| ms.iter_mut().find(|m| m.id == mid))
                else {
                    return (404, discord_error(404, 10008, "Unknown Message"));
                };
                if msg.thread_id.is_some() {
                    return (
                        400,
                        discord_error(
                            400,
                            160004,
                            "A thread has already been created for this message",
                        ),
                    );
                }
                msg.thread_id = Some(id);
                let t = FakeThread {
                    id,
                    parent_id: ch,
                    message_id: mid,
                    name: body
                        .and_then(|b| b["name"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    archived: false,
                };
                s.threads.insert(id, t.clone());
                if s.lost_thread_answers > 0 {
                    s.lost_thread_answers -= 1;
                    return (502, discord_error(502, 0, "Bad Gateway"));
                }
                drop(guard);
                ok(thread_object(&t))
            }
            ("GET", ["channels", ch, "messages", mid]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let mid: u64 = mid.parse().unwrap_or(0);
                let found = self
                    .state()
                    .messages
                    .get(&ch)
                    .and_then(|ms| ms.iter().find(|m| m.id == mid).cloned());
                match found {
                    Some(m) => ok(self.render_stored(&m)),
                    None => (404, discord_error(404, 10008, "Unknown Message")),
                }
            }
            ("PATCH", ["channels", thread]) => {
                let id: u64 = thread.parse().unwrap_or(0);
                let mut s = self.state();
                let Some(t) = s.threads.get_mut(&id) else {
                    return (404, discord_error(404, 10003, "Unknown Channel"));
                };
                // The bot started every fake thread: as its creator it may
                // archive it without Manage Threads.
                if let Some(a) = body.and_then(|b| b["archived"].as_bool()) {
                    t.archived = a;
                }
                let v = thread_object(t);
                drop(s);
                ok(v)
            }
            ("GET", ["channels", ch]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let s = self.state();
                let found = s.guilds.values().find_map(|g| {
                    g.channels
                        .iter()
                        .find(|c| c.id == ch)
                        .map(|c| channel_object(g, c))
                });
                match found {
                    Some(c) => ok(c),
                    None => (404, discord_error(404, 10003, "Unknown Channel")),
                }
            }
            ("GET", ["guilds", g]) => match g.parse().ok().and_then(|g| self.guild_json_inner(g)) {
                Some(v) => ok(v),
                None => (404, discord_error(404, 10004, "Unknown Guild")),
            },
            ("GET", ["guilds", g, "members", user]) => {
                let mut m =
                    self.samples["gateway_events"]["guild_create"]["d"]["members"][0].clone();
                m["user"]["id"] = user.to_string().into();
                if user.parse::<u64>().ok() != Some(BOT_ID) {
                    m["user"]["bot"] = false.into();
                }
                m["roles"] = json!([]);
                let _ = g;
                ok(m)
            }
            _ => (404, discord_error(404, 0, "404: Not Found")),
        }
    }

    /// The bot's permissions in a known channel, from its roles (only
    /// @everyone here) and the channel's overwrites, as Discord computes
    /// them; None for a channel no fake guild has.
    fn bot_permissions_in(&self, channel: u64) -> Option<u64> {
        let s = self.state();
        s.guilds.values().find_map(|g| {
            let c = g.channels.iter().find(|c| c.id == channel)?;
            if s.left.contains(&g.id) {
                // Not a member any more: Discord answers 50001.
                return Some(0);
            }
            let base = g.everyone_permissions;
            if base & ADMINISTRATOR != 0 {
                return Some(u64::MAX);
            }
            Some(base & !c.deny_everyone)
        })
    }

    fn guild_json_inner(&self, id: u64) -> Option<Value> {
        let g = self.state().guilds.get(&id).cloned()?;
        let mut d = self.samples["gateway_events"]["guild_create"]["d"].clone();
        d["id"] = g.id.to_string().into();
        d["name"] = g.name.clone().into();
        d["roles"] = Value::Array(role_objects(&g));
        Some(d)
    }
}

/// `resolved` data for a channel option (what Discord sends with it).
pub fn resolved_channel(channel: u64) -> Value {
    json!({"channels": {channel.to_string(): {
        "id": channel.to_string(), "name": format!("channel-{channel}"), "type": 0,
        "permissions": ALL_PERMISSIONS.to_string(), "parent_id": null
    }}})
}

/// `resolved` data for a channel option and a role option.
pub fn resolved_channel_and_role(channel: u64, role: u64, mentionable: bool) -> Value {
    let mut r = resolved_channel(channel);
    r["roles"] = json!({role.to_string(): role_object(role, "Fans", 0, mentionable)});
    r
}
