//! The checks behind [`super::Rule::Admin`] and [`super::Rule::Operator`]:
//! Manage Server checked at run time (whatever a server did to the
//! command's default permissions), the operator-guild check, replies
//! ephemeral and mention-free.

use poise::serenity_prelude as serenity;

use super::lang;
use crate::messages::t;
use crate::types::{Context, Error, UserError};

/// The shared check of every admin command (applied by
/// [`super::Rule::Admin`]): Manage Server (or Administrator), read from the
/// interaction itself, whatever a server did to the command's default
/// permissions.
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

/// The shared check of the operator's commands: only in the guilds listed
/// in `OPERATOR_GUILD_IDS` (they are registered nowhere else; this refuses
/// a stale registration or a forged call anywhere else).
pub async fn require_operator_guild(ctx: Context<'_>) -> Result<(), Error> {
    let allowed = ctx
        .guild_id()
        .is_some_and(|g| ctx.data().config.operator_guild_ids.contains(&g.get()));
    if !allowed {
        tracing::warn!(
            user = ctx.author().id.get(),
            guild = ctx.guild_id().map(|g| g.get()),
            command = %ctx.command().qualified_name,
            "refused: operator command outside OPERATOR_GUILD_IDS"
        );
        return Err(UserError(t(lang(ctx), "error-operator-only", &[])).into());
    }
    Ok(())
}

/// The guild of an admin command (the shared checks already ran).
pub fn admin_guild(ctx: Context<'_>) -> Result<serenity::GuildId, Error> {
    ctx.guild_id()
        .ok_or_else(|| UserError(t(lang(ctx), "error-guild-only", &[])).into())
}

/// Whether a component press comes from a server admin.
pub fn component_by_admin(component: &serenity::ComponentInteraction) -> bool {
    component
        .member
        .as_ref()
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_guild() || p.administrator())
}
