//! Benchmark scenario 6: replicas on PostgreSQL. Three `onair` processes
//! (two gateway shards each) on one database fan a go-live out to `n`
//! channels at one `DISCORD_GLOBAL_RPS`; then the leader is SIGKILLed in
//! the middle of a second fan-out and the time to the new leader's first
//! post is measured. The same fan-out on SQLite, one process, compares.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::bench::{member, next_poll, rss_kib, tally};
use super::bot::{env, spawn_binary};
use super::discord::{FakeDiscord, GuildSpec};
use super::fake_providers::{FakeProvider, Reply};

const LIVE: &str = "/api/jkt48/live";

#[derive(Debug, Clone, Default)]
pub struct ReplicaRun {
    pub processes: usize,
    pub n: usize,
    pub r: usize,
    pub bot_rps: u32,
    /// Last post minus first post of the first fan-out.
    pub spread: Duration,
    pub achieved_rate: f64,
    pub rate_limited: usize,
    pub requests: usize,
    pub duplicates: usize,
    pub missing: usize,
    /// VmRSS of each process after the fan-out, KiB.
    pub rss_kib: Vec<u64>,
    /// Leader SIGKILL -> first post after it (replicas only).
    pub failover: Option<Duration>,
}

/// `database`: a PostgreSQL URL (three replicas) or `None` (SQLite, one
/// process).
pub async fn fanout(n: usize, r: usize, bot_rps: u32, database: Option<String>) -> ReplicaRun {
    const SHARDS: u64 = 6;
    let discord = FakeDiscord::start().await;
    discord.set_global_limit(r);
    discord.set_channel_limit(5, Duration::from_secs(5));
    let jkt = FakeProvider::start().await;
    jkt.set(&format!("GET {LIVE}"), Reply::json(json!([])));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars: HashMap<String, String> = env(&discord, dir.path());
    vars.insert("JKT48CONNECT_API_KEY".into(), "JKT-SECRET".into());
    vars.insert("JKT48CONNECT_URL".into(), jkt.url());
    vars.insert("DISCORD_GLOBAL_RPS".into(), bot_rps.to_string());
    let processes = if database.is_some() { 3 } else { 1 };
    if let Some(url) = &database {
        vars.insert("DATABASE_URL".into(), url.clone());
        vars.insert("DISCORD_SHARD_COUNT".into(), SHARDS.to_string());
    }
    // n channels, one guild each, spread over the shards.
    let store = onair::store::connect(&vars["DATABASE_URL"])
        .await
        .expect("store");
    let mut channels = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let guild = ((i + 1) << 22) | 7;
        let ch = 90_000_000 + i;
        discord.add_guild(GuildSpec::new(guild, &[ch]));
        super::bot::subscribe_everything(&store, guild, ch).await;
        channels.push(ch);
    }
    let ports: Vec<u16> = (0..processes).map(|_| free_port()).collect();
    let mut children: Vec<super::bot::Binary> = (0..processes)
        .map(|i| {
            let mut v = vars.clone();
            v.insert("HTTP_ADDR".into(), format!("127.0.0.1:{}", ports[i]));
            if processes > 1 {
                let per = SHARDS / processes as u64;
                let first = i as u64 * per;
                v.insert(
                    "DISCORD_SHARD_IDS".into(),
                    format!("{first}-{}", first + per - 1),
                );
            }
            spawn_binary(&v, dir.path(), "warn")
        })
        .collect();
    let sessions = if processes > 1 { SHARDS as usize } else { 1 };
    discord
        .wait_identified(sessions, Duration::from_secs(60))
        .await;
    next_poll(&jkt, LIVE, Duration::from_secs(30)).await;

    // Fan-out 1: member 1 to every channel.
    jkt.set(&format!("GET {LIVE}"), Reply::json(json!([member(1)])));
    let budget = Duration::from_secs_f64(n as f64 / r as f64 * 3.0 + 30.0);
    discord
        .wait_for(budget, "every announcement", |d| {
            d.all_messages().len() >= n
        })
        .await;
    // A duplicate would show within two more polls.
    jkt.wait_more_hits(LIVE, 2, Duration::from_secs(30)).await;
    let t = tally(&discord.all_messages(), &channels, 1);
    let spread = match (t.first, t.last) {
        (Some(a), Some(b)) => b - a,
        _ => Duration::ZERO,
    };
    let requests = discord
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/messages"))
        .count();
    let rss: Vec<u64> = children
        .iter()
        .filter_map(|c| c.id().and_then(rss_kib))
        .collect();
    let mut run = ReplicaRun {
        processes,
        n,
        r,
        bot_rps,
        spread,
        achieved_rate: n.saturating_sub(1) as f64 / spread.as_secs_f64().max(1e-9) / r as f64,
        rate_limited: discord.rate_limited_count(),
        requests,
        duplicates: t.duplicates,
        missing: t.missing,
        rss_kib: rss,
        failover: None,
    };

    if processes > 1 {
        // Fan-out 2 (member 2), the leader killed half-way.
        let leader = leader_index(&ports).await;
        let before = discord.all_messages().len();
        jkt.set(
            &format!("GET {LIVE}"),
            Reply::json(json!([member(1), member(2)])),
        );
        discord
            .wait_for(budget, "half of the second fan-out", |d| {
                d.all_messages().len() >= before + n / 2
            })
            .await;
        let _ = children[leader].start_kill();
        let _ = children[leader].wait().await;
        let killed = Instant::now();
        let after_kill = discord.all_messages().len();
        discord
            .wait_for(budget, "the second fan-out, finished", |d| {
                d.all_messages().len() >= before + n
            })
            .await;
        let first_after = discord
            .all_messages()
            .iter()
            .skip(after_kill)
            .map(|m| m.at)
            .filter(|t| *t > killed)
            .min();
        run.failover = first_after.map(|t| t - killed);
        jkt.wait_more_hits(LIVE, 2, Duration::from_secs(30)).await;
        // Two announcements per channel now (members 1 and 2).
        let t = tally(&discord.all_messages(), &channels, 2);
        run.duplicates += t.duplicates;
        run.missing += t.missing;
    }
    for c in &mut children {
        let _ = c.start_kill();
        let _ = c.wait().await;
    }
    run
}

/// The index of the replica whose `/metrics` says it leads.
async fn leader_index(ports: &[u16]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (i, port) in ports.iter().enumerate() {
            let text = async {
                reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()
            };
            if text
                .await
                .is_some_and(|t| t.lines().any(|l| l == "onair_leader 1"))
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no replica leads");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
