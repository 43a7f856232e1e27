//! The JKT48 calendar: theater shows, birthdays, news and events from
//! JKT48Connect (`providers/jkt48connect.rs`, read by
//! `providers/jkt48_calendar.rs`), read from the same paid
//! allowance as live detection, so what the bot reads it keeps
//! ([`copy`]) and reads again only when the copy has aged: `/schedule` and
//! `/birthdays` answer from it.

pub mod copy;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::budget::Allowance;
use crate::providers::jkt48_calendar::{Birthday, Show};
use crate::providers::jkt48connect::Jkt48Connect;
use crate::watch::ledger::Ledger;
use copy::{Ages, Answer, Kept};

/// How long a read list is answered as it is: shows are published days
/// ahead and birthdays are known all year, so a few hours costs a fan
/// nothing and keeps the calls to a handful a day (at most 8 a day per
/// list: 496 a month for both, 2% of an Enterprise key, 10% of Premium).
pub const COPY_MAX_AGE: Duration = Duration::from_secs(3 * 3600);
/// The same on a key under 5,000 calls a month (Basic): at most 2 reads a
/// day per list, 124 a month for both, 12% of 1,000.
pub const COPY_MAX_AGE_SMALL_KEY: Duration = Duration::from_secs(12 * 3600);
/// After a failed read, how long before a command may try again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10 * 60);
/// Theater shows read per call (upcoming first): about two weeks.
pub const SHOWS_PER_READ: u32 = 20;

/// The calendar lists the bot keeps.
pub struct Calendar {
    client: Jkt48Connect,
    shows: Kept<Vec<Show>>,
    birthdays: Kept<Vec<Birthday>>,
}

impl Calendar {
    /// Reads are spent from `ledger` (JKT48Connect's allowance).
    pub fn new(client: Jkt48Connect, ledger: Option<Arc<Ledger>>) -> Self {
        let ages = Ages {
            max_age: copy_max_age(ledger.as_ref().and_then(|l| l.schedule.allowance)),
            retry_after: RETRY_AFTER,
        };
        Calendar {
            client,
            shows: Kept::new(ages, ledger.clone()),
            birthdays: Kept::new(ages, ledger),
        }
    }

    /// The theater shows (read again first when the copy has aged).
    pub async fn shows(&self, now: DateTime<Utc>) -> Answer<Vec<Show>> {
        self.shows
            .get(now, || self.client.theater(1, SHOWS_PER_READ))
            .await
    }

    /// The coming birthdays (read again first when the copy has aged).
    pub async fn birthdays(&self, now: DateTime<Utc>) -> Answer<Vec<Birthday>> {
        self.birthdays.get(now, || self.client.birthdays()).await
    }
}

/// How old a copy may grow on a key with `allowance`: a small key keeps it
/// longer, so the calendar never takes more than about a tenth of it.
pub fn copy_max_age(allowance: Option<Allowance>) -> Duration {
    match allowance {
        Some(Allowance::PerMonth(n)) if n < 5_000 => COPY_MAX_AGE_SMALL_KEY,
        Some(Allowance::PerDay(n)) if n < 165 => COPY_MAX_AGE_SMALL_KEY,
        _ => COPY_MAX_AGE,
    }
}

/// The most a month of `/schedule` and `/birthdays` asks can cost: both
/// lists read each time their copy ages, over 31 days.
pub fn worst_month(allowance: Option<Allowance>) -> u64 {
    let reads_a_day = 86_400 / copy_max_age(allowance).as_secs().max(1);
    2 * reads_a_day * 31
}

/// The calendar's share of a monthly key: (at most, left for live
/// detection at least). `None` for an unmetered or per-day allowance.
pub fn share(allowance: Option<Allowance>) -> Option<(u64, u64)> {
    match allowance {
        Some(Allowance::PerMonth(calls)) => {
            let most = worst_month(allowance);
            Some((most, calls.saturating_sub(most)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_never_take_more_than_an_eighth_of_a_key() {
        for calls in [1_000, 5_000, 25_000] {
            let allowance = Some(Allowance::PerMonth(calls));
            let worst = worst_month(allowance);
            assert!(worst * 8 <= calls, "{worst} of {calls}");
        }
        assert_eq!(worst_month(Some(Allowance::PerMonth(1_000))), 124);
        assert_eq!(worst_month(Some(Allowance::PerMonth(25_000))), 496);
        assert_eq!(copy_max_age(None), COPY_MAX_AGE);
        assert_eq!(share(Some(Allowance::PerMonth(1_000))), Some((124, 876)));
        assert_eq!(share(None), None);
    }
}
