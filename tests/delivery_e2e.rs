//! Deliveries are retried until they no longer matter, not a fixed count:
//! a Discord incident longer than any fixed retry budget still ends in one
//! announcement; a body Discord refuses (400) is tried once and logged; an
//! announcement whose broadcast ended past the staleness rule is dropped
//! (shown in the subscription's health, which stays enabled).

mod support;

use std::time::Duration;

use onair::store::DeliveryStatus;
use serde_json::json;
use support::bot::wait_delivery;
use support::discord::{FakeDiscord, Fault, GUILD_ID};
use support::fake_providers::{fritzy_live, Reply};
use support::world::World;

const T: Duration = Duration::from_secs(40);
const CH: u64 = 11;
const START: &str = "2025-04-06T12:03:58.000Z";
const POSTS: &str = "/api/v10/channels/11/messages";

/// JKT48Connect wired, retries at most 1 s apart, `extra` variables,
/// channel CH subscribed to everything; the bot started.
async fn world(extra: &[(&str, &str)]) -> World {
    World::builder()
        .jkt()
        .var("DELIVERY_RETRY_MAX_SECS", 1)
        .vars(extra)
        .channels(&[CH])
        .subscribe(&[CH])
        .bot()
        .start()
        .await
}

fn posts(d: &FakeDiscord, status: u16) -> usize {
    d.request_count(|r| r.method == "POST" && r.path == POSTS && r.status == status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_longer_than_any_fixed_budget_still_delivers_once() {
    let mut w = world(&[]).await;
    // 12 s of 502 with retries at most 1 s apart: well past the five
    // attempts a fixed count would have allowed.
    w.discord
        .fail_for("POST", POSTS, Fault::Server(502), Duration::from_secs(12));
    w.jkt
        .set("GET /api/jkt48/live", Reply::json(fritzy_live(START)));
    w.discord
        .wait_for(T, "the announcement after the incident", |d| {
            d.messages(CH).len() == 1
        })
        .await;
    let failed = posts(&w.discord, 502);
    assert!(
        failed >= 8,
        "kept retrying through the incident ({failed} × 502)"
    );
    assert_eq!(posts(&w.discord, 200), 1);
    wait_delivery(w.store(), 1, DeliveryStatus::Sent, T).await;
    let sub = &w.store().list_subscriptions(GUILD_ID).await.unwrap()[0];
    assert!(sub.disabled_reason.is_none(), "a 5xx never disables");
    assert_eq!(w.discord.messages(CH).len(), 1, "exactly once");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_body_is_tried_once_and_logged() {
    let mut w = world(&[]).await;
    w.discord.fail_next(
        "POST",
        POSTS,
        Fault::Body {
            status: 400,
            body: json!({"code": 50035, "message": "Invalid Form Body",
                "errors": {"embeds": {"0": {"title": {"_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}}),
        },
        usize::MAX,
    );
    w.jkt
        .set("GET /api/jkt48/live", Reply::json(fritzy_live(START)));
    let d = wait_delivery(w.store(), 1, DeliveryStatus::Failed, T).await;
    assert!(
        d.last_error.as_deref().unwrap_or("").contains("refused"),
        "{d:?}"
    );
    let sub = &w.store().list_subscriptions(GUILD_ID).await.unwrap()[0];
    assert!(
        sub.last_error.as_deref().unwrap_or("").contains("50035"),
        "health shows Discord's error: {sub:?}"
    );
    assert!(sub.disabled_reason.is_none());
    // Stop the bot (drains the queue), then count: one attempt only.
    w.stop_bot().await;
    assert_eq!(posts(&w.discord, 400), 1, "a 400 is not retried");
    assert!(w.discord.messages(CH).is_empty());
    let logs = support::bot::captured_logs().lock().unwrap().clone();
    let logs = String::from_utf8_lossy(&logs);
    assert!(
        logs.lines()
            .any(|l| l.contains("50035") && l.contains("Invalid Form Body")),
        "logged with Discord's error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_staleness_rule_the_announcement_is_dropped() {
    let mut w = world(&[("DELIVERY_STALE_SECS", "0"), ("END_GRACE_SECS", "1")]).await;
    w.discord
        .fail_for("POST", POSTS, Fault::Server(503), Duration::from_secs(3600));
    w.jkt
        .set("GET /api/jkt48/live", Reply::json(fritzy_live(START)));
    w.discord
        .wait_for(T, "a first failed attempt", |d| posts(d, 503) >= 1)
        .await;
    // She ends; the incident goes on: once the broadcast is over (and the
    // staleness window of 0 s has passed) the delivery is dropped.
    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    let d = wait_delivery(w.store(), 1, DeliveryStatus::Failed, T).await;
    assert!(
        d.last_error.as_deref().unwrap_or("").contains("stale"),
        "{d:?}"
    );
    let sub = &w.store().list_subscriptions(GUILD_ID).await.unwrap()[0];
    assert!(sub.disabled_reason.is_none(), "stale news never disables");
    w.stop_bot().await;
    assert!(w.discord.messages(CH).is_empty());
}
