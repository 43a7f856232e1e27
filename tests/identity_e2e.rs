//! Announcements that look like they come from the member
//! (`identity:member`): one channel webhook made and reused, her name and
//! avatar, exactly once even when an answer is lost, edits through the
//! webhook, a deleted webhook recreated once and then a fallback to bot
//! posts that `/subscriptions` shows; and a discussion thread per
//! announcement (`thread:true`), archived when the live ends.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::{wait_deliveries, TestBot};
use support::discord::{
    FakeDiscord, GuildSpec, Invoker, Loss, Recorded, CREATE_PUBLIC_THREADS, EMBED_LINKS, GUILD_ID,
    MANAGE_WEBHOOKS, SEND_MESSAGES, VIEW_CHANNEL,
};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const CH_MEMBER: u64 = 61;
const CH_BOT: u64 = 62;
const AVATAR: &str = "https://cdn.test/fritzy-avatar.webp";

fn fritzy(room: u64, start_minutes_ago: i64) -> Value {
    let start = (chrono::Utc::now() - chrono::Duration::minutes(start_minutes_ago))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    json!([{
        "name": "Fritzy", "url_key": "jkt48_fritzy", "slug": "s", "room_id": room,
        "started_at": start, "type": "idn", "title": "Hi", "viewers": 100,
        "img": "https://cdn.test/thumb.jpg", "img_alt": AVATAR,
        "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/f.m3u8"}]
    }])
}

/// A server whose @everyone (the bot's only role) has `extra` on top of
/// what announcing needs; JKT48Connect wired, a one-second end grace.
async fn world(extra: u64) -> World {
    let mut g = GuildSpec::new(GUILD_ID, &[CH_MEMBER, CH_BOT]);
    g.everyone_permissions = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | 1 << 16 | extra;
    World::builder()
        .jkt()
        .var("END_GRACE_SECS", 1)
        .guild(g)
        .store()
        .start()
        .await
}

/// `/subscribe channel:<ch>` with `extra` options; the private answer.
async fn subscribe(d: &FakeDiscord, ch: u64, extra: &[Value]) -> String {
    let p = d.subscribe_command(ch, extra, None, &Invoker::default());
    d.answer_text(&p, T).await
}

fn as_member() -> Value {
    json!({"name": "identity", "type": 4, "value": 1})
}

fn posts_through(d: &FakeDiscord, webhook: u64) -> Vec<Recorded> {
    let prefix = format!("/api/v10/webhooks/{webhook}/");
    d.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with(&prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_the_member_through_one_webhook_exactly_once() {
    let w = world(MANAGE_WEBHOOKS).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    let saved = subscribe(d, CH_MEMBER, &[as_member()]).await;
    assert!(saved.contains("as the member"), "{saved}");
    assert_eq!(
        d.webhooks().len(),
        1,
        "made at /subscribe, not at the go-live"
    );
    assert!(subscribe(d, CH_BOT, &[])
        .await
        .contains("Saved subscription"));

    // The first post's answer is lost (it reached the channel): the resend
    // finds it instead of posting twice, webhooks having no nonce.
    d.lose_answers(CH_MEMBER, 1, Duration::from_millis(50));
    w.jkt.set(LIVE, Reply::json(fritzy(510011, 5)));
    d.wait_for(T, "both announcements", |d| {
        d.messages(CH_MEMBER).len() == 1 && d.messages(CH_BOT).len() == 1
    })
    .await;
    let hooks = d.webhooks();
    assert_eq!(hooks.len(), 1, "one webhook, reused");
    let hook = &hooks[0];
    assert_eq!((hook.channel_id, hook.name.as_str()), (CH_MEMBER, "onair"));
    let posted = &d.messages(CH_MEMBER)[0];
    assert_eq!(posted.webhook_id, Some(hook.id), "posted by the webhook");
    assert_eq!(
        d.messages(CH_BOT)[0].webhook_id,
        None,
        "the other as the bot"
    );
    let posts = posts_through(d, hook.id);
    assert_eq!(
        posts.len(),
        1,
        "found after the lost answer, not posted again"
    );
    assert_eq!(posts[0].status, 502, "the answer was lost");
    let post = posts[0].clone();
    assert_eq!(post.query, "wait=true&with_components=true");
    let body = post.body.unwrap();
    assert_eq!(body["username"], "Fritzy");
    assert_eq!(body["avatar_url"], AVATAR);
    assert!(body.get("nonce").is_none(), "{body}");

    // Still one post after more polls.
    w.jkt.wait_more_hits("/api/jkt48/live", 3, T).await;
    assert_eq!(d.messages(CH_MEMBER).len(), 1, "exactly once");

    // The end: the recap is an edit through the webhook.
    w.jkt.set(LIVE, Reply::json(json!([])));
    d.wait_for(T, "the recaps", |d| {
        d.messages(CH_MEMBER)[0].edits == 1 && d.messages(CH_BOT)[0].edits == 1
    })
    .await;
    let edit_prefix = format!("/api/v10/webhooks/{}/{}/messages/", hook.id, hook.token);
    let edit = d
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.starts_with(&edit_prefix))
        .expect("the recap went through the webhook");
    assert!(edit.body.unwrap()["content"]
        .as_str()
        .unwrap()
        .contains("was live"));
    assert_eq!(
        d.request_count(|r| r.method == "PATCH"
            && r.path
                .starts_with(&format!("/api/v10/channels/{CH_MEMBER}/"))),
        0,
        "a webhook's message is edited through the webhook"
    );
    d.assert_spec_clean();
    bot.stop().await;
    // The webhook's token is a credential: never in the log (at TRACE).
    support::bot::assert_no_secret_logged(std::slice::from_ref(&hook.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_webhook_is_recreated_once_then_the_bot_posts_and_says_so() {
    let w = world(MANAGE_WEBHOOKS).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    subscribe(d, CH_MEMBER, &[as_member()]).await;
    let mut lives = 0;
    let mut go_live_and_end = |room: u64| {
        lives += 1;
        let n = lives;
        let provider = &w.jkt;
        async move {
            provider.set(LIVE, Reply::json(fritzy(room, 3)));
            d.wait_for(T, "the announcement", |d| d.messages(CH_MEMBER).len() == n)
                .await;
            provider.set(LIVE, Reply::json(json!([])));
            d.wait_for(T, "its recap", |d| d.messages(CH_MEMBER)[n - 1].edits == 1)
                .await;
        }
    };
    go_live_and_end(1).await;
    let first = d.webhooks()[0].id;
    assert_eq!(d.messages(CH_MEMBER)[0].webhook_id, Some(first));

    d.delete_webhook(first);
    go_live_and_end(2).await;
    let hooks = d.webhooks();
    assert_eq!(hooks.len(), 2, "recreated once");
    assert_eq!(d.messages(CH_MEMBER)[1].webhook_id, Some(hooks[1].id));

    d.delete_webhook(hooks[1].id);
    go_live_and_end(3).await;
    assert_eq!(d.webhooks().len(), 2, "not a third time");
    assert_eq!(
        d.messages(CH_MEMBER)[2].webhook_id,
        None,
        "posted as the bot"
    );
    assert_eq!(d.messages(CH_MEMBER).len(), 3, "one post per live");

    let p = d.slash("subscriptions", json!([]), None, &Invoker::default());
    let text = d.answer_text(&p, T).await;
    assert!(
        text.contains("Posting as the bot instead of the member") && text.contains("deleted again"),
        "{text}"
    );
    d.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_says_which_permission_a_choice_needs() {
    let w = world(0).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    let text = subscribe(d, CH_MEMBER, &[as_member()]).await;
    assert!(text.contains("Manage Webhooks"), "{text}");
    let thread = json!({"name": "thread", "type": 5, "value": true});
    let text = subscribe(d, CH_MEMBER, &[thread]).await;
    assert!(text.contains("Create Public Threads"), "{text}");
    let p = d.slash("subscriptions", json!([]), None, &Invoker::default());
    assert!(
        d.answer_text(&p, T).await.contains("no subscriptions yet"),
        "nothing saved"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_per_announcement_archived_at_the_end() {
    let w = world(CREATE_PUBLIC_THREADS | MANAGE_WEBHOOKS).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    let thread = json!({"name": "thread", "type": 5, "value": true});
    assert!(subscribe(d, CH_MEMBER, &[thread.clone(), as_member()])
        .await
        .contains("with a thread"));
    subscribe(d, CH_BOT, &[thread]).await;
    // One thread starts but its answer is lost: the retry learns it exists
    // (160004) and reads it from the message instead of leaving it behind.
    d.lose_thread_answers(1);
    w.jkt.set(LIVE, Reply::json(fritzy(510011, 5)));
    d.wait_for(T, "a thread on each announcement", |d| {
        d.threads().len() == 2
    })
    .await;
    for ch in [CH_MEMBER, CH_BOT] {
        let msg = &d.messages(ch)[0];
        let t = d.threads().into_iter().find(|t| t.parent_id == ch).unwrap();
        assert_eq!(t.message_id, msg.id);
        assert!(t.name.starts_with("Fritzy · 20"), "{}", t.name);
        assert!(!t.archived);
    }
    d.wait_for(T, "the retry of the lost one told it exists", |d| {
        d.request_count(|r| r.path.ends_with("/threads") && r.status == 400) == 1
    })
    .await;
    w.jkt.wait_more_hits("/api/jkt48/live", 2, T).await;
    assert_eq!(d.threads().len(), 2, "one thread per announcement");
    w.jkt.set(LIVE, Reply::json(json!([])));
    d.wait_for(T, "both threads archived", |d| {
        d.threads().iter().all(|t| t.archived)
    })
    .await;
    assert!(d.messages(CH_MEMBER)[0].edits == 1 && d.messages(CH_BOT)[0].edits == 1);
    d.assert_spec_clean();
    bot.stop().await;
}

/// Discord applied both end edits, then lost their answers: the webhook
/// edit's connection reset while its answer was read, the bot's edit
/// answered 502. Each is retried (an edit says the whole card, so applying
/// it twice changes nothing) and recorded once: still one message per
/// channel, showing the ended card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_edits_whose_answers_are_lost_after_being_applied_end_as_one_ended_card() {
    let w = world(MANAGE_WEBHOOKS).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    subscribe(d, CH_MEMBER, &[as_member()]).await;
    subscribe(d, CH_BOT, &[]).await;
    w.jkt.set(LIVE, Reply::json(fritzy(510011, 5)));
    d.wait_for(T, "both announcements", |d| {
        d.messages(CH_MEMBER).len() == 1 && d.messages(CH_BOT).len() == 1
    })
    .await;
    d.lose_after_write("PATCH", "/webhooks/", Loss::Reset, 1);
    d.lose_after_write(
        "PATCH",
        &format!("/channels/{CH_BOT}/messages/"),
        Loss::BadGateway(Duration::ZERO),
        1,
    );
    w.jkt.set(LIVE, Reply::json(json!([])));
    wait_deliveries(w.store(), 1..=2, "both ends recorded", T, |d| {
        d.end_edited_at.is_some()
    })
    .await;
    for ch in [CH_MEMBER, CH_BOT] {
        let msgs = d.messages(ch);
        assert_eq!(msgs.len(), 1, "still one message in {ch}");
        let m = &msgs[0];
        assert_eq!(m.edits, 2, "applied, then applied again by the retry");
        let shown: Vec<&String> = m.history.iter().map(|(_, c)| c).collect();
        assert_eq!(shown[1], shown[2], "the retry changed nothing");
        assert!(shown[2].contains("was live"), "{}", shown[2]);
    }
    d.assert_spec_clean();
    bot.stop().await;
}

/// Discord started the thread, and the answer never came (the connection
/// hung past the bot's 10 s timeout); then the archive's connection reset
/// after the thread was archived. The retry of the start learns the thread
/// exists (160004) and adopts it; the archive is recorded. One thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_start_left_hanging_and_an_archive_reset_end_with_one_archived_thread() {
    let w = world(CREATE_PUBLIC_THREADS).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    let thread = json!({"name": "thread", "type": 5, "value": true});
    subscribe(d, CH_BOT, &[thread]).await;
    d.lose_after_write(
        "POST",
        &format!("/channels/{CH_BOT}/messages/"),
        Loss::Hang(Duration::from_secs(30)),
        1,
    );
    w.jkt.set(LIVE, Reply::json(fritzy(510011, 5)));
    d.wait_for(
        Duration::from_secs(60),
        "the retry told the thread exists",
        |d| d.request_count(|r| r.path.ends_with("/threads") && r.status == 400) == 1,
    )
    .await;
    let threads = d.threads();
    assert_eq!(threads.len(), 1, "one thread");
    d.lose_after_write(
        "PATCH",
        &format!("/channels/{}", threads[0].id),
        Loss::Reset,
        1,
    );
    w.jkt.set(LIVE, Reply::json(json!([])));
    let ds = wait_deliveries(w.store(), 1..=1, "the archive recorded", T, |d| {
        d.thread_archived_at.is_some()
    })
    .await;
    assert_eq!(
        ds[0].thread_id,
        Some(threads[0].id),
        "the one thread adopted"
    );
    assert!(d.threads()[0].archived);
    assert_eq!(d.threads().len(), 1);
    let archives =
        d.request_count(|r| r.method == "PATCH" && r.path.ends_with(&threads[0].id.to_string()));
    assert!(archives >= 2, "the reset archive was sent again");
    d.assert_spec_clean();
    bot.stop().await;
}

/// Eight members go live at once in a channel announced as the member:
/// eight executions of one webhook, whose bucket Discord limits to 5 per
/// 2 s. The bot reads the bucket from the answers and waits for its reset
/// instead of meeting a 429; the eight end edits through the same webhook
/// likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_lives_through_one_webhook_wait_for_its_bucket_and_meet_no_429() {
    let w = world(MANAGE_WEBHOOKS).await;
    let d = &w.discord;
    let bot = TestBot::start(d, &w.vars).await;
    subscribe(d, CH_MEMBER, &[as_member()]).await;
    let eight: Vec<Value> = (0..8)
        .map(|i| {
            let mut m = fritzy(510_100 + i, 5)[0].clone();
            m["name"] = format!("Member{i}").into();
            m["url_key"] = format!("jkt48_member{i}").into();
            m
        })
        .collect();
    w.jkt.set(LIVE, Reply::json(Value::Array(eight)));
    d.wait_for(T, "eight announcements", |d| {
        d.messages(CH_MEMBER).len() == 8
    })
    .await;
    w.jkt.set(LIVE, Reply::json(json!([])));
    d.wait_for(T, "eight end edits", |d| {
        d.messages(CH_MEMBER).iter().all(|m| m.edits >= 1)
    })
    .await;
    let hook = d.webhooks()[0].id;
    let through_hook =
        d.request_count(|r| r.path.starts_with(&format!("/api/v10/webhooks/{hook}/")));
    assert!(
        through_hook >= 16,
        "eight posts and eight edits: {through_hook}"
    );
    assert_eq!(
        d.rate_limited_count(),
        0,
        "the bucket was waited for, never hit"
    );
    assert_eq!(d.messages(CH_MEMBER).len(), 8, "each once");
    d.assert_spec_clean();
    bot.stop().await;
}
