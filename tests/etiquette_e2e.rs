//! Discord etiquette the fake now checks: admin replies defer before any
//! REST call, @everyone is no ping role, Read Message History is asked for,
//! permissions come from roles and channel overwrites, late or repeated
//! interaction answers are refused (so are answers with another
//! interaction's token or a callback type the interaction does not take,
//! follow-ups before the callback or after the token's 15 minutes, and
//! pushes of commands never registered), and a gateway frame serenity
//! would drop is caught in the fake itself.

mod support;

use std::time::{Duration, Instant};

use onair::store::NewSubscription;
use serde_json::json;
use support::bot::TestBot;
use support::discord::{
    ChannelSpec, FakeDiscord, GuildSpec, Invoker, APP_ID, CHANNEL_ID, GUILD_ID, SEND_MESSAGES,
};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const READ_MESSAGE_HISTORY: u64 = 1 << 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_defers_refuses_everyone_and_asks_for_history() {
    let mut g = GuildSpec::new(GUILD_ID, &[CHANNEL_ID, 61, 62]);
    g.channels[2] = ChannelSpec {
        id: 62,
        name: "no-history".into(),
        deny_everyone: READ_MESSAGE_HISTORY,
    };
    let w = World::builder().guild(g).start().await;
    let (discord, vars) = (&w.discord, &w.vars);
    let bot = TestBot::start(discord, vars).await;
    let who = Invoker::default();

    // @everyone (the role whose id is the guild's) is refused, privately.
    let p = discord.subscribe_command(61, &[], Some((GUILD_ID, true)), &who);
    let text = discord.private_text(&p, T).await;
    assert!(text.contains("@everyone"), "{text}");

    // A good subscribe defers (privately) before asking Discord anything.
    let p = discord.subscribe_command(61, &[], None, &who);
    let text = discord.answer_text(&p, T).await;
    assert!(text.contains("Saved subscription"), "{text}");
    let requests = discord.requests();
    let callback = requests
        .iter()
        .position(|r| r.path.contains(&format!("/interactions/{}/", p.id)))
        .expect("callback");
    assert_eq!(requests[callback].body.as_ref().unwrap()["type"], 5);
    assert_eq!(
        requests[callback].body.as_ref().unwrap()["data"]["flags"],
        64
    );
    let first_rest = requests
        .iter()
        .position(|r| r.method == "GET" && r.path.starts_with("/api/v10/guilds/"))
        .expect("permission lookup");
    assert!(callback < first_rest, "deferred before the REST calls");

    // Without Read Message History the bot could not find its own post
    // after a lost answer: it says so, and saves nothing.
    let p = discord.subscribe_command(62, &[], None, &who);
    let text = discord.answer_text(&p, T).await;
    assert!(text.contains("Read Message History"), "{text}");
    let store = onair::store::connect(&vars["DATABASE_URL"]).await.unwrap();
    assert_eq!(store.count_subscriptions().await.unwrap(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrites_decide_permissions_and_a_forbidden_channel_is_disabled() {
    let mut g = GuildSpec::new(GUILD_ID, &[CHANNEL_ID, 71]);
    g.channels[1] = ChannelSpec {
        id: 71,
        name: "read-only".into(),
        deny_everyone: SEND_MESSAGES,
    };
    let w = World::builder().jkt().guild(g).store().start().await;
    let (discord, jkt, vars, store) = (&w.discord, &w.jkt, &w.vars, w.store());
    // Saved while it could still post (as if the overwrite came later).
    let sub = store
        .add_subscription(NewSubscription {
            guild_id: GUILD_ID,
            channel_id: 71,
            created_by: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let bot = TestBot::start(discord, vars).await;
    jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([{
            "name": "Fritzy", "url_key": "jkt48_fritzy", "room_id": 510011,
            "started_at": "2025-04-06T12:03:58.000Z", "type": "idn"
        }])),
    );
    let deadline = Instant::now() + T;
    let reason = loop {
        let s = store
            .get_subscription(GUILD_ID, sub.id)
            .await
            .unwrap()
            .unwrap();
        if let Some(r) = s.disabled_reason {
            break r;
        }
        assert!(Instant::now() < deadline, "never disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reason.contains("50013"), "{reason}");
    assert!(discord.messages(71).is_empty());
    bot.stop().await;
}

/// Register `names` as the app's global commands (`None`) or one guild's,
/// as the bot does at start: the fake pushes only registered commands.
async fn register(discord: &FakeDiscord, guild: Option<u64>, names: &[&str]) {
    let scope = match guild {
        Some(g) => format!("guilds/{g}/"),
        None => String::new(),
    };
    let body: Vec<serde_json::Value> = names
        .iter()
        .map(|n| json!({"name": n, "description": "A command", "type": 1}))
        .collect();
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v10/applications/{APP_ID}/{scope}commands",
            discord.api_url()
        ))
        .header("user-agent", "DiscordBot (test, 1)")
        .header("authorization", "Bot test")
        .json(&body)
        .send()
        .await
        .expect("registration reaches the fake");
    assert_eq!(r.status(), 200);
}

/// The fake's answer to a callback of `callback_type` for interaction
/// `id` with `token`: (status, body).
async fn callback(
    discord: &FakeDiscord,
    id: u64,
    token: &str,
    callback_type: u64,
) -> (u16, serde_json::Value) {
    let data = if callback_type == 8 {
        json!({"choices": []})
    } else {
        json!({"content": "hi"})
    };
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v10/interactions/{id}/{token}/callback",
            discord.api_url()
        ))
        .header("user-agent", "DiscordBot (test, 1)")
        .json(&json!({"type": callback_type, "data": data}))
        .send()
        .await
        .expect("callback reaches the fake");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// The fake's answer to `method` on `/webhooks/{app}/{token}{rest}` (a
/// follow-up, or `@original`): (status, Discord's error code, if any).
async fn interaction_webhook(
    discord: &FakeDiscord,
    method: reqwest::Method,
    app: u64,
    token: &str,
    rest: &str,
) -> (u16, Option<u64>) {
    let r = reqwest::Client::new()
        .request(
            method,
            format!("{}/api/v10/webhooks/{app}/{token}{rest}", discord.api_url()),
        )
        .header("user-agent", "DiscordBot (test, 1)")
        .json(&json!({"content": "more"}))
        .send()
        .await
        .expect("request reaches the fake");
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, body["code"].as_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_repeated_interaction_answers_are_refused() {
    let discord = FakeDiscord::start().await;
    register(&discord, None, &["help"]).await;
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    assert_eq!(callback(&discord, p.id, &p.token, 4).await.0, 204);
    let (status, again) = callback(&discord, p.id, &p.token, 4).await;
    assert_eq!(status, 400);
    assert_eq!(again["code"], 40060);
    let late = discord.slash("help", json!([]), None, &Invoker::default());
    discord.age_interaction(late.id, support::discord::INTERACTION_DEADLINE);
    let (status, r) = callback(&discord, late.id, &late.token, 4).await;
    assert_eq!(status, 404);
    assert_eq!(r["code"], 10062);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_for_an_unknown_id_or_with_another_interactions_token_is_10062() {
    let discord = FakeDiscord::start().await;
    register(&discord, None, &["help"]).await;
    let a = discord.slash("help", json!([]), None, &Invoker::default());
    let b = discord.slash("help", json!([]), None, &Invoker::default());
    let (status, r) = callback(&discord, b.id + 1000, &a.token, 4).await;
    assert_eq!((status, r["code"].as_u64()), (404, Some(10062)), "{r}");
    let (status, r) = callback(&discord, a.id, &b.token, 4).await;
    assert_eq!((status, r["code"].as_u64()), (404, Some(10062)), "{r}");
    // The refused pair acknowledged nothing: each answers with its own.
    assert_eq!(callback(&discord, a.id, &a.token, 4).await.0, 204);
    assert_eq!(callback(&discord, b.id, &b.token, 4).await.0, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_need_the_apps_id_a_handed_out_token_and_an_acknowledged_interaction() {
    use reqwest::Method;
    let discord = FakeDiscord::start().await;
    register(&discord, None, &["help"]).await;
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    let unknown = (404, Some(10015));
    // Not acknowledged yet: no follow-up, no `@original`.
    for (method, rest) in [
        (Method::POST, ""),
        (Method::PATCH, "/messages/@original"),
        (Method::GET, "/messages/@original"),
        (Method::DELETE, "/messages/@original"),
    ] {
        let r = interaction_webhook(&discord, method.clone(), APP_ID, &p.token, rest).await;
        assert_eq!(r, unknown, "{method} {rest} before the callback");
    }
    assert_eq!(callback(&discord, p.id, &p.token, 5).await.0, 204);
    // A token the fake never handed out, or another application's id.
    let r = interaction_webhook(&discord, Method::POST, APP_ID, "made-up-token", "").await;
    assert_eq!(r, unknown, "a made-up token");
    let r = interaction_webhook(&discord, Method::POST, APP_ID + 1, &p.token, "").await;
    assert_eq!(r, unknown, "another application's id");
    let r = interaction_webhook(
        &discord,
        Method::PATCH,
        APP_ID + 1,
        &p.token,
        "/messages/@original",
    )
    .await;
    assert_eq!(r, unknown, "another application's id on @original");
    // Acknowledged, with the app's id and its own token: accepted.
    let r = interaction_webhook(
        &discord,
        Method::PATCH,
        APP_ID,
        &p.token,
        "/messages/@original",
    )
    .await;
    assert_eq!(r.0, 200);
    let r = interaction_webhook(&discord, Method::POST, APP_ID, &p.token, "").await;
    assert_eq!(r.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_token_older_than_fifteen_minutes_is_401_50027() {
    use reqwest::Method;
    let discord = FakeDiscord::start().await;
    register(&discord, None, &["help"]).await;
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    assert_eq!(callback(&discord, p.id, &p.token, 5).await.0, 204);
    discord.age_interaction(
        p.id,
        support::discord::INTERACTION_TOKEN_LIFETIME - Duration::from_secs(5),
    );
    let r = interaction_webhook(&discord, Method::POST, APP_ID, &p.token, "").await;
    assert_eq!(r.0, 200, "still inside the 15 minutes");
    discord.age_interaction(p.id, Duration::from_secs(6));
    let expired = (401, Some(50027));
    let r = interaction_webhook(&discord, Method::POST, APP_ID, &p.token, "").await;
    assert_eq!(r, expired, "a follow-up");
    let r = interaction_webhook(
        &discord,
        Method::PATCH,
        APP_ID,
        &p.token,
        "/messages/@original",
    )
    .await;
    assert_eq!(r, expired, "an @original edit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_type_the_interaction_type_does_not_take_is_50035_naming_type() {
    let discord = FakeDiscord::start().await;
    register(&discord, None, &["help", "live"]).await;
    let who = Invoker::default();
    let refused = |(status, body): (u16, serde_json::Value)| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], 50035, "{body}");
        assert!(
            body["errors"]["type"]["_errors"][0]["code"].is_string(),
            "{body}"
        );
    };
    // A command: no autocomplete result, no update of a message. (Bodies
    // the OpenAPI document refuses anyway, such as the deprecated type 10,
    // are left to `spec.rs`.)
    let p = discord.slash("help", json!([]), None, &who);
    for t in [8, 6, 7] {
        refused(callback(&discord, p.id, &p.token, t).await);
    }
    assert_eq!(callback(&discord, p.id, &p.token, 4).await.0, 204);
    // Autocomplete: only its result.
    let focused = json!([{"name": "member", "type": 3, "value": "", "focused": true}]);
    let p = discord.autocomplete("live", focused.clone(), &who);
    for t in [4, 5, 6] {
        refused(callback(&discord, p.id, &p.token, t).await);
    }
    assert_eq!(callback(&discord, p.id, &p.token, 8).await.0, 204);
    // A button: no autocomplete result.
    let p = discord.button("page:1", 99, &who);
    refused(callback(&discord, p.id, &p.token, 8).await);
    assert_eq!(callback(&discord, p.id, &p.token, 6).await.0, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_a_command_that_was_never_registered_there_panics() {
    let discord = FakeDiscord::start().await;
    let who = Invoker::default();
    let other = Invoker {
        guild_id: GUILD_ID + 1,
        ..Invoker::default()
    };
    let panics =
        |push: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(push)).is_err();
    assert!(panics(&|| {
        discord.slash("help", json!([]), None, &who);
    }));
    register(&discord, None, &["help"]).await;
    register(&discord, Some(GUILD_ID), &["stream"]).await;
    assert!(!panics(&|| {
        discord.slash("help", json!([]), None, &other);
    }));
    assert!(!panics(&|| {
        discord.subcommand("stream", "list", json!([]), &who);
    }));
    // Registered in one guild only: Discord sends it nowhere else.
    assert!(panics(&|| {
        discord.subcommand("stream", "list", json!([]), &other);
    }));
    assert!(panics(&|| {
        discord.autocomplete("live", json!([]), &who);
    }));
    // A later bulk overwrite replaces the names.
    register(&discord, None, &["live"]).await;
    assert!(panics(&|| {
        discord.slash("help", json!([]), None, &other);
    }));
    // On purpose: a registration Discord still has from an older build.
    assert!(!panics(&|| {
        discord.slash_stale("help", json!([]), &other);
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_serenity_would_drop_is_caught_by_the_fake() {
    let discord = FakeDiscord::start().await;
    let bad = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        discord.dispatch("INTERACTION_CREATE", json!({"id": "not a snowflake"}));
    }));
    assert!(bad.is_err(), "a malformed frame must not reach the bot");
}

/// Seven members go live at once in one subscribed channel: the fake's
/// per-channel limit is 5 messages / 5 s, and its answers say how much of
/// the bucket is left. The bot waits for the reset instead of hitting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_headers_are_honoured_before_a_429() {
    let w = World::builder()
        .jkt()
        .channels(&[CHANNEL_ID, 81])
        .subscribe(&[81])
        .start()
        .await;
    let (discord, jkt, vars) = (&w.discord, &w.jkt, &w.vars);
    let bot = TestBot::start(discord, vars).await;
    let members: Vec<serde_json::Value> = (0..7)
        .map(|i| {
            json!({"name": format!("Member {i}"), "url_key": format!("m{i}"), "room_id": 600 + i,
                   "started_at": "2025-04-06T12:00:00.000Z", "type": "idn"})
        })
        .collect();
    jkt.set("GET /api/jkt48/live", Reply::json(json!(members)));
    discord
        .wait_for(T, "seven announcements", |d| d.messages(81).len() == 7)
        .await;
    assert_eq!(
        discord.rate_limited_count(),
        0,
        "waited for the bucket instead of learning from a 429"
    );
    let times: Vec<Instant> = discord.messages(81).iter().map(|m| m.at).collect();
    assert!(
        times[5].duration_since(times[0]) >= Duration::from_millis(4500),
        "the sixth waited for the bucket's reset"
    );
    bot.stop().await;
}

/// The connection drops; a command sent while the bot was away is
/// replayed on RESUME, and answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_replays_what_the_bot_missed() {
    let w = World::builder().start().await;
    let discord = &w.discord;
    let bot = TestBot::start(discord, &w.vars).await;
    // Answered once, before the drop: the replay must not repeat it.
    let before = discord.slash("help", json!([]), None, &Invoker::default());
    discord.callback(&before, T).await;
    discord.drop_gateway_connections();
    let missed = discord.slash("help", json!([]), None, &Invoker::default());
    discord.wait_resumed(1, T).await;
    let a = discord.answer(&missed, T).await;
    assert!(a.to_string().contains("onair"), "{a}");
    assert_eq!(
        discord.identified_count(),
        1,
        "resumed, not identified again"
    );
    let answers_before = discord.request_count(|r| {
        r.path
            == format!(
                "/api/v10/interactions/{}/{}/callback",
                before.id, before.token
            )
    });
    assert_eq!(answers_before, 1, "nothing delivered twice");
    bot.stop().await;
}
