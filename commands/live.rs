//! `/live [platform] [member]`: who is live now, from the snapshot only
//! (no provider call on the command path), paged with buttons that only
//! the invoker can press.

use chrono::Utc;
use poise::serenity_prelude as serenity;

use super::Rule;
use crate::discord::embeds::{
    self, pager_row, paginate, stream_embed, summary_line, watch_rows, Embed,
};
use crate::live::{LiveStream, Platform};
use crate::messages::{human_duration, t, Lang};
use crate::types::{Context, Data, Error};
use crate::watch::snapshot::Freshness;

/// Custom-id prefix of the Previous/Next buttons.
pub const PAGE_PREFIX: &str = "live:";
const MAX_CUSTOM_ID: usize = 100;

/// The `platform:` option. Its labels, in every language, are the
/// catalogue's [`PlatformChoice::message_id`] (see [`super::localize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum PlatformChoice {
    #[name = "IDN Live"]
    Idn,
    #[name = "Showroom"]
    Showroom,
    #[name = "YouTube"]
    Youtube,
    #[name = "TikTok"]
    Tiktok,
    #[name = "RealtimeKit"]
    Realtimekit,
}

impl PlatformChoice {
    /// The catalogue id of this choice's label.
    pub fn message_id(self) -> &'static str {
        match self {
            PlatformChoice::Idn => "choice-platform-idn",
            PlatformChoice::Showroom => "choice-platform-showroom",
            PlatformChoice::Youtube => "choice-platform-youtube",
            PlatformChoice::Tiktok => "choice-platform-tiktok",
            PlatformChoice::Realtimekit => "choice-platform-realtimekit",
        }
    }
}

impl From<PlatformChoice> for Platform {
    fn from(c: PlatformChoice) -> Self {
        match c {
            PlatformChoice::Idn => Platform::Idn,
            PlatformChoice::Showroom => Platform::Showroom,
            PlatformChoice::Youtube => Platform::Youtube,
            PlatformChoice::Tiktok => Platform::Tiktok,
            PlatformChoice::Realtimekit => Platform::Realtimekit,
        }
    }
}

/// Which streams the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveFilter {
    pub platform: Option<Platform>,
    pub member: Option<String>,
}

impl LiveFilter {
    pub fn matches(&self, s: &LiveStream) -> bool {
        if self.platform.is_some_and(|p| p != s.platform) {
            return false;
        }
        match &self.member {
            None => true,
            Some(m) => {
                let m = m.to_lowercase();
                s.name.to_lowercase().contains(&m)
                    || s.handle
                        .as_deref()
                        .is_some_and(|h| h.to_lowercase().contains(&m))
            }
        }
    }

    pub fn describe(&self, lang: Lang) -> String {
        let member = self
            .member
            .as_ref()
            .map(|m| embeds::escape_markdown(&embeds::clean_text(m, 50)));
        let platform = self.platform.map(|p| p.display_name());
        match (member, platform) {
            (Some(m), Some(p)) => t(
                lang,
                "live-filter-both",
                &[("member", &m), ("platform", &p)],
            ),
            (Some(m), None) => t(lang, "live-filter-member", &[("member", &m)]),
            (None, Some(p)) => p.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// One rendered page of the `/live` answer.
pub struct LiveView {
    pub content: String,
    pub embeds: Vec<Embed>,
    pub components: Vec<serenity::CreateActionRow>,
    pub page: usize,
    pub pages: usize,
}

/// Pure: render `page` of the streams matching `filter`, with notes about
/// stale providers. `invoker` is baked into the page buttons' ids.
pub fn render(
    lang: Lang,
    all: &[LiveStream],
    filter: &LiveFilter,
    page: usize,
    invoker: u64,
    notes: &[String],
) -> LiveView {
    let streams: Vec<&LiveStream> = all.iter().filter(|s| filter.matches(s)).collect();
    let mut content_lines: Vec<String> = Vec::new();
    if streams.is_empty() {
        content_lines.push(if filter == &LiveFilter::default() {
            t(lang, "live-none", &[])
        } else {
            t(
                lang,
                "live-none-filtered",
                &[("filter", &filter.describe(lang))],
            )
        });
        content_lines.extend(notes.iter().cloned());
        return LiveView {
            content: embeds::clean_text(&content_lines.join("\n"), embeds::MAX_CONTENT),
            embeds: vec![],
            components: vec![],
            page: 0,
            pages: 0,
        };
    }
    let owned: Vec<LiveStream> = streams.into_iter().cloned().collect();
    let all_embeds: Vec<Embed> = owned.iter().map(|s| stream_embed(lang, s)).collect();
    let ranges = paginate(&all_embeds);
    let pages = ranges.len();
    let page = page.min(pages - 1);
    let range = ranges[page].clone();

    content_lines.push(summary_line(lang, &owned));
    if pages > 1 {
        content_lines.push(t(
            lang,
            "live-page",
            &[("page", &(page + 1)), ("pages", &pages)],
        ));
    }
    content_lines.extend(notes.iter().cloned());

    let mut components = watch_rows(lang, &owned[range.clone()], if pages > 1 { 4 } else { 5 });
    if pages > 1 {
        components.push(pager_row(lang, page, pages, |p| {
            page_id(p, invoker, filter)
        }));
    }
    LiveView {
        content: embeds::clean_text(&content_lines.join("\n"), embeds::MAX_CONTENT),
        embeds: all_embeds[range].to_vec(),
        components,
        page,
        pages,
    }
}

/// `live:<page>:<invoker>:<platform|->:<member>`, capped at 100 characters.
pub fn page_id(page: usize, invoker: u64, filter: &LiveFilter) -> String {
    filter_page_id(PAGE_PREFIX, page, invoker, filter)
}

/// `<prefix><page>:<invoker>:<platform|->:<member>`, capped at 100
/// characters (the member is cut, never the rest).
pub fn filter_page_id(prefix: &str, page: usize, invoker: u64, filter: &LiveFilter) -> String {
    let platform = filter.platform.map_or("-", |p| p.as_str());
    let head = format!("{prefix}{page}:{invoker}:{platform}:");
    let room = MAX_CUSTOM_ID.saturating_sub(head.len());
    let mut member = String::new();
    for c in filter.member.as_deref().unwrap_or("").chars() {
        if member.len() + c.len_utf8() > room {
            break;
        }
        member.push(c);
    }
    head + &member
}

/// [`filter_page_id`] read back.
pub fn parse_filter_page_id(prefix: &str, id: &str) -> Option<(usize, u64, LiveFilter)> {
    let rest = id.strip_prefix(prefix)?;
    let mut parts = rest.splitn(4, ':');
    let page = parts.next()?.parse().ok()?;
    let invoker = parts.next()?.parse().ok()?;
    let platform = match parts.next()? {
        "-" => None,
        p => Some(p.parse().ok()?),
    };
    let member = parts.next().filter(|m| !m.is_empty()).map(str::to_string);
    Some((page, invoker, LiveFilter { platform, member }))
}

/// Notes for providers whose data is older than twice the poll interval.
pub fn stale_notes(lang: Lang, data: &Data) -> Vec<String> {
    data.snapshot
        .freshness(data.config.poll_interval, Utc::now())
        .into_iter()
        .filter_map(|(p, f)| match f {
            Freshness::Stale(age) => Some(t(
                lang,
                "live-stale",
                &[
                    ("provider", &p.as_str()),
                    ("age", &human_duration(lang, age)),
                ],
            )),
            Freshness::Never => data
                .snapshot
                .state(p)
                .and_then(|s| s.last_error.clone())
                .map(|_| t(lang, "live-never", &[("provider", &p.as_str())])),
            Freshness::Fresh(_) => None,
        })
        .collect()
}

async fn autocomplete_member(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let names = ctx.data().snapshot.streams().into_iter().map(|s| s.name);
    super::name_choices(names, partial)
}

/// Who is live right now
#[poise::command(slash_command, custom_data = Rule::Anywhere)]
pub async fn live(
    ctx: Context<'_>,
    #[description = "Only this platform"] platform: Option<PlatformChoice>,
    #[description = "Only this member"]
    #[autocomplete = "autocomplete_member"]
    #[max_length = 100]
    member: Option<String>,
) -> Result<(), Error> {
    let filter = LiveFilter {
        platform: platform.map(Platform::from),
        member: member
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty()),
    };
    let data = ctx.data();
    let lang = super::lang(ctx);
    let view = render(
        lang,
        &data.snapshot.streams(),
        &filter,
        0,
        ctx.author().id.get(),
        &stale_notes(lang, data),
    );
    super::send_page(ctx, view.content, &view.embeds, view.components).await
}

/// A Previous/Next press: re-render from the current snapshot, only for the
/// person who ran `/live`.
pub async fn on_page_button(
    ctx: &serenity::Context,
    data: &Data,
    component: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let Some((page, invoker, filter)) =
        super::page_press(ctx, component, PAGE_PREFIX, "live-not-yours").await?
    else {
        return Ok(());
    };
    let lang = Lang::from_locale(&component.locale);
    let view = render(
        lang,
        &data.snapshot.streams(),
        &filter,
        page,
        invoker,
        &stale_notes(lang, data),
    );
    super::turn_page(ctx, component, view.content, &view.embeds, view.components).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(i: usize, p: Platform) -> LiveStream {
        let mut s = LiveStream::new(p, format!("room{i}"), format!("Member {i}"));
        s.watch_url = Some(format!("https://example.test/{i}"));
        s
    }

    #[test]
    fn empty_answer_is_plain() {
        let v = render(Lang::En, &[], &LiveFilter::default(), 0, 1, &[]);
        assert_eq!(v.content, "Nobody is live right now. Check back later!");
        assert!(v.embeds.is_empty() && v.components.is_empty());
        let f = LiveFilter {
            platform: Some(Platform::Showroom),
            member: Some("Gracia".into()),
        };
        let v = render(Lang::En, &[stream(1, Platform::Idn)], &f, 0, 1, &[]);
        assert_eq!(
            v.content,
            "Nobody matching “Gracia” on Showroom is live right now."
        );
    }

    #[test]
    fn pages_of_25() {
        let all: Vec<_> = (0..25).map(|i| stream(i, Platform::Idn)).collect();
        let v = render(Lang::En, &all, &LiveFilter::default(), 0, 42, &[]);
        assert_eq!((v.page, v.pages, v.embeds.len()), (0, 3, 10));
        assert!(v.content.contains("Page 1/3"));
        // 10 watch buttons in 2 rows + pager
        assert_eq!(v.components.len(), 3);
        let last = render(Lang::En, &all, &LiveFilter::default(), 99, 42, &[]);
        assert_eq!((last.page, last.embeds.len()), (2, 5));
    }

    #[test]
    fn filters() {
        let mut a = stream(1, Platform::Idn);
        a.name = "Fritzy".into();
        let b = stream(2, Platform::Showroom);
        let f = LiveFilter {
            platform: None,
            member: Some("fri".into()),
        };
        let v = render(Lang::En, &[a.clone(), b.clone()], &f, 0, 1, &[]);
        assert_eq!(v.embeds.len(), 1);
        let f = LiveFilter {
            platform: Some(Platform::Showroom),
            member: None,
        };
        let v = render(Lang::En, &[a, b], &f, 0, 1, &[]);
        assert_eq!(v.embeds[0].author_name.as_deref(), Some("Member 2"));
    }

    #[test]
    fn page_ids_round_trip_and_fit() {
        let f = LiveFilter {
            platform: Some(Platform::Tiktok),
            member: Some("ü".repeat(200)),
        };
        let id = page_id(3, 123456789012345678, &f);
        assert!(id.len() <= 100);
        let (page, invoker, back) = parse_filter_page_id(PAGE_PREFIX, &id).unwrap();
        assert_eq!(
            (page, invoker, back.platform),
            (3, 123456789012345678, f.platform)
        );
        assert!(f.member.unwrap().starts_with(&back.member.unwrap()));
        assert_eq!(parse_filter_page_id(PAGE_PREFIX, "live:x"), None);
        let plain = page_id(0, 1, &LiveFilter::default());
        assert_eq!(
            parse_filter_page_id(PAGE_PREFIX, &plain),
            Some((0, 1, LiveFilter::default()))
        );
    }
}
