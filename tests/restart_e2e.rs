//! Crash and restart: the bot binary is killed with SIGKILL in the middle
//! of a fan-out and started again on the same database. Every channel ends
//! with exactly one announcement, and a stream that ended while the bot was
//! down still gets its end edit. Run on SQLite and on PostgreSQL.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::fake_providers::Reply;
use support::pg::TestDb;
use support::world::World;

const T: Duration = Duration::from_secs(30);

fn spawn_bot(vars: &HashMap<String, String>, dir: &std::path::Path) -> support::bot::Binary {
    support::bot::spawn_binary(vars, dir, "warn")
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
    killed_mid_fanout_and_restarted(Some(db)).await;
}

/// `db`: a PostgreSQL database, or `None` for the default SQLite file.
async fn killed_mid_fanout_and_restarted(db: Option<TestDb>) {
    let channels: Vec<u64> = (0..60).map(|i| 7000 + i).collect();
    let mut world = World::builder()
        .jkt()
        .var("DISCORD_GLOBAL_RPS", 20)
        .var("END_GRACE_SECS", 2)
        .channels(&channels)
        .subscribe(&channels);
    if let Some(db) = db {
        world = world.postgres(db);
    }
    let w = world.start().await;
    let (discord, jkt, vars, dir) = (&w.discord, &w.jkt, &w.vars, &w.dir);

    let mut first = spawn_bot(vars, dir.path());
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

    let mut second = spawn_bot(vars, dir.path());
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
    let mut third = spawn_bot(vars, dir.path());
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
    let w = World::builder().start().await;
    let (discord, vars, dir) = (&w.discord, &w.vars, &w.dir);
    let mut child = spawn_bot(vars, dir.path());
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
