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

/// Simulate `month_start` .. +30 days with `allowance` calls for both
/// pollers; `min_interval` is `JKT48CONNECT_POLL_SECS`.
pub async fn month(allowance: u64, min_interval: Duration, seed: u64) -> MonthRun {
    let month_start = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let month_end = month_start + chrono::Duration::days(30);
    let lives = lives(month_start, 30, 14, seed);
    let fake = FakeProvider::start().await;
    let schedule = Schedule {
        interval: min_interval,
        allowance: Some(Allowance::PerMonth(allowance)),
    };
    let source = Jkt48Source {
        client: Jkt48Connect::new(
            Http::new(http_client(Duration::from_secs(5))),
            Jkt48ConnectConfig {
                api_key: Secret::new("BENCH-KEY"),
                base_url: url::Url::parse(&fake.url()).expect("fake URL"),
                interval: min_interval,
                calls_per_month: Some(allowance),
            },
        ),
        schedule,
    };

    // The bot's scheduler: the ledger decides every wait.
    let ledger = Arc::new(
        Ledger::open(&source, None, month_start)
            .await
            .expect("no store to fail"),
    );
    let mut scheduled = Outcome::default();
    let mut seen = HashSet::new();
    let mut now = month_start;
    while now < month_end {
        match ledger.reserve(1, now).await {
            Reservation::Exhausted { until } => {
                now = until;
                continue;
            }
            Reservation::Go => {}
        }
        let streams = poll(&fake, &source, &lives, now).await;
        for start in record(&mut seen, &mut scheduled, &streams, now) {
            ledger.saw_go_live(start);
        }
        now += chrono::Duration::from_std(ledger.plan(now)).expect("a plan fits");
    }
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
