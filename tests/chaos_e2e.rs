//! Fault schedules: the real bot binary against the fake Discord and a fake
//! JKT48Connect, through seeded random schedules mixing provider 500s,
//! truncated and non-JSON bodies, slow answers, streams flapping inside and
//! outside the grace period, Discord 429 (route and global) and 5xx, a
//! channel deleted mid-run, and the bot killed with SIGKILL and restarted on
//! the same database; command registration failing at start; Discord
//! outages long against the poll interval (minutes, test-compressed);
//! messages stored by Discord whose answer is lost, with nonces that expire
//! after a (shortened) window; viewers and titles that change while live,
//! so live-update edits race all of it. After each schedule:
//! - every subscribed channel got exactly one announcement per broadcast
//!   (each broadcast is live for at least two polls),
//! - every announcement says "ended" at the end (edited, or posted as the
//!   ended card when the broadcast was over before its turn came): no live
//!   update ever lands after the recap,
//! - no message reached a channel that was not subscribed (or filtered out),
//! - no subscription was lost,
//! - what each channel saw happened in order: no message said "was live"
//!   before the provider had last listed that broadcast.
//!
//! `ONAIR_CHAOS_SCHEDULES=N` runs more (default 50), `ONAIR_CHAOS_SEED=S`
//! replays one schedule; a failure prints its seed. The replicas mode runs
//! schedules on two processes sharing a PostgreSQL database (one shard
//! each, one leader), and the kill hits either of them.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use onair::live::Platform;
use onair::store::NewSubscription;
use serde_json::{json, Value};
use support::discord::{Fault, Loss, GUILD_ID};
use support::fake_providers::Reply;
use support::pg::TestDb;
use support::world::World;

/// A small, seeded PRNG (xorshift64*): schedules replay from their seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const SUBSCRIBED: [u64; 3] = [101, 102, 103];
const FILTERED: u64 = 104; // subscribed to Showroom only: members are on IDN
const UNSUBSCRIBED: u64 = 105;
const MEMBERS: usize = 2;

#[derive(Debug, Default)]
struct Counts {
    provider_faults: usize,
    provider_timeouts: usize,
    flaps_inside_grace: usize,
    gaps_outside_grace: usize,
    discord_429_route: usize,
    discord_429_global: usize,
    discord_5xx: usize,
    channels_deleted: usize,
    kills: usize,
    broadcasts: usize,
    registration_failures: usize,
    discord_outages: usize,
    lost_answers: usize,
    /// Observed, not injected: live-update edits Discord took.
    live_updates: usize,
    /// Gateway faults: op 7, op 9, a cut connection, a 4000 close, a
    /// zombie connection.
    gateway_faults: usize,
    /// Writes Discord did whose answer was lost (a reset connection or a
    /// 502 after a stored message or an applied edit).
    lost_writes: usize,
    /// Observed: requests Discord counts toward its invalid-request limit
    /// (401, 403 and 429 answers; 10,000 in 10 minutes ban the IP), and
    /// the seconds they were counted over.
    invalid_requests: usize,
    seconds: f64,
}

/// A gateway fault, at a poll.
#[derive(Debug, Clone, Copy)]
enum GatewayFault {
    Reconnect,
    InvalidSession,
    Cut,
    Close4000,
    /// Heartbeats go unacknowledged until the bot replaces the connection.
    Zombie,
}

struct Schedule {
    replies: Vec<Reply>,
    /// Broadcasts per member (each ends by the end of the script).
    broadcasts: usize,
    kill_after_poll: Option<usize>,
    delete_at_poll: Option<(usize, u64)>,
    discord_faults: Vec<(&'static str, String, Fault)>,
    /// Registration answers 500 this many times at start.
    registration_failures: usize,
    /// From this poll on, every message POST answers 502 for this long.
    outage: Option<(usize, Duration)>,
    /// Discord stores the first POST to this channel, its answer is lost.
    lost_answer: Option<(u64, Duration)>,
    /// Per member: the starts of its broadcasts, and the index of the last
    /// reply that lists each.
    last_listed: HashMap<(usize, i64), usize>,
    /// A gateway fault at a poll.
    gateway_fault: Option<(usize, GatewayFault)>,
    /// From a poll on, the next such write to a channel is done and its
    /// answer lost.
    lost_write: Option<(usize, &'static str, Loss)>,
}

/// Member `i` as reply `p` lists her: viewers and title move from poll to
/// poll (crossing milestones, a new title every third poll), so live
/// updates race the sends, the end edits and the faults.
fn member(i: usize, start: i64, p: usize) -> Value {
    json!({
        "name": format!("Member {i}"), "url_key": format!("jkt48_m{i}"), "slug": format!("s{start}"),
        "room_id": 800 + i, "started_at": start, "type": "idn",
        "viewers": (p * 1_700 + i * 300) % 12_000, "title": format!("Show {}", p / 3),
        "streaming_url_list": [{"label": "original", "quality": 1, "url": format!("https://cdn.test/{i}/{start}.m3u8")}]
    })
}

fn build(seed: u64, counts: &mut Counts) -> Schedule {
    let mut rng = Rng::new(seed);
    // Per member: a presence timeline of polls, as segments.
    let mut timelines: Vec<Vec<Option<i64>>> = Vec::new();
    let mut broadcasts = 0;
    for m in 0..MEMBERS {
        let mut t: Vec<Option<i64>> = vec![None; rng.below(2) as usize];
        let segments = 1 + rng.below(2) as usize;
        for seg in 0..segments {
            let start = 1_750_000_000 + (seed as i64 % 1000) * 10_000 + (m * 100 + seg) as i64;
            let len = 2 + rng.below(3) as usize;
            for p in 0..len {
                t.push(Some(start));
                // A flap inside the grace: one absent poll, same broadcast.
                if p + 1 < len && rng.chance(15) {
                    t.push(None);
                    counts.flaps_inside_grace += 1;
                }
            }
            broadcasts += 1;
            if seg + 1 < segments {
                // Absent well past the grace: the next segment is a new broadcast.
                t.extend(std::iter::repeat_n(None, 5));
                counts.gaps_outside_grace += 1;
            }
        }
        timelines.push(t);
    }
    let polls = timelines.iter().map(Vec::len).max().unwrap_or(0);
    let mut replies = Vec::new();
    let mut last_listed = HashMap::new();
    for p in 0..polls {
        // Faults between observations change nothing.
        while rng.chance(20) {
            counts.provider_faults += 1;
            replies.push(match rng.below(5) {
                // Slower than the client's 10 s timeout: the poll times out.
                4 if rng.chance(30) => {
                    counts.provider_timeouts += 1;
                    Reply::json(json!([])).delay(Duration::from_millis(10_500))
                }
                0 => Reply::status(500, "{}"),
                1 => Reply::text(200, "[{\"name\": \"Member 0\", \"room_id\""), // truncated
                2 => Reply::html(502),
                _ => Reply::text(200, "not json at all"),
            });
        }
        let live: Vec<Value> = timelines
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.get(p).copied().flatten().map(|start| (i, start)))
            .map(|(i, start)| {
                last_listed.insert((i, start), replies.len());
                member(i, start, p)
            })
            .collect();
        let reply = Reply::json(Value::Array(live));
        replies.push(if rng.chance(10) {
            reply.delay(Duration::from_millis(700))
        } else {
            reply
        });
    }
    // Then nobody: everything ends (the last reply repeats).
    replies.push(Reply::json(json!([])));

    let mut discord_faults = Vec::new();
    for &ch in &SUBSCRIBED {
        if rng.chance(30) {
            counts.discord_429_route += 1;
            let retry = 0.1 + rng.below(4) as f64 / 10.0;
            discord_faults.push((
                "POST",
                format!("/api/v10/channels/{ch}/messages"),
                Fault::RateLimited {
                    retry_after: retry,
                    global: false,
                },
            ));
        }
        if rng.chance(20) {
            counts.discord_5xx += 1;
            discord_faults.push((
                "POST",
                format!("/api/v10/channels/{ch}/messages"),
                Fault::Server(503),
            ));
        }
        if rng.chance(20) {
            counts.discord_5xx += 1;
            discord_faults.push((
                "PATCH",
                format!("/api/v10/channels/{ch}/messages/"),
                Fault::Server(500),
            ));
        }
    }
    if rng.chance(20) {
        counts.discord_429_global += 1;
        discord_faults.push((
            "POST",
            "/api/v10/channels/".into(),
            Fault::RateLimited {
                retry_after: 0.2,
                global: true,
            },
        ));
    }
    let kill_after_poll = rng.chance(40).then(|| 1 + rng.below(polls as u64) as usize);
    counts.kills += usize::from(kill_after_poll.is_some());
    let delete_at_poll = rng.chance(20).then(|| {
        (
            1 + rng.below(polls as u64) as usize,
            SUBSCRIBED[rng.below(3) as usize],
        )
    });
    counts.channels_deleted += usize::from(delete_at_poll.is_some());
    counts.broadcasts += broadcasts;
    let registration_failures = if rng.chance(20) {
        1 + rng.below(2) as usize
    } else {
        0
    };
    counts.registration_failures += registration_failures;
    let outage = rng.chance(25).then(|| {
        (
            rng.below(polls as u64) as usize,
            Duration::from_millis(3000 + rng.below(5000)),
        )
    });
    counts.discord_outages += usize::from(outage.is_some());
    let lost_answer = rng.chance(25).then(|| {
        (
            SUBSCRIBED[rng.below(3) as usize],
            Duration::from_millis(rng.below(2000)),
        )
    });
    counts.lost_answers += usize::from(lost_answer.is_some());
    let gateway_fault = rng.chance(40).then(|| {
        let fault = match rng.below(5) {
            0 => GatewayFault::Reconnect,
            1 => GatewayFault::InvalidSession,
            2 => GatewayFault::Cut,
            3 => GatewayFault::Zombie,
            _ => GatewayFault::Close4000,
        };
        (rng.below(polls as u64) as usize, fault)
    });
    counts.gateway_faults += usize::from(gateway_fault.is_some());
    let lost_write = rng.chance(30).then(|| {
        let (method, loss) = match rng.below(3) {
            0 => ("POST", Loss::Reset),
            1 => ("PATCH", Loss::Reset),
            _ => (
                "PATCH",
                Loss::BadGateway(Duration::from_millis(rng.below(1500))),
            ),
        };
        (rng.below(polls as u64) as usize, method, loss)
    });
    counts.lost_writes += usize::from(lost_write.is_some());
    Schedule {
        replies,
        broadcasts,
        kill_after_poll,
        delete_at_poll,
        discord_faults,
        registration_failures,
        outage,
        lost_answer,
        last_listed,
        gateway_fault,
        lost_write,
    }
}

/// The bot at `warn`, or at `ONAIR_CHAOS_LOG`'s level when replaying.
fn spawn_bot(vars: &HashMap<String, String>, dir: &std::path::Path) -> support::bot::Binary {
    let level = std::env::var("ONAIR_CHAOS_LOG").unwrap_or_else(|_| "warn".into());
    support::bot::spawn_binary(vars, dir, &level)
}

/// One schedule. `replicas`: a PostgreSQL database to run it on two
/// replicas (one shard each, one leader) instead of one process on SQLite;
/// the kill then hits one of them, the leader or not.
async fn run_schedule(seed: u64, replicas: Option<TestDb>) -> Result<Counts, String> {
    let mut counts = Counts::default();
    let s = build(seed, &mut counts);
    if std::env::var_os("ONAIR_CHAOS_DEBUG").is_some() {
        let replies: Vec<String> = s
            .replies
            .iter()
            .map(|r| format!("{}:{}", r.status, &r.body[..r.body.len().min(300)]))
            .collect();
        eprintln!(
            "seed {seed}: kill after poll {:?}, delete {:?}, outage {:?}, lost answer {:?}, gateway {:?}, lost write {:?}, faults {:?}\nreplies:\n{}",
            s.kill_after_poll,
            s.delete_at_poll,
            s.outage,
            s.lost_answer,
            s.gateway_fault,
            s.lost_write,
            s.discord_faults
                .iter()
                .map(|f| (f.0, f.1.clone()))
                .collect::<Vec<_>>(),
            replies.join("\n")
        );
    }
    let processes = if replicas.is_some() { 2 } else { 1 };
    let mut all = SUBSCRIBED.to_vec();
    all.extend([FILTERED, UNSUBSCRIBED]);
    let mut world = World::builder()
        .jkt()
        .var("END_GRACE_SECS", 2)
        // Outages are long against these: retries at most 1 s apart, nonces
        // remembered for 1 s (by Discord and as the bot assumes).
        .var("DELIVERY_RETRY_MAX_SECS", 1)
        .var("DISCORD_NONCE_WINDOW_SECS", 1)
        // Cards are edited while live as often as the bot allows.
        .var("LIVE_UPDATE_SECS", 1)
        .channels(&all)
        .store();
    if let Some(db) = replicas {
        world = world.postgres(db).var("DISCORD_SHARD_COUNT", 2);
    }
    let w = world.start().await;
    let (discord, jkt, vars, dir, store) = (&w.discord, &w.jkt, &w.vars, &w.dir, w.store());
    jkt.script("GET /api/jkt48/live", s.replies.clone());
    let script_len = s.replies.len();
    // Discord remembers a nonce a little longer than the bot assumes (as
    // in production: 60 s assumed, a few minutes real). Equal windows
    // would make a schedule fail when a loaded machine stalls a resend
    // between its decision and its arrival.
    discord.set_nonce_window(Duration::from_secs(2));
    // Heartbeats every 2 s, so a zombie connection is noticed within a run.
    discord.set_heartbeat_interval(Duration::from_secs(2));
    if s.registration_failures > 0 {
        discord.fail_next(
            "PUT",
            "/api/v10/applications/",
            Fault::Server(500),
            s.registration_failures,
        );
    }
    if let Some((ch, delay)) = s.lost_answer {
        discord.lose_answers(ch, 1, delay);
    }
    for ch in SUBSCRIBED.iter().chain([&FILTERED]) {
        store
            .add_subscription(NewSubscription {
                guild_id: GUILD_ID,
                channel_id: *ch,
                platform: (*ch == FILTERED).then_some(Platform::Showroom),
                created_by: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    for (method, path, fault) in &s.discord_faults {
        discord.fail_next(method, path, fault.clone(), 1);
    }

    let spawn = |i: usize| {
        let mut v = vars.clone();
        if processes > 1 {
            v.insert("DISCORD_SHARD_IDS".into(), i.to_string());
        }
        spawn_bot(&v, dir.path())
    };
    let mut bots: Vec<support::bot::Binary> = (0..processes).map(spawn).collect();
    let mut identified = processes;
    discord
        .wait_identified(identified, Duration::from_secs(30))
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed = false;
    let mut deleted = None;
    let mut outage_started = false;
    let mut gateway_faulted = false;
    // Zombie: connections open before it, until one more opens.
    let mut zombie_until_more_than: Option<usize> = None;
    let mut write_lost = false;
    let started = Instant::now();
    loop {
        let polls = jkt.hits("/api/jkt48/live");
        if let (Some(k), false) = (s.kill_after_poll, killed) {
            if polls >= k {
                let victim = (seed as usize) % processes;
                let bot = &mut bots[victim];
                bot.start_kill().map_err(|e| e.to_string())?;
                let _ = bot.wait().await;
                killed = true;
                tokio::time::sleep(Duration::from_millis(300)).await;
                bots[victim] = spawn(victim);
                identified += 1;
                discord
                    .wait_identified(identified, Duration::from_secs(30))
                    .await;
            }
        }
        if let (Some((at, length)), false) = (s.outage, outage_started) {
            if polls >= at {
                discord.fail_for("POST", "/api/v10/channels/", Fault::Server(502), length);
                outage_started = true;
            }
        }
        if let (Some((at, fault)), false) = (s.gateway_fault, gateway_faulted) {
            if polls >= at {
                match fault {
                    GatewayFault::Reconnect => discord.send_reconnect(),
                    GatewayFault::InvalidSession => discord.send_invalid_session(false),
                    GatewayFault::Cut => discord.cut_gateway_connections(),
                    GatewayFault::Close4000 => discord.close_gateway(4000, "chaos"),
                    GatewayFault::Zombie => {
                        zombie_until_more_than = Some(discord.gateway_connections());
                        discord.set_zombie(true);
                    }
                }
                gateway_faulted = true;
            }
        }
        if let Some(before) = zombie_until_more_than {
            if discord.gateway_connections() > before {
                // The bot replaced the zombie connection: serve again.
                discord.set_zombie(false);
                zombie_until_more_than = None;
            }
        }
        if let (Some((at, method, loss)), false) = (s.lost_write, write_lost) {
            if polls >= at {
                discord.lose_after_write(method, "/channels/", loss, 1);
                write_lost = true;
            }
        }
        if let (Some((at, ch)), None) = (s.delete_at_poll, deleted) {
            if polls >= at {
                discord.delete_channel(ch);
                deleted = Some(ch);
            }
        }
        // Done: script consumed, every expected message posted and edited.
        let settled = SUBSCRIBED.iter().filter(|c| Some(**c) != deleted).all(|c| {
            let ms = discord.messages(*c);
            ms.len() == s.broadcasts
                && ms.iter().all(|m| {
                    m.body["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("was live"))
                })
        });
        if polls > script_len + 3 && settled {
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Quiet period of two more polls: anything late (a duplicate) would
    // show by then.
    jkt.wait_more_hits("/api/jkt48/live", 2, Duration::from_secs(30))
        .await;
    for bot in &mut bots {
        let _ = bot.start_kill();
        let _ = bot.wait().await;
    }

    let expected = s.broadcasts;
    let mut problems = Vec::new();
    for ch in SUBSCRIBED {
        let ms = discord.messages(ch);
        if Some(ch) == deleted {
            if ms.len() > expected {
                problems.push(format!(
                    "deleted channel {ch}: {} messages > {expected} broadcasts",
                    ms.len()
                ));
            }
            continue;
        }
        if ms.len() != expected {
            problems.push(format!(
                "channel {ch}: {} announcements, expected {expected}",
                ms.len()
            ));
        }
        let mut keys: Vec<String> = ms
            .iter()
            .map(|m| {
                m.body["embeds"][0]["timestamp"].to_string()
                    + &m.body["embeds"][0]["author"]["name"].to_string()
            })
            .collect();
        keys.sort();
        keys.dedup();
        if keys.len() != ms.len() {
            problems.push(format!("channel {ch}: a broadcast announced twice"));
        }
        for m in &ms {
            let ended = m.body["content"]
                .as_str()
                .is_some_and(|c| c.contains("was live"));
            // Edited to ended, or (ended before its turn came) posted as
            // the ended card: either way the channel says "was live".
            if !ended {
                problems.push(format!(
                    "channel {ch}: message {} not edited to ended",
                    m.id
                ));
            }
        }
    }
    // The order of what each channel saw: "was live" only after the
    // provider last listed that broadcast.
    let hits = jkt.requests_to("GET /api/jkt48/live");
    for ch in SUBSCRIBED {
        for m in discord.messages(ch) {
            let embed = &m.body["embeds"][0];
            let member: Option<usize> = embed["author"]["name"]
                .as_str()
                .and_then(|n| n.strip_prefix("Member "))
                .and_then(|n| n.parse().ok());
            let start = embed["timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp());
            let (Some(member), Some(start)) = (member, start) else {
                problems.push(format!("channel {ch}: message {} is no broadcast", m.id));
                continue;
            };
            let Some(last) = s.last_listed.get(&(member, start)) else {
                problems.push(format!("channel {ch}: a broadcast that never was"));
                continue;
            };
            let Some(listed_at) = hits.get(*last).map(|r| r.at) else {
                continue;
            };
            if let Some((at, _)) = m
                .history
                .iter()
                .find(|(_, content)| content.contains("was live"))
            {
                if *at < listed_at {
                    problems.push(format!(
                        "channel {ch}: Member {member} shown as ended {:?} before the provider last listed her",
                        listed_at.duration_since(*at)
                    ));
                }
            }
        }
    }
    for ch in [FILTERED, UNSUBSCRIBED] {
        if !discord.messages(ch).is_empty() {
            problems.push(format!(
                "channel {ch} got a message it did not subscribe to"
            ));
        }
    }
    let subs = store
        .list_subscriptions(GUILD_ID)
        .await
        .map_err(|e| e.to_string())?;
    let lost = 4usize.saturating_sub(subs.len());
    let disabled_ok = subs
        .iter()
        .all(|s| s.disabled_reason.is_none() || Some(s.channel_id) == deleted);
    if lost > 0 {
        problems.push(format!("{lost} subscriptions lost"));
    }
    if !disabled_ok {
        problems.push("a healthy channel's subscription was disabled".into());
    }
    // Discord bans an IP past 10,000 invalid requests in 10 minutes: the
    // faults above may cost some, never a pace near that.
    counts.invalid_requests = discord.invalid_requests();
    counts.seconds = started.elapsed().as_secs_f64();
    let per_ten_minutes = counts.invalid_requests as f64 * 600.0 / counts.seconds.max(1.0);
    if per_ten_minutes > 1_000.0 {
        problems.push(format!(
            "{} invalid requests in {:.0} s: {per_ten_minutes:.0} per 10 minutes",
            counts.invalid_requests, counts.seconds
        ));
    }
    let violations = discord.violations();
    if !violations.is_empty() {
        problems.push(format!("bodies Discord would refuse: {violations:?}"));
    }
    // A live card's edit that kept it live (a live update, or a reopen).
    counts.live_updates = discord.request_count(|r| {
        r.method == "PATCH"
            && r.status == 200
            && r.body
                .as_ref()
                .and_then(|b| b["content"].as_str())
                .is_some_and(|c| c.contains("is live on"))
    });
    if problems.is_empty() {
        Ok(counts)
    } else {
        if std::env::var_os("ONAIR_CHAOS_DEBUG").is_some() {
            // Keep what the bots logged, and what Discord saw, to read.
            let keep = std::env::temp_dir().join(format!("onair-chaos-{seed}"));
            let _ = std::fs::create_dir_all(&keep);
            let logs = std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten();
            for log in logs.filter(|e| e.path().extension().is_some_and(|x| x == "log")) {
                let _ = std::fs::copy(log.path(), keep.join(log.file_name()));
            }
            let seen: Vec<String> = discord
                .requests()
                .iter()
                .map(|r| {
                    format!(
                        "{:?} {} {} {} -> {}",
                        r.at, r.method, r.path, r.query, r.status
                    )
                })
                .collect();
            let _ = std::fs::write(keep.join("requests.txt"), seen.join("\n"));
            eprintln!("seed {seed}: logs kept in {}", keep.display());
        }
        Err(format!("seed {seed}: {}", problems.join("; ")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_schedules_lose_and_duplicate_nothing() {
    let n: u64 = std::env::var("ONAIR_CHAOS_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seeds: Vec<u64> = match std::env::var("ONAIR_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (1..=n).collect(),
    };
    let (total, failures) = run_schedules(&seeds, 10, false).await;
    eprintln!("chaos: {} schedules, injected {total:?}", seeds.len());
    if seeds.len() >= 10 {
        assert!(
            total.live_updates > 0,
            "no live update was ever exercised: {total:?}"
        );
        assert!(
            total.gateway_faults > 0,
            "no gateway fault was ever injected: {total:?}"
        );
    }
    eprintln!(
        "chaos: {} invalid requests (401/403/429) over {:.0} s of runs: {:.0} per 10 minutes (Discord bans at 10,000)",
        total.invalid_requests,
        total.seconds,
        total.invalid_requests as f64 * 600.0 / total.seconds.max(1.0)
    );
    assert!(
        failures.is_empty(),
        "failing schedules (replay with ONAIR_CHAOS_SEED):\n{}",
        failures.join("\n")
    );
}

/// The replicas mode: schedules on two replicas sharing a PostgreSQL
/// database (each on a fresh one), a random replica killed and restarted.
/// `ONAIR_CHAOS_REPLICA_SCHEDULES=N` runs more (default 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_schedules_with_replicas_lose_and_duplicate_nothing() {
    if support::pg::server_url("fault_schedules_with_replicas").is_none() {
        return;
    }
    let n: u64 = std::env::var("ONAIR_CHAOS_REPLICA_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seeds: Vec<u64> = match std::env::var("ONAIR_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (1001..=1000 + n).collect(),
    };
    let (total, failures) = run_schedules(&seeds, 5, true).await;
    eprintln!(
        "chaos (replicas): {} schedules, injected {total:?}",
        seeds.len()
    );
    assert!(
        failures.is_empty(),
        "failing schedules (replay with ONAIR_CHAOS_SEED):\n{}",
        failures.join("\n")
    );
}

/// Run `seeds`, `parallel` at a time (on replicas when `on_replicas`,
/// each schedule on a fresh PostgreSQL database); the injected totals and
/// the failures.
async fn run_schedules(seeds: &[u64], parallel: usize, on_replicas: bool) -> (Counts, Vec<String>) {
    let mut total = Counts::default();
    let mut failures = Vec::new();
    for chunk in seeds.chunks(parallel) {
        let runs = futures::future::join_all(chunk.iter().map(|seed| async move {
            if !on_replicas {
                return run_schedule(*seed, None).await;
            }
            let Some(db) = support::pg::fresh_database(&format!("chaos_{seed}")).await else {
                return Err("no PostgreSQL".into());
            };
            run_schedule(*seed, Some(db)).await
        }))
        .await;
        for r in runs {
            match r {
                Ok(c) => {
                    total.provider_faults += c.provider_faults;
                    total.provider_timeouts += c.provider_timeouts;
                    total.flaps_inside_grace += c.flaps_inside_grace;
                    total.gaps_outside_grace += c.gaps_outside_grace;
                    total.discord_429_route += c.discord_429_route;
                    total.discord_429_global += c.discord_429_global;
                    total.discord_5xx += c.discord_5xx;
                    total.channels_deleted += c.channels_deleted;
                    total.kills += c.kills;
                    total.broadcasts += c.broadcasts;
                    total.registration_failures += c.registration_failures;
                    total.discord_outages += c.discord_outages;
                    total.lost_answers += c.lost_answers;
                    total.live_updates += c.live_updates;
                    total.gateway_faults += c.gateway_faults;
                    total.lost_writes += c.lost_writes;
                    total.invalid_requests += c.invalid_requests;
                    total.seconds += c.seconds;
                }
                Err(e) => failures.push(e),
            }
        }
    }
    (total, failures)
}
