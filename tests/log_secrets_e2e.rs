//! The release path, not a test double: the `onair` binary runs at
//! `RUST_LOG=trace` against the fakes (gateway IDENTIFY, an announcement,
//! a `/stream create` reply that carries a stream key, provider polls with
//! keys), and its whole log is searched for every secret, plainly and in
//! every byte array a library printed, decoded.

mod support;

use std::time::Duration;

use serde_json::json;
use support::discord::{Invoker, CHANNEL_ID, GUILD_ID};
use support::fake_providers::Reply;
use support::secrets::find_leak;
use support::world::{World, WorldBuilder};

const T: Duration = Duration::from_secs(30);
const STREAM_KEY: &str = "SK-STREAM-KEY-SECRET-789";

/// JKT48Connect wired, one channel subscribed to everything.
fn world() -> WorldBuilder {
    World::builder()
        .jkt()
        .channels(&[CHANNEL_ID])
        .subscribe(&[CHANNEL_ID])
}

/// Start the binary at `RUST_LOG=rust_log` (log in the world's directory)
/// and let one member go live: returns once it is announced.
async fn announce_at_trace(
    w: &World,
    rust_log: &str,
) -> (support::bot::Binary, std::path::PathBuf) {
    let (discord, jkt, vars, dir) = (&w.discord, &w.jkt, &w.vars, w.dir.path());
    let child = support::bot::spawn_binary(vars, dir, rust_log);
    let log_path = child.log_path.clone();
    discord.wait_ready(T).await;
    support::bot::wait_registered_with(discord, vars).await;
    jkt.set(
        "GET /api/jkt48/live",
        Reply::json(support::fake_providers::fritzy_live(
            "2025-04-06T12:03:58.000Z",
        )),
    );
    discord
        .wait_for(T, "the announcement", |d| {
            !d.messages(CHANNEL_ID).is_empty()
        })
        .await;
    (child, log_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_at_trace_logs_no_secret_even_as_bytes() {
    binary_logs_no_secret("trace").await;
}

/// `RUST_LOG=trace` plus a directive for every capped target and the
/// modules under them (a more specific directive wins in `RUST_LOG`), and
/// for serenity's `request` span by name: the caps still hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_with_every_capped_target_opened_in_rust_log_logs_no_secret() {
    const DEEPER: &[&str] = &[
        "tungstenite::protocol",
        "tungstenite::protocol::frame",
        "tungstenite::protocol::frame::frame",
        "tungstenite::handshake::client",
        "tokio_tungstenite::compat",
        "serenity::http::client",
        "serenity::http::request",
        "serenity::http::ratelimiting",
        "serenity::http::routing",
    ];
    let mut spec = vec!["trace".to_string(), "[request]=trace".to_string()];
    for (target, _) in onair::logging::CAPS {
        spec.push(format!("{target}=trace"));
    }
    spec.extend(DEEPER.iter().map(|t| format!("{t}=trace")));
    binary_logs_no_secret(&spec.join(",")).await;
}

async fn binary_logs_no_secret(rust_log: &str) {
    let w = world()
        .cloudflare()
        .var("DEV_GUILD_ID", GUILD_ID)
        .var("OPERATOR_GUILD_IDS", GUILD_ID)
        .start()
        .await;
    let (discord, cf, vars) = (&w.discord, &w.cf, &w.vars);
    let base = "/accounts/acc1/realtime/kit/app1";
    cf.set(
        &format!("GET {base}/livestreams"),
        Reply::json(json!({"success": true, "data": []})),
    );
    cf.set(
        &format!("POST {base}/livestreams"),
        Reply::json_status(
            201,
            json!({"success": true, "data": {
                "id": "ls-new", "name": "Theater", "status": "IDLE", "disabled": "false",
                "meeting_id": null, "ingest_server": "rtmps://live.cf.test:443/live/",
                "stream_key": STREAM_KEY, "playback_url": "https://play.cf.test/ls-new.m3u8",
                "created_at": "2026-11-24T10:00:00.000Z", "updated_at": "2026-11-24T10:00:00.000Z"
            }}),
        ),
    );
    // An announcement (a POST with a body), a poll with a key in its query.
    let (mut child, log_path) = announce_at_trace(&w, rust_log).await;
    // A reply that carries the stream key (ephemeral, through serenity).
    let p = discord.subcommand(
        "stream",
        "create",
        json!([{"name": "name", "type": 3, "value": "Theater"}]),
        &Invoker::default(),
    );
    let answer = discord.answer(&p, T).await.to_string();
    assert!(
        answer.contains(STREAM_KEY),
        "the admin sees the key: {answer}"
    );

    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = tokio::time::timeout(T, child.wait())
        .await
        .expect("the bot stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "clean exit: {exit:?}");

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.lines().filter(|l| l.contains("TRACE")).count() > 10,
        "the binary really logged at trace:\n{}",
        &text[..text.len().min(2000)]
    );
    let mut secrets = support::bot::secrets_of(vars);
    secrets.push(STREAM_KEY.into());
    secrets.push(format!("Bot {}", support::bot::TOKEN));
    if let Some(leak) = find_leak(&text, &secrets) {
        panic!("secret in the binary's trace log: {leak}");
    }
}

/// The scan itself can fail: a token printed as a byte array is found.
#[test]
fn scan_finds_plain_and_byte_array_secrets() {
    let secrets = vec!["Bot SECRET-TOKEN".to_string()];
    assert!(find_leak("all fine here [1, 2, 3]", &secrets).is_none());
    assert!(find_leak("x Bot SECRET-TOKEN y", &secrets).is_some());
    let frame = r#"{"op":2,"d":{"token":"Bot SECRET-TOKEN"}}"#;
    let arr = frame
        .bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let line = format!("TRACE tungstenite: sending frame payload: [{arr}] rest");
    let leak = find_leak(&line, &secrets).expect("decoded byte array found");
    assert!(leak.contains("byte array"), "{leak}");
}

/// On PostgreSQL (the store, the leader lock, the snapshot listener) the
/// database password never reaches the trace log either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_on_postgres_at_trace_logs_no_database_password() {
    const PASSWORD: &str = "PG-PASSWORD-SECRET-55";
    let Some(db) = support::pg::fresh_database("log_secrets_pg").await else {
        return;
    };
    // The test cluster trusts local connections: the password is carried,
    // never checked, which is all this test needs.
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    let w = world().postgres(db).var("DATABASE_URL", url).start().await;
    // Announced: the leader won its lock and shared its snapshot by then.
    let (mut child, log_path) = announce_at_trace(&w, "trace").await;
    let pid = child.id().expect("running");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill -TERM");
    let _ = tokio::time::timeout(T, child.wait()).await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains("leading"), "ran as the leader on PostgreSQL");
    let mut secrets = support::bot::secrets_of(&w.vars);
    secrets.push(PASSWORD.into());
    if let Some(leak) = find_leak(&text, &secrets) {
        panic!("secret in the binary's trace log: {leak}");
    }
}
