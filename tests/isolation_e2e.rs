//! Servers do not trust each other (the isolation rule): a source one
//! server chose (a TikTok username, a RealtimeKit livestream) reaches only
//! the subscriptions that name it; catch-all, platform and member filters
//! cover the curated sources (JKT48Connect), and the operator's
//! RealtimeKit livestreams only with `REALTIMEKIT_PUBLIC=true`. The real
//! bot, the fake Discord, fake KonbiniAPI / JKT48Connect / Cloudflare.

mod support;

use std::sync::Arc;
use std::time::Duration;

use onair::live::Platform;
use onair::store::{NewSubscription, Store};
use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::{FakeDiscord, GuildSpec, Invoker, RoleSpec, GUILD_ID};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(20);

/// Server A (chooses the TikTok account) and server B (trusts onair's
/// curated list).
const GUILD_A: u64 = 1200000000000000101;
const GUILD_B: u64 = 1200000000000000202;
const A_TIKTOK: u64 = 1300000000000000121;
const B_CATCH_ALL: u64 = 1300000000000000231;
const B_PLATFORM_TIKTOK: u64 = 1300000000000000232;
const B_MEMBER_FRITZY: u64 = 1300000000000000233;
const B_ROLE: u64 = 1900000000000000299;

async fn subscribe(
    store: &Arc<dyn Store>,
    guild: u64,
    channel: u64,
    f: impl FnOnce(&mut NewSubscription),
) {
    let mut n = NewSubscription {
        guild_id: guild,
        channel_id: channel,
        created_by: 1,
        ..Default::default()
    };
    f(&mut n);
    store.add_subscription(n).await.expect("subscription saved");
}

/// KonbiniAPI's answer for a live account whose owner named it "Fritzy".
fn tiktok_live_named_fritzy(user: &str) -> Value {
    json!({"data": {
        "type": "Video", "url": format!("https://www.tiktok.com/@{user}/live"),
        "entityId": "7600000000000000099", "published": "2026-12-01T12:00:00.000Z",
        "isLive": true, "viewerCount": 321, "content": "not a JKT48 member",
        "attributedTo": {"name": "Fritzy", "preferredUsername": "fritzy",
            "icon": {"type": "Image", "url": "https://p16.test/impostor.jpeg"}},
        "image": {"type": "Image", "url": "https://p16.test/impostor-cover.jpeg"},
        "attachment": [{"type": "Video", "url": ["https://pull.test/impostor.m3u8"],
            "mediaType": "application/x-mpegURL", "name": "hls"}]
    }})
}

fn mentioned_roles(m: &Value) -> Vec<String> {
    m["allowed_mentions"]["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiktok_account_one_server_chose_reaches_only_that_server() {
    let mut b = GuildSpec::new(GUILD_B, &[B_CATCH_ALL, B_PLATFORM_TIKTOK, B_MEMBER_FRITZY]);
    b.roles
        .push(RoleSpec::new(B_ROLE, "fans").mentionable(true));
    let w = World::builder()
        .jkt()
        .konbini()
        .guild(GuildSpec::new(GUILD_A, &[A_TIKTOK]))
        .guild(b)
        .store()
        .start()
        .await;
    let (discord, jkt, konbini, store) = (&w.discord, &w.jkt, &w.konbini, w.store());
    subscribe(store, GUILD_A, A_TIKTOK, |n| {
        n.tiktok = Some("anyaccount".into());
        n.platform = Some(Platform::Tiktok);
    })
    .await;
    subscribe(store, GUILD_B, B_CATCH_ALL, |n| n.role_id = Some(B_ROLE)).await;
    subscribe(store, GUILD_B, B_PLATFORM_TIKTOK, |n| {
        n.platform = Some(Platform::Tiktok);
        n.role_id = Some(B_ROLE);
    })
    .await;
    subscribe(store, GUILD_B, B_MEMBER_FRITZY, |n| {
        n.member = Some("Fritzy".into());
        n.role_id = Some(B_ROLE);
    })
    .await;
    konbini.set(
        "GET /v1/tiktok/users/anyaccount/live",
        Reply::json(tiktok_live_named_fritzy("anyaccount")),
    );
    let bot = TestBot::start(discord, &w.vars).await;

    discord
        .wait_for(T, "A's announcement", |d| d.messages(A_TIKTOK).len() == 1)
        .await;
    // Two more TikTok polls: nothing else was on its way to B.
    konbini
        .wait_more_hits("/v1/tiktok/users/anyaccount/live", 2, T)
        .await;
    assert!(
        bot_is_idle_in(discord, &[B_CATCH_ALL, B_PLATFORM_TIKTOK, B_MEMBER_FRITZY]),
        "B got a post for an account A chose"
    );
    let a_post = &discord.messages(A_TIKTOK)[0].body;
    assert!(a_post.to_string().contains("Fritzy"), "{a_post}");
    for m in discord.all_messages() {
        assert!(
            !mentioned_roles(&m.body).contains(&B_ROLE.to_string()),
            "B's role pinged: {}",
            m.body
        );
    }

    // The control: B's subscriptions work, for the curated member.
    jkt.set(
        "GET /api/jkt48/live",
        Reply::json(support::fake_providers::fritzy_live(
            "2026-12-01T13:00:00.000Z",
        )),
    );
    discord
        .wait_for(
            T,
            "the curated Fritzy in B's catch-all and member channels",
            |d| d.messages(B_CATCH_ALL).len() == 1 && d.messages(B_MEMBER_FRITZY).len() == 1,
        )
        .await;
    jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    assert_eq!(discord.messages(B_PLATFORM_TIKTOK).len(), 0);
    assert_eq!(
        discord.messages(A_TIKTOK).len(),
        1,
        "A named a TikTok account: no curated lives there"
    );
    let b_post = &discord.messages(B_CATCH_ALL)[0].body;
    assert_eq!(mentioned_roles(b_post), [B_ROLE.to_string()], "{b_post}");
    discord.assert_spec_clean();
    bot.stop().await;
}

fn bot_is_idle_in(d: &FakeDiscord, channels: &[u64]) -> bool {
    channels.iter().all(|c| d.messages(*c).is_empty())
        && d.requests()
            .iter()
            .all(|r| !channels.iter().any(|c| r.path.contains(&c.to_string())))
}

const CF_BASE: &str = "/accounts/acc1/realtime/kit/app1";
const FOLLOWS_LS1: u64 = 1300000000000000241;

fn livestream(id: &str) -> Value {
    json!({
        "id": id, "name": format!("Show {id}"), "status": "LIVE", "disabled": "false",
        "meeting_id": "meet-1", "ingest_server": "rtmps://live.cf.test:443/live/",
        "stream_key": "SK-ISOLATION-SECRET", "playback_url": format!("https://play.cf.test/{id}.m3u8"),
        "created_at": "2026-11-24T10:00:00.000Z", "updated_at": "2026-11-24T10:00:00.000Z"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_livestreams_reach_catch_alls_only_with_realtimekit_public() {
    let mut w = World::builder()
        .cloudflare()
        .guild(GuildSpec::new(GUILD_B, &[B_CATCH_ALL, FOLLOWS_LS1]))
        .store()
        .start()
        .await;
    let (discord, cf, store) = (&w.discord, &w.cf, w.store());
    subscribe(store, GUILD_B, B_CATCH_ALL, |_| {}).await;
    subscribe(store, GUILD_B, FOLLOWS_LS1, |n| {
        n.realtimekit_id = Some("ls-1".into());
        n.platform = Some(Platform::Realtimekit);
    })
    .await;
    let route = format!("GET {CF_BASE}/livestreams");
    cf.set(
        &route,
        Reply::json(json!({"success": true, "data": [livestream("ls-1")]})),
    );

    // Without the opt-in: only the subscription naming it.
    let bot = TestBot::start(discord, &w.vars).await;
    discord
        .wait_for(T, "the named livestream's post", |d| {
            d.messages(FOLLOWS_LS1).len() == 1
        })
        .await;
    cf.wait_more_hits(&format!("{CF_BASE}/livestreams"), 2, T)
        .await;
    assert!(discord.messages(B_CATCH_ALL).is_empty());
    bot.stop().await;

    // With it: a new livestream reaches the catch-all as well.
    w.vars.insert("REALTIMEKIT_PUBLIC".into(), "true".into());
    cf.set(
        &route,
        Reply::json(json!({"success": true, "data": [livestream("ls-1"), livestream("ls-2")]})),
    );
    let bot = TestBot::start(discord, &w.vars).await;
    discord
        .wait_for(T, "ls-2 in the catch-all", |d| {
            d.messages(B_CATCH_ALL).len() == 1
        })
        .await;
    let post = discord.messages(B_CATCH_ALL)[0].body.to_string();
    assert!(post.contains("ls-2.m3u8"), "{post}");
    assert_eq!(discord.messages(FOLLOWS_LS1).len(), 1, "ls-2 is not ls-1");
    discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_refuses_usernames_tiktok_does_not_allow_and_member_with_a_named_source() {
    let w = World::builder()
        .konbini()
        .var("DEV_GUILD_ID", GUILD_ID)
        .channels(&[support::discord::CHANNEL_ID])
        .start()
        .await;
    let (discord, vars) = (&w.discord, &w.vars);
    let bot = TestBot::start(discord, vars).await;
    let who = Invoker::default();
    let channel = support::discord::CHANNEL_ID;
    for bad in ["..", "a.", ".", "x"] {
        let p = discord.subscribe_command(
            channel,
            &[json!({"name": "tiktok", "type": 3, "value": bad})],
            None,
            &who,
        );
        let text = discord.private_text(&p, T).await;
        assert!(text.contains("is not a TikTok username"), "{bad}: {text}");
    }
    let p = discord.subscribe_command(
        channel,
        &[
            json!({"name": "tiktok", "type": 3, "value": "anyaccount"}),
            json!({"name": "member", "type": 3, "value": "Fritzy"}),
        ],
        None,
        &who,
    );
    let text = discord.private_text(&p, T).await;
    assert!(text.contains("Use one or the other"), "{text}");
    // A good one is saved: the refusals above were about the values.
    let p = discord.subscribe_command(
        channel,
        &[json!({"name": "tiktok", "type": 3, "value": "@Any.Account9"})],
        None,
        &who,
    );
    let text = discord.answer_text(&p, T).await;
    assert!(text.contains("any.account9"), "{text}");
    let store = onair::store::connect(&vars["DATABASE_URL"])
        .await
        .expect("store");
    let subs = store.active_subscriptions().await.expect("subscriptions");
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].tiktok.as_deref(), Some("any.account9"));
    bot.stop().await;
}
