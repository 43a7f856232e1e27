//! KonbiniAPI: is a TikTok user live right now?
//!
//! `GET {base}/v1/tiktok/users/{username}/live` with `Authorization: Bearer`.
//! 404 means "not live" (an answer, not an error); 402 means the credits are
//! used up. Bodies are ActivityStreams-like: `{"data": {"type": "Video", …}}`.

use serde_json::Value;

use super::error::ProviderError;
use super::lenient;
use super::name::ProviderName;
use super::request::{bearer, endpoint, error_for_status, send_json, JsonResponse};
use crate::config::KonbiniConfig;
use crate::live::{web_url, LiveStream, Platform, StreamKind, StreamUrl};

const PROVIDER: ProviderName = ProviderName::Konbini;

/// Below this many remaining credits every answer logs a warning.
pub const LOW_CREDITS: u64 = 100;

/// Client for KonbiniAPI's TikTok live endpoint.
#[derive(Debug, Clone)]
pub struct Konbini {
    http: crate::http::Http,
    cfg: KonbiniConfig,
}

/// What KonbiniAPI said about one user.
#[derive(Debug, Clone, PartialEq)]
pub struct KonbiniAnswer {
    /// `None` = not live.
    pub live: Option<LiveStream>,
    /// TikTok's room id (`entityId`), for kitkot.
    pub room_id: Option<String>,
    /// From `X-Credits-Remaining`, when sent.
    pub credits_remaining: Option<u64>,
    /// A 404 without KonbiniAPI's credit headers: maybe "not live", but more
    /// likely a wrong `KONBINI_URL` (KonbiniAPI bills, and says so, on every
    /// answer it gives about a user).
    pub unbilled_404: bool,
}

impl Konbini {
    pub fn new(http: crate::http::Http, cfg: KonbiniConfig) -> Self {
        Konbini { http, cfg }
    }

    /// The base URL, without query, for messages.
    pub fn base_url(&self) -> String {
        crate::redact::redact_url(&self.cfg.base_url)
    }

    /// Is `username` live? Invalid usernames are refused without a request.
    pub async fn user_live(&self, username: &str) -> Result<KonbiniAnswer, ProviderError> {
        self.user_live_inner(username)
            .await
            .map_err(|e| e.redact(&[self.cfg.api_key.expose()]))
    }

    async fn user_live_inner(&self, username: &str) -> Result<KonbiniAnswer, ProviderError> {
        let user = normalize_username(username)?;
        let url = endpoint(
            &self.cfg.base_url,
            &["v1", "tiktok", "users", &user, "live"],
        );
        let request = self
            .http
            .client()
            .get(url)
            .header(
                reqwest::header::AUTHORIZATION,
                bearer(PROVIDER, &self.cfg.api_key)?,
            )
            .header(reqwest::header::ACCEPT, "application/json");
        let (request, timeout) = self.http.timed(request);
        let resp = send_json(PROVIDER, request, timeout).await?;
        let credits_remaining = credits(&resp);
        if resp.status.as_u16() == 404 {
            let billed = ["x-credits-remaining", "x-credits-used"]
                .iter()
                .any(|h| resp.headers.contains_key(*h));
            return Ok(KonbiniAnswer {
                live: None,
                room_id: None,
                credits_remaining,
                unbilled_404: !billed,
            });
        }
        error_for_status(PROVIDER, &resp)?;
        let (live, room_id) = match parse_user_live(&resp.body, &user)? {
            Some((live, room)) => (Some(live), room),
            None => (None, None),
        };
        Ok(KonbiniAnswer {
            live,
            room_id,
            credits_remaining,
            unbilled_404: false,
        })
    }
}

fn credits(resp: &JsonResponse) -> Option<u64> {
    let remaining = resp
        .headers
        .get("x-credits-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let used = resp
        .headers
        .get("x-credits-used")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(left) = remaining {
        if left < LOW_CREDITS {
            tracing::warn!(provider = %PROVIDER, credits_remaining = left, "KonbiniAPI credits are running low");
        } else {
            tracing::debug!(provider = %PROVIDER, credits_remaining = left, credits_used = ?used, "KonbiniAPI credits");
        }
    }
    remaining
}

/// `@Khaby.Lame ` → `khaby.lame`. TikTok's rules: 2–24 of letters,
/// digits, `_` and `.`, not only dots, not ending in a dot (so `.`, `..`
/// and `a.` are refused, never polled); else an error.
pub fn normalize_username(raw: &str) -> Result<String, ProviderError> {
    let user = raw.trim();
    let user = user.strip_prefix('@').unwrap_or(user).trim();
    let ok = (2..=24).contains(&user.len())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        && !user.chars().all(|c| c == '.')
        && !user.ends_with('.');
    if ok {
        Ok(user.to_ascii_lowercase())
    } else {
        Err(ProviderError::InvalidInput {
            provider: PROVIDER,
            what: format!(
                "`{}` is not a TikTok username (2–24 letters, digits, '.' or '_', not ending in '.')",
                crate::text::truncate_chars(raw.trim(), 40)
            ),
        })
    }
}

/// The live in a 200 body, with its room id; `None` when `isLive` is false.
/// `user` is the normalized username that was asked for.
pub fn parse_user_live(
    body: &Value,
    user: &str,
) -> Result<Option<(LiveStream, Option<String>)>, ProviderError> {
    let data = match body.get("data") {
        Some(d) => d,
        None if body.get("type").is_some() || body.get("isLive").is_some() => body,
        None => {
            return Err(ProviderError::Shape {
                provider: PROVIDER,
                detail: "expected an object with `data`".into(),
            })
        }
    };
    if !data.is_object() {
        return Err(ProviderError::Shape {
            provider: PROVIDER,
            detail: "`data` is not an object".into(),
        });
    }
    if lenient::bool(data.get("isLive")) == Some(false) {
        return Ok(None);
    }
    let user = user.to_ascii_lowercase();
    let author = data.get("attributedTo").unwrap_or(&Value::Null);
    let name = lenient::text(author.get("name")).unwrap_or_else(|| user.clone());
    let mut s = LiveStream::new(Platform::Tiktok, user.clone(), name);
    s.handle = lenient::text(author.get("preferredUsername")).or_else(|| Some(user.clone()));
    s.avatar_url = image_url(author.get("icon"));
    s.thumbnail_url = image_url(data.get("image"));
    s.title = lenient::text(data.get("content"));
    s.viewers = lenient::u64(data.get("viewerCount"));
    s.started_at = lenient::time(data.get("published"));
    s.watch_url = web_url(lenient::text(data.get("url")).as_deref())
        .or_else(|| web_url(Some(&format!("https://www.tiktok.com/@{user}/live"))));
    s.streams = parse_attachments(data.get("attachment"));
    Ok(Some((s, lenient::id(data.get("entityId")))))
}

/// `{"url"}` or `[{"url"}, …]` (the first usable one).
fn image_url(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Array(items) => items.iter().find_map(|i| image_url(Some(i))),
        Value::String(s) => web_url(Some(s)),
        other => web_url(lenient::text(other.get("url")).as_deref()),
    }
}

/// `attachment[]` entries of type Video: each URL with its kind and label.
fn parse_attachments(v: Option<&Value>) -> Vec<StreamUrl> {
    let items: Vec<&Value> = match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Vec::new(),
    };
    let mut out: Vec<StreamUrl> = Vec::new();
    for item in items {
        let is_video =
            lenient::text(item.get("type")).is_some_and(|t| t.eq_ignore_ascii_case("video"));
        if !is_video {
            continue;
        }
        let media = lenient::text(item.get("mediaType"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let name = lenient::text(item.get("name"));
        let urls: Vec<String> = match item.get("url") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|u| match u {
                    Value::String(s) => Some(s.clone()),
                    o => lenient::text(o.get("href").or_else(|| o.get("url"))),
                })
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        for raw in urls {
            let Some(url) = web_url(Some(&raw)) else {
                continue;
            };
            let Some(kind) = stream_kind(&media, name.as_deref(), &url) else {
                tracing::debug!(provider = %PROVIDER, media_type = %media, "skipping attachment of unknown container");
                continue;
            };
            if out.iter().any(|s| s.url == url) {
                continue;
            }
            out.push(StreamUrl {
                label: label(name.as_deref(), item),
                kind,
                url,
            });
        }
    }
    // HLS first, as the rest of the bot expects; otherwise as given.
    out.sort_by_key(|s| s.kind != StreamKind::Hls);
    out
}

fn stream_kind(media: &str, name: Option<&str>, url: &str) -> Option<StreamKind> {
    let name = name.unwrap_or_default().to_ascii_lowercase();
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if media.contains("flv") || name == "flv" || path.ends_with(".flv") {
        Some(StreamKind::Flv)
    } else if media.contains("mpegurl")
        || media.contains("hls")
        || name == "hls"
        || name == "m3u8"
        || path.ends_with(".m3u8")
    {
        Some(StreamKind::Hls)
    } else {
        None
    }
}

/// A quality label: the attachment's `name` when it is one (`"720p"`,
/// `"origin"`), else the shorter side of the picture (`576p` for a portrait
/// 576×1024), else `"default"`. Container names (`"flv"`) are not labels.
fn label(name: Option<&str>, item: &Value) -> String {
    if let Some(n) = name {
        if !matches!(n.to_ascii_lowercase().as_str(), "flv" | "hls" | "m3u8") {
            return n.to_string();
        }
    }
    let w = lenient::u64(item.get("width")).filter(|w| *w > 0);
    let h = lenient::u64(item.get("height")).filter(|h| *h > 0);
    match (w, h) {
        (Some(w), Some(h)) => format!("{}p", w.min(h)),
        (None, Some(h)) => format!("{h}p"),
        _ => "default".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use serde_json::json;

    pub(crate) fn doc_example() -> Value {
        json!({"data": {
            "@context": ["https://www.w3.org/ns/activitystreams#", "https://konbiniapi.com/ns/social#"],
            "type": "Video",
            "id": "https://www.tiktok.com/@khaby.lame/live",
            "url": "https://www.tiktok.com/@khaby.lame/live",
            "entityId": "7600000000000000001",
            "published": "2026-02-27T18:36:42.000Z",
            "isLive": true,
            "viewCount": 42600000,
            "viewerCount": 15000,
            "content": "When you realize there is a simpler way #learnfromkhaby",
            "attributedTo": {
                "type": "Person",
                "id": "https://www.tiktok.com/@khaby.lame",
                "url": "https://www.tiktok.com/@khaby.lame",
                "name": "Khabane Lame",
                "preferredUsername": "khaby.lame",
                "isLive": false,
                "icon": {"type": "Image", "url": "https://p16-sign.tiktokcdn-us.com/tos-maliva-avt-0068/avatar.jpeg", "width": 576, "height": 1024},
                "image": [{"type": "Image", "url": "https://p16-sign.tiktokcdn-us.com/tos-maliva-avt-0068/avatar.jpeg"}]
            },
            "image": {"type": "Image", "url": "https://p16-sign.tiktokcdn-us.com/tos-maliva-avt-0068/avatar.jpeg", "width": 576, "height": 1024},
            "attachment": [{
                "type": "Video",
                "url": ["https://webcast.tiktok.com/live/pull/l4/stream.flv"],
                "mediaType": "video/x-flv",
                "width": 576, "height": 1024, "name": "flv", "codec": "h264", "bitrate": 2500000
            }]
        }})
    }

    #[test]
    fn document_example_field_by_field() {
        let (s, room) = parse_user_live(&doc_example(), "khaby.lame")
            .unwrap()
            .unwrap();
        assert_eq!(room.as_deref(), Some("7600000000000000001"));
        assert_eq!(s.platform, Platform::Tiktok);
        assert_eq!(s.key, "khaby.lame");
        assert_eq!(s.name, "Khabane Lame");
        assert_eq!(s.handle.as_deref(), Some("khaby.lame"));
        let avatar = "https://p16-sign.tiktokcdn-us.com/tos-maliva-avt-0068/avatar.jpeg";
        assert_eq!(s.avatar_url.as_deref(), Some(avatar));
        assert_eq!(s.thumbnail_url.as_deref(), Some(avatar));
        assert_eq!(
            s.title.as_deref(),
            Some("When you realize there is a simpler way #learnfromkhaby")
        );
        assert_eq!(s.viewers, Some(15000));
        assert_eq!(
            s.started_at,
            DateTime::parse_from_rfc3339("2026-02-27T18:36:42Z")
                .ok()
                .map(|t| t.to_utc())
        );
        assert_eq!(
            s.streams,
            vec![StreamUrl {
                label: "576p".into(),
                kind: StreamKind::Flv,
                url: "https://webcast.tiktok.com/live/pull/l4/stream.flv".into()
            }]
        );
        assert_eq!(
            s.watch_url.as_deref(),
            Some("https://www.tiktok.com/@khaby.lame/live")
        );
    }

    #[test]
    fn not_live_and_bad_shapes() {
        let mut body = doc_example();
        body["data"]["isLive"] = json!(false);
        assert!(parse_user_live(&body, "khaby.lame").unwrap().is_none());
        body["data"]["isLive"] = json!("false");
        assert!(parse_user_live(&body, "khaby.lame").unwrap().is_none());
        for bad in [
            json!({"data": null}),
            json!({"data": []}),
            json!([1]),
            Value::Null,
        ] {
            let err = parse_user_live(&bad, "x").unwrap_err();
            assert!(matches!(err, ProviderError::Shape { .. }), "{bad}");
        }
    }

    #[test]
    fn sparse_live_uses_fallbacks() {
        let body = json!({"data": {"type": "Video", "isLive": true, "url": "javascript:x", "viewerCount": "12"}});
        let (s, room) = parse_user_live(&body, "Some.User").unwrap().unwrap();
        assert_eq!(room, None);
        assert_eq!(s.key, "some.user");
        assert_eq!(s.name, "some.user");
        assert_eq!(s.handle.as_deref(), Some("some.user"));
        assert_eq!(
            (s.avatar_url.clone(), s.thumbnail_url.clone()),
            (None, None)
        );
        assert_eq!(s.title, None);
        assert_eq!(s.viewers, Some(12));
        assert_eq!(s.started_at, None);
        assert!(s.streams.is_empty());
        assert_eq!(
            s.watch_url.as_deref(),
            Some("https://www.tiktok.com/@some.user/live")
        );
    }

    #[test]
    fn attachments_kinds_and_labels() {
        let mut body = doc_example();
        body["data"]["attachment"] = json!([
            {"type": "Link", "href": "https://linktr.ee/x"},
            {"type": "Video", "url": ["https://h/a.flv", "https://h/a.flv", "ftp://h/x.flv"], "mediaType": "video/x-flv", "name": "origin"},
            {"type": "Video", "url": "https://h/b.m3u8", "mediaType": "application/vnd.apple.mpegurl", "height": 720},
            {"type": "video", "url": [{"href": "https://h/c"}], "name": "hls"},
            {"type": "Video", "url": ["https://h/d.mp4"], "mediaType": "video/mp4"},
            {"type": "Video", "url": ["https://h/e.m3u8?x=1"]}
        ]);
        let (s, _) = parse_user_live(&body, "khaby.lame").unwrap().unwrap();
        let got: Vec<(&str, StreamKind, &str)> = s
            .streams
            .iter()
            .map(|s| (s.label.as_str(), s.kind, s.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("720p", StreamKind::Hls, "https://h/b.m3u8"),
                ("default", StreamKind::Hls, "https://h/c"),
                ("default", StreamKind::Hls, "https://h/e.m3u8?x=1"),
                ("origin", StreamKind::Flv, "https://h/a.flv"),
            ]
        );
    }

    #[test]
    fn usernames() {
        assert_eq!(normalize_username(" @Khaby.Lame ").unwrap(), "khaby.lame");
        assert_eq!(normalize_username("a_b.c9").unwrap(), "a_b.c9");
        assert_eq!(normalize_username(".ab").unwrap(), ".ab");
        assert_eq!(normalize_username("__").unwrap(), "__");
        assert_eq!(normalize_username(&"a".repeat(24)).unwrap().len(), 24);
        for bad in [
            "",
            "@",
            "   ",
            "a",
            ".",
            "..",
            "....",
            "a.",
            "@khaby.lame.",
            "a b",
            "a/b",
            "x?y=1",
            "ünï",
            "https://tiktok.com/@x",
            &"a".repeat(25),
        ] {
            let err = normalize_username(bad).unwrap_err();
            assert!(matches!(err, ProviderError::InvalidInput { .. }), "{bad}");
            assert!(err.to_string().starts_with("KonbiniAPI: "));
        }
    }
}
