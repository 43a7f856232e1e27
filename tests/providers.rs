//! The four provider clients against a scripted fake server on 127.0.0.1.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair::config::{Jkt48ConnectConfig, KitkotConfig, KonbiniConfig, RealtimeKitConfig};
use onair::http::{http_client, Http};
use onair::live::{Platform, StreamKind, StreamUrl};
use onair::providers::jkt48connect::Jkt48Connect;
use onair::providers::kitkot::Kitkot;
use onair::providers::konbini::Konbini;
use onair::providers::realtimekit::{Analytics, LivestreamStatus, RealtimeKit};
use onair::providers::ProviderError;
use onair::secret::Secret;
use serde_json::{json, Value};
use support::fake_providers::{FakeProvider, Reply};

const JKT_KEY: &str = "JKT-SECRET-123";
const KON_KEY: &str = "KON-SECRET-456";
const KIT_KEY: &str = "KIT-SECRET-789";
const KIT_SESSION: &str = "KITSESSION-SECRET-000";
const CF_TOKEN: &str = "CF-SECRET-TOKEN-abc";
const STREAM_KEY: &str = "STREAMKEY-SECRET-f26566285faca6fbe2e79a73a66";
const ALL_SECRETS: [&str; 6] = [JKT_KEY, KON_KEY, KIT_KEY, KIT_SESSION, CF_TOKEN, STREAM_KEY];
const RTK: &str = "/accounts/acc123/realtime/kit/app456";
const PLAYBACK: &str =
    "https://customer-s8oj0c1n5ek8ah1e.cloudflarestream.com/7de6/manifest/video.m3u8";

fn client() -> Http {
    Http::new(http_client(Duration::from_millis(300)))
}

const INTERVAL: Duration = Duration::from_secs(30);

fn base(fake: &FakeProvider, path: &str) -> url::Url {
    url::Url::parse(&format!("{}{path}", fake.url())).unwrap()
}

fn jkt(fake: &FakeProvider) -> Jkt48Connect {
    Jkt48Connect::new(
        client(),
        Jkt48ConnectConfig {
            api_key: Secret::new(JKT_KEY),
            base_url: base(fake, "/"),
            interval: INTERVAL,
            calls_per_month: None,
        },
    )
}

fn konbini(fake: &FakeProvider) -> Konbini {
    Konbini::new(
        client(),
        KonbiniConfig {
            api_key: Secret::new(KON_KEY),
            base_url: base(fake, ""),
            interval: INTERVAL,
            credits_per_day: None,
        },
    )
}

fn kitkot(fake: &FakeProvider) -> Kitkot {
    Kitkot::new(
        client(),
        KitkotConfig {
            api_key: Secret::new(KIT_KEY),
            session_key: Secret::new(KIT_SESSION),
            base_url: base(fake, "/api"),
        },
    )
}

fn rtk(fake: &FakeProvider) -> RealtimeKit {
    RealtimeKit::new(
        client(),
        RealtimeKitConfig {
            api_token: Secret::new(CF_TOKEN),
            account_id: "acc123".into(),
            app_id: "app456".into(),
            base_url: base(fake, "/client/v4"),
            interval: INTERVAL,
        },
    )
}

fn idn_entry(name: &str, room: Value) -> Value {
    json!({
        "name": name,
        "img": "https://cdn.idntimes.com/content-images/post/20250406/717109e0.jpg",
        "img_alt": "https://cdn.idn.media/idnaccount/avatar/500/f4d25811.webp",
        "url_key": "jkt48_fritzy",
        "slug": "yuk-diborong-250406190348",
        "room_id": room,
        "is_graduate": false,
        "is_group": false,
        "chat_room_id": null,
        "started_at": "2025-04-06T12:03:58.000Z",
        "streaming_url_list": [
            {"label": "720p", "quality": 2, "url": "https://example.com/720.m3u8"},
            {"label": "original", "quality": 1, "url": "https://example.com/stream.m3u8"}
        ],
        "type": "idn"
    })
}

fn konbini_live() -> Value {
    json!({"data": {
        "type": "Video",
        "url": "https://www.tiktok.com/@khaby.lame/live",
        "entityId": "7600000000000000001",
        "published": "2026-02-27T18:36:42.000Z",
        "isLive": true,
        "viewerCount": 15000,
        "content": "When you realize there is a simpler way #learnfromkhaby",
        "attributedTo": {
            "name": "Khabane Lame",
            "preferredUsername": "khaby.lame",
            "icon": {"type": "Image", "url": "https://p16-sign.tiktokcdn-us.com/avatar.jpeg"}
        },
        "image": {"type": "Image", "url": "https://p16-sign.tiktokcdn-us.com/cover.jpeg"},
        "attachment": [{
            "type": "Video", "url": ["https://webcast.tiktok.com/live/pull/l4/stream.flv"],
            "mediaType": "video/x-flv", "width": 576, "height": 1024, "name": "flv"
        }]
    }})
}

fn kitkot_join() -> Value {
    let stream_data = json!({
        "common": {"session_id": "s"},
        "data": {
            "origin": {"main": {"hls": "https://pull-hls/origin.m3u8", "flv": "https://pull-flv/origin.flv", "sdk_params": "{}"}},
            "hd": {"main": {"hls": "https://pull-hls/hd.m3u8", "flv": "https://pull-flv/hd.flv"}},
            "ld": {"main": {"hls": "", "flv": "https://pull-flv/ld.flv"}}
        }
    })
    .to_string();
    json!({
        "code": 200, "msg": "success",
        "owner": {"nickname": "Khaby", "display_id": "khaby.lame", "follow_info": {"follower_count": 6558}},
        "stream_url": {
            "candidate_resolution": ["SD1", "SD2", "HD1", "FULL_HD1"],
            "default_resolution": "FULL_HD1",
            "flv_pull_url": {"FULL_HD1": "", "HD1": "", "SD1": "", "SD2": ""},
            "hls_pull_url": "",
            "hls_pull_url_map": {},
            "live_core_sdk_data": {"pull_data": {
                "options": {"qualities": [{"sdk_key": "origin", "name": "original"}, {"sdk_key": "hd", "name": "720p"}, {"sdk_key": "ld", "name": "360p"}]},
                "stream_data": stream_data
            }},
            "resolution_name": {"AUTO": "AUTO", "FULL_HD1": "1080p", "HD1": "720p", "ORIGION": "Original", "SD1": "360p", "SD2": "540p"}
        },
        "stats": {"share_count": 3, "total_user": 34},
        "title": "late night talk",
        "viewers": 10,
        "room_id": "7600000000000000001"
    })
}

fn livestream_json(id: &str, status: &str) -> Value {
    json!({
        "created_at": "2023-07-15T11:48:34.753Z",
        "disabled": "false",
        "id": id,
        "ingest_server": "rtmps://live.cloudflare.com:443/live/",
        "meeting_id": null,
        "name": "evening-show",
        "playback_url": PLAYBACK,
        "status": status,
        "stream_key": STREAM_KEY,
        "updated_at": "2023-07-15T11:48:34.753Z"
    })
}

// ---------------------------------------------------------------- JKT48Connect

#[tokio::test]
async fn jkt48_bare_array() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /api/jkt48/live",
        Reply::json(json!([idn_entry("Fritzy", json!(510011))])),
    );
    let got = jkt(&fake).live().await.unwrap();
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
    assert_eq!(s.started_at.map(|t| t.timestamp()), Some(1_743_941_038));
    assert_eq!(s.viewers, None);
    assert_eq!(
        s.streams,
        vec![
            StreamUrl {
                label: "original".into(),
                kind: StreamKind::Hls,
                url: "https://example.com/stream.m3u8".into()
            },
            StreamUrl {
                label: "720p".into(),
                kind: StreamKind::Hls,
                url: "https://example.com/720.m3u8".into()
            },
        ]
    );
    assert_eq!(
        s.watch_url.as_deref(),
        Some("https://www.idn.app/jkt48_fritzy/live/yuk-diborong-250406190348")
    );

    let reqs = fake.requests_to("GET /api/jkt48/live");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].query.get("apikey").map(String::as_str),
        Some(JKT_KEY)
    );
}

#[tokio::test]
async fn jkt48_envelope_and_idn_endpoint() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /api/jkt48/live/idn",
        Reply::json(
            json!({"status": true, "data": {"members": [idn_entry("Fritzy", json!("510011"))]}}),
        ),
    );
    let got = jkt(&fake).live_idn().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].key.as_str(), got[0].name.as_str()),
        ("510011", "Fritzy")
    );
    assert_eq!(fake.hits("/api/jkt48/live/idn"), 1);
    assert_eq!(fake.hits("/api/jkt48/live"), 0);

    fake.set("GET /api/jkt48/live", Reply::json(json!({"data": []})));
    assert!(jkt(&fake).live().await.unwrap().is_empty());
}

#[tokio::test]
async fn jkt48_malformed_entry_is_skipped_others_survive() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /api/jkt48/live",
        Reply::json(json!([
            idn_entry("Fritzy", json!(510011)),
            "garbage",
            {"type": "idn", "room_id": 1, "url_key": "no_name"},
            {"type": "idn", "name": "Bad", "room_id": [1, 2], "url_key": "bad"},
            {"type": "twitch", "name": "Elsewhere", "url_key": "t"},
            {"type": "youtube", "channelTitle": "JKT48 TV", "channelId": "UC1", "title": "Live!",
             "thumbnails": {"medium": {"url": "https://i.ytimg.com/vi/vid1/mqdefault.jpg"}},
             "url": "https://www.youtube.com/watch?v=vid1", "etag": "e"},
            idn_entry("Gita", json!(0)),
        ])),
    );
    let got = jkt(&fake).live().await.unwrap();
    let names: Vec<(&str, Platform, &str)> = got
        .iter()
        .map(|s| (s.name.as_str(), s.platform, s.key.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Fritzy", Platform::Idn, "510011"),
            ("JKT48 TV", Platform::Youtube, "vid1"),
            ("Gita", Platform::Idn, "jkt48_fritzy"),
        ]
    );
    let yt = &got[1];
    assert_eq!(
        yt.watch_url.as_deref(),
        Some("https://www.youtube.com/watch?v=vid1")
    );
    assert_eq!(
        yt.thumbnail_url.as_deref(),
        Some("https://i.ytimg.com/vi/vid1/mqdefault.jpg")
    );
    assert_eq!(yt.title.as_deref(), Some("Live!"));
    assert!(yt.streams.is_empty());
}

#[tokio::test]
async fn jkt48_typed_errors() {
    let fake = FakeProvider::start().await;
    let j = jkt(&fake);
    let route = "GET /api/jkt48/live";

    fake.set(route, Reply::html(502));
    let e = j.live().await.unwrap_err();
    assert!(matches!(e, ProviderError::Html { status: 502, .. }), "{e}");
    assert!(e.to_string().starts_with("JKT48Connect"), "{e}");

    fake.set(route, Reply::text(200, "Service temporarily unavailable"));
    let e = j.live().await.unwrap_err();
    assert!(
        matches!(e, ProviderError::NotJson { status: 200, .. }),
        "{e}"
    );

    fake.set(
        route,
        Reply::json_status(401, json!({"message": "Invalid API key"})),
    );
    assert!(matches!(
        j.live().await.unwrap_err(),
        ProviderError::Unauthorized { status: 401, .. }
    ));

    fake.set(route, Reply::html(403));
    assert!(matches!(
        j.live().await.unwrap_err(),
        ProviderError::Unauthorized { status: 403, .. }
    ));

    fake.set(
        route,
        Reply::json_status(429, json!({"message": "slow down"})),
    );
    assert!(matches!(
        j.live().await.unwrap_err(),
        ProviderError::RateLimited { .. }
    ));

    fake.set(route, Reply::json(json!({"data": {"unexpected": true}})));
    assert!(matches!(
        j.live().await.unwrap_err(),
        ProviderError::Shape { .. }
    ));

    fake.set(route, Reply::json(json!([])).delay(Duration::from_secs(3)));
    let e = j.live().await.unwrap_err();
    assert!(matches!(e, ProviderError::Timeout { .. }), "{e}");
    let short = Jkt48Connect::new(
        Http::new(http_client(Duration::from_secs(10))).with_timeout(Duration::from_millis(300)),
        Jkt48ConnectConfig {
            api_key: Secret::new(JKT_KEY),
            base_url: base(&fake, "/"),
            interval: INTERVAL,
            calls_per_month: None,
        },
    );
    let e = short.live().await.unwrap_err();
    assert_eq!(e.to_string(), "JKT48Connect: request timed out after 300ms");
}

// ---------------------------------------------------------------- KonbiniAPI

#[tokio::test]
async fn konbini_live_user() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /v1/tiktok/users/khaby.lame/live",
        Reply::json(konbini_live())
            .header("X-Credits-Remaining", "950")
            .header("X-Credits-Used", "1"),
    );
    let answer = konbini(&fake).user_live(" @Khaby.Lame ").await.unwrap();
    assert_eq!(answer.room_id.as_deref(), Some("7600000000000000001"));
    assert_eq!(answer.credits_remaining, Some(950));
    let s = answer.live.unwrap();
    assert_eq!(s.platform, Platform::Tiktok);
    assert_eq!(s.key, "khaby.lame");
    assert_eq!(s.name, "Khabane Lame");
    assert_eq!(s.handle.as_deref(), Some("khaby.lame"));
    assert_eq!(
        s.avatar_url.as_deref(),
        Some("https://p16-sign.tiktokcdn-us.com/avatar.jpeg")
    );
    assert_eq!(
        s.thumbnail_url.as_deref(),
        Some("https://p16-sign.tiktokcdn-us.com/cover.jpeg")
    );
    assert_eq!(
        s.title.as_deref(),
        Some("When you realize there is a simpler way #learnfromkhaby")
    );
    assert_eq!(s.viewers, Some(15000));
    assert_eq!(
        s.started_at.map(|t| t.to_rfc3339()),
        Some("2026-02-27T18:36:42+00:00".into())
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

    let reqs = fake.requests_to("/v1/tiktok/users/khaby.lame/live");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some(&*format!("Bearer {KON_KEY}"))
    );
    assert!(reqs[0].query.is_empty());
}

#[tokio::test]
async fn konbini_not_live() {
    let fake = FakeProvider::start().await;
    let route = "GET /v1/tiktok/users/someone/live";
    fake.set(
        route,
        Reply::json_status(
            404,
            json!({"errors": [{"code": "not_found", "message": "User is not live"}]}),
        )
        .header("X-Credits-Remaining", "42"),
    );
    let a = konbini(&fake).user_live("someone").await.unwrap();
    assert_eq!(
        (a.live, a.room_id, a.credits_remaining),
        (None, None, Some(42))
    );

    fake.set(route, Reply::status(404, ""));
    assert!(konbini(&fake)
        .user_live("someone")
        .await
        .unwrap()
        .live
        .is_none());

    let mut body = konbini_live();
    body["data"]["isLive"] = json!(false);
    fake.set(route, Reply::json(body));
    let a = konbini(&fake).user_live("someone").await.unwrap();
    assert!(a.live.is_none() && a.room_id.is_none());
}

#[tokio::test]
async fn konbini_credits_exhausted() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /v1/tiktok/users/someone/live",
        Reply::json_status(402, json!({"errors": [{"code": "credits_exhausted", "message": "You have no credits left"}]})),
    );
    let e = konbini(&fake).user_live("someone").await.unwrap_err();
    assert!(matches!(e, ProviderError::CreditsExhausted { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "KonbiniAPI: API credits are exhausted (HTTP 402): You have no credits left"
    );
}

#[tokio::test]
async fn konbini_refuses_bad_usernames_without_a_request() {
    let fake = FakeProvider::start().await;
    for bad in [
        "",
        "a b",
        "../admin",
        "x?apikey=1",
        "waytoolongusername_abcdefgh",
    ] {
        let e = konbini(&fake).user_live(bad).await.unwrap_err();
        assert!(
            matches!(e, ProviderError::InvalidInput { .. }),
            "{bad}: {e}"
        );
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn konbini_errors() {
    let fake = FakeProvider::start().await;
    let route = "GET /v1/tiktok/users/someone/live";
    let k = konbini(&fake);
    fake.set(
        route,
        Reply::json_status(401, json!({"errors": [{"message": "Invalid API key"}]})),
    );
    assert!(matches!(
        k.user_live("someone").await.unwrap_err(),
        ProviderError::Unauthorized { status: 401, .. }
    ));
    fake.set(
        route,
        Reply::json_status(403, json!({"errors": [{"message": "Forbidden"}]})),
    );
    assert!(matches!(
        k.user_live("someone").await.unwrap_err(),
        ProviderError::Unauthorized { status: 403, .. }
    ));
    fake.set(route, Reply::html(404));
    assert!(matches!(
        k.user_live("someone").await.unwrap_err(),
        ProviderError::Html { status: 404, .. }
    ));
    fake.set(route, Reply::text(200, "ok"));
    assert!(matches!(
        k.user_live("someone").await.unwrap_err(),
        ProviderError::NotJson { .. }
    ));
    fake.set(
        route,
        Reply::json(konbini_live()).delay(Duration::from_secs(2)),
    );
    assert!(matches!(
        k.user_live("someone").await.unwrap_err(),
        ProviderError::Timeout { .. }
    ));
}

// ---------------------------------------------------------------- kitkot

#[tokio::test]
async fn kitkot_join_read_leave() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/live/join", Reply::json(kitkot_join()));
    fake.set(
        "GET /api/live/leave",
        Reply::json(json!({"code": 200, "msg": "success"})),
    );
    let room = kitkot(&fake)
        .room("7600000000000000001", Some("6600000000000000002"))
        .await
        .unwrap();
    assert_eq!(room.title.as_deref(), Some("late night talk"));
    assert_eq!(room.viewers, Some(10));
    assert_eq!(room.owner_name.as_deref(), Some("Khaby"));
    let got: Vec<(&str, StreamKind, &str)> = room
        .streams
        .iter()
        .map(|s| (s.label.as_str(), s.kind, s.url.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("original", StreamKind::Hls, "https://pull-hls/origin.m3u8"),
            ("original", StreamKind::Flv, "https://pull-flv/origin.flv"),
            ("720p", StreamKind::Hls, "https://pull-hls/hd.m3u8"),
            ("720p", StreamKind::Flv, "https://pull-flv/hd.flv"),
            ("360p", StreamKind::Flv, "https://pull-flv/ld.flv"),
        ]
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].path.as_str(), reqs[1].path.as_str()),
        ("/api/live/join", "/api/live/leave")
    );
    let q = &reqs[0].query;
    assert_eq!(q.get("api_key").map(String::as_str), Some(KIT_KEY));
    assert_eq!(q.get("session_key").map(String::as_str), Some(KIT_SESSION));
    assert_eq!(
        q.get("room_id").map(String::as_str),
        Some("7600000000000000001")
    );
    assert_eq!(
        q.get("anchor_id").map(String::as_str),
        Some("6600000000000000002")
    );
    let q = &reqs[1].query;
    assert_eq!(q.get("api_key").map(String::as_str), Some(KIT_KEY));
    assert_eq!(q.get("session_key").map(String::as_str), Some(KIT_SESSION));
    assert_eq!(
        q.get("room_id").map(String::as_str),
        Some("7600000000000000001")
    );
    assert!(!q.contains_key("anchor_id"));
}

#[tokio::test]
async fn kitkot_always_leaves() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /api/live/leave",
        Reply::json(json!({"code": 200, "msg": "success"})),
    );
    let k = kitkot(&fake);
    type Check = fn(&ProviderError) -> bool;
    let cases: Vec<(Reply, Check)> = vec![
        (Reply::text(200, "{garbage"), |e| {
            matches!(e, ProviderError::NotJson { .. })
        }),
        (
            Reply::json(json!({"code": 10001, "msg": "session expired"})),
            |e| matches!(e, ProviderError::Api { message, .. } if message == "session expired"),
        ),
        (Reply::html(502), |e| {
            matches!(e, ProviderError::Html { .. })
        }),
        (
            Reply::json_status(401, json!({"code": 401, "msg": "bad key"})),
            |e| matches!(e, ProviderError::Unauthorized { .. }),
        ),
        (Reply::json(json!([1, 2, 3])), |e| {
            matches!(e, ProviderError::Shape { .. })
        }),
        (
            Reply::json(kitkot_join()).delay(Duration::from_secs(2)),
            |e| matches!(e, ProviderError::Timeout { .. }),
        ),
    ];
    for (i, (reply, check)) in cases.into_iter().enumerate() {
        fake.set("GET /api/live/join", reply);
        let e = k.room("123", None).await.unwrap_err();
        assert!(check(&e), "case {i}: {e}");
        assert_eq!(fake.hits("/api/live/join"), i + 1, "case {i}");
        assert_eq!(
            fake.hits("/api/live/leave"),
            i + 1,
            "case {i}: leave not called"
        );
    }
}

#[tokio::test]
async fn kitkot_failed_leave_does_not_fail_the_call() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/live/join", Reply::json(kitkot_join()));
    fake.set("GET /api/live/leave", Reply::html(500));
    let room = kitkot(&fake).room("123", None).await.unwrap();
    assert_eq!(room.streams.len(), 5);
    fake.set(
        "GET /api/live/leave",
        Reply::json(json!({"code": 500, "msg": "not in room"})),
    );
    assert!(kitkot(&fake).room("123", None).await.is_ok());
    assert_eq!(fake.hits("/api/live/leave"), 2);
}

#[tokio::test]
async fn kitkot_leaves_when_the_caller_gives_up() {
    let fake = FakeProvider::start().await;
    fake.set(
        "GET /api/live/join",
        Reply::json(kitkot_join()).delay(Duration::from_millis(200)),
    );
    fake.set("GET /api/live/leave", Reply::json(json!({"code": 200})));
    let k = kitkot(&fake);
    let r = tokio::time::timeout(Duration::from_millis(50), k.room("123", None)).await;
    assert!(r.is_err(), "should have been cut short");
    for _ in 0..50 {
        if fake.hits("/api/live/leave") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.hits("/api/live/leave"), 1);
}

#[tokio::test]
async fn kitkot_bad_room_id_makes_no_request() {
    let fake = FakeProvider::start().await;
    let e = kitkot(&fake).room("1&api_key=x", None).await.unwrap_err();
    assert!(matches!(e, ProviderError::InvalidInput { .. }), "{e}");
    assert!(fake.requests().is_empty());
}

// ---------------------------------------------------------------- RealtimeKit

#[tokio::test]
async fn realtimekit_list_lenient() {
    let fake = FakeProvider::start().await;
    let mut weird = livestream_json("ls-2", "PAUSED");
    weird["disabled"] = json!("disabled");
    weird["created_at"] = json!("not a time");
    fake.set(
        &format!("GET /client/v4{RTK}/livestreams"),
        Reply::json(json!({
            "data": [livestream_json("ls-1", "live"), weird, {"name": "no id"}, 7],
            "paging": {"end_offset": "1", "start_offset": 1, "total_count": "2"},
            "success": true
        })),
    );
    let list = rtk(&fake).list_livestreams().await.unwrap();
    assert_eq!(list.len(), 2);
    let a = &list[0];
    assert_eq!(a.id, "ls-1");
    assert_eq!(a.name.as_deref(), Some("evening-show"));
    assert_eq!(a.status, LivestreamStatus::Live);
    assert_eq!(a.disabled, Some(false));
    assert_eq!(a.meeting_id, None);
    assert_eq!(
        a.ingest_server.as_deref(),
        Some("rtmps://live.cloudflare.com:443/live/")
    );
    assert_eq!(a.stream_key.as_ref().map(Secret::expose), Some(STREAM_KEY));
    assert_eq!(a.playback_url.as_deref(), Some(PLAYBACK));
    assert_eq!(
        a.created_at.map(|t| t.timestamp_millis()),
        Some(1_689_421_714_753)
    );
    let b = &list[1];
    assert_eq!(b.status, LivestreamStatus::Unknown("PAUSED".into()));
    assert_eq!((b.disabled, b.created_at), (None, None));
    assert!(!format!("{list:?}").contains(STREAM_KEY));

    let live = a.to_live_stream(None);
    assert_eq!(
        (live.platform, live.key.as_str(), live.name.as_str()),
        (Platform::Realtimekit, "ls-1", "evening-show")
    );
    assert_eq!(
        live.streams,
        vec![StreamUrl {
            label: "hls".into(),
            kind: StreamKind::Hls,
            url: PLAYBACK.into()
        }]
    );

    let reqs = fake.requests();
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some(&*format!("Bearer {CF_TOKEN}"))
    );

    // `result` envelope, single object.
    fake.set(
        &format!("GET /client/v4{RTK}/livestreams"),
        Reply::json(json!({"success": true, "result": livestream_json("only", "IDLE")})),
    );
    let list = rtk(&fake).list_livestreams().await.unwrap();
    assert_eq!(
        (list.len(), list[0].status.clone()),
        (1, LivestreamStatus::Idle)
    );
}

#[tokio::test]
async fn realtimekit_list_reads_every_page() {
    let fake = FakeProvider::start().await;
    // 250 livestreams over three pages of 100; one LIVE on each page.
    let page = |n: usize, from: usize, to: usize| {
        let data: Vec<Value> = (from..to)
            .map(|i| {
                livestream_json(
                    &format!("ls-{i}"),
                    if i % 100 == 7 { "LIVE" } else { "IDLE" },
                )
            })
            .collect();
        Reply::json(json!({"success": true, "data": data,
            "paging": {"start_offset": from + 1, "end_offset": to, "total_count": 250}}))
        .header("X-Page", &n.to_string())
    };
    let route = format!("GET /client/v4{RTK}/livestreams");
    fake.script(
        &route,
        vec![page(1, 0, 100), page(2, 100, 200), page(3, 200, 250)],
    );
    let live = rtk(&fake).live_livestreams().await.unwrap();
    let ids: Vec<&str> = live.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["ls-7", "ls-107", "ls-207"]);
    let reqs = fake.requests_to(&route);
    assert_eq!(reqs.len(), 3, "stops after total_count entries");
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.query.get("page_no"), Some(&(i + 1).to_string()));
        assert_eq!(r.query.get("per_page").map(String::as_str), Some("100"));
        assert_eq!(r.query.get("status").map(String::as_str), Some("LIVE"));
    }

    // Without paging data, a short page is the last one.
    fake.set(
        &route,
        Reply::json(json!({"success": true, "data": [livestream_json("x", "LIVE")]})),
    );
    let before = fake.hits(&route);
    assert_eq!(rtk(&fake).list_livestreams().await.unwrap().len(), 1);
    assert_eq!(fake.hits(&route), before + 1);
}

#[tokio::test]
async fn realtimekit_get_and_active_session() {
    let fake = FakeProvider::start().await;
    fake.set(
        &format!("GET /client/v4{RTK}/livestreams/b60"),
        Reply::json(json!({"data": {
            "livestream": livestream_json("b60", "LIVE"),
            "sessions": [{"id": "s1", "livestream_id": "b60", "started_time": "2023-07-15T07:08:39.000Z",
                          "stopped_time": null, "ingest_seconds": 60, "viewer_seconds": 116.11599994199997, "err_message": null}]
        }, "paging": {"end_offset": 1, "start_offset": 1, "total_count": 1}, "success": true})),
    );
    let d = rtk(&fake).get_livestream("b60").await.unwrap();
    assert_eq!(d.livestream.id, "b60");
    let s = d.session.clone().unwrap();
    assert_eq!(s.id.as_deref(), Some("s1"));
    assert_eq!(s.ingest_seconds, Some(60.0));
    // serde_json's default float parsing may be one ULP off.
    assert!(s
        .viewer_seconds
        .is_some_and(|v| (v - 116.115_999_941_999_97).abs() < 1e-9));
    assert_eq!(s.err_message, None);
    let live = d.livestream.to_live_stream(d.session.as_ref());
    assert_eq!(live.started_at.map(|t| t.timestamp()), Some(1_689_404_919));
    assert_eq!(live.watch_url.as_deref(), Some(PLAYBACK));

    fake.set(
        &format!("GET /client/v4{RTK}/livestreams/b60/active-livestream-session"),
        Reply::json(json!({"data": {
            "livestream": livestream_json("b60", "LIVE"),
            "session": {"id": "s2", "started_time": "2023-07-15T07:08:39.000Z", "ingest_seconds": "1200",
                        "viewer_seconds": "ingest_seconds", "invoked_time": "2023-07-15T07:08:30Z"}
        }, "success": true})),
    );
    let d = rtk(&fake).active_session("b60").await.unwrap();
    let s = d.session.unwrap();
    assert_eq!((s.ingest_seconds, s.viewer_seconds), (Some(1200.0), None));
    assert_eq!(s.invoked_time.map(|t| t.timestamp()), Some(1_689_404_910));

    fake.set(
        &format!("GET /client/v4{RTK}/livestreams/nope"),
        Reply::json_status(
            404,
            json!({"success": false, "errors": [{"code": 404, "message": "Livestream not found"}]}),
        ),
    );
    let e = rtk(&fake).get_livestream("nope").await.unwrap_err();
    assert!(matches!(e, ProviderError::NotFound { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "Cloudflare RealtimeKit: not found: no such livestream"
    );

    let e = rtk(&fake).get_livestream("../../x").await.unwrap_err();
    assert!(matches!(e, ProviderError::InvalidInput { .. }), "{e}");
}

#[tokio::test]
async fn realtimekit_create_meeting_stop_and_analytics() {
    let fake = FakeProvider::start().await;
    let mut created = livestream_json("new-1", "INVOKED");
    created["disabled"] = json!(false);
    fake.set(
        &format!("POST /client/v4{RTK}/livestreams"),
        Reply::json_status(201, json!({"data": created, "success": true})),
    );
    let l = rtk(&fake).create_livestream("evening-show").await.unwrap();
    assert_eq!(
        (l.id.as_str(), l.status.clone(), l.disabled),
        ("new-1", LivestreamStatus::Invoked, Some(false))
    );
    assert_eq!(l.stream_key.as_ref().map(Secret::expose), Some(STREAM_KEY));
    let req = &fake.requests_to(&format!("POST /client/v4{RTK}/livestreams"))[0];
    assert_eq!(
        serde_json::from_str::<Value>(&req.body).unwrap(),
        json!({"name": "evening-show"})
    );
    assert!(req
        .headers
        .get("content-type")
        .is_some_and(|c| c.contains("json")));
    assert!(matches!(
        rtk(&fake).create_livestream("bad name!").await.unwrap_err(),
        ProviderError::InvalidInput { .. }
    ));

    let mid = "bbb03399-24e3-4b0c-90ec-172e97e636be";
    fake.set(
        &format!("GET /client/v4{RTK}/meetings/{mid}/active-livestream"),
        Reply::json(
            json!({"data": {"created_at": "2023-07-15T11:58:08.404Z", "disabled": false,
            "id": "61e03cb4", "meeting_id": mid, "name": null, "playback_url": PLAYBACK,
            "status": "LIVE", "updated_at": "2023-07-15T11:58:24.278Z"}, "success": true}),
        ),
    );
    let l = rtk(&fake).meeting_active_livestream(mid).await.unwrap();
    assert_eq!(
        (
            l.id.as_str(),
            l.meeting_id.as_deref(),
            l.stream_key.is_none()
        ),
        ("61e03cb4", Some(mid), true)
    );
    assert_eq!(l.to_live_stream(None).name, "61e03cb4");

    fake.set(
        &format!("POST /client/v4{RTK}/meetings/{mid}/active-livestream/stop"),
        Reply::json(
            json!({"data": {"message": "Stopped live stream successfully"}, "success": true}),
        ),
    );
    assert_eq!(
        rtk(&fake).stop_meeting_livestream(mid).await.unwrap(),
        "Stopped live stream successfully"
    );
    let e = rtk(&fake)
        .stop_meeting_livestream("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::NotFound { .. }), "{e}");

    let route = format!("GET /client/v4{RTK}/analytics/livestreams/overall");
    fake.set(&route, Reply::json(json!({"result": {"data": {"count": "4", "total_ingest_seconds": 531, "total_viewer_seconds": "116.5"}, "success": true}})));
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0);
    let end = chrono::DateTime::from_timestamp(1_700_086_400, 0);
    let a = rtk(&fake).analytics_overall(start, end).await.unwrap();
    assert_eq!(
        a,
        Analytics {
            count: 4,
            total_ingest_seconds: 531.0,
            total_viewer_seconds: 116.5
        }
    );
    let q = &fake.requests_to(&route)[0].query;
    assert_eq!(q.get("start_time").map(String::as_str), Some("1700000000"));
    assert_eq!(q.get("end_time").map(String::as_str), Some("1700086400"));
    rtk(&fake).analytics_overall(None, None).await.unwrap();
    assert!(fake.requests_to(&route)[1].query.is_empty());
}

#[tokio::test]
async fn realtimekit_errors() {
    let fake = FakeProvider::start().await;
    let route = format!("GET /client/v4{RTK}/livestreams");
    let r = rtk(&fake);
    for status in [401, 403] {
        fake.set(
            &route,
            Reply::json_status(status, json!({"success": false, "errors": [{"code": 10000, "message": "Authentication error"}]})),
        );
        let e = r.list_livestreams().await.unwrap_err();
        assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");
        assert!(e.to_string().contains("Realtime"), "{e}");
    }
    fake.set(
        &route,
        Reply::json(
            json!({"success": false, "errors": [{"code": 7003, "message": "Could not route"}]}),
        ),
    );
    let e = r.list_livestreams().await.unwrap_err();
    assert_eq!(e.to_string(), "Cloudflare RealtimeKit: Could not route");
    fake.set(&route, Reply::html(522));
    assert!(matches!(
        r.list_livestreams().await.unwrap_err(),
        ProviderError::Html { status: 522, .. }
    ));
    fake.set(&route, Reply::text(200, "upstream connect error"));
    assert!(matches!(
        r.list_livestreams().await.unwrap_err(),
        ProviderError::NotJson { .. }
    ));
    fake.set(
        &route,
        Reply::json(json!({"success": true})).delay(Duration::from_secs(2)),
    );
    assert!(matches!(
        r.list_livestreams().await.unwrap_err(),
        ProviderError::Timeout { .. }
    ));
    fake.set(
        &route,
        Reply::json_status(
            500,
            json!({"success": false, "errors": [{"message": "Internal"}]}),
        ),
    );
    assert!(matches!(
        r.list_livestreams().await.unwrap_err(),
        ProviderError::Status { status: 500, .. }
    ));
}

// ---------------------------------------------------------------- secrets

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn keys_never_reach_logs_or_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global, not `set_default`: tracing caches per-callsite interest, and
    // with a thread-local subscriber the tests running in parallel threads
    // can make it miss events. Globally it also sees every other test's logs.
    tracing::subscriber::set_global_default(subscriber).expect("only this test sets a subscriber");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let shown: Vec<String> = rt.block_on(async {
        let fake = FakeProvider::start().await;
        let mut shown = Vec::new();
        let mut record = |r: Result<String, ProviderError>| match r {
            Ok(s) => shown.push(s),
            Err(e) => shown.push(format!("{e} | {e:?} | {}", e.user_hint())),
        };
        let (j, k, kit, r) = (jkt(&fake), konbini(&fake), kitkot(&fake), rtk(&fake));
        record(Ok(format!("{j:?} {k:?} {kit:?} {r:?}")));

        // Successes.
        fake.set("GET /api/jkt48/live", Reply::json(json!([idn_entry("Fritzy", json!(1)), "junk"])));
        record(j.live().await.map(|v| format!("{v:?}")));
        fake.set("GET /v1/tiktok/users/khaby.lame/live", Reply::json(konbini_live()).header("X-Credits-Remaining", "5"));
        record(k.user_live("khaby.lame").await.map(|v| format!("{v:?}")));
        fake.set("GET /api/live/join", Reply::json(kitkot_join()));
        fake.set("GET /api/live/leave", Reply::html(500));
        record(kit.room("123", None).await.map(|v| format!("{v:?}")));
        fake.set(&format!("GET /client/v4{RTK}/livestreams"), Reply::json(json!({"success": true, "data": [livestream_json("a", "LIVE")]})));
        record(r.list_livestreams().await.map(|v| format!("{v:?}")));
        fake.set(&format!("POST /client/v4{RTK}/livestreams"), Reply::json_status(201, json!({"success": true, "data": livestream_json("b", "INVOKED")})));
        record(r.create_livestream("x").await.map(|v| format!("{v:?}")));

        // Failures of every kind, some bodies echoing the provider's own keys back.
        let replies = |keys: &[&str]| {
            let echo = format!("bad key {} (see http://x/?apikey={})", keys.join(" "), keys[0]);
            vec![
                Reply::html(502),
                Reply::text(200, echo.clone()),
                Reply::json_status(401, json!({"message": echo})),
                Reply::json_status(402, json!({"errors": [{"message": echo}]})),
                Reply::json_status(500, json!({"errors": [{"message": echo}]})),
                Reply::json(json!({"success": false, "code": 500, "msg": echo, "errors": [{"message": echo}]})),
                Reply::json(json!([])).delay(Duration::from_secs(2)),
            ]
        };
        for reply in replies(&[JKT_KEY]) {
            fake.set("GET /api/jkt48/live", reply);
            record(j.live().await.map(|v| format!("{v:?}")));
        }
        for reply in replies(&[KON_KEY]) {
            fake.set("GET /v1/tiktok/users/khaby.lame/live", reply);
            record(k.user_live("khaby.lame").await.map(|v| format!("{v:?}")));
        }
        for reply in replies(&[KIT_KEY, KIT_SESSION]) {
            fake.set("GET /api/live/join", reply.clone());
            fake.set("GET /api/live/leave", reply);
            record(kit.room("123", None).await.map(|v| format!("{v:?}")));
        }
        for reply in replies(&[CF_TOKEN]) {
            fake.set(&format!("GET /client/v4{RTK}/livestreams/a"), reply);
            record(r.get_livestream("a").await.map(|v| format!("{v:?}")));
        }
        // Nothing listening: a connect error carries reqwest's text.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = Jkt48ConnectConfig { api_key: Secret::new(JKT_KEY), base_url: url::Url::parse(&format!("http://127.0.0.1:{dead}/")).unwrap(), interval: INTERVAL, calls_per_month: None };
        record(Jkt48Connect::new(client(), cfg).live().await.map(|v| format!("{v:?}")));
        shown
    });

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("provider request"), "the capture works: {log}");
    assert!(log.contains("skipping malformed live entry"));
    assert!(log.contains("credits are running low"));
    assert!(log.contains("leaving the kitkot room failed"));
    for secret in ALL_SECRETS {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        for s in &shown {
            assert!(!s.contains(secret), "{secret} shown: {s}");
        }
    }
    assert!(
        shown.iter().any(|s| s.contains("could not connect")),
        "{shown:?}"
    );
    // The echoes were exercised and scrubbed, not merely absent.
    assert!(
        shown.iter().any(|s| s.contains("bad key [redacted]")),
        "{shown:?}"
    );
    assert!(log.contains("bad key [redacted]"), "{log}");
}

#[tokio::test]
async fn jkt48_calendar_reads_its_four_endpoints_with_the_key_and_paging_and_a_refused_key_is_unauthorized(
) {
    let fake = FakeProvider::start().await;
    let cal = jkt(&fake);
    fake.set(
        "GET /api/jkt48/theater",
        Reply::json(
            json!({"theater": [{"id": "2963", "title": "Cara Meminum Ramune",
            "date": "2025-07-03T12:00:00.000Z", "seitansai": [{"name": "Gita"}]}],
            "page": 2, "perpage": 5, "total_count": 1}),
        ),
    );
    fake.set(
        "GET /api/jkt48/birthday",
        Reply::json(json!([{"name": "Erine", "birthdate": "2007-08-21",
            "next_birthday": "2025-08-21 00:00:00", "age_after_birthday": 18}])),
    );
    fake.set(
        "GET /api/jkt48/news",
        Reply::json(json!({"news": [{"id": "1926", "title": "Pengumuman"}]})),
    );
    fake.set(
        "GET /api/jkt48/events",
        Reply::json(json!([{"id": "e1", "title": "Fest", "url": "https://jkt48.com/calendar"}])),
    );
    let shows = cal.theater(2, 5).await.unwrap();
    assert_eq!(shows[0].seitansai[0].name, "Gita");
    assert_eq!(cal.birthdays().await.unwrap()[0].turns, Some(18));
    assert_eq!(cal.news(1, 10).await.unwrap()[0].id, "1926");
    assert_eq!(cal.events().await.unwrap()[0].title, "Fest");
    let theater = fake.requests_to("GET /api/jkt48/theater");
    assert_eq!(theater.len(), 1);
    assert_eq!(theater[0].query.get("page").map(String::as_str), Some("2"));
    assert_eq!(
        theater[0].query.get("perpage").map(String::as_str),
        Some("5")
    );
    for path in ["theater", "birthday", "news", "events"] {
        let reqs = fake.requests_to(&format!("GET /api/jkt48/{path}"));
        assert_eq!(reqs.len(), 1, "{path}");
        assert_eq!(
            reqs[0].query.get("apikey").map(String::as_str),
            Some(JKT_KEY)
        );
    }

    fake.set(
        "GET /api/jkt48/news",
        Reply::json_status(403, json!({"status": false, "message": "Invalid API Key"})),
    );
    let err = cal.news(1, 10).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Unauthorized { status: 403, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains(JKT_KEY), "{err}");
}
