//! Benchmark scenario 7: one go-live fanned out to N channels with bot
//! posts only, against the same with a share of the subscriptions posting
//! as the member through channel webhooks (paced under their own budget,
//! counted per IP by Discord). Two go-lives: the first makes the webhooks
//! (one lookup and one create per channel, on the bot's budget), the
//! second reuses them.

use std::time::{Duration, Instant};

use onair::store::{Identity, NewSubscription};
use serde_json::json;

use super::bench::{member, next_poll, rig, tally};
use super::bot::TestBot;
use super::discord::{GuildSpec, MANAGE_WEBHOOKS};
use super::fake_providers::Reply;

#[derive(Debug, Clone)]
pub struct IdentityFanout {
    pub n: usize,
    /// Subscriptions posting as the member.
    pub as_member: usize,
    /// From the poll that saw the go-live to the last post, per go-live.
    pub first_live: Duration,
    pub second_live: Duration,
    pub rate_limited: usize,
    pub webhooks: usize,
    pub duplicates: usize,
    pub missing: usize,
}

/// `n` channels (one guild each); the first `n * share` post as the member.
/// The fake enforces `r` requests/s for the bot's token, `r` per IP for
/// webhook requests, and 5 messages / 5 s per channel.
pub async fn fanout(n: usize, share: f64, r: usize, rps: u32) -> IdentityFanout {
    let rig = rig(&[
        ("DISCORD_GLOBAL_RPS", rps.to_string()),
        ("DISCORD_WEBHOOK_RPS", rps.to_string()),
        ("LIVE_UPDATE_SECS", "0".to_string()),
    ])
    .await;
    rig.discord.set_global_limit(r);
    rig.discord.set_ip_limit(r);
    rig.discord.set_channel_limit(5, Duration::from_secs(5));
    let as_member = ((n as f64) * share).round() as usize;
    let mut channels = Vec::with_capacity(n);
    for i in 0..n {
        let ch = 20_000_000 + i as u64;
        let guild = ch + 1_000_000;
        let mut g = GuildSpec::new(guild, &[ch]);
        g.everyone_permissions |= MANAGE_WEBHOOKS;
        rig.discord.add_guild(g);
        rig.store
            .add_subscription(NewSubscription {
                guild_id: guild,
                channel_id: ch,
                created_by: 1,
                identity: if i < as_member {
                    Identity::Member
                } else {
                    Identity::Bot
                },
                ..Default::default()
            })
            .await
            .expect("subscription");
        channels.push(ch);
    }
    let bot = TestBot::start(&rig.discord, &rig.vars).await;
    let path = "/api/jkt48/live";
    next_poll(&rig.jkt, path, Duration::from_secs(10)).await;
    let budget = Duration::from_secs_f64(n as f64 / r as f64 * 6.0 + 30.0);
    let mut spans = Vec::new();
    for live in 1..=2usize {
        let lineup: Vec<_> = (1..=live).map(member).collect();
        rig.jkt
            .set("GET /api/jkt48/live", Reply::json(json!(lineup)));
        let seen = next_poll(&rig.jkt, path, Duration::from_secs(10)).await;
        rig.discord
            .wait_for(budget, "every announcement", |d| {
                d.all_messages().len() >= n * live
            })
            .await;
        let last = rig
            .discord
            .all_messages()
            .iter()
            .map(|m| m.at)
            .max()
            .unwrap_or_else(Instant::now);
        spans.push(last.saturating_duration_since(seen));
    }
    // Anything late or doubled would show within a second.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let t = tally(&rig.discord.all_messages(), &channels, 2);
    let result = IdentityFanout {
        n,
        as_member,
        first_live: spans[0],
        second_live: spans[1],
        rate_limited: rig.discord.rate_limited_count(),
        webhooks: rig.discord.webhooks().len(),
        duplicates: t.duplicates,
        missing: t.missing,
    };
    bot.stop().await;
    result
}
