//! Leaving a server, end to end: when onair is removed from a server
//! (GUILD_DELETE without `unavailable`), its subscriptions, pending work
//! and webhooks go, and nothing more reaches that server's channels or
//! webhooks; a server that is only unavailable (an outage) keeps
//! everything, and once it is back (GUILD_CREATE again) the bot announces
//! there as before. The real bot, the fake Discord, a fake JKT48Connect.

mod support;

use std::time::Duration;

use onair::store::{Identity, NewSubscription};
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{GuildSpec, Recorded, MANAGE_WEBHOOKS};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const LEAVES: u64 = 1200000000000000701;
const LEAVES_BOT: u64 = 1300000000000000711;
const LEAVES_MEMBER: u64 = 1300000000000000712;
const OUTAGE: u64 = 1200000000000000802;
const OUTAGE_CH: u64 = 1300000000000000811;

fn member(name: &str, room: u64, minutes_ago: i64) -> Value {
    let start = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    json!({
        "name": name, "url_key": format!("jkt48_{room}"), "slug": "s", "room_id": room,
        "started_at": start, "type": "idn", "img_alt": "https://cdn.test/avatar.webp",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/f.m3u8"}]
    })
}

/// Whether a request went to one of `channels` or to webhook `hook`.
fn touches(r: &Recorded, channels: &[u64], hook: u64) -> bool {
    channels
        .iter()
        .any(|c| r.path.contains(&format!("/channels/{c}")))
        || r.path.contains(&format!("/webhooks/{hook}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_from_a_server_nothing_more_reaches_it_but_an_outage_changes_nothing() {
    let mut g = GuildSpec::new(LEAVES, &[LEAVES_BOT, LEAVES_MEMBER]);
    g.everyone_permissions |= MANAGE_WEBHOOKS;
    let w = World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .guild(g)
        .guild(GuildSpec::new(OUTAGE, &[OUTAGE_CH]))
        .store()
        .start()
        .await;
    let store = w.store();
    support::bot::subscribe_everything(store, LEAVES, LEAVES_BOT).await;
    store
        .add_subscription(NewSubscription {
            guild_id: LEAVES,
            channel_id: LEAVES_MEMBER,
            created_by: 1,
            identity: Identity::Member,
            ..Default::default()
        })
        .await
        .expect("subscription saved");
    support::bot::subscribe_everything(store, OUTAGE, OUTAGE_CH).await;
    let bot = TestBot::start(&w.discord, &w.vars).await;

    w.jkt
        .set(LIVE, Reply::json(json!([member("Fritzy", 510011, 5)])));
    w.discord
        .wait_for(T, "three announcements", |d| {
            [LEAVES_BOT, LEAVES_MEMBER, OUTAGE_CH]
                .iter()
                .all(|c| d.messages(*c).len() == 1)
        })
        .await;
    let hook = w.discord.webhooks()[0].clone();
    assert_eq!(hook.channel_id, LEAVES_MEMBER);

    // Kicked from one server; the other is down for a while.
    w.discord.guild_outage(OUTAGE);
    w.discord.remove_bot_from(LEAVES);
    w.discord
        .wait_for(T, "the webhook deleted by its token", |d| {
            d.webhooks().iter().all(|h| h.deleted)
        })
        .await;
    let deadline = tokio::time::Instant::now() + T;
    while !store.list_subscriptions(LEAVES).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "subscriptions kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Deleted by its own token (the fake flags a webhook request that
    // carries the bot's: `assert_spec_clean` below).
    assert!(w
        .discord
        .requests()
        .iter()
        .any(|r| r.method == "DELETE" && r.path.starts_with("/api/v10/webhooks/")));
    let before = w.discord.requests().len();

    // Fritzy ends, Gracia goes live: the server still there gets both.
    w.jkt
        .set(LIVE, Reply::json(json!([member("Gracia", 317727, 1)])));
    w.discord
        .wait_for(
            T,
            "the end edit and Gracia in the server still there",
            |d| {
                let m = d.messages(OUTAGE_CH);
                m.len() == 2 && m[0].edits >= 1
            },
        )
        .await;
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    let after: Vec<Recorded> = w.discord.requests().into_iter().skip(before).collect();
    let leaked: Vec<String> = after
        .iter()
        .filter(|r| touches(r, &[LEAVES_BOT, LEAVES_MEMBER], hook.id))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        leaked.is_empty(),
        "requests for a server onair left: {leaked:?}"
    );
    assert_eq!(w.discord.messages(LEAVES_BOT)[0].edits, 0);
    assert_eq!(
        store.list_subscriptions(OUTAGE).await.unwrap().len(),
        1,
        "an outage keeps the subscription"
    );
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_announces_after_the_guild_create_that_follows_ready_and_again_after_an_outage_and_guild_back(
) {
    let w = World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .guild(GuildSpec::new(OUTAGE, &[OUTAGE_CH]))
        .store()
        .start()
        .await;
    support::bot::subscribe_everything(w.store(), OUTAGE, OUTAGE_CH).await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    // Nobody pushed it: the session's own GUILD_CREATE after READY.
    w.discord.wait_guild_creates_delivered(OUTAGE, 1, T).await;
    w.jkt
        .set(LIVE, Reply::json(json!([member("Fritzy", 510011, 5)])));
    w.discord
        .wait_for(T, "Fritzy announced", |d| d.messages(OUTAGE_CH).len() == 1)
        .await;

    w.discord.guild_outage(OUTAGE);
    w.discord.guild_back(OUTAGE);
    w.discord.wait_guild_creates_delivered(OUTAGE, 2, T).await;
    w.jkt
        .set(LIVE, Reply::json(json!([member("Gracia", 317727, 1)])));
    w.discord
        .wait_for(T, "Gracia announced after the guild is back", |d| {
            d.messages(OUTAGE_CH).len() == 2
        })
        .await;
    assert_eq!(
        w.store().list_subscriptions(OUTAGE).await.unwrap().len(),
        1,
        "the outage kept the subscription"
    );
    w.discord.assert_spec_clean();
    bot.stop().await;
}
