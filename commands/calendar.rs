//! `/schedule` (theater shows of the coming days, seitansai marked, paged
//! like `/live`) and `/birthdays` (the coming weeks), answered from the
//! calendar copy the bot keeps (`src/calendar/`): an ask reads JKT48Connect
//! only when the copy has aged, once however many ask at that moment.

use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;

use super::live::{filter_page_id, LiveFilter};
use super::Rule;
use crate::calendar::copy::{Answer, Problem};
use crate::calendar::lines::{birthday_line, show_line, when, COLOUR};
use crate::discord::embeds::{self, pager_row, Embed};
use crate::messages::{t, Lang};
use crate::providers::jkt48_calendar::{Birthday, Show};
use crate::types::{Context, Data, Error, UserError};

/// Custom-id prefix of `/schedule`'s Previous/Next buttons.
pub const PAGE_PREFIX: &str = "schedule:";
/// Shows per page.
const PER_PAGE: usize = 8;
/// A show that started this long ago is still listed (it is on now).
const STILL_ON: chrono::Duration = chrono::Duration::hours(2);
/// How far ahead `/birthdays` looks.
const BIRTHDAYS_AHEAD: chrono::Duration = chrono::Duration::days(31);
/// One rendered `/schedule` or `/birthdays` answer.
pub struct View {
    pub content: String,
    pub embeds: Vec<Embed>,
    pub components: Vec<serenity::CreateActionRow>,
}

/// An answer of text lines only.
fn text_only(lines: Vec<String>) -> View {
    View {
        content: lines.join("\n"),
        embeds: vec![],
        components: vec![],
    }
}

/// The lines under the list: how old the copy is, and why it is not fresh.
fn notes<T>(lang: Lang, answer: &Answer<T>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(read_at) = answer.read_at {
        out.push(t(
            lang,
            "calendar-as-of",
            &[("when", &when(read_at, 'R').0)],
        ));
    }
    let stale = answer.value.is_some();
    match &answer.problem {
        None => {}
        Some(Problem::BudgetSpent { until }) => out.push(t(
            lang,
            if stale {
                "calendar-stale-budget"
            } else {
                "calendar-none-budget"
            },
            &[("until", &when(*until, 'f').0)],
        )),
        Some(Problem::Provider(_)) | Some(Problem::Resting) => out.push(t(
            lang,
            if stale {
                "calendar-stale-failed"
            } else {
                "calendar-none-failed"
            },
            &[],
        )),
    }
    out
}

/// The shows still to come (or on now), soonest first.
pub fn coming_shows(shows: &[Show], now: DateTime<Utc>) -> Vec<&Show> {
    let mut coming: Vec<&Show> = shows
        .iter()
        .filter(|s| s.starts_at > now - STILL_ON)
        .collect();
    coming.sort_by_key(|s| s.starts_at);
    coming
}

/// Pure: `page` of the coming shows; `invoker` is baked into the buttons.
pub fn render_schedule(
    lang: Lang,
    answer: &Answer<Vec<Show>>,
    now: DateTime<Utc>,
    page: usize,
    invoker: u64,
) -> View {
    let notes = notes(lang, answer);
    let Some(shows) = answer.value.as_deref() else {
        return text_only(notes);
    };
    let coming = coming_shows(shows, now);
    if coming.is_empty() {
        return text_only([vec![t(lang, "schedule-none", &[])], notes].concat());
    }
    let pages = coming.len().div_ceil(PER_PAGE);
    let page = page.min(pages - 1);
    let on_page = &coming[page * PER_PAGE..coming.len().min((page + 1) * PER_PAGE)];
    let description: Vec<String> = on_page.iter().map(|s| show_line(lang, s)).collect();
    // The first seitansai show's member, or the first show's poster.
    let picture = on_page
        .iter()
        .find_map(|s| s.seitansai.first().and_then(|m| m.picture.clone()))
        .or_else(|| on_page.iter().find_map(|s| s.poster.clone()));
    let mut content = notes;
    if pages > 1 {
        content.insert(
            0,
            t(
                lang,
                "live-page",
                &[("page", &(page + 1)), ("pages", &pages)],
            ),
        );
    }
    let embed = Embed {
        title: Some(t(lang, "schedule-title", &[])),
        description: Some(embeds::clean_text(
            &description.join("\n"),
            embeds::MAX_DESCRIPTION,
        )),
        thumbnail: picture.filter(|u| u.starts_with("https://")),
        colour: Some(COLOUR),
        ..Embed::default()
    };
    let components = if pages > 1 {
        vec![pager_row(lang, page, pages, |p| page_id(p, invoker))]
    } else {
        vec![]
    };
    View {
        content: content.join("\n"),
        embeds: vec![embed],
        components,
    }
}

/// `schedule:<page>:<invoker>:-:` (a `/live` page id without a filter).
fn page_id(page: usize, invoker: u64) -> String {
    filter_page_id(PAGE_PREFIX, page, invoker, &LiveFilter::default())
}

/// The birthdays in the coming weeks (today's first), soonest first.
pub fn coming_birthdays(days: &[Birthday], now: DateTime<Utc>) -> Vec<&Birthday> {
    let mut coming: Vec<&Birthday> = days
        .iter()
        .filter(|b| {
            b.today
                || b.next
                    .is_some_and(|n| n >= now && n <= now + BIRTHDAYS_AHEAD)
        })
        .collect();
    coming.sort_by_key(|b| (!b.today, b.next));
    coming
}

/// Pure: the coming weeks' birthdays.
pub fn render_birthdays(lang: Lang, answer: &Answer<Vec<Birthday>>, now: DateTime<Utc>) -> View {
    let notes = notes(lang, answer);
    let Some(days) = answer.value.as_deref() else {
        return text_only(notes);
    };
    let coming = coming_birthdays(days, now);
    if coming.is_empty() {
        return text_only([vec![t(lang, "birthdays-none", &[])], notes].concat());
    }
    let lines: Vec<String> = coming
        .iter()
        .take(25)
        .map(|b| format!("🎂 {}", birthday_line(lang, b)))
        .collect();
    let embed = Embed {
        title: Some(t(lang, "birthdays-title", &[])),
        description: Some(embeds::clean_text(
            &lines.join("\n"),
            embeds::MAX_DESCRIPTION,
        )),
        thumbnail: coming[0]
            .picture
            .clone()
            .filter(|u| u.starts_with("https://")),
        colour: Some(COLOUR),
        ..Embed::default()
    };
    View {
        content: notes.join("\n"),
        embeds: vec![embed],
        components: vec![],
    }
}

/// The calendar, or the explanation that this bot has none.
fn calendar<'a>(ctx: Context<'a>, lang: Lang) -> Result<&'a crate::calendar::Calendar, Error> {
    ctx.data()
        .calendar
        .as_deref()
        .ok_or_else(|| UserError(t(lang, "calendar-off", &[])).into())
}

/// JKT48 theater shows of the coming days
#[poise::command(slash_command, custom_data = Rule::Anywhere)]
pub async fn schedule(ctx: Context<'_>) -> Result<(), Error> {
    let lang = super::lang(ctx);
    let cal = calendar(ctx, lang)?;
    let now = Utc::now();
    let answer = super::in_time(ctx, cal.shows(now), !super::public_here(ctx)).await?;
    let view = render_schedule(lang, &answer, now, 0, ctx.author().id.get());
    super::send_page(ctx, view.content, &view.embeds, view.components).await
}

/// JKT48 members' birthdays in the coming weeks
#[poise::command(slash_command, custom_data = Rule::Anywhere)]
pub async fn birthdays(ctx: Context<'_>) -> Result<(), Error> {
    let lang = super::lang(ctx);
    let cal = calendar(ctx, lang)?;
    let now = Utc::now();
    let answer = super::in_time(ctx, cal.birthdays(now), !super::public_here(ctx)).await?;
    let view = render_birthdays(lang, &answer, now);
    super::send_page(ctx, view.content, &view.embeds, view.components).await
}

/// A Previous/Next press on `/schedule`: re-render from the copy, only for
/// the person who ran it.
pub async fn on_page_button(
    ctx: &serenity::Context,
    data: &Data,
    component: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let Some((page, invoker, _)) =
        super::page_press(ctx, component, PAGE_PREFIX, "schedule-not-yours").await?
    else {
        return Ok(());
    };
    let lang = Lang::from_locale(&component.locale);
    let Some(cal) = data.calendar.as_deref() else {
        return super::answer_privately(ctx, component, t(lang, "calendar-off", &[])).await;
    };
    let now = Utc::now();
    let answer = cal.shows(now).await;
    let view = render_schedule(lang, &answer, now, page, invoker);
    super::turn_page(ctx, component, view.content, &view.embeds, view.components).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::providers::jkt48_calendar::SeitansaiMember;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).expect("a valid time")
    }

    fn show(id: usize, hours: i64, seitansai: &[&str]) -> Show {
        Show {
            id: id.to_string(),
            title: format!("Setlist {id}"),
            starts_at: at(hours),
            banner: None,
            poster: Some(format!("https://x/{id}.jpg")),
            member_count: Some(16),
            seitansai: seitansai
                .iter()
                .map(|n| SeitansaiMember {
                    name: n.to_string(),
                    picture: Some(format!("https://x/{n}.jpg")),
                    url_key: None,
                })
                .collect(),
        }
    }

    fn fresh<T>(value: T) -> Answer<T> {
        Answer {
            value: Some(Arc::new(value)),
            read_at: Some(at(0)),
            problem: None,
        }
    }

    #[test]
    fn the_schedule_lists_coming_shows_soonest_first_with_seitansai_named() {
        let shows = vec![
            show(3, 48, &[]),
            show(2, 24, &["Gita"]),
            show(1, -5, &[]),
            show(4, -1, &[]),
        ];
        let v = render_schedule(Lang::En, &fresh(shows), at(0), 0, 7);
        let text = v.embeds[0].description.clone().unwrap_or_default();
        let order: Vec<usize> = ["Setlist 4", "Setlist 2", "Setlist 3"]
            .iter()
            .map(|s| text.find(s).expect(s))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(!text.contains("Setlist 1"), "ended long ago: {text}");
        assert!(text.contains("seitansai: Gita"), "{text}");
        let ts = at(24).timestamp();
        assert!(text.contains(&format!("<t:{ts}:F> (<t:{ts}:R>)")), "{text}");
        assert_eq!(v.embeds[0].thumbnail.as_deref(), Some("https://x/Gita.jpg"));
        assert!(v.components.is_empty(), "one page");
    }

    #[test]
    fn a_long_schedule_is_paged_and_its_buttons_carry_the_invoker() {
        let shows: Vec<Show> = (0..20).map(|i| show(i, i as i64 + 1, &[])).collect();
        let v = render_schedule(Lang::En, &fresh(shows.clone()), at(0), 2, 42);
        assert!(v.content.contains("Page 3/3"), "{}", v.content);
        assert_eq!(v.components.len(), 1);
        let text = v.embeds[0].description.clone().unwrap_or_default();
        assert_eq!(text.lines().count(), 4, "20 shows, 8 a page: {text}");
        assert_eq!(
            crate::commands::live::parse_filter_page_id(PAGE_PREFIX, &page_id(2, 42)),
            Some((2, 42, LiveFilter::default()))
        );
    }

    #[test]
    fn a_stale_copy_says_so_and_no_copy_says_why() {
        let mut answer = fresh(vec![show(1, 5, &[])]);
        answer.problem = Some(Problem::Resting);
        let v = render_schedule(Lang::En, &answer, at(0), 0, 1);
        assert!(v.content.contains("last copy"), "{}", v.content);
        let none: Answer<Vec<Show>> = Answer {
            value: None,
            read_at: None,
            problem: Some(Problem::BudgetSpent { until: at(100) }),
        };
        let v = render_schedule(Lang::Id, &none, at(0), 0, 1);
        assert!(v.embeds.is_empty());
        let until = at(100).timestamp();
        assert!(
            v.content.contains(&format!("<t:{until}:f>")),
            "{}",
            v.content
        );
    }

    #[test]
    fn birthdays_put_today_first_then_the_coming_weeks() {
        let day = |name: &str, days: i64, today: bool| Birthday {
            name: name.into(),
            birthdate: None,
            picture: Some(format!("https://x/{name}.jpg")),
            url_key: None,
            turns: Some(20),
            next: Some(at(days * 24)),
            today,
        };
        let days = vec![
            day("Later", 40, false),
            day("Soon", 3, false),
            day("Today", 365, true),
        ];
        let v = render_birthdays(Lang::En, &fresh(days), at(0));
        let text = v.embeds[0].description.clone().unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("**Today** turns 20 today"), "{text}");
        assert!(lines[1].contains("**Soon** turns 20"), "{text}");
        assert_eq!(
            v.embeds[0].thumbnail.as_deref(),
            Some("https://x/Today.jpg")
        );
    }
}
