//! Pure functions from `LiveStream`s to Discord embeds, buttons and pages.
//! Discord's limits are enforced here: provider text is truncated, never
//! rejected (title 256, description 4096, field name 256, field value 1024,
//! footer 2048, author 256, 25 fields, 10 embeds and 6000 characters per
//! message, content 2000, button label 80, custom_id 100).

use chrono::{DateTime, Utc};
use serenity::all::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedAuthor, CreateEmbedFooter,
    Timestamp,
};

use crate::live::{web_url, LiveStream, Platform, StreamKind};
use crate::messages::{compact_count, t, Lang};
use crate::text::truncate_chars;

pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FOOTER: usize = 2048;
pub const MAX_AUTHOR: usize = 256;
pub const MAX_EMBEDS: usize = 10;
pub const MAX_MESSAGE_EMBED_CHARS: usize = 6000;
pub const MAX_CONTENT: usize = 2000;
pub const MAX_BUTTON_LABEL: usize = 80;
pub const MAX_LINK_BUTTONS_PER_ROW: usize = 5;
/// A link button's URL (Discord refuses longer ones).
pub const MAX_BUTTON_URL: usize = 512;
/// Any URL in an embed (url, author, thumbnail, image).
pub const MAX_EMBED_URL: usize = 2048;

/// A plain embed, easy to test; converted to serenity's builder at the edge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embed {
    pub title: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub author_name: Option<String>,
    pub author_icon: Option<String>,
    pub author_url: Option<String>,
    pub thumbnail: Option<String>,
    pub image: Option<String>,
    pub colour: Option<u32>,
    pub fields: Vec<Field>,
    pub footer: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

impl Embed {
    /// Characters that count toward the 6000-per-message limit.
    pub fn char_len(&self) -> usize {
        let c = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
        c(&self.title)
            + c(&self.description)
            + c(&self.author_name)
            + c(&self.footer)
            + self
                .fields
                .iter()
                .map(|f| f.name.chars().count() + f.value.chars().count())
                .sum::<usize>()
    }

    pub fn to_create(&self) -> CreateEmbed {
        // Discord refuses the whole message for one URL over its limit:
        // drop the link instead.
        let fits = |u: &&String| u.len() <= MAX_EMBED_URL;
        let mut e = CreateEmbed::new();
        if let Some(v) = &self.title {
            e = e.title(v);
        }
        if let Some(v) = self.url.as_ref().filter(fits) {
            e = e.url(v);
        }
        if let Some(v) = &self.description {
            e = e.description(v);
        }
        if let Some(name) = &self.author_name {
            let mut a = CreateEmbedAuthor::new(name);
            if let Some(icon) = self.author_icon.as_ref().filter(fits) {
                a = a.icon_url(icon);
            }
            if let Some(url) = self.author_url.as_ref().filter(fits) {
                a = a.url(url);
            }
            e = e.author(a);
        }
        if let Some(v) = self.thumbnail.as_ref().filter(fits) {
            e = e.thumbnail(v);
        }
        if let Some(v) = self.image.as_ref().filter(fits) {
            e = e.image(v);
        }
        if let Some(c) = self.colour {
            e = e.colour(c);
        }
        for f in &self.fields {
            e = e.field(&f.name, &f.value, f.inline);
        }
        if let Some(v) = &self.footer {
            e = e.footer(CreateEmbedFooter::new(v));
        }
        if let Some(ts) = self.timestamp {
            if let Ok(ts) = Timestamp::from_unix_timestamp(ts.timestamp()) {
                e = e.timestamp(ts);
            }
        }
        e
    }
}

/// Strip characters Discord would mangle (control characters become
/// spaces) or that change the text unseen (bidi controls, zero-width
/// characters: [`crate::text::is_invisible`]), and cap length.
pub fn clean_text(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| !crate::text::is_invisible(*c))
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    truncate_chars(cleaned.trim(), max)
}

/// A URL (already through [`web_url`]) made safe as the target of a
/// Markdown link `[label](url)`: the characters that would end the target
/// or the link early are percent-encoded.
pub fn markdown_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            c if c.is_whitespace() => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// Escape Discord markdown in provider text placed inside formatted strings.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Add a per-broadcast cache-buster (`v=<start unix>`) so Discord's image
/// proxy does not show last week's picture for a URL that never changes.
pub fn cache_busted(url: &str, stream: &LiveStream) -> Option<String> {
    let url = web_url(Some(url))?;
    let v = stream
        .started_at
        .map(|t| t.timestamp().to_string())
        .unwrap_or_else(|| {
            stream
                .key
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(32)
                .collect()
        });
    if v.is_empty() {
        return Some(url);
    }
    let mut parsed = url::Url::parse(&url).ok()?;
    parsed.query_pairs_mut().append_pair("v", &v);
    Some(parsed.to_string())
}

/// Discord timestamps: relative and full, each user sees their own zone.
pub fn discord_time(t: DateTime<Utc>) -> String {
    let unix = t.timestamp();
    format!("<t:{unix}:R> · <t:{unix}:f>")
}

/// The HLS links by quality label, as markdown links, dropping links that
/// do not fit (never cutting one in half).
pub fn hls_links(stream: &LiveStream, max: usize) -> Option<String> {
    let mut out = String::new();
    for s in stream.streams.iter().filter(|s| s.kind == StreamKind::Hls) {
        let Some(url) = web_url(Some(&s.url)) else {
            continue;
        };
        let label = clean_text(&s.label, 40).replace(['[', ']'], "");
        let link = format!(
            "[{}]({})",
            if label.is_empty() { "stream" } else { &label },
            markdown_url(&url)
        );
        let sep = if out.is_empty() { "" } else { " · " };
        if out.chars().count() + sep.len() + link.chars().count() > max {
            break;
        }
        out.push_str(sep);
        out.push_str(&link);
    }
    (!out.is_empty()).then_some(out)
}

/// A stream's card title: its own title, or when it has none the
/// `fallback` message (`embed-title-fallback`, "{name} is live on …", for
/// a live card; `embed-title-ended-fallback` once it ended).
pub fn stream_title(lang: Lang, stream: &LiveStream, fallback: &str) -> String {
    match stream.title.as_deref().map(|t| clean_text(t, MAX_TITLE)) {
        Some(t) if !t.is_empty() => t,
        _ => clean_text(
            &t(
                lang,
                fallback,
                &[
                    ("name", &clean_text(&stream.name, MAX_AUTHOR)),
                    ("platform", &stream.platform.display_name()),
                ],
            ),
            MAX_TITLE,
        ),
    }
}

/// One embed for one live stream.
pub fn stream_embed(lang: Lang, stream: &LiveStream) -> Embed {
    let name = clean_text(&stream.name, MAX_AUTHOR);
    let platform = stream.platform.display_name();
    let title = stream_title(lang, stream, "embed-title-fallback");
    let mut fields = vec![Field {
        name: t(lang, "embed-platform", &[]),
        value: platform.to_string(),
        inline: true,
    }];
    if let Some(start) = stream.started_at {
        fields.push(Field {
            name: t(lang, "embed-started", &[]),
            value: discord_time(start),
            inline: true,
        });
    }
    if let Some(v) = stream.viewers {
        fields.push(Field {
            name: t(lang, "embed-viewers", &[]),
            value: compact_count(lang, v),
            inline: true,
        });
    }
    if let Some(links) = hls_links(stream, MAX_FIELD_VALUE) {
        fields.push(Field {
            name: t(lang, "embed-streams", &[]),
            value: links,
            inline: false,
        });
    }
    Embed {
        title: Some(title),
        url: web_url(stream.watch_url.as_deref()),
        description: None,
        author_name: Some(if name.is_empty() { "?".into() } else { name }),
        author_icon: stream
            .avatar_url
            .as_deref()
            .and_then(|u| cache_busted(u, stream)),
        author_url: None,
        thumbnail: stream
            .thumbnail_url
            .as_deref()
            .and_then(|u| cache_busted(u, stream)),
        image: None,
        colour: Some(stream.platform.colour()),
        fields,
        footer: None,
        timestamp: stream.started_at,
    }
}

/// A link button to the stream's watch page, when it has one.
pub fn watch_button(lang: Lang, stream: &LiveStream, with_name: bool) -> Option<CreateButton> {
    let url = web_url(stream.watch_url.as_deref()).filter(|u| u.len() <= MAX_BUTTON_URL)?;
    let label = if with_name {
        t(
            lang,
            "button-watch-name",
            &[("name", &clean_text(&stream.name, 60))],
        )
    } else {
        t(lang, "button-watch", &[])
    };
    Some(CreateButton::new_link(url).label(truncate_chars(&label, MAX_BUTTON_LABEL)))
}

/// Split streams into pages that each fit one message: at most 10 embeds
/// and at most 6000 embed characters. Returns index ranges into `streams`.
pub fn paginate(embeds: &[Embed]) -> Vec<std::ops::Range<usize>> {
    let mut pages = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (i, e) in embeds.iter().enumerate() {
        let len = e.char_len();
        let count = i - start;
        if count > 0 && (count == MAX_EMBEDS || chars + len > MAX_MESSAGE_EMBED_CHARS) {
            pages.push(start..i);
            start = i;
            chars = 0;
        }
        chars += len;
    }
    if start < embeds.len() {
        pages.push(start..embeds.len());
    }
    pages
}

/// "**3 live now**: IDN Live 2 · Showroom 1"
pub fn summary_line(lang: Lang, streams: &[LiveStream]) -> String {
    let mut counts: Vec<(Platform, usize)> = Vec::new();
    for s in streams {
        match counts.iter_mut().find(|(p, _)| *p == s.platform) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.platform, 1)),
        }
    }
    counts.sort_by_key(|(p, _)| *p);
    let platforms = counts
        .iter()
        .map(|(p, n)| format!("{} {n}", p.display_name()))
        .collect::<Vec<_>>()
        .join(" · ");
    t(
        lang,
        "live-summary",
        &[("count", &streams.len()), ("platforms", &platforms)],
    )
}

/// Link buttons for the streams on a page, 5 per row, at most `rows` rows.
pub fn watch_rows(lang: Lang, streams: &[LiveStream], rows: usize) -> Vec<CreateActionRow> {
    let buttons: Vec<CreateButton> = streams
        .iter()
        .filter_map(|s| watch_button(lang, s, streams.len() > 1))
        .take(rows * MAX_LINK_BUTTONS_PER_ROW)
        .collect();
    buttons
        .chunks(MAX_LINK_BUTTONS_PER_ROW)
        .map(|c| CreateActionRow::Buttons(c.to_vec()))
        .collect()
}

/// Previous / Next buttons carrying their target page in the custom id.
pub fn pager_row(
    lang: Lang,
    page: usize,
    pages: usize,
    id_for: impl Fn(usize) -> String,
) -> CreateActionRow {
    let prev = CreateButton::new(id_for(page.saturating_sub(1)))
        .label(t(lang, "button-previous", &[]))
        .style(ButtonStyle::Secondary)
        .disabled(page == 0);
    let next = CreateButton::new(id_for((page + 1).min(pages.saturating_sub(1))))
        .label(t(lang, "button-next", &[]))
        .style(ButtonStyle::Secondary)
        .disabled(page + 1 >= pages);
    CreateActionRow::Buttons(vec![prev, next])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_loses_bidi_controls_and_zero_width_characters() {
        assert_eq!(
            clean_text("Fri\u{202E}tzy\u{200B} \u{2067}x\u{2069}", 100),
            "Fritzy x"
        );
        assert_eq!(crate::outbox::webhook::username("\u{202E}ydaL"), "ydaL");
        let mut st = LiveStream::new(Platform::Idn, "1", "Zee\u{200D}\u{FEFF}");
        st.started_at = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        assert_eq!(
            crate::announce::live_cards::thread_name(&st),
            "Zee · 2023-11-14"
        );
    }

    #[test]
    fn markdown_links_cannot_be_closed_early_by_their_url() {
        let mut st = LiveStream::new(Platform::Idn, "1", "A");
        st.streams.push(crate::live::StreamUrl {
            label: "original".into(),
            kind: StreamKind::Hls,
            url: "https://cdn.test/a)b(c [x].m3u8".into(),
        });
        st.streams.push(crate::live::StreamUrl {
            label: "plain".into(),
            kind: StreamKind::Hls,
            url: "http://cdn.test/insecure.m3u8".into(),
        });
        let links = hls_links(&st, 1000).unwrap();
        assert_eq!(
            links, "[original](https://cdn.test/a%29b%28c%20%5Bx%5D.m3u8)",
            "escaped, and the http link dropped"
        );
    }

    #[test]
    fn overlong_urls_are_dropped_not_sent() {
        let mut st = LiveStream::new(Platform::Idn, "1", "A");
        st.watch_url = Some(format!("https://www.idn.app/{}", "a".repeat(600)));
        st.avatar_url = Some(format!("https://cdn.test/{}.jpg", "b".repeat(2100)));
        assert!(
            watch_button(Lang::En, &st, false).is_none(),
            "over 512: no button"
        );
        let e = serde_json::to_value(stream_embed(Lang::En, &st).to_create()).unwrap();
        assert!(e["url"].as_str().is_some_and(|u| u.len() <= MAX_EMBED_URL));
        assert!(e["author"].get("icon_url").is_none(), "over 2048: dropped");
        st.watch_url = Some("https://www.idn.app/x/live/y".into());
        assert!(watch_button(Lang::En, &st, false).is_some());
    }
    use crate::live::StreamUrl;

    fn fritzy() -> LiveStream {
        let mut s = LiveStream::new(Platform::Idn, "510011", "Fritzy");
        s.handle = Some("jkt48_fritzy".into());
        s.avatar_url = Some("https://cdn.test/avatar.webp".into());
        s.thumbnail_url = Some("https://cdn.test/thumb.jpg".into());
        s.title = Some("Yuk diborong".into());
        s.started_at = DateTime::from_timestamp(1_743_941_038, 0);
        s.viewers = Some(1234);
        s.watch_url = Some("https://www.idn.app/jkt48_fritzy/live/yuk-diborong".into());
        s.streams = vec![
            StreamUrl {
                label: "original".into(),
                kind: StreamKind::Hls,
                url: "https://cdn.test/a.m3u8".into(),
            },
            StreamUrl {
                label: "flv".into(),
                kind: StreamKind::Flv,
                url: "https://cdn.test/a.flv".into(),
            },
        ];
        s
    }

    #[test]
    fn embed_has_everything() {
        let e = stream_embed(Lang::En, &fritzy());
        assert_eq!(e.title.as_deref(), Some("Yuk diborong"));
        assert_eq!(e.author_name.as_deref(), Some("Fritzy"));
        assert_eq!(
            e.author_icon.as_deref(),
            Some("https://cdn.test/avatar.webp?v=1743941038")
        );
        assert_eq!(
            e.thumbnail.as_deref(),
            Some("https://cdn.test/thumb.jpg?v=1743941038")
        );
        assert_eq!(
            e.url.as_deref(),
            Some("https://www.idn.app/jkt48_fritzy/live/yuk-diborong")
        );
        assert_eq!(e.colour, Some(Platform::Idn.colour()));
        let field = |n: &str| {
            e.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.clone())
        };
        assert_eq!(field("Platform").as_deref(), Some("IDN Live"));
        assert_eq!(
            field("Started").as_deref(),
            Some("<t:1743941038:R> · <t:1743941038:f>")
        );
        assert_eq!(field("Viewers").as_deref(), Some("1.2k"));
        assert_eq!(
            field("Streams (HLS)").as_deref(),
            Some("[original](https://cdn.test/a.m3u8)")
        );
    }

    #[test]
    fn fallback_title_and_missing_fields() {
        let s = LiveStream::new(Platform::Showroom, "1", "Gracia");
        let e = stream_embed(Lang::En, &s);
        assert_eq!(e.title.as_deref(), Some("Gracia is live on Showroom"));
        assert_eq!(e.fields.len(), 1);
        assert!(e.thumbnail.is_none() && e.url.is_none());
    }

    #[test]
    fn long_hostile_title_is_truncated() {
        let mut s = fritzy();
        s.title = Some(format!("@everyone {}", "x".repeat(490)));
        let e = stream_embed(Lang::En, &s);
        let title = e.title.unwrap();
        assert_eq!(title.chars().count(), MAX_TITLE);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn bad_urls_are_dropped() {
        let mut s = fritzy();
        s.watch_url = Some("javascript:alert(1)".into());
        s.thumbnail_url = Some("data:image/png;base64,xx".into());
        s.streams[0].url = "ftp://x/a.m3u8".into();
        let e = stream_embed(Lang::En, &s);
        assert!(e.url.is_none() && e.thumbnail.is_none());
        assert!(!e.fields.iter().any(|f| f.name == "Streams (HLS)"));
        assert!(watch_button(Lang::En, &s, false).is_none());
    }

    #[test]
    fn hls_links_never_cut_a_link() {
        let mut s = fritzy();
        s.streams = (0..100)
            .map(|i| StreamUrl {
                label: format!("q{i}"),
                kind: StreamKind::Hls,
                url: format!("https://cdn.test/{i}/{}.m3u8", "p".repeat(30)),
            })
            .collect();
        let links = hls_links(&s, MAX_FIELD_VALUE).unwrap();
        assert!(links.chars().count() <= MAX_FIELD_VALUE);
        assert!(links.ends_with(".m3u8)"));
    }

    #[test]
    fn pages_respect_ten_embeds_and_6000_chars() {
        let small: Vec<Embed> = (0..25).map(|_| stream_embed(Lang::En, &fritzy())).collect();
        let pages = paginate(&small);
        assert_eq!(pages, vec![0..10, 10..20, 20..25]);

        let mut big = fritzy();
        big.title = Some("t".repeat(300));
        let mut e = stream_embed(Lang::En, &big);
        e.description = Some("d".repeat(2000));
        let bigs = vec![e; 7];
        let pages = paginate(&bigs);
        for p in &pages {
            let chars: usize = bigs[p.clone()].iter().map(Embed::char_len).sum();
            assert!(chars <= MAX_MESSAGE_EMBED_CHARS && p.len() <= MAX_EMBEDS);
        }
        assert_eq!(pages.iter().map(|p| p.len()).sum::<usize>(), 7);
        assert!(paginate(&[]).is_empty());
    }

    #[test]
    fn summary_counts_per_platform() {
        let a = fritzy();
        let mut b = fritzy();
        b.platform = Platform::Showroom;
        let line = summary_line(Lang::En, &[a.clone(), b, a]);
        assert_eq!(line, "**3 live now**: IDN Live 2 · Showroom 1");
    }

    #[test]
    fn markdown_escaped() {
        assert_eq!(escape_markdown("a_b*c"), "a\\_b\\*c");
    }
}
