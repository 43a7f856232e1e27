//! Slash commands, one file per command group (design §3). Every command is
//! registered in [`all`], where shared rules are applied.

pub mod admin;
pub mod help;
pub mod live;
pub mod stream;
pub mod subscriptions;
pub mod tiktok;

use poise::serenity_prelude as serenity;

use crate::messages::t;
use crate::types::{Data, Error, UserError};

/// Every command the bot registers.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        live::live(),
        tiktok::tiktok(),
        help::help(),
        subscriptions::subscribe(),
        subscriptions::subscriptions(),
        subscriptions::unsubscribe(),
        subscriptions::subscription(),
        stream::stream(),
    ]
}

/// Up to 25 autocomplete choices: the names containing `partial`
/// (case-insensitive), sorted, without duplicates.
pub fn name_choices(
    names: impl IntoIterator<Item = String>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let partial = partial.to_lowercase();
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| n.to_lowercase().contains(&partial))
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by_key(|n| n.to_lowercase());
    let choices = names
        .into_iter()
        .take(25)
        .map(|n| {
            let n = crate::providers::truncate_chars(&n, 100);
            serenity::AutocompleteChoice::new(n.clone(), n)
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Component interactions (buttons) the commands own.
pub async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    component: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let id = component.data.custom_id.as_str();
    if id.starts_with(live::PAGE_PREFIX) {
        return live::on_page_button(ctx, data, component).await;
    }
    if [
        stream::LIST_PREFIX,
        stream::STOP_PREFIX,
        stream::CANCEL_PREFIX,
    ]
    .iter()
    .any(|p| id.starts_with(p))
    {
        return stream::on_button(ctx, data, component).await;
    }
    tracing::debug!(custom_id = %component.data.custom_id, "unhandled component");
    Ok(())
}

/// One place for every framework error: the user gets a short ephemeral
/// note, the details go to the log, and nothing panics.
pub async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let text = match error.downcast_ref::<UserError>() {
                Some(user) => user.0.clone(),
                None => {
                    tracing::error!(command = %ctx.command().qualified_name, error = %error, "command failed");
                    t("error.generic", &[])
                }
            };
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::ArgumentParse {
            error, input, ctx, ..
        } => {
            tracing::info!(command = %ctx.command().qualified_name, ?input, error = %error, "bad argument");
            let detail = crate::providers::truncate_chars(&error.to_string(), 200);
            let text = t("error.bad-argument", &[("detail", &detail)]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::GuildOnly { ctx, .. } => {
            reply_ephemeral(ctx, t("error.guild-only", &[])).await;
        }
        poise::FrameworkError::MissingUserPermissions {
            missing_permissions,
            ctx,
            ..
        } => {
            // Discord's UI calls MANAGE_GUILD "Manage Server".
            let permissions = match missing_permissions {
                Some(p) if !p.manage_guild() => p.to_string(),
                _ => "Manage Server".to_string(),
            };
            let text = t(
                "error.missing-permissions",
                &[("permissions", &permissions)],
            );
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::CooldownHit {
            remaining_cooldown,
            ctx,
            ..
        } => {
            let secs = remaining_cooldown.as_secs().max(1);
            let text = t("error.cooldown", &[("secs", &secs)]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::Setup { error, .. } => {
            tracing::error!(error = %error, "bot setup failed");
        }
        poise::FrameworkError::EventHandler { error, event, .. } => {
            tracing::error!(error = %error, event = event.snake_case_name(), "event handler failed");
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::error!(error = %e, "error while handling an error");
            }
        }
    }
}

async fn reply_ephemeral(ctx: crate::types::Context<'_>, text: String) {
    let reply = poise::CreateReply::default()
        .content(crate::providers::truncate_chars(&text, 2000))
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = ctx.send(reply).await {
        tracing::warn!(error = %e, "could not send the error reply");
    }
}
