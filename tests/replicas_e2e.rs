//! Several `onair` processes on one PostgreSQL database: the gateway
//! shards split between them, one leader polls and dispatches, every
//! replica answers `/live` from the shared snapshot, and when the leader
//! dies (SIGKILL) or loses its database connection (its backend
//! terminated), another takes over: every channel still gets exactly one
//! announcement, and the old leader stops before the new one starts.
//!
//! Each replica polls its own fake JKT48Connect, so a follower's provider
//! calls (there must be none) are visible apart from the leader's.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::discord::{FakeDiscord, GuildSpec, Invoker};
use support::fake_providers::{fritzy_live, FakeProvider, Reply};
use support::pg::TestDb;
use support::world::World;

const T: Duration = Duration::from_secs(60);
const LIVE: &str = "/api/jkt48/live";
const START: &str = "2025-04-06T12:03:58.000Z";

struct Replica {
    child: support::bot::Binary,
    jkt: FakeProvider,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// `onair_leader` from its /metrics (None while it does not answer).
    async fn leader_gauge(&self) -> Option<f64> {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find(|l| l.starts_with("onair_leader "))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

/// A guild on shard `shard` of `count` (Discord routes by
/// `(guild_id >> 22) % count`).
fn guild_on(shard: u64, count: u64, n: u64) -> u64 {
    ((n * count + shard) << 22) | 1
}

/// The fake Discord and the PostgreSQL database every replica shares, the
/// store open.
async fn world(db: TestDb) -> World {
    World::builder().postgres(db).store().start().await
}

/// Start a replica of `w`'s bot (its fake Discord, its database) running
/// shards `first..=last` of `count`, with its own fake JKT48Connect.
async fn replica(w: &World, shards: (u64, u64, u64), extra: &[(&str, &str)]) -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let jkt = FakeProvider::start().await;
    jkt.set(&format!("GET {LIVE}"), Reply::json(serde_json::json!([])));
    let mut vars: HashMap<String, String> = w.vars.clone();
    support::bot::use_jkt(&mut vars, &jkt);
    let (first, last, count) = shards;
    vars.insert("DISCORD_SHARD_COUNT".into(), count.to_string());
    vars.insert("DISCORD_SHARD_IDS".into(), format!("{first}-{last}"));
    let port = free_port();
    vars.insert("HTTP_ADDR".into(), format!("127.0.0.1:{port}"));
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    let child = support::bot::spawn_binary(&vars, dir.path(), "info");
    let log = child.log_path.clone();
    Replica {
        child,
        jkt,
        port,
        log,
        _dir: dir,
    }
}

/// The index of the one replica that leads, once exactly one does.
async fn the_leader(replicas: &[Replica]) -> usize {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let mut leaders = Vec::new();
        for (i, r) in replicas.iter().enumerate() {
            if r.leader_gauge().await == Some(1.0) {
                leaders.push(i);
            }
        }
        if leaders.len() == 1 {
            return leaders[0];
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no single leader (leading: {leaders:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Guilds spread over every shard, `per_guild` channels each, all
/// subscribed; returns every channel.
async fn subscribed_guilds(
    w: &World,
    shards: u64,
    guilds_per_shard: u64,
    per_guild: u64,
) -> Vec<(u64, u64)> {
    let (discord, store) = (&w.discord, w.store());
    let mut channels = Vec::new();
    for shard in 0..shards {
        for n in 0..guilds_per_shard {
            let guild = guild_on(shard, shards, n);
            let ids: Vec<u64> = (0..per_guild).map(|c| guild + 1000 + c).collect();
            discord.add_guild(GuildSpec::new(guild, &ids));
            for c in ids {
                support::bot::subscribe_everything(store, guild, c).await;
                channels.push((guild, c));
            }
        }
    }
    channels
}

fn set_live(replicas: &[Replica]) {
    for r in replicas {
        r.jkt
            .set(&format!("GET {LIVE}"), Reply::json(fritzy_live(START)));
    }
}

async fn every_channel_once(discord: &FakeDiscord, channels: &[(u64, u64)], what: &str) {
    discord
        .wait_for(T, what, |d| {
            channels.iter().all(|(_, c)| !d.messages(*c).is_empty())
        })
        .await;
    for (_, c) in channels {
        assert_eq!(
            discord.messages(*c).len(),
            1,
            "channel {c}: exactly one announcement"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_six_shards_leader_killed_mid_fanout() {
    let Some(db) = support::pg::fresh_database("three_replicas").await else {
        return;
    };
    let w = world(db).await;
    let discord = &w.discord;
    // 300 channels: 5 guilds of 10 channels on each of the 6 shards.
    let channels = subscribed_guilds(&w, 6, 5, 10).await;
    assert_eq!(channels.len(), 300);
    let extra = [("DISCORD_GLOBAL_RPS", "40")];
    let mut replicas = Vec::new();
    for (first, last) in [(0, 1), (2, 3), (4, 5)] {
        replicas.push(replica(&w, (first, last, 6), &extra).await);
    }
    // `max_concurrency: 1`: one IDENTIFY per 5 s for the whole bot, so six
    // shards take half a minute, whichever replica starts which.
    discord.wait_shards(0..6, 6, Duration::from_secs(90)).await;
    let mut shards = discord.identified_shards();
    shards.sort();
    assert_eq!(
        shards,
        (0..6).map(|i| [i, 6]).collect::<Vec<_>>(),
        "each shard once"
    );
    assert!(
        discord.invalid_sessions().is_empty(),
        "no IDENTIFY refused: {:?}",
        discord.invalid_sessions()
    );
    let times: Vec<Instant> = discord.identify_times().iter().map(|(t, _)| *t).collect();
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= support::discord::IDENTIFY_WINDOW,
            "identifies {gap:?} apart across replicas"
        );
    }

    let leader = the_leader(&replicas).await;
    // Followers make no provider call: only the leader's fake is polled.
    replicas[leader].jkt.wait_more_hits(LIVE, 2, T).await;
    for (i, r) in replicas.iter().enumerate() {
        if i != leader {
            assert_eq!(r.jkt.hits(LIVE), 0, "follower {i} polled a provider");
        }
    }

    support::bot::wait_registered_with(discord, &w.vars).await;
    set_live(&replicas);
    // Every replica answers /live, each for a guild on its own shards, from
    // the snapshot the leader shared.
    for (i, first) in [(0usize, 0u64), (1, 2), (2, 4)] {
        let guild = guild_on(first, 6, 0);
        let who = Invoker {
            guild_id: guild,
            channel_id: guild + 1000,
            ..Invoker::default()
        };
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let p = discord.slash("live", serde_json::json!([]), None, &who);
            let answer = discord.answer(&p, T).await.to_string();
            if answer.contains("Fritzy") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica {i} never showed the live: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // SIGKILL the leader mid-fan-out (40 posts/s, 300 channels).
    discord
        .wait_for(T, "the fan-out to start", |d| d.all_messages().len() >= 40)
        .await;
    replicas[leader].kill().await;
    let sent_before = discord.all_messages().len();
    assert!(sent_before < 300, "killed mid-fan-out ({sent_before} sent)");
    let rest: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    every_channel_once(discord, &channels, "another replica finishes the fan-out").await;
    // The new leader polls; a duplicate would show after two more polls.
    let survivors: Vec<Replica> = {
        let mut all = replicas;
        let mut out = Vec::new();
        for (i, r) in all.drain(..).enumerate() {
            if rest.contains(&i) {
                out.push(r);
            }
        }
        out
    };
    let new_leader = the_leader(&survivors).await;
    survivors[new_leader].jkt.wait_more_hits(LIVE, 2, T).await;
    for (_, c) in &channels {
        assert_eq!(discord.messages(*c).len(), 1, "channel {c}: still one");
    }
    discord.assert_spec_clean();
    for mut r in survivors {
        r.kill().await;
    }
}

/// The first timestamp of a log line containing `needle`.
fn logged_at(log: &str, needle: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    log.lines().find(|l| l.contains(needle)).and_then(|l| {
        let plain: String = strip_ansi(l);
        chrono::DateTime::parse_from_rfc3339(plain.split_whitespace().next()?).ok()
    })
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_the_leaders_connection_moves_leadership_without_double_sends() {
    let Some(db) = support::pg::fresh_database("leader_cut").await else {
        return;
    };
    let w = world(db).await;
    let (discord, db) = (&w.discord, w.db());
    // 120 channels over 2 shards.
    let channels = subscribed_guilds(&w, 2, 4, 15).await;
    let extra = [("DISCORD_GLOBAL_RPS", "30")];
    let replicas = vec![
        replica(&w, (0, 0, 2), &extra).await,
        replica(&w, (1, 1, 2), &extra).await,
    ];
    discord.wait_shards(0..2, 2, T).await;
    let old = the_leader(&replicas).await;
    let new = 1 - old;
    set_live(&replicas);
    discord
        .wait_for(T, "the fan-out to start", |d| d.all_messages().len() >= 20)
        .await;

    // Cut the leader's lock connection (the process stays up).
    let cut = db
        .query_scalar_i64(
            // The leader lock's connection (not an identify lock a replica
            // may hold for a few seconds).
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'onair-leader-lock' \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await;
    assert_eq!(cut, 1, "one leader lock held");

    every_channel_once(discord, &channels, "the new leader finishes the fan-out").await;
    let deadline = tokio::time::Instant::now() + T;
    while replicas[new].leader_gauge().await != Some(1.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "leadership never moved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        replicas[old].leader_gauge().await,
        Some(0.0),
        "the old leader follows"
    );
    replicas[new].jkt.wait_more_hits(LIVE, 2, T).await;
    for (_, c) in &channels {
        assert_eq!(discord.messages(*c).len(), 1, "channel {c}: still one");
    }

    // The old leader stopped before the new one started.
    let stopped = logged_at(&replicas[old].log_text(), "no longer the leader")
        .expect("the old leader logged that it stopped");
    let started = logged_at(&replicas[new].log_text(), "leading: this process polls")
        .expect("the new leader logged that it started");
    assert!(
        stopped < started,
        "old leader stopped at {stopped}, new one started at {started}"
    );
    discord.assert_spec_clean();
    for mut r in replicas {
        r.kill().await;
    }
}
