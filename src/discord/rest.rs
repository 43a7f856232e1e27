//! The announcer's own Discord REST client: create and edit channel
//! messages with full control over 429 (`retry_after`, global or not) and
//! Discord's error codes. Serenity's `Http` hides the rate-limit body when
//! its ratelimiter is off (proxy mode), so the announcer talks to REST here.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::secret::Secret;

/// Discord JSON error codes that mean "this channel is not usable".
pub const UNKNOWN_CHANNEL: u64 = 10003;
pub const UNKNOWN_MESSAGE: u64 = 10008;
pub const UNKNOWN_WEBHOOK: u64 = 10015;
/// 400: a field of the body was refused.
pub const INVALID_FORM_BODY: u64 = 50035;
pub const MISSING_ACCESS: u64 = 50001;
pub const MISSING_PERMISSIONS: u64 = 50013;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiscordError {
    #[error("rate limited for {retry_after:?}{}", if *global { " (global)" } else if *shared { " (shared)" } else { "" })]
    RateLimited {
        retry_after: Duration,
        global: bool,
        /// A resource's limit shared by everyone (`X-RateLimit-Scope:
        /// shared`): not the bot's doing, and not an invalid request.
        shared: bool,
    },
    /// 401: the token is wrong. Nothing will work.
    #[error("Discord refused the bot token (HTTP 401)")]
    Unauthorized,
    /// A 4xx with a Discord error code (403 Missing Access, 404 Unknown Channel, ...).
    #[error("HTTP {status}, Discord code {code}: {message}")]
    Refused {
        status: u16,
        code: u64,
        message: String,
    },
    #[error("Discord server error (HTTP {0})")]
    Server(u16),
    #[error("could not reach Discord: {0}")]
    Transport(String),
}

impl DiscordError {
    /// The channel is gone or forbidden: retrying will not help.
    pub fn is_channel_unusable(&self) -> bool {
        matches!(self, DiscordError::Refused { code, .. }
            if matches!(*code, UNKNOWN_CHANNEL | MISSING_ACCESS | MISSING_PERMISSIONS | UNKNOWN_WEBHOOK))
    }

    /// 10015: the webhook was deleted.
    /// 400 50035 "Invalid Form Body": Discord refused a field of the body
    /// (for a webhook post, typically the `username`); nothing was stored.
    pub fn is_invalid_form(&self) -> bool {
        matches!(
            self,
            DiscordError::Refused {
                status: 400,
                code: INVALID_FORM_BODY,
                ..
            }
        )
    }

    pub fn is_unknown_webhook(&self) -> bool {
        matches!(
            self,
            DiscordError::Refused {
                code: UNKNOWN_WEBHOOK,
                ..
            }
        )
    }

    /// Worth trying again later (rate limit, 5xx, network).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DiscordError::RateLimited { .. } | DiscordError::Server(_) | DiscordError::Transport(_)
        )
    }

    /// Counts toward Discord's invalid-request limit: 401, 403 and 429,
    /// except a 429 of a shared limit.
    pub fn counts_as_invalid(&self) -> bool {
        match self {
            DiscordError::Unauthorized => true,
            DiscordError::RateLimited { shared, .. } => !shared,
            DiscordError::Refused { status, .. } => *status == 403,
            _ => false,
        }
    }
}

/// What Discord asks every bot to send: `DiscordBot ($url, $version)`
/// (the crate has no public home yet, so its name stands for the URL).
pub const USER_AGENT: &str = concat!("DiscordBot (onair, ", env!("CARGO_PKG_VERSION"), ")");

#[derive(Clone)]
pub struct DiscordRest {
    client: reqwest::Client,
    base: Url,
    auth: Secret,
    /// The bot's own user id, asked once (`GET /users/@me`).
    me: std::sync::Arc<tokio::sync::OnceCell<u64>>,
    buckets: std::sync::Arc<Buckets>,
}

impl DiscordRest {
    /// `base` is the Discord origin (`https://discord.com` or a test server).
    pub fn new(client: reqwest::Client, base: &Url, token: &Secret) -> Self {
        let mut base = base.clone();
        base.set_path("/api/v10/");
        DiscordRest {
            client,
            base,
            auth: Secret::new(format!("Bot {}", token.expose())),
            me: std::sync::Arc::default(),
            buckets: std::sync::Arc::default(),
        }
    }

    /// The bot's own user id (asked once, then remembered).
    pub async fn bot_user_id(&self) -> Result<u64, DiscordError> {
        self.me
            .get_or_try_init(|| async {
                let url = self.url("users/@me")?;
                let v = self.send("GET users/@me", self.client.get(url)).await?;
                id_of(&v)
            })
            .await
            .copied()
    }

    /// The application's id (GET /oauth2/applications/@me), for the invite.
    pub async fn application_id(&self) -> Result<u64, DiscordError> {
        let url = self.url("oauth2/applications/@me")?;
        let v = self
            .send("GET oauth2/applications/@me", self.client.get(url))
            .await?;
        id_of(&v)
    }

    /// GET /channels/{id}/messages?after=…&limit=…: the first messages
    /// posted after the snowflake `after` (forward paging), so a busy
    /// channel cannot push the one looked for out of the page.
    pub async fn messages_after(
        &self,
        channel_id: u64,
        after: u64,
        limit: u8,
    ) -> Result<Vec<Value>, DiscordError> {
        let mut url = self.url(&format!("channels/{channel_id}/messages"))?;
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("limit", &limit.clamp(1, 100).to_string());
        let key = format!("GET channels/{channel_id}/messages");
        match self.send(&key, self.client.get(url)).await? {
            Value::Array(items) => Ok(items),
            _ => Err(DiscordError::Transport(
                "message list answer is not an array".into(),
            )),
        }
    }

    /// GET /channels/{id}: the id of the channel's newest message (None
    /// when it has none). Discord says it whatever the bot may read of the
    /// history, so it tells an empty history from an unreadable one.
    pub async fn last_message_id(&self, channel_id: u64) -> Result<Option<u64>, DiscordError> {
        let url = self.url(&format!("channels/{channel_id}"))?;
        let key = format!("GET channels/{channel_id}");
        let v = self.send(&key, self.client.get(url)).await?;
        Ok(v.get("last_message_id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok()))
    }

    fn url(&self, path: &str) -> Result<Url, DiscordError> {
        self.base
            .join(path)
            .map_err(|e| DiscordError::Transport(format!("bad path: {e}")))
    }

    /// Wait until the channel's message bucket has room.
    pub async fn wait_to_post(&self, channel_id: u64) {
        self.wait_for_bucket(&format!("POST channels/{channel_id}/messages"))
            .await;
    }

    /// Wait while the bucket of the route `key` is spent.
    async fn wait_for_bucket(&self, key: &str) {
        if let Some(wait) = self.buckets.wait_before(key, std::time::Instant::now()) {
            tracing::debug!(route = key, ?wait, "bucket spent; waiting for its reset");
            tokio::time::sleep(wait).await;
        }
    }

    /// POST /channels/{id}/messages; returns the new message id.
    pub async fn create_message(&self, channel_id: u64, body: &Value) -> Result<u64, DiscordError> {
        let url = self.url(&format!("channels/{channel_id}/messages"))?;
        let key = format!("POST channels/{channel_id}/messages");
        let v = self.send(&key, self.client.post(url).json(body)).await?;
        id_of(&v)
    }

    /// PATCH /channels/{id}/messages/{mid}.
    pub async fn edit_message(
        &self,
        channel_id: u64,
        message_id: u64,
        body: &Value,
    ) -> Result<(), DiscordError> {
        let url = self.url(&format!("channels/{channel_id}/messages/{message_id}"))?;
        let key = format!("PATCH channels/{channel_id}/messages/:id");
        self.send(&key, self.client.patch(url).json(body))
            .await
            .map(|_| ())
    }

    /// GET /channels/{id}/webhooks (needs Manage Webhooks).
    pub async fn channel_webhooks(&self, channel_id: u64) -> Result<Vec<Value>, DiscordError> {
        let url = self.url(&format!("channels/{channel_id}/webhooks"))?;
        let key = format!("GET channels/{channel_id}/webhooks");
        match self.send(&key, self.client.get(url)).await? {
            Value::Array(items) => Ok(items),
            _ => Err(DiscordError::Transport(
                "webhook list answer is not an array".into(),
            )),
        }
    }

    /// POST /channels/{id}/webhooks (needs Manage Webhooks): the new
    /// webhook's id and token.
    pub async fn create_webhook(
        &self,
        channel_id: u64,
        name: &str,
    ) -> Result<(u64, Secret), DiscordError> {
        let url = self.url(&format!("channels/{channel_id}/webhooks"))?;
        let key = format!("POST channels/{channel_id}/webhooks");
        let v = self
            .send(
                &key,
                self.client
                    .post(url)
                    .json(&serde_json::json!({ "name": name })),
            )
            .await?;
        let token = v["token"]
            .as_str()
            .map(Secret::new)
            .ok_or_else(|| DiscordError::Transport("webhook without a token".into()))?;
        Ok((id_of(&v)?, token))
    }

    /// POST /webhooks/{id}/{token}?wait=true: the message id. Sent without
    /// the bot's `Authorization` (the token in the path authorizes it), so
    /// Discord counts it per IP, not against the bot. The route key never
    /// carries the token.
    pub async fn execute_webhook(
        &self,
        webhook_id: u64,
        token: &Secret,
        body: &Value,
    ) -> Result<u64, DiscordError> {
        let mut url = self.url(&format!("webhooks/{webhook_id}/{}", token.expose()))?;
        url.query_pairs_mut()
            .append_pair("wait", "true")
            .append_pair("with_components", "true");
        let key = format!("POST webhooks/{webhook_id}");
        let v = self
            .send_as(&key, self.client.post(url).json(body), false)
            .await?;
        id_of(&v)
    }

    /// DELETE /webhooks/{id}/{token}: the webhook authorizes its own
    /// deletion (no bot `Authorization`), so it works after onair was
    /// removed from the server.
    pub async fn delete_webhook(
        &self,
        webhook_id: u64,
        token: &Secret,
    ) -> Result<(), DiscordError> {
        let url = self.url(&format!("webhooks/{webhook_id}/{}", token.expose()))?;
        let key = format!("DELETE webhooks/{webhook_id}");
        self.send_as(&key, self.client.delete(url), false)
            .await
            .map(|_| ())
    }

    /// PATCH /webhooks/{id}/{token}/messages/{mid}, without the bot's
    /// `Authorization`.
    pub async fn edit_webhook_message(
        &self,
        webhook_id: u64,
        token: &Secret,
        message_id: u64,
        body: &Value,
    ) -> Result<(), DiscordError> {
        let mut url = self.url(&format!(
            "webhooks/{webhook_id}/{}/messages/{message_id}",
            token.expose()
        ))?;
        url.query_pairs_mut().append_pair("with_components", "true");
        let key = format!("PATCH webhooks/{webhook_id}/messages/:id");
        self.send_as(&key, self.client.patch(url).json(body), false)
            .await
            .map(|_| ())
    }

    /// POST /channels/{id}/messages/{mid}/threads: a public thread on a
    /// message; the thread's id.
    pub async fn start_thread(
        &self,
        channel_id: u64,
        message_id: u64,
        name: &str,
    ) -> Result<u64, DiscordError> {
        let url = self.url(&format!(
            "channels/{channel_id}/messages/{message_id}/threads"
        ))?;
        let key = format!("POST channels/{channel_id}/messages/:id/threads");
        let body = serde_json::json!({ "name": name, "auto_archive_duration": 1440 });
        let v = self.send(&key, self.client.post(url).json(&body)).await?;
        id_of(&v)
    }

    /// GET /channels/{id}/messages/{mid}.
    pub async fn get_message(
        &self,
        channel_id: u64,
        message_id: u64,
    ) -> Result<Value, DiscordError> {
        let url = self.url(&format!("channels/{channel_id}/messages/{message_id}"))?;
        let key = format!("GET channels/{channel_id}/messages/:id");
        self.send(&key, self.client.get(url)).await
    }

    /// PATCH /channels/{thread}: archive a thread the bot started.
    pub async fn archive_thread(&self, thread_id: u64) -> Result<(), DiscordError> {
        let url = self.url(&format!("channels/{thread_id}"))?;
        let key = format!("PATCH channels/{thread_id}");
        self.send(
            &key,
            self.client
                .patch(url)
                .json(&serde_json::json!({ "archived": true })),
        )
        .await
        .map(|_| ())
    }

    /// One request on the route `key` (method + path with its major
    /// parameter): waits first if the route's bucket is spent, and learns
    /// the bucket from every answer's `X-RateLimit-*` headers, so the bot
    /// waits before a bucket runs dry instead of learning from 429s.
    async fn send(&self, key: &str, req: reqwest::RequestBuilder) -> Result<Value, DiscordError> {
        self.send_as(key, req, true).await
    }

    /// [`Self::send`], with the bot's `Authorization` or without it.
    async fn send_as(
        &self,
        key: &str,
        req: reqwest::RequestBuilder,
        as_bot: bool,
    ) -> Result<Value, DiscordError> {
        self.wait_for_bucket(key).await;
        let req = if as_bot {
            req.header(reqwest::header::AUTHORIZATION, self.auth.expose())
        } else {
            req
        };
        let resp = req
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .send()
            .await
            .map_err(|e| DiscordError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.buckets.learn(key, &headers, std::time::Instant::now());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| DiscordError::Transport(e.without_url().to_string()))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        Err(classify(status, &headers, &body))
    }
}

/// 2015-01-01T00:00:00Z, the epoch of Discord's snowflakes.
pub const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// The smallest snowflake of the millisecond `t` (ids made before `t` are
/// smaller): what `after=` takes to mean "posted since `t`".
pub fn snowflake_at(t: chrono::DateTime<chrono::Utc>) -> u64 {
    let ms = (t.timestamp_millis() - DISCORD_EPOCH_MS).max(0);
    (ms as u64) << 22
}

/// What Discord's `X-RateLimit-*` headers said about the buckets. Routes
/// Discord names the same bucket (`X-RateLimit-Bucket`) share one, per
/// major parameter (the channel, guild or webhook in the path): what one
/// spent, the other waits for.
#[derive(Default)]
pub struct Buckets {
    /// Route key -> the bucket hash Discord named for it.
    hashes: dashmap::DashMap<String, String>,
    /// Bucket (its hash and major parameter; the route key until Discord
    /// names a hash) -> (remaining, when it resets).
    buckets: dashmap::DashMap<String, (u64, std::time::Instant)>,
}

/// The major parameter of a route key (`POST channels/123/messages` →
/// `123`): the first id in its path.
fn major_parameter(key: &str) -> &str {
    key.split([' ', '/'])
        .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("")
}

impl Buckets {
    /// The bucket a route key counts against.
    fn bucket_of(&self, key: &str) -> String {
        match self.hashes.get(key) {
            Some(hash) => format!("{}:{}", hash.as_str(), major_parameter(key)),
            None => key.to_string(),
        }
    }

    /// Remember the route's bucket, `remaining` and when it resets, from
    /// an answer.
    pub fn learn(&self, key: &str, headers: &reqwest::header::HeaderMap, now: std::time::Instant) {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let num = |name: &str| text(name).and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(hash) = text("x-ratelimit-bucket").filter(|h| !h.is_empty() && h.len() <= 64) {
            if self.hashes.len() > 10_000 {
                self.hashes.clear();
            }
            self.hashes.insert(key.to_string(), hash.to_string());
        }
        let (Some(remaining), Some(reset_after)) =
            (num("x-ratelimit-remaining"), num("x-ratelimit-reset-after"))
        else {
            return;
        };
        let reset_at = now + Duration::from_secs_f64(reset_after.clamp(0.0, 3600.0));
        if self.buckets.len() > 10_000 {
            self.buckets.retain(|_, (_, at)| *at > now);
        }
        self.buckets
            .insert(self.bucket_of(key), (remaining.max(0.0) as u64, reset_at));
    }

    /// How long to wait before using `key`: only when its bucket is spent
    /// and not yet reset.
    pub fn wait_before(&self, key: &str, now: std::time::Instant) -> Option<Duration> {
        let (remaining, reset_at) = *self.buckets.get(&self.bucket_of(key))?;
        (remaining == 0 && reset_at > now).then(|| reset_at - now)
    }
}

/// The snowflake `id` of an answer (a message, a user).
fn id_of(v: &Value) -> Result<u64, DiscordError> {
    v.get("id")
        .and_then(|id| id.as_str())
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| DiscordError::Transport("answer without an id".into()))
}

/// Map a failed answer to a [`DiscordError`].
pub fn classify(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
) -> DiscordError {
    let header_f64 = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    match status.as_u16() {
        429 => {
            let secs = body
                .get("retry_after")
                .and_then(Value::as_f64)
                .or_else(|| header_f64("retry-after"))
                .or_else(|| header_f64("x-ratelimit-reset-after"))
                .unwrap_or(1.0)
                .clamp(0.0, 3600.0);
            let global = body.get("global").and_then(Value::as_bool).unwrap_or(false)
                || headers.contains_key("x-ratelimit-global");
            let shared = headers
                .get("x-ratelimit-scope")
                .is_some_and(|v| v.as_bytes() == b"shared");
            DiscordError::RateLimited {
                retry_after: Duration::from_secs_f64(secs),
                global,
                shared,
            }
        }
        401 => DiscordError::Unauthorized,
        s if s >= 500 => DiscordError::Server(s),
        s => DiscordError::Refused {
            status: s,
            code: body.get("code").and_then(Value::as_u64).unwrap_or(0),
            message: body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    #[test]
    fn classifies_rate_limits() {
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            &json!({"message": "You are being rate limited.", "retry_after": 0.25, "global": false}),
        );
        assert_eq!(
            e,
            DiscordError::RateLimited {
                retry_after: Duration::from_millis(250),
                global: false,
                shared: false,
            }
        );
        assert!(e.counts_as_invalid() && e.is_transient());
        let mut shared = HeaderMap::new();
        shared.insert("x-ratelimit-scope", HeaderValue::from_static("shared"));
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &shared,
            &json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": false}),
        );
        assert!(
            !e.counts_as_invalid() && e.is_transient(),
            "a shared limit is not the bot's invalid request: {e:?}"
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &h, &Value::Null);
        assert_eq!(
            e,
            DiscordError::RateLimited {
                retry_after: Duration::from_secs(2),
                global: true,
                shared: false,
            }
        );
        assert!(e.counts_as_invalid(), "a global 429 counts too");
    }

    #[test]
    fn routes_discord_names_one_bucket_share_it_per_major_parameter() {
        let b = Buckets::default();
        let now = std::time::Instant::now();
        let post = "POST webhooks/7";
        let edit = "PATCH webhooks/7/messages/:id";
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-bucket", HeaderValue::from_static("abcd"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("1"));
        h.insert("x-ratelimit-reset-after", HeaderValue::from_static("2"));
        b.learn(edit, &h, now);
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        b.learn(post, &h, now);
        assert_eq!(
            b.wait_before(edit, now),
            Some(Duration::from_secs(2)),
            "the post spent the bucket the edit shares"
        );
        let other = "PATCH webhooks/9/messages/:id";
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("1"));
        b.learn(other, &h, now);
        assert_eq!(
            b.wait_before(other, now),
            None,
            "another webhook's own bucket"
        );
        assert_eq!(major_parameter("PATCH channels/12/messages/:id"), "12");
    }

    #[test]
    fn snowflakes_carry_their_time() {
        // Discord's documented example: 175928847299117063 was made at
        // 2016-04-30 11:18:25.796 UTC.
        let t = chrono::DateTime::parse_from_rfc3339("2016-04-30T11:18:25.796Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(snowflake_at(t) >> 22, 175928847299117063u64 >> 22);
        assert!(snowflake_at(t) <= 175928847299117063);
    }

    #[test]
    fn a_spent_bucket_waits_for_its_reset() {
        let b = Buckets::default();
        let now = std::time::Instant::now();
        let key = "POST channels/1/messages";
        assert_eq!(b.wait_before(key, now), None, "unknown: go");
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("1"));
        h.insert("x-ratelimit-reset-after", HeaderValue::from_static("2.5"));
        b.learn(key, &h, now);
        assert_eq!(b.wait_before(key, now), None, "one left: go");
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        b.learn(key, &h, now);
        assert_eq!(b.wait_before(key, now), Some(Duration::from_millis(2500)));
        assert_eq!(b.wait_before("POST channels/2/messages", now), None);
        let later = now + Duration::from_secs(3);
        assert_eq!(b.wait_before(key, later), None, "reset passed: go");
        // An answer without the headers teaches nothing.
        b.learn("GET users/@me", &HeaderMap::new(), now);
        assert_eq!(b.wait_before("GET users/@me", now), None);
    }

    #[test]
    fn classifies_refusals() {
        let e = classify(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            &json!({"message": "Unknown Channel", "code": 10003}),
        );
        assert!(e.is_channel_unusable() && !e.is_transient() && !e.counts_as_invalid());
        let e = classify(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            &json!({"message": "Missing Permissions", "code": 50013}),
        );
        assert!(e.is_channel_unusable() && e.counts_as_invalid());
        assert!(classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), &Value::Null).is_transient());
    }
}
