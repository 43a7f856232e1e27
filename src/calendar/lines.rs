//! The text lines the calendar draws, shared by the fans' commands
//! (`/schedule`, `/birthdays`) and the feeds' cards. Pure.

use chrono::{DateTime, Utc};

use crate::discord::embeds;
use crate::messages::{t, Lang};
use crate::providers::jkt48_calendar::{Birthday, Show};
use crate::store::{CalendarChoice, Feed};

use super::due::{leads, DEFAULT_TODAY_HOUR};

/// JKT48's colour, for the calendar embeds.
pub const COLOUR: u32 = 0xE5_00_12;

/// Discord's absolute and relative timestamps for `at`.
pub fn when(at: DateTime<Utc>, style: char) -> (String, String) {
    let ts = at.timestamp();
    (format!("<t:{ts}:{style}>"), format!("<t:{ts}:R>"))
}

/// One show: its setlist, start (absolute and relative), members and
/// seitansai.
pub fn show_line(lang: Lang, show: &Show) -> String {
    let (abs, rel) = when(show.starts_at, 'F');
    let title = embeds::escape_markdown(&embeds::clean_text(&show.title, 80));
    let mut line = format!("🎭 **{title}** · {abs} ({rel})");
    if let Some(n) = show.member_count.filter(|n| *n > 0) {
        line.push_str(" · ");
        line.push_str(&t(lang, "schedule-members", &[("count", &n)]));
    }
    if !show.seitansai.is_empty() {
        let names: Vec<String> = show
            .seitansai
            .iter()
            .map(|m| embeds::escape_markdown(&embeds::clean_text(&m.name, 40)))
            .collect();
        line.push_str("\n  ");
        line.push_str(&t(
            lang,
            "schedule-seitansai",
            &[("names", &names.join(", "))],
        ));
    }
    line
}

/// One coming birthday (or today's).
pub fn birthday_line(lang: Lang, b: &Birthday) -> String {
    let name = embeds::escape_markdown(&embeds::clean_text(&b.name, 60));
    match (b.today, b.turns, b.next) {
        (true, Some(age), _) => t(lang, "birthdays-today", &[("name", &name), ("age", &age)]),
        (true, None, _) => t(lang, "birthdays-today-noage", &[("name", &name)]),
        (false, age, Some(next)) => {
            let (abs, rel) = when(next, 'D');
            match age {
                Some(age) => t(
                    lang,
                    "birthdays-line",
                    &[
                        ("name", &name),
                        ("age", &age),
                        ("when", &abs),
                        ("relative", &rel),
                    ],
                ),
                None => t(
                    lang,
                    "birthdays-line-noage",
                    &[("name", &name), ("when", &abs), ("relative", &rel)],
                ),
            }
        }
        (false, _, None) => name,
    }
}

/// What a calendar subscription follows, in one phrase.
pub fn describe_choice(lang: Lang, choice: &CalendarChoice) -> String {
    match choice.feed {
        Feed::Theater => {
            let leads: Vec<String> = leads(choice).iter().map(u32::to_string).collect();
            t(
                lang,
                "describe-cal-theater",
                &[("leads", &leads.join(", "))],
            )
        }
        Feed::Today => t(
            lang,
            "describe-cal-today",
            &[(
                "hour",
                &format!("{:02}:00", choice.hour.unwrap_or(DEFAULT_TODAY_HOUR)),
            )],
        ),
        Feed::Birthdays if choice.monthly => t(lang, "describe-cal-birthdays-monthly", &[]),
        Feed::Birthdays => t(lang, "describe-cal-birthdays", &[]),
        Feed::News => t(lang, "describe-cal-news", &[]),
        Feed::Events => t(lang, "describe-cal-events", &[]),
    }
}
