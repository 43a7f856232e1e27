//! JKT48Connect's calendar: theater shows (with their seitansai members),
//! members' birthdays, official news and events, as the client in
//! `jkt48connect.rs` reads them (same base URL, key and error shape as the
//! live endpoints; every call is billed from the same monthly allowance, so
//! callers spend a budget turn before each).
//!
//! `GET {base}/api/jkt48/theater?page=&perpage=`, `/api/jkt48/birthday`,
//! `/api/jkt48/news?page=&perpage=`, `/api/jkt48/events`. Dates are UTC
//! (ISO 8601) except a birthday's `next_birthday`, which is Jakarta time
//! (WIB, UTC+7, no daylight saving) written without an offset. Entries are
//! read leniently: a malformed one is skipped and logged, the rest kept.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::error::ProviderError;
use super::lenient;
use super::name::ProviderName;
use super::request::error_message;

const PROVIDER: ProviderName = ProviderName::Jkt48Connect;

/// Jakarta time: JKT48's day boundary.
pub fn wib() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

/// A Jakarta wall-clock time, as an instant (WIB has no daylight saving:
/// every local time is one instant).
pub fn wib_instant(local: NaiveDateTime) -> DateTime<Utc> {
    wib()
        .from_local_datetime(&local)
        .single()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// 00:00 WIB of `date`, as an instant.
pub fn wib_midnight(date: NaiveDate) -> DateTime<Utc> {
    wib_instant(date.and_time(chrono::NaiveTime::MIN))
}

/// The WIB day `at` falls on.
pub fn wib_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&wib()).date_naive()
}

/// A member whose birthday show (seitansai) a theater show is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeitansaiMember {
    pub name: String,
    pub picture: Option<String>,
    pub url_key: Option<String>,
}

/// One theater show.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Show {
    /// The show's id (a string at JKT48Connect).
    pub id: String,
    /// The setlist: the show's name.
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub banner: Option<String>,
    pub poster: Option<String>,
    pub member_count: Option<u64>,
    pub seitansai: Vec<SeitansaiMember>,
}

/// A member's coming birthday.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Birthday {
    pub name: String,
    pub birthdate: Option<NaiveDate>,
    pub picture: Option<String>,
    pub url_key: Option<String>,
    /// The age she turns.
    pub turns: Option<u64>,
    /// 00:00 WIB of her next birthday, as an instant.
    pub next: Option<DateTime<Utc>>,
    /// Today (WIB) is her birthday.
    pub today: bool,
}

/// One official news article.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewsItem {
    pub id: String,
    pub title: String,
    pub date: Option<DateTime<Utc>>,
    /// The category number of its icon (`/images/icon.catN.png`).
    pub category: Option<u32>,
}

impl NewsItem {
    /// The article's official page.
    pub fn url(&self) -> String {
        format!("https://jkt48.com/news/detail/id/{}?lang=id", self.id)
    }
}

/// One upcoming event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CalendarEvent {
    pub id: String,
    pub title: String,
    /// The event's day, 00:00 WIB, as an instant.
    pub date: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub category: Option<u32>,
}

/// The shows of a `/theater` answer.
pub fn parse_theater(body: &Value) -> Result<Vec<Show>, ProviderError> {
    let list = list_in(body, "theater", "a list of theater shows")?;
    Ok(keep_good(list, "theater show", show))
}

/// The members of a `/birthday` answer.
pub fn parse_birthdays(body: &Value) -> Result<Vec<Birthday>, ProviderError> {
    let list = list_in(body, "birthday", "a list of birthdays")?;
    Ok(keep_good(list, "birthday", birthday))
}

/// The articles of a `/news` answer.
pub fn parse_news(body: &Value) -> Result<Vec<NewsItem>, ProviderError> {
    let list = list_in(body, "news", "a list of news")?;
    Ok(keep_good(list, "news item", news_item))
}

/// The events of an `/events` answer.
pub fn parse_events(body: &Value) -> Result<Vec<CalendarEvent>, ProviderError> {
    let list = list_in(body, "events", "a list of events")?;
    Ok(keep_good(list, "event", event))
}

/// The list itself (a bare array, or under `key` or `data`), or why not.
fn list_in<'a>(body: &'a Value, key: &str, what: &str) -> Result<&'a [Value], ProviderError> {
    if let Some(list) = body.as_array() {
        return Ok(list);
    }
    for k in [key, "data"] {
        if let Some(Value::Array(list)) = body.get(k) {
            return Ok(list);
        }
    }
    if let Some(message) = error_message(body).filter(|_| body.is_object()) {
        return Err(ProviderError::Api {
            provider: PROVIDER,
            message,
        });
    }
    Err(ProviderError::Shape {
        provider: PROVIDER,
        detail: format!("expected {what}"),
    })
}

/// Every entry `read` accepts; the others are logged and skipped.
fn keep_good<T>(list: &[Value], what: &str, read: fn(&Value) -> Result<T, String>) -> Vec<T> {
    list.iter()
        .enumerate()
        .filter_map(|(index, entry)| match read(entry) {
            Ok(v) => Some(v),
            Err(reason) => {
                tracing::warn!(provider = %PROVIDER, index, %reason, "skipping malformed {what}");
                None
            }
        })
        .collect()
}

fn show(v: &Value) -> Result<Show, String> {
    let id = lenient::id(v.get("id")).ok_or("no id")?;
    let title = lenient::text(v.get("title")).ok_or("no title")?;
    let starts_at = lenient::time(v.get("date")).ok_or("no start date")?;
    let seitansai = match v.get("seitansai") {
        Some(Value::Array(members)) => members
            .iter()
            .filter_map(|m| {
                Some(SeitansaiMember {
                    name: lenient::text(m.get("name"))?,
                    picture: lenient::text(m.get("img")),
                    url_key: lenient::text(m.get("url_key")),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Show {
        id,
        title,
        starts_at,
        banner: lenient::text(v.get("banner")),
        poster: lenient::text(v.get("poster")),
        member_count: lenient::u64(v.get("member_count")),
        seitansai,
    })
}

fn birthday(v: &Value) -> Result<Birthday, String> {
    let name = lenient::text(v.get("name")).ok_or("no name")?;
    let birthdate = lenient::text(v.get("birthdate"))
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let next = lenient::text(v.get("next_birthday")).and_then(|t| wib_time(&t));
    if birthdate.is_none() && next.is_none() {
        return Err("neither a birthdate nor a next birthday".into());
    }
    Ok(Birthday {
        name,
        birthdate,
        picture: lenient::text(v.get("img")),
        url_key: lenient::text(v.get("url_key")),
        turns: lenient::u64(v.get("age_after_birthday")),
        next,
        today: lenient::bool(v.get("is_birthday_today")).unwrap_or(false),
    })
}

fn news_item(v: &Value) -> Result<NewsItem, String> {
    Ok(NewsItem {
        id: lenient::id(v.get("id")).ok_or("no id")?,
        title: lenient::text(v.get("title")).ok_or("no title")?,
        date: lenient::time(v.get("date")),
        category: lenient::text(v.get("label")).and_then(|l| category(&l)),
    })
}

fn event(v: &Value) -> Result<CalendarEvent, String> {
    Ok(CalendarEvent {
        id: lenient::id(v.get("id")).ok_or("no id")?,
        title: lenient::text(v.get("title")).ok_or("no title")?,
        date: lenient::time(v.get("date")),
        url: lenient::text(v.get("url")).filter(|u| u.starts_with("https://")),
        category: lenient::text(v.get("label")).and_then(|l| category(&l)),
    })
}

/// `2025-08-21 00:00:00` (or with a `T`) in WIB, as an instant.
fn wib_time(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some(wib_instant(local))
}

/// The N of a category icon path (`…/icon.catN.png`).
fn category(label: &str) -> Option<u32> {
    let name = label.rsplit('/').next()?;
    name.strip_prefix("icon.cat")?
        .strip_suffix(".png")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    #[test]
    fn a_theater_page_reads_shows_with_their_seitansai_and_skips_a_malformed_one() {
        let body = json!({
            "author": "x",
            "theater": [
                {"id": "2963", "title": "Cara Meminum Ramune",
                 "banner": "https://res.cloudinary.com/b.png", "poster": "https://res.cloudinary.com/p.jpg",
                 "member_count": 16,
                 "seitansai": [{"id": 190, "name": "Gita Sekar Andarini", "img": "https://x/gita.jpg", "url_key": "gita"},
                               {"id": 191, "name": ""}],
                 "url": "2963", "date": "2025-07-03T12:00:00.000Z"},
                {"id": "2964", "title": "", "date": "2025-07-04T12:00:00.000Z"},
                {"id": 2965, "title": "Aturan Anti Cinta", "seitansai": [], "date": "2025-07-05T07:00:00.000Z",
                 "member_count": "16", "banner": ""}
            ],
            "page": 1, "perpage": 10, "total_count": 2992
        });
        let shows = parse_theater(&body).unwrap();
        assert_eq!(shows.len(), 2, "the untitled show is skipped");
        assert_eq!(shows[0].id, "2963");
        assert_eq!(shows[0].starts_at, at("2025-07-03T19:00:00+07:00"));
        assert_eq!(shows[0].member_count, Some(16));
        assert_eq!(
            shows[0].seitansai,
            [SeitansaiMember {
                name: "Gita Sekar Andarini".into(),
                picture: Some("https://x/gita.jpg".into()),
                url_key: Some("gita".into()),
            }],
            "a seitansai entry without a name is left out"
        );
        assert_eq!(shows[1].id, "2965");
        assert_eq!(shows[1].banner, None);
        assert!(shows[1].seitansai.is_empty());
    }

    #[test]
    fn a_birthday_is_read_in_jakarta_time() {
        let body = json!([
            {"name": "Erine", "birthdate": "2007-08-21", "img": "https://x/erine.jpg",
             "room_id": 510000, "url_key": "erine", "current_age": 17, "age_after_birthday": 18,
             "next_birthday": "2025-08-21 00:00:00", "is_birthday_today": false,
             "time_zone": "GMT+7 (Indonesia)"},
            {"name": "Gita", "birthdate": "2001-06-30", "next_birthday": "", "is_birthday_today": "true"},
            {"name": "Nobody"}
        ]);
        let days = parse_birthdays(&body).unwrap();
        assert_eq!(days.len(), 2, "an entry with no date at all is skipped");
        assert_eq!(days[0].next, Some(at("2025-08-20T17:00:00Z")));
        assert_eq!(days[0].turns, Some(18));
        assert_eq!(days[0].birthdate, NaiveDate::from_ymd_opt(2007, 8, 21));
        assert!(!days[0].today);
        assert!(days[1].today);
        assert_eq!(days[1].next, None);
    }

    #[test]
    fn news_link_to_their_official_page_and_events_keep_only_https_links() {
        let news = parse_news(&json!({"news": [
            {"_id": "685e", "id": "1926", "date": "2025-06-26T17:00:00.000Z",
             "label": "/images/icon.cat2.png", "title": "Pengumuman"},
            {"id": "", "title": "no id"}
        ]}))
        .unwrap();
        assert_eq!(news.len(), 1);
        assert_eq!(
            news[0].url(),
            "https://jkt48.com/news/detail/id/1926?lang=id"
        );
        assert_eq!(news[0].category, Some(2));
        let events = parse_events(&json!([
            {"id": "20250704-fest", "date": "2025-07-03T17:00:00.000Z",
             "label": "https://jkt48.com/images/icon.cat2.png", "title": "Fest",
             "url": "https://jkt48.com/calendar/list/y/2025/m/7/d/4?lang=id"},
            {"id": "x", "title": "Odd", "url": "javascript:alert(1)"}
        ]))
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].date, Some(at("2025-07-04T00:00:00+07:00")));
        assert_eq!(events[0].category, Some(2));
        assert_eq!(events[1].url, None, "only https links are kept");
    }

    #[test]
    fn an_empty_result_is_no_error_and_a_bad_key_is_the_providers_message() {
        assert!(parse_news(&json!({"news": []})).unwrap().is_empty());
        assert!(parse_events(&json!([])).unwrap().is_empty());
        let err = parse_theater(&json!({"status": false, "message": "Invalid API Key"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Invalid API Key"), "{err}");
        let err = parse_birthdays(&json!({"something": 1})).unwrap_err();
        assert!(matches!(err, ProviderError::Shape { .. }), "{err}");
    }
}
