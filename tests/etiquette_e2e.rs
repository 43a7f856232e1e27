//! Discord etiquette the fake now checks: admin replies defer before any
//! REST call, @everyone is no ping role, Read Message History is asked for,
//! permissions come from roles and channel overwrites, late or repeated
//! interaction answers are refused, and a gateway frame serenity would
//! drop is caught in the fake itself.

mod support;

use std::time::{Duration, Instant};

use onair::store::NewSubscription;
use serde_json::json;
use support::bot::TestBot;
use support::discord::{
    ChannelSpec, FakeDiscord, GuildSpec, Invoker, CHANNEL_ID, GUILD_ID, SEND_MESSAGES,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_repeated_interaction_answers_are_refused() {
    let discord = FakeDiscord::start().await;
    let client = reqwest::Client::new();
    let answer = |id: u64, token: &str| {
        client
            .post(format!(
                "{}/api/v10/interactions/{id}/{token}/callback",
                discord.api_url()
            ))
            .header("user-agent", "DiscordBot (test, 1)")
            .json(&json!({"type": 4, "data": {"content": "hi"}}))
            .send()
    };
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    assert_eq!(answer(p.id, &p.token).await.unwrap().status(), 204);
    let again = answer(p.id, &p.token).await.unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["code"],
        40060
    );
    let late = discord.slash("help", json!([]), None, &Invoker::default());
    while late.sent_at.elapsed() <= support::discord::INTERACTION_DEADLINE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = answer(late.id, &late.token).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], 10062);
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
