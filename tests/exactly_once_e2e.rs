//! Exactly once beyond Discord's nonce window, and resume that polls first.
//! The fake forgets nonces after a (test-shortened) window, as Discord does
//! after a few minutes, and can store a message yet lose the answer: the
//! bot must then find its own post in the channel instead of posting again.

mod support;

use std::time::Duration;

use onair::store::DeliveryStatus;
use serde_json::json;
use support::bot::{wait_delivery, TestBot};
use support::discord::{FakeDiscord, Invoker, EMBED_LINKS, READ_MESSAGE_HISTORY};
use support::fake_providers::{fritzy_live, Reply};
use support::world::World;

const T: Duration = Duration::from_secs(30);
const CH: u64 = 31;

/// Nonces remembered for 1 s (by the fake and as the bot assumes),
/// JKT48Connect wired, channel CH subscribed to everything.
async fn world() -> World {
    let w = World::builder()
        .jkt()
        // The bot assumes a window no longer than the fake's.
        .var("DISCORD_NONCE_WINDOW_SECS", 1)
        .var("DELIVERY_RETRY_MAX_SECS", 2)
        .channels(&[CH])
        .subscribe(&[CH])
        .start()
        .await;
    w.discord.set_nonce_window(Duration::from_secs(1));
    w
}

/// The bot started with Fritzy live and the first post's answer lost (1 s
/// later, after Discord stored it): the state every lookup test starts in.
async fn live_with_a_lost_answer(w: &World) -> TestBot {
    w.discord.lose_answers(CH, 1, Duration::from_secs(1));
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(fritzy_live("2025-04-06T12:03:58.000Z")),
    );
    bot
}

/// How many message POSTs reached channel CH.
fn posts_to_ch(d: &FakeDiscord) -> usize {
    d.request_count(|r| r.method == "POST" && r.path == format!("/api/v10/channels/{CH}/messages"))
}

/// The fake itself: past its window a nonce no longer dedupes, so a blind
/// resend would post twice (what the bot's lookup must prevent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_forgets_nonces_after_its_window() {
    let discord = FakeDiscord::start().await;
    discord.set_nonce_window(Duration::from_millis(300));
    let client = reqwest::Client::new();
    let post = || {
        client
            .post(format!(
                "{}/api/v10/channels/{CH}/messages",
                discord.api_url()
            ))
            .header("authorization", "Bot x")
            .header("user-agent", "DiscordBot (test, 1)")
            .json(&json!({"content": "hi", "nonce": "n-1", "enforce_nonce": true}))
            .send()
    };
    post().await.unwrap();
    post().await.unwrap();
    assert_eq!(discord.messages(CH).len(), 1, "deduped inside the window");
    let stored_at = discord.messages(CH)[0].at;
    while stored_at.elapsed() < Duration::from_millis(350) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    post().await.unwrap();
    assert_eq!(discord.messages(CH).len(), 2, "forgotten after it");
    // And a request without a DiscordBot User-Agent is refused.
    let r = client
        .get(format!("{}/api/v10/gateway", discord.api_url()))
        .header("authorization", "Bot x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    discord.clear_unauthenticated();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_past_the_nonce_window_is_found_not_reposted() {
    let w = world().await;
    // The first POST is stored by Discord but its answer is lost (1 s
    // later); the retry comes after the 1 s nonce window. Meanwhile fans
    // chat: 150 messages bury the post below any "latest 100".
    let bot = live_with_a_lost_answer(&w).await;
    w.discord
        .wait_for(T, "Discord to store the post", |d| {
            d.messages(CH).len() == 1
        })
        .await;
    for i in 0..150 {
        w.discord
            .inject_message(CH, 1400000000000000777, &format!("so excited {i}"));
    }
    wait_delivery(w.store(), 1, DeliveryStatus::Sent, T).await;
    let ours: Vec<_> = w
        .discord
        .messages(CH)
        .into_iter()
        .filter(|m| m.author_id == support::discord::BOT_ID)
        .collect();
    assert_eq!(ours.len(), 1, "one post of the bot, not a second");
    let d = w.store().get_delivery(1).await.unwrap().unwrap();
    assert_eq!(d.message_id, Some(ours[0].id), "the earlier post adopted");
    let looked = w.discord.request_count(|r| {
        r.method == "GET" && r.path == format!("/api/v10/channels/{CH}/messages")
    });
    assert!(looked >= 1, "looked in the channel before resending");
    let posts = w.discord.request_count(|r| {
        r.method == "POST" && r.path == format!("/api/v10/channels/{CH}/messages")
    });
    assert_eq!(posts, 1, "never posted again");
    // Its end edit still reaches the adopted message.
    w.jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    w.discord
        .wait_for(T, "the end edit", |d| {
            d.messages(CH).first().is_some_and(|m| m.edits == 1)
        })
        .await;
    let looked_after = w
        .discord
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path == format!("/api/v10/channels/{CH}/messages"));
    assert!(looked_after);
    assert!(w.discord.unauthenticated().is_empty());
    w.discord.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_post_and_record_then_restart_after_the_window_posts_once() {
    let w = world().await;
    w.kill_between_post_and_record(CH, |w| {
        w.jkt.set(
            "GET /api/jkt48/live",
            Reply::json(fritzy_live("2025-04-06T12:03:58.000Z")),
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_and_replaced_while_down_one_end_edit_one_new_announcement() {
    let w = world().await;
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(fritzy_live("2025-04-06T12:00:00.000Z")),
    );
    w.discord
        .wait_for(T, "the first announcement", |d| d.messages(CH).len() == 1)
        .await;
    wait_delivery(w.store(), 1, DeliveryStatus::Sent, T).await;
    bot.stop().await;
    // While the bot is down, that live ends and a new one starts in the
    // same room.
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(fritzy_live("2025-04-06T15:00:00.000Z")),
    );
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.discord
        .wait_for(T, "an end edit and a new announcement", |d| {
            let ms = d.messages(CH);
            ms.len() == 2 && ms[0].edits == 1
        })
        .await;
    let ms = w.discord.messages(CH);
    assert!(ms[0].body["content"].as_str().unwrap().contains("was live"));
    assert!(ms[1].body["content"].as_str().unwrap().contains("is live"));
    assert_eq!(ms[1].edits, 0, "the new broadcast is live");
    w.discord.assert_spec_clean();
    bot.stop().await;
}

/// The bot lost Read Message History after subscribing: the history reads
/// empty, so a lost answer past the nonce window cannot be looked for. The
/// bot does not post blind (at most once, on purpose) and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_read_message_history_a_lost_answer_is_not_resent_and_subscriptions_says_why() {
    let w = world().await;
    let bot = live_with_a_lost_answer(&w).await;
    w.discord
        .wait_for(T, "Discord to store the post", |d| {
            d.messages(CH).len() == 1
        })
        .await;
    w.discord.deny_in_channel(CH, READ_MESSAGE_HISTORY);
    wait_delivery(w.store(), 1, DeliveryStatus::Failed, T).await;
    assert_eq!(posts_to_ch(&w.discord), 1, "never posted again");
    let looked = w.discord.request_count(|r| {
        r.method == "GET" && r.path == format!("/api/v10/channels/{CH}/messages")
    });
    assert!(looked >= 1, "looked in the channel first");
    assert_eq!(w.discord.messages(CH).len(), 1);
    let p = w
        .discord
        .slash("subscriptions", json!([]), None, &Invoker::default());
    let text = w.discord.private_text(&p, T).await;
    assert!(text.contains("Read Message History"), "{text}");
    w.discord.assert_spec_clean();
    bot.stop().await;
}

/// The bot lost Embed Links after subscribing: Discord stored the post
/// without its embeds, so without the marker in the footer. The lookup
/// finds it by its text and adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_embed_links_a_lost_answer_is_found_by_its_text_and_adopted() {
    let w = world().await;
    w.discord.deny_in_channel(CH, EMBED_LINKS);
    let bot = live_with_a_lost_answer(&w).await;
    wait_delivery(w.store(), 1, DeliveryStatus::Sent, T).await;
    let stored = w.discord.messages(CH);
    assert_eq!(stored.len(), 1, "one post, not a second");
    assert_eq!(
        stored[0].body["embeds"],
        json!([]),
        "Discord dropped the embeds"
    );
    let d = w.store().get_delivery(1).await.unwrap().unwrap();
    assert_eq!(d.message_id, Some(stored[0].id), "the earlier post adopted");
    assert_eq!(posts_to_ch(&w.discord), 1, "never posted again");
    w.discord.assert_spec_clean();
    bot.stop().await;
}

/// Discord stored the post and the connection reset while its answer was
/// read; the answer's headers said the channel's bucket (1 message per
/// 2 s here) is spent. The resend comes after the 1 s nonce window and a
/// wait for the bucket: it looks in the channel first and adopts the
/// stored post. One post, never two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_whose_connection_resets_after_it_was_stored_is_not_posted_twice() {
    let w = world().await;
    w.discord.set_channel_limit(1, Duration::from_secs(2));
    w.discord.lose_after_write(
        "POST",
        &format!("/channels/{CH}/messages"),
        support::discord::Loss::Reset,
        1,
    );
    let bot = TestBot::start(&w.discord, &w.vars).await;
    w.jkt.set(
        "GET /api/jkt48/live",
        Reply::json(fritzy_live("2025-04-06T12:03:58.000Z")),
    );
    let d = wait_delivery(w.store(), 1, DeliveryStatus::Sent, T).await;
    w.jkt.wait_more_hits("/api/jkt48/live", 3, T).await;
    let stored = w.discord.messages(CH);
    assert_eq!(stored.len(), 1, "one post");
    assert_eq!(d.message_id, Some(stored[0].id), "the stored post recorded");
    w.discord.assert_spec_clean();
    bot.stop().await;
}
