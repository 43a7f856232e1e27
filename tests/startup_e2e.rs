//! Start-up either works or exits: a failed command registration is
//! retried (5xx) and the bot then serves; one that keeps failing, or that
//! Discord refuses (4xx), ends the process non-zero with a clear message,
//! so a supervisor restarts it instead of a process that stays up deaf.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::bot::TestBot;
use support::discord::{Fault, Invoker};
use support::world::World;

const T: Duration = Duration::from_secs(30);
const REGISTER: &str = "/api/v10/applications/";

fn is_registration(r: &support::discord::Recorded) -> bool {
    r.method == "PUT" && r.path.starts_with(REGISTER) && r.path.ends_with("/commands")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_500_is_retried_then_commands_answer() {
    let w = World::builder().start().await;
    let discord = &w.discord;
    discord.fail_next("PUT", REGISTER, Fault::Server(500), 1);
    let bot = TestBot::start(discord, &w.vars).await;
    discord
        .wait_for(T, "a second registration that succeeds", |d| {
            d.request_count(|r| is_registration(r) && r.status == 200) == 1
        })
        .await;
    assert_eq!(
        discord.request_count(|r| is_registration(r) && r.status == 500),
        1
    );
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    let answer = discord.answer(&p, T).await.to_string();
    assert!(answer.contains("onair"), "/help answered: {answer}");
    discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_lookup_502_at_start_is_retried() {
    let w = World::builder().start().await;
    let discord = &w.discord;
    discord.fail_next("GET", "/api/v10/gateway/bot", Fault::Server(502), 2);
    let bot = TestBot::start(discord, &w.vars).await;
    assert_eq!(
        discord.request_count(|r| r.path == "/api/v10/gateway/bot" && r.status == 502),
        2
    );
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    discord.answer(&p, T).await;
    bot.stop().await;
}

async fn run_binary_until_exit(
    vars: &HashMap<String, String>,
    dir: &std::path::Path,
) -> (std::process::ExitStatus, String) {
    let mut child = support::bot::spawn_binary(vars, dir, "info");
    child.exit(T).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_failing_past_the_budget_exits_non_zero() {
    let w = World::builder().var("STARTUP_RETRY_SECS", 3).start().await;
    let discord = &w.discord;
    discord.fail_next("PUT", REGISTER, Fault::Server(502), usize::MAX);
    let (status, log) = run_binary_until_exit(&w.vars, w.dir.path()).await;
    assert!(!status.success(), "non-zero exit: {status:?}\n{log}");
    assert!(
        log.contains("command registration failed") && log.contains("giving up"),
        "{log}"
    );
    let attempts = discord.request_count(is_registration);
    assert!(attempts >= 3, "retried before giving up ({attempts})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refused_is_not_retried_and_names_the_field() {
    let w = World::builder().start().await;
    let discord = &w.discord;
    discord.fail_next(
        "PUT",
        REGISTER,
        Fault::Body {
            status: 400,
            body: json!({
                "code": 50035, "message": "Invalid Form Body",
                "errors": {"1": {"options": {"0": {"description": {"_errors": [
                    {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
                ]}}}}}
            }),
        },
        usize::MAX,
    );
    let (status, log) = run_binary_until_exit(&w.vars, w.dir.path()).await;
    assert!(!status.success(), "non-zero exit: {status:?}\n{log}");
    assert_eq!(discord.request_count(is_registration), 1, "not retried");
    let names: Vec<String> = onair::commands::all()
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert!(
        log.contains(&format!("command /{}", names[1]))
            && log.contains("field `description`")
            && log.contains("Must be between 1 and 100"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_one_sqlite_file_refuses_to_start() {
    let w = World::builder().start().await;
    let (discord, vars, dir) = (&w.discord, &w.vars, &w.dir);
    let mut first = support::bot::spawn_binary(vars, dir.path(), "warn");
    discord.wait_ready(T).await;
    support::bot::wait_registered_with(discord, vars).await;

    let second_dir = tempfile::tempdir().unwrap();
    let (status, log) = run_binary_until_exit(vars, second_dir.path()).await;
    assert!(
        !status.success(),
        "the second process exits non-zero: {status:?}\n{log}"
    );
    assert!(
        log.contains("another onair process is already running") && log.contains("postgres://"),
        "says why and what to do instead: {log}"
    );
    assert_eq!(
        discord.identified_count(),
        1,
        "the second never reached Discord"
    );
    let p = discord.slash("help", json!([]), None, &Invoker::default());
    assert!(
        discord.answer(&p, T).await.to_string().contains("onair"),
        "the first still serves"
    );

    // The claim dies with its process: after a SIGKILL the next start works.
    first.start_kill().unwrap();
    let _ = tokio::time::timeout(T, first.wait()).await;
    let mut third = support::bot::spawn_binary(vars, dir.path(), "warn");
    discord.wait_identified(2, T).await;
    third.start_kill().unwrap();
    let _ = tokio::time::timeout(T, third.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsplit_it_runs_every_shard_discord_recommends() {
    // A guild on shard 1 of 2: its commands reach only that shard's session.
    let guild = (1u64 << 22) | 5;
    let w = World::builder()
        .guild(support::discord::GuildSpec::new(guild, &[guild + 1]))
        .start()
        .await;
    let discord = &w.discord;
    discord.set_recommended_shards(2);
    let bot = TestBot::start(discord, &w.vars).await;
    discord.wait_shards(0..2, 2, T).await;
    let who = Invoker {
        guild_id: guild,
        channel_id: guild + 1,
        ..Invoker::default()
    };
    let p = discord.slash("help", json!([]), None, &who);
    assert!(discord.answer(&p, T).await.to_string().contains("onair"));
    bot.stop().await;
}
