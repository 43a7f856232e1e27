//! The real bot against the fake Discord and fake providers: `/live`,
//! `/tiktok`, `/help`, paging buttons, autocomplete, stale providers.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::Invoker;
use support::fake_providers::{FakeProvider, Reply};
use support::world::World;

const T: Duration = Duration::from_secs(15);

fn member(i: usize, kind: &str) -> Value {
    json!({
        "name": format!("Member {i:02}"), "img": format!("https://cdn.test/thumb{i}.jpg"),
        "img_alt": format!("https://cdn.test/avatar{i}.webp"),
        "url_key": format!("jkt48_m{i}"), "slug": format!("live-{i}"),
        "room_id": 500000 + i, "chat_room_id": null,
        "started_at": "2025-04-06T12:03:58.000Z",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": format!("https://cdn.test/{i}.m3u8")}],
        "type": kind
    })
}

/// JKT48Connect (answering `live`) and KonbiniAPI wired, the dev guild
/// set; the bot started, its commands registered in the dev guild and its
/// first polls in.
async fn world(live: Value) -> World {
    let mut w = World::builder()
        .jkt()
        .konbini()
        // Cooldowns have their own tests (budget_e2e); these ask many times.
        .var("TIKTOK_COOLDOWN_USER_SECS", 0)
        .var("TIKTOK_COOLDOWN_GUILD_SECS", 0)
        .var("DEV_GUILD_ID", support::discord::GUILD_ID)
        .start()
        .await;
    w.jkt.set("GET /api/jkt48/live", Reply::json(live));
    w.start_bot().await;
    // Registration happened, in the dev guild.
    let reg = w
        .discord
        .wait_request(T, "command registration", |r| {
            r.method == "PUT" && r.path.ends_with("/commands")
        })
        .await;
    assert!(reg.path.contains("/guilds/"), "{}", reg.path);
    // First poll landed.
    jkt_wait(&w.jkt).await;
    w
}

async fn jkt_wait(jkt: &FakeProvider) {
    let deadline = tokio::time::Instant::now() + T;
    while jkt.hits("/api/jkt48/live") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bot never polled JKT48Connect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second poll starts after the first answer is in the snapshot.
    jkt.wait_more_hits("/api/jkt48/live", 1, T).await;
}

fn embeds(answer: &Value) -> Vec<Value> {
    answer["embeds"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_three_streams_answers_with_valid_embeds() {
    let mut w = world(json!([
        member(1, "idn"),
        member(2, "showroom"),
        member(3, "idn")
    ]))
    .await;
    let calls_before = w.jkt.hits("/api/jkt48/live");
    let p = w
        .discord
        .slash("live", json!([]), None, &Invoker::default());
    let answer = w.discord.answer(&p, T).await;
    let es = embeds(&answer);
    assert_eq!(es.len(), 3, "{answer}");
    let content = answer["content"].as_str().unwrap();
    assert!(
        content.contains("3 live now")
            && content.contains("IDN Live 2")
            && content.contains("Showroom 1"),
        "{content}"
    );
    for e in &es {
        assert!(
            e["thumbnail"]["url"]
                .as_str()
                .unwrap()
                .contains("?v=1743941038"),
            "{e}"
        );
        assert!(e["author"]["name"].as_str().unwrap().starts_with("Member"));
        let fields = e["fields"].to_string();
        assert!(fields.contains("<t:1743941038:R>"), "{fields}");
        assert!(fields.contains(".m3u8"), "{fields}");
    }
    // Watch buttons, and no pings.
    assert_eq!(answer["components"][0]["components"][0]["style"], 5);
    assert_eq!(answer["allowed_mentions"]["parse"], json!([]));
    // No provider call on the command path (polls go on in the background
    // at 1/s, so allow at most the poller's own ticks).
    let calls_after = w.jkt.hits("/api/jkt48/live");
    assert!(calls_after - calls_before <= 2);
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_live_is_a_plain_answer_and_filters_work() {
    let mut w = world(json!([member(1, "idn"), member(2, "showroom")])).await;
    let p = w.discord.slash(
        "live",
        json!([{"name": "member", "type": 3, "value": "member 02"}]),
        None,
        &Invoker::default(),
    );
    let a = w.discord.answer(&p, T).await;
    assert_eq!(embeds(&a).len(), 1);
    assert_eq!(embeds(&a)[0]["author"]["name"], "Member 02");

    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    let p = w
        .discord
        .slash("live", json!([]), None, &Invoker::default());
    let a = w.discord.answer(&p, T).await;
    assert!(embeds(&a).is_empty());
    assert_eq!(a["content"], "Nobody is live right now. Check back later!");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_streams_page_with_buttons_only_for_the_invoker() {
    let all: Vec<Value> = (1..=25)
        .map(|i| member(i, if i % 2 == 0 { "showroom" } else { "idn" }))
        .collect();
    let mut w = world(Value::Array(all)).await;
    let who = Invoker::default();
    let p = w.discord.slash("live", json!([]), None, &who);
    let a = w.discord.answer(&p, T).await;
    assert_eq!(embeds(&a).len(), 10);
    assert!(a["content"].as_str().unwrap().contains("Page 1/3"));
    let rows = a["components"].as_array().unwrap();
    let pager = rows.last().unwrap();
    let next_id = pager["components"][1]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        pager["components"][0]["disabled"], true,
        "no previous on page 1"
    );

    // Someone else presses Next: an ephemeral refusal.
    let stranger = Invoker {
        user_id: 1400000000000000999,
        ..Invoker::default()
    };
    let b = w.discord.button(&next_id, 1, &stranger);
    let cb = w.discord.callback(&b, T).await.body.unwrap();
    assert_eq!(cb["type"], 4);
    assert_eq!(cb["data"]["flags"], 64);

    // The invoker presses Next: the message updates to page 2.
    let b = w.discord.button(&next_id, 1, &who);
    let cb = w.discord.callback(&b, T).await.body.unwrap();
    assert_eq!(cb["type"], 7, "{cb}");
    assert_eq!(cb["data"]["embeds"].as_array().unwrap().len(), 10);
    assert!(cb["data"]["content"].as_str().unwrap().contains("Page 2/3"));
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_offers_live_members() {
    let mut w = world(json!([
        member(1, "idn"),
        member(2, "showroom"),
        member(13, "idn")
    ]))
    .await;
    let p = w.discord.autocomplete(
        "live",
        json!([{"name": "member", "type": 3, "value": "1", "focused": true}]),
        &Invoker::default(),
    );
    let cb = w.discord.callback(&p, T).await.body.unwrap();
    assert_eq!(cb["type"], 8, "{cb}");
    let names: Vec<&str> = cb["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Member 01", "Member 13"]);
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_provider_is_named_with_its_age() {
    let mut w = world(json!([member(1, "idn")])).await;
    w.jkt.set("GET /api/jkt48/live", Reply::status(500, "{}"));
    // Two failed polls (1 s, then 2 s of backoff): the data is older than
    // twice the 1 s interval.
    w.jkt.wait_more_hits("/api/jkt48/live", 3, T).await;
    let p = w
        .discord
        .slash("live", json!([]), None, &Invoker::default());
    let a = w.discord.answer(&p, T).await;
    assert_eq!(embeds(&a).len(), 1, "last good data kept");
    let content = a["content"].as_str().unwrap();
    assert!(
        content.contains("JKT48Connect data is") && content.contains(" s old"),
        "{content}"
    );
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_title_is_truncated_and_pings_nobody() {
    let mut m = member(1, "idn");
    m["title"] = json!(format!("@everyone <@&1> {}", "x".repeat(500)));
    m["name"] = json!(format!("@here {}", "n".repeat(300)));
    let mut w = world(json!([m])).await;
    let p = w
        .discord
        .slash("live", json!([]), None, &Invoker::default());
    let a = w.discord.answer(&p, T).await;
    let e = &embeds(&a)[0];
    assert!(e["title"].as_str().unwrap().chars().count() <= 256);
    assert!(e["author"]["name"].as_str().unwrap().chars().count() <= 256);
    assert_eq!(a["allowed_mentions"]["parse"], json!([]));
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

fn konbini_live() -> Value {
    json!({"data": {
        "type": "Video", "url": "https://www.tiktok.com/@khaby.lame/live", "entityId": "7600000000000000001",
        "published": "2026-02-27T18:36:42.000Z", "isLive": true, "viewerCount": 15000,
        "content": "When you realize",
        "attributedTo": {"name": "Khabane Lame", "preferredUsername": "khaby.lame",
            "icon": {"type": "Image", "url": "https://p16.test/avatar.jpeg"}},
        "image": {"type": "Image", "url": "https://p16.test/cover.jpeg"},
        "attachment": [{"type": "Video", "url": ["https://pull.test/stream.m3u8"], "mediaType": "application/x-mpegURL", "name": "hls", "height": 1024, "width": 576}]
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_live_not_live_error_and_slow() {
    let mut w = world(json!([])).await;
    let route = "GET /v1/tiktok/users/khaby.lame/live";
    // Slow upstream: the bot defers first, privately (the answer may turn
    // out to be an error, and a deferral's first follow-up inherits its
    // visibility).
    w.konbini.set(
        route,
        Reply::json(konbini_live()).delay(Duration::from_millis(3500)),
    );
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "@Khaby.Lame"}]),
        None,
        &Invoker::default(),
    );
    let cb = w.discord.callback(&p, T).await;
    assert_eq!(cb.body.as_ref().unwrap()["type"], 5, "deferred");
    assert_eq!(cb.body.as_ref().unwrap()["data"]["flags"], 64, "privately");
    assert!(cb.at.duration_since(p.sent_at) < Duration::from_secs(3));
    let a = w.discord.answer(&p, T).await;
    assert!(a["content"].as_str().unwrap().contains("@khaby.lame"));
    assert!(
        embeds(&a)[0]["fields"].to_string().contains("stream.m3u8"),
        "{a}"
    );

    // Cached: a second ask costs no upstream call.
    let hits = w.konbini.hits("/v1/tiktok/users/khaby.lame/live");
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "khaby.lame"}]),
        None,
        &Invoker::default(),
    );
    let a = w.discord.answer(&p, T).await;
    assert_eq!(embeds(&a).len(), 1);
    assert_eq!(w.konbini.hits("/v1/tiktok/users/khaby.lame/live"), hits);

    // Not live (404) is a normal answer.
    w.konbini.set(
        "GET /v1/tiktok/users/nobody_here/live",
        Reply::status(404, r#"{"errors":[{"message":"not live"}]}"#),
    );
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "nobody_here"}]),
        None,
        &Invoker::default(),
    );
    let a = w.discord.answer(&p, T).await;
    assert_eq!(
        a["content"],
        "**@nobody_here** is not live on TikTok right now."
    );

    // Upstream error: short, ephemeral.
    w.konbini
        .set("GET /v1/tiktok/users/broken/live", Reply::html(502));
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "broken"}]),
        None,
        &Invoker::default(),
    );
    // A quick failure is answered directly, privately.
    let cb = w.discord.callback(&p, T).await.body.unwrap();
    assert_eq!(cb["type"], 4, "{cb}");
    assert_eq!(cb["data"]["flags"], 64, "{cb}");
    assert!(cb["data"]["content"]
        .as_str()
        .unwrap()
        .contains("try again"));
    // A slow failure: deferred privately, the error follows privately.
    w.konbini.set(
        "GET /v1/tiktok/users/slowbroken/live",
        Reply::html(502).delay(Duration::from_millis(2500)),
    );
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "slowbroken"}]),
        None,
        &Invoker::default(),
    );
    let cb = w.discord.callback(&p, T).await.body.unwrap();
    assert_eq!(
        (cb["type"].as_u64(), cb["data"]["flags"].as_u64()),
        (Some(5), Some(64))
    );
    let a = w.discord.answer(&p, T).await;
    assert!(a["content"].as_str().unwrap().contains("try again"), "{a}");

    // A username that cannot be one: explained, no upstream call.
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "https://evil.test/?x=@everyone"}]),
        None,
        &Invoker::default(),
    );
    let text = w.discord.private_text(&p, T).await;
    assert!(text.contains("is not a TikTok username"), "{text}");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_providers_and_version() {
    let mut w = world(json!([member(1, "idn")])).await;
    let p = w
        .discord
        .slash("help", json!([]), None, &Invoker::default());
    let a = w.discord.answer(&p, T).await;
    let text = a.to_string();
    let fields = &a["embeds"][0]["fields"];
    let field = |name: &str| {
        fields
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name))
            .map(|f| f["value"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no {name} field: {text}"))
    };
    assert!(field("JKT48Connect").starts_with("on, data"), "{text}");
    assert_eq!(field("kitkot"), "off");
    assert!(text.contains(env!("CARGO_PKG_VERSION")));
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

/// A command Discord still has registered (from an older build) that this
/// build does not know: a private "just updated, try again" answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_this_build_does_not_know_gets_a_private_try_again_answer() {
    let mut w = world(json!([])).await;
    let p = w
        .discord
        .slash_stale("retired", json!([]), &Invoker::default());
    let text = w.discord.private_text(&p, T).await;
    assert!(text.contains("just been updated"), "{text}");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_is_enriched_with_kitkot_hls_and_leaves_the_room() {
    let w = World::builder().konbini().kitkot().start().await;
    let (discord, konbini, kitkot) = (&w.discord, &w.konbini, &w.kitkot);
    konbini.set(
        "GET /v1/tiktok/users/khaby.lame/live",
        Reply::json(konbini_live()),
    );
    // A real room: empty hls map, the URLs only in the JSON-in-a-string.
    let stream_data = json!({"data": {
        "origin": {"main": {"hls": "https://pull.test/origin.m3u8", "flv": "https://pull.test/origin.flv"}},
        "hd": {"main": {"hls": "https://pull.test/hd.m3u8", "flv": ""}}
    }})
    .to_string();
    kitkot.set(
        "GET /api/live/join",
        Reply::json(
            json!({"code": 200, "msg": "success", "title": "t", "viewers": 10,
            "stream_url": {"hls_pull_url_map": {}, "hls_pull_url": "", "flv_pull_url": {},
                "live_core_sdk_data": {"pull_data": {"stream_data": stream_data}}}}),
        ),
    );
    kitkot.set(
        "GET /api/live/leave",
        Reply::json(json!({"code": 200, "msg": "success"})),
    );
    let bot = TestBot::start(discord, &w.vars).await;
    let p = discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": "khaby.lame"}]),
        None,
        &Invoker::default(),
    );
    let a = discord.answer(&p, T).await;
    let fields = embeds(&a)[0]["fields"].to_string();
    assert!(
        fields.contains("https://pull.test/origin.m3u8")
            && fields.contains("https://pull.test/hd.m3u8"),
        "{fields}"
    );
    let join = &kitkot.requests_to("/api/live/join")[0];
    assert_eq!(
        join.query.get("room_id").map(String::as_str),
        Some("7600000000000000001")
    );
    assert_eq!(
        kitkot.hits("/api/live/leave"),
        1,
        "always leave after joining"
    );
    discord.assert_spec_clean();
    bot.stop().await;
}
