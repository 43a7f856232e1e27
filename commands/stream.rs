//! `/stream create|list|status|stop|stats`: Cloudflare RealtimeKit
//! livestreams of the operator's app, for server admins. A stream key is a
//! secret: it only ever appears in the ephemeral reply to the admin who
//! created the stream, never in a log line.

use chrono::{Duration as ChronoDuration, Utc};
use poise::serenity_prelude as serenity;

use super::admin::{admin_guild, component_by_admin};
use super::Rule;
use crate::discord::embeds::{clean_text, Embed, Field};
use crate::messages::{t, Lang};
use crate::providers::realtimekit::{Livestream, LivestreamStatus, RealtimeKit};
use crate::providers::ProviderError;
use crate::types::{Context, Data, Error, UserError};

pub const LIST_PREFIX: &str = "stream-list:";
pub const STOP_PREFIX: &str = "stream-stop:";
pub const CANCEL_PREFIX: &str = "stream-cancel:";
const PER_PAGE: usize = 10;

/// Send one embed (and components) only to the admin who asked.
async fn reply_embed(
    ctx: Context<'_>,
    embed: &Embed,
    components: Vec<serenity::CreateActionRow>,
) -> Result<(), Error> {
    ctx.send(
        poise::CreateReply::default()
            .embed(embed.to_create())
            .components(components)
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(())
}

fn client(lang: Lang, data: &Data) -> Result<&RealtimeKit, Error> {
    data.providers
        .realtimekit
        .as_ref()
        .ok_or_else(|| UserError(t(lang, "stream-off", &[])).into())
}

/// What a provider failure means to an admin, in one line.
pub fn explain(lang: Lang, e: &ProviderError) -> String {
    match e {
        ProviderError::Unauthorized { .. } => t(lang, "stream-no-permission", &[]),
        ProviderError::NotFound { .. } => t(lang, "stream-not-found", &[]),
        ProviderError::InvalidInput { what, .. } => {
            t(lang, "error-bad-argument", &[("detail", what)])
        }
        _ => t(lang, "stream-upstream", &[]),
    }
}

/// Map a provider error to a user error, logging the details.
fn fail(lang: Lang, e: ProviderError, what: &str) -> Error {
    tracing::warn!(error = %e, operation = what, "RealtimeKit call failed");
    UserError(explain(lang, &e)).into()
}

fn ids_ok(id: &str) -> bool {
    crate::providers::ids::plain_id(id, 64)
}

fn checked_id(lang: Lang, id: &str) -> Result<String, Error> {
    let id = id.trim();
    if ids_ok(id) {
        Ok(id.to_string())
    } else {
        let shown = clean_text(id, 40).replace('`', "'");
        Err(UserError(t(lang, "stream-bad-id", &[("value", &shown)])).into())
    }
}

fn hours_minutes(lang: Lang, secs: f64) -> String {
    let secs = if secs.is_finite() && secs > 0.0 {
        secs
    } else {
        0.0
    };
    let total_min = (secs / 60.0).round() as u64;
    t(
        lang,
        "stream-hours-minutes",
        &[("h", &(total_min / 60)), ("m", &(total_min % 60))],
    )
}

fn status_badge(s: &LivestreamStatus) -> String {
    match s {
        LivestreamStatus::Live => "🔴 LIVE".into(),
        LivestreamStatus::Idle => "⚪ IDLE".into(),
        LivestreamStatus::Errored => "⚠️ ERRORED".into(),
        LivestreamStatus::Invoked => "🟡 INVOKED".into(),
        other => format!("❔ {other}"),
    }
}

/// Manage the operator's Cloudflare RealtimeKit livestreams
#[poise::command(
    slash_command,
    subcommands("create", "list", "status", "stop", "stats"),
    subcommand_required,
    custom_data = Rule::Operator
)]
pub async fn stream(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Create a livestream (the stream key is shown only to you)
#[poise::command(slash_command)]
pub async fn create(
    ctx: Context<'_>,
    #[description = "Name of the livestream"]
    #[max_length = 100]
    name: String,
) -> Result<(), Error> {
    admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let rtk = client(lang, ctx.data())?;
    let name = clean_text(&name, 100);
    if name.is_empty() {
        return Err(UserError(t(lang, "stream-bad-name", &[])).into());
    }
    ctx.defer_ephemeral().await?;
    let ls = rtk
        .create_livestream(&name)
        .await
        .map_err(|e| fail(lang, e, "create"))?;
    tracing::info!(livestream = %ls.id, user = ctx.author().id.get(), "livestream created");
    let embed = created_embed(lang, &ls);
    reply_embed(ctx, &embed, vec![]).await
}

/// Pure: the ephemeral answer to `/stream create`, with the secret key.
pub fn created_embed(lang: Lang, ls: &Livestream) -> Embed {
    let dash = "—".to_string();
    let mut fields = vec![
        Field {
            name: t(lang, "stream-id", &[]),
            value: format!("`{}`", ls.id),
            inline: false,
        },
        Field {
            name: t(lang, "stream-ingest", &[]),
            value: ls
                .ingest_server
                .as_deref()
                .map(|s| format!("`{}`", clean_text(s, 900)))
                .unwrap_or(dash.clone()),
            inline: false,
        },
        Field {
            name: t(lang, "stream-key", &[]),
            value: ls
                .stream_key
                .as_ref()
                .map(|k| format!("||`{}`||", clean_text(k.expose(), 900)))
                .unwrap_or(dash.clone()),
            inline: false,
        },
        Field {
            name: t(lang, "stream-playback", &[]),
            value: ls.playback_url.clone().unwrap_or(dash),
            inline: false,
        },
    ];
    fields.push(Field {
        name: t(lang, "stream-obs-title", &[]),
        value: t(lang, "stream-obs-hint", &[]),
        inline: false,
    });
    Embed {
        title: Some(clean_text(
            &t(
                lang,
                "stream-created",
                &[("name", &ls.name.clone().unwrap_or_else(|| ls.id.clone()))],
            ),
            256,
        )),
        fields,
        footer: Some(t(lang, "stream-secret-footer", &[])),
        colour: Some(crate::live::Platform::Realtimekit.colour()),
        ..Embed::default()
    }
}

/// Pure: one page of the livestream list.
pub fn list_page(lang: Lang, all: &[Livestream], page: usize) -> (Embed, usize, usize) {
    let pages = all.len().div_ceil(PER_PAGE).max(1);
    let page = page.min(pages - 1);
    let lines: Vec<String> = all
        .iter()
        .skip(page * PER_PAGE)
        .take(PER_PAGE)
        .map(|ls| {
            let name = crate::discord::embeds::escape_markdown(&clean_text(
                ls.name.as_deref().unwrap_or("(unnamed)"),
                80,
            ));
            let url = ls
                .playback_url
                .as_deref()
                .map(|u| format!("\n   {}", clean_text(u, 200)))
                .unwrap_or_default();
            format!("{} **{name}** · `{}`{url}", status_badge(&ls.status), ls.id)
        })
        .collect();
    let description = if lines.is_empty() {
        t(lang, "stream-none", &[])
    } else {
        lines.join("\n")
    };
    let embed = Embed {
        title: Some(t(lang, "stream-list-title", &[("count", &all.len())])),
        description: Some(clean_text(&description, 4000)),
        footer: (pages > 1).then(|| {
            t(
                lang,
                "live-page",
                &[("page", &(page + 1)), ("pages", &pages)],
            )
        }),
        colour: Some(crate::live::Platform::Realtimekit.colour()),
        ..Embed::default()
    };
    (embed, page, pages)
}

fn list_reply_parts(
    lang: Lang,
    all: &[Livestream],
    page: usize,
    invoker: u64,
) -> (Embed, Vec<serenity::CreateActionRow>) {
    let (embed, page, pages) = list_page(lang, all, page);
    let rows = if pages > 1 {
        vec![crate::discord::embeds::pager_row(lang, page, pages, |p| {
            format!("{LIST_PREFIX}{p}:{invoker}")
        })]
    } else {
        vec![]
    };
    (embed, rows)
}

/// The app's livestreams with their status
#[poise::command(slash_command)]
pub async fn list(ctx: Context<'_>) -> Result<(), Error> {
    admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let rtk = client(lang, ctx.data())?;
    ctx.defer_ephemeral().await?;
    let all = rtk
        .list_livestreams()
        .await
        .map_err(|e| fail(lang, e, "list"))?;
    let (embed, rows) = list_reply_parts(lang, &all, 0, ctx.author().id.get());
    reply_embed(ctx, &embed, rows).await
}

/// One livestream with its active session
#[poise::command(slash_command)]
pub async fn status(
    ctx: Context<'_>,
    #[description = "Livestream id (see /stream list)"]
    #[max_length = 64]
    id: String,
) -> Result<(), Error> {
    admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let rtk = client(lang, ctx.data())?;
    let id = checked_id(lang, &id)?;
    ctx.defer_ephemeral().await?;
    let detail = rtk
        .get_livestream(&id)
        .await
        .map_err(|e| fail(lang, e, "get"))?;
    // The active session is the live one; without one, the latest known.
    let session = match rtk.active_session(&id).await {
        Ok(active) => active.session.or(detail.session),
        Err(e) => {
            tracing::debug!(error = %e, "no active session");
            detail.session
        }
    };
    let ls = &detail.livestream;
    let mut fields = vec![
        Field {
            name: t(lang, "stream-status", &[]),
            value: status_badge(&ls.status),
            inline: true,
        },
        Field {
            name: t(lang, "stream-id", &[]),
            value: format!("`{}`", ls.id),
            inline: true,
        },
    ];
    if let Some(url) = &ls.playback_url {
        fields.push(Field {
            name: t(lang, "stream-playback", &[]),
            value: clean_text(url, 1000),
            inline: false,
        });
    }
    match &session {
        Some(s) => {
            if let Some(start) = s.started_time {
                fields.push(Field {
                    name: t(lang, "embed-started", &[]),
                    value: crate::discord::embeds::discord_time(start),
                    inline: false,
                });
            }
            fields.push(Field {
                name: t(lang, "stream-ingest-time", &[]),
                value: s
                    .ingest_seconds
                    .map(|v| hours_minutes(lang, v))
                    .unwrap_or_else(|| "—".into()),
                inline: true,
            });
            fields.push(Field {
                name: t(lang, "stream-viewer-time", &[]),
                value: s
                    .viewer_seconds
                    .map(|v| hours_minutes(lang, v))
                    .unwrap_or_else(|| "—".into()),
                inline: true,
            });
        }
        None => fields.push(Field {
            name: t(lang, "stream-session", &[]),
            value: t(lang, "stream-no-session", &[]),
            inline: false,
        }),
    }
    let embed = Embed {
        title: Some(clean_text(ls.name.as_deref().unwrap_or(&ls.id), 256)),
        fields,
        colour: Some(crate::live::Platform::Realtimekit.colour()),
        ..Embed::default()
    };
    reply_embed(ctx, &embed, vec![]).await
}

/// Stop a meeting's active livestream (asks to confirm first)
#[poise::command(slash_command)]
pub async fn stop(
    ctx: Context<'_>,
    #[description = "Meeting id"]
    #[max_length = 64]
    meeting_id: String,
) -> Result<(), Error> {
    admin_guild(ctx)?;
    let lang = super::lang(ctx);
    client(lang, ctx.data())?;
    let meeting_id = checked_id(lang, &meeting_id)?;
    let invoker = ctx.author().id.get();
    let confirm = serenity::CreateButton::new(format!("{STOP_PREFIX}{invoker}:{meeting_id}"))
        .label(t(lang, "stream-stop-confirm", &[]))
        .style(serenity::ButtonStyle::Danger);
    let cancel = serenity::CreateButton::new(format!("{CANCEL_PREFIX}{invoker}"))
        .label(t(lang, "stream-stop-cancel", &[]))
        .style(serenity::ButtonStyle::Secondary);
    ctx.send(
        poise::CreateReply::default()
            .content(t(lang, "stream-stop-ask", &[("meeting", &meeting_id)]))
            .components(vec![serenity::CreateActionRow::Buttons(vec![
                confirm, cancel,
            ])])
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(())
}

/// Overall livestream analytics for a period
#[poise::command(slash_command)]
pub async fn stats(
    ctx: Context<'_>,
    #[description = "Days to look back (default 30)"]
    #[min = 1]
    #[max = 365]
    days: Option<u32>,
) -> Result<(), Error> {
    admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let rtk = client(lang, ctx.data())?;
    let days = days.unwrap_or(30).clamp(1, 365);
    ctx.defer_ephemeral().await?;
    let end = Utc::now();
    let start = end - ChronoDuration::days(i64::from(days));
    let a = rtk
        .analytics_overall(Some(start), Some(end))
        .await
        .map_err(|e| fail(lang, e, "analytics"))?;
    let embed = Embed {
        title: Some(t(lang, "stream-stats-title", &[("days", &days)])),
        fields: vec![
            Field {
                name: t(lang, "stream-count", &[]),
                value: a.count.to_string(),
                inline: true,
            },
            Field {
                name: t(lang, "stream-ingest-time", &[]),
                value: hours_minutes(lang, a.total_ingest_seconds),
                inline: true,
            },
            Field {
                name: t(lang, "stream-viewer-time", &[]),
                value: hours_minutes(lang, a.total_viewer_seconds),
                inline: true,
            },
        ],
        colour: Some(crate::live::Platform::Realtimekit.colour()),
        ..Embed::default()
    };
    reply_embed(ctx, &embed, vec![]).await
}

/// Buttons of `/stream list` (pages) and `/stream stop` (confirm, cancel).
pub async fn on_button(
    ctx: &serenity::Context,
    data: &Data,
    component: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let id = component.data.custom_id.as_str();
    let lang = Lang::from_locale(&component.locale);
    let presser = component.user.id.get();
    let update = |content: String| {
        serenity::CreateInteractionResponse::UpdateMessage(
            serenity::CreateInteractionResponseMessage::new()
                .content(content)
                .components(vec![])
                .allowed_mentions(serenity::CreateAllowedMentions::new()),
        )
    };
    let refuse = |key: &str| t(lang, key, &[]);
    let in_operator_guild = component
        .guild_id
        .is_some_and(|g| data.config.operator_guild_ids.contains(&g.get()));
    if !in_operator_guild {
        return super::answer_privately(ctx, component, refuse("error-operator-only")).await;
    }
    let response = if let Some(rest) = id.strip_prefix(CANCEL_PREFIX) {
        if rest.parse::<u64>().ok() != Some(presser) {
            return super::answer_privately(ctx, component, refuse("button-not-yours")).await;
        }
        update(t(lang, "stream-stop-cancelled", &[]))
    } else if let Some(rest) = id.strip_prefix(STOP_PREFIX) {
        let Some((invoker, meeting)) = rest.split_once(':').filter(|(_, m)| ids_ok(m)) else {
            return super::answer_privately(ctx, component, refuse("button-unknown")).await;
        };
        if invoker.parse::<u64>().ok() != Some(presser) {
            return super::answer_privately(ctx, component, refuse("button-not-yours")).await;
        }
        if !component_by_admin(component) {
            let text = t(
                lang,
                "error-missing-permissions",
                &[("permissions", &"Manage Server")],
            );
            return super::answer_privately(ctx, component, text).await;
        }
        let Some(rtk) = data.providers.realtimekit.as_ref() else {
            return super::answer_privately(ctx, component, refuse("stream-off")).await;
        };
        // Acknowledge at once (the stop call may be slow), then edit.
        component
            .create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge)
            .await?;
        let text = match rtk.stop_meeting_livestream(meeting).await {
            Ok(msg) => {
                tracing::info!(meeting, user = presser, "livestream stopped");
                t(
                    lang,
                    "stream-stopped",
                    &[("meeting", &meeting), ("message", &clean_text(&msg, 300))],
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, meeting, "stop failed");
                explain(lang, &e)
            }
        };
        component
            .edit_response(
                &ctx.http,
                serenity::EditInteractionResponse::new()
                    .content(text)
                    .components(vec![])
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            )
            .await?;
        return Ok(());
    } else if let Some(rest) = id.strip_prefix(LIST_PREFIX) {
        let Some((page, invoker)) = rest.split_once(':') else {
            return super::answer_privately(ctx, component, refuse("button-unknown")).await;
        };
        if invoker.parse::<u64>().ok() != Some(presser) {
            return super::answer_privately(ctx, component, refuse("button-not-yours")).await;
        }
        let Some(rtk) = data.providers.realtimekit.as_ref() else {
            return super::answer_privately(ctx, component, refuse("stream-off")).await;
        };
        let page = page.parse().unwrap_or(0);
        // Acknowledge before the provider call (3-second deadline), then
        // edit the message in place.
        component
            .create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge)
            .await?;
        let edit = match rtk.list_livestreams().await {
            Ok(all) => {
                let (embed, rows) = list_reply_parts(lang, &all, page, presser);
                serenity::EditInteractionResponse::new()
                    .embed(embed.to_create())
                    .components(rows)
                    .allowed_mentions(serenity::CreateAllowedMentions::new())
            }
            Err(e) => {
                tracing::warn!(error = %e, "list failed");
                serenity::EditInteractionResponse::new()
                    .content(explain(lang, &e))
                    .components(vec![])
                    .allowed_mentions(serenity::CreateAllowedMentions::new())
            }
        };
        component.edit_response(&ctx.http, edit).await?;
        return Ok(());
    } else {
        return super::answer_privately(ctx, component, refuse("button-unknown")).await;
    };
    component.create_response(&ctx.http, response).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn ls(i: usize, status: LivestreamStatus) -> Livestream {
        Livestream {
            id: format!("ls-{i}"),
            name: Some(format!("Show {i}")),
            status,
            disabled: Some(false),
            meeting_id: None,
            ingest_server: Some("rtmps://live.cloudflare.test:443/live/".into()),
            stream_key: Some(Secret::new("SK-SECRET")),
            playback_url: Some(format!("https://play.test/{i}.m3u8")),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn created_embed_carries_the_key_for_the_admin() {
        let e = created_embed(Lang::En, &ls(1, LivestreamStatus::Idle));
        let text = format!("{e:?}");
        assert!(text.contains("SK-SECRET"));
        assert!(text.contains("rtmps://live.cloudflare.test:443/live/"));
        assert!(text.contains("https://play.test/1.m3u8"));
        assert!(e.char_len() < 6000);
    }

    #[test]
    fn list_pages_and_hides_keys() {
        let all: Vec<_> = (0..23).map(|i| ls(i, LivestreamStatus::Live)).collect();
        let (e, page, pages) = list_page(Lang::En, &all, 5);
        assert_eq!((page, pages), (2, 3));
        let d = e.description.unwrap();
        assert!(d.contains("ls-22") && !d.contains("ls-19"));
        assert!(!d.contains("SK-SECRET"));
        let (e, _, pages) = list_page(Lang::En, &[], 0);
        assert_eq!(pages, 1);
        assert!(e.description.unwrap().contains("No livestreams"));
        let odd = ls(1, LivestreamStatus::Unknown("PAUSED".into()));
        let (e, _, _) = list_page(Lang::En, &[odd], 0);
        assert!(e.description.unwrap().contains("PAUSED"));
    }

    #[test]
    fn hours_and_minutes() {
        assert_eq!(hours_minutes(Lang::En, 3_900.0), "1 h 5 min");
        assert_eq!(hours_minutes(Lang::En, f64::NAN), "0 h 0 min");
        assert_eq!(hours_minutes(Lang::En, -5.0), "0 h 0 min");
    }

    #[test]
    fn ids() {
        assert!(ids_ok("abc-123_X"));
        assert!(!ids_ok("../x") && !ids_ok("") && !ids_ok(&"a".repeat(65)));
    }
}
