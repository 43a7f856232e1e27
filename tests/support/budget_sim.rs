//! A month of JKT48Connect polling at compressed time: the bot's own ledger
//! and scheduler (`onair::watch::Ledger`) against a fixed-interval poller
//! spending the same allowance, both through the real JKT48Connect client
//! and a fake JKT48Connect that counts the calls.
//!
//! The go-live distribution (synthetic, shaped like a JKT48 fandom's week;
//! times in WIB = UTC+7): 14 lives a day; 60 % start 19:00–23:00, 25 %
//! 12:00–19:00, 10 % 07:00–12:00, 5 % 23:00–07:00; each lasts 30–120 min
//! (uniform). The scheduler starts from its prior (a fresh install) and
//! learns from the go-lives it sees.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use onair::budget::{even_interval, Allowance, BudgetState};
use onair::config::Jkt48ConnectConfig;
use onair::http::{http_client, Http};
use onair::live::LiveStream;
use onair::providers::jkt48_calendar::{wib, wib_instant, wib_midnight};
use onair::providers::jkt48connect::Jkt48Connect;
use onair::providers::source::{Jkt48Source, LiveSource, Schedule};
use onair::secret::Secret;
use onair::watch::ledger::{Ledger, Reservation};
use serde_json::{json, Value};

use super::fake_providers::{FakeProvider, Reply};

const ROUTE: &str = "GET /api/jkt48/live";

/// One synthetic live.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub room: usize,
}

/// What one poller achieved over the month.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Calls the fake JKT48Connect counted.
    pub calls: u64,
    /// Delay from each seen live's start to the poll that saw it, sorted.
    pub delays: Vec<Duration>,
    /// Lives that ended before any poll saw them.
    pub missed: usize,
}

impl Outcome {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.delays.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.delays.len() - 1) as f64 * p).round() as usize;
        self.delays[i]
    }
}

#[derive(Debug, Clone)]
pub struct MonthRun {
    pub allowance: u64,
    pub lives: usize,
    pub scheduled: Outcome,
    pub fixed: Outcome,
    pub fixed_interval: Duration,
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The month's lives, from the distribution in the module doc.
pub fn lives(start: DateTime<Utc>, days: u32, per_day: usize, seed: u64) -> Vec<Live> {
    let mut rng = XorShift(seed.max(1));
    // (WIB start hour, end hour, share)
    let bands = [
        (19.0, 23.0, 0.60),
        (12.0, 19.0, 0.25),
        (7.0, 12.0, 0.10),
        (23.0, 31.0, 0.05),
    ];
    let mut out = Vec::new();
    for day in 0..days {
        for _ in 0..per_day {
            let pick = rng.unit();
            let mut acc = 0.0;
            let mut band = bands[0];
            for b in bands {
                acc += b.2;
                if pick < acc {
                    band = b;
                    break;
                }
            }
            let wib_hour = band.0 + (band.1 - band.0) * rng.unit();
            let utc_secs = (f64::from(day) * 24.0 + wib_hour - 7.0) * 3600.0;
            let s = start + chrono::Duration::milliseconds((utc_secs * 1000.0) as i64);
            let minutes = 30.0 + 90.0 * rng.unit();
            let e = s + chrono::Duration::seconds((minutes * 60.0) as i64);
            let room = out.len();
            out.push(Live {
                start: s,
                end: e,
                room,
            });
        }
    }
    out.retain(|l| l.start >= start);
    out.sort_by_key(|l| l.start);
    out
}

fn entry(l: &Live) -> Value {
    json!({
        "name": format!("Member {}", l.room % 48), "url_key": format!("jkt48_m{}", l.room % 48),
        "slug": format!("live-{}", l.room), "room_id": 700000 + l.room, "chat_room_id": null,
        "started_at": l.start.to_rfc3339(), "type": "idn",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": format!("https://cdn.test/{}.m3u8", l.room)}]
    })
}

/// One poll at virtual time `now`: the fake answers with the lives running
/// then; returns what the real client parsed.
async fn poll(
    fake: &FakeProvider,
    source: &dyn LiveSource,
    lives: &[Live],
    now: DateTime<Utc>,
) -> Vec<LiveStream> {
    let running: Vec<Value> = lives
        .iter()
        .filter(|l| l.start <= now && now < l.end)
        .map(entry)
        .collect();
    fake.set(ROUTE, Reply::json(Value::Array(running)));
    source.fetch().await.expect("the fake answers")
}

/// Note the lives a poll saw for the first time.
fn record(
    seen: &mut HashSet<String>,
    out: &mut Outcome,
    streams: &[LiveStream],
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut new = Vec::new();
    for s in streams {
        if seen.insert(s.key.clone()) {
            let start = s.started_at.unwrap_or(now);
            out.delays.push((now - start).to_std().unwrap_or_default());
            new.push(start);
        }
    }
    new
}

/// The month's setting: June 2026, its lives, the fake JKT48Connect, the
/// real source on it and the bot's ledger (which decides every wait).
struct Sim {
    month_start: DateTime<Utc>,
    month_end: DateTime<Utc>,
    lives: Vec<Live>,
    fake: FakeProvider,
    source: Jkt48Source,
    ledger: Arc<Ledger>,
}

impl Sim {
    async fn start(allowance: u64, min_interval: Duration, seed: u64) -> Sim {
        let month_start = Utc
            .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        let lives = lives(month_start, 30, 14, seed);
        let fake = FakeProvider::start().await;
        let source = Jkt48Source {
            client: client(&fake, allowance, min_interval),
            schedule: Schedule {
                interval: min_interval,
                allowance: Some(Allowance::PerMonth(allowance)),
            },
        };
        let ledger = Arc::new(
            Ledger::open(&source, None, month_start)
                .await
                .expect("no store to fail"),
        );
        Sim {
            month_start,
            month_end: month_start + chrono::Duration::days(30),
            lives,
            fake,
            source,
            ledger,
        }
    }

    /// One live poll at `now` by the bot's scheduler: returns when the
    /// next one is due.
    async fn live_poll(
        &self,
        seen: &mut HashSet<String>,
        out: &mut Outcome,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        if let Reservation::Exhausted { until } = self.ledger.reserve(1, now).await {
            return until;
        }
        let streams = poll(&self.fake, &self.source, &self.lives, now).await;
        for start in record(seen, out, &streams, now) {
            self.ledger.saw_go_live(start);
        }
        now + chrono::Duration::from_std(self.ledger.plan(now)).expect("a plan fits")
    }
}

/// The real JKT48Connect client on the fake.
fn client(fake: &FakeProvider, allowance: u64, min_interval: Duration) -> Jkt48Connect {
    Jkt48Connect::new(
        Http::new(http_client(Duration::from_secs(5))),
        Jkt48ConnectConfig {
            api_key: Secret::new("BENCH-KEY"),
            base_url: url::Url::parse(&fake.url()).expect("fake URL"),
            interval: min_interval,
            calls_per_month: Some(allowance),
        },
    )
}

/// Simulate `month_start` .. +30 days with `allowance` calls for both
/// pollers; `min_interval` is `JKT48CONNECT_POLL_SECS`.
pub async fn month(allowance: u64, min_interval: Duration, seed: u64) -> MonthRun {
    let sim = Sim::start(allowance, min_interval, seed).await;
    let mut scheduled = Outcome::default();
    let mut seen = HashSet::new();
    let mut now = sim.month_start;
    while now < sim.month_end {
        now = sim.live_poll(&mut seen, &mut scheduled, now).await;
    }
    let Sim {
        month_start,
        month_end,
        lives,
        fake,
        source,
        ..
    } = sim;
    scheduled.calls = fake.hits(ROUTE) as u64;
    scheduled.missed = lives.len() - seen.len();

    // A fixed-interval poller spending the same allowance evenly.
    let fixed_interval = even_interval(
        BudgetState {
            allowance: Allowance::PerMonth(allowance),
            used: 0,
            cost: 1,
            min_interval,
        },
        month_start,
    );
    let before = fake.hits(ROUTE) as u64;
    let mut fixed = Outcome::default();
    let mut seen = HashSet::new();
    let mut now = month_start;
    let mut calls = 0;
    while now < month_end && calls < allowance {
        let streams = poll(&fake, &source, &lives, now).await;
        calls += 1;
        record(&mut seen, &mut fixed, &streams, now);
        now += chrono::Duration::from_std(fixed_interval).expect("fits");
    }
    fixed.calls = fake.hits(ROUTE) as u64 - before;
    fixed.missed = lives.len() - seen.len();
    scheduled.delays.sort();
    fixed.delays.sort();
    MonthRun {
        allowance,
        lives: lives.len(),
        scheduled,
        fixed,
        fixed_interval,
    }
}

/// What the calendar's feeds did in a month beside live polling.
#[derive(Debug, Clone)]
pub struct CalendarMonth {
    pub allowance: u64,
    /// Live detection sharing the key with the calendar.
    pub live: Outcome,
    /// Calls per calendar list (the fake's count).
    pub lists: Vec<(&'static str, u64)>,
    /// Show reminders (two leads per show: 60 and 15 minutes) due in the
    /// month, those sent within a minute of their moment, the latest.
    pub reminders: usize,
    pub reminders_on_time: usize,
    pub reminder_latest: Duration,
    /// Birthday posts due in the month (00:00 WIB), those within a minute.
    pub birthdays: usize,
    pub birthdays_on_time: usize,
}

impl CalendarMonth {
    pub fn total_calls(&self) -> u64 {
        self.live.calls + self.lists.iter().map(|(_, n)| n).sum::<u64>()
    }
}

const CAL_ROUTES: [(&str, &str); 4] = [
    ("theater", "/api/jkt48/theater"),
    ("birthdays", "/api/jkt48/birthday"),
    ("news", "/api/jkt48/news"),
    ("events", "/api/jkt48/events"),
];
/// Reminder leads every theater subscription in the month chose.
const LEADS: [i64; 2] = [60, 15];

/// The month's theater shows: 19:00 WIB daily, 14:00 WIB too on weekends.
fn shows(start: DateTime<Utc>, days: i64) -> Vec<(String, DateTime<Utc>)> {
    use chrono::Datelike;
    let mut out = Vec::new();
    for day in -1..days + 14 {
        let date = (start + chrono::Duration::days(day))
            .with_timezone(&wib())
            .date_naive();
        let weekend = matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        let hours: &[u32] = if weekend { &[14, 19] } else { &[19] };
        for h in hours {
            let at = wib_instant(date.and_hms_opt(*h, 0, 0).expect("an hour"));
            out.push((format!("{}{h}", date.format("%Y%m%d")), at));
        }
    }
    out
}

/// 48 members, birthdays spread over the year.
fn member_birthdays() -> Vec<(String, chrono::NaiveDate)> {
    (0..48)
        .map(|i| {
            let ordinal = 1 + (i * 365 / 48) as u32;
            let date = chrono::NaiveDate::from_yo_opt(2004, ordinal).expect("a day");
            (format!("Member {i}"), date)
        })
        .collect()
}

/// The four calendar answers at virtual time `now`.
fn serve_calendar(
    fake: &FakeProvider,
    shows: &[(String, DateTime<Utc>)],
    members: &[(String, chrono::NaiveDate)],
    month_start: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    use chrono::Datelike;
    // Published ten days ahead, listed until a day after.
    let listed: Vec<Value> = shows
        .iter()
        .filter(|(_, at)| {
            *at > now - chrono::Duration::days(1) && *at < now + chrono::Duration::days(10)
        })
        .take(20)
        .map(|(id, at)| {
            json!({"id": id, "title": "Cara Meminum Ramune", "member_count": 16, "seitansai": [],
                   "date": at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()})
        })
        .collect();
    fake.set(
        "GET /api/jkt48/theater",
        Reply::json(json!({"theater": listed, "page": 1, "perpage": 20, "total_count": 2992})),
    );
    let today = now.with_timezone(&wib()).date_naive();
    let coming: Vec<Value> = members
        .iter()
        .filter_map(|(name, born)| {
            let this_year = born.with_year(today.year())?;
            let next = if this_year >= today {
                this_year
            } else {
                born.with_year(today.year() + 1)?
            };
            ((next - today).num_days() <= 31).then(|| {
                json!({"name": name, "birthdate": born.to_string(), "url_key": name.replace(' ', "").to_lowercase(),
                       "age_after_birthday": next.year() - born.year(),
                       "next_birthday": format!("{next} 00:00:00"),
                       "is_birthday_today": next == today})
            })
        })
        .collect();
    fake.set("GET /api/jkt48/birthday", Reply::json(Value::Array(coming)));
    // A news item every 8 hours, an event every 3 days.
    let hours = (now - month_start).num_hours().max(0);
    let news: Vec<Value> = (0..10)
        .map(|k| {
            let n = hours / 8 - k;
            json!({"_id": format!("n{n}"), "id": (2000 + n).to_string(), "date": "2026-06-01T00:00:00.000Z",
                   "label": "/images/icon.cat2.png", "title": format!("Pengumuman {n}")})
        })
        .collect();
    fake.set(
        "GET /api/jkt48/news",
        Reply::json(json!({"news": news, "page": 1, "perpage": 10, "total_count": 1720})),
    );
    let events: Vec<Value> = (0..5)
        .map(|k| {
            let n = hours / 72 + k;
            json!({"id": format!("event-{n}"), "date": "2026-06-04T17:00:00.000Z",
                   "label": "https://jkt48.com/images/icon.cat2.png", "title": format!("Event {n}"),
                   "url": "https://jkt48.com/calendar/list/y/2026/m/6/d/5?lang=id"})
        })
        .collect();
    fake.set("GET /api/jkt48/events", Reply::json(Value::Array(events)));
}

/// The same month as [`month`] with every calendar feed subscribed (theater
/// reminders 60 and 15 minutes ahead, birthdays, news, events): the bot's
/// real calendar copies, read plan and live scheduler on one ledger, in
/// virtual time. The feeds wake when a post falls due (and every 5
/// minutes), as `calendar/feeds.rs` does.
pub async fn month_with_calendar(
    allowance: u64,
    min_interval: Duration,
    seed: u64,
) -> CalendarMonth {
    use onair::calendar::items::birthday_date;
    use onair::calendar::reads::{self, List};

    let sim = Sim::start(allowance, min_interval, seed).await;
    let (month_start, month_end, fake, ledger) =
        (sim.month_start, sim.month_end, &sim.fake, &sim.ledger);
    let calendar = onair::calendar::Calendar::new(
        client(fake, allowance, min_interval),
        Some(Arc::clone(ledger)),
    );
    let plan = reads::plan(Some(Allowance::PerMonth(allowance)), None);
    let shows = shows(month_start, 30);
    let members = member_birthdays();

    let mut live = Outcome::default();
    let mut seen = HashSet::new();
    let mut reminded: HashSet<(String, i64)> = HashSet::new();
    let mut reminder_late = Vec::new();
    let mut wished: HashSet<String> = HashSet::new();
    let mut birthday_late = Vec::new();
    let step = chrono::Duration::minutes(5);
    let (mut next_live, mut next_cal) = (month_start, month_start);
    while next_live.min(next_cal) < month_end {
        if next_live <= next_cal {
            next_live = sim.live_poll(&mut seen, &mut live, next_live).await;
            continue;
        }
        let now = next_cal;
        serve_calendar(fake, &shows, &members, month_start, now);
        // What the feeds know: the copies as the plan keeps them.
        let known = calendar
            .shows_within(now, Duration::from_secs(u64::MAX / 4))
            .await
            .value
            .unwrap_or_default();
        let next_reminder = known
            .iter()
            .flat_map(|s| LEADS.map(|l| s.starts_at - chrono::Duration::minutes(l)))
            .filter(|due| *due > now)
            .min();
        let copy = calendar
            .shows_within(
                now,
                reads::max_age(List::Theater, &plan, now, next_reminder),
            )
            .await
            .value
            .unwrap_or_default();
        let birthdays = calendar
            .birthdays_within(now, reads::max_age(List::Birthdays, &plan, now, None))
            .await;
        let _ = calendar
            .news_within(now, reads::max_age(List::News, &plan, now, None))
            .await;
        let _ = calendar
            .events_within(now, reads::max_age(List::Events, &plan, now, None))
            .await;
        let mut wake = now + step;
        for s in copy.iter() {
            for lead in LEADS {
                let due = s.starts_at - chrono::Duration::minutes(lead);
                if due <= now && now < s.starts_at && reminded.insert((s.id.clone(), lead)) {
                    reminder_late.push((now - due).to_std().unwrap_or_default());
                } else if due > now {
                    wake = wake.min(due);
                }
            }
        }
        let read_at = birthdays.read_at.unwrap_or(now);
        for b in birthdays.value.as_deref().into_iter().flatten() {
            let Some(day) = birthday_date(b, read_at) else {
                continue;
            };
            let due = wib_midnight(day);
            if due <= now && now < due + chrono::Duration::days(1) {
                if wished.insert(format!("{}:{day}", b.name)) {
                    birthday_late.push((now - due).to_std().unwrap_or_default());
                }
            } else if due > now {
                wake = wake.min(due);
            }
        }
        next_cal = wake;
    }
    live.calls = fake.hits(ROUTE) as u64;
    live.missed = sim.lives.len() - seen.len();
    live.delays.sort();
    let in_month =
        |at: DateTime<Utc>| at > month_start + chrono::Duration::hours(2) && at < month_end;
    let reminders = shows.iter().filter(|(_, at)| in_month(*at)).count() * LEADS.len();
    let birthdays = members
        .iter()
        .filter(|(_, born)| {
            use chrono::Datelike;
            born.with_year(2026)
                .is_some_and(|d| in_month(wib_midnight(d) + chrono::Duration::hours(1)))
        })
        .count();
    let minute = Duration::from_secs(60);
    CalendarMonth {
        allowance,
        live,
        lists: CAL_ROUTES
            .iter()
            .map(|(name, path)| (*name, fake.hits(path) as u64))
            .collect(),
        reminders,
        reminders_on_time: reminder_late.iter().filter(|d| **d <= minute).count(),
        reminder_latest: reminder_late.iter().max().copied().unwrap_or_default(),
        birthdays,
        birthdays_on_time: birthday_late.iter().filter(|d| **d <= minute).count(),
    }
}
