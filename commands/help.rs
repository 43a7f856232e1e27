//! `/help`: what the bot does, each provider on/off with the age of its data,
//! the version.

use chrono::Utc;

use super::Rule;
use crate::discord::embeds::Embed;
use crate::messages::{human_duration, t, Lang};
use crate::providers::ProviderName;
use crate::types::{Context, Data, Error};
use crate::watch::snapshot::freshness_of;
use crate::watch::snapshot::Freshness;

/// What onair does and how fresh its data is
#[poise::command(slash_command, custom_data = Rule::Server)]
pub async fn help(ctx: Context<'_>) -> Result<(), Error> {
    let embed = help_embed(super::lang(ctx), ctx.data(), Utc::now());
    ctx.send(poise::CreateReply::default().embed(embed.to_create()))
        .await?;
    Ok(())
}

/// Pure: the help embed from the data's config, snapshot and budgets.
pub fn help_embed(lang: Lang, data: &Data, now: chrono::DateTime<Utc>) -> Embed {
    // One field per provider: each stays within Discord's 1024 characters
    // per field whatever its notes say.
    let fields: Vec<crate::discord::embeds::Field> = ProviderName::ALL
        .iter()
        .map(|&p| {
            let interval = data
                .budgets
                .get(p)
                .map(|l| l.schedule.interval)
                .unwrap_or(data.config.poll_interval);
            let mut status = if !data.providers.is_on(p) {
                t(lang, "help-provider-off", &[])
            } else {
                match data.snapshot.state(p) {
                    None => t(lang, "help-provider-on-demand", &[]),
                    Some(state) => provider_status(lang, &state, interval, now),
                }
            };
            if let Some(r) = data.budgets.get(p).and_then(|l| l.report(now)) {
                status.push('\n');
                status.push_str(&budget_line(lang, &r));
                if p == ProviderName::Jkt48Connect {
                    let share =
                        crate::calendar::share(Some(r.allowance), data.config.calendar_refresh);
                    status.push('\n');
                    status.push_str(&calendar_share_line(lang, &share));
                }
            }
            let rotation = match p {
                ProviderName::Konbini => data.providers.tiktok.as_ref().and_then(|t| t.rotation()),
                _ => None,
            };
            if let Some(r) = rotation {
                status.push('\n');
                status.push_str(&rotation_line(lang, &r));
            }
            crate::discord::embeds::Field {
                name: p.as_str().to_string(),
                value: crate::text::truncate_chars(
                    &status,
                    crate::discord::embeds::MAX_FIELD_VALUE,
                ),
                inline: false,
            }
        })
        .collect();
    Embed {
        title: Some(t(lang, "help-title", &[])),
        description: Some(format!(
            "{}\n\n{}",
            t(lang, "help-about", &[]),
            [
                "help-cmd-live",
                "help-cmd-recent",
                "help-cmd-tiktok",
                "help-cmd-calendar",
                "help-cmd-help",
                "help-cmd-admin",
                "help-cmd-anywhere"
            ]
            .iter()
            .map(|id| t(lang, id, &[]))
            .collect::<Vec<_>>()
            .join("\n")
        )),
        fields,
        footer: Some(t(
            lang,
            "help-version",
            &[("version", &env!("CARGO_PKG_VERSION"))],
        )),
        colour: Some(0x5865F2),
        ..Embed::default()
    }
}

/// One provider's state: halted (and why), failing, stale or fresh.
fn provider_status(
    lang: Lang,
    state: &crate::watch::snapshot::SourceState,
    interval: std::time::Duration,
    now: chrono::DateTime<Utc>,
) -> String {
    if let Some(why) = &state.halted {
        return t(
            lang,
            "help-provider-halted",
            &[("why", &crate::discord::embeds::clean_text(why, 200))],
        );
    }
    match (freshness_of(state, interval, now), &state.last_error) {
        (Freshness::Never, _) => t(lang, "help-provider-on-never", &[]),
        (Freshness::Fresh(age) | Freshness::Stale(age), Some(_)) => t(
            lang,
            "help-provider-on-failing",
            &[("age", &human_duration(lang, age))],
        ),
        (Freshness::Stale(age), None) => t(
            lang,
            "help-provider-stale",
            &[("age", &human_duration(lang, age))],
        ),
        (Freshness::Fresh(age), None) => t(
            lang,
            "help-provider-on",
            &[("age", &human_duration(lang, age))],
        ),
    }
}

/// "12 TikTok usernames watched: 1 looked up per poll, each one about every 2 h"
pub fn rotation_line(lang: Lang, r: &crate::providers::tiktok_poll::Rotation) -> String {
    t(
        lang,
        "help-tiktok-rotation",
        &[
            ("watched", &r.watched),
            ("per_poll", &r.per_poll),
            ("every", &human_duration(lang, r.each_every)),
        ],
    )
}

/// "budget 5000 calls/month: 1234 spent, about 40 left at the period end; …"
pub fn budget_line(lang: Lang, r: &crate::watch::ledger::BudgetReport) -> String {
    t(
        lang,
        "help-budget",
        &[
            ("allowance", &r.allowance.calls()),
            ("unit", &r.allowance.unit()),
            ("used", &r.used),
            ("left", &r.forecast.projected_balance),
            ("busy", &human_duration(lang, r.forecast.busiest_interval)),
            ("quiet", &human_duration(lang, r.forecast.quietest_interval)),
            ("delay", &human_duration(lang, r.forecast.mean_delay)),
        ],
    )
}

/// The calendar's share of the JKT48Connect key, list by list.
pub fn calendar_share_line(lang: Lang, share: &crate::calendar::Share) -> String {
    let lists = share.lists_text();
    match share.left {
        Some(left) => t(
            lang,
            "help-calendar-share",
            &[("most", &share.most), ("lists", &lists), ("left", &left)],
        ),
        None => t(
            lang,
            "help-calendar-share-unmetered",
            &[("most", &share.most), ("lists", &lists)],
        ),
    }
}
