//! The gateway's whole life against a fake that misbehaves as Discord
//! does: op 7 and op 9, a connection that stops acknowledging heartbeats,
//! close codes that mean "start again" or "stop", a gateway that keeps
//! refusing the bot, SIGTERM in the middle of it, and too few session
//! starts left for the day. And the fake's guild lifecycle: READY lists
//! the shard's guilds as unavailable, a GUILD_CREATE follows for each,
//! and one again when a guild is back from an outage.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::discord::{
    FakeDiscord, GuildSpec, Invoker, RoleSpec, BOT_ID, GUILD_ID, MANAGE_WEBHOOKS, SEND_MESSAGES,
};
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

/// The next dispatch (op 0) on a raw gateway connection, skipping HELLO
/// and heartbeat ACKs.
async fn next_dispatch<S>(ws: &mut S) -> serde_json::Value
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    loop {
        let frame = tokio::time::timeout(T, ws.next())
            .await
            .expect("a frame in time")
            .expect("the connection open")
            .expect("a frame");
        let Ok(text) = frame.to_text() else { continue };
        let v: serde_json::Value = serde_json::from_str(text).expect("JSON");
        if v["op"] == 0 {
            return v;
        }
    }
}

/// IDENTIFY as shard `shard` on a raw connection; its READY.
async fn identify(
    discord: &FakeDiscord,
    shard: [u64; 2],
) -> (
    impl futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
    serde_json::Value,
) {
    use futures::SinkExt;
    use futures::StreamExt;
    let (ws, _) = tokio_tungstenite::connect_async(discord.gateway_url())
        .await
        .expect("the fake gateway accepts");
    let (mut tx, mut rx) = ws.split();
    let identify = json!({"op": 2, "d": {"token": "x", "intents": 1, "shard": shard,
        "properties": {"os": "linux", "browser": "x", "device": "x"}}});
    tx.send(tokio_tungstenite::tungstenite::Message::text(
        identify.to_string(),
    ))
    .await
    .expect("IDENTIFY sent");
    let ready = next_dispatch(&mut rx).await;
    assert_eq!(ready["t"], "READY");
    // Keep the writing half open while the test reads.
    tokio::spawn(async move {
        let _tx = tx;
        std::future::pending::<()>().await
    });
    (rx, ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_lists_the_shards_guilds_unavailable_then_a_guild_create_follows_for_each_and_after_an_outage_guild_back_sends_it_again(
) {
    const LEFT: u64 = 1200000000000000901;
    const SECOND: u64 = 1200000000000000902;
    let discord = FakeDiscord::start().await;
    // Two shards identify at once below: one per bucket.
    discord.set_max_concurrency(2);
    let mut left = GuildSpec::new(LEFT, &[1300000000000000901]);
    left.name = "left".into();
    discord.add_guild(left);
    discord.remove_bot_from(LEFT);
    let mut second = GuildSpec::new(SECOND, &[1300000000000000902])
        .bot_role(RoleSpec::new(1900000000000000901, "Bots").permissions(MANAGE_WEBHOOKS));
    second.channel_mut(1300000000000000902).deny_everyone = SEND_MESSAGES;
    discord.add_guild(second);

    let (mut rx, ready) = identify(&discord, [0, 1]).await;
    let listed: Vec<&str> = ready["d"]["guilds"]
        .as_array()
        .expect("guilds")
        .iter()
        .map(|g| {
            assert_eq!(g["unavailable"], true, "{g}");
            g["id"].as_str().expect("an id")
        })
        .collect();
    let (first, second) = (GUILD_ID.to_string(), SECOND.to_string());
    assert_eq!(
        listed,
        [first.as_str(), second.as_str()],
        "not the one it left"
    );
    let mut created = vec![];
    for _ in 0..2 {
        let d = next_dispatch(&mut rx).await;
        assert_eq!(d["t"], "GUILD_CREATE");
        assert!(d["s"].as_u64() > ready["s"].as_u64(), "after READY");
        created.push(d["d"].clone());
    }
    assert_eq!(created[0]["id"], first.as_str());
    let g = &created[1];
    assert_eq!(g["id"], second.as_str());
    let roles: Vec<&str> = g["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["permissions"].as_str().expect("permissions as a string"))
        .collect();
    assert_eq!(roles.len(), 2, "@everyone and the bot's role");
    assert_eq!(roles[1], MANAGE_WEBHOOKS.to_string());
    let bot = g["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["id"].as_str() == Some(BOT_ID.to_string().as_str()))
        .expect("the bot's membership");
    assert_eq!(bot["roles"], json!(["1900000000000000901"]));
    assert_eq!(
        g["channels"][0]["permission_overwrites"],
        json!([{"id": second, "type": 0, "allow": "0", "deny": SEND_MESSAGES.to_string()}])
    );

    // A shard sees only its own guilds.
    let on_one: Vec<u64> = [GUILD_ID, SECOND]
        .into_iter()
        .filter(|g| support::discord::on_shard(Some(*g), [1, 2]))
        .collect();
    let (_, ready) = identify(&discord, [1, 2]).await;
    let listed: Vec<u64> = ready["d"]["guilds"]
        .as_array()
        .expect("guilds")
        .iter()
        .filter_map(|g| g["id"].as_str()?.parse().ok())
        .collect();
    assert_eq!(listed, on_one);

    // An outage, then the guild is back.
    discord.guild_outage(SECOND);
    let d = next_dispatch(&mut rx).await;
    assert_eq!(
        (d["t"].as_str(), d["d"]["unavailable"].as_bool()),
        (Some("GUILD_DELETE"), Some(true))
    );
    discord.guild_back(SECOND);
    let d = next_dispatch(&mut rx).await;
    assert_eq!(
        (d["t"].as_str(), d["d"]["id"].as_str()),
        (Some("GUILD_CREATE"), Some(second.as_str()))
    );
}
