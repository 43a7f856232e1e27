//! The JKT48 calendar from a server's side: `/calendar` subscriptions, and
//! the feeds that post through the outbox (theater reminders, birthdays,
//! news) exactly once, at their moment, edited when a show moves. The fake
//! JKT48Connect serves the four calendar endpoints; the bot reads them
//! every second (`CALENDAR_REFRESH_SECS=1`) instead of every few hours.
//! No test sleeps through a lead time: a show is served starting a lead
//! time and a few seconds from now.

mod support;

use std::time::{Duration, Instant};

use onair::store::{CalendarChoice, Feed};
use serde_json::{json, Value};
use support::discord::{Invoker, CHANNEL_ID};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const THEATER: &str = "GET /api/jkt48/theater";
const C1: u64 = 41;
const C2: u64 = 42;
const C3: u64 = 43;

fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

fn show(id: &str, title: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"id": id, "title": title, "member_count": 16,
           "poster": "https://res.cloudinary.com/x/poster.jpg",
           "seitansai": [{"id": 190, "name": "Gita Sekar Andarini",
                          "img": "https://res.cloudinary.com/x/gita.jpg", "url_key": "gita"}],
           "url": id, "date": iso(at)})
}

fn theater(shows: Vec<Value>) -> Reply {
    let n = shows.len();
    Reply::json(json!({"theater": shows, "page": 1, "perpage": 20, "total_count": n}))
}

fn theater_choice(leads: &[u32]) -> CalendarChoice {
    CalendarChoice {
        leads: leads.to_vec(),
        ..CalendarChoice::of(Feed::Theater)
    }
}

fn content(v: &Value) -> String {
    v["content"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_show_gets_one_reminder_per_subscribed_channel_at_its_lead_edited_when_moved_and_marked_when_unlisted(
) {
    let mut w = World::builder()
        .jkt()
        .channels(&[C1, C2, C3])
        .var("CALENDAR_REFRESH_SECS", 1)
        .calendar(C1, theater_choice(&[15]))
        .calendar(C2, theater_choice(&[]))
        .start()
        .await;
    w.jkt.set(LIVE, Reply::json(json!([])));
    // Due 6 s from now (the date is written to the second, so up to 1 s
    // earlier).
    let t0 = Instant::now();
    let starts = chrono::Utc::now() + chrono::Duration::minutes(15) + chrono::Duration::seconds(6);
    let earlier = starts - chrono::Duration::days(1);
    let later = starts + chrono::Duration::days(2);
    w.jkt.set(
        THEATER,
        theater(vec![
            show("2962", "Aturan Anti Cinta", earlier),
            show("2963", "Cara Meminum Ramune", starts),
            show("2964", "Pajama Drive", later),
        ]),
    );
    w.start_bot().await;
    w.discord
        .wait_for(T, "a reminder in each subscribed channel", |d| {
            d.messages(C1).len() == 1 && d.messages(C2).len() == 1
        })
        .await;
    for ch in [C1, C2] {
        let m = &w.discord.messages(ch)[0];
        let waited = m.at.duration_since(t0);
        assert!(
            waited >= Duration::from_secs(4) && waited <= Duration::from_secs(66),
            "posted {waited:?} after the start, due about 5-6 s after it"
        );
        let text = content(&m.body);
        assert!(text.contains("Cara Meminum Ramune"), "{text}");
        assert!(
            text.contains(&format!("<t:{}:R>", starts.timestamp())),
            "{text}"
        );
        let embeds = m.body["embeds"].as_array().unwrap();
        let main = embeds[0].to_string();
        assert!(main.contains("seitansai: Gita Sekar Andarini"), "{main}");
        assert!(main.contains("16 members"), "{main}");
        assert_eq!(
            embeds[0]["image"]["url"],
            "https://res.cloudinary.com/x/poster.jpg"
        );
        assert_eq!(
            embeds[1]["thumbnail"]["url"], "https://res.cloudinary.com/x/gita.jpg",
            "the seitansai member pictured"
        );
    }
    assert!(w.discord.messages(C3).is_empty(), "not subscribed");

    // Moved by an hour after its reminder went out: the card is edited,
    // not posted again (its 15-minute slot was used).
    let moved = starts + chrono::Duration::hours(1);
    w.jkt.set(
        THEATER,
        theater(vec![
            show("2962", "Aturan Anti Cinta", earlier),
            show("2963", "Cara Meminum Ramune", moved),
            show("2964", "Pajama Drive", later),
        ]),
    );
    let shows_moved = format!("<t:{}:R>", moved.timestamp());
    w.discord
        .wait_for(T, "both cards edited to the new time", |d| {
            [C1, C2].iter().all(|ch| {
                d.messages(*ch)
                    .first()
                    .is_some_and(|m| content(&m.body).contains(&shows_moved))
            })
        })
        .await;

    // Taken off a list that still covers its date: marked, not deleted.
    w.jkt.set(
        THEATER,
        theater(vec![
            show("2962", "Aturan Anti Cinta", earlier),
            show("2964", "Pajama Drive", later),
        ]),
    );
    w.discord
        .wait_for(T, "both cards marked as no longer listed", |d| {
            [C1, C2].iter().all(|ch| {
                d.messages(*ch)
                    .first()
                    .is_some_and(|m| content(&m.body).contains("no longer listed"))
            })
        })
        .await;
    for ch in [C1, C2] {
        assert_eq!(w.discord.messages(ch).len(), 1, "never a second card");
    }
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_a_reminders_post_and_its_record_past_the_nonce_window_leaves_one_card() {
    let w = World::builder()
        .jkt()
        .channels(&[C1])
        .var("CALENDAR_REFRESH_SECS", 1)
        .var("DISCORD_NONCE_WINDOW_SECS", 1)
        .var("DELIVERY_RETRY_MAX_SECS", 2)
        .calendar(C1, theater_choice(&[15]))
        .start()
        .await;
    w.discord.set_nonce_window(Duration::from_secs(1));
    w.jkt.set(LIVE, Reply::json(json!([])));
    let starts = chrono::Utc::now() + chrono::Duration::minutes(15) + chrono::Duration::seconds(3);
    w.jkt.set(
        THEATER,
        theater(vec![show("2963", "Cara Meminum Ramune", starts)]),
    );
    w.kill_between_post_and_record(C1, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_birthday_is_posted_once_on_her_day_and_not_again_after_a_restart() {
    let mut w = World::builder()
        .jkt()
        .channels(&[C1])
        .var("CALENDAR_REFRESH_SECS", 1)
        .calendar(C1, CalendarChoice::of(Feed::Birthdays))
        .start()
        .await;
    w.jkt.set(LIVE, Reply::json(json!([])));
    let wib = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let next_year = (chrono::Utc::now().with_timezone(&wib) + chrono::Duration::days(365))
        .format("%Y-%m-%d 00:00:00")
        .to_string();
    w.jkt.set(
        "GET /api/jkt48/birthday",
        Reply::json(json!([{"name": "Erine", "birthdate": "2007-08-21",
            "img": "https://res.cloudinary.com/x/erine.jpg", "url_key": "erine",
            "age_after_birthday": 18, "next_birthday": next_year,
            "is_birthday_today": true}])),
    );
    w.start_bot().await;
    w.discord
        .wait_for(T, "the birthday post", |d| d.messages(C1).len() == 1)
        .await;
    let post = w.discord.messages(C1)[0].body.clone();
    assert!(content(&post).contains("**Erine**"), "{post}");
    assert!(content(&post).contains("turns 18"), "{post}");
    assert_eq!(
        post["embeds"][0]["image"]["url"],
        "https://res.cloudinary.com/x/erine.jpg"
    );
    w.stop_bot().await;

    // The same day, a new process: the list is read again (twice, so a
    // whole round of the feeds has run on it) and nothing is posted.
    let before = w.jkt.hits("/api/jkt48/birthday");
    w.start_bot().await;
    w.jkt.wait_more_hits("/api/jkt48/birthday", 2, T).await;
    assert!(w.jkt.hits("/api/jkt48/birthday") >= before + 2);
    assert_eq!(w.discord.messages(C1).len(), 1, "one post on her day");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_first_read_seeds_silently_and_each_new_item_is_posted_once() {
    let mut w = World::builder()
        .jkt()
        .channels(&[C1])
        .var("CALENDAR_REFRESH_SECS", 1)
        .calendar(C1, CalendarChoice::of(Feed::News))
        .start()
        .await;
    w.jkt.set(LIVE, Reply::json(json!([])));
    let item = |id: &str, title: &str| {
        json!({"_id": format!("x{id}"), "id": id, "date": "2025-06-26T17:00:00.000Z",
               "label": "/images/icon.cat2.png", "title": title})
    };
    let backlog = vec![
        item("1925", "Jadwal Teater"),
        item("1924", "Pengumuman Lama"),
    ];
    w.jkt.set(
        "GET /api/jkt48/news",
        Reply::json(json!({"news": backlog.clone(), "page": 1, "perpage": 10, "total_count": 2})),
    );
    w.start_bot().await;
    // Three reads: the first (the seed) has been recorded and posted from.
    w.jkt.wait_more_hits("/api/jkt48/news", 3, T).await;
    assert!(
        w.discord.messages(C1).is_empty(),
        "the backlog is not posted"
    );

    let mut list = vec![item("1926", "Pengumuman Mengenai Konser")];
    list.extend(backlog);
    w.jkt.set(
        "GET /api/jkt48/news",
        Reply::json(json!({"news": list, "page": 1, "perpage": 10, "total_count": 3})),
    );
    w.discord
        .wait_for(T, "the new item's post", |d| d.messages(C1).len() == 1)
        .await;
    let post = w.discord.messages(C1)[0].body.clone();
    assert!(
        content(&post).contains("Pengumuman Mengenai Konser"),
        "{post}"
    );
    assert_eq!(
        post["embeds"][0]["url"],
        "https://jkt48.com/news/detail/id/1926?lang=id"
    );
    w.jkt.wait_more_hits("/api/jkt48/news", 3, T).await;
    assert_eq!(w.discord.messages(C1).len(), 1, "posted once");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_theater_saves_a_feed_listed_by_subscriptions_sampled_by_test_and_removed_by_unsubscribe(
) {
    let mut w = World::builder().jkt().store().start().await;
    w.jkt.set(LIVE, Reply::json(json!([])));
    w.start_bot().await;
    let d = &w.discord;
    let admin = Invoker::default();
    let resolved = d.resolved_channel_for(&admin, CHANNEL_ID);
    let p = d.slash(
        "calendar",
        json!([{"name": "theater", "type": 1, "options": [
            {"name": "channel", "type": 7, "value": CHANNEL_ID.to_string()},
            {"name": "lead", "type": 4, "value": 60},
            {"name": "second_lead", "type": 4, "value": 15}
        ]}]),
        Some(resolved),
        &admin,
    );
    let saved = d.answer_text(&p, T).await;
    assert!(saved.contains("Saved subscription `#1`"), "{saved}");
    assert!(
        saved.contains("theater reminders, 60, 15 min before"),
        "{saved}"
    );
    let sub = w
        .store()
        .get_subscription(support::discord::GUILD_ID, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.calendar, Some(theater_choice(&[60, 15])));

    let p = d.slash("subscriptions", json!([]), None, &admin);
    let list = d.answer_text(&p, T).await;
    assert!(
        list.contains("theater reminders, 60, 15 min before"),
        "{list}"
    );

    let p = d.subcommand(
        "subscription",
        "test",
        json!([{"name": "id", "type": 4, "value": 1}]),
        &admin,
    );
    let answer = d.answer_text(&p, T).await;
    assert!(answer.contains("Sent a test"), "{answer}");
    d.wait_for(T, "the sample card", |d| d.messages(CHANNEL_ID).len() == 1)
        .await;
    let sample = d.messages(CHANNEL_ID)[0].body.clone();
    assert!(content(&sample).contains("Cara Meminum Ramune"), "{sample}");
    assert!(sample.get("nonce").is_none());
    assert_eq!(
        sample["allowed_mentions"],
        json!({"parse": [], "roles": [], "users": []})
    );

    let p = d.slash(
        "unsubscribe",
        json!([{"name": "id", "type": 4, "value": 1}]),
        None,
        &admin,
    );
    d.answer_text(&p, T).await;
    assert_eq!(w.store().count_subscriptions().await.unwrap(), 0);
    d.assert_spec_clean();
    w.stop_bot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_shows_at_their_hour_and_a_new_event_are_each_posted_once() {
    let wib = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let now = chrono::Utc::now();
    let hour = u8::try_from(chrono::Timelike::hour(&now.with_timezone(&wib))).unwrap();
    let mut w = World::builder()
        .jkt()
        .channels(&[C1, C2])
        .var("CALENDAR_REFRESH_SECS", 1)
        .calendar(
            C1,
            CalendarChoice {
                hour: Some(hour),
                ..CalendarChoice::of(Feed::Today)
            },
        )
        .calendar(C2, CalendarChoice::of(Feed::Events))
        .start()
        .await;
    w.jkt.set(LIVE, Reply::json(json!([])));
    // Two shows today (WIB), one tomorrow: the post lists today's.
    let midnight = now
        .with_timezone(&wib)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(wib)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let h = chrono::Duration::hours;
    w.jkt.set(
        THEATER,
        theater(vec![
            show("2963", "Cara Meminum Ramune", midnight + h(10)),
            show("2964", "Pajama Drive", midnight + h(20)),
            show("2965", "Aturan Anti Cinta", midnight + h(34)),
        ]),
    );
    let event = |id: &str, title: &str| {
        json!({"id": id, "date": "2025-07-03T17:00:00.000Z",
               "label": "https://jkt48.com/images/icon.cat2.png", "title": title,
               "url": "https://jkt48.com/calendar/list/y/2025/m/7/d/4?lang=id"})
    };
    w.jkt.set(
        "GET /api/jkt48/events",
        Reply::json(json!([event("old-1", "Handshake")])),
    );
    w.start_bot().await;
    w.discord
        .wait_for(T, "the day's shows", |d| !d.messages(C1).is_empty())
        .await;
    let day = w.discord.messages(C1)[0].body.clone();
    let listed = day["embeds"][0]["description"].as_str().unwrap_or_default();
    assert!(content(&day).contains("2 shows"), "{day}");
    assert!(listed.contains("Cara Meminum Ramune"), "{day}");
    assert!(listed.contains("Pajama Drive"), "{day}");
    assert!(!listed.contains("Aturan Anti Cinta"), "tomorrow's: {day}");

    w.jkt.wait_more_hits("/api/jkt48/events", 3, T).await;
    assert!(
        w.discord.messages(C2).is_empty(),
        "the events backlog is not posted"
    );
    w.jkt.set(
        "GET /api/jkt48/events",
        Reply::json(json!([
            event("old-1", "Handshake"),
            event("new-2", "Gelombang Cinta Fest")
        ])),
    );
    w.discord
        .wait_for(T, "the new event", |d| d.messages(C2).len() == 1)
        .await;
    let post = w.discord.messages(C2)[0].body.clone();
    assert!(content(&post).contains("Gelombang Cinta Fest"), "{post}");
    assert_eq!(
        post["embeds"][0]["url"],
        "https://jkt48.com/calendar/list/y/2025/m/7/d/4?lang=id"
    );
    w.jkt.wait_more_hits("/api/jkt48/events", 3, T).await;
    assert_eq!(w.discord.messages(C1).len(), 1, "one day's post");
    assert_eq!(w.discord.messages(C2).len(), 1, "one post per event");
    w.discord.assert_spec_clean();
    w.stop_bot().await;
}
