//! JKT48Connect: JKT48 members live on IDN Live, Showroom and YouTube, and
//! JKT48's calendar (read by `jkt48_calendar.rs`).
//!
//! `GET {base}/api/jkt48/live?apikey=…` (and `/api/jkt48/live/idn`). The list
//! is a bare array in the documents; envelopes (`data`, `live`, `result`,
//! `data.live`, `data.members`) are accepted too. Entries come from an
//! upstream aggregator and vary: one malformed entry is skipped and logged,
//! the rest survive.

use serde_json::Value;

use super::error::ProviderError;
use super::jkt48_calendar::{self as calendar, Birthday, CalendarEvent, NewsItem, Show};
use super::lenient;
use super::name::ProviderName;
use super::request::{endpoint, error_for_status, error_message, send_json};
use crate::config::Jkt48ConnectConfig;
use crate::live::{web_url, LiveStream, Platform, StreamKind, StreamUrl};

const PROVIDER: ProviderName = ProviderName::Jkt48Connect;

/// Client for JKT48Connect's live endpoints.
#[derive(Debug, Clone)]
pub struct Jkt48Connect {
    http: crate::http::Http,
    cfg: Jkt48ConnectConfig,
}

impl Jkt48Connect {
    pub fn new(http: crate::http::Http, cfg: Jkt48ConnectConfig) -> Self {
        Jkt48Connect { http, cfg }
    }

    /// Everyone live on every platform.
    pub async fn live(&self) -> Result<Vec<LiveStream>, ProviderError> {
        self.read(&["api", "jkt48", "live"], &[], parse_live).await
    }

    /// Everyone live on IDN only.
    pub async fn live_idn(&self) -> Result<Vec<LiveStream>, ProviderError> {
        self.read(&["api", "jkt48", "live", "idn"], &[], parse_live)
            .await
    }

    /// One page of theater shows, newest (upcoming) first.
    pub async fn theater(&self, page: u32, perpage: u32) -> Result<Vec<Show>, ProviderError> {
        self.read(
            &["api", "jkt48", "theater"],
            &paging(page, perpage),
            calendar::parse_theater,
        )
        .await
    }

    /// Members with coming birthdays.
    pub async fn birthdays(&self) -> Result<Vec<Birthday>, ProviderError> {
        self.read(
            &["api", "jkt48", "birthday"],
            &[],
            calendar::parse_birthdays,
        )
        .await
    }

    /// One page of official news, newest first.
    pub async fn news(&self, page: u32, perpage: u32) -> Result<Vec<NewsItem>, ProviderError> {
        self.read(
            &["api", "jkt48", "news"],
            &paging(page, perpage),
            calendar::parse_news,
        )
        .await
    }

    /// Upcoming events.
    pub async fn events(&self) -> Result<Vec<CalendarEvent>, ProviderError> {
        self.read(&["api", "jkt48", "events"], &[], calendar::parse_events)
            .await
    }

    /// One keyed GET of `path`, its body read by `parse`; the key never
    /// appears in an error.
    async fn read<T>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
        parse: fn(&Value) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        self.read_inner(path, query, parse)
            .await
            .map_err(|e| e.redact(&[self.cfg.api_key.expose()]))
    }

    async fn read_inner<T>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
        parse: fn(&Value) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let url = endpoint(&self.cfg.base_url, path);
        let request = self
            .http
            .client()
            .get(url)
            .query(&[("apikey", self.cfg.api_key.expose())])
            .query(query);
        let (request, timeout) = self.http.timed(request);
        let resp = send_json(PROVIDER, request, timeout).await?;
        error_for_status(PROVIDER, &resp)?;
        parse(&resp.body)
    }
}

fn paging(page: u32, perpage: u32) -> [(&'static str, String); 2] {
    [("page", page.to_string()), ("perpage", perpage.to_string())]
}

/// The list of live members from any of the accepted shapes.
pub fn parse_live(body: &Value) -> Result<Vec<LiveStream>, ProviderError> {
    let Some(list) = find_list(body) else {
        if let Some(message) = error_message(body).filter(|_| body.is_object()) {
            return Err(ProviderError::Api {
                provider: PROVIDER,
                message,
            });
        }
        return Err(ProviderError::Shape {
            provider: PROVIDER,
            detail: format!("expected a list of live members, got {}", kind_of(body)),
        });
    };
    let mut out = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        match parse_entry(entry) {
            Ok(Some(stream)) => out.push(stream),
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(provider = %PROVIDER, index, %reason, "skipping malformed live entry")
            }
        }
    }
    Ok(out)
}

fn find_list(body: &Value) -> Option<&Vec<Value>> {
    if let Some(list) = body.as_array() {
        return Some(list);
    }
    for key in ["data", "live", "result"] {
        match body.get(key) {
            Some(Value::Array(list)) => return Some(list),
            Some(inner @ Value::Object(_)) => {
                for key in ["live", "members", "data"] {
                    if let Some(Value::Array(list)) = inner.get(key) {
                        return Some(list);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "an empty body",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object without a list",
    }
}

/// One entry: `Ok(None)` = deliberately skipped (unknown platform, already
/// logged), `Err(reason)` = malformed.
fn parse_entry(entry: &Value) -> Result<Option<LiveStream>, String> {
    if !entry.is_object() {
        return Err(format!("not an object but {}", kind_of(entry)));
    }
    let raw_type = entry.get("type");
    let platform = match raw_type {
        Some(Value::String(t)) if !t.trim().is_empty() => {
            match t.trim().to_ascii_lowercase().as_str() {
                "idn" | "idnlive" | "idn_live" | "idn live" => Platform::Idn,
                "showroom" | "sr" => Platform::Showroom,
                "youtube" | "yt" => Platform::Youtube,
                other => {
                    tracing::warn!(provider = %PROVIDER, r#type = %other, "skipping entry of unknown platform type");
                    return Ok(None);
                }
            }
        }
        None | Some(Value::Null) | Some(Value::String(_)) => match infer_platform(entry) {
            Some(p) => p,
            None => {
                tracing::warn!(provider = %PROVIDER, r#type = "(missing)", "skipping entry without a platform type");
                return Ok(None);
            }
        },
        Some(_) => return Err("`type` is not a string".into()),
    };
    match platform {
        Platform::Youtube => parse_youtube(entry).map(Some),
        _ => parse_member(entry, platform).map(Some),
    }
}

fn infer_platform(entry: &Value) -> Option<Platform> {
    let has = |k: &str| lenient::text(entry.get(k)).is_some();
    if has("slug") && has("url_key") {
        Some(Platform::Idn)
    } else if has("channelTitle") && has("url") {
        Some(Platform::Youtube)
    } else {
        None
    }
}

/// IDN and Showroom entries.
fn parse_member(entry: &Value, platform: Platform) -> Result<LiveStream, String> {
    let name = lenient::text(entry.get("name")).ok_or("missing `name`")?;
    let room_id = match entry.get("room_id") {
        None | Some(Value::Null) | Some(Value::Number(_)) | Some(Value::String(_)) => {
            lenient::id(entry.get("room_id"))
        }
        Some(_) => return Err("`room_id` is neither a number nor a string".into()),
    };
    let url_key = match entry.get("url_key") {
        None | Some(Value::Null) | Some(Value::String(_)) => lenient::text(entry.get("url_key")),
        Some(_) => return Err("`url_key` is not a string".into()),
    };
    let key = room_id
        .or_else(|| url_key.clone())
        .ok_or("neither `room_id` nor `url_key`")?;
    let slug = lenient::text(entry.get("slug"));

    let mut s = LiveStream::new(platform, key, name);
    s.handle = url_key.clone();
    let img = web_url(lenient::text(entry.get("img")).as_deref());
    s.avatar_url = web_url(lenient::text(entry.get("img_alt")).as_deref()).or_else(|| img.clone());
    s.thumbnail_url = img;
    s.title = lenient::text(entry.get("title"));
    s.started_at = lenient::time(entry.get("started_at"));
    s.viewers = lenient::u64(entry.get("viewers"));
    s.streams = parse_streaming_urls(entry.get("streaming_url_list"));
    s.watch_url = match (platform, url_key.as_deref(), slug.as_deref()) {
        (Platform::Idn, Some(k), Some(slug)) => page("https://www.idn.app/", &[k, "live", slug]),
        (Platform::Showroom, Some(k), _) => page("https://www.showroom-live.com/", &["r", k]),
        _ => None,
    };
    Ok(s)
}

/// A web page URL with each segment percent-encoded.
fn page(base: &str, segments: &[&str]) -> Option<String> {
    let base = reqwest::Url::parse(base).ok()?;
    web_url(Some(endpoint(&base, segments).as_str()))
}

/// `streaming_url_list`, best quality first (`quality` 1 = best).
fn parse_streaming_urls(list: Option<&Value>) -> Vec<StreamUrl> {
    let Some(Value::Array(items)) = list else {
        return Vec::new();
    };
    let mut found: Vec<(u64, StreamUrl)> = Vec::new();
    for item in items {
        let Some(url) = web_url(lenient::text(item.get("url")).as_deref()) else {
            continue;
        };
        if found.iter().any(|(_, s)| s.url == url) {
            continue;
        }
        let quality = lenient::u64(item.get("quality"));
        let label = lenient::text(item.get("label"))
            .or_else(|| quality.map(|q| q.to_string()))
            .unwrap_or_else(|| "default".into());
        found.push((
            quality.unwrap_or(u64::MAX),
            StreamUrl {
                label,
                kind: kind_of_url(&url),
                url,
            },
        ));
    }
    found.sort_by_key(|(q, _)| *q);
    found.into_iter().map(|(_, s)| s).collect()
}

/// FLV when the path ends in `.flv`, HLS otherwise.
pub(crate) fn kind_of_url(url: &str) -> StreamKind {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    if path.to_ascii_lowercase().ends_with(".flv") {
        StreamKind::Flv
    } else {
        StreamKind::Hls
    }
}

/// A YouTube search result: `channelTitle`, `title`, `thumbnails`, `url`, `etag`.
fn parse_youtube(entry: &Value) -> Result<LiveStream, String> {
    let name = lenient::text(entry.get("channelTitle"))
        .or_else(|| lenient::text(entry.get("name")))
        .map(|n| unescape_html(&n))
        .ok_or("missing `channelTitle`")?;
    let url = web_url(lenient::text(entry.get("url")).as_deref());
    let key = url
        .as_deref()
        .and_then(youtube_video_id)
        .or_else(|| url.clone())
        .or_else(|| lenient::text(entry.get("etag")))
        .ok_or("neither `url` nor `etag`")?;
    let mut s = LiveStream::new(Platform::Youtube, key, name);
    s.handle = lenient::text(entry.get("channelId"));
    s.title = lenient::text(entry.get("title")).map(|t| unescape_html(&t));
    s.thumbnail_url = ["high", "medium", "default"].iter().find_map(|size| {
        web_url(lenient::text(lenient::path(entry, &["thumbnails", size, "url"])).as_deref())
    });
    s.started_at = lenient::time(entry.get("started_at"));
    s.watch_url = url;
    Ok(s)
}

/// `watch?v=ID` → ID; `youtu.be/ID`, `/live/ID` → ID.
fn youtube_video_id(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if let Some((_, v)) = parsed.query_pairs().find(|(k, _)| k == "v") {
        if !v.is_empty() {
            return Some(v.into_owned());
        }
    }
    parsed
        .path_segments()?
        .rfind(|s| !s.is_empty())
        .filter(|s| *s != "watch")
        .map(str::to_string)
}

/// The entities the YouTube search API puts in titles.
fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use serde_json::json;

    fn doc_example() -> Value {
        json!([{
            "name": "Fritzy",
            "img": "https://cdn.idntimes.com/content-images/post/20250406/717109e0.jpg",
            "img_alt": "https://cdn.idn.media/idnaccount/avatar/500/f4d25811.webp",
            "url_key": "jkt48_fritzy",
            "slug": "yuk-diborong-250406190348",
            "room_id": 510011,
            "is_graduate": false,
            "is_group": false,
            "chat_room_id": "arn:aws:ivschat:us-east-1:050891932989:room/dsKjuKRqfoRE",
            "started_at": "2025-04-06T12:03:58.000Z",
            "streaming_url_list": [
                {"label": "original", "quality": 1, "url": "https://example.com/stream.m3u8"}
            ],
            "type": "idn"
        }])
    }

    #[test]
    fn document_example_field_by_field() {
        let got = parse_live(&doc_example()).unwrap();
        assert_eq!(got.len(), 1);
        let s = &got[0];
        assert_eq!(s.platform, Platform::Idn);
        assert_eq!(s.key, "510011");
        assert_eq!(s.name, "Fritzy");
        assert_eq!(s.handle.as_deref(), Some("jkt48_fritzy"));
        assert_eq!(
            s.avatar_url.as_deref(),
            Some("https://cdn.idn.media/idnaccount/avatar/500/f4d25811.webp")
        );
        assert_eq!(
            s.thumbnail_url.as_deref(),
            Some("https://cdn.idntimes.com/content-images/post/20250406/717109e0.jpg")
        );
        assert_eq!(s.title, None);
        assert_eq!(s.started_at, DateTime::from_timestamp(1_743_941_038, 0));
        assert_eq!(s.viewers, None);
        assert_eq!(
            s.streams,
            vec![StreamUrl {
                label: "original".into(),
                kind: StreamKind::Hls,
                url: "https://example.com/stream.m3u8".into()
            }]
        );
        assert_eq!(
            s.watch_url.as_deref(),
            Some("https://www.idn.app/jkt48_fritzy/live/yuk-diborong-250406190348")
        );
    }

    #[test]
    fn envelopes() {
        let list = doc_example();
        for body in [
            json!({"data": list}),
            json!({"live": list}),
            json!({"result": list}),
            json!({"data": {"live": list}}),
            json!({"data": {"members": list}}),
            json!({"status": true, "data": {"members": list}}),
        ] {
            let got = parse_live(&body).unwrap();
            assert_eq!(got.len(), 1, "{body}");
            assert_eq!(got[0].key, "510011");
        }
        assert!(parse_live(&json!([])).unwrap().is_empty());
        assert!(parse_live(&json!({"data": []})).unwrap().is_empty());
    }

    #[test]
    fn non_list_shapes_are_errors() {
        for body in [
            json!({"data": {"x": 1}}),
            json!("hello"),
            json!(3),
            Value::Null,
            json!({}),
        ] {
            let err = parse_live(&body).unwrap_err();
            assert!(matches!(err, ProviderError::Shape { .. }), "{body}: {err}");
            assert!(err.to_string().starts_with("JKT48Connect"));
        }
        let err = parse_live(&json!({"status": false, "message": "Invalid API key"})).unwrap_err();
        assert!(matches!(err, ProviderError::Api { .. }), "{err}");
        assert_eq!(err.to_string(), "JKT48Connect: Invalid API key");
    }

    #[test]
    fn malformed_entries_are_skipped() {
        let mut list = doc_example().as_array().unwrap().clone();
        let good = list[0].clone();
        list.insert(0, json!("not an object"));
        list.push(json!({"type": "idn", "url_key": "x", "slug": "y"})); // no name
        list.push(json!({"type": "idn", "name": 5, "url_key": "x"})); // name not text
        list.push(json!({"type": "idn", "name": "A", "room_id": {"x": 1}, "url_key": "a"}));
        list.push(json!({"type": "showroom", "name": "B"})); // no key at all
        list.push(json!({"type": 7, "name": "C", "url_key": "c"}));
        list.push(json!(null));
        let mut second = good.clone();
        second["name"] = json!("Second");
        second["room_id"] = json!("777");
        list.push(second);
        let got = parse_live(&Value::Array(list)).unwrap();
        assert_eq!(
            got.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["Fritzy", "Second"]
        );
        assert_eq!(got[1].key, "777");
    }

    #[test]
    fn room_id_variants_and_fallback_to_url_key() {
        for (room, want) in [
            (json!(510011), "510011"),
            (json!("510011"), "510011"),
            (json!(0), "jkt48_fritzy"),
            (json!("0"), "jkt48_fritzy"),
            (json!(""), "jkt48_fritzy"),
            (Value::Null, "jkt48_fritzy"),
        ] {
            let mut e = doc_example();
            e[0]["room_id"] = room.clone();
            assert_eq!(parse_live(&e).unwrap()[0].key, want, "{room}");
        }
        let mut e = doc_example();
        e[0].as_object_mut().unwrap().remove("room_id");
        e[0]["chat_room_id"] = Value::Null;
        assert_eq!(parse_live(&e).unwrap()[0].key, "jkt48_fritzy");
    }

    #[test]
    fn started_at_variants() {
        let want = DateTime::from_timestamp(1_743_941_038, 0);
        for v in [
            json!("2025-04-06T12:03:58.000Z"),
            json!(1_743_941_038),
            json!(1_743_941_038_000_i64),
            json!("1743941038"),
        ] {
            let mut e = doc_example();
            e[0]["started_at"] = v.clone();
            assert_eq!(parse_live(&e).unwrap()[0].started_at, want, "{v}");
        }
        for v in [Value::Null, json!("soon"), json!({})] {
            let mut e = doc_example();
            e[0]["started_at"] = v.clone();
            assert_eq!(parse_live(&e).unwrap()[0].started_at, None, "{v}");
        }
    }

    #[test]
    fn streaming_url_list_variants() {
        for v in [Value::Null, json!([]), json!("x")] {
            let mut e = doc_example();
            e[0]["streaming_url_list"] = v;
            assert!(parse_live(&e).unwrap()[0].streams.is_empty());
        }
        let mut e = doc_example();
        e[0].as_object_mut().unwrap().remove("streaming_url_list");
        assert!(parse_live(&e).unwrap()[0].streams.is_empty());

        let mut e = doc_example();
        e[0]["streaming_url_list"] = json!([
            {"label": "360p", "quality": 3, "url": "https://h/360.m3u8"},
            {"quality": 2, "url": "https://h/720.m3u8?token=1"},
            {"label": "original", "quality": 1, "url": "https://h/o.m3u8"},
            {"url": "https://h/x.flv?a=b"},
            {"label": "dup", "quality": 4, "url": "https://h/o.m3u8"},
            {"label": "bad", "quality": 1, "url": "javascript:alert(1)"},
            {"label": "nourl", "quality": 1}
        ]);
        let streams = &parse_live(&e).unwrap()[0].streams;
        let got: Vec<(&str, StreamKind, &str)> = streams
            .iter()
            .map(|s| (s.label.as_str(), s.kind, s.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("original", StreamKind::Hls, "https://h/o.m3u8"),
                ("2", StreamKind::Hls, "https://h/720.m3u8?token=1"),
                ("360p", StreamKind::Hls, "https://h/360.m3u8"),
                ("default", StreamKind::Flv, "https://h/x.flv?a=b"),
            ]
        );
    }

    #[test]
    fn showroom_entry() {
        let body = json!([{
            "name": "Gita", "img": "https://img/g.jpg", "url_key": "JKT48_Gita",
            "room_id": "317727", "started_at": 1_743_941_038, "type": "Showroom",
            "title": "Hello", "streaming_url_list": null, "chat_room_id": null
        }]);
        let s = &parse_live(&body).unwrap()[0];
        assert_eq!(s.platform, Platform::Showroom);
        assert_eq!(s.key, "317727");
        assert_eq!(s.name, "Gita");
        assert_eq!(s.handle.as_deref(), Some("JKT48_Gita"));
        assert_eq!(s.avatar_url.as_deref(), Some("https://img/g.jpg"));
        assert_eq!(s.thumbnail_url.as_deref(), Some("https://img/g.jpg"));
        assert_eq!(s.title.as_deref(), Some("Hello"));
        assert_eq!(s.started_at, DateTime::from_timestamp(1_743_941_038, 0));
        assert!(s.streams.is_empty());
        assert_eq!(
            s.watch_url.as_deref(),
            Some("https://www.showroom-live.com/r/JKT48_Gita")
        );
    }

    #[test]
    fn youtube_entry() {
        let body = json!([{
            "type": "youtube",
            "channelTitle": "JKT48 TV",
            "channelId": "UCadv-UfEyjjwOPcZHc2QvIQ",
            "title": "SHOWROOM &amp; Talk &quot;Live&quot;",
            "description": "desc",
            "thumbnails": {
                "default": {"url": "https://i.ytimg.com/vi/abc123/default.jpg", "width": 120, "height": 90},
                "medium": {"url": "https://i.ytimg.com/vi/abc123/mqdefault.jpg"},
                "high": {"url": "https://i.ytimg.com/vi/abc123/hqdefault.jpg"}
            },
            "url": "https://www.youtube.com/watch?v=abc123",
            "etag": "etag-1"
        }]);
        let s = &parse_live(&body).unwrap()[0];
        assert_eq!(s.platform, Platform::Youtube);
        assert_eq!(s.key, "abc123");
        assert_eq!(s.name, "JKT48 TV");
        assert_eq!(s.handle.as_deref(), Some("UCadv-UfEyjjwOPcZHc2QvIQ"));
        assert_eq!(s.avatar_url, None);
        assert_eq!(s.title.as_deref(), Some("SHOWROOM & Talk \"Live\""));
        assert_eq!(
            s.thumbnail_url.as_deref(),
            Some("https://i.ytimg.com/vi/abc123/hqdefault.jpg")
        );
        assert_eq!(s.started_at, None);
        assert_eq!(s.viewers, None);
        assert!(s.streams.is_empty());
        assert_eq!(
            s.watch_url.as_deref(),
            Some("https://www.youtube.com/watch?v=abc123")
        );
    }

    #[test]
    fn youtube_keys() {
        let mk = |url: Value, etag: Value| json!([{"type": "youtube", "channelTitle": "C", "url": url, "etag": etag, "thumbnails": {"default": {"url": "https://i/d.jpg"}}}]);
        let s = &parse_live(&mk(json!("https://youtu.be/XyZ"), Value::Null)).unwrap()[0];
        assert_eq!(s.key, "XyZ");
        assert_eq!(s.thumbnail_url.as_deref(), Some("https://i/d.jpg"));
        let s = &parse_live(&mk(
            json!("https://www.youtube.com/live/LIVEID?si=1"),
            Value::Null,
        ))
        .unwrap()[0];
        assert_eq!(s.key, "LIVEID");
        let s = &parse_live(&mk(json!("https://www.youtube.com/watch"), Value::Null)).unwrap()[0];
        assert_eq!(s.key, "https://www.youtube.com/watch");
        let s = &parse_live(&mk(Value::Null, json!("E1"))).unwrap()[0];
        assert_eq!((s.key.as_str(), s.watch_url.as_deref()), ("E1", None));
        assert!(parse_live(&mk(Value::Null, Value::Null))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn unknown_and_missing_types() {
        let body = json!([
            {"type": "twitch", "name": "T", "url_key": "t", "slug": "s"},
            {"type": "", "name": "Inferred", "url_key": "k", "slug": "s"},
            {"name": "NoType", "url_key": "k2", "slug": "s2", "room_id": 9},
            {"name": "NoTypeNoSlug", "url_key": "k3"},
            {"channelTitle": "YT", "url": "https://www.youtube.com/watch?v=q"}
        ]);
        let got = parse_live(&body).unwrap();
        let summary: Vec<(Platform, &str, &str)> = got
            .iter()
            .map(|s| (s.platform, s.key.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (Platform::Idn, "k", "Inferred"),
                (Platform::Idn, "9", "NoType"),
                (Platform::Youtube, "q", "YT"),
            ]
        );
    }

    #[test]
    fn urls_are_sanitized() {
        let mut e = doc_example();
        e[0]["img"] = json!("javascript:alert(1)");
        e[0]["img_alt"] = json!("data:image/png;base64,AAAA");
        e[0]["url_key"] = json!("a/b?c");
        let s = &parse_live(&e).unwrap()[0];
        assert_eq!(s.avatar_url, None);
        assert_eq!(s.thumbnail_url, None);
        assert_eq!(
            s.watch_url.as_deref(),
            Some("https://www.idn.app/a%2Fb%3Fc/live/yuk-diborong-250406190348")
        );
        // img_alt missing: avatar falls back to img.
        let mut e = doc_example();
        e[0]["img_alt"] = Value::Null;
        let s = &parse_live(&e).unwrap()[0];
        assert_eq!(s.avatar_url, s.thumbnail_url);
        // No slug: no IDN watch page.
        let mut e = doc_example();
        e[0]["slug"] = Value::Null;
        assert_eq!(parse_live(&e).unwrap()[0].watch_url, None);
    }
}
