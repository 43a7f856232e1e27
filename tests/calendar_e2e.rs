//! The JKT48 calendar from a fan's side: `/schedule` and `/birthdays`
//! answer from the copy the bot keeps (`src/calendar/`), so many asks cost
//! one JKT48Connect call, and a bot nobody asks spends nothing on it.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::TestBot;
use support::discord::Invoker;
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(30);
const LIVE: &str = "GET /api/jkt48/live";
const CALENDAR: [&str; 4] = [
    "/api/jkt48/theater",
    "/api/jkt48/birthday",
    "/api/jkt48/news",
    "/api/jkt48/events",
];

fn iso(hours_from_now: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours_from_now))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}

fn description(answer: &Value) -> String {
    answer["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_schedule_and_twenty_birthdays_asks_cost_one_calendar_call_each() {
    let w = World::builder().jkt().start().await;
    let (d, jkt, vars) = (&w.discord, &w.jkt, &w.vars);
    jkt.set(LIVE, Reply::json(json!([])));
    jkt.set(
        "GET /api/jkt48/theater",
        Reply::json(json!({"theater": [
            {"id": "2963", "title": "Cara Meminum Ramune", "member_count": 16,
             "poster": "https://res.cloudinary.com/x/poster.jpg",
             "seitansai": [{"id": 190, "name": "Gita Sekar Andarini",
                            "img": "https://res.cloudinary.com/x/gita.jpg", "url_key": "gita"}],
             "url": "2963", "date": iso(30)},
            {"id": "2962", "title": "Aturan Anti Cinta", "seitansai": [], "date": iso(-72)}
        ], "page": 1, "perpage": 20, "total_count": 2})),
    );
    let next = (chrono::Utc::now() + chrono::Duration::days(5))
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .format("%Y-%m-%d 00:00:00")
        .to_string();
    jkt.set(
        "GET /api/jkt48/birthday",
        Reply::json(json!([{"name": "Erine", "birthdate": "2007-08-21",
            "img": "https://res.cloudinary.com/x/erine.jpg", "age_after_birthday": 18,
            "next_birthday": next, "is_birthday_today": false}])),
    );
    let bot = TestBot::start(d, vars).await;
    d.wait_identified(1, T).await;

    for round in 0..20 {
        let p = d.slash("schedule", json!([]), None, &Invoker::default());
        let a = d.answer(&p, T).await;
        let text = description(&a);
        assert!(text.contains("Cara Meminum Ramune"), "ask {round}: {a}");
        assert!(text.contains("seitansai: Gita Sekar Andarini"), "{a}");
        assert!(!text.contains("Aturan Anti Cinta"), "a past show: {a}");
        let p = d.slash("birthdays", json!([]), None, &Invoker::default());
        let a = d.answer(&p, T).await;
        assert!(
            description(&a).contains("**Erine** turns 18"),
            "ask {round}: {a}"
        );
    }
    assert_eq!(jkt.hits("/api/jkt48/theater"), 1);
    assert_eq!(jkt.hits("/api/jkt48/birthday"), 1);
    assert_eq!(
        jkt.hits("/api/jkt48/news") + jkt.hits("/api/jkt48/events"),
        0
    );
    d.assert_spec_clean();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_calendar_command_means_no_calendar_call() {
    let w = World::builder().jkt().start().await;
    let (d, jkt, vars) = (&w.discord, &w.jkt, &w.vars);
    jkt.set(LIVE, Reply::json(json!([])));
    let bot = TestBot::start(d, vars).await;
    d.wait_identified(1, T).await;
    // A few live polls go by; the calendar is never read.
    jkt.wait_more_hits("/api/jkt48/live", 3, T).await;
    let p = d.slash("live", json!([]), None, &Invoker::default());
    d.answer(&p, T).await;
    for path in CALENDAR {
        assert_eq!(jkt.hits(path), 0, "{path}");
    }
    bot.stop().await;
}
