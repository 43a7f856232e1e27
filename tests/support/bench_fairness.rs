//! Benchmark scenario 8: fair shares of one go-live. One server with many
//! subscribed channels (subscribed first, so its deliveries queue first)
//! and many servers with one channel each, at Discord's real 50 requests
//! per second: how long each small server waits for its post, with the
//! round-robin by server and without it (`DISCORD_FAIR_SHARES=false`), and
//! how long the whole fan-out takes.

use std::time::Duration;

use onair::store::NewSubscription;
use serde_json::json;

use super::bench::{member, next_poll, rig, tally};
use super::bot::TestBot;
use super::discord::GuildSpec;
use super::fake_providers::Reply;

#[derive(Debug, Clone)]
pub struct Fairness {
    pub fair: bool,
    /// From the poll that saw the go-live to each small server's post.
    pub small_p50: Duration,
    pub small_p99: Duration,
    pub small_max: Duration,
    /// From that poll to the last post of all.
    pub total: Duration,
    pub rate_limited: usize,
    pub duplicates: usize,
    pub missing: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One go-live; a server with `big` channels, `small` servers with one.
/// The fake enforces `r` requests/s and 5 messages / 5 s per channel; the
/// bot's cap is `rps`.
pub async fn fairness(big: usize, small: usize, r: usize, rps: u32, fair: bool) -> Fairness {
    let rig = rig(&[
        ("DISCORD_GLOBAL_RPS", rps.to_string()),
        ("LIVE_UPDATE_SECS", "0".to_string()),
        ("DISCORD_FAIR_SHARES", fair.to_string()),
    ])
    .await;
    rig.discord.set_global_limit(r);
    rig.discord.set_channel_limit(5, Duration::from_secs(5));
    let big_guild = 30_000_000u64;
    let big_channels: Vec<u64> = (0..big as u64).map(|i| 31_000_000 + i).collect();
    rig.discord
        .add_guild(GuildSpec::new(big_guild, &big_channels));
    for ch in &big_channels {
        rig.store
            .add_subscription(NewSubscription {
                guild_id: big_guild,
                channel_id: *ch,
                created_by: 1,
                ..Default::default()
            })
            .await
            .expect("subscription");
    }
    let mut small_channels = Vec::with_capacity(small);
    for i in 0..small as u64 {
        let (guild, ch) = (32_000_000 + i, 33_000_000 + i);
        rig.discord.add_guild(GuildSpec::new(guild, &[ch]));
        rig.store
            .add_subscription(NewSubscription {
                guild_id: guild,
                channel_id: ch,
                created_by: 1,
                ..Default::default()
            })
            .await
            .expect("subscription");
        small_channels.push(ch);
    }
    let bot = TestBot::start(&rig.discord, &rig.vars).await;
    next_poll(&rig.jkt, "/api/jkt48/live", Duration::from_secs(10)).await;
    rig.jkt
        .set("GET /api/jkt48/live", Reply::json(json!([member(1)])));
    let seen = next_poll(&rig.jkt, "/api/jkt48/live", Duration::from_secs(10)).await;
    let n = big + small;
    let budget = Duration::from_secs_f64(n as f64 / f64::from(rps.max(1)) * 3.0 + 20.0);
    rig.discord
        .wait_for(budget, "every announcement", |d| {
            d.all_messages().len() >= n
        })
        .await;
    let msgs = rig.discord.all_messages();
    let mut all = big_channels.clone();
    all.extend(&small_channels);
    let t = tally(&msgs, &all, 1);
    let mut waits: Vec<Duration> = msgs
        .iter()
        .filter(|m| small_channels.contains(&m.channel_id))
        .map(|m| m.at.saturating_duration_since(seen))
        .collect();
    waits.sort();
    let result = Fairness {
        fair,
        small_p50: percentile(&waits, 0.5),
        small_p99: percentile(&waits, 0.99),
        small_max: waits.last().copied().unwrap_or_default(),
        total: t
            .last
            .map_or(Duration::ZERO, |l| l.saturating_duration_since(seen)),
        rate_limited: rig.discord.rate_limited_count(),
        duplicates: t.duplicates,
        missing: t.missing,
    };
    bot.stop().await;
    result
}
