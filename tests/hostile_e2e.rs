//! Hostile command options and a broken database: every odd input gets a
//! clear, ephemeral, mention-free answer that Discord would accept; a
//! corrupt database stops the start with a clear error before any Discord
//! request (no crash loop that spams Discord).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{Invoker, GUILD_ID};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(20);

fn hostile_strings() -> Vec<String> {
    vec![
        String::new(),
        "   ".into(),
        "x".repeat(5000),
        "ünïcødé 🎤 ジャカルタ".into(),
        "ctrl\u{0}\u{7}\u{1b}[31m".into(),
        "@everyone".into(),
        "<@&1900000000000000001> <@1400000000000000001>".into(),
        "https://evil.test/@x?token=1".into(),
        "line\nbreak".into(),
        "`code` **bold** ||spoiler||".into(),
    ]
}

fn ephemeral_and_safe(cb: &Value) {
    let data = &cb["data"];
    assert_eq!(data["flags"], 64, "ephemeral: {cb}");
    assert_eq!(
        data["allowed_mentions"]["parse"],
        json!([]),
        "pings no one: {cb}"
    );
    assert!(
        !data["content"].as_str().unwrap_or("").is_empty(),
        "says something: {cb}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_options_get_clear_ephemeral_answers() {
    let w = World::builder()
        .konbini()
        .cloudflare()
        .var("CLOUDFLARE_ACCOUNT_ID", "acc")
        .var("REALTIMEKIT_APP_ID", "app")
        .var("OPERATOR_GUILD_IDS", GUILD_ID)
        .start()
        .await;
    let (discord, konbini, cf, vars) = (&w.discord, &w.konbini, &w.cf, &w.vars);
    let bot = TestBot::start(discord, vars).await;
    let who = Invoker::default();
    let mut tried = 0;

    for s in hostile_strings() {
        let p = discord.slash(
            "tiktok",
            json!([{"name": "user", "type": 3, "value": s}]),
            None,
            &who,
        );
        if s == "@everyone" {
            // A real username ("everyone"): asked upstream, answered
            // publicly, and still pings no one.
            let a = discord.answer(&p, T).await;
            assert_eq!(
                a["content"],
                "**@everyone** is not live on TikTok right now."
            );
            assert_eq!(a["allowed_mentions"]["parse"], json!([]));
        } else {
            ephemeral_and_safe(&discord.callback(&p, T).await.body.unwrap());
        }
        let p = discord.subcommand(
            "stream",
            "status",
            json!([{"name": "id", "type": 3, "value": s}]),
            &who,
        );
        ephemeral_and_safe(&discord.callback(&p, T).await.body.unwrap());
        tried += 2;
    }
    let asked: Vec<String> = konbini.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        asked,
        ["/v1/tiktok/users/everyone/live"],
        "no upstream call for an impossible username"
    );
    // (The background poller lists livestreams; no command asked for one.)
    let by_id = cf
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/livestreams/"))
        .count();
    assert_eq!(by_id, 0, "no upstream call for an impossible id");

    for n in [-5i64, 0, i64::MAX, i64::MIN] {
        let p = discord.slash(
            "unsubscribe",
            json!([{"name": "id", "type": 4, "value": n}]),
            None,
            &who,
        );
        let a = discord.answer(&p, T).await;
        assert!(
            a["content"]
                .as_str()
                .unwrap()
                .contains("has no subscription"),
            "{a}"
        );
        let p = discord.subcommand(
            "subscription",
            "test",
            json!([{"name": "id", "type": 4, "value": n}]),
            &who,
        );
        let cb = discord.callback(&p, T).await.body.unwrap();
        ephemeral_and_safe(&cb);
        tried += 2;
    }

    // A template far over the limit: explained, nothing saved.
    let p = discord.slash(
        "subscribe",
        json!([{"name": "channel", "type": 7, "value": "1300000000000000001"}, {"name": "template", "type": 3, "value": "{name}".repeat(400)}]),
        Some(discord.resolved_channel_for(&who, 1300000000000000001)),
        &who,
    );
    ephemeral_and_safe(&discord.callback(&p, T).await.body.unwrap());
    tried += 1;
    let store = onair::store::connect(&vars["DATABASE_URL"]).await.unwrap();
    assert_eq!(store.list_subscriptions(GUILD_ID).await.unwrap().len(), 0);

    // /live with hostile member filters: a plain answer, valid for Discord.
    for s in hostile_strings() {
        let p = discord.slash(
            "live",
            json!([{"name": "member", "type": 3, "value": s}]),
            None,
            &who,
        );
        let a = discord.answer(&p, T).await;
        assert_eq!(a["allowed_mentions"]["parse"], json!([]));
        tried += 1;
    }
    assert_eq!(tried, 39, "inputs tried");
    discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_stops_the_start_before_discord() {
    let w = World::builder().start().await;
    let (discord, vars) = (&w.discord, &w.vars);
    std::fs::write(
        w.dir.path().join("onair.db"),
        b"this is not a sqlite database, it is garbage".repeat(100),
    )
    .unwrap();
    let config = onair::config::Config::from_map(vars).unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        onair::bot::run(config, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("fails fast");
    let err = result.expect_err("a corrupt database is an error");
    let text = err.to_string();
    assert!(
        text.contains("store") && (text.contains("database") || text.contains("file")),
        "{text}"
    );
    assert!(discord.requests().is_empty(), "nothing sent to Discord");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_at_start_costs_no_subscription_and_posts_nothing() {
    // A provider that is down at start never costs a subscription.
    let w = World::builder().jkt().subscribe(&[5]).start().await;
    let (discord, jkt, store) = (&w.discord, &w.jkt, w.store());
    jkt.set("GET /api/jkt48/live", Reply::html(503));
    let bot = TestBot::start(discord, &w.vars).await;
    jkt.wait_more_hits("/api/jkt48/live", 2, Duration::from_secs(30))
        .await;
    bot.stop().await;
    assert_eq!(store.list_subscriptions(GUILD_ID).await.unwrap().len(), 1);
    assert!(discord.all_messages().is_empty());
}

/// A database another process holds locked, or one opened read-only:
/// the start stops with a clear error before any Discord request, and
/// nothing is lost once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_or_read_only_database_fails_cleanly_and_loses_nothing() {
    use sqlx::Connection;
    let mut w = World::builder().start().await;
    let (discord, dir) = (&w.discord, &w.dir);
    let vars = &mut w.vars;
    {
        let store = onair::store::connect(&vars["DATABASE_URL"]).await.unwrap();
        store
            .add_subscription(onair::store::NewSubscription {
                guild_id: GUILD_ID,
                channel_id: 5,
                created_by: 1,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // Another process holds an exclusive lock.
    let mut holder = sqlx::SqliteConnection::connect(&vars["DATABASE_URL"])
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let config = onair::config::Config::from_map(vars).unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        onair::bot::run(config, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("gives up within the busy timeout")
    .expect_err("a locked database is an error");
    assert!(err.to_string().contains("locked"), "{err}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    drop(holder);

    // Read-only: the same.
    let ro = format!("{}?mode=ro", vars["DATABASE_URL"]);
    vars.insert("DATABASE_URL".into(), ro);
    let config = onair::config::Config::from_map(vars).unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        onair::bot::run(config, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("fails fast");
    let err = result.expect_err("a read-only database is an error");
    assert!(err.to_string().to_lowercase().contains("read"), "{err}");
    assert!(discord.requests().is_empty(), "nothing sent to Discord");

    // Recovery: the subscription is still there.
    let url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let store = onair::store::connect(&url).await.unwrap();
    assert_eq!(store.list_subscriptions(GUILD_ID).await.unwrap().len(), 1);
}
