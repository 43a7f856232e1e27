//! Decide: which subscriptions a stream matches, and the exact messages
//! (announcement and end edit) as Discord request bodies. Pure functions.

use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;
use serde_json::Value;

use super::card::Recap;
use crate::discord::embeds::{
    self, clean_text, stream_embed, stream_title, Embed, Field, MAX_CONTENT,
};
use crate::live::{LiveStream, Platform};
use crate::messages::{compact_count, human_duration, t, Lang};
use crate::store::Subscription;

/// The language of a subscription's announcements (chosen at
/// `/subscribe`, defaulting to the server's locale then).
pub fn sub_lang(sub: &Subscription) -> Lang {
    sub.language
        .as_deref()
        .map(Lang::from_locale)
        .unwrap_or_default()
}

/// Fill an admin's template: `{name}`, `{platform}`, `{title}`, `{url}`,
/// `{role}`. Unknown placeholders stay as written. Provider text is cleaned;
/// the result is capped at Discord's 2000-character content limit.
pub fn render_template(template: &str, stream: &LiveStream, role_id: Option<u64>) -> String {
    let name = embeds::escape_markdown(&clean_text(&stream.name, 100));
    let title = embeds::escape_markdown(&clean_text(stream.title.as_deref().unwrap_or(""), 300));
    // Admins write `[watch]({url})`: the link must not end the target early.
    let url = crate::live::web_url(stream.watch_url.as_deref())
        .map(|u| embeds::markdown_url(&u))
        .unwrap_or_default();
    let role = role_id.map(|r| format!("<@&{r}>")).unwrap_or_default();
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let key = close.map(|c| &after[..c]);
        let value = match key {
            Some("name") => Some(name.as_str()),
            Some("platform") => Some(stream.platform.display_name()),
            Some("title") => Some(title.as_str()),
            Some("url") => Some(url.as_str()),
            Some("role") => Some(role.as_str()),
            _ => None,
        };
        match (value, close) {
            (Some(v), Some(c)) => {
                out.push_str(v);
                rest = &after[c + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    crate::text::truncate_chars(out.trim(), MAX_CONTENT)
}

/// The default announcement line: "**Fritzy** is live on IDN Live" (+ role).
pub fn default_line(lang: Lang, stream: &LiveStream, role_id: Option<u64>) -> String {
    let name = embeds::escape_markdown(&clean_text(&stream.name, 100));
    let line = t(
        lang,
        "announce-line",
        &[
            ("name", &name),
            ("platform", &stream.platform.display_name()),
        ],
    );
    match role_id {
        Some(r) => format!("<@&{r}> {line}"),
        None => line,
    }
}

/// `content` marked as a `/subscription test` sample, within Discord's
/// content limit.
pub fn marked_as_test(lang: Lang, content: &str) -> String {
    crate::text::truncate_chars(
        &format!("{} {content}", t(lang, "test-marker", &[])),
        MAX_CONTENT,
    )
}

/// Only the subscription's role may be pinged; nothing else, ever.
pub fn allowed_mentions(role_id: Option<u64>) -> serenity::CreateAllowedMentions {
    let am = serenity::CreateAllowedMentions::new();
    match role_id {
        Some(r) => am.roles([serenity::RoleId::new(r)]),
        None => am,
    }
}

/// The announcement body for `POST /channels/{id}/messages` (the outbox
/// adds the nonce that makes Discord drop a duplicate).
pub fn announcement_body(sub: &Subscription, stream: &LiveStream) -> Value {
    let lang = sub_lang(sub);
    let content = match &sub.template {
        Some(tpl) if !tpl.trim().is_empty() => render_template(tpl, stream, sub.role_id),
        _ => default_line(lang, stream, sub.role_id),
    };
    let mut msg = serenity::CreateMessage::new()
        .content(content)
        .embed(stream_embed(lang, stream).to_create())
        .allowed_mentions(allowed_mentions(sub.role_id));
    if let Some(b) = embeds::watch_button(lang, stream, false) {
        msg = msg.components(vec![serenity::CreateActionRow::Buttons(vec![b])]);
    }
    serde_json::to_value(&msg).unwrap_or(Value::Null)
}

/// The mark a broadcast's messages carry (the embed footer), so the bot
/// can recognise its own post in a channel after Discord's nonce window:
/// "onair · #<broadcast row>".
pub fn marker(stream_row: i64) -> String {
    format!("onair · #{stream_row}")
}

/// A new message that is already the ended card: for a delivery whose
/// broadcast ended before it could be sent (nothing "live" is posted for a
/// broadcast that is over).
pub fn ended_announcement_body(
    sub: &Subscription,
    stream: &LiveStream,
    ended_at: DateTime<Utc>,
    recap: &Recap,
) -> Value {
    let mut body = ended_body(Some(sub), stream, ended_at, recap);
    if let Some(o) = body.as_object_mut() {
        o.remove("components");
    }
    body
}

/// The live card as an edit: a live update (new title, a viewer
/// milestone, a new quality), or the reopening of an ended card (the
/// broadcast came back with the same identity after a provider blip
/// longer than the grace: "live" again, with the live links, instead of a
/// second post). The same content as the announcement with the current
/// figures; no nonce (edits have none), and no ping (an edit never pings).
pub fn live_edit_body(sub: &Subscription, stream: &LiveStream) -> Value {
    let mut body = announcement_body(sub, stream);
    if let Some(o) = body.as_object_mut() {
        o.remove("nonce");
        o.remove("enforce_nonce");
        o.remove("tts");
        o.entry("components")
            .or_insert_with(|| Value::Array(vec![]));
        o.insert(
            "allowed_mentions".into(),
            serde_json::json!({"parse": [], "roles": [], "users": []}),
        );
    }
    body
}

/// The end edit, a recap: "ended", how long it lasted, the peak and final
/// viewers ("—" where the platform gives none), the title it started with
/// when it changed; no HLS links (they are dead), no Watch button.
pub fn ended_embed(
    lang: Lang,
    stream: &LiveStream,
    ended_at: DateTime<Utc>,
    recap: &Recap,
) -> Embed {
    let mut e = stream_embed(lang, stream);
    // A stream with no title of its own must not keep the live card's
    // "… is live on …" above the line saying it ended.
    e.title = Some(stream_title(lang, stream, "embed-title-ended-fallback"));
    let streams_label = t(lang, "embed-streams", &[]);
    e.fields.retain(|f| f.name != streams_label);
    let viewers_label = t(lang, "embed-viewers", &[]);
    e.fields.retain(|f| f.name != viewers_label);
    let lasted = stream
        .started_at
        .map(|s| human_duration(lang, (ended_at - s).to_std().unwrap_or_default()));
    let value = match lasted {
        Some(d) => t(
            lang,
            "announce-ended-after",
            &[
                ("duration", &d),
                ("when", &format!("<t:{}:R>", ended_at.timestamp())),
            ],
        ),
        None => t(
            lang,
            "announce-ended-at",
            &[("when", &format!("<t:{}:R>", ended_at.timestamp()))],
        ),
    };
    e.fields.push(Field {
        name: t(lang, "announce-ended", &[]),
        value,
        inline: false,
    });
    let count = |v: Option<u64>| v.map_or_else(|| "—".to_string(), |v| compact_count(lang, v));
    e.fields.push(Field {
        name: t(lang, "recap-peak", &[]),
        value: count(recap.peak_viewers),
        inline: true,
    });
    e.fields.push(Field {
        name: t(lang, "recap-final", &[]),
        value: count(recap.final_viewers),
        inline: true,
    });
    if let Some(first) = &recap.first_title {
        e.fields.push(Field {
            name: t(lang, "recap-first-title", &[]),
            value: clean_text(first, embeds::MAX_FIELD_VALUE),
            inline: false,
        });
    }
    e.colour = Some(0x4F_54_5C);
    e
}

/// The body for `PATCH /channels/{id}/messages/{mid}` when a stream ended.
pub fn ended_body(
    sub: Option<&Subscription>,
    stream: &LiveStream,
    ended_at: DateTime<Utc>,
    recap: &Recap,
) -> Value {
    let lang = sub.map(sub_lang).unwrap_or_default();
    let name = embeds::escape_markdown(&clean_text(&stream.name, 100));
    let content = t(
        lang,
        "announce-ended-line",
        &[
            ("name", &name),
            ("platform", &stream.platform.display_name()),
        ],
    );
    let msg = serenity::EditMessage::new()
        .content(content)
        .embed(ended_embed(lang, stream, ended_at, recap).to_create())
        .components(vec![])
        .allowed_mentions(allowed_mentions(sub.and_then(|s| s.role_id)).empty_roles());
    serde_json::to_value(&msg).unwrap_or(Value::Null)
}

/// A clearly marked sample for `/subscription test`.
pub fn sample_stream(lang: Lang) -> LiveStream {
    let mut s = LiveStream::new(
        Platform::Idn,
        "onair-sample",
        t(lang, "announce-sample-name", &[]),
    );
    s.title = Some(t(lang, "announce-sample-title", &[]));
    s.started_at = Some(Utc::now());
    s.watch_url = Some("https://www.idn.app/".into());
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Subscription;

    pub(crate) fn sub() -> Subscription {
        Subscription::sample(10)
    }

    pub(crate) fn fritzy() -> LiveStream {
        let mut s = LiveStream::new(Platform::Idn, "510011", "Fritzy");
        s.handle = Some("jkt48_fritzy".into());
        s.title = Some("@everyone come <@&999>".into());
        s.started_at = DateTime::from_timestamp(1_700_000_000, 0);
        s.watch_url = Some("https://www.idn.app/jkt48_fritzy/live/x".into());
        s.streams.push(crate::live::StreamUrl {
            label: "original".into(),
            kind: crate::live::StreamKind::Hls,
            url: "https://cdn.test/a.m3u8".into(),
        });
        s
    }

    #[test]
    fn templates() {
        let s = fritzy();
        let out = render_template(
            "{role} {name} on {platform}: {title} {url} {nope} {",
            &s,
            Some(5),
        );
        assert_eq!(
            out,
            "<@&5> Fritzy on IDN Live: @everyone come <@&999\\> https://www.idn.app/jkt48_fritzy/live/x {nope} {"
        );
        let long = render_template(&"{name}".repeat(2000), &s, None);
        assert!(long.chars().count() <= 2000);
    }

    #[test]
    fn marked_messages_are_found_only_when_the_bot_posted_them() {
        use crate::outbox::lookup::{find_marked, with_marker};
        let body = with_marker(announcement_body(&sub(), &fritzy()), &marker(7));
        assert_eq!(body["embeds"][0]["footer"]["text"], "onair · #7");
        let msg = |id: &str, author: &str, b: &Value| serde_json::json!({"id": id, "author": {"id": author}, "embeds": b["embeds"]});
        let other = with_marker(announcement_body(&sub(), &fritzy()), &marker(8));
        let list = vec![
            msg("100", "5", &body),  // someone else's copy
            msg("101", "9", &other), // ours, another broadcast
            msg("102", "9", &body),  // ours
        ];
        assert_eq!(find_marked(&list, &[9], &marker(7), None), Some(102));
        assert_eq!(find_marked(&list[..2], &[9], &marker(7), None), None);
        assert_eq!(
            find_marked(&list, &[5], &marker(7), None),
            Some(100),
            "a webhook of ours"
        );
        assert_eq!(
            find_marked(&[serde_json::json!({"id": 1})], &[9], "x", None),
            None
        );
    }

    #[test]
    fn without_its_embeds_our_message_is_found_by_its_exact_text_only() {
        use crate::outbox::lookup::find_marked;
        let bare = |id: &str, author: &str, content: &str| serde_json::json!({"id": id, "author": {"id": author}, "content": content, "embeds": []});
        let text = Some("**Fritzy** is live on IDN Live");
        let list = vec![
            bare("100", "5", "**Fritzy** is live on IDN Live"), // a fan's copy
            bare("101", "9", "**Gita** is live on IDN Live"),   // ours, another card
            bare("102", "9", "**Fritzy** is live on IDN Live"), // ours
        ];
        assert_eq!(find_marked(&list, &[9], "onair · #7", text), Some(102));
        assert_eq!(find_marked(&list[..2], &[9], "onair · #7", text), None);
        assert_eq!(find_marked(&list, &[9], "onair · #7", Some("")), None);
        let with_embed = serde_json::json!({"id": "103", "author": {"id": "9"},
            "content": "**Fritzy** is live on IDN Live", "embeds": [{"title": "x"}]});
        assert_eq!(
            find_marked(&[with_embed], &[9], "onair · #7", text),
            None,
            "a message that kept its embeds is ours only by its marker"
        );
    }

    #[test]
    fn an_ended_broadcast_is_posted_as_the_ended_card() {
        let body = crate::outbox::lookup::with_nonce(
            ended_announcement_body(&sub(), &fritzy(), Utc::now(), &Recap::default()),
            3,
        );
        assert!(body["content"].as_str().unwrap().contains("was live"));
        assert_eq!(body["nonce"], "onair-3");
        assert_eq!(body["enforce_nonce"], true);
        assert!(body.get("components").is_none());
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    }

    #[test]
    fn reopen_edit_is_the_live_card_without_nonce_or_ping() {
        let mut s = sub();
        s.role_id = Some(77);
        let live = announcement_body(&s, &fritzy());
        let ended = ended_body(Some(&s), &fritzy(), Utc::now(), &Recap::default());
        let back = live_edit_body(&s, &fritzy());
        assert_eq!(back["embeds"], live["embeds"], "the live card again");
        assert_eq!(back["content"], live["content"]);
        assert_eq!(back["components"], live["components"], "Watch button back");
        assert_ne!(back["embeds"], ended["embeds"]);
        assert!(back.get("nonce").is_none() && back.get("enforce_nonce").is_none());
        assert_eq!(back["allowed_mentions"]["roles"], serde_json::json!([]));
    }

    #[test]
    fn only_the_role_may_ping() {
        let mut s = sub();
        s.role_id = Some(77);
        s.template = Some("@everyone {role} {title}".into());
        let body = crate::outbox::lookup::with_nonce(announcement_body(&s, &fritzy()), 1);
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(body["allowed_mentions"]["roles"], serde_json::json!(["77"]));
        assert_eq!(body["nonce"], "onair-1");
        assert_eq!(body["enforce_nonce"], true);
        assert_eq!(
            body["components"][0]["components"][0]["url"],
            "https://www.idn.app/jkt48_fritzy/live/x"
        );
        let plain = announcement_body(&sub(), &fritzy());
        assert_eq!(plain["content"], "**Fritzy** is live on IDN Live");
        assert_eq!(plain["allowed_mentions"]["roles"], serde_json::json!([]));
    }

    #[test]
    fn an_ended_card_without_a_title_never_says_is_live() {
        let mut s = fritzy();
        s.title = None;
        for (language, was, is) in [
            ("en", "Fritzy was live on IDN Live", "is live"),
            ("id", "Fritzy tadi live di IDN Live", "sedang live"),
        ] {
            let mut sub = sub();
            sub.language = Some(language.into());
            let body = ended_body(Some(&sub), &s, Utc::now(), &Recap::default());
            assert_eq!(body["embeds"][0]["title"], was);
            assert!(!body.to_string().contains(is), "{body}");
        }
        // A stream's own title stays as it was.
        let titled = ended_body(Some(&sub()), &fritzy(), Utc::now(), &Recap::default());
        assert!(titled["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("@everyone come"));
    }

    #[test]
    fn end_edit_drops_links_and_says_how_long() {
        let s = fritzy();
        let ended = DateTime::from_timestamp(1_700_007_500, 0).unwrap();
        let recap = Recap {
            peak_viewers: Some(5_400),
            final_viewers: None,
            first_title: Some("Before".into()),
        };
        let body = ended_body(Some(&sub()), &s, ended, &recap);
        let text = body.to_string();
        let fields = &body["embeds"][0]["fields"];
        let field = |name: &str| {
            fields
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .map(|f| f["value"].as_str().unwrap().to_string())
        };
        assert_eq!(field("Peak viewers").as_deref(), Some("5.4k"));
        assert_eq!(field("Final viewers").as_deref(), Some("—"), "none given");
        assert_eq!(field("Went live as").as_deref(), Some("Before"));
        assert_eq!(field("Viewers"), None, "the live count is gone");
        assert!(!text.contains("a.m3u8"), "dead HLS links removed");
        assert!(text.contains("after 2 h 5 min"), "{text}");
        assert_eq!(body["components"], serde_json::json!([]));
        assert_eq!(body["content"], "**Fritzy** was live on IDN Live");
    }
}
