//! For the fan who missed it, wherever they are: `/recent` from the store
//! (it survives a restart), and `/live`, `/recent`, `/tiktok` installable
//! to a fan's own account and usable in DMs and in servers that have not
//! added the bot (there privately); admin commands stay in servers.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{Invoker, GUILD_ID};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const CH: u64 = 51;

fn member(name: &str, room: u64, viewers: u64, minutes_ago: i64) -> Value {
    let start = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    json!({
        "name": name, "url_key": format!("jkt48_{}", name.to_lowercase()), "slug": "s",
        "room_id": room, "started_at": start, "type": "idn", "title": "Hi", "viewers": viewers,
        "streaming_url_list": [{"label": "original", "quality": 1, "url": format!("https://cdn.test/{room}.m3u8")}]
    })
}

/// JKT48Connect wired, a one-second end grace, channel CH subscribed to
/// everything.
async fn setup() -> World {
    World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .channels(&[CH])
        .subscribe(&[CH])
        .start()
        .await
}

/// The `/recent` answer's lines.
fn recent_lines(answer: &Value) -> Vec<String> {
    answer["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_lives_ended_then_a_restart_recent_lists_all_three() {
    let w = setup().await;
    let (d, provider, vars) = (&w.discord, &w.jkt, &w.vars);
    let bot = TestBot::start(d, vars).await;
    provider.set(
        LIVE,
        Reply::json(json!([
            member("Fritzy", 510011, 800, 72),
            member("Gracia", 510012, 1_500, 30),
            member("Freya", 510013, 50, 5)
        ])),
    );
    d.wait_for(T, "three announcements", |d| d.messages(CH).len() == 3)
        .await;
    provider.set(
        LIVE,
        Reply::json(json!([
            member("Fritzy", 510011, 2_300, 72),
            member("Gracia", 510012, 900, 30),
            member("Freya", 510013, 40, 5)
        ])),
    );
    provider.wait_more_hits("/api/jkt48/live", 2, T).await;
    provider.set(LIVE, Reply::json(json!([])));
    d.wait_for(T, "three recaps", |d| {
        d.messages(CH).iter().all(|m| m.edits >= 1)
    })
    .await;
    bot.stop().await;

    // A new process: what /recent knows comes from the store.
    let bot = TestBot::start(d, vars).await;
    d.wait_identified(2, T).await;
    let p = d.slash("recent", json!([]), None, &Invoker::default());
    let answer = d.answer(&p, T).await;
    let lines = recent_lines(&answer);
    assert_eq!(lines.len(), 3, "{answer}");
    let of = |name: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("**{name}**")))
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {lines:?}"))
    };
    let fritzy = of("Fritzy");
    assert!(
        fritzy.contains("IDN Live") && fritzy.contains("1 h 12 min"),
        "{fritzy}"
    );
    assert!(fritzy.contains("peak 2.3k"), "{fritzy}");
    assert!(of("Gracia").contains("30 min") && of("Gracia").contains("peak 1.5k"));
    assert!(of("Freya").contains("5 min") && of("Freya").contains("peak 50"));
    assert!(fritzy.contains("ended <t:"), "{fritzy}");

    // Filtered by member.
    let p = d.slash(
        "recent",
        json!([{"name": "member", "type": 3, "value": "gra"}]),
        None,
        &Invoker::default(),
    );
    let lines = recent_lines(&d.answer(&p, T).await);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("Gracia"));
    d.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_live_recent_tiktok_schedule_and_birthdays_are_user_installable() {
    for dev_guild in [false, true] {
        let mut w = setup().await;
        if dev_guild {
            w.vars.insert("DEV_GUILD_ID".into(), GUILD_ID.to_string());
        }
        let (d, vars) = (&w.discord, &w.vars);
        let bot = TestBot::start(d, vars).await;
        let reg = d
            .wait_request(T, "command registration", |r| {
                r.method == "PUT" && r.path.ends_with("/commands")
            })
            .await;
        let commands = reg.body.unwrap();
        let names: Vec<&str> = commands
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert!(names.contains(&"recent"), "{names:?}");
        for c in commands.as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let anywhere = ["live", "recent", "tiktok", "schedule", "birthdays"].contains(&name);
            if dev_guild {
                // A guild's commands are that guild's: the fields are only
                // for globally-scoped commands.
                assert!(c.get("integration_types").is_none(), "{c}");
                assert!(c.get("contexts").is_none(), "{c}");
            } else if anywhere {
                assert_eq!(c["integration_types"], json!([0, 1]), "{name}");
                assert_eq!(c["contexts"], json!([0, 1, 2]), "{name}");
            } else if [
                "subscribe",
                "subscriptions",
                "unsubscribe",
                "subscription",
                "calendar",
            ]
            .contains(&name)
            {
                // Guild install, used in the guild only.
                assert_eq!(c["integration_types"], json!([0]), "{name}");
                assert_eq!(c["contexts"], json!([0]), "{name}");
            } else {
                assert!(c.get("integration_types").is_none(), "{name}: {c}");
                assert!(c.get("contexts").is_none(), "{name}: {c}");
            }
        }
        d.assert_spec_clean();
        bot.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_asks_in_dms_and_in_a_server_without_the_bot() {
    let w = setup().await;
    let (d, provider, vars) = (&w.discord, &w.jkt, &w.vars);
    provider.set(
        LIVE,
        Reply::json(json!([member("Fritzy", 510011, 800, 10)])),
    );
    let bot = TestBot::start(d, vars).await;
    d.wait_for(T, "the announcement", |d| d.messages(CH).len() == 1)
        .await;

    // In the bot's DMs: a normal (public) answer.
    let p = d.slash_in_dm("live", json!([]), 1_400_000_000_000_000_777);
    let cb = d.callback(&p, T).await.body.unwrap();
    assert_ne!(cb["data"]["flags"], 64, "{cb}");
    assert!(cb["data"]["embeds"].to_string().contains("Fritzy"), "{cb}");

    // In a server that has not added the bot, through the fan's own
    // install: only for the fan.
    let elsewhere = Invoker {
        guild_id: 1_200_000_000_000_000_999,
        channel_id: 1_300_000_000_000_000_999,
        permissions: 0,
        ..Invoker::default()
    };
    let p = d.slash_user_installed("live", json!([]), &elsewhere);
    let cb = d.callback(&p, T).await.body.unwrap();
    assert_eq!(
        cb["data"]["flags"], 64,
        "private where the bot is not: {cb}"
    );
    assert!(cb["data"]["embeds"].to_string().contains("Fritzy"));

    let p = d.slash_user_installed("recent", json!([]), &elsewhere);
    let cb = d.callback(&p, T).await.body.unwrap();
    assert_eq!(cb["data"]["flags"], 64, "{cb}");
    let p = d.slash_in_dm("recent", json!([]), 1_400_000_000_000_000_777);
    let text = d.answer_text(&p, T).await;
    assert_eq!(text, "No live has ended lately.");

    // In a server with the bot: public, as before.
    let p = d.slash("live", json!([]), None, &Invoker::default());
    let cb = d.callback(&p, T).await.body.unwrap();
    assert_ne!(cb["data"]["flags"], 64, "{cb}");
    d.assert_spec_clean();
    bot.stop().await;
}
