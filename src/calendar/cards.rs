//! The calendar's cards, as the outbox delivers them: a delivery is one
//! calendar item's post in one channel (a show's reminder at one lead, the
//! day's shows, a birthday, the month's birthdays, a news item, an event),
//! drawn from the item as the store has it now. A show that moved or was
//! renamed is drawn anew (the feeds queue an edit); one that dropped out of
//! its list is closed as "no longer listed". Bodies are pure ([`draw`]).

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use poise::serenity_prelude as serenity;
use serde_json::Value;

use super::due;
use super::items::{
    Day, Month, KIND_BIRTHDAY, KIND_BIRTHDAY_MONTH, KIND_EVENT, KIND_NEWS, KIND_SHOW, KIND_TODAY,
};
use super::lines::{show_line, when, COLOUR};
use crate::announce::message::{allowed_mentions, marked_as_test, sub_lang};
use crate::discord::embeds::{self, clean_text, escape_markdown, Embed, MAX_CONTENT};
use crate::messages::{t, Lang};
use crate::outbox::{Card, Content, Sender};
use crate::providers::jkt48_calendar::{wib_date, Birthday, CalendarEvent, NewsItem, Show};
use crate::store::{CalendarChoice, CalendarItem, Delivery, Feed, Store, StoreError, Subscription};

/// Seitansai members pictured on a reminder (one small embed each).
const MAX_PICTURED: usize = 4;
/// Discord's limit on a thread's name.
const MAX_THREAD_NAME: usize = 100;

pub struct CalendarCards {
    pub store: Arc<dyn Store>,
}

/// A card's text before it becomes a body: the content line (without the
/// role's mention), its embeds, and a short title (the thread's name).
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub content: String,
    pub embeds: Vec<Embed>,
    pub title: String,
}

/// The mark a calendar card carries in its first embed's footer (how the
/// outbox finds its own post after Discord's nonce window): the item and
/// the slot, unique per channel.
pub fn marker(item: &CalendarItem, slot: &str) -> String {
    match slot {
        "" => format!("onair · {} #{}", item.kind, item.id),
        slot => format!("onair · {} #{}·{slot}", item.kind, item.id),
    }
}

#[async_trait::async_trait]
impl Content for CalendarCards {
    async fn card(
        &self,
        delivery: &Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Option<Card>, StoreError> {
        let Some(row) = delivery.item_row else {
            return Ok(None);
        };
        let Some(item) = self.store.calendar_item(row).await? else {
            return Ok(None);
        };
        let lang = sub.map(sub_lang).unwrap_or_default();
        let seitansai = match item.kind.as_str() {
            KIND_BIRTHDAY => self.seitansai_show(&item).await?,
            _ => None,
        };
        let Some(drawn) = draw(lang, &item, seitansai.as_ref()) else {
            tracing::error!(item = item.id, kind = %item.kind, "a calendar item could not be read; not posted");
            return Ok(None);
        };
        let role = sub.and_then(|s| s.role_id);
        let until = due::post_until(&item);
        Ok(Some(Card {
            marker: marker(&item, &delivery.slot),
            ended_at: item.unlisted_at,
            post: sub.map(|_| body(&drawn, role, Shape::Post)),
            close: item
                .unlisted_at
                .map(|_| body(&unlisted(lang, &drawn), role, Shape::Edit)),
            current: sub.map(|_| body(&drawn, role, Shape::Edit)),
            sender: Sender {
                name: "JKT48".into(),
                avatar_url: None,
            },
            thread_name: clean_text(&drawn.title, MAX_THREAD_NAME),
            // Taken off its list before it went out: not posted at all.
            post_until: match (until, item.unlisted_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }))
    }

    async fn ended(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let Some(row) = delivery.item_row else {
            return Ok(false);
        };
        Ok(self
            .store
            .calendar_item(row)
            .await?
            .is_some_and(|i| i.unlisted_at.is_some()))
    }
}

impl CalendarCards {
    /// The seitansai show of a birthday's day, when the theater list has
    /// one naming her.
    async fn seitansai_show(&self, item: &CalendarItem) -> Result<Option<Show>, StoreError> {
        let (Some(day), Ok(b)) = (item.at, serde_json::from_str::<Birthday>(&item.data)) else {
            return Ok(None);
        };
        let shows = self.store.calendar_items_from(KIND_SHOW, day).await?;
        Ok(shows
            .iter()
            .take_while(|s| s.at.is_some_and(|at| wib_date(at) == wib_date(day)))
            .filter_map(|s| serde_json::from_str::<Show>(&s.data).ok())
            .find(|s| s.seitansai.iter().any(|m| same_member(m, &b))))
    }
}

fn same_member(m: &crate::providers::jkt48_calendar::SeitansaiMember, b: &Birthday) -> bool {
    match (&m.url_key, &b.url_key) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => {
            let first = |s: &str| s.split_whitespace().next().unwrap_or("").to_lowercase();
            !b.name.is_empty() && first(&m.name) == first(&b.name)
        }
    }
}

/// What a body is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A post: pings the subscription's role (explicitly, and only it).
    Post,
    /// An edit: pings no one.
    Edit,
    /// `/subscription test`'s sample: a post that shows the role's
    /// mention and pings no one.
    Sample,
}

/// The message body of `drawn`, the role's mention first.
pub fn body(drawn: &Drawn, role: Option<u64>, shape: Shape) -> Value {
    let content = match role {
        Some(r) => format!("<@&{r}> {}", drawn.content),
        None => drawn.content.clone(),
    };
    let content = crate::text::truncate_chars(&content, MAX_CONTENT);
    let embeds: Vec<serenity::CreateEmbed> = drawn.embeds.iter().map(Embed::to_create).collect();
    let value = match shape {
        Shape::Post | Shape::Sample => serde_json::to_value(
            serenity::CreateMessage::new()
                .content(content)
                .embeds(embeds)
                .allowed_mentions(allowed_mentions(match shape {
                    Shape::Post => role,
                    _ => None,
                })),
        ),
        Shape::Edit => serde_json::to_value(
            serenity::EditMessage::new()
                .content(content)
                .embeds(embeds)
                .allowed_mentions(allowed_mentions(None)),
        ),
    };
    value.unwrap_or(Value::Null)
}

/// A sample card of the feed `choice` follows, for `/subscription test`:
/// made-up data drawn as the real card is.
pub fn sample(lang: Lang, choice: &CalendarChoice, now: DateTime<Utc>) -> Drawn {
    let lead = super::due::leads(choice).first().copied().unwrap_or(15);
    let show = Show {
        id: "sample".into(),
        title: "Cara Meminum Ramune".into(),
        starts_at: now + chrono::Duration::minutes(i64::from(lead)),
        banner: None,
        poster: None,
        member_count: Some(16),
        seitansai: vec![crate::providers::jkt48_calendar::SeitansaiMember {
            name: "Gita Sekar Andarini".into(),
            picture: None,
            url_key: Some("gita".into()),
        }],
    };
    let birthday_of = Birthday {
        name: "Gita Sekar Andarini".into(),
        birthdate: None,
        picture: None,
        url_key: Some("gita".into()),
        turns: Some(24),
        next: Some(now),
        today: true,
    };
    match choice.feed {
        Feed::Theater => reminder(lang, &show),
        Feed::Today => today(
            lang,
            &Day {
                date: wib_date(now),
                shows: vec![show],
            },
        ),
        Feed::Birthdays => birthday(lang, &birthday_of, Some(&show)),
        Feed::News => news(
            lang,
            &NewsItem {
                id: "1926".into(),
                title: "Pengumuman".into(),
                date: Some(now),
                category: Some(2),
            },
        ),
        Feed::Events => event(
            lang,
            &CalendarEvent {
                id: "sample".into(),
                title: "JKT48 Event".into(),
                date: Some(now),
                url: None,
                category: Some(2),
            },
        ),
    }
}

/// The card of an item taken off its list: the same card, struck through
/// and saying so.
fn unlisted(lang: Lang, drawn: &Drawn) -> Drawn {
    let mut out = drawn.clone();
    out.content = t(
        lang,
        "cal-unlisted",
        &[("title", &escape_markdown(&drawn.title))],
    );
    if let Some(first) = out.embeds.first_mut() {
        first.title = first.title.as_ref().map(|title| format!("~~{title}~~"));
        first.description = Some(t(lang, "cal-unlisted-note", &[]));
    }
    out.embeds.truncate(1);
    out
}

fn https(url: &Option<String>) -> Option<String> {
    url.clone().filter(|u| u.starts_with("https://"))
}

/// Draw `item`'s card in `lang` (`seitansai`: a birthday's show). `None`
/// when its entry cannot be read.
pub fn draw(lang: Lang, item: &CalendarItem, seitansai: Option<&Show>) -> Option<Drawn> {
    match item.kind.as_str() {
        KIND_SHOW => serde_json::from_str::<Show>(&item.data)
            .ok()
            .map(|s| reminder(lang, &s)),
        KIND_TODAY => serde_json::from_str::<Day>(&item.data)
            .ok()
            .map(|d| today(lang, &d)),
        KIND_BIRTHDAY => serde_json::from_str::<Birthday>(&item.data)
            .ok()
            .map(|b| birthday(lang, &b, seitansai)),
        KIND_BIRTHDAY_MONTH => serde_json::from_str::<Month>(&item.data)
            .ok()
            .map(|m| month(lang, &m)),
        KIND_NEWS => serde_json::from_str::<NewsItem>(&item.data)
            .ok()
            .map(|n| news(lang, &n)),
        KIND_EVENT => serde_json::from_str::<CalendarEvent>(&item.data)
            .ok()
            .map(|e| event(lang, &e)),
        _ => None,
    }
}

fn name(s: &str, max: usize) -> String {
    escape_markdown(&clean_text(s, max))
}

/// A show's reminder: setlist, start (absolute and relative), members,
/// its poster (or banner), and each seitansai member named and pictured.
pub fn reminder(lang: Lang, show: &Show) -> Drawn {
    let title = name(&show.title, 200);
    let (abs, rel) = when(show.starts_at, 'F');
    let content = t(
        lang,
        "cal-reminder",
        &[
            ("title", &title),
            ("relative", &rel),
            ("time", &when(show.starts_at, 't').0),
        ],
    );
    let mut lines = vec![t(lang, "cal-starts", &[("when", &abs), ("relative", &rel)])];
    if let Some(n) = show.member_count.filter(|n| *n > 0) {
        lines.push(t(lang, "schedule-members", &[("count", &n)]));
    }
    let seitansai: Vec<String> = show.seitansai.iter().map(|m| name(&m.name, 60)).collect();
    if !seitansai.is_empty() {
        lines.push(t(
            lang,
            "schedule-seitansai",
            &[("names", &seitansai.join(", "))],
        ));
    }
    let mut out = vec![Embed {
        title: Some(format!("🎭 {title}")),
        description: Some(lines.join("\n")),
        image: https(&show.poster).or_else(|| https(&show.banner)),
        colour: Some(COLOUR),
        timestamp: Some(show.starts_at),
        ..Embed::default()
    }];
    for m in show.seitansai.iter().take(MAX_PICTURED) {
        out.push(Embed {
            title: Some(format!("🎂 {}", name(&m.name, 60))),
            description: Some(t(lang, "cal-seitansai-member", &[])),
            thumbnail: https(&m.picture),
            colour: Some(COLOUR),
            ..Embed::default()
        });
    }
    Drawn {
        content,
        embeds: out,
        title: clean_text(&show.title, 80),
    }
}

/// The day's shows.
pub fn today(lang: Lang, day: &Day) -> Drawn {
    let date = day.date.format("%Y-%m-%d").to_string();
    let description = if day.shows.is_empty() {
        t(lang, "schedule-none", &[])
    } else {
        day.shows
            .iter()
            .map(|s| show_line(lang, s))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let picture = day
        .shows
        .iter()
        .find_map(|s| s.seitansai.first().and_then(|m| https(&m.picture)))
        .or_else(|| day.shows.iter().find_map(|s| https(&s.poster)));
    Drawn {
        content: t(lang, "cal-today", &[("count", &day.shows.len())]),
        embeds: vec![Embed {
            title: Some(t(lang, "cal-today-title", &[("date", &date)])),
            description: Some(clean_text(&description, embeds::MAX_DESCRIPTION)),
            thumbnail: picture,
            colour: Some(COLOUR),
            ..Embed::default()
        }],
        title: t(lang, "cal-today-title", &[("date", &date)]),
    }
}

/// A member's birthday: the age she turns, her picture, her seitansai
/// show when one is known.
pub fn birthday(lang: Lang, b: &Birthday, seitansai: Option<&Show>) -> Drawn {
    let who = name(&b.name, 60);
    let content = match b.turns {
        Some(age) => t(lang, "cal-birthday", &[("name", &who), ("age", &age)]),
        None => t(lang, "cal-birthday-noage", &[("name", &who)]),
    };
    let mut lines = Vec::new();
    if let Some(show) = seitansai {
        let (abs, rel) = when(show.starts_at, 'F');
        lines.push(t(
            lang,
            "cal-birthday-seitansai",
            &[
                ("title", &name(&show.title, 100)),
                ("when", &abs),
                ("relative", &rel),
            ],
        ));
    }
    Drawn {
        content: content.clone(),
        embeds: vec![Embed {
            title: Some(format!("🎂 {who}")),
            description: Some(if lines.is_empty() {
                content
            } else {
                lines.join("\n")
            }),
            image: https(&b.picture),
            colour: Some(COLOUR),
            ..Embed::default()
        }],
        title: format!("🎂 {}", clean_text(&b.name, 60)),
    }
}

/// The month's birthdays, on the 1st.
pub fn month(lang: Lang, m: &Month) -> Drawn {
    let label = format!("{:04}-{:02}", m.year, m.month);
    let lines: Vec<String> = m
        .birthdays
        .iter()
        .take(40)
        .map(|b| {
            let day = b
                .next
                .map(|n| wib_date(n).day().to_string())
                .unwrap_or_default();
            let who = name(&b.name, 60);
            match b.turns {
                Some(age) => t(
                    lang,
                    "cal-month-line",
                    &[("day", &day), ("name", &who), ("age", &age)],
                ),
                None => t(
                    lang,
                    "cal-month-line-noage",
                    &[("day", &day), ("name", &who)],
                ),
            }
        })
        .collect();
    Drawn {
        content: t(lang, "cal-month", &[("month", &label)]),
        embeds: vec![Embed {
            title: Some(t(lang, "cal-month-title", &[("month", &label)])),
            description: Some(clean_text(&lines.join("\n"), embeds::MAX_DESCRIPTION)),
            thumbnail: m.birthdays.first().and_then(|b| https(&b.picture)),
            colour: Some(COLOUR),
            ..Embed::default()
        }],
        title: t(lang, "cal-month-title", &[("month", &label)]),
    }
}

/// The category icon jkt48.com shows beside an item.
fn category_icon(category: Option<u32>) -> Option<String> {
    category.map(|n| format!("https://jkt48.com/images/icon.cat{n}.png"))
}

fn dated(lang: Lang, date: Option<DateTime<Utc>>, category: Option<u32>) -> String {
    let mut parts = Vec::new();
    if let Some(d) = date {
        parts.push(when(d, 'D').0);
    }
    if let Some(n) = category {
        parts.push(t(lang, "cal-category", &[("number", &n)]));
    }
    parts.join(" · ")
}

/// A news item: title, date, category, a link to the official page.
pub fn news(lang: Lang, n: &NewsItem) -> Drawn {
    let title = clean_text(&n.title, embeds::MAX_TITLE);
    Drawn {
        content: t(lang, "cal-news", &[("title", &escape_markdown(&title))]),
        embeds: vec![Embed {
            title: Some(title.clone()),
            url: Some(n.url()),
            description: Some(dated(lang, n.date, n.category)),
            thumbnail: category_icon(n.category),
            colour: Some(COLOUR),
            ..Embed::default()
        }],
        title,
    }
}

/// An event: title, day, category, its page.
pub fn event(lang: Lang, e: &CalendarEvent) -> Drawn {
    let title = clean_text(&e.title, embeds::MAX_TITLE);
    Drawn {
        content: t(lang, "cal-event", &[("title", &escape_markdown(&title))]),
        embeds: vec![Embed {
            title: Some(title.clone()),
            url: https(&e.url),
            description: Some(dated(lang, e.date, e.category)),
            thumbnail: category_icon(e.category),
            colour: Some(COLOUR),
            ..Embed::default()
        }],
        title,
    }
}

/// `/subscription test` for a calendar subscription: a sample card of its
/// feed in its language, marked as a test, the role's mention shown and
/// no one pinged.
pub fn test_body(lang: Lang, sub: &Subscription, choice: &CalendarChoice) -> Value {
    let mut drawn = sample(sub_lang(sub), choice, chrono::Utc::now());
    drawn.content = marked_as_test(lang, &drawn.content);
    body(&drawn, sub.role_id, Shape::Sample)
}
