//! The gateway's whole life against a fake that misbehaves as Discord
//! does: op 7 and op 9, a connection that stops acknowledging heartbeats,
//! close codes that mean "start again" or "stop", a gateway that keeps
//! refusing the bot, SIGTERM in the middle of it, and too few session
//! starts left for the day.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::discord::{FakeDiscord, Invoker};
use support::world::World;

const T: Duration = Duration::from_secs(30);

/// `/help` is answered: the bot hears and answers on its session.
async fn answers_help(discord: &FakeDiscord) {
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    let answer = discord.answer(&p, T).await.to_string();
    assert!(answer.contains("onair"), "{answer}");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op7_reconnect_is_resumed_and_a_command_sent_meanwhile_is_answered() {
    let mut w = World::builder().bot().start().await;
    let discord = &w.discord;
    discord.send_reconnect();
    // Sent while the bot moves to a new connection: the RESUME replays it.
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    discord.wait_resumed(1, T).await;
    let answer = discord.answer(&p, T).await.to_string();
    assert!(answer.contains("onair"), "{answer}");
    assert_eq!(discord.identified_count(), 1, "resumed, not a new session");
    assert!(discord.invalid_sessions().is_empty());
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op9_invalid_session_starts_a_new_session() {
    let mut w = World::builder().bot().start().await;
    let discord = &w.discord;
    discord.send_invalid_session(false);
    discord.wait_identified(2, T).await;
    answers_help(discord).await;
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_connection_is_replaced_within_two_heartbeat_intervals() {
    // Discord's is about 41 s; 3 s keeps the test short.
    let every = Duration::from_secs(3);
    let mut w = World::builder().start().await;
    w.discord.set_heartbeat_interval(every);
    w.start_bot().await;
    let discord = &w.discord;
    let connections = discord.gateway_connections();
    discord.set_zombie(true);
    let since = Instant::now();
    discord
        .wait_connections(connections + 1, every * 2 + Duration::from_millis(1500))
        .await;
    let replaced_after = since.elapsed();
    discord.set_zombie(false);
    // Closed with a resumable code: the session goes on where it was.
    discord.wait_resumed(1, T).await;
    assert_eq!(discord.identified_count(), 1, "resumed, not a new session");
    answers_help(discord).await;
    eprintln!("zombie replaced after {replaced_after:?} (heartbeat every {every:?})");
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4009_and_4007_start_a_new_session_each() {
    let mut w = World::builder().bot().start().await;
    let discord = &w.discord;
    discord.close_gateway(4009, "Session timed out.");
    discord.wait_identified(2, T).await;
    answers_help(discord).await;
    // After 4007 serenity 0.12 tries a RESUME: the session is gone, so the
    // fake answers op 9, as Discord does, and the bot identifies.
    discord.close_gateway(4007, "Invalid seq.");
    discord.wait_identified(3, T).await;
    answers_help(discord).await;
    assert_eq!(discord.gateway_closes(), vec![4009, 4007]);
    w.stop_bot().await;
}

/// Run the binary against a gateway that answers IDENTIFY with `close`:
/// it must end by itself, non-zero; its log.
async fn exit_on_close(code: u16, reason: &str) -> String {
    let w = World::builder().start().await;
    w.discord.refuse_identify(Some((code, reason)));
    let mut bot = support::bot::spawn_binary(&w.vars, w.dir.path(), "info");
    let (status, log) = bot.exit(T).await;
    assert!(!status.success(), "non-zero exit: {status:?}\n{log}");
    assert_eq!(
        w.discord.gateway_closes(),
        vec![code],
        "one try: reconnecting cannot help"
    );
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4004_ends_the_process_non_zero_naming_the_token() {
    let log = exit_on_close(4004, "Authentication failed.").await;
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("ERROR") && last.contains("DISCORD_TOKEN") && last.contains("4004"),
        "the last line says what to fix: {last}\n{log}"
    );
    assert!(
        last.contains("Authentication failed."),
        "Discord's reason: {last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4014_ends_the_process_non_zero_naming_the_intent() {
    let log = exit_on_close(4014, "Disallowed intent(s).").await;
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("ERROR")
            && last.contains("Privileged Gateway Intents")
            && last.contains("Guilds intent")
            && last.contains("4014"),
        "the last line names the intent and where to look: {last}\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4013_ends_the_process_non_zero_naming_the_intents() {
    let log = exit_on_close(4013, "Invalid intent(s).").await;
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("ERROR") && last.contains("intents") && last.contains("4013"),
        "{last}\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_keeps_closing_is_an_error_with_its_code_and_reason_and_counted_in_metrics()
{
    let port = free_port();
    let w = World::builder()
        .var("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .start()
        .await;
    w.discord
        .refuse_identify(Some((4000, "the gateway is overloaded")));
    let bot = support::bot::spawn_binary(&w.vars, w.dir.path(), "info");
    let line = bot
        .wait_log(Duration::from_secs(60), "an error line", |l| {
            l.contains("ERROR") && l.contains("gateway")
        })
        .await;
    assert!(
        line.contains("code=4000")
            && line.contains("the gateway is overloaded")
            && line.contains("in_a_row=3"),
        "code, reason and how many in a row: {line}"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    let closes: f64 = metrics
        .lines()
        .find(|l| l.starts_with("onair_gateway_closes_total{code=\"4000\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("closes counted by code:\n{metrics}"));
    assert!(closes >= 3.0, "{closes} closes counted");
    assert_eq!(w.discord.identified_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_gateway_reconnect_loop_ends_the_process_cleanly_within_ten_seconds() {
    let w = World::builder().start().await;
    w.discord.refuse_identify(Some((4000, "try again")));
    let mut bot = support::bot::spawn_binary(&w.vars, w.dir.path(), "info");
    w.discord.wait_connections(2, T).await;
    let sent = Instant::now();
    bot.sigterm();
    let (status, log) = bot.exit(Duration::from_secs(10)).await;
    let took = sent.elapsed();
    assert!(status.success(), "a clean exit: {status:?}\n{log}");
    assert!(
        took < onair::bot::SHUTDOWN_DEADLINE,
        "ended in {took:?}, within the stated deadline\n{log}"
    );
    eprintln!("SIGTERM to exit: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_session_starts_means_no_identify_until_the_reset_named_in_the_log() {
    let w = World::builder().start().await;
    let reset_after = Duration::from_secs(4);
    // Ten is the reserve: one start needed plus ten kept is eleven.
    w.discord.set_session_starts(1000, 10, reset_after);
    let bot = support::bot::spawn_binary(&w.vars, w.dir.path(), "info");
    let line = bot
        .wait_log(T, "the wait for the reset", |l| {
            l.contains("too few session starts")
        })
        .await;
    assert!(
        line.contains("remaining=10") && line.contains("resets them at 20"),
        "says how many and when: {line}"
    );
    assert_eq!(w.discord.gateway_connections(), 0, "no connection spent");
    assert_eq!(w.discord.identified_count(), 0);
    // After the reset the day's starts are back: it connects.
    w.discord.wait_ready(T).await;
    support::bot::wait_registered_with(&w.discord, &w.vars).await;
    answers_help(&w.discord).await;
    assert_eq!(w.discord.session_starts_remaining(), 999);
}
