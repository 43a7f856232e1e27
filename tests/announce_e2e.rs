//! Go-live announcements end to end: the real bot, the fake Discord and a
//! fake JKT48Connect. Exactly one message per subscribed channel, an edit
//! when the stream ends, nothing on flaps or provider failures, 429s
//! waited out, dead channels disabled, and the admin commands' guards.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use onair::live::Platform;
use onair::store::{NewSubscription, Store};
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{
    ChannelSpec, FakeDiscord, Fault, GuildSpec, Invoker, Overwrite, BOT_ID, GUILD_ID, SEND_MESSAGES,
};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(20);

fn fritzy(start: &str) -> Value {
    json!({
        "name": "Fritzy", "img": "https://cdn.test/fritzy.jpg", "img_alt": "https://cdn.test/fritzy-a.webp",
        "url_key": "jkt48_fritzy", "slug": "yuk-diborong", "room_id": 510011, "chat_room_id": null,
        "started_at": start, "title": "@everyone come watch",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/fritzy.m3u8"}],
        "type": "idn"
    })
}

fn gracia() -> Value {
    json!({
        "name": "Gracia", "img": "https://cdn.test/gracia.jpg", "url_key": "jkt48_gracia",
        "room_id": 317727, "started_at": "2025-04-06T13:00:00.000Z", "type": "showroom"
    })
}

/// The test server with its default channel plus `channels`, the dev
/// guild set, JKT48Connect wired and the store open.
async fn world(channels: &[u64]) -> World {
    let mut all = vec![support::discord::CHANNEL_ID];
    all.extend_from_slice(channels);
    World::builder()
        .jkt()
        .var("DEV_GUILD_ID", GUILD_ID)
        .channels(&all)
        .store()
        .start()
        .await
}

async fn subscribe(
    store: &Arc<dyn Store>,
    channel: u64,
    f: impl FnOnce(&mut NewSubscription),
) -> i64 {
    let mut n = NewSubscription {
        guild_id: GUILD_ID,
        channel_id: channel,
        created_by: 1,
        ..Default::default()
    };
    f(&mut n);
    store
        .add_subscription(n)
        .await
        .expect("subscription saved")
        .id
}

fn count_messages(d: &FakeDiscord, channels: &[u64]) -> Vec<usize> {
    channels.iter().map(|c| d.messages(*c).len()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_announcement_per_matching_channel_then_one_end_edit() {
    let w = world(&[11, 12, 13, 14, 15]).await;
    subscribe(w.store(), 11, |_| {}).await; // everything
    subscribe(w.store(), 12, |n| n.platform = Some(Platform::Idn)).await;
    subscribe(w.store(), 13, |n| n.platform = Some(Platform::Showroom)).await; // not Fritzy
    subscribe(w.store(), 14, |n| n.member = Some("fritzy".into())).await;
    subscribe(w.store(), 15, |n| n.tiktok = Some("khaby.lame".into())).await; // TikTok only
    let role = 1900000000000000001;
    subscribe(w.store(), 11, |n| n.role_id = Some(role)).await; // same channel: still one message
    let bot = TestBot::start(&w.discord, &w.vars).await;

    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
    );
    w.discord
        .wait_for(T, "three announcements", |d| {
            count_messages(d, &[11, 12, 14]) == [1, 1, 1]
        })
        .await;
    // Flap inside the grace: gone for one poll, back.
    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    w.jkt.wait_more_hits("/api/jkt48/live", 1, T).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
    );
    // Provider trouble for several polls: garbage, 500, HTML.
    w.jkt.script(
        "GET /api/jkt48/live",
        vec![
            Reply::text(200, "{not json"),
            Reply::status(500, "{}"),
            Reply::html(502),
            Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
        ],
    );
    // Through the script and one good poll after it.
    w.jkt.wait_more_hits("/api/jkt48/live", 5, T).await;
    assert_eq!(
        count_messages(&w.discord, &[11, 12, 13, 14, 15]),
        [1, 1, 0, 1, 0]
    );
    assert!(
        w.discord.all_messages().iter().all(|m| m.edits == 0),
        "no end during flaps or failures"
    );

    let msg = &w.discord.messages(11)[0];
    assert_eq!(msg.body["content"], "**Fritzy** is live on IDN Live");
    assert_eq!(
        msg.body["allowed_mentions"]["parse"],
        json!([]),
        "the title's @everyone pings no one"
    );
    assert!(msg.body["embeds"][0]["fields"]
        .to_string()
        .contains("fritzy.m3u8"));

    // She ends: every message edited once, links gone.
    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    w.discord
        .wait_for(T, "end edits", |d| {
            [11, 12, 14]
                .iter()
                .all(|c| d.messages(*c).first().is_some_and(|m| m.edits == 1))
        })
        .await;
    // Two more polls: a second edit would show by then.
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    for c in [11, 12, 14] {
        let m = &w.discord.messages(c)[0];
        assert_eq!(m.edits, 1);
        let text = m.body.to_string();
        assert!(
            !text.contains("fritzy.m3u8") && text.contains("Ended"),
            "{text}"
        );
    }
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_ping_and_template_allow_only_that_role() {
    let w = world(&[21]).await;
    let role = 1900000000000000001;
    subscribe(w.store(), 21, |n| {
        n.role_id = Some(role);
        n.template = Some("{role} {name} on {platform}! {title} @everyone {unknown}".into());
    })
    .await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
    );
    w.discord
        .wait_for(T, "announcement", |d| d.messages(21).len() == 1)
        .await;
    let m = &w.discord.messages(21)[0].body;
    assert_eq!(
        m["content"],
        format!("<@&{role}> Fritzy on IDN Live! @everyone come watch @everyone {{unknown}}")
    );
    assert_eq!(m["allowed_mentions"]["parse"], json!([]));
    assert_eq!(m["allowed_mentions"]["roles"], json!([role.to_string()]));
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_channels_get_both_announcements_once_and_a_429_is_waited_out() {
    let channels: Vec<u64> = (0..100).map(|i| 3000 + i).collect();
    let w = world(&channels).await;
    for c in &channels {
        subscribe(w.store(), *c, |_| {}).await;
    }
    // One channel is rate limited twice first.
    w.discord.fail_next(
        "POST",
        "/api/v10/channels/3007/messages",
        Fault::RateLimited {
            retry_after: 0.3,
            global: false,
        },
        2,
    );
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z"), gracia()])),
    );
    // The poll that sees the streams.
    let t0 = support::bench::next_poll(&w.jkt, "/api/jkt48/live", Duration::from_secs(5)).await;
    w.discord
        .wait_for(T, "200 announcements", |d| {
            channels.iter().all(|c| d.messages(*c).len() == 2)
        })
        .await;
    for stream in ["Fritzy", "Gracia"] {
        let mut times: Vec<Instant> = w
            .discord
            .all_messages()
            .iter()
            .filter(|m| {
                m.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains(stream))
            })
            .map(|m| m.at)
            .collect();
        times.sort();
        eprintln!(
            "100 channels, {stream}: first announcement {:?}, last {:?} after the poll that saw the stream (DISCORD_GLOBAL_RPS 40)",
            times[0].duration_since(t0),
            times[times.len() - 1].duration_since(t0)
        );
    }
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    assert!(
        channels.iter().all(|c| w.discord.messages(*c).len() == 2),
        "no duplicates"
    );
    let limited: Vec<_> = w
        .discord
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v10/channels/3007/messages")
        .map(|r| (r.status, r.at))
        .collect();
    assert_eq!(limited.iter().filter(|(s, _)| *s == 429).count(), 2);
    let ok_at = limited
        .iter()
        .find(|(s, _)| *s == 200)
        .map(|(_, t)| *t)
        .expect("delivered");
    let first_429 = limited
        .iter()
        .find(|(s, _)| *s == 429)
        .map(|(_, t)| *t)
        .expect("limited");
    assert!(
        ok_at.duration_since(first_429) >= Duration::from_millis(550),
        "waited retry_after twice"
    );
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_channel_three_times_disables_and_reports() {
    let w = world(&[41, 42]).await;
    let dead = subscribe(w.store(), 41, |_| {}).await;
    subscribe(w.store(), 42, |_| {}).await;
    w.discord.delete_channel(41);
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
    );
    w.discord
        .wait_for(T, "live channel announced", |d| d.messages(42).len() == 1)
        .await;
    let deadline = Instant::now() + T;
    loop {
        let s = w
            .store()
            .get_subscription(GUILD_ID, dead)
            .await
            .unwrap()
            .unwrap();
        if let Some(reason) = s.disabled_reason {
            assert!(reason.contains("10003"));
            break;
        }
        assert!(Instant::now() < deadline, "subscription never disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = w
        .discord
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v10/channels/41/messages")
        .count();
    assert_eq!(attempts, 3, "three tries, then no more hammering");

    // /subscriptions shows it, ephemerally.
    let p = w
        .discord
        .slash("subscriptions", json!([]), None, &Invoker::default());
    let text = w.discord.private_text(&p, T).await;
    assert!(
        text.contains("disabled") && text.contains("Unknown Channel"),
        "{text}"
    );
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_guards_admins_and_permissions() {
    // Commands registered globally (no dev guild): another server can
    // invoke them too, as below.
    let w = World::builder()
        .jkt()
        .channels(&[support::discord::CHANNEL_ID, 51, 52])
        .store()
        .start()
        .await;
    let mut g = GuildSpec::new(GUILD_ID, &[support::discord::CHANNEL_ID, 51, 52]);
    // Read-only for the bot alone (its member overwrite): the admin may
    // write there, the bot may not.
    g.channels[2] = ChannelSpec {
        id: 52,
        name: "read-only".into(),
        deny_everyone: 0,
        overwrites: vec![Overwrite::member(BOT_ID, 0, SEND_MESSAGES)],
    };
    w.discord.add_guild(g);
    let bot = TestBot::start(&w.discord, &w.vars).await;

    // A non-admin is refused, even though Discord delivered the command.
    let member = Invoker {
        permissions: 0,
        ..Invoker::default()
    };
    let p = w.discord.slash(
        "subscribe",
        json!([{"name": "channel", "type": 7, "value": "51"}]),
        Some(w.discord.resolved_channel_for(&member, 51)),
        &member,
    );
    let text = w.discord.private_text(&p, T).await;
    assert!(text.contains("Manage Server"), "{text}");

    // Missing Send Messages in the channel: explained, nothing saved.
    let p = w
        .discord
        .subscribe_command(52, &[], None, &Invoker::default());
    let text = w.discord.answer_text(&p, T).await;
    assert!(
        text.contains("I am missing **Send Messages**") && text.contains("Nothing was saved"),
        "{text}"
    );
    assert_eq!(w.store().count_subscriptions().await.unwrap(), 0);

    // An admin with a good channel and a role: saved.
    let role = 1900000000000000002;
    let p = w.discord.subscribe_command(
        51,
        &[json!({"name": "member", "type": 3, "value": "Fritzy"})],
        Some((role, true)),
        &Invoker::default(),
    );
    let text = w.discord.answer_text(&p, T).await;
    assert!(text.contains("Saved subscription"), "{text}");
    let subs = w.store().list_subscriptions(GUILD_ID).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!((subs[0].channel_id, subs[0].role_id), (51, Some(role)));

    // Another guild cannot see or remove it.
    let outsider = Invoker {
        guild_id: 1200000000000000999,
        ..Invoker::default()
    };
    let p = w.discord.slash(
        "unsubscribe",
        json!([{"name": "id", "type": 4, "value": subs[0].id}]),
        None,
        &outsider,
    );
    let a = w.discord.answer(&p, T).await;
    assert!(
        a["content"]
            .as_str()
            .unwrap()
            .contains("has no subscription"),
        "{a}"
    );
    assert_eq!(w.store().count_subscriptions().await.unwrap(), 1);

    // The sample announcement proves the setup, clearly marked.
    let p = w.discord.subcommand(
        "subscription",
        "test",
        json!([{"name": "id", "type": 4, "value": subs[0].id}]),
        &Invoker::default(),
    );
    let _ = w.discord.answer(&p, T).await;
    w.discord
        .wait_for(T, "test post", |d| d.messages(51).len() == 1)
        .await;
    assert!(w.discord.messages(51)[0].body["content"]
        .as_str()
        .unwrap()
        .contains("TEST"));
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_delivered_once() {
    let w = world(&[81]).await;
    subscribe(w.store(), 81, |_| {}).await;
    w.discord.fail_next(
        "POST",
        "/api/v10/channels/81/messages",
        Fault::Server(502),
        2,
    );
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
    );
    w.discord
        .wait_for(T, "delivery after two 502s", |d| d.messages(81).len() == 1)
        .await;
    let tries: Vec<u16> = w
        .discord
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v10/channels/81/messages")
        .map(|r| r.status)
        .collect();
    assert_eq!(tries, [502, 502, 200]);
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    assert_eq!(w.discord.messages(81).len(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_timing_out_ends_nothing_and_announces_nothing_new() {
    let w = world(&[71]).await;
    subscribe(w.store(), 71, |_| {}).await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
    );
    w.discord
        .wait_for(T, "announcement", |d| d.messages(71).len() == 1)
        .await;
    // One poll hangs past the 10 s client timeout (five times the grace),
    // then she is still live.
    w.jkt.script(
        "GET /api/jkt48/live",
        vec![
            Reply::json(json!([])).delay(Duration::from_millis(10_500)),
            Reply::json(json!([fritzy("2025-04-06T12:03:58.000Z")])),
        ],
    );
    let before = w.jkt.hits("/api/jkt48/live");
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.jkt.hits("/api/jkt48/live") < before + 3 {
        assert!(Instant::now() < deadline, "polling stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = &w.discord.messages(71);
    assert_eq!(m.len(), 1, "no new announcement");
    assert_eq!(m[0].edits, 0, "no end during the timeout");
    bot.stop().await;
}
