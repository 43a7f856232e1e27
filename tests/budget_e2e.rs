//! "Live within its means", end to end through the fake Discord and fake
//! providers: a persisted allowance that a restart does not reset, a
//! provider's 429 `Retry-After` honoured, 402 stopping the polls (and
//! `/help` and `/subscriptions` saying why), `/tiktok` cooled down without a
//! provider call, and `/stream` only in the operator's guilds.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{FakeDiscord, GuildSpec, Invoker, CHANNEL_ID, GUILD_ID};
use support::fake_providers::{FakeProvider, Reply};
use support::world::{World, WorldBuilder};

const T: Duration = Duration::from_secs(20);
const JKT: &str = "GET /api/jkt48/live";

/// Ask `/help` until its answer satisfies `pred` (a condition, bounded).
async fn help_until(discord: &FakeDiscord, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let p = discord.slash("help", json!([]), None, &Invoker::default());
        let text = discord.answer(&p, T).await.to_string();
        if pred(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/help never showed {what}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_hits(fake: &FakeProvider, route: &str, n: usize, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while fake.hits(route) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{route}: {} requests, expected {n}",
            fake.hits(route)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// KonbiniAPI wired, with these `/tiktok` cooldowns.
fn use_konbini(b: WorldBuilder, user_secs: u32, guild_secs: u32) -> WorldBuilder {
    b.konbini()
        .var("TIKTOK_COOLDOWN_USER_SECS", user_secs)
        .var("TIKTOK_COOLDOWN_GUILD_SECS", guild_secs)
}

/// A subscription following TikTok user `user`, saved before the bot starts
/// (so its poller watches that username).
async fn follow_tiktok(vars: &HashMap<String, String>, user: &str) {
    let store = onair::store::connect(&vars["DATABASE_URL"]).await.unwrap();
    store
        .add_subscription(onair::store::NewSubscription {
            guild_id: GUILD_ID,
            channel_id: CHANNEL_ID,
            tiktok: Some(user.into()),
            created_by: 1,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// `/tiktok user:<user>` asked by Discord user `user_id` of the test guild.
fn ask_tiktok(discord: &FakeDiscord, user: &str, user_id: u64) -> support::discord::Pushed {
    discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": user}]),
        None,
        &Invoker {
            user_id,
            ..Invoker::default()
        },
    )
}

/// JKT48Connect allows `calls` a month.
fn metered(b: WorldBuilder, calls: u32) -> WorldBuilder {
    b.var("JKT48CONNECT_CALLS_PER_MONTH", calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allowance_holds_across_restarts() {
    let w = metered(World::builder().jkt(), 2).start().await;
    let (discord, jkt, vars) = (&w.discord, &w.jkt, &w.vars);

    // Two runs, one poll each: the plan spreads the second call over the
    // month, so each run spends exactly its first poll.
    for run in 1..=2 {
        let bot = TestBot::start(discord, vars).await;
        discord.wait_identified(run, T).await;
        wait_hits(jkt, JKT, run, T).await;
        let help = help_until(discord, "the budget", |t| {
            t.contains("budget 2 calls/month")
        })
        .await;
        assert!(help.contains(&format!("{run} spent")), "{help}");
        bot.stop().await;
    }
    // A third run finds the count in the store: nothing left, no call.
    let bot = TestBot::start(discord, vars).await;
    discord.wait_identified(3, T).await;
    let help = help_until(discord, "the allowance spent", |t| {
        t.contains("polling stopped") && t.contains("is spent until")
    })
    .await;
    assert!(help.contains("2 spent"), "{help}");
    assert_eq!(jkt.hits(JKT), 2, "a restart must not reset the count");
    bot.stop().await;
    discord.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_is_honoured() {
    let w = World::builder().jkt().start().await;
    let (discord, jkt, vars) = (&w.discord, &w.jkt, &w.vars);
    jkt.script(
        JKT,
        vec![
            Reply::json_status(429, json!({"error": "slow down"})).header("Retry-After", "30"),
            Reply::json(json!([])),
        ],
    );
    let bot = TestBot::start(discord, vars).await;
    // POLL_INTERVAL_SECS is 1: without Retry-After the second poll comes
    // within ~2 s.
    wait_hits(jkt, JKT, 2, Duration::from_secs(60)).await;
    let reqs = jkt.requests_to(JKT);
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_secs(30),
        "second poll {gap:?} after a 429 with Retry-After: 30"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_exhausted_stops_polling_and_says_why() {
    // KonbiniAPI out of credits; JKT48Connect (1 s interval) is the clock.
    let w = use_konbini(World::builder().jkt(), 0, 0).start().await;
    let (discord, jkt, kon, vars) = (&w.discord, &w.jkt, &w.konbini, &w.vars);
    let route = "GET /v1/tiktok/users/someone/live";
    kon.set(
        route,
        Reply::json_status(
            402,
            json!({"errors": [{"code": "credits_exhausted", "message": "No credits left"}]}),
        ),
    );
    follow_tiktok(vars, "someone").await;
    let bot = TestBot::start(discord, vars).await;
    wait_hits(kon, route, 1, T).await;
    let help = help_until(discord, "the halt", |t| t.contains("polling stopped")).await;
    assert!(
        help.contains("KonbiniAPI") && help.contains("credits are exhausted"),
        "{help}"
    );
    // Four more polls of the other source: KonbiniAPI was not asked again.
    jkt.wait_more_hits(JKT, 4, T).await;
    assert_eq!(kon.hits(route), 1, "no hammering after 402");

    let p = discord.slash("subscriptions", json!([]), None, &Invoker::default());
    let text = discord.answer_text(&p, T).await;
    assert!(
        text.contains("KonbiniAPI") && text.contains("credits are exhausted"),
        "{text}"
    );
    bot.stop().await;
    discord.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_is_cooled_down_without_a_provider_call() {
    let w = use_konbini(World::builder(), 60, 0).start().await;
    let (discord, kon, vars) = (&w.discord, &w.konbini, &w.vars);
    for u in ["first", "second"] {
        kon.set(
            &format!("GET /v1/tiktok/users/{u}/live"),
            Reply::json_status(404, json!({"errors": [{"code": "not_found"}]}))
                .header("X-Credits-Remaining", "500"),
        );
    }
    let bot = TestBot::start(discord, vars).await;
    let who = Invoker::default().user_id;
    let ask = |user: &str| ask_tiktok(discord, user, who);
    let first = discord.answer_text(&ask("first"), T).await;
    assert!(first.contains("not live"), "{first}");
    let p = ask("second");
    let a = discord.answer(&p, T).await;
    let text = a["content"].as_str().unwrap_or_default();
    assert!(text.contains("try again in"), "{text}");
    assert_eq!(a["flags"], 64, "the cooldown note is ephemeral: {a}");
    assert_eq!(kon.hits("/v1/tiktok/users/second/live"), 0);
    assert_eq!(kon.requests().len(), 1, "one paid call for two asks");

    // Another user of the same server is not held by the first one's
    // cooldown (the per-server one is off here).
    let p = ask_tiktok(discord, "second", who + 1);
    let text = discord.answer_text(&p, T).await;
    assert!(text.contains("not live"), "{text}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_shares_the_pollers_answers() {
    let w = use_konbini(World::builder(), 60, 60)
        // The poller asks once at start (its next poll is an hour away).
        .var("KONBINI_POLL_SECS", 3600)
        .start()
        .await;
    let (discord, kon, vars) = (&w.discord, &w.konbini, &w.vars);
    let route = "GET /v1/tiktok/users/someone/live";
    kon.set(
        route,
        Reply::json_status(404, json!({"errors": [{"code": "not_found"}]}))
            .header("X-Credits-Remaining", "500"),
    );
    follow_tiktok(vars, "someone").await;
    let bot = TestBot::start(discord, vars).await;
    wait_hits(kon, route, 1, T).await;
    // A fan asking about the same user gets the poller's answer: no new
    // credit spent, and no cooldown started by a free answer.
    for user_id in [11, 11, 12] {
        let p = ask_tiktok(discord, "@Someone", user_id);
        let text = discord.answer_text(&p, T).await;
        assert!(text.contains("not live"), "{text}");
    }
    assert_eq!(kon.hits(route), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_is_cooled_down_per_server() {
    let w = use_konbini(World::builder(), 0, 60).start().await;
    let (discord, kon, vars) = (&w.discord, &w.konbini, &w.vars);
    let bot = TestBot::start(discord, vars).await;
    let ask = |user_id: u64| ask_tiktok(discord, &format!("user{user_id}"), user_id);
    let _ = discord.answer_text(&ask(11), T).await;
    let text = discord.answer_text(&ask(12), T).await;
    assert!(text.contains("try again in"), "{text}");
    assert_eq!(kon.requests().len(), 1);
    bot.stop().await;
}

/// The command names of every registration PUT, by scope.
fn registrations(discord: &FakeDiscord) -> Vec<(String, Vec<String>)> {
    discord
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/commands"))
        .map(|r| {
            let names = r
                .body
                .as_ref()
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (r.path.clone(), names)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_exists_only_in_operator_guilds() {
    const OTHER: u64 = 1_300_000_000_000_000_777;
    let mut w = World::builder()
        .cloudflare()
        .var("CLOUDFLARE_ACCOUNT_ID", "acc123")
        .var("REALTIMEKIT_APP_ID", "app456")
        .channels(&[CHANNEL_ID])
        .guild(GuildSpec::new(OTHER, &[OTHER + 1]))
        .start()
        .await;
    let (discord, cf) = (&w.discord, &w.cf);

    // Without OPERATOR_GUILD_IDS, /stream is registered nowhere.
    let bot = TestBot::start(discord, &w.vars).await;
    discord
        .wait_for(T, "registration", |d| !registrations(d).is_empty())
        .await;
    let regs = registrations(discord);
    assert!(
        regs.iter()
            .all(|(_, names)| !names.contains(&"stream".to_string())),
        "{regs:?}"
    );
    bot.stop().await;

    // With it: globally everything but /stream, /stream only there.
    w.vars
        .insert("OPERATOR_GUILD_IDS".into(), GUILD_ID.to_string());
    let before = registrations(discord).len();
    let bot = TestBot::start(discord, &w.vars).await;
    discord.wait_identified(2, T).await;
    discord
        .wait_for(T, "registration", |d| registrations(d).len() >= before + 2)
        .await;
    let regs = registrations(discord)[before..].to_vec();
    let global: Vec<_> = regs
        .iter()
        .filter(|(p, _)| !p.contains("/guilds/"))
        .collect();
    assert_eq!(global.len(), 1, "{regs:?}");
    assert!(global[0].1.contains(&"live".to_string()));
    assert!(!global[0].1.contains(&"stream".to_string()));
    let guild: Vec<_> = regs
        .iter()
        .filter(|(p, _)| p.contains(&format!("/guilds/{GUILD_ID}/")))
        .collect();
    assert_eq!(guild.len(), 1, "{regs:?}");
    assert_eq!(guild[0].1, vec!["stream".to_string()]);
    assert!(!regs
        .iter()
        .any(|(p, _)| p.contains(&format!("/guilds/{OTHER}/"))));

    // Invoked anyway in another guild (a stale registration Discord still
    // has there, which the fake pushes only on purpose): refused,
    // privately, and Cloudflare is never asked.
    let outsider = Invoker {
        guild_id: OTHER,
        channel_id: OTHER + 1,
        ..Invoker::default()
    };
    let p = discord.slash_stale(
        "stream",
        json!([{"name": "list", "type": 1, "options": []}]),
        &outsider,
    );
    let a = discord.answer(&p, T).await;
    let text = a["content"].as_str().unwrap_or_default();
    assert!(text.contains("operator"), "{a}");
    assert_eq!(a["flags"], 64, "{a}");
    assert!(
        cf.requests()
            .iter()
            .all(|r| !r.path.ends_with("/livestreams") || r.query.contains_key("status")),
        "only the poller's LIVE listing reached Cloudflare: {:?}",
        cf.requests()
    );
    // In the operator's guild it works.
    cf.set(
        "GET /client/v4/accounts/acc123/realtime/kit/app456/livestreams",
        Reply::json(json!({"success": true, "data": []})),
    );
    let p = discord.subcommand("stream", "list", json!([]), &Invoker::default());
    let a = discord.answer(&p, T).await;
    assert!(!a.to_string().contains("operator"), "{a}");
    bot.stop().await;
    discord.assert_spec_clean();
}
