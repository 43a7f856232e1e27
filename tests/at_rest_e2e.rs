//! Secrets at rest and member posts that Discord refuses, end to end:
//! the SQLite file is created owner-only (0600) and holds no webhook token
//! in the clear (sealed under a key derived from the bot token, opened
//! again after a restart), and a member post whose name Discord refuses
//! (400 50035) arrives as a bot post instead of not at all; a corrupt
//! subscription row is skipped and every other server is still announced.

mod support;

use std::time::Duration;

use onair::store::{Identity, NewSubscription};
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{Fault, GuildSpec, BOT_ID, GUILD_ID, MANAGE_WEBHOOKS};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const CH: u64 = 1300000000000000901;

fn live(room: u64, minutes_ago: i64) -> Value {
    let start = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    json!([{
        "name": "Fritzy", "url_key": "jkt48_fritzy", "slug": "s", "room_id": room,
        "started_at": start, "type": "idn", "img_alt": "https://cdn.test/avatar.webp",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/f.m3u8"}]
    }])
}

/// JKT48Connect wired, a one-second end grace; channel CH (where the bot
/// may make webhooks) subscribed with the member's identity.
async fn member_world() -> World {
    let mut g = GuildSpec::new(GUILD_ID, &[CH]);
    g.everyone_permissions |= MANAGE_WEBHOOKS;
    let w = World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .guild(g)
        .store()
        .start()
        .await;
    w.store()
        .add_subscription(NewSubscription {
            guild_id: GUILD_ID,
            channel_id: CH,
            created_by: 1,
            identity: Identity::Member,
            ..Default::default()
        })
        .await
        .expect("subscription saved");
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_tokens_are_sealed_in_an_owner_only_database_and_open_after_a_restart() {
    let w = member_world().await;
    let path = w.dir.path().join("onair.db");
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(LIVE, Reply::json(live(510011, 5)));
    w.discord
        .wait_for(T, "the member post", |d| d.messages(CH).len() == 1)
        .await;
    bot.stop().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database file is owner-only: {mode:o}");
    }
    let hook = w.discord.webhooks()[0].clone();
    let pool = sqlx::SqlitePool::connect(&w.vars["DATABASE_URL"])
        .await
        .expect("open the file directly");
    let stored: Vec<String> = sqlx::query_scalar("SELECT token FROM webhooks")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].starts_with("sealed:v1:") && !stored[0].contains(&hook.token),
        "the token is sealed: {}",
        stored[0]
    );
    let raw = std::fs::read(&path).unwrap();
    let wal = std::fs::read(w.dir.path().join("onair.db-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        assert!(
            !bytes
                .windows(hook.token.len())
                .any(|win| win == hook.token.as_bytes()),
            "the token's bytes are nowhere in the files"
        );
    }

    // After a restart the same webhook posts the next live (its sealed
    // token opened with the bot token), and no new one is made.
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(LIVE, Reply::json(live(510012, 1)));
    w.discord
        .wait_for(T, "the second member post", |d| d.messages(CH).len() == 2)
        .await;
    let second = &w.discord.messages(CH)[1];
    assert_eq!(second.webhook_id, Some(hook.id));
    assert_eq!(w.discord.webhooks().len(), 1, "no second webhook");
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_post_discord_refuses_with_50035_arrives_as_the_bot() {
    let w = member_world().await;
    w.discord.fail_next(
        "POST",
        "/api/v10/webhooks/",
        Fault::Discord {
            status: 400,
            code: 50035,
            message: "Invalid Form Body (username)",
        },
        1,
    );
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(LIVE, Reply::json(live(510011, 5)));
    w.discord
        .wait_for(T, "one post", |d| d.messages(CH).len() == 1)
        .await;
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    let posts = w.discord.messages(CH);
    assert_eq!(posts.len(), 1, "exactly one post");
    assert_eq!(posts[0].author_id, BOT_ID, "posted as the bot");
    assert_eq!(posts[0].webhook_id, None);
    // Her end edits that post as the bot.
    w.jkt.set(LIVE, Reply::json(json!([])));
    w.discord
        .wait_for(T, "the end edit", |d| {
            d.messages(CH).first().is_some_and(|m| m.edits >= 1)
        })
        .await;
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_subscription_row_does_not_stop_the_other_servers_posts() {
    let (other_guild, other_ch) = (1200000000000000950u64, 1300000000000000951u64);
    let w = World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .channels(&[CH])
        .guild(GuildSpec::new(other_guild, &[other_ch]))
        .store()
        .start()
        .await;
    let store = w.store();
    let bad = support::bot::subscribe_everything(store, GUILD_ID, CH).await;
    support::bot::subscribe_everything(store, other_guild, other_ch).await;
    let pool = sqlx::SqlitePool::connect(&w.vars["DATABASE_URL"])
        .await
        .expect("open the file directly");
    sqlx::query("UPDATE subscriptions SET platform = 'myspace', identity = '??' WHERE id = ?")
        .bind(bad.id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(LIVE, Reply::json(live(510011, 5)));
    w.discord
        .wait_for(T, "the other server's post", |d| {
            d.messages(other_ch).len() == 1
        })
        .await;
    assert!(w.discord.messages(CH).is_empty());
    w.discord.assert_spec_clean();
    bot.stop().await;
}
