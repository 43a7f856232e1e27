//! Hard limits, end to end: what one server may have and spend. Past its
//! subscription or TikTok-username limit a server gets a clear refusal
//! (the limit, what to remove) and the extra name is never polled; a daily
//! credit budget smaller than the usernames polls them in turns instead of
//! stopping TikTok for everybody; `/tiktok` lookups spend the same ledger,
//! under a global daily cap. The real bot, the fake Discord, a fake
//! KonbiniAPI.

mod support;

use std::time::Duration;

use onair::store::NewSubscription;
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{Invoker, CHANNEL_ID, GUILD_ID};
use support::fake_providers::{FakeProvider, Reply};
use support::world::World;

const T: Duration = Duration::from_secs(20);

/// KonbiniAPI wired, the dev guild set, `extra` variables.
async fn world(extra: &[(&str, &str)]) -> World {
    World::builder()
        .konbini()
        .var("DEV_GUILD_ID", GUILD_ID)
        .vars(extra)
        .channels(&[CHANNEL_ID])
        .start()
        .await
}

fn not_live() -> Reply {
    Reply::status(404, r#"{"errors":[{"message":"not live"}]}"#)
}

fn route(user: &str) -> String {
    format!("/v1/tiktok/users/{user}/live")
}

async fn subscribe(w: &World, extra: &[Value]) -> String {
    let p = w
        .discord
        .subscribe_command(CHANNEL_ID, extra, None, &Invoker::default());
    w.discord.answer_text(&p, T).await
}

fn tiktok(user: &str) -> Value {
    json!({"name": "tiktok", "type": 3, "value": user})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_past_its_limits_is_refused_and_the_extra_username_never_polled() {
    let w = world(&[
        ("GUILD_MAX_TIKTOK_USERNAMES", "2"),
        ("GUILD_MAX_SUBSCRIPTIONS", "4"),
    ])
    .await;
    for u in ["alpha1", "alpha2", "alpha3"] {
        w.konbini.set(&format!("GET {}", route(u)), not_live());
    }
    let bot = TestBot::start(&w.discord, &w.vars).await;
    assert!(subscribe(&w, &[tiktok("alpha1")]).await.contains("Saved"));
    assert!(subscribe(&w, &[tiktok("alpha2")]).await.contains("Saved"));
    let refused = subscribe(&w, &[tiktok("alpha3")]).await;
    assert!(
        refused.contains("2 TikTok usernames")
            && refused.contains("`alpha1`, `alpha2`")
            && refused.contains("/unsubscribe"),
        "{refused}"
    );
    // A name the server follows already is no new cost.
    assert!(subscribe(&w, &[tiktok("alpha2")]).await.contains("Saved"));
    assert!(subscribe(&w, &[]).await.contains("Saved"), "the fourth");
    let refused = subscribe(&w, &[]).await;
    assert!(
        refused.contains("4 subscriptions") && refused.contains("/unsubscribe"),
        "{refused}"
    );
    w.konbini.wait_more_hits(&route("alpha1"), 2, T).await;
    w.konbini.wait_more_hits(&route("alpha2"), 1, T).await;
    assert_eq!(
        w.konbini.hits(&route("alpha3")),
        0,
        "the refused name is never polled"
    );
    let store = onair::store::connect(&w.vars["DATABASE_URL"])
        .await
        .expect("store");
    assert_eq!(store.list_subscriptions(GUILD_ID).await.unwrap().len(), 4);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_smaller_than_the_usernames_poll_them_in_turns_within_budget() {
    let w = world(&[("KONBINI_CREDITS_PER_DAY", "2"), ("KONBINI_POLL_SECS", "1")]).await;
    let users = ["user.a", "user.b", "user.c", "user.d", "user.e"];
    {
        let store = onair::store::connect(&w.vars["DATABASE_URL"])
            .await
            .expect("store");
        for (i, u) in users.iter().enumerate() {
            store
                .add_subscription(NewSubscription {
                    guild_id: 1200000000000000100 + i as u64,
                    channel_id: 1300000000000000100 + i as u64,
                    tiktok: Some((*u).into()),
                    created_by: 1,
                    ..Default::default()
                })
                .await
                .expect("subscription saved");
        }
    }
    for u in users {
        w.konbini.set(&format!("GET {}", route(u)), not_live());
    }
    let asked = |k: &FakeProvider| -> Vec<String> {
        k.requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/v1/tiktok/users/"))
            .map(|r| r.path)
            .collect()
    };
    // Five usernames cost five credits a poll: more than the day's two.
    // Polled in turns, one a poll, the first at once.
    let bot = TestBot::start(&w.discord, &w.vars).await;
    let deadline = tokio::time::Instant::now() + T;
    while asked(&w.konbini).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "TikTok never polled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = w
        .discord
        .slash("help", json!([]), None, &Invoker::default());
    let help = w.discord.answer(&p, T).await.to_string();
    assert!(
        help.contains("5 TikTok usernames watched: 1 looked up per poll"),
        "{help}"
    );
    bot.stop().await;
    // After a restart the turn goes on (the next name, not the first again),
    // and the day's two credits are the end of it.
    let bot = TestBot::start(&w.discord, &w.vars).await;
    let deadline = tokio::time::Instant::now() + T;
    while asked(&w.konbini).len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no poll after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let store = onair::store::connect(&w.vars["DATABASE_URL"])
        .await
        .expect("store");
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(store.calls_spent("konbini", &day).await.unwrap() <= 2);
    bot.stop().await;
    let seen = asked(&w.konbini);
    assert_eq!(
        seen,
        [route("user.a"), route("user.b")],
        "one name a poll, in turns, never past two credits"
    );
}

async fn ask(w: &World, user: &str) -> String {
    let p = w.discord.slash(
        "tiktok",
        json!([{"name": "user", "type": 3, "value": user}]),
        None,
        &Invoker::default(),
    );
    w.discord.answer_text(&p, T).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_lookups_stop_at_the_global_daily_cap() {
    let w = world(&[
        ("TIKTOK_LOOKUPS_PER_DAY", "2"),
        ("TIKTOK_COOLDOWN_USER_SECS", "0"),
        ("TIKTOK_COOLDOWN_GUILD_SECS", "0"),
    ])
    .await;
    for u in ["fan.one", "fan.two", "fan.three"] {
        w.konbini.set(&format!("GET {}", route(u)), not_live());
    }
    let bot = TestBot::start(&w.discord, &w.vars).await;
    assert!(ask(&w, "fan.one").await.contains("not live"));
    assert!(ask(&w, "fan.two").await.contains("not live"));
    let refused = ask(&w, "fan.three").await;
    assert!(refused.contains("used up for everyone"), "{refused}");
    assert_eq!(w.konbini.hits(&route("fan.three")), 0);
    // A cached answer is free, cap or not.
    assert!(ask(&w, "fan.one").await.contains("not live"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_lookups_spend_the_same_credit_ledger_as_the_poller() {
    let w = world(&[
        ("KONBINI_CREDITS_PER_DAY", "1"),
        ("TIKTOK_COOLDOWN_USER_SECS", "0"),
        ("TIKTOK_COOLDOWN_GUILD_SECS", "0"),
    ])
    .await;
    for u in ["fan.one", "fan.two"] {
        w.konbini.set(&format!("GET {}", route(u)), not_live());
    }
    let bot = TestBot::start(&w.discord, &w.vars).await;
    assert!(ask(&w, "fan.one").await.contains("not live"));
    let refused = ask(&w, "fan.two").await;
    assert!(refused.contains("TikTok credits are spent"), "{refused}");
    assert_eq!(w.konbini.hits(&route("fan.two")), 0);
    bot.stop().await;
}
