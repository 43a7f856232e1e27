//! Discord's rate limits as the fake enforces them: the per-channel
//! message limit (on by default), the bot's global limit and the per-IP
//! limit of webhook requests (when a test turns them on), with Discord's
//! 429 headers and body and the bucket headers of a successful post.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::routes::segments;
use super::{FakeDiscord, Inner};

pub(super) fn rate_limited(retry_after: f64, global: bool) -> Response {
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
    pub fn rate_limited_count(&self) -> usize {
        self.state().rate_limited
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
}

impl Inner {
    /// A successful message POST carries its channel bucket's headers, as
    /// Discord's answers do: what is left and when it resets.
    pub(super) fn bucket_headers(&self, method: &str, path: &str, headers: &mut HeaderMap) {
        let segs = segments(path);
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

    /// Discord's own limits, when a test or benchmark turned them on.
    pub(super) fn limits(
        &self,
        method: &str,
        channel: Option<u64>,
        by_ip: bool,
    ) -> Option<Response> {
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
}
