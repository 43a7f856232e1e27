//! Cloudflare RealtimeKit livestreams of the operator's app.
//!
//! Paths under `{base}/accounts/{account_id}/realtime/kit/{app_id}/…`,
//! `Authorization: Bearer <token>`. Bodies are `{"success", "data"}` or
//! `{"success", "result"}` (or `result.data`). Cloudflare's own documents
//! disagree with themselves (booleans as strings, durations as strings, a
//! `session` object or a `sessions` list, a list or a single object), so
//! everything is read leniently: an odd field becomes `None`, never an error.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::ProviderError;
use super::lenient;
use super::name::ProviderName;
use super::request::{bearer, endpoint, error_for_status, error_message, send_json};
use crate::config::RealtimeKitConfig;
use crate::live::{web_url, LiveStream, Platform, StreamKind, StreamUrl};
use crate::secret::Secret;

const PROVIDER: ProviderName = ProviderName::RealtimeKit;

/// Client for the RealtimeKit livestream API.
#[derive(Debug, Clone)]
pub struct RealtimeKit {
    http: crate::http::Http,
    cfg: RealtimeKitConfig,
}

/// A livestream's state. Unknown values are kept, never rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LivestreamStatus {
    Live,
    Idle,
    Errored,
    Invoked,
    Unknown(String),
}

impl LivestreamStatus {
    /// Case-insensitive; anything else (also empty) is `Unknown`.
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "LIVE" => LivestreamStatus::Live,
            "IDLE" => LivestreamStatus::Idle,
            "ERRORED" | "ERROR" => LivestreamStatus::Errored,
            "INVOKED" => LivestreamStatus::Invoked,
            _ => LivestreamStatus::Unknown(raw.trim().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            LivestreamStatus::Live => "LIVE",
            LivestreamStatus::Idle => "IDLE",
            LivestreamStatus::Errored => "ERRORED",
            LivestreamStatus::Invoked => "INVOKED",
            LivestreamStatus::Unknown(s) => s,
        }
    }
}

impl fmt::Display for LivestreamStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LivestreamStatus::Unknown(s) if s.is_empty() => f.write_str("UNKNOWN"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A livestream. `stream_key` is a [`Secret`]: it never prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Livestream {
    pub id: String,
    pub name: Option<String>,
    pub status: LivestreamStatus,
    pub disabled: Option<bool>,
    pub meeting_id: Option<String>,
    /// `rtmps://…`: kept as given (not a web URL).
    pub ingest_server: Option<String>,
    pub stream_key: Option<Secret>,
    /// HLS manifest (http/https only).
    pub playback_url: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One session (one broadcast) of a livestream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LivestreamSession {
    pub id: Option<String>,
    pub livestream_id: Option<String>,
    pub started_time: Option<DateTime<Utc>>,
    pub stopped_time: Option<DateTime<Utc>>,
    pub invoked_time: Option<DateTime<Utc>>,
    pub ingest_seconds: Option<f64>,
    pub viewer_seconds: Option<f64>,
    pub err_message: Option<String>,
}

/// A livestream with its current (or latest) session.
#[derive(Debug, Clone, PartialEq)]
pub struct LivestreamDetail {
    pub livestream: Livestream,
    pub session: Option<LivestreamSession>,
}

/// `analytics/livestreams/overall`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Analytics {
    pub count: u64,
    pub total_ingest_seconds: f64,
    pub total_viewer_seconds: f64,
}

impl Livestream {
    /// The normalized model: key = id, name = name or id, the playback URL
    /// as the HLS stream and the watch link, start from the session.
    pub fn to_live_stream(&self, session: Option<&LivestreamSession>) -> LiveStream {
        let name = self.name.clone().unwrap_or_else(|| self.id.clone());
        let mut s = LiveStream::new(Platform::Realtimekit, self.id.clone(), name);
        s.started_at = session.and_then(|x| x.started_time);
        if let Some(url) = &self.playback_url {
            s.streams.push(StreamUrl {
                label: "hls".into(),
                kind: StreamKind::Hls,
                url: url.clone(),
            });
        }
        s.watch_url = self.playback_url.clone();
        s
    }
}

impl RealtimeKit {
    pub fn new(http: crate::http::Http, cfg: RealtimeKitConfig) -> Self {
        RealtimeKit { http, cfg }
    }

    /// Every livestream of the app, every page read; malformed entries are
    /// skipped (logged).
    pub async fn list_livestreams(&self) -> Result<Vec<Livestream>, ProviderError> {
        self.list_where(None).await
    }

    /// The livestreams that are LIVE now: filtered by the API (`status=LIVE`)
    /// and again here (a server that ignores the filter changes nothing),
    /// every page read.
    pub async fn live_livestreams(&self) -> Result<Vec<Livestream>, ProviderError> {
        let mut list = self.list_where(Some("LIVE")).await?;
        list.retain(|l| l.status == LivestreamStatus::Live);
        Ok(list)
    }

    /// Read pages of `per_page` until `paging.total_count` entries came, a
    /// page comes back short, or [`MAX_PAGES`] pages were read.
    async fn list_where(&self, status: Option<&str>) -> Result<Vec<Livestream>, ProviderError> {
        let mut out: Vec<Livestream> = Vec::new();
        let mut seen = 0usize;
        for page in 1..=MAX_PAGES {
            let page_no = page.to_string();
            let per_page = PER_PAGE.to_string();
            let mut query = vec![
                ("per_page", per_page.as_str()),
                ("page_no", page_no.as_str()),
            ];
            if let Some(s) = status {
                query.push(("status", s));
            }
            let request = self
                .http
                .client()
                .get(self.url(&["livestreams"]))
                .query(&query);
            let body = self.send_raw(request).await?;
            let data = unwrap_envelope(&body)?;
            let raw_len = raw_list_len(&data);
            seen += raw_len;
            out.extend(parse_livestream_list(&data)?);
            let total = total_count(&body).or_else(|| total_count(&data));
            let more = match total {
                Some(total) => seen < total && raw_len > 0,
                None => raw_len >= PER_PAGE,
            };
            if !more {
                return Ok(out);
            }
        }
        tracing::warn!(provider = %PROVIDER, pages = MAX_PAGES, "stopped reading livestream pages at the page limit");
        Ok(out)
    }

    /// One livestream with its session. 404 = no such livestream.
    pub async fn get_livestream(&self, id: &str) -> Result<LivestreamDetail, ProviderError> {
        let id = check_id("livestream id", id)?;
        let data = self
            .call(
                reqwest::Method::GET,
                &["livestreams", id],
                None,
                Some("no such livestream"),
            )
            .await?;
        parse_detail(&data)
    }

    /// The livestream's active session.
    pub async fn active_session(&self, id: &str) -> Result<LivestreamDetail, ProviderError> {
        let id = check_id("livestream id", id)?;
        let path = ["livestreams", id, "active-livestream-session"];
        let data = self
            .call(
                reqwest::Method::GET,
                &path,
                None,
                Some("no active session for this livestream"),
            )
            .await?;
        parse_detail(&data)
    }

    /// Create an independent livestream (`name`: letters, digits, '-', '_').
    pub async fn create_livestream(&self, name: &str) -> Result<Livestream, ProviderError> {
        let name = name.trim();
        let ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(ProviderError::InvalidInput {
                provider: PROVIDER,
                what: "a livestream name is 1–100 letters, digits, '-' or '_'".into(),
            });
        }
        let body = serde_json::json!({ "name": name });
        let data = self
            .call(reqwest::Method::POST, &["livestreams"], Some(body), None)
            .await?;
        parse_livestream(&data).map_err(shape)
    }

    /// A meeting's active livestream.
    pub async fn meeting_active_livestream(
        &self,
        meeting_id: &str,
    ) -> Result<Livestream, ProviderError> {
        let id = check_id("meeting id", meeting_id)?;
        let path = ["meetings", id, "active-livestream"];
        let data = self
            .call(
                reqwest::Method::GET,
                &path,
                None,
                Some("no active livestream for this meeting"),
            )
            .await?;
        let data = data.get("livestream").unwrap_or(&data);
        parse_livestream(data).map_err(shape)
    }

    /// Stop a meeting's livestream; returns Cloudflare's message.
    pub async fn stop_meeting_livestream(&self, meeting_id: &str) -> Result<String, ProviderError> {
        let id = check_id("meeting id", meeting_id)?;
        let path = ["meetings", id, "active-livestream", "stop"];
        let data = self
            .call(
                reqwest::Method::POST,
                &path,
                None,
                Some("no active livestream for this meeting"),
            )
            .await?;
        Ok(lenient::text(data.get("message"))
            .or_else(|| lenient::text(Some(&data)))
            .unwrap_or_else(|| "stopped".into()))
    }

    /// Totals over `[start, end]` (unix seconds on the wire).
    pub async fn analytics_overall(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Analytics, ProviderError> {
        let mut query = Vec::new();
        if let Some(t) = start {
            query.push(("start_time", t.timestamp().to_string()));
        }
        if let Some(t) = end {
            query.push(("end_time", t.timestamp().to_string()));
        }
        let url = self.url(&["analytics", "livestreams", "overall"]);
        let request = self.http.client().get(url).query(&query);
        let data = self.send(request, None).await?;
        Ok(parse_analytics(&data))
    }

    fn url(&self, tail: &[&str]) -> reqwest::Url {
        let mut segments = vec![
            "accounts",
            self.cfg.account_id.as_str(),
            "realtime",
            "kit",
            self.cfg.app_id.as_str(),
        ];
        segments.extend_from_slice(tail);
        endpoint(&self.cfg.base_url, &segments)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        tail: &[&str],
        json: Option<Value>,
        not_found: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let mut request = self.http.client().request(method, self.url(tail));
        if let Some(body) = json {
            request = request.json(&body);
        }
        self.send(request, not_found).await
    }

    /// Auth, send, status mapping: the whole body of a success.
    async fn send_raw(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        self.send_body(request, None)
            .await
            .map_err(|e| e.redact(&[self.cfg.api_token.expose()]))
    }

    /// Auth, send, status mapping, envelope: the `data` of a success.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        not_found: Option<&str>,
    ) -> Result<Value, ProviderError> {
        self.send_body(request, not_found)
            .await
            .and_then(|body| unwrap_envelope(&body))
            .map_err(|e| e.redact(&[self.cfg.api_token.expose()]))
    }

    async fn send_body(
        &self,
        request: reqwest::RequestBuilder,
        not_found: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let request = request.header(
            reqwest::header::AUTHORIZATION,
            bearer(PROVIDER, &self.cfg.api_token)?,
        );
        let (request, timeout) = self.http.timed(request);
        let resp = send_json(PROVIDER, request, timeout).await?;
        if resp.status.as_u16() == 404 {
            if let Some(what) = not_found {
                return Err(ProviderError::NotFound {
                    provider: PROVIDER,
                    what: Some(what.to_string()),
                });
            }
        }
        error_for_status(PROVIDER, &resp)?;
        Ok(resp.body)
    }
}

/// Livestreams asked for per page.
pub const PER_PAGE: usize = 100;
/// Pages read at most in one listing (10,000 livestreams).
pub const MAX_PAGES: usize = 100;

/// `paging.total_count` (a number or a numeric string), where present.
fn total_count(v: &Value) -> Option<usize> {
    lenient::u64(v.get("paging").and_then(|p| p.get("total_count"))).map(|n| n as usize)
}

/// How many entries a list answer carried, malformed ones included.
fn raw_list_len(data: &Value) -> usize {
    match data {
        Value::Array(list) => list.len(),
        Value::Object(_) => ["livestreams", "data"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_array))
            .map(|l| l.len())
            .unwrap_or(usize::from(data.get("id").is_some())),
        _ => 0,
    }
}

fn check_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ProviderError> {
    super::ids::check_id(PROVIDER, what, id, 64)
}

fn shape(detail: String) -> ProviderError {
    ProviderError::Shape {
        provider: PROVIDER,
        detail,
    }
}

/// `{"success": false, "errors"}` → Api error; else `data`, `result.data`
/// or `result`.
pub fn unwrap_envelope(body: &Value) -> Result<Value, ProviderError> {
    if !body.is_object() {
        return Err(shape("expected a JSON object".into()));
    }
    if lenient::bool(body.get("success")) == Some(false) {
        return Err(ProviderError::Api {
            provider: PROVIDER,
            message: error_message(body).unwrap_or_else(|| "the request did not succeed".into()),
        });
    }
    let present = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    let result = body.get("result");
    present(body.get("data"))
        .or_else(|| present(result.and_then(|r| r.get("data"))))
        .or_else(|| present(result))
        .ok_or_else(|| shape("no `data` or `result` in the answer".into()))
}

/// A list answer: a list, `{livestreams|data: [...]}` or a single object.
pub fn parse_livestream_list(data: &Value) -> Result<Vec<Livestream>, ProviderError> {
    let items: Vec<&Value> = match data {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => match ["livestreams", "data"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_array))
        {
            Some(list) => list.iter().collect(),
            None if data.get("id").is_some() => vec![data],
            None => return Err(shape("expected a list of livestreams".into())),
        },
        _ => return Err(shape("expected a list of livestreams".into())),
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match parse_livestream(item) {
            Ok(l) => out.push(l),
            Err(reason) => {
                tracing::warn!(provider = %PROVIDER, index, %reason, "skipping malformed livestream")
            }
        }
    }
    Ok(out)
}

/// `{livestream, session | sessions}`, or a bare livestream object.
pub fn parse_detail(data: &Value) -> Result<LivestreamDetail, ProviderError> {
    let livestream = parse_livestream(data.get("livestream").unwrap_or(data)).map_err(shape)?;
    let session = match data.get("session").or_else(|| data.get("sessions")) {
        Some(Value::Array(list)) => pick_session(list.iter().filter_map(parse_session).collect()),
        Some(v @ Value::Object(_)) => parse_session(v),
        _ => None,
    };
    Ok(LivestreamDetail {
        livestream,
        session,
    })
}

/// The running session if any, else the one that started last.
fn pick_session(mut sessions: Vec<LivestreamSession>) -> Option<LivestreamSession> {
    sessions.sort_by_key(|s| (s.stopped_time.is_none(), s.started_time));
    sessions.pop()
}

/// One livestream object; `Err(reason)` when it is not one.
pub fn parse_livestream(v: &Value) -> Result<Livestream, String> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    let id = lenient::string(v.get("id")).ok_or("missing `id`")?;
    let status = match lenient::text(v.get("status")) {
        Some(s) => LivestreamStatus::parse(&s),
        None => LivestreamStatus::Unknown(String::new()),
    };
    Ok(Livestream {
        id,
        name: lenient::text(v.get("name")),
        status,
        disabled: lenient::bool(v.get("disabled")),
        meeting_id: lenient::string(v.get("meeting_id")),
        ingest_server: lenient::text(v.get("ingest_server")),
        stream_key: lenient::text(v.get("stream_key")).map(Secret::new),
        playback_url: web_url(lenient::text(v.get("playback_url")).as_deref()),
        created_at: lenient::time(v.get("created_at")),
        updated_at: lenient::time(v.get("updated_at")),
    })
}

/// One session object; `None` when it is not an object.
pub fn parse_session(v: &Value) -> Option<LivestreamSession> {
    if !v.is_object() {
        return None;
    }
    Some(LivestreamSession {
        id: lenient::string(v.get("id")),
        livestream_id: lenient::string(v.get("livestream_id")),
        started_time: lenient::time(v.get("started_time")),
        stopped_time: lenient::time(v.get("stopped_time")),
        invoked_time: lenient::time(v.get("invoked_time")),
        ingest_seconds: lenient::f64(v.get("ingest_seconds")),
        viewer_seconds: lenient::f64(v.get("viewer_seconds")),
        err_message: lenient::text(v.get("err_message")),
    })
}

/// Missing or unreadable totals count as 0.
pub fn parse_analytics(data: &Value) -> Analytics {
    Analytics {
        count: lenient::u64(data.get("count")).unwrap_or(0),
        total_ingest_seconds: lenient::f64(data.get("total_ingest_seconds")).unwrap_or(0.0),
        total_viewer_seconds: lenient::f64(data.get("total_viewer_seconds")).unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAYBACK: &str = "https://customer-s8oj0c1n5ek8ah1e.cloudflarestream.com/7de6a3fec0f9c05bf1df140950d3a237/manifest/video.m3u8";
    const KEY: &str = "f26566285faca6fbe2e79a73a66rsrrsrrsr3cde23a2bb7dbc6c2c1761b98f4e4";

    fn t(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
    }

    #[test]
    fn list_example_field_by_field() {
        let body = json!({"data": [{
            "created_at": "2023-07-15T11:48:34.753Z", "disabled": false,
            "id": "3fd739f4-3c41-456e-bfba-6ebd51e16d2c",
            "ingest_server": "rtmps://live.cloudflare.com:443/live/",
            "meeting_id": null, "name": null, "playback_url": PLAYBACK, "status": "IDLE",
            "stream_key": KEY, "updated_at": "2023-07-15T11:48:34.753Z"
        }], "paging": {"end_offset": 1, "start_offset": 1, "total_count": 1}, "success": true});
        let list = parse_livestream_list(&unwrap_envelope(&body).unwrap()).unwrap();
        assert_eq!(list.len(), 1);
        let l = &list[0];
        assert_eq!(l.id, "3fd739f4-3c41-456e-bfba-6ebd51e16d2c");
        assert_eq!(l.name, None);
        assert_eq!(l.status, LivestreamStatus::Idle);
        assert_eq!(l.disabled, Some(false));
        assert_eq!(l.meeting_id, None);
        assert_eq!(
            l.ingest_server.as_deref(),
            Some("rtmps://live.cloudflare.com:443/live/")
        );
        assert_eq!(l.stream_key.as_ref().map(Secret::expose), Some(KEY));
        assert_eq!(l.playback_url.as_deref(), Some(PLAYBACK));
        assert_eq!(l.created_at, t("2023-07-15T11:48:34.753Z"));
        assert_eq!(l.updated_at, t("2023-07-15T11:48:34.753Z"));
        assert!(!format!("{l:?}").contains(KEY));
    }

    #[test]
    fn list_shapes() {
        let one = json!({"id": "a", "status": "live"});
        for data in [
            json!([one]),
            json!({"livestreams": [one]}),
            json!({"data": [one]}),
            one.clone(),
        ] {
            let list = parse_livestream_list(&data).unwrap();
            assert_eq!(list.len(), 1, "{data}");
            assert_eq!(list[0].status, LivestreamStatus::Live);
        }
        let list = parse_livestream_list(
            &json!([one, 5, {"name": "no id"}, {"id": 42, "status": "PAUSED"}]),
        )
        .unwrap();
        assert_eq!(
            list.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["a", "42"]
        );
        assert_eq!(list[1].status, LivestreamStatus::Unknown("PAUSED".into()));
        assert!(parse_livestream_list(&json!({"paging": {}})).is_err());
        assert!(parse_livestream_list(&json!("x")).is_err());
    }

    #[test]
    fn envelopes() {
        let d = json!({"id": "a"});
        for body in [
            json!({"success": true, "data": d}),
            json!({"success": true, "result": d}),
            json!({"success": true, "result": {"data": d}}),
            json!({"data": d}),
        ] {
            assert_eq!(unwrap_envelope(&body).unwrap(), d, "{body}");
        }
        let err = unwrap_envelope(&json!({"success": false, "errors": [{"code": 10000, "message": "Authentication error"}]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cloudflare RealtimeKit: Authentication error"
        );
        let err = unwrap_envelope(&json!({"success": "false"})).unwrap_err();
        assert!(matches!(err, ProviderError::Api { .. }));
        assert!(matches!(
            unwrap_envelope(&json!({"success": true})),
            Err(ProviderError::Shape { .. })
        ));
        assert!(matches!(
            unwrap_envelope(&json!([])),
            Err(ProviderError::Shape { .. })
        ));
    }

    #[test]
    fn active_session_doc_example_with_placeholder_values() {
        let data = json!({
            "livestream": {"id": "id", "created_at": "2019-12-27T18:11:19.117Z", "disabled": "disabled",
                "ingest_server": "ingest_server", "meeting_id": "meeting_id", "name": "name",
                "playback_url": "playback_url", "status": "LIVE", "stream_key": "stream_key",
                "updated_at": "2019-12-27T18:11:19.117Z"},
            "session": {"id": "id", "created_at": "2019-12-27T18:11:19.117Z", "err_message": "err_message",
                "ingest_seconds": "ingest_seconds", "invoked_time": "2019-12-27T18:11:19.117Z",
                "livestream_id": "livestream_id", "started_time": "2019-12-27T18:11:19.117Z",
                "stopped_time": "2019-12-27T18:11:19.117Z", "updated_at": "2019-12-27T18:11:19.117Z",
                "viewer_seconds": "viewer_seconds"}
        });
        let d = parse_detail(&data).unwrap();
        let l = &d.livestream;
        assert_eq!((l.id.as_str(), l.name.as_deref()), ("id", Some("name")));
        assert_eq!(l.status, LivestreamStatus::Live);
        assert_eq!(l.disabled, None);
        assert_eq!(l.playback_url, None); // "playback_url" is not a URL
        assert_eq!(l.meeting_id.as_deref(), Some("meeting_id"));
        let s = d.session.unwrap();
        let at = t("2019-12-27T18:11:19.117Z");
        assert_eq!(s.id.as_deref(), Some("id"));
        assert_eq!(s.livestream_id.as_deref(), Some("livestream_id"));
        assert_eq!(
            (s.started_time, s.stopped_time, s.invoked_time),
            (at, at, at)
        );
        assert_eq!((s.ingest_seconds, s.viewer_seconds), (None, None));
        assert_eq!(s.err_message.as_deref(), Some("err_message"));
    }

    #[test]
    fn detail_with_sessions_list_and_string_numbers() {
        let data = json!({
            "livestream": {"id": "b60", "status": "live", "disabled": "true", "playback_url": PLAYBACK},
            "sessions": [
                {"id": "old", "started_time": "2023-07-15T06:00:00Z", "stopped_time": "2023-07-15T06:10:00Z", "ingest_seconds": "1200"},
                {"id": "now", "started_time": "2023-07-15T07:08:39.000Z", "stopped_time": null, "ingest_seconds": "12.5", "viewer_seconds": 60},
                "garbage"
            ]
        });
        let d = parse_detail(&data).unwrap();
        assert_eq!(d.livestream.disabled, Some(true));
        let s = d.session.clone().unwrap();
        assert_eq!(s.id.as_deref(), Some("now"));
        assert_eq!(
            (s.ingest_seconds, s.viewer_seconds),
            (Some(12.5), Some(60.0))
        );
        let ls = d.livestream.to_live_stream(d.session.as_ref());
        assert_eq!(ls.platform, Platform::Realtimekit);
        assert_eq!((ls.key.as_str(), ls.name.as_str()), ("b60", "b60"));
        assert_eq!(ls.started_at, t("2023-07-15T07:08:39Z"));
        assert_eq!(
            ls.streams,
            vec![StreamUrl {
                label: "hls".into(),
                kind: StreamKind::Hls,
                url: PLAYBACK.into()
            }]
        );
        assert_eq!(ls.watch_url.as_deref(), Some(PLAYBACK));
        assert_eq!(
            (ls.handle.clone(), ls.title.clone(), ls.viewers),
            (None, None, None)
        );
        // A bare livestream object as detail.
        let d = parse_detail(&json!({"id": "x", "status": "IDLE", "name": "Show"})).unwrap();
        assert_eq!(d.session, None);
        assert_eq!(d.livestream.to_live_stream(None).name, "Show");
        assert!(parse_detail(&json!({"livestream": 3})).is_err());
    }

    #[test]
    fn statuses() {
        for (raw, want) in [
            ("LIVE", LivestreamStatus::Live),
            ("live", LivestreamStatus::Live),
            (" Idle ", LivestreamStatus::Idle),
            ("ERRORED", LivestreamStatus::Errored),
            ("invoked", LivestreamStatus::Invoked),
            ("STOPPED", LivestreamStatus::Unknown("STOPPED".into())),
        ] {
            assert_eq!(LivestreamStatus::parse(raw), want, "{raw}");
        }
        assert_eq!(
            LivestreamStatus::Unknown(String::new()).to_string(),
            "UNKNOWN"
        );
        let l = parse_livestream(&json!({"id": "a", "status": 5})).unwrap();
        assert_eq!(l.status, LivestreamStatus::Unknown(String::new()));
    }

    #[test]
    fn analytics() {
        assert_eq!(
            parse_analytics(
                &json!({"count": 4, "total_ingest_seconds": 531, "total_viewer_seconds": 116})
            ),
            Analytics {
                count: 4,
                total_ingest_seconds: 531.0,
                total_viewer_seconds: 116.0
            }
        );
        assert_eq!(
            parse_analytics(
                &json!({"count": "*integer*", "total_ingest_seconds": "12.5", "total_viewer_seconds": null})
            ),
            Analytics {
                count: 0,
                total_ingest_seconds: 12.5,
                total_viewer_seconds: 0.0
            }
        );
    }

    #[test]
    fn unauthorized_mentions_the_permission() {
        let e = ProviderError::Unauthorized {
            provider: PROVIDER,
            status: 403,
        };
        assert!(e.to_string().contains("Realtime"), "{e}");
        assert!(e.user_hint().contains("Realtime"));
    }
}
