//! Operations endpoints of the `onair` binary on HTTP_ADDR: `/healthz`
//! answers as soon as the process is up, `/readyz` only once the gateway is
//! connected and the database answers (and again not when the database goes
//! away), `/metrics` counts what the bot did in Prometheus text.

mod support;

use std::time::Duration;

use support::discord::Fault;
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const CHANNEL: u64 = 7100;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

/// GET `path`: (status, body), or `None` while nothing listens.
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.unwrap_or_default()))
}

/// Wait until GET `path` answers and `ok` holds for the answer.
async fn wait_get(port: u16, path: &str, what: &str, ok: impl Fn(u16, &str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + T;
    let mut last = None;
    loop {
        if let Some((status, body)) = get(port, path).await {
            if ok(status, &body) {
                return body;
            }
            last = Some((status, body));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: last answer to {path}: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `onair ready` against the bot on `port`: (exit code, output).
async fn onair_ready(port: u16) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"))
        .arg("ready")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HTTP_ADDR", format!("0.0.0.0:{port}"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(T, out)
        .await
        .expect("in time")
        .expect("ran");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The value of one sample line (`name{labels} value`) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_readyz_and_metrics() {
    let port = free_port();
    let w = World::builder()
        .jkt()
        .var("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .var("STARTUP_RETRY_SECS", 120)
        .channels(&[CHANNEL])
        .subscribe(&[CHANNEL])
        .start()
        .await;
    let (discord, jkt, vars, dir) = (&w.discord, &w.jkt, &w.vars, &w.dir);
    // The gateway cannot be reached at first: up, but not ready.
    discord.fail_next(
        "GET",
        "/api/v10/gateway/bot",
        Fault::Server(502),
        usize::MAX,
    );
    let mut bot = support::bot::spawn_binary(vars, dir.path(), "info");
    let log_path = bot.log_path.clone();

    wait_get(port, "/healthz", "the process is up", |s, _| s == 200).await;
    discord
        .wait_for(T, "a failed gateway lookup", |d| {
            d.request_count(|r| r.path == "/api/v10/gateway/bot" && r.status == 502) >= 1
        })
        .await;
    let (status, body) = get(port, "/readyz").await.expect("answers");
    assert_eq!(status, 503, "not ready without the gateway: {body}");
    assert!(body.contains("gateway"), "says what is missing: {body}");
    let (code, text) = onair_ready(port).await;
    assert_eq!(code, Some(1), "the healthcheck fails: {text}");

    discord.clear_faults();
    discord.wait_ready(T).await;
    let body = wait_get(port, "/readyz", "ready once connected", |s, _| s == 200).await;
    assert!(body.contains("1 of 1 shards"), "{body}");
    let (code, text) = onair_ready(port).await;
    assert_eq!(code, Some(0), "the healthcheck passes: {text}");

    jkt.set(
        "GET /api/jkt48/live",
        Reply::json(support::fake_providers::fritzy_live(
            "2025-04-06T12:03:58.000Z",
        )),
    );
    discord
        .wait_for(T, "the announcement", |d| d.messages(CHANNEL).len() == 1)
        .await;
    let text = wait_get(port, "/metrics", "the post counted", |s, b| {
        s == 200 && sample(b, "onair_deliveries_sent_total") == Some(1.0)
    })
    .await;
    assert!(
        sample(&text, "onair_polls_total{provider=\"JKT48Connect\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "onair_dispatch_latency_seconds_count"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "onair_leader"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "onair_shards_connected"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "onair_shards"), Some(1.0), "{text}");
    assert!(
        text.contains("# TYPE onair_dispatch_latency_seconds histogram"),
        "{text}"
    );

    // A provider failure is counted by kind.
    jkt.set(
        "GET /api/jkt48/live",
        Reply::json_status(500, serde_json::json!({"message": "down for maintenance"})),
    );
    wait_get(port, "/metrics", "the provider error counted", |_, b| {
        sample(
            b,
            "onair_provider_errors_total{provider=\"JKT48Connect\",kind=\"status\"}",
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await;

    bot.start_kill().unwrap();
    let _ = tokio::time::timeout(T, bot.wait()).await;
    // Gone with its process.
    assert!(get(port, "/healthz").await.is_none());
    // The start logged where to invite the bot.
    let log = std::fs::read_to_string(&log_path).unwrap();
    let invite = format!(
        "client_id={}&scope=bot+applications.commands&permissions=84992",
        support::discord::APP_ID
    );
    assert!(log.contains(&invite), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database() {
    let Some(db) = support::pg::fresh_database("readyz_follows_the_database").await else {
        return;
    };
    let port = free_port();
    let w = World::builder()
        .postgres(db)
        .var("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .start()
        .await;
    let (discord, db) = (&w.discord, w.db());
    let mut bot = support::bot::spawn_binary(&w.vars, w.dir.path(), "warn");
    discord.wait_ready(T).await;
    wait_get(port, "/readyz", "ready", |s, _| s == 200).await;

    db.cut_off().await;
    let body = wait_get(port, "/readyz", "not ready without the database", |s, _| {
        s == 503
    })
    .await;
    assert!(body.contains("database"), "{body}");
    assert_eq!(
        get(port, "/healthz").await.map(|a| a.0),
        Some(200),
        "still alive"
    );

    db.restore().await;
    wait_get(port, "/readyz", "ready again", |s, _| s == 200).await;
    bot.start_kill().unwrap();
    let _ = tokio::time::timeout(T, bot.wait()).await;
}
