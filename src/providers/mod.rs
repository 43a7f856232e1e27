//! Provider clients: one file per provider, one shared `reqwest::Client`.
//!
//! Every client maps its provider's JSON into [`crate::live::LiveStream`] and
//! reports failures as a [`ProviderError`] that names the provider and what
//! happened, never the key.

pub mod jkt48connect;
pub mod kitkot;
pub mod konbini;
pub mod lenient;
pub mod realtimekit;
pub mod source;
pub mod tiktok;
pub mod tiktok_cache;
pub mod tiktok_poll;

use std::fmt;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

/// Which upstream a result or error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderName {
    Jkt48Connect,
    Konbini,
    Kitkot,
    RealtimeKit,
}

impl std::str::FromStr for ProviderName {
    type Err = String;

    /// The inverse of [`ProviderName::as_str`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderName::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown provider {s}"))
    }
}

impl ProviderName {
    pub const ALL: [ProviderName; 4] = [
        ProviderName::Jkt48Connect,
        ProviderName::Konbini,
        ProviderName::Kitkot,
        ProviderName::RealtimeKit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Jkt48Connect => "JKT48Connect",
            ProviderName::Konbini => "KonbiniAPI",
            ProviderName::Kitkot => "kitkot",
            ProviderName::RealtimeKit => "Cloudflare RealtimeKit",
        }
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong talking to a provider. The `Display` text is safe to log
/// and to show to a user: it never contains a key, token or query string.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: request timed out after {after:?}")]
    Timeout {
        provider: ProviderName,
        after: Duration,
    },
    #[error("{provider}: could not connect ({reason})")]
    Connect {
        provider: ProviderName,
        reason: String,
    },
    #[error("{provider}: the API key was refused (HTTP {status}){}", unauthorized_hint(*provider))]
    Unauthorized { provider: ProviderName, status: u16 },
    #[error("{provider}: API credits are exhausted (HTTP 402){}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    CreditsExhausted {
        provider: ProviderName,
        detail: Option<String>,
    },
    #[error("{provider}: rate limited (HTTP 429){}", retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        provider: ProviderName,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    #[error("{provider}: HTTP {status}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        provider: ProviderName,
        status: u16,
        message: Option<String>,
    },
    #[error("{provider}: answered with an HTML page instead of JSON (HTTP {status})")]
    Html { provider: ProviderName, status: u16 },
    #[error("{provider}: answered with a body that is not JSON (HTTP {status}): {snippet}")]
    NotJson {
        provider: ProviderName,
        status: u16,
        snippet: String,
    },
    #[error("{provider}: unexpected response shape: {detail}")]
    Shape {
        provider: ProviderName,
        detail: String,
    },
    #[error("{provider}: {message}")]
    Api {
        provider: ProviderName,
        message: String,
    },
    #[error("{provider}: not found{}", what.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    NotFound {
        provider: ProviderName,
        what: Option<String>,
    },
    /// Refused before any request was made (a malformed username, id or name).
    #[error("{provider}: {what}")]
    InvalidInput {
        provider: ProviderName,
        what: String,
    },
}

impl ProviderError {
    /// A short label of what went wrong, for metrics (`kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::Connect { .. } => "connect",
            ProviderError::Unauthorized { .. } => "unauthorized",
            ProviderError::CreditsExhausted { .. } => "credits_exhausted",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Status { .. } => "status",
            ProviderError::Html { .. } | ProviderError::NotJson { .. } => "not_json",
            ProviderError::Shape { .. } => "shape",
            ProviderError::Api { .. } => "api",
            ProviderError::NotFound { .. } => "not_found",
            ProviderError::InvalidInput { .. } => "invalid_input",
        }
    }
}

fn unauthorized_hint(provider: ProviderName) -> &'static str {
    match provider {
        ProviderName::RealtimeKit => {
            "; the Cloudflare API token needs the Realtime or Realtime Admin permission"
        }
        _ => "",
    }
}

impl ProviderError {
    pub fn provider(&self) -> ProviderName {
        match self {
            ProviderError::Timeout { provider, .. }
            | ProviderError::Connect { provider, .. }
            | ProviderError::Unauthorized { provider, .. }
            | ProviderError::CreditsExhausted { provider, .. }
            | ProviderError::RateLimited { provider, .. }
            | ProviderError::Status { provider, .. }
            | ProviderError::Html { provider, .. }
            | ProviderError::NotJson { provider, .. }
            | ProviderError::Shape { provider, .. }
            | ProviderError::Api { provider, .. }
            | ProviderError::NotFound { provider, .. }
            | ProviderError::InvalidInput { provider, .. } => *provider,
        }
    }

    /// Replace every occurrence of these secret values in the error's texts
    /// (a provider may echo a key back in its error body) with `[redacted]`.
    pub fn redact(mut self, secrets: &[&str]) -> Self {
        let fix = |s: &mut String| {
            for k in secrets.iter().filter(|k| !k.is_empty()) {
                if s.contains(*k) {
                    *s = s.replace(*k, "[redacted]");
                }
            }
        };
        match &mut self {
            ProviderError::Connect { reason: s, .. }
            | ProviderError::NotJson { snippet: s, .. }
            | ProviderError::Shape { detail: s, .. }
            | ProviderError::Api { message: s, .. }
            | ProviderError::InvalidInput { what: s, .. }
            | ProviderError::CreditsExhausted {
                detail: Some(s), ..
            }
            | ProviderError::Status {
                message: Some(s), ..
            }
            | ProviderError::NotFound { what: Some(s), .. } => fix(s),
            _ => {}
        }
        self
    }

    /// A short English hint on what the operator can do about this error.
    pub fn user_hint(&self) -> &'static str {
        match self {
            ProviderError::Unauthorized {
                provider: ProviderName::RealtimeKit,
                ..
            } => "Give the Cloudflare API token the Realtime (or Realtime Admin) permission for this account.",
            ProviderError::Unauthorized { .. } => "Check the provider's API key in the bot's configuration.",
            ProviderError::CreditsExhausted { .. } => "The provider's credits are used up; top them up or wait for the next period.",
            ProviderError::RateLimited { .. } => "The provider is rate limiting the bot; it will retry later.",
            ProviderError::Timeout { .. } | ProviderError::Connect { .. } => {
                "The provider could not be reached; it will be retried."
            }
            ProviderError::InvalidInput { .. } => "Check the value you entered.",
            ProviderError::NotFound { .. } => "Check the id or name.",
            _ => "The provider answered unexpectedly; it will be retried.",
        }
    }
}

/// An `Authorization: Bearer …` header value, marked sensitive so that it is
/// never shown by `Debug` of a request or header map.
pub fn bearer(
    provider: ProviderName,
    token: &crate::secret::Secret,
) -> Result<reqwest::header::HeaderValue, ProviderError> {
    let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| ProviderError::InvalidInput {
            provider,
            what: "the configured API token contains characters not allowed in an HTTP header"
                .into(),
        })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Default per-request timeout for provider calls.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP context every provider shares: one `reqwest::Client` (one
/// connection pool, one user agent) and, optionally, a per-request timeout
/// shorter than the client's.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    timeout: Option<Duration>,
}

impl Http {
    pub fn new(client: reqwest::Client) -> Self {
        Http {
            client,
            timeout: None,
        }
    }

    /// The shared client with the default timeout.
    pub fn shared() -> Self {
        Http::new(http_client(REQUEST_TIMEOUT))
    }

    /// A per-request timeout overriding the client's.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Apply the per-request timeout, when one was set; returns the timeout
    /// to report in a [`ProviderError::Timeout`].
    pub fn timed(&self, request: RequestBuilder) -> (RequestBuilder, Duration) {
        match self.timeout {
            Some(t) => (request.timeout(t), t),
            None => (request, REQUEST_TIMEOUT),
        }
    }
}

/// The one HTTP client every provider shares.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!(
            "onair/",
            env!("CARGO_PKG_VERSION"),
            " (+https://github.com/onair-bot/onair)"
        ))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A URL with its query string and fragment removed, safe to log.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// `base` + `path`, keeping any path the base already has
/// (`https://kitkot.xyz/api` + `live/join` = `https://kitkot.xyz/api/live/join`).
/// Each segment of `path` is percent-encoded, so user input (a username)
/// cannot add segments or a query.
pub fn endpoint(base: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    url.set_query(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    url
}

/// A raw answer: status, selected headers and the parsed JSON body.
#[derive(Debug)]
pub struct JsonResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Send a request and parse the body as JSON, mapping transport failures,
/// HTML error pages and non-JSON bodies into [`ProviderError`]. HTTP error
/// statuses are NOT turned into errors here (providers give them meaning);
/// use [`error_for_status`] for the common mapping.
pub async fn send_json(
    provider: ProviderName,
    request: RequestBuilder,
    timeout: Duration,
) -> Result<JsonResponse, ProviderError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| ProviderError::Connect {
        provider,
        reason: strip_urls(&e.to_string()),
    })?;
    let shown = redact_url(request.url());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = client
        .execute(request)
        .await
        .map_err(|e| transport_error(provider, e, timeout))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, e, timeout))?;
    tracing::debug!(
        provider = %provider,
        %method,
        url = %shown,
        status = status.as_u16(),
        bytes = bytes.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "provider request"
    );
    let body = parse_body(provider, status, &headers, &bytes)?;
    Ok(JsonResponse {
        status,
        headers,
        body,
    })
}

fn parse_body(
    provider: ProviderName,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
) -> Result<Value, ProviderError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        // An empty body: meaningful for some statuses (404, 204); let callers decide.
        return Ok(Value::Null);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Ok(v),
        Err(_) => {
            if matches!(status.as_u16(), 401 | 403) {
                return Err(ProviderError::Unauthorized {
                    provider,
                    status: status.as_u16(),
                });
            }
            let is_html = headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.contains("html"))
                || looks_like_html(bytes);
            if is_html {
                Err(ProviderError::Html {
                    provider,
                    status: status.as_u16(),
                })
            } else {
                Err(ProviderError::NotJson {
                    provider,
                    status: status.as_u16(),
                    snippet: snippet(bytes),
                })
            }
        }
    }
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_ascii_lowercase();
    let head = head.trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<head")
}

/// First characters of a body, printable, for an error message.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    strip_urls(clean.trim())
}

/// Remove anything that looks like a URL query string (where keys live).
fn strip_urls(text: &str) -> String {
    text.split_whitespace()
        .map(|w| match w.find('?') {
            Some(i) if w.contains("://") => format!("{}?…", &w[..i]),
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn transport_error(provider: ProviderName, e: reqwest::Error, timeout: Duration) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout {
            provider,
            after: timeout,
        }
    } else {
        // reqwest's Display includes the URL (with the key in the query for
        // some providers): drop it.
        let e = e.without_url();
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        ProviderError::Connect {
            provider,
            reason: strip_urls(&reason),
        }
    }
}

/// The common mapping of an HTTP error status: 401/403 bad key, 402 credits,
/// 429 rate limit, others with the provider's message when it gave one.
pub fn error_for_status(provider: ProviderName, resp: &JsonResponse) -> Result<(), ProviderError> {
    let status = resp.status.as_u16();
    if resp.status.is_success() {
        return Ok(());
    }
    let message = error_message(&resp.body);
    Err(match status {
        401 | 403 => ProviderError::Unauthorized { provider, status },
        402 => ProviderError::CreditsExhausted {
            provider,
            detail: message,
        },
        429 => ProviderError::RateLimited {
            provider,
            retry_after: retry_after(&resp.headers, chrono::Utc::now()),
        },
        404 => ProviderError::NotFound {
            provider,
            what: message,
        },
        _ => ProviderError::Status {
            provider,
            status,
            message,
        },
    })
}

/// A `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3),
/// capped at a day so a bogus value cannot silence a provider for good.
pub fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match raw.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => s,
        Ok(_) => return None,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .num_milliseconds()
                .max(0) as f64
                / 1000.0
        }
    };
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Pull a human message out of the usual error envelopes:
/// `{"errors": [{"message"|"detail"|"code"}]}`, `{"error": "..."}`,
/// `{"error": {"message"}}`, `{"message": "..."}`, `{"msg": "..."}`.
pub fn error_message(body: &Value) -> Option<String> {
    let pick = |v: &Value| -> Option<String> {
        for k in ["message", "detail", "title", "msg", "code"] {
            if let Some(s) = v.get(k).and_then(|x| x.as_str()) {
                if !s.is_empty() {
                    return Some(s.to_string());
                }
            }
        }
        v.as_str().map(str::to_string)
    };
    let found = if let Some(errors) = body.get("errors").and_then(|e| e.as_array()) {
        let parts: Vec<String> = errors.iter().filter_map(pick).collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    } else if let Some(err) = body.get("error") {
        pick(err)
    } else {
        pick(body)
    };
    found.map(|m| truncate_chars(&strip_urls(&m), 200))
}

/// An id safe to put in a URL path or query: 1..=`max` ASCII letters,
/// digits, `-` or `_` (user input can add no segment, parameter or key).
pub fn plain_id(id: &str, max: usize) -> bool {
    (1..=max).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The trimmed id, or an `InvalidInput` error naming `what`.
pub fn check_id<'a>(
    provider: ProviderName,
    what: &str,
    id: &'a str,
    max: usize,
) -> Result<&'a str, ProviderError> {
    let id = id.trim();
    if plain_id(id, max) {
        Ok(id)
    } else {
        Err(ProviderError::InvalidInput {
            provider,
            what: format!("`{}` is not a valid {what}", truncate_chars(id, max)),
        })
    }
}

/// Truncate to at most `max` characters (not bytes), adding an ellipsis.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_query() {
        let u = reqwest::Url::parse("https://x.test/api/live?apikey=SECRET&a=1#f").unwrap();
        assert_eq!(redact_url(&u), "https://x.test/api/live");
    }

    #[test]
    fn endpoint_keeps_base_path() {
        let b = reqwest::Url::parse("https://kitkot.xyz/api").unwrap();
        assert_eq!(
            endpoint(&b, &["live", "join"]).as_str(),
            "https://kitkot.xyz/api/live/join"
        );
        let b = reqwest::Url::parse("http://127.0.0.1:1/").unwrap();
        assert_eq!(
            endpoint(&b, &["v1", "tiktok", "users", "a/b?x", "live"]).as_str(),
            "http://127.0.0.1:1/v1/tiktok/users/a%2Fb%3Fx/live"
        );
    }

    #[test]
    fn strips_query_from_text() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/x?apikey=K)"),
            "error sending request for url (http://h/x?…"
        );
    }

    #[test]
    fn error_envelopes() {
        let v: Value = serde_json::json!({"errors":[{"code":"credits_exhausted","message":"No credits left"}]});
        assert_eq!(error_message(&v).as_deref(), Some("No credits left"));
        let v: Value = serde_json::json!({"error":"bad key"});
        assert_eq!(error_message(&v).as_deref(), Some("bad key"));
        let v: Value = serde_json::json!({"success":false,"errors":[{"code":10000,"message":"Authentication error"}]});
        assert_eq!(error_message(&v).as_deref(), Some("Authentication error"));
        assert_eq!(error_message(&Value::Null), None);
    }

    #[test]
    fn redacts_echoed_secrets() {
        let e = ProviderError::NotJson {
            provider: ProviderName::Konbini,
            status: 401,
            snippet: "bad key KEY-1 for KEY-1".into(),
        };
        assert_eq!(
            e.redact(&["KEY-1", ""]).to_string(),
            "KonbiniAPI: answered with a body that is not JSON (HTTP 401): bad key [redacted] for [redacted]"
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert("retry-after", "30".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            "retry-after",
            "Tue, 01 Dec 2026 10:01:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(90)));
        h.insert("retry-after", "999999999".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(86_400)));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn truncates_by_chars() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
    }
}
