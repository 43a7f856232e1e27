//! `/recent [member] [platform]`: the lives that ended lately (member,
//! platform, when, how long, peak viewers), from the store, so it survives
//! restarts; paged like `/live`, with buttons only the invoker can press.

use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;

use super::live::{filter_page_id, LiveFilter, PlatformChoice};
use super::Rule;
use crate::announce::card::Recap;
use crate::discord::embeds::{self, clean_text, escape_markdown, pager_row, Embed};
use crate::live::{LiveStream, Platform};
use crate::messages::{compact_count, human_duration, t, Lang};
use crate::store::StoredStream;
use crate::types::{Context, Data, Error};

/// Custom-id prefix of the Previous/Next buttons.
pub const PAGE_PREFIX: &str = "recent:";
/// Lives per page.
pub const PER_PAGE: usize = 10;
/// How many ended lives are read from the store (the newest).
pub const LOOK_BACK: u32 = 250;

/// One live that ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    pub stream: LiveStream,
    pub ended_at: DateTime<Utc>,
    pub peak_viewers: Option<u64>,
}

impl Ended {
    pub fn of(stored: &StoredStream) -> Option<Ended> {
        Some(Ended {
            stream: stored.stream.clone(),
            ended_at: stored.ended_at?,
            peak_viewers: Recap::of(stored).peak_viewers,
        })
    }
}

/// One rendered page of the `/recent` answer.
pub struct RecentView {
    pub content: String,
    pub embeds: Vec<Embed>,
    pub components: Vec<serenity::CreateActionRow>,
    pub page: usize,
    pub pages: usize,
}

/// "**Fritzy** · IDN Live · ended 5 minutes ago · 1 h 12 min · peak 5.4k"
pub fn line(lang: Lang, e: &Ended) -> String {
    let name = escape_markdown(&clean_text(&e.stream.name, 100));
    let lasted = e
        .stream
        .started_at
        .and_then(|s| (e.ended_at - s).to_std().ok())
        .map_or_else(|| "—".to_string(), |d| human_duration(lang, d));
    let peak = e
        .peak_viewers
        .map_or_else(|| "—".to_string(), |v| compact_count(lang, v));
    t(
        lang,
        "recent-line",
        &[
            ("name", &name),
            ("platform", &e.stream.platform.display_name()),
            ("when", &format!("<t:{}:R>", e.ended_at.timestamp())),
            ("duration", &lasted),
            ("peak", &peak),
        ],
    )
}

/// Pure: `page` of the ended lives matching `filter` (newest first).
pub fn render(
    lang: Lang,
    all: &[Ended],
    filter: &LiveFilter,
    page: usize,
    invoker: u64,
) -> RecentView {
    let matching: Vec<&Ended> = all.iter().filter(|e| filter.matches(&e.stream)).collect();
    if matching.is_empty() {
        let content = if filter == &LiveFilter::default() {
            t(lang, "recent-none", &[])
        } else {
            t(
                lang,
                "recent-none-filtered",
                &[("filter", &filter.describe(lang))],
            )
        };
        return RecentView {
            content,
            embeds: vec![],
            components: vec![],
            page: 0,
            pages: 0,
        };
    }
    let pages = matching.len().div_ceil(PER_PAGE);
    let page = page.min(pages - 1);
    let lines: Vec<String> = matching
        .iter()
        .skip(page * PER_PAGE)
        .take(PER_PAGE)
        .map(|e| line(lang, e))
        .collect();
    let embed = Embed {
        title: Some(t(lang, "recent-title", &[])),
        description: Some(clean_text(&lines.join("\n"), embeds::MAX_DESCRIPTION)),
        colour: Some(0x4F_54_5C),
        ..Embed::default()
    };
    let mut content = String::new();
    let mut components = Vec::new();
    if pages > 1 {
        content = t(
            lang,
            "live-page",
            &[("page", &(page + 1)), ("pages", &pages)],
        );
        components.push(pager_row(lang, page, pages, |p| {
            filter_page_id(PAGE_PREFIX, p, invoker, filter)
        }));
    }
    RecentView {
        content,
        embeds: vec![embed],
        components,
        page,
        pages,
    }
}

/// The ended lives, newest first, from the store.
async fn ended(data: &Data) -> Result<Vec<Ended>, Error> {
    Ok(data
        .store
        .recent_streams(LOOK_BACK)
        .await?
        .iter()
        .filter_map(Ended::of)
        .collect())
}

async fn autocomplete_member(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let names = ended(ctx.data())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.stream.name);
    super::name_choices(names, partial)
}

/// The lives that ended lately
#[poise::command(slash_command, custom_data = Rule::Anywhere)]
pub async fn recent(
    ctx: Context<'_>,
    #[description = "Only this member"]
    #[autocomplete = "autocomplete_member"]
    #[max_length = 100]
    member: Option<String>,
    #[description = "Only this platform"] platform: Option<PlatformChoice>,
) -> Result<(), Error> {
    let filter = LiveFilter {
        platform: platform.map(Platform::from),
        member: member
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty()),
    };
    let lang = super::lang(ctx);
    let view = render(
        lang,
        &ended(ctx.data()).await?,
        &filter,
        0,
        ctx.author().id.get(),
    );
    super::send_page(ctx, view.content, &view.embeds, view.components).await
}

/// A Previous/Next press: re-read and re-render, only for the person who
/// ran `/recent`.
pub async fn on_page_button(
    ctx: &serenity::Context,
    data: &Data,
    component: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let Some((page, invoker, filter)) =
        super::page_press(ctx, component, PAGE_PREFIX, "recent-not-yours").await?
    else {
        return Ok(());
    };
    let lang = Lang::from_locale(&component.locale);
    let view = render(lang, &ended(data).await?, &filter, page, invoker);
    super::turn_page(ctx, component, view.content, &view.embeds, view.components).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(i: i64, p: Platform, peak: Option<u64>) -> Ended {
        let mut s = LiveStream::new(p, format!("room{i}"), format!("Member {i}"));
        s.started_at = DateTime::from_timestamp(1_700_000_000 + i * 10_000, 0);
        Ended {
            ended_at: DateTime::from_timestamp(1_700_000_000 + i * 10_000 + 4_320, 0).unwrap(),
            stream: s,
            peak_viewers: peak,
        }
    }

    #[test]
    fn a_line_says_who_where_when_how_long_and_the_peak() {
        let e = ended(1, Platform::Idn, Some(5_400));
        assert_eq!(
            line(Lang::En, &e),
            "**Member 1** · IDN Live · ended <t:1700014320:R> · 1 h 12 min · peak 5.4k"
        );
        let mut unknown = ended(2, Platform::Showroom, None);
        unknown.stream.started_at = None;
        unknown.stream.name = "*bold*".into();
        assert_eq!(
            line(Lang::En, &unknown),
            "**\\*bold\\*** · Showroom · ended <t:1700024320:R> · — · peak —"
        );
    }

    #[test]
    fn pages_of_ten_filtered() {
        let all: Vec<Ended> = (0..23)
            .map(|i| {
                let p = if i % 2 == 0 {
                    Platform::Idn
                } else {
                    Platform::Showroom
                };
                ended(i, p, Some(100))
            })
            .collect();
        let v = render(Lang::En, &all, &LiveFilter::default(), 0, 7);
        assert_eq!((v.page, v.pages), (0, 3));
        assert_eq!(v.content, "Page 1/3");
        let lines = v.embeds[0].description.clone().unwrap();
        assert_eq!(lines.lines().count(), 10);
        assert_eq!(v.components.len(), 1, "pager");
        let last = render(Lang::En, &all, &LiveFilter::default(), 99, 7);
        assert_eq!(
            last.embeds[0].description.clone().unwrap().lines().count(),
            3
        );
        let showroom = LiveFilter {
            platform: Some(Platform::Showroom),
            member: None,
        };
        let v = render(Lang::En, &all, &showroom, 0, 7);
        assert_eq!(v.pages, 2);
        assert!(!v.embeds[0]
            .description
            .clone()
            .unwrap()
            .contains("IDN Live"));
        let nobody = LiveFilter {
            platform: None,
            member: Some("Gracia".into()),
        };
        let v = render(Lang::En, &all, &nobody, 0, 7);
        assert_eq!(v.content, "No live of “Gracia” has ended lately.");
        assert!(v.embeds.is_empty() && v.components.is_empty());
    }
}
