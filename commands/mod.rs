//! Slash commands, one file per command group: thin poise commands that
//! read the snapshot or the store and answer with the embeds of
//! [`crate::discord::embeds`]. Every command is listed in [`all`], which
//! applies the [`Rule`] each one declares where it is defined and takes its
//! texts from the message catalogue.

pub mod admin;
pub mod calendar;
pub mod feeds;
pub mod help;
pub mod live;
pub mod recent;
pub mod rules;
pub mod stream;
pub mod subscriptions;
pub mod tiktok;

pub use rules::{operator_commands, Rule};

use poise::serenity_prelude as serenity;

use crate::messages::{t, Lang};
use crate::types::{Data, Error, UserError};

/// The invoking user's language (Discord's `locale`).
pub fn lang(ctx: crate::types::Context<'_>) -> Lang {
    ctx.locale().map(Lang::from_locale).unwrap_or_default()
}

/// May the answer be public here? Not in a server that has not added the
/// bot (the command came through a fan's own install): there it is for the
/// fan's eyes only. In servers with the bot and in DMs, yes.
pub fn public_here(ctx: crate::types::Context<'_>) -> bool {
    let poise::Context::Application(app) = ctx else {
        return true;
    };
    let i = app.interaction;
    match i.context {
        Some(serenity::InteractionContext::Guild) => {
            i.authorizing_integration_owners.0.iter().any(|o| {
                matches!(
                    o,
                    serenity::AuthorizingIntegrationOwner::GuildInstall(Some(_))
                )
            })
        }
        _ => true,
    }
}

/// [`all`], with the rules that depend on the configuration: the `/tiktok`
/// cooldowns (every uncached answer spends KonbiniAPI credits). The
/// commands are found by the names their functions give them.
pub fn all_with(config: &crate::config::Config) -> Vec<poise::Command<Data, Error>> {
    let tiktok_name = tiktok::tiktok().name;
    let test_name = subscriptions::test().name;
    let mut commands = all();
    for c in &mut commands {
        if c.name == tiktok_name {
            let mut cooldowns = c.cooldown_config.write().unwrap_or_else(|p| p.into_inner());
            cooldowns.user = Some(config.tiktok_cooldown_user).filter(|d| !d.is_zero());
            cooldowns.guild = Some(config.tiktok_cooldown_guild).filter(|d| !d.is_zero());
        }
        // `/subscription test` posts into a channel: once per server per
        // `SUBSCRIPTION_TEST_COOLDOWN_SECS`.
        for sub in c.subcommands.iter_mut().filter(|s| s.name == test_name) {
            let mut cooldowns = sub
                .cooldown_config
                .write()
                .unwrap_or_else(|p| p.into_inner());
            cooldowns.guild = Some(config.test_cooldown).filter(|d| !d.is_zero());
        }
    }
    commands
}

/// The command's cooldowns (per user / per server, as configured in
/// [`all_with`]), checked and started here: the framework's automatic
/// cooldowns are off so a command starts them only when it spends
/// something (`/tiktok`: a paid lookup; `/subscription test`: a post).
pub(crate) fn cool_down(
    ctx: crate::types::Context<'_>,
    lang: crate::messages::Lang,
) -> Result<(), Error> {
    let cmd = ctx.command();
    let config = cmd
        .cooldown_config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut tracker = cmd.cooldowns.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(left) = tracker.remaining_cooldown(ctx.cooldown_context(), &config) {
        let secs = left.as_secs_f64().ceil().max(1.0) as u64;
        tracing::debug!(command = %cmd.qualified_name, user = ctx.author().id.get(), secs, "cooled down");
        return Err(UserError(t(lang, "error-cooldown", &[("secs", &secs)])).into());
    }
    tracker.start_cooldown(ctx.cooldown_context());
    Ok(())
}

/// Every command the bot registers, with the [`Rule`] each declares applied
/// and its English texts and Indonesian localizations taken from the
/// catalogue.
///
/// Checked at start ([`rules::check`]): a command that declares no rule
/// (or a subcommand that declares one) stops the start here, before
/// anything is registered; it must never go out without its checks.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    let mut commands = vec![
        live::live(),
        recent::recent(),
        tiktok::tiktok(),
        calendar::schedule(),
        calendar::birthdays(),
        help::help(),
        subscriptions::subscribe(),
        subscriptions::subscriptions(),
        subscriptions::unsubscribe(),
        subscriptions::subscription(),
        feeds::calendar(),
        stream::stream(),
    ];
    if let Err(e) = rules::check(&commands) {
        panic!("{e}");
    }
    for c in &mut commands {
        let path = c.name.to_string();
        localize(c, &path);
        if let Some(rule) = Rule::of(c) {
            rule.apply(c);
        }
    }
    commands
}

/// The catalogue id of the label of choice `value` (the index poise
/// registers as the choice's value) of the option named `option`, by the
/// choice type that option takes; `None` for an option without choices.
fn choice_id(option: &str, value: usize) -> Option<&'static str> {
    use poise::ChoiceParameter;
    match option {
        "platform" => live::PlatformChoice::from_index(value).map(live::PlatformChoice::message_id),
        "language" => subscriptions::LanguageChoice::from_index(value)
            .map(subscriptions::LanguageChoice::message_id),
        "identity" => subscriptions::IdentityChoice::from_index(value)
            .map(subscriptions::IdentityChoice::message_id),
        _ => None,
    }
}

fn id_pair(
    id: &str,
) -> (
    std::borrow::Cow<'static, str>,
    std::borrow::Cow<'static, str>,
) {
    ("id".into(), t(Lang::Id, id, &[]).into())
}

/// Descriptions (English) and `id` localizations of a command, its
/// parameters, their choices and its subcommands, from the catalogue, all
/// keyed by name, never by English text: `cmd-<path>-name|desc`,
/// `opt-<path>-<param>-name|desc`, and for choices the id [`choice_id`]
/// gives by option name and choice value (their English label comes from
/// the catalogue too, so rewording it in either place loses no
/// translation).
fn localize(cmd: &mut poise::Command<Data, Error>, path: &str) {
    cmd.description = Some(t(Lang::En, &format!("cmd-{path}-desc"), &[]).into());
    cmd.name_localizations = vec![id_pair(&format!("cmd-{path}-name"))].into();
    cmd.description_localizations = vec![id_pair(&format!("cmd-{path}-desc"))].into();
    for p in &mut cmd.parameters {
        let key = format!("opt-{path}-{}", p.name);
        p.description = Some(t(Lang::En, &format!("{key}-desc"), &[]).into());
        p.name_localizations = vec![id_pair(&format!("{key}-name"))].into();
        p.description_localizations = vec![id_pair(&format!("{key}-desc"))].into();
        for (value, c) in p.choices.to_mut().iter_mut().enumerate() {
            if let Some(id) = choice_id(&p.name, value) {
                c.name = t(Lang::En, id, &[]).into();
                c.localizations = vec![id_pair(id)].into();
            }
        }
    }
    for sub in &mut cmd.subcommands {
        let sub_path = format!("{path}-{}", sub.name);
        localize(sub, &sub_path);
    }
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
            let n = crate::text::truncate_chars(&n, 100);
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
    if id.starts_with(calendar::PAGE_PREFIX) {
        return calendar::on_page_button(ctx, data, component).await;
    }
    if id.starts_with(recent::PAGE_PREFIX) {
        return recent::on_page_button(ctx, data, component).await;
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
    let lang = Lang::from_locale(&component.locale);
    answer_privately(ctx, component, t(lang, "button-unknown", &[])).await
}

/// One place for every framework error: the user gets a short ephemeral
/// note, the details go to the log, and nothing panics.
pub async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let lang = lang(ctx);
            let text = match error.downcast_ref::<UserError>() {
                Some(user) => user.0.clone(),
                None => {
                    tracing::error!(command = %ctx.command().qualified_name, error = %error, "command failed");
                    t(lang, "error-generic", &[])
                }
            };
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::ArgumentParse {
            error, input, ctx, ..
        } => {
            let lang = lang(ctx);
            tracing::info!(command = %ctx.command().qualified_name, ?input, error = %error, "bad argument");
            let detail = crate::text::truncate_chars(&error.to_string(), 200);
            let text = t(lang, "error-bad-argument", &[("detail", &detail)]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::GuildOnly { ctx, .. } => {
            let text = t(lang(ctx), "error-guild-only", &[]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::MissingUserPermissions {
            missing_permissions,
            ctx,
            ..
        } => {
            let lang = lang(ctx);
            // Discord's UI calls MANAGE_GUILD "Manage Server".
            let permissions = match missing_permissions {
                Some(p) if !p.manage_guild() => p.to_string(),
                _ => "Manage Server".to_string(),
            };
            let text = t(
                lang,
                "error-missing-permissions",
                &[("permissions", &permissions)],
            );
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::CooldownHit {
            remaining_cooldown,
            ctx,
            ..
        } => {
            let lang = lang(ctx);
            let secs = remaining_cooldown.as_secs().max(1);
            let text = t(lang, "error-cooldown", &[("secs", &secs)]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::CommandCheckFailed { error, ctx, .. } => {
            let lang = lang(ctx);
            let text = match error {
                Some(e) => match e.downcast_ref::<UserError>() {
                    Some(user) => user.0.clone(),
                    None => {
                        tracing::error!(command = %ctx.command().qualified_name, error = %e, "command check failed");
                        t(lang, "error-generic", &[])
                    }
                },
                None => t(lang, "error-not-allowed", &[]),
            };
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::SubcommandRequired { ctx } => {
            let text = t(lang(ctx), "error-subcommand-required", &[]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::NotAnOwner { ctx, .. }
        | poise::FrameworkError::DmOnly { ctx, .. }
        | poise::FrameworkError::NsfwOnly { ctx, .. } => {
            let text = t(lang(ctx), "error-not-allowed", &[]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::MissingBotPermissions {
            missing_permissions,
            ctx,
            ..
        } => {
            let text = t(
                lang(ctx),
                "error-bot-missing-permissions",
                &[("permissions", &missing_permissions.to_string())],
            );
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::CommandStructureMismatch {
            description, ctx, ..
        } => {
            tracing::warn!(command = %ctx.command().qualified_name, description, "command out of date (registration pending?)");
            let reply = out_of_date(&ctx.interaction.locale);
            if let Err(e) = ctx
                .interaction
                .create_response(ctx.serenity_context(), reply)
                .await
            {
                tracing::warn!(error = %e, "could not send the error reply");
            }
        }
        poise::FrameworkError::Setup { error, .. } => {
            tracing::error!(error = %error, "bot setup failed");
        }
        poise::FrameworkError::EventHandler { error, event, .. } => {
            tracing::error!(error = %error, event = event.snake_case_name(), "event handler failed");
        }
        poise::FrameworkError::CommandPanic { payload, ctx, .. } => {
            tracing::error!(command = %ctx.command().qualified_name, panic = payload.as_deref().unwrap_or("?"), "command panicked");
            let text = t(lang(ctx), "error-generic", &[]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::PermissionFetchFailed { ctx, .. } => {
            tracing::warn!(command = %ctx.command().qualified_name, "could not fetch permissions");
            let text = t(lang(ctx), "error-generic", &[]);
            reply_ephemeral(ctx, text).await;
        }
        poise::FrameworkError::UnknownInteraction {
            framework,
            interaction,
            ..
        } => {
            // A command Discord still has registered but this build does
            // not know (a registration from an older version).
            tracing::warn!(command = %interaction.data.name, "unknown command invoked");
            let reply = out_of_date(&interaction.locale);
            if let Err(e) = interaction
                .create_response(framework.serenity_context, reply)
                .await
            {
                tracing::warn!(error = %e, "could not send the error reply");
            }
        }
        // Prefix commands are off (no message content intent): nothing to
        // answer, only to log.
        other => {
            tracing::warn!(error = %other, "framework error");
        }
    }
}

/// A paged answer (`/live`, `/recent`): mention-free, and for the invoker
/// only where the bot is not in the server.
pub async fn send_page(
    ctx: crate::types::Context<'_>,
    content: String,
    embeds: &[crate::discord::embeds::Embed],
    components: Vec<serenity::CreateActionRow>,
) -> Result<(), Error> {
    let reply = poise::CreateReply::default()
        .content(content)
        .components(components)
        .ephemeral(!public_here(ctx))
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    let reply = embeds.iter().fold(reply, |r, e| r.embed(e.to_create()));
    ctx.send(reply).await?;
    Ok(())
}

/// A Previous/Next press on a paged answer whose buttons carry
/// [`live::filter_page_id`] ids under `prefix`: the page, its invoker and
/// filter when the presser is the one who ran the command. Otherwise the
/// presser is told why (`not_yours`, or a malformed id) privately, here,
/// and `None` comes back.
pub async fn page_press(
    ctx: &serenity::Context,
    component: &serenity::ComponentInteraction,
    prefix: &str,
    not_yours: &str,
) -> Result<Option<(usize, u64, live::LiveFilter)>, Error> {
    let lang = Lang::from_locale(&component.locale);
    let Some((page, invoker, filter)) =
        live::parse_filter_page_id(prefix, &component.data.custom_id)
    else {
        tracing::warn!(custom_id = %component.data.custom_id, "malformed page button id");
        answer_privately(ctx, component, t(lang, "button-unknown", &[])).await?;
        return Ok(None);
    };
    if invoker != component.user.id.get() {
        answer_privately(ctx, component, t(lang, not_yours, &[])).await?;
        return Ok(None);
    }
    Ok(Some((page, invoker, filter)))
}

/// How long a command waits for an upstream answer before deferring
/// (Discord's deadline for the first answer is 3 s).
pub const DIRECT_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_millis(2000);

/// `work`'s result; when it takes longer than [`DIRECT_ANSWER_WITHIN`],
/// the interaction is deferred first (`privately`: ephemerally; the first
/// follow-up of a deferral inherits its visibility).
pub async fn in_time<T>(
    ctx: crate::types::Context<'_>,
    work: impl std::future::Future<Output = T>,
    privately: bool,
) -> Result<T, Error> {
    tokio::pin!(work);
    match tokio::time::timeout(DIRECT_ANSWER_WITHIN, &mut work).await {
        Ok(done) => Ok(done),
        Err(_) => {
            if privately {
                ctx.defer_ephemeral().await?;
            } else {
                ctx.defer().await?;
            }
            Ok(work.await)
        }
    }
}

/// Show the page a Previous/Next button points at, in place.
pub async fn turn_page(
    ctx: &serenity::Context,
    component: &serenity::ComponentInteraction,
    content: String,
    embeds: &[crate::discord::embeds::Embed],
    components: Vec<serenity::CreateActionRow>,
) -> Result<(), Error> {
    let response = serenity::CreateInteractionResponse::UpdateMessage(
        serenity::CreateInteractionResponseMessage::new()
            .content(content)
            .embeds(embeds.iter().map(|e| e.to_create()).collect())
            .components(components)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    );
    component.create_response(&ctx.http, response).await?;
    Ok(())
}

/// An ephemeral, mention-free reply.
pub async fn say(ctx: crate::types::Context<'_>, text: String) -> Result<(), Error> {
    ctx.send(
        poise::CreateReply::default()
            .content(crate::text::truncate_chars(&text, 2000))
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(())
}

/// The private answer to a command Discord knows and this build does not
/// (registration pending): raw, as poise has no context for it.
fn out_of_date(locale: &str) -> serenity::CreateInteractionResponse {
    serenity::CreateInteractionResponse::Message(
        serenity::CreateInteractionResponseMessage::new()
            .content(t(Lang::from_locale(locale), "error-out-of-date", &[]))
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
}

/// [`say`] for an error reply: a failure to send is only logged.
async fn reply_ephemeral(ctx: crate::types::Context<'_>, text: String) {
    if let Err(e) = say(ctx, text).await {
        tracing::warn!(error = %e, "could not send the error reply");
    }
}

/// A button that cannot act says why, to the presser only.
pub async fn answer_privately(
    ctx: &serenity::Context,
    component: &serenity::ComponentInteraction,
    text: String,
) -> Result<(), Error> {
    component
        .create_response(
            &ctx.http,
            serenity::CreateInteractionResponse::Message(
                serenity::CreateInteractionResponseMessage::new()
                    .content(crate::text::truncate_chars(&text, 2000))
                    .ephemeral(true)
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            ),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn id_localization(id: &str) -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
        vec![("id".into(), t(Lang::Id, id, &[]).into())]
    }

    /// Every choice of every option takes its label and its `id`
    /// localization from the catalogue, by option name and choice value.
    #[test]
    fn every_choice_is_localized_by_its_id() {
        fn walk(c: &poise::Command<Data, Error>, seen: &mut Vec<&'static str>) {
            for p in &c.parameters {
                for (value, choice) in p.choices.iter().enumerate() {
                    let Some(id) = choice_id(&p.name, value) else {
                        panic!(
                            "/{} {}: choice {value} has no catalogue id",
                            c.qualified_name, p.name
                        );
                    };
                    assert_ne!(t(Lang::Id, id, &[]), id, "{id} is not in the catalogue");
                    assert_eq!(choice.name, t(Lang::En, id, &[]));
                    assert_eq!(choice.localizations.to_vec(), id_localization(id));
                    seen.push(id);
                }
            }
            for s in &c.subcommands {
                walk(s, seen);
            }
        }
        let mut seen = Vec::new();
        for c in &all() {
            walk(c, &mut seen);
        }
        // `platform` on /live, /recent and /subscribe; `language` and
        // `identity`; `language` on each of /calendar's five feeds.
        assert_eq!(seen.len(), 5 * 3 + 2 + 2 + 5 * 2, "{seen:?}");
        assert!(seen.contains(&"choice-identity-member"));
    }

    /// A choice keeps its translation when its English label in the code
    /// changes: the label and the translation both come from its id.
    #[test]
    fn choice_translations_do_not_follow_english_text() {
        let mut cmd = subscriptions::subscribe();
        for p in &mut cmd.parameters {
            for c in p.choices.to_mut() {
                c.name = "Reworded".into();
                c.localizations = Vec::new().into();
            }
        }
        localize(&mut cmd, "subscribe");
        let language = cmd.parameters.iter().find(|p| p.name == "language");
        let choices = &language.expect("a language option").choices;
        assert_eq!(choices[0].name, "English");
        assert_eq!(
            choices[0].localizations.to_vec(),
            id_localization("choice-language-en")
        );
        assert_eq!(t(Lang::Id, "choice-language-en", &[]), "Bahasa Inggris");
        assert_eq!(choices[1].name, "Indonesian");
    }
}
