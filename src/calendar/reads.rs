//! The calendar's read plan: how often each list is read for the feeds
//! someone subscribed to, from the same paid JKT48Connect allowance as
//! live detection, and what a month of it costs. Pure.
//!
//! | list      | feeds                    | key under 5,000/month | larger key   |
//! |-----------|--------------------------|-----------------------|--------------|
//! | theater   | reminders, today's shows | every 12 h            | every 6 h    |
//! |           | close to a show          | 2 h before a reminder: copy ≤ 2 h old | ≤ 1 h old |
//! | birthdays | birthdays, month list    | once after 00:00 WIB  | the same     |
//! | news      | news                     | every 12 h            | every 2 h    |
//! | events    | events                   | every 24 h            | every 12 h   |
//!
//! A list nobody subscribed to is never read by the feeds (only a fan's
//! `/schedule` or `/birthdays` reads, from [`super::COPY_MAX_AGE`]).
//! Reminders are scheduled from the list already read, so a spent budget
//! delays what the bot learns, never a reminder it knows of.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::budget::Allowance;
use crate::providers::jkt48_calendar::{wib_date, wib_midnight};
use crate::store::Feed;

/// One list JKT48Connect serves (one call per read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum List {
    Theater,
    Birthdays,
    News,
    Events,
}

impl List {
    pub const ALL: [List; 4] = [List::Theater, List::Birthdays, List::News, List::Events];

    /// The list a feed is made from.
    pub fn of(feed: Feed) -> List {
        match feed {
            Feed::Theater | Feed::Today => List::Theater,
            Feed::Birthdays => List::Birthdays,
            Feed::News => List::News,
            Feed::Events => List::Events,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            List::Theater => "theater",
            List::Birthdays => "birthdays",
            List::News => "news",
            List::Events => "events",
        }
    }
}

/// How far ahead of a reminder the theater list counts as close to it.
pub const NEAR_SHOW: Duration = Duration::from_secs(2 * 3600);
/// Shows on a day with shows, for the month's estimate (weekends have two
/// or three, weekdays one or none).
pub const SHOWS_A_DAY: u64 = 2;

/// How old each list's copy may be before the feeds read it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPlan {
    pub theater: Duration,
    /// The theater list's age limit in the run-up to a reminder (a show
    /// moved or cancelled is noticed before it goes out).
    pub near_show: Duration,
    pub news: Duration,
    pub events: Duration,
    /// `CALENDAR_REFRESH_SECS`: the operator's cap on every list's age
    /// (tests use seconds).
    pub every: Option<Duration>,
}

const HOUR: u64 = 3600;

/// The plan for a key with `allowance` (a small key reads less often);
/// `every` caps every age.
pub fn plan(allowance: Option<Allowance>, every: Option<Duration>) -> ReadPlan {
    let small = match allowance {
        Some(Allowance::PerMonth(n)) => n < 5_000,
        Some(Allowance::PerDay(n)) => n < 165,
        None => false,
    };
    let h = |n: u64| Duration::from_secs(n * HOUR);
    if small {
        ReadPlan {
            theater: h(12),
            near_show: h(2),
            news: h(12),
            events: h(24),
            every,
        }
    } else {
        ReadPlan {
            theater: h(6),
            near_show: h(1),
            news: h(2),
            events: h(12),
            every,
        }
    }
}

/// How old `list`'s copy may be at `now`. `next_reminder`: the next show
/// reminder any subscription is due (the theater list is kept fresher
/// before it). Birthdays are read once after each 00:00 WIB.
pub fn max_age(
    list: List,
    plan: &ReadPlan,
    now: DateTime<Utc>,
    next_reminder: Option<DateTime<Utc>>,
) -> Duration {
    let age = match list {
        List::Theater => {
            let near = next_reminder
                .is_some_and(|t| (t - now).to_std().is_ok_and(|ahead| ahead <= NEAR_SHOW));
            if near {
                plan.theater.min(plan.near_show)
            } else {
                plan.theater
            }
        }
        List::Birthdays => {
            // Aged when read before today's 00:00 WIB (a copy read at
            // midnight sharp is as old as the day: not read again).
            let midnight = wib_midnight(wib_date(now));
            (now - midnight).to_std().unwrap_or_default() + Duration::from_millis(1)
        }
        List::News => plan.news,
        List::Events => plan.events,
    };
    match plan.every {
        Some(every) => age.min(every),
        None => age,
    }
}

/// The most a month (31 days) of reading `list` for the feeds costs, in
/// calls (the theater list's run-up reads estimated for [`SHOWS_A_DAY`]).
pub fn month_calls(list: List, plan: &ReadPlan) -> u64 {
    let per_day = |every: Duration| {
        let every = plan.every.map_or(every, |cap| every.min(cap));
        86_400u64.div_ceil(every.as_secs().max(1))
    };
    let days = 31;
    match list {
        List::Theater => {
            // Each run-up (NEAR_SHOW plus the lead) reads about twice
            // with a one-hour limit, once with a two-hour one.
            let run_up = (NEAR_SHOW.as_secs() / plan.near_show.as_secs().max(1)).max(1);
            days * (per_day(plan.theater) + SHOWS_A_DAY * run_up)
        }
        List::Birthdays => {
            days * plan
                .every
                .map_or(1, |_| per_day(Duration::from_secs(86_400)))
        }
        List::News => days * per_day(plan.news),
        List::Events => days * per_day(plan.events),
    }
}

/// The feeds' month, list by list, with every feed subscribed.
pub fn month(plan: &ReadPlan) -> Vec<(List, u64)> {
    List::ALL
        .iter()
        .map(|l| (*l, month_calls(*l, plan)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc).unwrap().into()
    }

    #[test]
    fn a_month_of_every_feed_fits_each_key_with_most_left_for_lives() {
        let basic = plan(Some(Allowance::PerMonth(1_000)), None);
        let total = |p: &ReadPlan| month(p).iter().map(|(_, n)| n).sum::<u64>();
        assert_eq!(
            month(&basic),
            [
                (List::Theater, 124),
                (List::Birthdays, 31),
                (List::News, 62),
                (List::Events, 31)
            ]
        );
        assert_eq!(total(&basic), 248);
        let premium = plan(Some(Allowance::PerMonth(5_000)), None);
        assert_eq!(
            month(&premium),
            [
                (List::Theater, 248),
                (List::Birthdays, 31),
                (List::News, 372),
                (List::Events, 62)
            ]
        );
        assert_eq!(total(&premium), 713);
        assert!(total(&basic) * 4 <= 1_000 && total(&premium) * 7 <= 5_000);
    }

    #[test]
    fn the_theater_list_is_kept_fresher_before_a_reminder_and_birthdays_after_midnight() {
        let p = plan(None, None);
        let now = at("2025-07-03T05:00:00Z"); // 12:00 WIB
        assert_eq!(max_age(List::Theater, &p, now, None), p.theater);
        let soon = Some(at("2025-07-03T06:30:00Z"));
        assert_eq!(max_age(List::Theater, &p, now, soon), p.near_show);
        assert_eq!(
            max_age(List::Birthdays, &p, now, None),
            Duration::from_secs(12 * 3600) + Duration::from_millis(1),
            "read at most once since 00:00 WIB"
        );
        let every = plan(None, Some(Duration::from_secs(2)));
        assert_eq!(
            max_age(List::News, &every, now, None),
            Duration::from_secs(2)
        );
    }
}
