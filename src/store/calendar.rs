//! The calendar's records: what a calendar subscription chose
//! ([`CalendarChoice`], kept on its subscription row), and what the feeds
//! listed ([`CalendarItem`]: a show, a birthday, a news item, an event, a
//! day's schedule, a month's birthday list), each by a stable key, with
//! what changed since the last read. Deliveries of an item are written
//! here too (one per item, channel and slot).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::deliveries::{deliveries_where, delivery, Delivery};
use super::error::StoreError;
use super::sql::{ms, readable, snow, time, SqlEngine, SqlStore};

/// A calendar feed a subscription can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    /// A reminder before each theater show.
    Theater,
    /// The day's theater shows, posted at a chosen hour.
    Today,
    /// Each member's birthday (and, if chosen, the month's list on the 1st).
    Birthdays,
    /// Official news, each new item once.
    News,
    /// Official events, each new one once.
    Events,
}

impl Feed {
    pub const ALL: [Feed; 5] = [
        Feed::Theater,
        Feed::Today,
        Feed::Birthdays,
        Feed::News,
        Feed::Events,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feed::Theater => "theater",
            Feed::Today => "today",
            Feed::Birthdays => "birthdays",
            Feed::News => "news",
            Feed::Events => "events",
        }
    }
}

/// What a calendar subscription chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarChoice {
    pub feed: Feed,
    /// Theater: how many minutes before each show a reminder goes out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leads: Vec<u32>,
    /// Today's shows: the hour (WIB) of the daily post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hour: Option<u8>,
    /// Birthdays: also the month's list on the 1st.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub monthly: bool,
}

impl CalendarChoice {
    pub fn of(feed: Feed) -> Self {
        CalendarChoice {
            feed,
            leads: Vec::new(),
            hour: None,
            monthly: false,
        }
    }

    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(super) fn parse(s: &str) -> Result<Self, StoreError> {
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("calendar choice: {e}")))
    }
}

/// One thing a calendar feed listed.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarItem {
    pub id: i64,
    /// Stable across reads (`theater:2963`, `news:1926`…).
    pub key: String,
    /// What kind of item it is (its deliveries carry the same kind).
    pub kind: String,
    /// When it happens (a show's start, a birthday's 00:00 WIB, a news
    /// item's date).
    pub at: Option<DateTime<Utc>>,
    /// The provider's entry, as JSON.
    pub data: String,
    /// Listed the first time its kind was read: never announced.
    pub seed: bool,
    pub first_seen: DateTime<Utc>,
    /// The last read that listed it.
    pub listed_at: DateTime<Utc>,
    /// It dropped out of a list that still covers its date.
    pub unlisted_at: Option<DateTime<Utc>>,
}

/// An item as a read lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedItem {
    pub key: String,
    pub at: Option<DateTime<Utc>>,
    pub data: String,
}

/// What a read changed about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Never listed before.
    New,
    /// Its time or its data differ from the last read.
    Changed,
    /// Listed again after it had dropped out.
    Relisted,
    /// It dropped out of a list that still covers its date.
    Unlisted,
}

/// One read of one kind of item.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<'a> {
    pub kind: &'a str,
    pub items: &'a [ListedItem],
    /// The span of time the list covers: an item of this kind within it
    /// that the list no longer names is marked unlisted. `None`: the list
    /// is not exhaustive for any span (news, events).
    pub covers: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub now: DateTime<Utc>,
}

/// The calendar_items table (and the deliveries of its items).
#[async_trait::async_trait]
pub trait CalendarTable: Send + Sync {
    /// Record a read: every listed item is inserted or updated (a first
    /// read of a kind inserts them as seeds), the ones the list no longer
    /// names within its span are marked unlisted. Returns what changed.
    async fn save_listing(
        &self,
        listing: Listing<'_>,
    ) -> Result<Vec<(CalendarItem, Change)>, StoreError>;
    async fn calendar_item(&self, id: i64) -> Result<Option<CalendarItem>, StoreError>;
    /// Items of `kind` happening at or after `from`, soonest first.
    async fn calendar_items_from(
        &self,
        kind: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<CalendarItem>, StoreError>;
    /// Items of `kind` first listed at or after `since`, not seeds.
    async fn calendar_items_new_since(
        &self,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<CalendarItem>, StoreError>;
    /// Idempotent: one delivery of `item` per (channel, slot); returns the
    /// ones this call wrote (those written before are the outbox's already).
    async fn create_item_deliveries(
        &self,
        item: &CalendarItem,
        slot: &str,
        targets: &[(i64, u64, u64)],
    ) -> Result<Vec<Delivery>, StoreError>;
    async fn deliveries_for_item(&self, item_row: i64) -> Result<Vec<Delivery>, StoreError>;
    /// Delete the items neither happening nor listed since `before` (with
    /// their deliveries); returns how many.
    async fn prune_calendar(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

const ITEM_COLS: &str = "id, key, feed, at, data, seed, first_seen, updated_at, unlisted_at";

fn item<R: Row>(r: &R) -> Result<CalendarItem, StoreError>
where
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: ColumnIndex<R>,
{
    Ok(CalendarItem {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        kind: r.try_get("feed")?,
        at: time(r.try_get("at")?),
        data: r.try_get("data")?,
        seed: r.try_get::<i64, _>("seed")? != 0,
        first_seen: time(r.try_get("first_seen")?).unwrap_or_default(),
        listed_at: time(r.try_get("updated_at")?).unwrap_or_default(),
        unlisted_at: time(r.try_get("unlisted_at")?),
    })
}

#[async_trait::async_trait]
impl<DB> CalendarTable for SqlStore<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> String: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> &'r str: Encode<'r, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'r> Option<i64>: Encode<'r, DB>,
    for<'r> Option<String>: Encode<'r, DB>,
    for<'r> Option<&'r str>: Encode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    #[tracing::instrument(skip_all, fields(kind = listing.kind, items = listing.items.len()))]
    async fn save_listing(
        &self,
        listing: Listing<'_>,
    ) -> Result<Vec<(CalendarItem, Change)>, StoreError> {
        let now = ms(listing.now);
        let mut tx = self.pool.begin().await?;
        let first_read = sqlx::query("SELECT id FROM calendar_items WHERE feed = $1 LIMIT 1")
            .bind(listing.kind)
            .fetch_optional(&mut *tx)
            .await?
            .is_none();
        let mut changes = Vec::new();
        for listed in listing.items {
            let at = listed.at.map(ms);
            let old = sqlx::query(&format!(
                "SELECT {ITEM_COLS} FROM calendar_items WHERE key = $1"
            ))
            .bind(listed.key.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(item)
            .transpose()?;
            let change = match &old {
                None => Some(Change::New),
                Some(o) if o.unlisted_at.is_some() => Some(Change::Relisted),
                Some(o) if o.at.map(ms) != at || o.data != listed.data => Some(Change::Changed),
                Some(_) => None,
            };
            let row = match old {
                None => {
                    sqlx::query(&format!(
                    "INSERT INTO calendar_items (key, feed, at, data, seed, first_seen, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ITEM_COLS}"
                ))
                    .bind(listed.key.as_str())
                    .bind(listing.kind)
                    .bind(at)
                    .bind(listed.data.as_str())
                    .bind(i64::from(first_read))
                    .bind(now)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?
                }
                Some(o) => {
                    sqlx::query(&format!(
                        "UPDATE calendar_items SET at = $1, data = $2, updated_at = $3,
                       unlisted_at = NULL WHERE id = $4 RETURNING {ITEM_COLS}"
                    ))
                    .bind(at)
                    .bind(listed.data.as_str())
                    .bind(now)
                    .bind(o.id)
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            if let Some(change) = change {
                changes.push((item(&row)?, change));
            }
        }
        if let Some((from, to)) = listing.covers {
            let rows = sqlx::query(&format!(
                "SELECT {ITEM_COLS} FROM calendar_items
                 WHERE feed = $1 AND at >= $2 AND at <= $3 AND unlisted_at IS NULL AND updated_at < $4"
            ))
            .bind(listing.kind)
            .bind(ms(from))
            .bind(ms(to))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for r in &rows {
                let mut gone = item(r)?;
                sqlx::query("UPDATE calendar_items SET unlisted_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(gone.id)
                    .execute(&mut *tx)
                    .await?;
                gone.unlisted_at = Some(listing.now);
                changes.push((gone, Change::Unlisted));
            }
        }
        tx.commit().await?;
        Ok(changes)
    }

    async fn calendar_item(&self, id: i64) -> Result<Option<CalendarItem>, StoreError> {
        Ok(self
            .select(
                &format!("SELECT {ITEM_COLS} FROM calendar_items WHERE id = $1"),
                Some(id),
                item,
            )
            .await?
            .into_iter()
            .next())
    }

    async fn calendar_items_from(
        &self,
        kind: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<CalendarItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM calendar_items WHERE feed = $1 AND at >= $2 ORDER BY at, id"
        ))
        .bind(kind)
        .bind(ms(from))
        .fetch_all(&self.pool)
        .await?;
        Ok(readable(&rows, item))
    }

    async fn calendar_items_new_since(
        &self,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<CalendarItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM calendar_items
             WHERE feed = $1 AND seed = 0 AND first_seen >= $2 ORDER BY first_seen, id"
        ))
        .bind(kind)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(readable(&rows, item))
    }

    #[tracing::instrument(skip_all, fields(item = item.id, slot, targets = targets.len()))]
    async fn create_item_deliveries(
        &self,
        item: &CalendarItem,
        slot: &str,
        targets: &[(i64, u64, u64)],
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = ms(Utc::now());
        let mut written = Vec::new();
        for (sub, guild, channel) in targets {
            let row = sqlx::query(
                "INSERT INTO deliveries (kind, item_row, slot, subscription_id, guild_id, channel_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(item.kind.as_str())
            .bind(item.id)
            .bind(slot)
            .bind(*sub)
            .bind(snow(*guild)?)
            .bind(snow(*channel)?)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                written.push(r.try_get::<i64, _>("id")?);
            }
        }
        tx.commit().await?;
        Ok(self
            .deliveries_for_item(item.id)
            .await?
            .into_iter()
            .filter(|d| written.contains(&d.id))
            .collect())
    }

    async fn deliveries_for_item(&self, item_row: i64) -> Result<Vec<Delivery>, StoreError> {
        self.select(&deliveries_where("item_row = $1"), Some(item_row), delivery)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn prune_calendar(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = ms(before);
        let old = "SELECT id FROM calendar_items WHERE updated_at < $1 AND (at IS NULL OR at < $2)";
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("DELETE FROM deliveries WHERE item_row IN ({old})"))
            .bind(cutoff)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let items = sqlx::query(
            "DELETE FROM calendar_items WHERE updated_at < $1 AND (at IS NULL OR at < $2)",
        )
        .bind(cutoff)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DB::rows_affected(&items))
    }
}
