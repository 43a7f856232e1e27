//! Broadcast identity end to end: one broadcast is one continuous period of
//! being live. A reused RealtimeKit livestream (no start time from the API)
//! is announced each time it goes live; a member gone past the grace and
//! back with the same start gets her card edited back to live (one post in
//! all); a store failure at `Started` delays the announcement, never loses
//! it.

mod support;

use std::time::Duration;

use serde_json::json;
use support::bot::TestBot;
use support::discord::FakeDiscord;
use support::fake_providers::{fritzy_live, Reply};
use support::world::{World, WorldBuilder};

const T: Duration = Duration::from_secs(30);
const CH: u64 = 21;
const LIVE_LINE: &str = "is live on";
const ENDED_LINE: &str = "was live on";

/// `provider` wires the bot to a provider fake; a one-second end grace;
/// channel CH subscribed to everything.
async fn world(provider: impl FnOnce(WorldBuilder) -> WorldBuilder) -> World {
    provider(World::builder())
        .var("END_GRACE_SECS", 1)
        .channels(&[CH])
        .subscribe(&[CH])
        .start()
        .await
}

fn content(d: &FakeDiscord, i: usize) -> String {
    d.messages(CH)
        .get(i)
        .map(|m| m.body["content"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn edits(d: &FakeDiscord, i: usize) -> usize {
    d.messages(CH).get(i).map_or(0, |m| m.edits)
}

const RTK: &str = "/accounts/acc1/realtime/kit/app1/livestreams";

fn livestream(status: &str) -> Reply {
    Reply::json(json!({"success": true, "data": [{
        "id": "ls-weekly", "name": "Weekly show", "status": status, "disabled": false,
        "meeting_id": "m1", "ingest_server": "rtmps://live.cf.test:443/live/",
        "stream_key": "SK-NOT-LOGGED-123", "playback_url": "https://play.cf.test/ls-weekly.m3u8",
        "created_at": "2026-11-24T10:00:00.000Z", "updated_at": "2026-11-24T10:00:00.000Z"
    }]}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_livestream_is_announced_each_time_it_goes_live() {
    let w = world(|b| {
        // The channel's subscription is a catch-all: the operator opts in.
        b.cloudflare().var("REALTIMEKIT_PUBLIC", true)
    })
    .await;
    w.cf.set(&format!("GET {RTK}"), livestream("IDLE"));
    let bot = TestBot::start(&w.discord, &w.vars).await;
    let d = &w.discord;
    for round in 0..2 {
        w.cf.set(&format!("GET {RTK}"), livestream("LIVE"));
        d.wait_for(T, "the announcement", |d| d.messages(CH).len() == round + 1)
            .await;
        assert!(content(d, round).contains(LIVE_LINE));
        w.cf.set(&format!("GET {RTK}"), livestream("IDLE"));
        d.wait_for(T, "the end edit", |d| edits(d, round) == 1)
            .await;
        assert!(
            content(d, round).contains(ENDED_LINE),
            "{}",
            content(d, round)
        );
    }
    assert_eq!(d.messages(CH).len(), 2, "two broadcasts, two posts");
    assert_eq!(edits(d, 0), 1, "the first card was not touched again");
    d.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_past_the_grace_and_back_with_the_same_start_reopens_the_card() {
    let w = world(WorldBuilder::jkt).await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    let d = &w.discord;
    let start = "2025-04-06T12:03:58.000Z";
    w.jkt
        .set("GET /api/jkt48/live", Reply::json(fritzy_live(start)));
    d.wait_for(T, "the announcement", |d| d.messages(CH).len() == 1)
        .await;
    // A provider blip longer than the grace: edited to ended…
    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    d.wait_for(T, "the end edit", |d| edits(d, 0) == 1).await;
    assert!(content(d, 0).contains(ENDED_LINE));
    // …and she is back with the same start: the same card is live again.
    w.jkt
        .set("GET /api/jkt48/live", Reply::json(fritzy_live(start)));
    d.wait_for(T, "the card edited back to live", |d| edits(d, 0) == 2)
        .await;
    assert!(content(d, 0).contains(LIVE_LINE), "{}", content(d, 0));
    let card = d.messages(CH)[0].body.clone();
    assert!(
        card.to_string().contains("f.m3u8"),
        "live links are back: {card}"
    );
    // Really ends: ended again.
    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    d.wait_for(T, "the second end edit", |d| edits(d, 0) == 3)
        .await;
    assert!(content(d, 0).contains(ENDED_LINE));
    assert_eq!(d.messages(CH).len(), 1, "one post in all");
    d.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_at_started_is_retried_until_announced() {
    use sqlx::Connection;
    let w = world(WorldBuilder::jkt).await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    // Another process holds the database: every write of the bot fails
    // (after its busy timeout) until it lets go.
    let mut blocker = sqlx::SqliteConnection::connect(&w.vars["DATABASE_URL"])
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut blocker)
        .await
        .unwrap();
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(fritzy_live("2025-04-06T12:03:58.000Z")),
    );
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let seen = {
            let logs = support::bot::captured_logs().lock().unwrap();
            String::from_utf8_lossy(&logs).contains("recording a watch event failed")
        };
        if seen {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store error was never hit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(w.discord.messages(CH).is_empty());
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    drop(blocker);
    w.discord
        .wait_for(T, "the announcement once the store recovered", |d| {
            d.messages(CH).len() == 1
        })
        .await;
    bot.stop().await;
    assert_eq!(w.discord.messages(CH).len(), 1);
    let _ = w.store();
}
