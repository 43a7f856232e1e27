//! Benchmark scenarios: the real bot against the fake Discord and fake
//! providers on loopback. `benches/onair_bench.rs` runs them at full size
//! and prints a table; `tests/bench_smoke.rs` runs them tiny.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onair::store::{NewSubscription, Store};
use serde_json::{json, Value};

use super::bot::{env, TestBot};
use super::discord::{FakeDiscord, GuildSpec, Invoker, StoredMessage, GUILD_ID};
use super::fake_providers::{FakeProvider, Reply};

pub fn member(i: usize) -> Value {
    json!({
        "name": format!("Member {i}"), "img": format!("https://cdn.test/t{i}.jpg"),
        "img_alt": format!("https://cdn.test/a{i}.webp"), "url_key": format!("jkt48_m{i}"),
        "slug": format!("s{i}"), "room_id": 600000 + i, "chat_room_id": null,
        "started_at": "2025-04-06T12:03:58.000Z", "type": "idn",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": format!("https://cdn.test/{i}.m3u8")}]
    })
}

pub struct Rig {
    pub discord: FakeDiscord,
    pub jkt: FakeProvider,
    pub konbini: FakeProvider,
    pub store: Arc<dyn Store>,
    pub vars: HashMap<String, String>,
    pub dir: tempfile::TempDir,
}

pub async fn rig(extra: &[(&str, String)]) -> Rig {
    let discord = FakeDiscord::start().await;
    let jkt = FakeProvider::start().await;
    let konbini = FakeProvider::start().await;
    jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars = env(&discord, dir.path());
    vars.insert("JKT48CONNECT_API_KEY".into(), "JKT-SECRET".into());
    vars.insert("JKT48CONNECT_URL".into(), jkt.url());
    vars.insert("KONBINI_API_KEY".into(), "KONBINI-SECRET".into());
    vars.insert("KONBINI_URL".into(), konbini.url());
    for (k, v) in extra {
        vars.insert((*k).into(), v.clone());
    }
    let store = onair::store::connect(&vars["DATABASE_URL"])
        .await
        .expect("store");
    Rig {
        discord,
        jkt,
        konbini,
        store,
        vars,
        dir,
    }
}

/// Channels `base..base+n`, each in its own guild `base+1_000_000+i`.
pub async fn subscribe_many(
    rig: &Rig,
    base: u64,
    n: usize,
    tiktok: Option<&dyn Fn(usize) -> String>,
) -> Vec<u64> {
    let mut channels = Vec::with_capacity(n);
    for i in 0..n {
        let ch = base + i as u64;
        let guild = base + 1_000_000 + i as u64;
        rig.discord.add_guild(GuildSpec::new(guild, &[ch]));
        rig.store
            .add_subscription(NewSubscription {
                guild_id: guild,
                channel_id: ch,
                tiktok: tiktok.map(|f| f(i)),
                created_by: 1,
                ..Default::default()
            })
            .await
            .expect("subscription");
        channels.push(ch);
    }
    channels
}

/// Wait for the first provider poll after now; its time.
pub async fn next_poll(p: &FakeProvider, path: &str, timeout: Duration) -> Instant {
    let before = p.hits(path);
    let deadline = Instant::now() + timeout;
    loop {
        if p.hits(path) > before {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "no poll of {path} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What a fan-out left in the channels.
pub struct Tally {
    /// Messages beyond `expected` in a channel, summed.
    pub duplicates: usize,
    /// Channels with fewer than `expected` messages.
    pub missing: usize,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// Count `msgs` per channel against `expected` messages in each of
/// `channels`.
pub fn tally(msgs: &[StoredMessage], channels: &[u64], expected: usize) -> Tally {
    let mut per: HashMap<u64, usize> = HashMap::new();
    for m in msgs {
        *per.entry(m.channel_id).or_default() += 1;
    }
    Tally {
        duplicates: per.values().map(|c| c.saturating_sub(expected)).sum(),
        missing: channels
            .iter()
            .filter(|c| per.get(c).copied().unwrap_or(0) < expected)
            .count(),
        first: msgs.iter().map(|m| m.at).min(),
        last: msgs.iter().map(|m| m.at).max(),
    }
}

#[derive(Debug, Clone)]
pub struct Fanout {
    pub n: usize,
    pub r: usize,
    pub bot_rps: u32,
    pub first: Duration,
    pub last: Duration,
    pub achieved_rate: f64,
    pub rate_limited: usize,
    pub requests: usize,
    pub duplicates: usize,
    pub missing: usize,
}

/// One member goes live; `n` channels in `n` guilds are subscribed. The
/// fake enforces `r` requests/s globally and 5 messages / 5 s per channel.
pub async fn fanout(n: usize, r: usize, bot_rps: u32) -> Fanout {
    let rig = rig(&[("DISCORD_GLOBAL_RPS", bot_rps.to_string())]).await;
    rig.discord.set_global_limit(r);
    rig.discord.set_channel_limit(5, Duration::from_secs(5));
    let channels = subscribe_many(&rig, 10_000_000, n, None).await;
    let bot = TestBot::start(&rig.discord, &rig.vars).await;
    next_poll(&rig.jkt, "/api/jkt48/live", Duration::from_secs(10)).await;
    rig.jkt
        .set("GET /api/jkt48/live", Reply::json(json!([member(1)])));
    let seen = next_poll(&rig.jkt, "/api/jkt48/live", Duration::from_secs(10)).await;
    let budget = Duration::from_secs_f64(n as f64 / r as f64 * 3.0 + 20.0);
    rig.discord
        .wait_for(budget, "every announcement", |d| {
            d.all_messages().len() >= n
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let t = tally(&rig.discord.all_messages(), &channels, 1);
    let (duplicates, missing) = (t.duplicates, t.missing);
    let first = t
        .first
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(seen));
    let last = t
        .last
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(seen));
    let spread = (last - first).as_secs_f64().max(1e-9);
    let posts = rig
        .discord
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .count();
    let result = Fanout {
        n,
        r,
        bot_rps,
        first,
        last,
        achieved_rate: (n.saturating_sub(1)) as f64 / spread / r as f64,
        rate_limited: rig.discord.rate_limited_count(),
        requests: posts,
        duplicates,
        missing,
    };
    bot.stop().await;
    result
}

#[derive(Debug, Clone)]
pub struct Latency {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub upstream_calls: usize,
}

/// `count` `/live` interactions at a steady `rate_per_s`, 50 streams live.
pub async fn command_latency(count: usize, rate_per_s: u64, streams: usize) -> Latency {
    let rig = rig(&[("POLL_INTERVAL_SECS", "3600".into())]).await;
    let all: Vec<Value> = (0..streams).map(member).collect();
    rig.jkt
        .set("GET /api/jkt48/live", Reply::json(Value::Array(all)));
    let bot = TestBot::start(&rig.discord, &rig.vars).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.jkt.hits("/api/jkt48/live") == 0 {
        assert!(Instant::now() < deadline, "the first poll never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let upstream_before = rig.jkt.hits("/api/jkt48/live");
    let who = Invoker::default();
    let gap = Duration::from_micros(1_000_000 / rate_per_s.max(1));
    let mut pushed = Vec::with_capacity(count);
    let mut tick = tokio::time::interval(gap);
    for _ in 0..count {
        tick.tick().await;
        pushed.push(rig.discord.slash("live", json!([]), None, &who));
    }
    rig.discord
        .wait_for(Duration::from_secs(60), "every callback", |d| {
            d.requests()
                .iter()
                .filter(|r| r.path.ends_with("/callback"))
                .count()
                >= count
        })
        .await;
    let arrived: HashMap<String, Instant> = rig
        .discord
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/callback"))
        .map(|r| (r.path, r.at))
        .collect();
    let mut lat: Vec<Duration> = pushed
        .iter()
        .filter_map(|p| {
            let path = format!("/api/v10/interactions/{}/{}/callback", p.id, p.token);
            arrived
                .get(&path)
                .map(|t| t.saturating_duration_since(p.sent_at))
        })
        .collect();
    lat.sort();
    let pct = |q: f64| {
        lat[((lat.len() as f64 * q).ceil() as usize)
            .saturating_sub(1)
            .min(lat.len() - 1)]
    };
    let out = Latency {
        count: lat.len(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: *lat.last().unwrap_or(&Duration::ZERO),
        upstream_calls: rig.jkt.hits("/api/jkt48/live") - upstream_before,
    };
    rig.discord.assert_spec_clean();
    bot.stop().await;
    out
}

#[derive(Debug, Clone)]
pub struct PollToPost {
    pub interval: Duration,
    pub rounds: Vec<Duration>,
}

/// Time from the provider changing to the first announcement.
pub async fn poll_to_post(interval_secs: u64, rounds: usize) -> PollToPost {
    let rig = rig(&[("POLL_INTERVAL_SECS", interval_secs.to_string())]).await;
    subscribe_many(&rig, 20_000_000, 1, None).await;
    let bot = TestBot::start(&rig.discord, &rig.vars).await;
    let mut out = Vec::new();
    for round in 0..rounds {
        // Change at an arbitrary point of the poll cycle.
        let offset = Duration::from_millis((round as u64 * 1_777) % (interval_secs * 1000).max(1));
        tokio::time::sleep(offset).await;
        let before = rig.discord.message_count();
        rig.jkt.set(
            "GET /api/jkt48/live",
            Reply::json(json!([member(100 + round)])),
        );
        let changed = Instant::now();
        rig.discord
            .wait_for(
                Duration::from_secs(interval_secs * 3 + 10),
                "the announcement",
                |d| d.all_messages().len() > before,
            )
            .await;
        let at = rig
            .discord
            .all_messages()
            .iter()
            .map(|m| m.at)
            .max()
            .unwrap_or(changed);
        out.push(at.saturating_duration_since(changed));
    }
    bot.stop().await;
    PollToPost {
        interval: Duration::from_secs(interval_secs),
        rounds: out,
    }
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub subscriptions: usize,
    pub tiktok_users: usize,
    /// JKT48Connect requests during the window.
    pub jkt_requests: usize,
    /// Poll intervals that elapsed during the window.
    pub intervals: f64,
    /// JKT48Connect requests per poll interval.
    pub jkt_per_poll: f64,
    /// KonbiniAPI requests per TikTok poll round.
    pub konbini_per_poll: f64,
}

/// Provider requests per poll with `subs` subscriptions, `tiktok_users`
/// of which follow distinct TikTok usernames.
pub async fn upstream_cost(subs: usize, tiktok_users: usize, window: Duration) -> Upstream {
    let rig = rig(&[]).await;
    let tiktok = |i: usize| format!("user_{}", i % tiktok_users.max(1));
    let name_for: &dyn Fn(usize) -> String = &tiktok;
    let with_tiktok = tiktok_users.min(subs);
    subscribe_many(&rig, 30_000_000, with_tiktok, Some(name_for)).await;
    subscribe_many(&rig, 40_000_000, subs - with_tiktok, None).await;
    let bot = TestBot::start(&rig.discord, &rig.vars).await;
    next_poll(&rig.jkt, "/api/jkt48/live", Duration::from_secs(10)).await;
    let j0 = rig.jkt.hits("/api/jkt48/live");
    tokio::time::sleep(window).await;
    let jkt_requests = rig.jkt.hits("/api/jkt48/live") - j0;
    let intervals = window.as_secs_f64() / 1.0; // POLL_INTERVAL_SECS = 1 in the rig
                                                // Let the TikTok round in flight finish, then count per username.
    let users = with_tiktok.min(tiktok_users);
    let deadline = Instant::now() + Duration::from_secs(5);
    while users > 0 && rig.konbini.requests().len() % users != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for r in rig.konbini.requests() {
        *per_user.entry(r.path).or_default() += 1;
    }
    bot.stop().await;
    let rounds = per_user.values().copied().max().unwrap_or(0);
    let total: usize = per_user.values().sum();
    Upstream {
        subscriptions: subs,
        tiktok_users: per_user.len(),
        jkt_requests,
        intervals,
        jkt_per_poll: jkt_requests as f64 / intervals,
        konbini_per_poll: if rounds == 0 {
            0.0
        } else {
            total as f64 / rounds as f64
        },
    }
}

/// Resident memory of a process, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[derive(Debug, Clone)]
pub struct Memory {
    pub guilds: usize,
    pub subscriptions: usize,
    pub rss_kib: u64,
}

/// RSS of the real binary after start with `guilds` GUILD_CREATEs and
/// `subs` subscriptions.
pub async fn memory(guilds: usize, subs: usize) -> Memory {
    let rig = rig(&[]).await;
    subscribe_many(&rig, 50_000_000, subs, None).await;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"));
    cmd.current_dir(rig.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(&rig.vars)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("start onair");
    rig.discord.wait_ready(Duration::from_secs(30)).await;
    rig.discord
        .push_guild_create(&GuildSpec::new(GUILD_ID, &[super::discord::CHANNEL_ID]));
    for i in 1..guilds {
        let g = GuildSpec::new(60_000_000 + i as u64, &[70_000_000 + i as u64]);
        rig.discord.push_guild_create(&g);
        if i % 500 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = child.id().and_then(rss_kib).unwrap_or(0);
    let _ = child.start_kill();
    let _ = child.wait().await;
    Memory {
        guilds,
        subscriptions: subs,
        rss_kib: rss,
    }
}
