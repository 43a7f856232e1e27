//! `/tiktok user:<username>`: the shared TikTok lookup (KonbiniAPI, kitkot's
//! links, one cache with the poller), cooled down per user and per server
//! because every uncached answer spends the operator's credits.

use poise::serenity_prelude as serenity;

use super::Rule;
use crate::discord::embeds::{stream_embed, watch_button};
use crate::messages::t;
use crate::providers::tiktok_cache::TiktokLookup;
use crate::providers::ProviderError;
use crate::types::{Context, Error, UserError};

/// Is this TikTok user live right now?
#[poise::command(slash_command, custom_data = Rule::Anywhere)]
pub async fn tiktok(
    ctx: Context<'_>,
    #[description = "TikTok username, with or without @"]
    #[max_length = 100]
    user: String,
) -> Result<(), Error> {
    let data = ctx.data();
    let lang = super::lang(ctx);
    let public = super::public_here(ctx);
    let Some(tiktok) = data.providers.tiktok.as_ref() else {
        return Err(UserError(t(lang, "tiktok-off", &[])).into());
    };
    let Ok(username) = crate::providers::konbini::normalize_username(&user) else {
        let shown = crate::discord::embeds::clean_text(&user, 40).replace('`', "'");
        return Err(UserError(t(lang, "tiktok-bad-user", &[("value", &shown)])).into());
    };

    // A cached or quick answer goes out directly, public when it is an
    // answer and private when it is an error. A slow one is deferred
    // ephemerally before the 3-second interaction deadline: the first
    // follow-up of a deferral inherits its visibility, so only a private
    // deferral keeps an error private.
    let lookup = match tiktok.peek(&username) {
        // A cached answer is free: no cooldown.
        Some(hit) => Ok(hit),
        None => {
            // Only a paid lookup starts the cooldown; a typo or a cached
            // answer does not.
            super::cool_down(ctx, lang)?;
            spend_lookup(ctx, lang).await?;
            super::in_time(ctx, tiktok.lookup(&username, tiktok.cache_ttl()), true).await?
        }
    };

    match lookup {
        Ok(TiktokLookup::NotLive) => {
            ctx.send(
                poise::CreateReply::default()
                    .content(t(lang, "tiktok-not-live", &[("user", &username)]))
                    .ephemeral(!public)
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            )
            .await?;
        }
        Ok(TiktokLookup::Live(stream)) => {
            let mut reply = poise::CreateReply::default()
                .content(t(lang, "tiktok-live", &[("user", &username)]))
                .embed(stream_embed(lang, &stream).to_create())
                .ephemeral(!public)
                .allowed_mentions(serenity::CreateAllowedMentions::new());
            if let Some(b) = watch_button(lang, &stream, false) {
                reply = reply.components(vec![serenity::CreateActionRow::Buttons(vec![b])]);
            }
            ctx.send(reply).await?;
        }
        Err(error) => {
            tracing::warn!(error = %error, user = %username, "/tiktok lookup failed");
            let message = match error.as_ref() {
                ProviderError::CreditsExhausted { .. } => "tiktok-credits",
                _ => "tiktok-upstream",
            };
            super::say(ctx, t(lang, message, &[])).await?;
        }
    }
    Ok(())
}

/// The store's count of paid `/tiktok` lookups per UTC day (all users and
/// servers together, apart from the poller's own spending).
const LOOKUPS_COUNTER: &str = "konbini-lookups";

/// A paid lookup is spent twice over before it leaves: from the day's
/// global `/tiktok` cap (`TIKTOK_LOOKUPS_PER_DAY`: in DMs the cooldown is
/// per user only, so many users must not drain the credits), then from the
/// same KonbiniAPI ledger the poller spends (never past
/// `KONBINI_CREDITS_PER_DAY`).
async fn spend_lookup(ctx: Context<'_>, lang: crate::messages::Lang) -> Result<(), Error> {
    let data = ctx.data();
    let now = chrono::Utc::now();
    let cap = data.config.limits.tiktok_lookups_per_day;
    let day = crate::budget::Allowance::PerDay(cap).period_key(now);
    match data.store.spend_calls(LOOKUPS_COUNTER, &day, 1, cap).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!(cap, "/tiktok lookups for today are used up");
            return Err(UserError(t(lang, "tiktok-lookups-spent", &[])).into());
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not count a /tiktok lookup");
            return Err(UserError(t(lang, "tiktok-upstream", &[])).into());
        }
    }
    let ledger = data.budgets.get(crate::providers::ProviderName::Konbini);
    if let Some(ledger) = ledger {
        if let crate::watch::ledger::Reservation::Exhausted { .. } =
            ledger.reserve_once(1, now).await
        {
            return Err(UserError(t(lang, "tiktok-budget-spent", &[])).into());
        }
    }
    Ok(())
}
