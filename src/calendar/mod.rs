//! The JKT48 calendar: theater shows, birthdays, news and events from
//! JKT48Connect (`providers/jkt48connect.rs`, read by
//! `providers/jkt48_calendar.rs`), read from the same paid allowance as
//! live detection, so what the bot reads it keeps ([`copy`]) and reads
//! again only when the copy has aged: `/schedule` and `/birthdays` answer
//! from it, and the feeds ([`feeds`]) read it on their plan ([`reads`]),
//! record what it lists ([`items`]) and post what falls due ([`due`])
//! through the outbox, drawn by [`cards`].

pub mod cards;
pub mod copy;
pub mod due;
pub mod feeds;
pub mod items;
pub mod lines;
pub mod reads;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::budget::Allowance;
use crate::providers::jkt48_calendar::{Birthday, CalendarEvent, NewsItem, Show};
use crate::providers::jkt48connect::Jkt48Connect;
use crate::watch::ledger::Ledger;
use copy::{Ages, Answer, Kept};
use reads::{List, ReadPlan};

/// How long a read list is answered to a fan's ask as it is: shows are
/// published days ahead, so a few hours costs a fan nothing and keeps the
/// calls to a handful a day (at most 8 a day: 248 a month).
pub const COPY_MAX_AGE: Duration = Duration::from_secs(3 * 3600);
/// The same on a key under 5,000 calls a month (Basic), and for birthdays
/// on any key (known all year): at most 2 reads a day, 62 a month.
pub const COPY_MAX_AGE_SMALL_KEY: Duration = Duration::from_secs(12 * 3600);
/// After a failed read, how long before a command may try again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10 * 60);
/// Theater shows read per call (upcoming first): about two weeks.
pub const SHOWS_PER_READ: u32 = 20;
/// News items read per call (newest first).
pub const NEWS_PER_READ: u32 = 10;

/// The calendar lists the bot keeps.
pub struct Calendar {
    client: Jkt48Connect,
    ask_age: Duration,
    shows: Kept<Vec<Show>>,
    birthdays: Kept<Vec<Birthday>>,
    news: Kept<Vec<NewsItem>>,
    events: Kept<Vec<CalendarEvent>>,
}

impl Calendar {
    /// Reads are spent from `ledger` (JKT48Connect's allowance).
    pub fn new(client: Jkt48Connect, ledger: Option<Arc<Ledger>>) -> Self {
        let ask_age = copy_max_age(ledger.as_ref().and_then(|l| l.schedule.allowance));
        let ages = Ages {
            max_age: ask_age,
            retry_after: RETRY_AFTER,
        };
        Calendar {
            client,
            ask_age,
            shows: Kept::new(ages, ledger.clone()),
            birthdays: Kept::new(ages, ledger.clone()),
            news: Kept::new(ages, ledger.clone()),
            events: Kept::new(ages, ledger),
        }
    }

    /// The theater shows for a fan's ask (read again first when aged).
    pub async fn shows(&self, now: DateTime<Utc>) -> Answer<Vec<Show>> {
        self.shows_within(now, self.ask_age).await
    }

    /// The coming birthdays for a fan's ask (read again first when aged).
    pub async fn birthdays(&self, now: DateTime<Utc>) -> Answer<Vec<Birthday>> {
        self.birthdays_within(now, COPY_MAX_AGE_SMALL_KEY).await
    }

    /// The theater shows, read again first when older than `max_age`.
    pub async fn shows_within(&self, now: DateTime<Utc>, max_age: Duration) -> Answer<Vec<Show>> {
        self.shows
            .get_within(now, max_age, || self.client.theater(1, SHOWS_PER_READ))
            .await
    }

    pub async fn birthdays_within(
        &self,
        now: DateTime<Utc>,
        max_age: Duration,
    ) -> Answer<Vec<Birthday>> {
        self.birthdays
            .get_within(now, max_age, || self.client.birthdays())
            .await
    }

    pub async fn news_within(
        &self,
        now: DateTime<Utc>,
        max_age: Duration,
    ) -> Answer<Vec<NewsItem>> {
        self.news
            .get_within(now, max_age, || self.client.news(1, NEWS_PER_READ))
            .await
    }

    pub async fn events_within(
        &self,
        now: DateTime<Utc>,
        max_age: Duration,
    ) -> Answer<Vec<CalendarEvent>> {
        self.events
            .get_within(now, max_age, || self.client.events())
            .await
    }
}

/// How old a copy may grow for a fan's ask on a key with `allowance`: a
/// small key keeps it longer.
pub fn copy_max_age(allowance: Option<Allowance>) -> Duration {
    match allowance {
        Some(Allowance::PerMonth(n)) if n < 5_000 => COPY_MAX_AGE_SMALL_KEY,
        Some(Allowance::PerDay(n)) if n < 165 => COPY_MAX_AGE_SMALL_KEY,
        _ => COPY_MAX_AGE,
    }
}

/// The most a month of fans' asks can cost per list (each read when its
/// copy ages, over 31 days): theater and birthdays only.
pub fn asks_month(list: List, allowance: Option<Allowance>) -> u64 {
    let age = match list {
        List::Theater => copy_max_age(allowance),
        List::Birthdays => COPY_MAX_AGE_SMALL_KEY,
        List::News | List::Events => return 0,
    };
    31 * (86_400 / age.as_secs().max(1))
}

/// The calendar's month on a key: per list the most its feeds (all
/// subscribed) and fans' asks cost together (an ask finds the copy the
/// feeds keep fresh, so a list costs the larger of the two), their sum,
/// and what is left of a monthly allowance for live detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub lists: Vec<(List, u64)>,
    pub most: u64,
    /// `None` for an unmetered or per-day allowance.
    pub left: Option<u64>,
}

impl Share {
    /// "theater 124, birthdays 62, news 62, events 31".
    pub fn lists_text(&self) -> String {
        self.lists
            .iter()
            .map(|(list, calls)| format!("{} {calls}", list.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn share(allowance: Option<Allowance>, every: Option<Duration>) -> Share {
    let plan: ReadPlan = reads::plan(allowance, every);
    let lists: Vec<(List, u64)> = reads::month(&plan)
        .into_iter()
        .map(|(l, feeds)| (l, feeds.max(asks_month(l, allowance))))
        .collect();
    let most = lists.iter().map(|(_, n)| n).sum();
    let left = match allowance {
        Some(Allowance::PerMonth(calls)) => Some(calls.saturating_sub(most)),
        _ => None,
    };
    Share { lists, most, left }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feed_and_every_ask_together_leave_most_of_each_key_for_lives() {
        let basic = share(Some(Allowance::PerMonth(1_000)), None);
        assert_eq!(
            basic.lists,
            [
                (List::Theater, 124),
                (List::Birthdays, 62),
                (List::News, 62),
                (List::Events, 31)
            ]
        );
        assert_eq!((basic.most, basic.left), (279, Some(721)));
        let premium = share(Some(Allowance::PerMonth(5_000)), None);
        assert_eq!((premium.most, premium.left), (744, Some(4_256)));
        let enterprise = share(Some(Allowance::PerMonth(25_000)), None);
        assert_eq!(enterprise.left, Some(24_256));
        assert_eq!(share(None, None).left, None);
        assert_eq!(copy_max_age(None), COPY_MAX_AGE);
    }
}
