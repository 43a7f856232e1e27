//! The `onair` binary in a terminal: `onair live` against a local
//! JKT48Connect-shaped server, `onair check`, and exit codes.

mod support;

use std::process::Output;
use std::time::Duration;

use serde_json::json;
use support::fake_providers::{FakeProvider, Reply};

/// Run the real binary with only the given variables (no inherited
/// provider keys, no `.env` from the developer's checkout).
async fn onair(args: &[&str], env: &[(&str, String)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    onair_in(dir.path(), args, env).await
}

/// [`onair`] in `dir` (where its `sqlite://onair.db` lives).
async fn onair_in(dir: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("onair finished in time")
        .expect("onair ran")
}

fn live_body() -> serde_json::Value {
    json!([
        {
            "name": "Fritzy", "img": "https://cdn.test/fritzy.jpg",
            "img_alt": "https://cdn.test/fritzy-avatar.webp",
            "url_key": "jkt48_fritzy", "slug": "yuk-diborong-250406190348",
            "room_id": 510011, "is_graduate": false, "is_group": false,
            "chat_room_id": null, "started_at": "2025-04-06T12:03:58.000Z",
            "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/fritzy.m3u8"}],
            "type": "idn"
        },
        {
            "name": "Gracia", "img": "https://cdn.test/gracia.jpg", "url_key": "jkt48_gracia",
            "room_id": "317727", "started_at": 1743941000,
            "streaming_url_list": [{"label": "720p", "quality": 2, "url": "https://cdn.test/gracia-720.m3u8"}],
            "type": "showroom"
        },
        "garbage entry",
        {"name": "Nobody", "type": "twitch", "room_id": 1}
    ])
}

#[tokio::test]
async fn live_prints_each_member_with_platform_start_and_hls() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/jkt48/live", Reply::json(live_body()));
    let out = onair(
        &["live"],
        &[
            ("JKT48CONNECT_API_KEY", "KEY-IN-CLI-TEST".into()),
            ("JKT48CONNECT_URL", fake.url()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let fritzy = stdout
        .lines()
        .find(|l| l.starts_with("Fritzy"))
        .expect("Fritzy row");
    assert!(fritzy.contains("IDN Live"), "{fritzy}");
    assert!(fritzy.contains("2025-04-06 12:03 UTC"), "{fritzy}");
    assert!(fritzy.ends_with("https://cdn.test/fritzy.m3u8"), "{fritzy}");
    let gracia = stdout
        .lines()
        .find(|l| l.starts_with("Gracia"))
        .expect("Gracia row");
    assert!(gracia.contains("Showroom") && gracia.ends_with("https://cdn.test/gracia-720.m3u8"));
    assert!(stdout.contains("2 live"), "{stdout}");
    assert!(!stdout.contains("Nobody"));
    assert!(!stdout.contains("KEY-IN-CLI-TEST") && !stderr.contains("KEY-IN-CLI-TEST"));
    // The key went in the query, as JKT48Connect wants it.
    let req = &fake.requests_to("/api/jkt48/live")[0];
    assert_eq!(
        req.query.get("apikey").map(String::as_str),
        Some("KEY-IN-CLI-TEST")
    );
}

#[tokio::test]
async fn live_json_and_platform_filter() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/jkt48/live", Reply::json(live_body()));
    let out = onair(
        &["live", "--json", "--platform", "showroom"],
        &[
            ("JKT48CONNECT_API_KEY", "k".into()),
            ("JKT48CONNECT_URL", fake.url()),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let list = v.as_array().expect("array");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "Gracia");
    assert_eq!(list[0]["platform"], "showroom");
    assert_eq!(
        list[0]["watch_url"],
        "https://www.showroom-live.com/r/jkt48_gracia"
    );
}

#[tokio::test]
async fn live_exits_1_when_the_provider_fails() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/jkt48/live", Reply::html(502));
    let out = onair(
        &["live"],
        &[
            ("JKT48CONNECT_API_KEY", "k".into()),
            ("JKT48CONNECT_URL", fake.url()),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JKT48Connect") && stderr.contains("HTML"),
        "{stderr}"
    );
}

#[tokio::test]
async fn check_with_unparsable_interval_exits_2_naming_the_variable() {
    let out = onair(&["check"], &[("POLL_INTERVAL_SECS", "every minute".into())]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("POLL_INTERVAL_SECS"), "{stderr}");
}

#[tokio::test]
async fn check_reports_each_provider() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/jkt48/live", Reply::json(live_body()));
    let out = onair(
        &["check"],
        &[
            ("JKT48CONNECT_API_KEY", "k".into()),
            ("JKT48CONNECT_URL", fake.url()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("JKT48Connect") && stdout.contains("ok") && stdout.contains("2 live now"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("KonbiniAPI") && l.ends_with("off")),
        "{stdout}"
    );
    // The default Basic key: the calendar's most, list by list, and what
    // it leaves.
    assert!(
        stdout.contains(
            "calendar (every feed subscribed, fans asking): at most 279 calls a month \
             (theater 124, birthdays 62, news 62, events 31); at least 721 left for live detection"
        ),
        "{stdout}"
    );

    fake.set(
        "GET /api/jkt48/live",
        Reply::status(401, "{\"error\":\"bad key\"}"),
    );
    let out = onair(
        &["check"],
        &[
            ("JKT48CONNECT_API_KEY", "k".into()),
            ("JKT48CONNECT_URL", fake.url()),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("refused"),
        "{stdout}"
    );
}

#[tokio::test]
async fn check_tells_a_wrong_konbini_url_from_not_live() {
    let fake = FakeProvider::start().await;
    // KonbiniAPI's "not live" is a billed 404 (credit headers)...
    konbini_probe_not_live(&fake);
    let out = onair(
        &["check"],
        &[("KONBINI_API_KEY", "k".into()), ("KONBINI_URL", fake.url())],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("reachable, 4321 credits left"), "{stdout}");

    // ...while a wrong base URL answers 404 from something else.
    let out = onair(
        &["check"],
        &[
            ("KONBINI_API_KEY", "k".into()),
            ("KONBINI_URL", format!("{}/wrong/prefix", fake.url())),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("KONBINI_URL looks wrong"),
        "{stdout}"
    );
    assert!(!stdout.contains("not live"), "{stdout}");
}

/// KonbiniAPI's answer to `onair check`'s probe (TikTok's own account):
/// not live, a billed 404 with its credit headers.
fn konbini_probe_not_live(fake: &FakeProvider) {
    fake.set(
        "GET /v1/tiktok/users/tiktok/live",
        Reply::json_status(404, json!({"errors": [{"code": "not_found"}]}))
            .header("X-Credits-Remaining", "4321"),
    );
}

#[tokio::test]
async fn check_shows_how_often_each_tiktok_username_is_seen_when_credits_are_short() {
    let fake = FakeProvider::start().await;
    konbini_probe_not_live(&fake);
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let url = format!("sqlite://{}", dir.path().join("onair.db").display());
        let store = onair::store::connect(&url).await.expect("store");
        for i in 0..300u64 {
            store
                .add_subscription(onair::store::NewSubscription {
                    guild_id: 1_000 + i,
                    channel_id: 2_000 + i,
                    tiktok: Some(format!("user{i:03}")),
                    created_by: 1,
                    ..Default::default()
                })
                .await
                .expect("subscription");
        }
    }
    let out = onair_in(
        dir.path(),
        &["check"],
        &[
            ("KONBINI_API_KEY", "k".into()),
            ("KONBINI_URL", fake.url()),
            ("KONBINI_CREDITS_PER_DAY", "100".into()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("300 usernames watched: 1 looked up per poll, each one about every 3 d"),
        "{stdout}"
    );
}

#[tokio::test]
async fn check_shows_the_budget_and_counts_its_probe() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/jkt48/live", Reply::json(live_body()));
    let out = onair(
        &["check"],
        &[
            ("JKT48CONNECT_API_KEY", "k".into()),
            ("JKT48CONNECT_URL", fake.url()),
            ("JKT48CONNECT_CALLS_PER_MONTH", "5000".into()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("budget 5000 calls/month"))
        .unwrap_or_else(|| panic!("no budget line: {stdout}"));
    assert!(line.contains("1 spent this period"), "{line}");
    assert!(
        line.contains("projected left") && line.contains("mean detection delay"),
        "{line}"
    );
}

#[tokio::test]
async fn live_in_a_terminal_spends_from_the_same_budget() {
    let fake = FakeProvider::start().await;
    fake.set("GET /api/jkt48/live", Reply::json(live_body()));
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = [
        ("JKT48CONNECT_API_KEY", "k".to_string()),
        ("JKT48CONNECT_URL", fake.url()),
        ("JKT48CONNECT_CALLS_PER_MONTH", "1".to_string()),
    ];
    let out = onair_in(dir.path(), &["live"], &vars).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Fritzy"));
    // The month's one call is spent: the second run does not call.
    let out = onair_in(dir.path(), &["live"], &vars).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JKT48Connect: skipped, its allowance is spent"),
        "{stderr}"
    );
    assert_eq!(fake.hits("/api/jkt48/live"), 1);
}

#[tokio::test]
async fn run_without_token_exits_2() {
    let out = onair(&[], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DISCORD_TOKEN"));
}

#[tokio::test]
async fn check_prints_the_invite_url_from_the_application_id() {
    use support::discord::{FakeDiscord, Fault, APP_ID};
    let discord = FakeDiscord::start().await;
    let env = [
        ("DISCORD_TOKEN", support::bot::TOKEN.to_string()),
        ("DISCORD_API_URL", discord.api_url()),
    ];
    let out = onair(&["check"], &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let invite = format!(
        "https://discord.com/oauth2/authorize?client_id={APP_ID}&scope=bot+applications.commands&permissions=84992"
    );
    assert!(stdout.contains(&invite), "{stdout}");
    assert!(
        stdout.contains("View Channel, Send Messages, Embed Links, Read Message History"),
        "names the permissions: {stdout}"
    );
    assert!(!stdout.contains(support::bot::TOKEN), "{stdout}");

    // Discord refusing the token fails the check, saying so.
    discord.fail_next(
        "GET",
        "/api/v10/oauth2",
        Fault::Discord {
            status: 401,
            code: 0,
            message: "401: Unauthorized",
        },
        1,
    );
    let out = onair(&["check"], &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("invite") && stdout.contains("FAIL"),
        "{stdout}"
    );
    discord.assert_spec_clean();
}
