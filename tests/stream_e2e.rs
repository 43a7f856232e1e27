//! `/stream` end to end against the fake Discord and a fake Cloudflare API
//! whose routes are checked against the RealtimeKit OpenAPI subset; the
//! stream key stays ephemeral and out of every log line; a followed
//! livestream going LIVE → IDLE gets an announcement and its end edit.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair::store::NewSubscription;
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{Invoker, CHANNEL_ID, GUILD_ID};
use support::fake_providers::{FakeProvider, Reply};
use support::world::World;

const T: Duration = Duration::from_secs(20);
const KEY: &str = "SK-STREAM-KEY-SECRET-123";
const ACC: &str = "acc123";
const APP: &str = "app456";

fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    support::bot::captured_logs()
}

fn base() -> String {
    format!("/accounts/{ACC}/realtime/kit/{APP}")
}

fn livestream(id: &str, status: &str) -> Value {
    json!({
        "id": id, "name": format!("Show {id}"), "status": status, "disabled": "false",
        "meeting_id": "meet-1", "ingest_server": "rtmps://live.cf.test:443/live/",
        "stream_key": KEY, "playback_url": format!("https://play.cf.test/{id}.m3u8"),
        "created_at": "2026-11-24T10:00:00.000Z", "updated_at": "2026-11-24T10:00:00.000Z"
    })
}

/// Every request the fake Cloudflare got must be an operation of the
/// RealtimeKit OpenAPI document.
fn assert_cloudflare_routes(cf: &FakeProvider) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cloudflare-realtimekit.openapi.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let ops: Vec<(String, Vec<String>)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            let segs: Vec<String> = p.trim_matches('/').split('/').map(String::from).collect();
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), segs.clone()))
        })
        .collect();
    for r in cf.requests() {
        let segs: Vec<&str> = r.path.trim_matches('/').split('/').collect();
        let known = ops.iter().any(|(m, t)| {
            *m == r.method
                && t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(a, b)| a.starts_with('{') || a == b)
        });
        assert!(
            known,
            "{} {} is not a documented RealtimeKit operation",
            r.method, r.path
        );
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some("Bearer CF-TOKEN-SECRET")
        );
    }
}

/// The fake Cloudflare (one idle livestream) wired for ACC/APP, the dev
/// and operator guild set, the store open; the bot started.
async fn world() -> World {
    let mut w = World::builder()
        .cloudflare()
        .var("CLOUDFLARE_ACCOUNT_ID", ACC)
        .var("REALTIMEKIT_APP_ID", APP)
        .var("DEV_GUILD_ID", GUILD_ID)
        .var("OPERATOR_GUILD_IDS", GUILD_ID)
        .channels(&[CHANNEL_ID, 61])
        .store()
        .start()
        .await;
    w.cf.set(
        &format!("GET {}/livestreams", base()),
        Reply::json(json!({"success": true, "data": [livestream("ls-1", "IDLE")]})),
    );
    w.start_bot().await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_commands_end_to_end() {
    let mut w = world().await;
    let who = Invoker::default();

    // create: ephemeral, with key, ingest and playback; key never logged.
    w.cf.set(
        &format!("POST {}/livestreams", base()),
        Reply::json_status(
            201,
            json!({"success": true, "data": livestream("ls-new", "IDLE")}),
        ),
    );
    let p = w.discord.subcommand(
        "stream",
        "create",
        json!([{"name": "name", "type": 3, "value": "Theater"}]),
        &who,
    );
    let cb = w.discord.callback(&p, T).await.body.unwrap();
    assert_eq!(cb["data"]["flags"], 64, "deferred ephemerally");
    let a = w.discord.answer(&p, T).await;
    let text = a.to_string();
    assert!(
        text.contains(KEY) && text.contains("rtmps://live.cf.test") && text.contains("ls-new.m3u8"),
        "{text}"
    );
    assert!(text.contains("OBS"));
    let created = w.cf.requests_to(&format!("{}/livestreams", base()));
    assert!(created.iter().any(|r| r.method == "POST"));

    // list: statuses, unknown ones kept.
    w.cf.set(
        &format!("GET {}/livestreams", base()),
        Reply::json(json!({"success": true, "data": [livestream("ls-1", "LIVE"), livestream("ls-2", "PAUSED")]})),
    );
    let p = w.discord.subcommand("stream", "list", json!([]), &who);
    let a = w.discord.answer(&p, T).await;
    let text = a.to_string();
    assert!(
        text.contains("LIVE") && text.contains("PAUSED") && text.contains("ls-2"),
        "{text}"
    );
    assert!(!text.contains(KEY), "the list never shows keys");

    // status: session numbers that arrive as strings.
    w.cf.set(
        &format!("GET {}/livestreams/ls-1", base()),
        Reply::json(json!({"success": true, "data": {"livestream": livestream("ls-1", "LIVE"), "session": null}})),
    );
    w.cf.set(
        &format!("GET {}/livestreams/ls-1/active-livestream-session", base()),
        Reply::json(json!({"success": true, "data": {"livestream": livestream("ls-1", "LIVE"), "session": {
            "id": "s1", "started_time": "2026-11-24T10:00:00.000Z", "ingest_seconds": "3900", "viewer_seconds": "7260"
        }}})),
    );
    let p = w.discord.subcommand(
        "stream",
        "status",
        json!([{"name": "id", "type": 3, "value": "ls-1"}]),
        &who,
    );
    let text = w.discord.answer(&p, T).await.to_string();
    assert!(
        text.contains("1 h 5 min") && text.contains("2 h 1 min"),
        "{text}"
    );

    // unknown id: a clear "no such livestream".
    w.cf.set(
        &format!("GET {}/livestreams/nope", base()),
        Reply::status(
            404,
            r#"{"success":false,"errors":[{"message":"not found"}]}"#,
        ),
    );
    let p = w.discord.subcommand(
        "stream",
        "status",
        json!([{"name": "id", "type": 3, "value": "nope"}]),
        &who,
    );
    let text = w.discord.answer(&p, T).await.to_string();
    assert!(text.contains("No such livestream"), "{text}");

    // stop: confirm first, then stop.
    w.cf.set(
        &format!("POST {}/meetings/meet-1/active-livestream/stop", base()),
        Reply::json(json!({"success": true, "data": {"message": "Stopped"}})),
    );
    let p = w.discord.subcommand(
        "stream",
        "stop",
        json!([{"name": "meeting_id", "type": 3, "value": "meet-1"}]),
        &who,
    );
    let cb = w.discord.callback(&p, T).await.body.unwrap();
    assert_eq!(cb["data"]["flags"], 64);
    assert_eq!(
        w.cf.hits(&format!(
            "{}/meetings/meet-1/active-livestream/stop",
            base()
        )),
        0,
        "nothing stopped before the confirm"
    );
    let confirm = cb["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = w.discord.button(&confirm, 1, &who);
    let _ = w.discord.callback(&b, T).await;
    let token = b.token.clone();
    let edit = w
        .discord
        .wait_request(T, "the stop result", |r| {
            r.method == "PATCH" && r.path.contains(&token)
        })
        .await;
    assert!(edit.body.unwrap()["content"]
        .as_str()
        .unwrap()
        .contains("Stopped the livestream"));
    assert_eq!(
        w.cf.hits(&format!(
            "{}/meetings/meet-1/active-livestream/stop",
            base()
        )),
        1
    );

    // stats: counts and hours/minutes from strings.
    w.cf.set(
        &format!("GET {}/analytics/livestreams/overall", base()),
        Reply::json(json!({"success": true, "data": {"count": "4", "total_ingest_seconds": "5400", "total_viewer_seconds": 90061}})),
    );
    let p = w.discord.subcommand(
        "stream",
        "stats",
        json!([{"name": "days", "type": 4, "value": 7}]),
        &who,
    );
    let text = w.discord.answer(&p, T).await.to_string();
    assert!(
        text.contains("last 7 days") && text.contains("1 h 30 min") && text.contains("25 h 1 min"),
        "{text}"
    );

    // A token without Realtime permission.
    w.cf.set(
        &format!("GET {}/analytics/livestreams/overall", base()),
        Reply::status(
            403,
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#,
        ),
    );
    let p = w.discord.subcommand("stream", "stats", json!([]), &who);
    let text = w.discord.answer(&p, T).await.to_string();
    assert!(text.contains("lacks Realtime permission"), "{text}");

    // Non-admins are refused.
    let member = Invoker {
        permissions: 0,
        ..Invoker::default()
    };
    let p = w.discord.subcommand("stream", "list", json!([]), &member);
    let cb = w.discord.callback(&p, T).await.body.unwrap();
    assert!(
        cb["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Manage Server"),
        "{cb}"
    );

    assert_cloudflare_routes(&w.cf);
    w.discord.assert_spec_clean();
    // No public message carries the key.
    for m in w.discord.all_messages() {
        assert!(!m.body.to_string().contains(KEY));
    }
    w.stop_bot().await;
    let log = String::from_utf8_lossy(&logs().lock().unwrap()).to_string();
    assert!(log.len() > 1000, "logs were captured");
    for secret in [KEY, "CF-TOKEN-SECRET", support::bot::TOKEN] {
        if let Some(line) = log.lines().find(|l| l.contains(secret)) {
            panic!(
                "{secret} leaked into the logs: {}",
                &line[..line.len().min(600)]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_livestream_live_then_idle_is_announced_and_edited() {
    let mut w = world().await;
    w.store()
        .add_subscription(NewSubscription {
            guild_id: GUILD_ID,
            channel_id: 61,
            realtimekit_id: Some("ls-1".into()),
            created_by: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let route = format!("GET {}/livestreams", base());
    w.cf.set(&route, Reply::json(json!({"success": true, "data": [livestream("ls-1", "LIVE"), livestream("ls-2", "LIVE")]})));
    w.discord
        .wait_for(T, "the LIVE announcement", |d| d.messages(61).len() == 1)
        .await;
    let m = &w.discord.messages(61)[0].body;
    assert!(
        m.to_string().contains("https://play.cf.test/ls-1.m3u8"),
        "{m}"
    );
    assert!(!m.to_string().contains(KEY));
    w.cf.set(
        &route,
        Reply::json(json!({"success": true, "data": [livestream("ls-1", "IDLE")]})),
    );
    w.discord
        .wait_for(T, "the end edit", |d| {
            d.messages(61).first().is_some_and(|m| m.edits == 1)
        })
        .await;
    assert_eq!(w.discord.messages(61).len(), 1, "ls-2 is not followed here");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cloudflare_credentials_the_commands_say_so() {
    let w = World::builder()
        .var("DEV_GUILD_ID", GUILD_ID)
        .var("OPERATOR_GUILD_IDS", GUILD_ID)
        .start()
        .await;
    let discord = &w.discord;
    let bot = TestBot::start(discord, &w.vars).await;
    let p = discord.subcommand("stream", "list", json!([]), &Invoker::default());
    let text = discord.private_text(&p, T).await;
    assert!(text.contains("not configured"), "{text}");
    bot.stop().await;
}
