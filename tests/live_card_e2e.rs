//! The live card end to end: edited while live when something worth
//! showing changes (at most once per `LIVE_UPDATE_SECS`, behind every
//! announcement, never held against the subscription), and closed with a
//! recap (duration, peak and final viewers, the title it went live as).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::discord::{FakeDiscord, Fault, Recorded, GUILD_ID};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const POLLED: &str = "/api/jkt48/live";

/// A JKT48Connect entry of `name` in room `room`, live since two minutes.
fn member(name: &str, room: u64, viewers: u64, title: &str) -> Value {
    let start = (chrono::Utc::now() - chrono::Duration::minutes(2))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    json!({
        "name": name, "url_key": format!("jkt48_{}", name.to_lowercase()), "slug": "s",
        "room_id": room, "started_at": start, "type": "idn", "title": title, "viewers": viewers,
        "streaming_url_list": [{"label": "original", "quality": 1, "url": format!("https://cdn.test/{room}.m3u8")}]
    })
}

/// JKT48Connect wired, a one-second end grace, cards edited at most once
/// per `live_update_secs`, requests paced at the default 40/s (under the
/// fake's 50/s, as under Discord's); every channel of `channels`
/// subscribed to everything; the bot started.
async fn world(channels: &[u64], live_update_secs: &str) -> World {
    World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .var("LIVE_UPDATE_SECS", live_update_secs)
        .channels(channels)
        .subscribe(channels)
        .bot()
        .start()
        .await
}

/// The value of the embed field `name` in a message body.
fn field(body: &Value, name: &str) -> Option<String> {
    body["embeds"][0]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
        .map(str::to_string)
}

/// The edits of message `id`, in order.
fn patches(d: &FakeDiscord, id: u64) -> Vec<Recorded> {
    let suffix = format!("/messages/{id}");
    d.requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&suffix) && r.status == 200)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_follows_the_live_and_ends_with_a_recap() {
    const CH: u64 = 31;
    let mut w = world(&[CH], "2").await;
    let d = &w.discord;
    let fritzy = |viewers, title| Reply::json(json!([member("Fritzy", 510011, viewers, title)]));
    w.jkt.set(LIVE, fritzy(800, "Hi"));
    d.wait_for(T, "the announcement", |d| d.messages(CH).len() == 1)
        .await;
    let posted = d.messages(CH)[0].clone();
    assert_eq!(field(&posted.body, "Viewers").as_deref(), Some("800"));

    // 1k crossed: the card shows it.
    w.jkt.set(LIVE, fritzy(1_200, "Hi"));
    d.wait_for(T, "the first live update", |d| {
        patches(d, posted.id).len() == 1
    })
    .await;
    let first = patches(d, posted.id)[0].clone();
    let body = first.body.clone().unwrap();
    assert_eq!(field(&body, "Viewers").as_deref(), Some("1.2k"), "{body}");
    assert!(body["content"].as_str().unwrap().contains("is live on"));
    assert_eq!(
        body["allowed_mentions"]["parse"],
        json!([]),
        "an edit never pings"
    );

    // 5k crossed and a new title at once: one edit, a period later, with both.
    w.jkt.set(LIVE, fritzy(5_400, "Birthday live!"));
    d.wait_for(T, "the second live update", |d| {
        patches(d, posted.id).len() == 2
    })
    .await;
    let second = patches(d, posted.id)[1].clone();
    let body = second.body.clone().unwrap();
    assert_eq!(field(&body, "Viewers").as_deref(), Some("5.4k"));
    assert_eq!(body["embeds"][0]["title"], "Birthday live!");
    assert!(
        second.at.duration_since(first.at) >= Duration::from_millis(1_800),
        "at most one edit per LIVE_UPDATE_SECS (2 s): {:?} apart",
        second.at.duration_since(first.at)
    );

    // Viewers that move without crossing anything are not news.
    w.jkt.set(LIVE, fritzy(5_100, "Birthday live!"));
    w.jkt.wait_more_hits(POLLED, 2, T).await;
    w.jkt.set(LIVE, fritzy(3_100, "Birthday live!"));
    w.jkt.wait_more_hits(POLLED, 4, T).await;
    assert_eq!(patches(d, posted.id).len(), 2, "no edit without news");

    // The end: the recap.
    w.jkt.set(LIVE, Reply::json(json!([])));
    d.wait_for(T, "the recap", |d| patches(d, posted.id).len() == 3)
        .await;
    let recap = patches(d, posted.id)[2].body.clone().unwrap();
    assert!(recap["content"].as_str().unwrap().contains("was live on"));
    let ended = field(&recap, "Ended").unwrap();
    assert!(ended.contains("after 2 min"), "how long it lasted: {ended}");
    assert_eq!(field(&recap, "Peak viewers").as_deref(), Some("5.4k"));
    assert_eq!(field(&recap, "Final viewers").as_deref(), Some("3.1k"));
    assert_eq!(field(&recap, "Went live as").as_deref(), Some("Hi"));
    assert_eq!(field(&recap, "Viewers"), None);
    assert!(
        !recap.to_string().contains(".m3u8"),
        "dead HLS links removed"
    );
    assert_eq!(d.messages(CH).len(), 1, "one post in all");
    d.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_live_fans_out_before_any_live_update() {
    let channels: Vec<u64> = (1..=100).map(|i| 1_000 + i).collect();
    let mut w = world(&channels, "1").await;
    let d = &w.discord;
    w.jkt.set(
        LIVE,
        Reply::json(json!([member("Fritzy", 510011, 800, "Hi")])),
    );
    d.wait_for(T, "the first fan-out", |d| {
        channels.iter().all(|c| d.messages(*c).len() == 1)
    })
    .await;
    let posts_before = d.request_count(|r| r.method == "POST" && r.path.ends_with("/messages"));
    // One poll: Fritzy crosses 1k (100 live updates due: the 100-channel
    // fan-out took a period) and Gracia goes live (100 announcements).
    w.jkt.set(
        LIVE,
        Reply::json(json!([
            member("Fritzy", 510011, 1_200, "Hi"),
            member("Gracia", 510012, 50, "Hello")
        ])),
    );
    d.wait_for(T, "Gracia everywhere and every Fritzy card updated", |d| {
        channels
            .iter()
            .all(|c| d.messages(*c).len() == 2 && d.messages(*c)[0].edits == 1)
    })
    .await;
    let log = d.requests();
    let after: Vec<(usize, &Recorded)> = log
        .iter()
        .filter(|r| r.path.contains("/messages"))
        .enumerate()
        .skip(posts_before)
        .collect();
    let last_post = after
        .iter()
        .filter(|(_, r)| r.method == "POST")
        .map(|(i, _)| *i)
        .max()
        .unwrap();
    let first_patch = after
        .iter()
        .filter(|(_, r)| r.method == "PATCH")
        .map(|(i, _)| *i)
        .min()
        .unwrap();
    assert!(
        last_post < first_patch,
        "every new announcement goes before any live update (last POST #{last_post}, first PATCH #{first_patch})"
    );
    for c in &channels {
        let card = &d.messages(*c)[0];
        assert_eq!(field(&card.body, "Viewers").as_deref(), Some("1.2k"));
    }
    d.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_live_update_is_dropped_and_never_held_against_the_subscription() {
    const CH: u64 = 41;
    let mut w = world(&[CH], "1").await;
    let d = &w.discord;
    let fritzy = |viewers, title| Reply::json(json!([member("Fritzy", 510011, viewers, title)]));
    w.jkt.set(LIVE, fritzy(800, "Hi"));
    d.wait_for(T, "the announcement", |d| d.messages(CH).len() == 1)
        .await;
    let id = d.messages(CH)[0].id;
    let path = format!("/api/v10/channels/{CH}/messages/{id}");
    d.fail_next(
        "PATCH",
        &path,
        Fault::Discord {
            status: 403,
            code: 50013,
            message: "Missing Permissions",
        },
        3,
    );
    w.jkt.set(LIVE, fritzy(1_200, "Hi"));
    d.wait_for(T, "the refused live update", |d| {
        d.request_count(|r| r.method == "PATCH" && r.path == path && r.status == 403) == 1
    })
    .await;
    // Dropped, not retried: the next news goes through, once.
    w.jkt.wait_more_hits(POLLED, 2, T).await;
    d.clear_faults();
    w.jkt.set(LIVE, fritzy(1_300, "New title"));
    d.wait_for(T, "the next live update", |d| patches(d, id).len() == 1)
        .await;
    assert_eq!(
        d.request_count(|r| r.method == "PATCH" && r.path == path),
        2,
        "the refused edit was not retried"
    );
    let sub = &w.store().list_subscriptions(GUILD_ID).await.unwrap()[0];
    assert_eq!(sub.consecutive_failures, 0, "{sub:?}");
    assert_eq!(sub.disabled_reason, None);
    w.stop_bot().await;
}
