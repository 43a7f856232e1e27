//! Fair shares of a fan-out, end to end: one server with many subscribed
//! channels does not put its posts in front of every other server's first
//! post. The real bot, the fake Discord, a fake JKT48Connect.

mod support;

use std::time::Duration;

use onair::store::NewSubscription;
use support::bot::TestBot;
use support::discord::GuildSpec;
use support::fake_providers::{fritzy_live, Reply};
use support::world::World;

const T: Duration = Duration::from_secs(60);
const BIG: u64 = 1200000000000000500;
const BIG_CHANNELS: u64 = 300;
const SMALL: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_small_servers_get_their_post_before_a_big_servers_31st() {
    let w = World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .store()
        .start()
        .await;
    let store = w.store();
    // The big server subscribed first (its deliveries are queued first).
    let big: Vec<u64> = (0..BIG_CHANNELS).map(|i| 1300000000000010000 + i).collect();
    w.discord.add_guild(GuildSpec::new(BIG, &big));
    for ch in &big {
        store
            .add_subscription(NewSubscription {
                guild_id: BIG,
                channel_id: *ch,
                created_by: 1,
                ..Default::default()
            })
            .await
            .expect("subscription saved");
    }
    let mut small = Vec::new();
    for i in 0..SMALL {
        let (guild, ch) = (1200000000000000600 + i, 1300000000000020000 + i);
        w.discord.add_guild(GuildSpec::new(guild, &[ch]));
        support::bot::subscribe_everything(store, guild, ch).await;
        small.push(ch);
    }
    // Posts paced as in production (40/s, under the fake's 50/s): the
    // order of service, not the speed of the store, decides who goes first.
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(fritzy_live("2026-12-01T12:00:00.000Z")),
    );
    let total = (BIG_CHANNELS + SMALL) as usize;
    w.discord
        .wait_for(T, "every post", |d| d.all_messages().len() >= total)
        .await;
    let mut posts = w.discord.all_messages();
    posts.sort_by_key(|m| m.id);
    let big_31st = posts
        .iter()
        .enumerate()
        .filter(|(_, m)| big.contains(&m.channel_id))
        .nth(30)
        .map(|(i, _)| i)
        .expect("the big server's 31st post");
    let last_small = posts
        .iter()
        .rposition(|m| small.contains(&m.channel_id))
        .expect("small servers' posts");
    assert!(
        last_small < big_31st,
        "the last small server's post is #{last_small}, the big server's 31st #{big_31st}"
    );
    assert_eq!(posts.len(), total, "one post per channel");
    w.discord.assert_spec_clean();
    bot.stop().await;
}
