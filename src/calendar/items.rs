//! From the lists JKT48Connect gives to the items the calendar keeps: each
//! with a stable key, the moment it is about, and its entry as JSON. Pure.
//!
//! | kind             | key                          | at                       |
//! |------------------|------------------------------|--------------------------|
//! | `theater`        | `theater:{show id}`          | the show's start         |
//! | `today`          | `today:{YYYY-MM-DD}` (WIB)   | that day, 00:00 WIB      |
//! | `birthday`       | `birthday:{member}:{date}`   | her day, 00:00 WIB       |
//! | `birthday_month` | `birthday_month:{YYYY-MM}`   | the 1st, 00:00 WIB       |
//! | `news`           | `news:{id}`                  | its date                 |
//! | `event`          | `event:{id}`                 | its day                  |
//!
//! A delivery carries its item's kind, by which the outbox finds the
//! calendar's renderer.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::providers::jkt48_calendar::{
    wib_date, wib_midnight, Birthday, CalendarEvent, NewsItem, Show,
};
use crate::store::ListedItem;

pub const KIND_SHOW: &str = "theater";
pub const KIND_TODAY: &str = "today";
pub const KIND_BIRTHDAY: &str = "birthday";
pub const KIND_BIRTHDAY_MONTH: &str = "birthday_month";
pub const KIND_NEWS: &str = "news";
pub const KIND_EVENT: &str = "event";

/// Every kind of calendar item (the renderer claims them all).
pub const KINDS: [&str; 6] = [
    KIND_SHOW,
    KIND_TODAY,
    KIND_BIRTHDAY,
    KIND_BIRTHDAY_MONTH,
    KIND_NEWS,
    KIND_EVENT,
];

/// The shows of one WIB day (a `today` item's entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    pub shows: Vec<Show>,
}

/// The birthdays of one month (a `birthday_month` item's entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Month {
    pub year: i32,
    pub month: u32,
    pub birthdays: Vec<Birthday>,
}

fn listed<T: Serialize>(key: String, at: Option<DateTime<Utc>>, entry: &T) -> ListedItem {
    ListedItem {
        key,
        at,
        data: serde_json::to_string(entry).unwrap_or_default(),
    }
}

/// A key part from provider text: letters, digits, `-` and `_` kept, the
/// rest dropped, at most 64 characters.
fn key_part(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Each show, and each WIB day's shows.
pub fn theater(shows: &[Show]) -> (Vec<ListedItem>, Vec<ListedItem>) {
    let mut by_day: BTreeMap<NaiveDate, Vec<Show>> = BTreeMap::new();
    let mut items = Vec::with_capacity(shows.len());
    for show in shows {
        items.push(listed(
            format!("{KIND_SHOW}:{}", key_part(&show.id)),
            Some(show.starts_at),
            show,
        ));
        by_day
            .entry(wib_date(show.starts_at))
            .or_default()
            .push(show.clone());
    }
    let days = by_day
        .into_iter()
        .map(|(date, mut shows)| {
            shows.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.id.cmp(&b.id)));
            listed(
                format!("{KIND_TODAY}:{date}"),
                Some(wib_midnight(date)),
                &Day { date, shows },
            )
        })
        .collect();
    (items, days)
}

/// The span of time a theater list covers (its earliest and latest show):
/// a show within it that the list no longer names was taken off.
pub fn theater_covers(shows: &[Show]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = shows.iter().map(|s| s.starts_at).min()?;
    let last = shows.iter().map(|s| s.starts_at).max()?;
    Some((first, last))
}

/// The WIB day of a member's next (or today's) birthday.
pub fn birthday_date(b: &Birthday, now: DateTime<Utc>) -> Option<NaiveDate> {
    if b.today {
        return Some(wib_date(now));
    }
    b.next.map(wib_date)
}

/// Each member's birthday, and each month's list. The list names coming
/// birthdays only, so a month is listed only until its 1st (WIB): after it
/// its list would shrink as the days pass, and the card posted on the 1st
/// stays as it was.
pub fn birthdays(list: &[Birthday], now: DateTime<Utc>) -> (Vec<ListedItem>, Vec<ListedItem>) {
    let mut by_month: BTreeMap<(i32, u32), Vec<Birthday>> = BTreeMap::new();
    let mut items = Vec::new();
    for b in list {
        let Some(date) = birthday_date(b, now) else {
            continue;
        };
        let who = key_part(b.url_key.as_deref().unwrap_or(&b.name));
        items.push(listed(
            format!("{KIND_BIRTHDAY}:{who}:{date}"),
            Some(wib_midnight(date)),
            b,
        ));
        by_month
            .entry((date.year(), date.month()))
            .or_default()
            .push(b.clone());
    }
    let today = wib_date(now);
    let months = by_month
        .into_iter()
        .filter_map(|((year, month), mut birthdays)| {
            let first = NaiveDate::from_ymd_opt(year, month, 1).filter(|d| *d >= today)?;
            birthdays.sort_by_key(|b| (birthday_date(b, now), b.name.clone()));
            Some(listed(
                format!("{KIND_BIRTHDAY_MONTH}:{year:04}-{month:02}"),
                Some(wib_midnight(first)),
                &Month {
                    year,
                    month,
                    birthdays,
                },
            ))
        })
        .collect();
    (items, months)
}

pub fn news(list: &[NewsItem]) -> Vec<ListedItem> {
    list.iter()
        .map(|n| listed(format!("{KIND_NEWS}:{}", key_part(&n.id)), n.date, n))
        .collect()
}

pub fn events(list: &[CalendarEvent]) -> Vec<ListedItem> {
    list.iter()
        .map(|e| listed(format!("{KIND_EVENT}:{}", key_part(&e.id)), e.date, e))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(id: &str, rfc: &str) -> Show {
        Show {
            id: id.into(),
            title: "Cara Meminum Ramune".into(),
            starts_at: DateTime::parse_from_rfc3339(rfc).unwrap().into(),
            banner: None,
            poster: None,
            member_count: Some(16),
            seitansai: vec![],
        }
    }

    #[test]
    fn shows_are_kept_one_by_one_and_grouped_by_their_wib_day() {
        // 12:00Z is 19:00 WIB the same day; 18:00Z is 01:00 WIB the next.
        let shows = [
            show("2963", "2025-07-03T12:00:00Z"),
            show("2964", "2025-07-03T07:00:00Z"),
            show("2965", "2025-07-03T18:00:00Z"),
        ];
        let (items, days) = theater(&shows);
        assert_eq!(items[0].key, "theater:2963");
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].key, "today:2025-07-03");
        assert_eq!(
            days[0].at,
            Some(
                DateTime::parse_from_rfc3339("2025-07-02T17:00:00Z")
                    .unwrap()
                    .into()
            )
        );
        let day: Day = serde_json::from_str(&days[0].data).unwrap();
        assert_eq!(
            day.shows.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["2964", "2963"]
        );
        assert_eq!(days[1].key, "today:2025-07-04");
        assert_eq!(
            theater_covers(&shows).map(|(a, b)| (a.to_rfc3339(), b.to_rfc3339())),
            Some((
                "2025-07-03T07:00:00+00:00".into(),
                "2025-07-03T18:00:00+00:00".into()
            ))
        );
    }

    #[test]
    fn a_birthday_is_keyed_by_member_and_day_and_a_month_listed_until_its_first() {
        let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-08-20T18:00:00Z")
            .unwrap()
            .into();
        let erine = Birthday {
            name: "Erine".into(),
            birthdate: NaiveDate::from_ymd_opt(2007, 8, 21),
            picture: None,
            url_key: Some("erine".into()),
            turns: Some(18),
            next: Some(wib_midnight(NaiveDate::from_ymd_opt(2026, 8, 21).unwrap())),
            today: true,
        };
        let gita = Birthday {
            name: "Gita".into(),
            url_key: Some("gita".into()),
            today: false,
            next: Some(wib_midnight(NaiveDate::from_ymd_opt(2025, 9, 3).unwrap())),
            ..erine.clone()
        };
        let (items, months) = birthdays(&[erine, gita], now);
        // Today in WIB (01:00 on the 21st), whatever `next` says.
        assert_eq!(items[0].key, "birthday:erine:2025-08-21");
        assert_eq!(items[1].key, "birthday:gita:2025-09-03");
        // August's 1st has passed (its list would only shrink): September's
        // list, 1 September 00:00 WIB.
        assert_eq!(months.len(), 1, "{months:?}");
        assert_eq!(months[0].key, "birthday_month:2025-09");
        assert_eq!(
            months[0].at,
            Some(
                DateTime::parse_from_rfc3339("2025-08-31T17:00:00Z")
                    .unwrap()
                    .into()
            )
        );
    }

    #[test]
    fn provider_ids_cannot_forge_a_key() {
        assert_eq!(key_part("19:26/../x"), "1926x");
    }
}
