//! The JKT48 calendar: theater shows, birthdays, news and events from
//! JKT48Connect (`providers/jkt48_calendar.rs`), read from the same paid
//! allowance as live detection, so what the bot reads it keeps
//! ([`copy`]) and reads again only when the copy has aged: `/schedule` and
//! `/birthdays` answer from it.

pub mod copy;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::providers::jkt48_calendar::{Birthday, Jkt48Calendar, Show};
use crate::watch::ledger::Ledger;
use copy::{Ages, Answer, Kept};

/// How long a read list is answered as it is: shows are published days
/// ahead and birthdays are known all year, so a few hours costs a fan
/// nothing and keeps the calls to a handful a day.
pub const COPY_MAX_AGE: Duration = Duration::from_secs(3 * 3600);
/// After a failed read, how long before a command may try again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10 * 60);
/// Theater shows read per call (upcoming first): about two weeks.
pub const SHOWS_PER_READ: u32 = 20;

/// The calendar lists the bot keeps.
pub struct Calendar {
    client: Jkt48Calendar,
    shows: Kept<Vec<Show>>,
    birthdays: Kept<Vec<Birthday>>,
}

impl Calendar {
    /// Reads are spent from `ledger` (JKT48Connect's allowance).
    pub fn new(client: Jkt48Calendar, ledger: Option<Arc<Ledger>>) -> Self {
        let ages = Ages {
            max_age: COPY_MAX_AGE,
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
