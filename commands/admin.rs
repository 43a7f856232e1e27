//! Shared rules of the admin commands: Manage Server checked at run time
//! (whatever a server did to the command's default permissions), replies
//! ephemeral and mention-free.

use poise::serenity_prelude as serenity;

use super::lang;
use crate::messages::t;
use crate::types::{Context, Error, UserError};

/// The guild, if the invoker may manage it; a user error otherwise.
pub async fn require_admin(ctx: Context<'_>) -> Result<serenity::GuildId, Error> {
    let lang = lang(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Err(UserError(t(lang, "error-guild-only", &[])).into());
    };
    let allowed = match ctx {
        poise::Context::Application(app) => app
            .interaction
            .member
            .as_ref()
            .and_then(|m| m.permissions)
            .is_some_and(|p| p.manage_guild() || p.administrator()),
        poise::Context::Prefix(_) => false,
    };
    if !allowed {
        tracing::info!(user = ctx.author().id.get(), command = %ctx.command().qualified_name, "refused: not a server admin");
        return Err(UserError(t(
            lang,
            "error-missing-permissions",
            &[("permissions", &"Manage Server")],
        ))
        .into());
    }
    Ok(guild_id)
}

/// Whether a component press comes from a server admin.
pub fn component_by_admin(component: &serenity::ComponentInteraction) -> bool {
    component
        .member
        .as_ref()
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_guild() || p.administrator())
}

/// An ephemeral, mention-free reply.
pub async fn say(ctx: Context<'_>, text: String) -> Result<(), Error> {
    ctx.send(
        poise::CreateReply::default()
            .content(crate::providers::truncate_chars(&text, 2000))
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(())
}
