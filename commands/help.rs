//! `/help`: what the bot does, each provider on/off with the age of its data,
//! the version.

use chrono::Utc;

use crate::embeds::Embed;
use crate::messages::{human_duration, t, Lang};
use crate::providers::ProviderName;
use crate::snapshot::freshness_of;
use crate::snapshot::Freshness;
use crate::types::{Context, Data, Error};

/// What onair does and how fresh its data is
#[poise::command(slash_command)]
pub async fn help(ctx: Context<'_>) -> Result<(), Error> {
    let embed = help_embed(super::lang(ctx), ctx.data(), Utc::now());
    ctx.send(poise::CreateReply::default().embed(embed.to_create()))
        .await?;
    Ok(())
}

/// Pure: the help embed from the data's config and snapshot.
pub fn help_embed(lang: Lang, data: &Data, now: chrono::DateTime<Utc>) -> Embed {
    let interval = data.config.poll_interval;
    let lines: Vec<String> = ProviderName::ALL
        .iter()
        .map(|&p| {
            let on = match p {
                ProviderName::Jkt48Connect => data.providers.jkt48connect.is_some(),
                ProviderName::Konbini => data.providers.konbini.is_some(),
                ProviderName::Kitkot => data.providers.kitkot.is_some(),
                ProviderName::RealtimeKit => data.providers.realtimekit.is_some(),
            };
            let status = if !on {
                t(lang, "help-provider-off", &[])
            } else {
                match data.snapshot.state(p) {
                    None => t(lang, "help-provider-on-demand", &[]),
                    Some(state) => match (freshness_of(&state, interval, now), &state.last_error) {
                        (Freshness::Never, _) => t(lang, "help-provider-on-never", &[]),
                        (Freshness::Fresh(age) | Freshness::Stale(age), Some(_)) => t(
                            lang,
                            "help-provider-on-failing",
                            &[("age", &human_duration(lang, age))],
                        ),
                        (Freshness::Fresh(age) | Freshness::Stale(age), None) => t(
                            lang,
                            "help-provider-on",
                            &[("age", &human_duration(lang, age))],
                        ),
                    },
                }
            };
            format!("**{}**: {status}", p.as_str())
        })
        .collect();
    Embed {
        title: Some(t(lang, "help-title", &[])),
        description: Some(format!(
            "{}\n\n{}",
            t(lang, "help-about", &[]),
            [
                "help-cmd-live",
                "help-cmd-tiktok",
                "help-cmd-help",
                "help-cmd-admin"
            ]
            .iter()
            .map(|id| t(lang, id, &[]))
            .collect::<Vec<_>>()
            .join("\n")
        )),
        fields: vec![crate::embeds::Field {
            name: t(lang, "help-providers", &[]),
            value: lines.join("\n"),
            inline: false,
        }],
        footer: Some(t(
            lang,
            "help-version",
            &[("version", &env!("CARGO_PKG_VERSION"))],
        )),
        colour: Some(0x5865F2),
        ..Embed::default()
    }
}
