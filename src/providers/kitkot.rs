//! kitkot: join a TikTok live room as a viewer to read its stream URLs,
//! title, viewers and owner; then leave.
//!
//! `GET {base}/live/join?api_key&session_key&room_id[&anchor_id]`, always
//! followed by `GET {base}/live/leave?api_key&session_key&room_id` once the
//! join reached the server (also when its answer is an error or garbage,
//! and also when the caller drops the future half-way: a guard leaves then).
//! Answers are `{code, msg, …}`; `code != 200` is an API error.

use serde_json::Value;

use super::error::ProviderError;
use super::lenient;
use super::name::ProviderName;
use super::request::{endpoint, error_for_status, error_message, send_json};
use crate::config::KitkotConfig;
use crate::live::{web_url, StreamKind, StreamUrl};

const PROVIDER: ProviderName = ProviderName::Kitkot;

/// Client for kitkot's live room endpoints.
#[derive(Debug, Clone)]
pub struct Kitkot {
    http: crate::http::Http,
    cfg: KitkotConfig,
}

/// What a join told about a room.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KitkotRoom {
    pub title: Option<String>,
    pub viewers: Option<u64>,
    pub owner_name: Option<String>,
    /// Best quality first; HLS before FLV within a quality.
    pub streams: Vec<StreamUrl>,
}

impl Kitkot {
    pub fn new(http: crate::http::Http, cfg: KitkotConfig) -> Self {
        Kitkot { http, cfg }
    }

    /// Join `room_id`, read it, leave.
    pub async fn room(
        &self,
        room_id: &str,
        anchor_id: Option<&str>,
    ) -> Result<KitkotRoom, ProviderError> {
        self.room_inner(room_id, anchor_id)
            .await
            .map_err(|e| e.redact(&self.secrets()))
    }

    fn secrets(&self) -> [&str; 2] {
        [self.cfg.api_key.expose(), self.cfg.session_key.expose()]
    }

    async fn room_inner(
        &self,
        room_id: &str,
        anchor_id: Option<&str>,
    ) -> Result<KitkotRoom, ProviderError> {
        let room_id = check_id("room_id", room_id)?;
        let anchor_id = anchor_id
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "0")
            .map(|a| check_id("anchor_id", a))
            .transpose()?;

        let mut query: Vec<(&str, &str)> = vec![
            ("api_key", self.cfg.api_key.expose()),
            ("session_key", self.cfg.session_key.expose()),
            ("room_id", room_id),
        ];
        if let Some(a) = anchor_id {
            query.push(("anchor_id", a));
        }
        let request = self
            .http
            .client()
            .get(endpoint(&self.cfg.base_url, &["live", "join"]))
            .query(&query);
        let (request, timeout) = self.http.timed(request);

        // Armed before the join is sent: if this future is dropped mid-way
        // the guard still leaves the room.
        let mut guard = LeaveGuard {
            kitkot: Some(self.clone()),
            room_id: room_id.to_string(),
        };
        let joined = send_json(PROVIDER, request, timeout).await;
        if matches!(joined, Err(ProviderError::Connect { .. })) {
            // Never reached the server: nothing to leave.
            guard.kitkot = None;
        } else if let Some(kitkot) = guard.kitkot.take() {
            kitkot.leave(room_id).await;
        }

        let resp = joined?;
        error_for_status(PROVIDER, &resp)?;
        parse_join(&resp.body)
    }

    /// Leave a room. Failures are logged at warn, never returned.
    async fn leave(&self, room_id: &str) {
        let request = self
            .http
            .client()
            .get(endpoint(&self.cfg.base_url, &["live", "leave"]))
            .query(&[
                ("api_key", self.cfg.api_key.expose()),
                ("session_key", self.cfg.session_key.expose()),
                ("room_id", room_id),
            ]);
        let (request, timeout) = self.http.timed(request);
        let outcome = match send_json(PROVIDER, request, timeout).await {
            Ok(resp) => error_for_status(PROVIDER, &resp).and_then(|_| check_code(&resp.body)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => tracing::debug!(provider = %PROVIDER, room_id, "left kitkot room"),
            Err(e) => {
                let e = e.redact(&self.secrets());
                tracing::warn!(provider = %PROVIDER, room_id, error = %e, "leaving the kitkot room failed")
            }
        }
    }
}

/// Leaves the room on drop unless disarmed (`kitkot` taken).
struct LeaveGuard {
    kitkot: Option<Kitkot>,
    room_id: String,
}

impl Drop for LeaveGuard {
    fn drop(&mut self) {
        if let Some(kitkot) = self.kitkot.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let room_id = std::mem::take(&mut self.room_id);
                rt.spawn(async move { kitkot.leave(&room_id).await });
            }
        }
    }
}

fn check_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ProviderError> {
    super::ids::check_id(PROVIDER, what, id, 40)
}

/// `code` 200 (number or string) is success; missing code with a body is
/// accepted; anything else is an API error carrying `msg`.
fn check_code(body: &Value) -> Result<(), ProviderError> {
    if !body.is_object() {
        return Err(ProviderError::Shape {
            provider: PROVIDER,
            detail: "expected an object with `code`".into(),
        });
    }
    match body.get("code") {
        None | Some(Value::Null) => Ok(()),
        Some(code) => match lenient::u64(Some(code)) {
            Some(200) => Ok(()),
            Some(n) => {
                // Only `msg`/`message`: a numeric `code` is not a message.
                let only =
                    serde_json::json!({"message": body.get("message"), "msg": body.get("msg")});
                Err(ProviderError::Api {
                    provider: PROVIDER,
                    message: error_message(&only).unwrap_or_else(|| format!("error code {n}")),
                })
            }
            None => Err(ProviderError::Shape {
                provider: PROVIDER,
                detail: "`code` is not a number".into(),
            }),
        },
    }
}

/// The join answer: room details and stream URLs.
pub fn parse_join(body: &Value) -> Result<KitkotRoom, ProviderError> {
    check_code(body)?;
    let room = body
        .get("data")
        .filter(|d| d.get("stream_url").is_some())
        .unwrap_or(body);
    let owner = room.get("owner").unwrap_or(&Value::Null);
    Ok(KitkotRoom {
        title: lenient::text(room.get("title")),
        viewers: lenient::u64(room.get("viewers")).or_else(|| lenient::u64(room.get("user_count"))),
        owner_name: lenient::text(owner.get("nickname"))
            .or_else(|| lenient::text(owner.get("display_id"))),
        streams: room
            .get("stream_url")
            .map(parse_stream_urls)
            .unwrap_or_default(),
    })
}

/// All stream URLs of a TikTok `stream_url` object, best first, deduplicated.
pub fn parse_stream_urls(stream_url: &Value) -> Vec<StreamUrl> {
    let names = stream_url.get("resolution_name");
    let label_of = |key: &str| -> String {
        lenient::text(names.and_then(|n| n.get(key)))
            .map(|l| {
                if l.eq_ignore_ascii_case("original") {
                    "original".into()
                } else {
                    l
                }
            })
            .unwrap_or_else(|| quality_label(key))
    };
    let mut found: Vec<Candidate> = Vec::new();
    if let Some(Value::Object(map)) = stream_url.get("hls_pull_url_map") {
        for (key, url) in map {
            push(&mut found, label_of(key), StreamKind::Hls, url.as_str());
        }
    }
    if let Some(url) = lenient::text(stream_url.get("hls_pull_url")) {
        let label = lenient::text(stream_url.get("default_resolution"))
            .map(|k| label_of(&k))
            .unwrap_or_else(|| "default".into());
        push(&mut found, label, StreamKind::Hls, Some(&url));
    }
    match stream_url.get("flv_pull_url") {
        Some(Value::Object(map)) => {
            for (key, url) in map {
                push(&mut found, label_of(key), StreamKind::Flv, url.as_str());
            }
        }
        Some(Value::String(url)) => push(&mut found, "default".into(), StreamKind::Flv, Some(url)),
        _ => {}
    }
    if let Some(pull) = lenient::path(stream_url, &["live_core_sdk_data", "pull_data"]) {
        sdk_streams(pull, &mut found);
    }
    found.sort_by_key(|c| (std::cmp::Reverse(c.rank), c.kind != StreamKind::Hls));
    let mut out: Vec<StreamUrl> = Vec::with_capacity(found.len());
    for c in found {
        if !out.iter().any(|s| s.url == c.url) {
            out.push(StreamUrl {
                label: c.label,
                kind: c.kind,
                url: c.url,
            });
        }
    }
    out
}

struct Candidate {
    rank: i64,
    label: String,
    kind: StreamKind,
    url: String,
}

fn push(found: &mut Vec<Candidate>, label: String, kind: StreamKind, url: Option<&str>) {
    if let Some(url) = web_url(url) {
        found.push(Candidate {
            rank: rank(&label),
            label,
            kind,
            url,
        });
    }
}

/// `pull_data.stream_data`: a JSON document, usually encoded as a string,
/// `{"data": {"origin": {"main": {"hls", "flv"}}, "hd": …}}`.
fn sdk_streams(pull: &Value, found: &mut Vec<Candidate>) {
    let decoded;
    let doc = match pull.get("stream_data") {
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v) => {
                decoded = v;
                &decoded
            }
            Err(_) => {
                tracing::debug!(provider = %PROVIDER, "stream_data is not JSON; ignoring it");
                return;
            }
        },
        Some(v @ Value::Object(_)) => v,
        _ => return,
    };
    let Some(Value::Object(qualities)) = doc.get("data") else {
        return;
    };
    let named: Vec<(String, String)> = match lenient::path(pull, &["options", "qualities"]) {
        Some(Value::Array(qs)) => qs
            .iter()
            .filter_map(|q| {
                Some((
                    lenient::text(q.get("sdk_key"))?,
                    lenient::text(q.get("name"))?,
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    for (key, q) in qualities {
        let label = named
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| quality_label(key));
        let main = q.get("main").unwrap_or(q);
        push(
            found,
            label.clone(),
            StreamKind::Hls,
            main.get("hls").and_then(Value::as_str),
        );
        push(
            found,
            label,
            StreamKind::Flv,
            main.get("flv").and_then(Value::as_str),
        );
    }
}

/// A label for a TikTok quality key (SDK keys and `stream_url` resolutions).
fn quality_label(key: &str) -> String {
    match key.to_ascii_lowercase().as_str() {
        "origin" | "origion" | "original" => "original",
        "uhd" | "full_hd1" => "1080p",
        "hd" | "hd1" => "720p",
        "sd2" => "540p",
        "sd" => "480p",
        "ld" | "sd1" => "360p",
        "ao" => "audio",
        _ => return key.to_string(),
    }
    .to_string()
}

/// Higher = better: original above any resolution, audio-only last.
fn rank(label: &str) -> i64 {
    let l = label.to_ascii_lowercase();
    if l.starts_with("orig") {
        return 100_000;
    }
    if l == "audio" || l == "ao" {
        return -1;
    }
    let digits: String = l
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    match digits.parse::<i64>() {
        // "1080p60" above "1080p".
        Ok(h) => h * 10 + i64::from(l.ends_with("60")),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sdk_doc() -> String {
        json!({
            "common": {"session_id": "x"},
            "data": {
                "origin": {"main": {"hls": "https://pull/origin.m3u8", "flv": "https://pull/origin.flv", "sdk_params": "{}"}},
                "hd": {"main": {"hls": "https://pull/hd.m3u8", "flv": "https://pull/hd.flv"}},
                "sd": {"main": {"hls": "", "flv": "https://pull/sd.flv"}},
                "ld": {"main": {"hls": "https://pull/ld.m3u8", "flv": "https://pull/ld.flv"}},
                "ao": {"main": {"flv": "https://pull/ao.flv"}}
            }
        })
        .to_string()
    }

    fn urls(v: &[StreamUrl]) -> Vec<(&str, StreamKind, &str)> {
        v.iter()
            .map(|s| (s.label.as_str(), s.kind, s.url.as_str()))
            .collect()
    }

    #[test]
    fn stream_data_encoded_as_a_string() {
        let su = json!({
            "hls_pull_url": "", "hls_pull_url_map": {},
            "flv_pull_url": {"FULL_HD1": "", "HD1": "", "SD1": "", "SD2": ""},
            "live_core_sdk_data": {"pull_data": {"stream_data": sdk_doc()}}
        });
        use StreamKind::{Flv, Hls};
        assert_eq!(
            urls(&parse_stream_urls(&su)),
            [
                ("original", Hls, "https://pull/origin.m3u8"),
                ("original", Flv, "https://pull/origin.flv"),
                ("720p", Hls, "https://pull/hd.m3u8"),
                ("720p", Flv, "https://pull/hd.flv"),
                ("480p", Flv, "https://pull/sd.flv"),
                ("360p", Hls, "https://pull/ld.m3u8"),
                ("360p", Flv, "https://pull/ld.flv"),
                ("audio", Flv, "https://pull/ao.flv"),
            ]
        );
    }

    #[test]
    fn qualities_option_names_the_labels() {
        let su = json!({"live_core_sdk_data": {"pull_data": {
            "options": {"qualities": [{"sdk_key": "origin", "name": "Original"}, {"sdk_key": "hd", "name": "HD 720"}]},
            "stream_data": sdk_doc()
        }}});
        let got = parse_stream_urls(&su);
        assert_eq!(got[0].label, "Original");
        assert!(got
            .iter()
            .any(|s| s.label == "HD 720" && s.url == "https://pull/hd.m3u8"));
    }

    #[test]
    fn maps_and_defaults_with_dedupe() {
        let su = json!({
            "default_resolution": "FULL_HD1",
            "hls_pull_url": "https://pull/full.m3u8",
            "hls_pull_url_map": {"HD1": "https://pull/hd.m3u8", "FULL_HD1": "https://pull/full.m3u8"},
            "flv_pull_url": {"FULL_HD1": "https://pull/full.flv", "SD1": "", "SD2": "https://pull/sd2.flv", "ORIGION": "https://pull/o.flv"},
            "resolution_name": {"FULL_HD1": "1080p", "HD1": "720p", "ORIGION": "Original", "SD1": "360p", "SD2": "540p"},
            "live_core_sdk_data": {"pull_data": {"stream_data": {"data": {"hd": {"main": {"hls": "https://pull/hd.m3u8"}}}}}}
        });
        use StreamKind::{Flv, Hls};
        assert_eq!(
            urls(&parse_stream_urls(&su)),
            [
                ("original", Flv, "https://pull/o.flv"),
                ("1080p", Hls, "https://pull/full.m3u8"),
                ("1080p", Flv, "https://pull/full.flv"),
                ("720p", Hls, "https://pull/hd.m3u8"),
                ("540p", Flv, "https://pull/sd2.flv"),
            ]
        );
    }

    #[test]
    fn garbage_never_panics() {
        for su in [
            json!({"live_core_sdk_data": {"pull_data": {"stream_data": "{not json"}}}),
            json!({"live_core_sdk_data": {"pull_data": {"stream_data": "\"just a string\""}}}),
            json!({"live_core_sdk_data": {"pull_data": {"stream_data": "{\"data\": [1,2]}"}}}),
            json!({"live_core_sdk_data": {"pull_data": {"stream_data": "{\"data\": {\"hd\": 5}}"}}}),
            json!({"live_core_sdk_data": "x", "hls_pull_url_map": [], "flv_pull_url": 3}),
            json!({"hls_pull_url": "javascript:alert(1)", "flv_pull_url": {"HD1": 7}}),
            json!(null),
            json!("stream"),
        ] {
            assert!(parse_stream_urls(&su).is_empty(), "{su}");
        }
    }

    #[test]
    fn join_answer() {
        let body = json!({
            "code": 200, "msg": "success",
            "owner": {"nickname": "Khaby", "display_id": "khaby.lame"},
            "stream_url": {"hls_pull_url": "https://pull/x.m3u8", "default_resolution": "HD1",
                           "resolution_name": {"HD1": "720p"}},
            "stats": {"total_user": 34},
            "title": "Hello", "viewers": 10
        });
        let room = parse_join(&body).unwrap();
        assert_eq!(room.title.as_deref(), Some("Hello"));
        assert_eq!(room.viewers, Some(10));
        assert_eq!(room.owner_name.as_deref(), Some("Khaby"));
        assert_eq!(
            urls(&room.streams),
            [("720p", StreamKind::Hls, "https://pull/x.m3u8")]
        );

        // The document's own example: empty strings everywhere.
        let empty = json!({"code": 200, "msg": "success", "owner": {"nickname": "", "display_id": ""},
            "stream_url": {"hls_pull_url": "", "hls_pull_url_map": {}, "flv_pull_url": {"HD1": ""}},
            "title": "", "viewers": 10});
        assert_eq!(
            parse_join(&empty).unwrap(),
            KitkotRoom {
                title: None,
                viewers: Some(10),
                owner_name: None,
                streams: vec![]
            }
        );
    }

    #[test]
    fn codes() {
        let err = parse_join(&json!({"code": 401, "msg": "invalid session_key"})).unwrap_err();
        assert!(matches!(err, ProviderError::Api { .. }));
        assert_eq!(err.to_string(), "kitkot: invalid session_key");
        let err = parse_join(&json!({"code": "500"})).unwrap_err();
        assert_eq!(err.to_string(), "kitkot: error code 500");
        assert!(parse_join(&json!({"code": "200"})).is_ok());
        assert!(parse_join(&json!({"title": "no code"})).is_ok());
        assert!(matches!(
            parse_join(&json!({"code": "ok"})),
            Err(ProviderError::Shape { .. })
        ));
        assert!(matches!(
            parse_join(&json!([])),
            Err(ProviderError::Shape { .. })
        ));
        assert!(matches!(
            parse_join(&Value::Null),
            Err(ProviderError::Shape { .. })
        ));
    }

    #[test]
    fn ranks() {
        assert!(rank("original") > rank("1080p60"));
        assert!(rank("1080p60") > rank("1080p"));
        assert!(rank("1080p") > rank("720p"));
        assert!(rank("AUTO") > rank("audio"));
        assert!(check_id("room_id", "7600000000000000001").is_ok());
        assert!(check_id("room_id", "a&b=c").is_err());
        assert!(check_id("room_id", "").is_err());
    }
}
