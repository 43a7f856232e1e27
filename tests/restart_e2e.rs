//! Crash and restart: the bot binary is killed with SIGKILL in the middle
//! of a fan-out and started again on the same database. Every channel ends
//! with exactly one announcement, and a stream that ended while the bot was
//! down still gets its end edit. Run on SQLite and on PostgreSQL.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use onair::store::NewSubscription;
use serde_json::json;
use support::discord::{FakeDiscord, GuildSpec, GUILD_ID};
use support::fake_providers::{FakeProvider, Reply};

const T: Duration = Duration::from_secs(30);

fn spawn_bot(vars: &HashMap<String, String>, dir: &std::path::Path) -> tokio::process::Child {
    support::bot::spawn_binary(vars, dir, "warn", std::process::Stdio::null())
}

async fn sigkill(child: &mut tokio::process::Child) {
    child.start_kill().expect("SIGKILL");
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_fanout_and_restarted_sends_each_message_once() {
    killed_mid_fanout_and_restarted(None).await;
}

/// The same crash and restarts with the bot on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_killed_mid_fanout_and_restarted_sends_each_message_once() {
    let Some(db) = support::pg::fresh_database("restart_on_postgres").await else {
        return;
    };
    killed_mid_fanout_and_restarted(Some(db.url.clone())).await;
}

/// `database`: a PostgreSQL URL, or `None` for the default SQLite file.
async fn killed_mid_fanout_and_restarted(database: Option<String>) {
    let discord = FakeDiscord::start().await;
    let jkt = FakeProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = support::bot::env(&discord, dir.path());
    if let Some(url) = database {
        vars.insert("DATABASE_URL".into(), url);
    }
    support::bot::use_jkt(&mut vars, &jkt);
    vars.insert("DISCORD_GLOBAL_RPS".into(), "20".into());
    vars.insert("END_GRACE_SECS".into(), "2".into());
    let channels: Vec<u64> = (0..60).map(|i| 7000 + i).collect();
    discord.add_guild(GuildSpec::new(GUILD_ID, &channels));
    {
        let store = onair::store::connect(&vars["DATABASE_URL"]).await.unwrap();
        for c in &channels {
            store
                .add_subscription(NewSubscription {
                    guild_id: GUILD_ID,
                    channel_id: *c,
                    created_by: 1,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }

    let mut first = spawn_bot(&vars, dir.path());
    discord.wait_ready(T).await;
    jkt.set(
        "GET /api/jkt48/live",
        Reply::json(support::fake_providers::fritzy_live(
            "2025-04-06T12:03:58.000Z",
        )),
    );
    // Kill it mid-fan-out (20 messages/s, 60 channels).
    discord
        .wait_for(T, "the fan-out to start", |d| d.all_messages().len() >= 10)
        .await;
    sigkill(&mut first).await;
    let sent_before = discord.all_messages().len();
    assert!(sent_before < 60, "killed mid-fan-out ({sent_before} sent)");

    let mut second = spawn_bot(&vars, dir.path());
    discord.wait_identified(2, T).await;
    discord
        .wait_for(T, "every channel announced", |d| {
            channels.iter().all(|c| !d.messages(*c).is_empty())
        })
        .await;
    // Two more polls: a duplicate would show by then.
    jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    for c in &channels {
        assert_eq!(
            discord.messages(*c).len(),
            1,
            "channel {c}: exactly one message"
        );
    }

    // The stream ends while no bot runs; the next start edits every message.
    sigkill(&mut second).await;
    jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    let mut third = spawn_bot(&vars, dir.path());
    discord.wait_identified(3, T).await;
    discord
        .wait_for(T, "end edits after the restart", |d| {
            channels
                .iter()
                .all(|c| d.messages(*c).first().is_some_and(|m| m.edits == 1))
        })
        .await;
    for c in &channels {
        assert_eq!(discord.messages(*c).len(), 1, "still one message in {c}");
    }
    discord.assert_spec_clean();
    sigkill(&mut third).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly() {
    let discord = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let vars = support::bot::env(&discord, dir.path());
    let mut child = spawn_bot(&vars, dir.path());
    discord.wait_ready(T).await;
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within 10 s of SIGTERM")
        .expect("exit status");
    assert_eq!(exit.code(), Some(0), "clean exit");
}
