//! The calendar feeds' trigger, run by the leader beside the pollers:
//! read the lists someone subscribed to on the plan ([`super::reads`]),
//! record what they list ([`super::items`], store), queue an edit of every
//! card whose item changed (a close when it dropped out of its list), and
//! write each post that falls due ([`super::due`]) as a delivery for the
//! outbox, which sends it exactly once. It wakes for the next moment a
//! post falls due, so a reminder goes out on time from the list already
//! read, whatever the budget says.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::due;
use super::items::{self, KIND_BIRTHDAY, KIND_BIRTHDAY_MONTH, KIND_SHOW, KIND_TODAY};
use super::reads::{self, List, ReadPlan};
use super::Calendar;
use crate::outbox::{Job, Outbox, Step};
use crate::store::{
    CalendarItem, Change, DeliveryStatus, Feed, ListedItem, Listing, Store, StoreError,
    Subscription,
};

/// The longest the trigger sleeps (a new subscription, a list to read).
pub const TICK: Duration = Duration::from_secs(30);
/// After a store error, the wait before the next try.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// What one read lists, kind by kind, with the span each covers.
type Listings<'a> = Vec<(&'a str, Vec<ListedItem>, Option<Span>)>;
type Span = (DateTime<Utc>, DateTime<Utc>);

/// What the feeds need.
pub struct Feeds {
    pub store: Arc<dyn Store>,
    pub calendar: Arc<Calendar>,
    pub outbox: Arc<Outbox>,
    pub plan: ReadPlan,
}

/// Run the feeds until `stop`.
pub async fn run(feeds: Feeds, stop: CancellationToken) {
    let mut state = State::default();
    loop {
        let wait = match feeds.step(&mut state, Utc::now()).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "calendar feeds: store error; trying again shortly");
                STORE_RETRY
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// What one round leaves the next.
#[derive(Default)]
struct State {
    /// When each list's copy was last recorded (a newer read is recorded).
    recorded: HashMap<List, DateTime<Utc>>,
    /// The next show reminder due, as the last round saw the shows (the
    /// theater list is kept fresher before it).
    next_reminder: Option<DateTime<Utc>>,
}

impl Feeds {
    /// One round: read, record, post what is due. Returns how long to
    /// sleep.
    async fn step(&self, state: &mut State, now: DateTime<Utc>) -> Result<Duration, StoreError> {
        let subs: Vec<Subscription> = self
            .store
            .active_subscriptions()
            .await?
            .into_iter()
            .filter(|s| s.calendar.is_some())
            .collect();
        let feeds: BTreeSet<Feed> = subs
            .iter()
            .filter_map(|s| s.calendar.as_ref().map(|c| c.feed))
            .collect();
        let tick = self.plan.every.map_or(TICK, |e| e.min(TICK));
        if feeds.is_empty() {
            return Ok(tick);
        }
        let lists: BTreeSet<List> = feeds.iter().map(|f| List::of(*f)).collect();
        for list in lists {
            let max_age = reads::max_age(list, &self.plan, now, state.next_reminder);
            self.read(list, now, max_age, &mut state.recorded).await?;
        }
        let mut next = now + chrono::Duration::from_std(tick).unwrap_or_default();
        state.next_reminder = None;
        let kinds = items::KINDS
            .into_iter()
            .filter(|k| due::feed_of(k).is_some_and(|f| feeds.contains(&f)));
        for kind in kinds {
            let items = match kind {
                items::KIND_NEWS | items::KIND_EVENT => {
                    self.store
                        .calendar_items_new_since(kind, now - due::NEWS_FRESH_FOR)
                        .await?
                }
                _ => {
                    self.store
                        .calendar_items_from(kind, now - chrono::Duration::days(1))
                        .await?
                }
            };
            for item in &items {
                self.post_due(item, &subs, now).await?;
            }
            if let Some(at) = due::next_due(&items, &subs, now) {
                next = next.min(at);
                if kind == KIND_SHOW {
                    state.next_reminder = Some(at);
                }
            }
        }
        Ok((next - Utc::now())
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(50)))
    }

    /// Read `list` (when its copy is older than `max_age`) and record a
    /// copy newer than the last recorded.
    async fn read(
        &self,
        list: List,
        now: DateTime<Utc>,
        max_age: Duration,
        recorded: &mut HashMap<List, DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let cal = &self.calendar;
        let (read_at, listings): (Option<DateTime<Utc>>, Listings<'_>) = match list {
            List::Theater => {
                let a = cal.shows_within(now, max_age).await;
                let shows = a.value.as_deref().cloned().unwrap_or_default();
                let covers = items::theater_covers(&shows);
                let (each, days) = items::theater(&shows);
                (
                    a.read_at,
                    vec![(KIND_SHOW, each, covers), (KIND_TODAY, days, None)],
                )
            }
            List::Birthdays => {
                let a = cal.birthdays_within(now, max_age).await;
                let list = a.value.as_deref().cloned().unwrap_or_default();
                let (each, months) = items::birthdays(&list, a.read_at.unwrap_or(now));
                (
                    a.read_at,
                    vec![
                        (KIND_BIRTHDAY, each, None),
                        (KIND_BIRTHDAY_MONTH, months, None),
                    ],
                )
            }
            List::News => {
                let a = cal.news_within(now, max_age).await;
                let list = a.value.as_deref().cloned().unwrap_or_default();
                (
                    a.read_at,
                    vec![(items::KIND_NEWS, items::news(&list), None)],
                )
            }
            List::Events => {
                let a = cal.events_within(now, max_age).await;
                let list = a.value.as_deref().cloned().unwrap_or_default();
                (
                    a.read_at,
                    vec![(items::KIND_EVENT, items::events(&list), None)],
                )
            }
        };
        let Some(read_at) = read_at else {
            return Ok(());
        };
        if recorded.get(&list).is_some_and(|r| *r >= read_at) {
            return Ok(());
        }
        for (kind, listed, covers) in listings {
            let changes = self
                .store
                .save_listing(Listing {
                    kind,
                    items: &listed,
                    covers,
                    now: read_at,
                })
                .await?;
            for (item, change) in changes {
                self.changed(&item, change).await?;
            }
        }
        recorded.insert(list, read_at);
        Ok(())
    }

    /// Queue what a change means for the cards already out: an edit (moved
    /// or renamed), a close (taken off its list), a reopen (back on it).
    async fn changed(&self, item: &CalendarItem, change: Change) -> Result<(), StoreError> {
        if change == Change::New {
            return Ok(());
        }
        tracing::info!(item = item.id, key = %item.key, ?change, "calendar item changed");
        for d in self.store.deliveries_for_item(item.id).await? {
            if d.status != DeliveryStatus::Sent {
                continue;
            }
            let step = match change {
                Change::Changed => Step::Redraw,
                Change::Unlisted => Step::Close,
                Change::Relisted if d.end_edited_at.is_some() => {
                    self.store.clear_end_edited(d.id).await?;
                    Step::Redraw
                }
                Change::Relisted | Change::New => continue,
            };
            self.outbox.enqueue(Job::new(&d, step));
        }
        Ok(())
    }

    /// Write the posts of `item` due now and queue them.
    async fn post_due(
        &self,
        item: &CalendarItem,
        subs: &[Subscription],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for (slot, targets) in due::due_now(item, subs, now) {
            let written = self
                .store
                .create_item_deliveries(item, &slot, &targets)
                .await?;
            if !written.is_empty() {
                tracing::info!(item = item.id, key = %item.key, slot, channels = written.len(), "calendar post due");
            }
            self.outbox
                .enqueue_all(written.iter().map(|d| Job::new(d, Step::Post)).collect());
        }
        Ok(())
    }
}
