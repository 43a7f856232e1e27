//! One request to a provider's JSON API: the URL ([`endpoint`]), the token
//! ([`bearer`]), sending and parsing ([`send_json`]) and the common meaning
//! of an error answer ([`error_for_status`], [`retry_after`],
//! [`error_message`]), every failure a [`ProviderError`].

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use super::error::ProviderError;
use super::name::ProviderName;
use crate::redact::{redact_url, strip_urls};
use crate::text::truncate_chars;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
