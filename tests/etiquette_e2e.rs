//! Discord etiquette the fake now checks: admin replies defer before any
//! REST call, @everyone is no ping role, Read Message History is asked for,
//! permissions come from roles and channel overwrites (the bot's roles,
//! overwrites for @everyone, roles and members, in Discord's order, the
//! same as serenity computes them), another user's message cannot be
//! edited, late or repeated interaction answers are refused (so are
//! answers with another interaction's token or a callback type the
//! interaction does not take, follow-ups before the callback or after the
//! token's 15 minutes, and pushes of commands never registered), and a
//! gateway frame serenity would drop is caught in the fake itself.

mod support;

use std::time::{Duration, Instant};

use onair::store::NewSubscription;
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{
    ChannelSpec, FakeDiscord, GuildSpec, Invoker, Overwrite, RoleSpec, ADMINISTRATOR, APP_ID,
    BOT_ID, CHANNEL_ID, EMBED_LINKS, EVERY_PERMISSION, GUILD_ID, MANAGE_GUILD, SEND_MESSAGES,
    USER_ID, VIEW_CHANNEL,
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
        overwrites: vec![],
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
        overwrites: vec![],
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

/// GET `path` on the fake with a bot's credentials: (status, body).
async fn get(discord: &FakeDiscord, path: &str) -> (u16, Value) {
    send(discord, reqwest::Method::GET, path, None).await
}

/// A request to the fake with a bot's credentials: (status, body).
async fn send(
    discord: &FakeDiscord,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/api/v10{path}", discord.api_url()))
        .header("User-Agent", "DiscordBot (x, 1)")
        .header("Authorization", "Bot x");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("the fake answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Channels of the permission guild, each testing one step of Discord's
/// algorithm for a bot whose Send Messages comes from its role SENDER.
const SENDER: u64 = 1900000000000000101;
const BY_ROLE: u64 = 1300000000000000101;
const ROLE_DENIED: u64 = 1300000000000000102;
const MEMBER_ALLOWED: u64 = 1300000000000000103;
const MEMBER_DENIED: u64 = 1300000000000000104;
const PERMS_GUILD: u64 = 1200000000000000101;
const ADMIN_GUILD: u64 = 1200000000000000102;
const ADMIN_ROLE: u64 = 1900000000000000102;
const ADMIN_CH: u64 = 1300000000000000105;

/// A server whose @everyone may not send: the bot sends through its role
/// SENDER in BY_ROLE; ROLE_DENIED denies SENDER Send Messages though
/// @everyone is allowed it there; MEMBER_ALLOWED hides itself from
/// @everyone but lets the bot (and the admin) in by member overwrites;
/// MEMBER_DENIED denies the bot itself though SENDER is allowed there.
fn perms_guild() -> GuildSpec {
    let mut g = GuildSpec::new(
        PERMS_GUILD,
        &[BY_ROLE, ROLE_DENIED, MEMBER_ALLOWED, MEMBER_DENIED],
    )
    .bot_role(RoleSpec::new(SENDER, "Sender").permissions(SEND_MESSAGES));
    g.everyone_permissions = VIEW_CHANNEL | EMBED_LINKS | READ_MESSAGE_HISTORY;
    g.channel_mut(ROLE_DENIED).overwrites = vec![
        Overwrite::role(PERMS_GUILD, SEND_MESSAGES, 0),
        Overwrite::role(SENDER, 0, SEND_MESSAGES),
    ];
    g.channel_mut(MEMBER_ALLOWED).overwrites = vec![
        Overwrite::role(PERMS_GUILD, 0, VIEW_CHANNEL),
        Overwrite::member(BOT_ID, VIEW_CHANNEL, 0),
        Overwrite::member(USER_ID, VIEW_CHANNEL, 0),
    ];
    g.channel_mut(MEMBER_DENIED).overwrites = vec![
        Overwrite::role(SENDER, SEND_MESSAGES, 0),
        Overwrite::member(BOT_ID, 0, SEND_MESSAGES),
    ];
    g
}

/// A server where @everyone has nothing and the bot is Administrator
/// through a role.
fn admin_guild() -> GuildSpec {
    let mut g = GuildSpec::new(ADMIN_GUILD, &[ADMIN_CH])
        .bot_role(RoleSpec::new(ADMIN_ROLE, "Bots").permissions(ADMINISTRATOR));
    g.everyone_permissions = 0;
    g.channel_mut(ADMIN_CH).deny_everyone = VIEW_CHANNEL | SEND_MESSAGES;
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_refuses_posts_by_roles_and_overwrites_in_discords_order_and_serenity_computes_the_same(
) {
    let discord = FakeDiscord::start().await;
    discord.add_guild(perms_guild());
    discord.add_guild(admin_guild());
    let discord = &discord;
    let post = |ch: u64| async move {
        send(
            discord,
            reqwest::Method::POST,
            &format!("/channels/{ch}/messages"),
            Some(json!({"content": "hi"})),
        )
        .await
    };
    assert_eq!(post(BY_ROLE).await.0, 200, "Send Messages from the role");
    let (status, body) = post(ROLE_DENIED).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (403, Some(50013)),
        "the role's deny beats @everyone's allow"
    );
    assert_eq!(post(MEMBER_ALLOWED).await.0, 200, "the member's allow");
    let (status, body) = post(MEMBER_DENIED).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (403, Some(50013)),
        "the member's deny beats the role's allow"
    );
    assert_eq!(post(ADMIN_CH).await.0, 200, "Administrator through a role");
    let (status, _) = send(
        discord,
        reqwest::Method::POST,
        &format!("/channels/{ADMIN_CH}/webhooks"),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 200, "Administrator may manage webhooks");

    // What the bot reads over REST gives serenity the same permissions.
    for (guild, channels) in [
        (
            PERMS_GUILD,
            vec![BY_ROLE, ROLE_DENIED, MEMBER_ALLOWED, MEMBER_DENIED],
        ),
        (ADMIN_GUILD, vec![ADMIN_CH]),
    ] {
        let (_, g) = get(discord, &format!("/guilds/{guild}")).await;
        let g: serenity::all::PartialGuild = serde_json::from_value(g).expect("a guild");
        let (_, mut m) = get(discord, &format!("/guilds/{guild}/members/{BOT_ID}")).await;
        m["guild_id"] = guild.to_string().into();
        let m: serenity::all::Member = serde_json::from_value(m).expect("a member");
        assert!(!m.roles.is_empty(), "the bot's roles are listed");
        for ch in channels {
            let (_, c) = get(discord, &format!("/channels/{ch}")).await;
            let c: serenity::all::GuildChannel = serde_json::from_value(c).expect("a channel");
            let theirs = g.user_permissions_in(&c, &m).bits();
            let spec = if guild == PERMS_GUILD {
                perms_guild()
            } else {
                admin_guild()
            };
            let ours = spec.bot_permissions_in(spec.channels.iter().find(|s| s.id == ch).unwrap());
            assert_eq!(theirs, ours, "channel {ch}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_carry_the_invokers_permissions_in_the_channel_after_its_overwrites() {
    let discord = FakeDiscord::start().await;
    discord.add_guild(perms_guild());
    let admin = Invoker {
        guild_id: PERMS_GUILD,
        channel_id: BY_ROLE,
        ..Invoker::default()
    };
    let perms = |who: &Invoker, ch: u64| -> u64 {
        let resolved = discord.resolved_channel_for(who, ch);
        resolved["channels"][ch.to_string()]["permissions"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .expect("permissions")
    };
    assert_eq!(perms(&admin, BY_ROLE), admin.permissions, "no overwrites");
    assert_eq!(
        perms(&admin, MEMBER_ALLOWED),
        admin.permissions,
        "@everyone's deny, then the admin's own allow"
    );
    let stranger = Invoker {
        user_id: USER_ID + 1,
        ..admin.clone()
    };
    assert_eq!(
        perms(&stranger, MEMBER_ALLOWED) & VIEW_CHANNEL,
        0,
        "@everyone's deny alone"
    );
    let administrator = Invoker {
        permissions: ADMINISTRATOR,
        ..stranger.clone()
    };
    assert_eq!(perms(&administrator, MEMBER_ALLOWED), EVERY_PERMISSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_message_another_user_wrote_is_refused_with_50005() {
    let discord = FakeDiscord::start().await;
    discord.inject_message(CHANNEL_ID, USER_ID, "a fan's words");
    let theirs = discord.messages(CHANNEL_ID)[0].id;
    let (status, body) = send(
        &discord,
        reqwest::Method::PATCH,
        &format!("/channels/{CHANNEL_ID}/messages/{theirs}"),
        Some(json!({"content": "rewritten"})),
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(50005)));
    let (_, mine) = send(
        &discord,
        reqwest::Method::POST,
        &format!("/channels/{CHANNEL_ID}/messages"),
        Some(json!({"content": "mine"})),
    )
    .await;
    let mine = mine["id"].as_str().expect("an id").to_string();
    let (status, _) = send(
        &discord,
        reqwest::Method::PATCH,
        &format!("/channels/{CHANNEL_ID}/messages/{mine}"),
        Some(json!({"content": "edited"})),
    )
    .await;
    assert_eq!(status, 200, "its own message");
    assert_eq!(discord.messages(CHANNEL_ID)[0].edits, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_accepts_a_role_granted_a_member_allowed_and_an_admin_role_channel_and_names_send_messages_where_the_role_is_denied(
) {
    let w = World::builder()
        .guild(perms_guild())
        .guild(admin_guild())
        .store()
        .start()
        .await;
    let discord = &w.discord;
    let bot = TestBot::start(discord, &w.vars).await;
    let admin = Invoker {
        guild_id: PERMS_GUILD,
        channel_id: BY_ROLE,
        ..Invoker::default()
    };
    for ch in [BY_ROLE, MEMBER_ALLOWED] {
        let p = discord.subscribe_command(ch, &[], None, &admin);
        let text = discord.answer_text(&p, T).await;
        assert!(text.contains("Saved subscription"), "channel {ch}: {text}");
    }
    let p = discord.subscribe_command(ROLE_DENIED, &[], None, &admin);
    let text = discord.answer_text(&p, T).await;
    assert!(
        text.contains("I am missing **Send Messages**"),
        "role denied: {text}"
    );
    let p = discord.subscribe_command(MEMBER_DENIED, &[], None, &admin);
    let text = discord.answer_text(&p, T).await;
    assert!(
        text.contains("I am missing **Send Messages**"),
        "member denied: {text}"
    );
    let in_admin_guild = Invoker {
        guild_id: ADMIN_GUILD,
        channel_id: ADMIN_CH,
        permissions: ADMINISTRATOR | MANAGE_GUILD,
        ..Invoker::default()
    };
    let p = discord.subscribe_command(ADMIN_CH, &[], None, &in_admin_guild);
    let text = discord.answer_text(&p, T).await;
    assert!(text.contains("Saved subscription"), "administrator: {text}");
    assert_eq!(
        w.store()
            .list_subscriptions(PERMS_GUILD)
            .await
            .unwrap()
            .len(),
        2
    );
    discord.assert_spec_clean();
    bot.stop().await;
}
