//! Discord's rate limits as the fake enforces them, on by default in every
//! test: a bucket on every route (its hash shared by the routes that share
//! a limit, counted per major parameter: a channel, a webhook, a guild),
//! the bot's global 50 requests/s (interactions are exempt), the per-IP
//! limit of requests without the bot's token (webhooks), with Discord's
//! `X-RateLimit-*` headers on every answer and its 429 body; and the
//! invalid-request ban (10,000 answers of 401, 403 or 429 in 10 minutes
//! block the IP for about an hour, as Cloudflare does in front of Discord).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{FakeDiscord, Inner, State};

/// Discord's global limit for a bot token, and per IP for requests
/// without one.
pub const GLOBAL_PER_SECOND: usize = 50;
/// Discord's invalid-request limit: this many 401/403/429 answers in
/// [`INVALID_WINDOW`] and the IP is blocked.
pub const INVALID_BAN: usize = 10_000;
pub const INVALID_WINDOW: Duration = Duration::from_secs(600);
/// How long Cloudflare keeps such an IP blocked (about an hour).
pub const BAN: Duration = Duration::from_secs(3600);

/// Who a 429 is about (`X-RateLimit-Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The route's bucket for this bot.
    User,
    /// The bot's global limit.
    Global,
    /// A resource's limit shared by everyone (a busy channel): it does not
    /// count toward the invalid-request limit.
    Shared,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Global => "global",
            Scope::Shared => "shared",
        }
    }
}

/// A route's bucket: its hash (shared by routes with one limit), the
/// major parameter it is counted per, and its limit.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bucket {
    pub hash: &'static str,
    pub major: u64,
    pub limit: usize,
    pub window: Duration,
}

/// Which bucket a request falls in. Limits follow what Discord is known
/// to answer (messages 5 per 5 s per channel, a webhook 5 per 2 s); routes
/// only serenity calls (whose own limiter is off behind a proxy, as in the
/// tests) get roomier ones, so they still carry headers and can still 429.
pub(super) fn bucket_of(s: &State, method: &str, segs: &[&str]) -> Option<Bucket> {
    let id = |v: &str| v.parse::<u64>().unwrap_or(0);
    let (hash, major, (limit, window)) = match (method, segs) {
        ("POST", ["channels", c, "messages"]) => {
            ("channel-messages", id(c), (5, Duration::from_secs(5)))
        }
        ("PATCH" | "DELETE", ["channels", c, "messages", _]) => {
            ("message-edits", id(c), (5, Duration::from_secs(5)))
        }
        ("GET", ["channels", c, "messages", ..]) => {
            ("message-reads", id(c), (5, Duration::from_secs(1)))
        }
        ("POST", ["channels", c, "messages", _, "threads"]) => {
            ("threads", id(c), (5, Duration::from_secs(5)))
        }
        (_, ["channels", c, "webhooks"]) => {
            ("channel-webhooks", id(c), (5, Duration::from_secs(5)))
        }
        (_, ["channels", c]) => ("channel", id(c), (10, Duration::from_secs(1))),
        // A webhook's executions and edits share its bucket.
        (_, ["webhooks", w, _, ..]) if s.webhooks.contains_key(&id(w)) => {
            ("webhook", id(w), (5, Duration::from_secs(2)))
        }
        (_, ["guilds", g, ..]) => ("guild", id(g), (50, Duration::from_secs(1))),
        (_, ["applications", ..]) => ("commands", 0, (50, Duration::from_secs(1))),
        _ => return None,
    };
    // A test's own limit for this bucket, if it set one.
    let (limit, window) = s.route_limits.get(hash).copied().unwrap_or((limit, window));
    Some(Bucket {
        hash,
        major,
        limit,
        window,
    })
}

/// Interaction answers are not under the global limit (Discord: "Interaction
/// endpoints are not bound to the bot's Global Rate Limit").
fn exempt_from_global(segs: &[&str], hook: bool) -> bool {
    matches!(segs, ["interactions", ..]) || (matches!(segs, ["webhooks", ..]) && !hook)
}

fn set(h: &mut HeaderMap, k: &'static str, v: String) {
    if let Ok(v) = v.parse() {
        h.insert(k, v);
    }
}

/// The bucket headers of an answer: what is left and when it resets.
fn bucket_headers(h: &mut HeaderMap, b: &Bucket, remaining: usize, reset_after: Duration) {
    set(h, "x-ratelimit-limit", b.limit.to_string());
    set(h, "x-ratelimit-remaining", remaining.to_string());
    set(
        h,
        "x-ratelimit-reset-after",
        format!("{:.3}", reset_after.as_secs_f64()),
    );
    set(
        h,
        "x-ratelimit-reset",
        format!(
            "{:.3}",
            chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + reset_after.as_secs_f64()
        ),
    );
    set(h, "x-ratelimit-bucket", b.hash.to_string());
}

/// Discord's 429: `retry_after` in the body and the headers; a route's
/// bucket headers when it is a route's limit (a global one has none).
pub(super) fn rate_limited(retry_after: f64, scope: Scope, bucket: Option<&Bucket>) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(b) = bucket {
        bucket_headers(
            &mut headers,
            b,
            0,
            Duration::from_secs_f64(retry_after.max(0.0)),
        );
    }
    set(
        &mut headers,
        "retry-after",
        format!("{}", retry_after.ceil() as u64),
    );
    set(&mut headers, "x-ratelimit-scope", scope.as_str().into());
    let global = scope == Scope::Global;
    if global {
        set(&mut headers, "x-ratelimit-global", "true".into());
    }
    let body = json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global});
    (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response()
}

/// What Cloudflare answers an IP it blocked for too many invalid requests.
fn banned() -> Response {
    let mut headers = HeaderMap::new();
    set(&mut headers, "retry-after", "3600".into());
    (
        StatusCode::TOO_MANY_REQUESTS,
        headers,
        "error code: 1015".to_string(),
    )
        .into_response()
}

/// Drop the instants older than `window` from the front of `q`.
fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

impl FakeDiscord {
    /// How many 429s the fake answered (every scope).
    pub fn rate_limited_count(&self) -> usize {
        self.state().rate_limited
    }

    /// At most `n` messages per `window` per channel, 429 past it.
    pub fn set_channel_limit(&self, n: usize, window: Duration) {
        self.set_route_limit("channel-messages", n, window);
    }

    /// The bucket `hash` (see the module) allows `n` requests per `window`
    /// per major parameter.
    pub fn set_route_limit(&self, hash: &'static str, n: usize, window: Duration) {
        self.state().route_limits.insert(hash, (n, window));
    }

    /// At most `rps` requests per second for the bot's token (Discord: 50),
    /// global 429 past it. Benchmarks that model a bot with a raised limit
    /// set it higher.
    pub fn set_global_limit(&self, rps: usize) {
        self.state().global_limit = Some(rps);
    }

    /// Discord's per-IP limit on requests without a bot token (webhooks).
    pub fn set_ip_limit(&self, rps: usize) {
        self.state().ip_limit = Some(rps);
    }

    /// Block the IP after `n` invalid requests in 10 minutes (Discord:
    /// 10,000), so a test can show the ban without sending 10,000.
    pub fn set_invalid_request_ban(&self, n: usize) {
        self.state().invalid_ban = Some(n);
    }

    /// Requests Discord counts as invalid (401, 403, 429 but not a shared
    /// 429) in the last 10 minutes.
    pub fn invalid_requests(&self) -> usize {
        let mut s = self.state();
        let now = Instant::now();
        expire(&mut s.invalid, now, INVALID_WINDOW);
        s.invalid.len()
    }

    /// Whether the fake blocks the bot's IP now for too many invalid
    /// requests.
    pub fn banned(&self) -> bool {
        self.state()
            .banned_until
            .is_some_and(|t| Instant::now() < t)
    }
}

impl Inner {
    /// Count an answer toward the invalid-request limit; past it the IP is
    /// blocked from then on.
    pub(super) fn count_invalid(&self, status: u16, shared: bool) {
        if !(matches!(status, 401 | 403) || (status == 429 && !shared)) {
            return;
        }
        let mut s = self.state();
        let now = Instant::now();
        expire(&mut s.invalid, now, INVALID_WINDOW);
        s.invalid.push_back(now);
        if s.invalid.len() >= s.invalid_ban.unwrap_or(INVALID_BAN) {
            s.banned_until = Some(now + BAN);
        }
    }

    /// A successful answer carries its route's bucket headers, as
    /// Discord's do: what is left and when it resets.
    pub(super) fn add_bucket_headers(&self, method: &str, segs: &[&str], headers: &mut HeaderMap) {
        let s = self.state();
        let Some(b) = bucket_of(&s, method, segs) else {
            return;
        };
        let now = Instant::now();
        let used: Vec<Instant> = s
            .route_sends
            .get(&(b.hash, b.major))
            .map(|q| {
                q.iter()
                    .copied()
                    .filter(|t| now.duration_since(*t) < b.window)
                    .collect()
            })
            .unwrap_or_default();
        let remaining = b.limit.saturating_sub(used.len());
        let reset_after = used.first().map_or(b.window, |t| {
            b.window.saturating_sub(now.duration_since(*t))
        });
        bucket_headers(headers, &b, remaining, reset_after);
    }

    /// Discord's limits, in its order: a blocked IP, then the global (or
    /// per-IP) limit, then the route's bucket.
    pub(super) fn limits(&self, method: &str, segs: &[&str], by_ip: bool) -> Option<Response> {
        let mut guard = self.state();
        let s = &mut *guard;
        let now = Instant::now();
        if s.banned_until.is_some_and(|t| now < t) {
            return Some(banned());
        }
        if !exempt_from_global(segs, by_ip) {
            let (limit, window) = if by_ip {
                (s.ip_limit, &mut s.ip_window)
            } else {
                (s.global_limit, &mut s.global_window)
            };
            if let Some(rps) = limit {
                expire(window, now, Duration::from_secs(1));
                if window.len() >= rps {
                    let wait = window
                        .front()
                        .map_or(0.05, |t| 1.0 - now.duration_since(*t).as_secs_f64());
                    s.rate_limited += 1;
                    return Some(rate_limited(wait.max(0.001), Scope::Global, None));
                }
                window.push_back(now);
            }
        }
        let b = bucket_of(s, method, segs)?;
        let q = s.route_sends.entry((b.hash, b.major)).or_default();
        expire(q, now, b.window);
        if q.len() >= b.limit {
            let wait = q
                .front()
                .map_or(0.1, |t| (b.window - now.duration_since(*t)).as_secs_f64());
            s.rate_limited += 1;
            return Some(rate_limited(wait.max(0.001), Scope::User, Some(&b)));
        }
        q.push_back(now);
        None
    }
}
