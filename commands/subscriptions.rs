//! Admin setup (guild only, Manage Server, replies ephemeral):
//! `/subscribe`, `/subscriptions`, `/unsubscribe`, `/subscription test`.

use poise::serenity_prelude as serenity;

use super::admin::admin_guild;
use super::live::PlatformChoice;
use super::{say, Rule};
use crate::announce::message::{live_edit_body, sample_stream};
use crate::discord::embeds::clean_text;
use crate::discord::invite::{
    CHANNEL_PERMISSIONS, ROLE_PING_PERMISSION, THREAD_PERMISSION, WEBHOOK_PERMISSION,
};
use crate::limits::Refusal;
use crate::live::Platform;
use crate::messages::{t, Lang};
use crate::store::{Identity, NewSubscription, Subscription};
use crate::types::{Context, Error, UserError};

/// Longest template an admin may save (content is capped at 2000 anyway).
pub const MAX_TEMPLATE: usize = 1000;

/// What a subscription needs beyond the basics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wants {
    /// Ping a role that is not mentionable.
    pub role_ping: bool,
    /// Post as the member, through a channel webhook.
    pub webhooks: bool,
    /// Start a thread on each announcement.
    pub threads: bool,
}

/// What the bot lacks in a channel to announce there as asked.
pub fn missing_permissions(have: serenity::Permissions, wants: Wants) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if have.administrator() {
        return missing;
    }
    for (permission, name, _) in CHANNEL_PERMISSIONS {
        if !have.contains(permission) {
            missing.push(name);
        }
    }
    for (wanted, (permission, name)) in [
        (wants.role_ping, ROLE_PING_PERMISSION),
        (wants.webhooks, WEBHOOK_PERMISSION),
        (wants.threads, THREAD_PERMISSION),
    ] {
        if wanted && !have.contains(permission) {
            missing.push(name);
        }
    }
    missing
}

/// What the admin who runs `/subscribe` lacks in the chosen channel: an
/// admin acts within their own rights, so the bot never posts where they
/// cannot see or write, nor pings a role they could not ping themselves
/// (a role that is not mentionable needs Mention Everyone).
pub fn member_missing(have: serenity::Permissions, pings_unmentionable: bool) -> Vec<&'static str> {
    if have.administrator() {
        return Vec::new();
    }
    let needed = serenity::Permissions::VIEW_CHANNEL | serenity::Permissions::SEND_MESSAGES;
    let mut missing: Vec<&'static str> = CHANNEL_PERMISSIONS
        .iter()
        .filter(|(p, _, _)| needed.contains(*p) && !have.contains(*p))
        .map(|(_, name, _)| *name)
        .collect();
    let (ping, name) = ROLE_PING_PERMISSION;
    if pings_unmentionable && !have.contains(ping) {
        missing.push(name);
    }
    missing
}

/// The invoking member's permissions in `channel`, as Discord computed
/// them for the interaction (the `resolved` channel's `permissions`).
fn invoker_permissions_in(
    ctx: Context<'_>,
    channel: serenity::ChannelId,
) -> Option<serenity::Permissions> {
    match ctx {
        poise::Context::Application(app) => app
            .interaction
            .data
            .resolved
            .channels
            .get(&channel)
            .and_then(|c| c.permissions),
        poise::Context::Prefix(_) => None,
    }
}

/// The bot's effective permissions in `channel` (REST: guild, member, channel).
async fn bot_permissions(
    ctx: Context<'_>,
    guild_id: serenity::GuildId,
    channel: &serenity::GuildChannel,
) -> Result<serenity::Permissions, Error> {
    let http = ctx.http();
    let bot_id = ctx.framework().bot_id();
    let guild = http.get_guild(guild_id).await?;
    let member = http.get_member(guild_id, bot_id).await?;
    Ok(guild.user_permissions_in(channel, &member))
}

async fn autocomplete_member(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let data = ctx.data();
    let live = data.snapshot.streams().into_iter().map(|s| s.name);
    let seen = data.seen_members.iter().map(|e| e.key().clone());
    super::name_choices(live.chain(seen).collect::<Vec<_>>(), partial)
}

/// Announce new lives in a channel
#[allow(clippy::too_many_arguments)]
#[poise::command(slash_command, custom_data = Rule::Admin)]
pub async fn subscribe(
    ctx: Context<'_>,
    #[description = "Channel to announce in"]
    #[channel_types("Text", "News")]
    channel: serenity::GuildChannel,
    #[description = "Only this platform"] platform: Option<PlatformChoice>,
    #[description = "Only this member"]
    #[autocomplete = "autocomplete_member"]
    #[max_length = 100]
    member: Option<String>,
    #[description = "A TikTok username to follow"]
    #[max_length = 100]
    tiktok: Option<String>,
    #[description = "A Cloudflare RealtimeKit livestream id to follow"]
    #[max_length = 64]
    livestream: Option<String>,
    #[description = "Role to ping"] role: Option<serenity::Role>,
    #[description = "Message template: {name} {platform} {title} {url} {role}"]
    #[max_length = 1000]
    template: Option<String>,
    #[description = "Language of the announcements (default: the server's)"] language: Option<
        LanguageChoice,
    >,
    #[description = "Post as the bot (default) or as the member, with her name and picture"]
    identity: Option<IdentityChoice>,
    #[description = "Start a discussion thread on each announcement"] thread: Option<bool>,
) -> Result<(), Error> {
    let guild_id = admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let tiktok = match tiktok.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match crate::providers::konbini::normalize_username(raw) {
            Ok(u) => Some(u),
            Err(_) => {
                let shown = clean_text(raw, 40).replace('`', "'");
                return Err(UserError(t(lang, "tiktok-bad-user", &[("value", &shown)])).into());
            }
        },
    };
    let livestream = match livestream
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(id) if crate::providers::ids::plain_id(id, 64) => Some(id.to_string()),
        Some(id) => {
            let shown = clean_text(id, 40).replace('`', "'");
            return Err(
                UserError(t(lang, "subscribe-bad-livestream", &[("value", &shown)])).into(),
            );
        }
    };
    let template = template
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if template
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_TEMPLATE)
    {
        return Err(UserError(t(
            lang,
            "subscribe-template-too-long",
            &[("max", &MAX_TEMPLATE)],
        ))
        .into());
    }
    let member = member
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    // A member filter covers the curated members only; with a named source
    // it would compare a name the account's owner sets (the isolation rule).
    if member.is_some() && (tiktok.is_some() || livestream.is_some()) {
        return Err(UserError(t(lang, "subscribe-member-with-source", &[])).into());
    }
    let mut platform = platform.map(Platform::from);
    if tiktok.is_some() {
        platform = Some(Platform::Tiktok);
    }
    if livestream.is_some() {
        platform = Some(Platform::Realtimekit);
    }

    let identity = match identity {
        Some(IdentityChoice::Member) => Identity::Member,
        _ => Identity::Bot,
    };
    let thread = thread.unwrap_or(false);
    let wants = Wants {
        role_ping: false,
        webhooks: identity == Identity::Member,
        threads: thread,
    };
    if let Some(refusal) = admit(
        ctx,
        guild_id,
        &channel,
        role.as_ref(),
        wants,
        tiktok.as_deref(),
    )
    .await?
    {
        return say(ctx, refusal).await;
    }

    let sub = ctx
        .data()
        .store
        .add_subscription(NewSubscription {
            guild_id: guild_id.get(),
            channel_id: channel.id.get(),
            platform,
            member,
            tiktok,
            realtimekit_id: livestream,
            role_id: role.map(|r| r.id.get()),
            template,
            language: Some(announcement_language(ctx, language).code().to_string()),
            created_by: ctx.author().id.get(),
            identity,
            thread,
            calendar: None,
        })
        .await?;
    tracing::info!(
        subscription = sub.id,
        guild = guild_id.get(),
        channel = sub.channel_id,
        "subscribed"
    );
    if identity == Identity::Member {
        // Made now, so the first go-live posts at once; if this fails the
        // announcer makes it on first use (or says why it cannot).
        if let Err(e) = ready_webhook(ctx, sub.channel_id).await {
            tracing::warn!(channel = sub.channel_id, error = %e, "could not make the channel's webhook yet");
        }
    }
    say(
        ctx,
        t(
            lang,
            "subscribe-saved",
            &[("id", &sub.id), ("what", &describe(lang, &sub))],
        ),
    )
    .await
}

/// The checks every new subscription passes, live or calendar, in order:
/// the channel is this server's; the role is not @everyone; the admin may
/// see and write there (and ping the role); within the server's limits;
/// the bot has what it needs there (`wants`, plus Mention Everyone for a
/// role that is not mentionable). `Err`: said privately at once;
/// `Ok(Some(text))`: the refusal to say (the reply is deferred by then);
/// `Ok(None)`: admitted.
pub(super) async fn admit(
    ctx: Context<'_>,
    guild_id: serenity::GuildId,
    channel: &serenity::GuildChannel,
    role: Option<&serenity::Role>,
    wants: Wants,
    tiktok: Option<&str>,
) -> Result<Option<String>, Error> {
    let lang = super::lang(ctx);
    if channel.guild_id != guild_id {
        return Err(UserError(t(lang, "subscribe-other-guild", &[])).into());
    }
    // The server's @everyone role (its id is the guild's): a ping for
    // everyone on every post is refused, not silently saved.
    if role.is_some_and(|r| r.id.get() == guild_id.get()) {
        return Err(UserError(t(lang, "subscribe-everyone-role", &[])).into());
    }
    let pings_unmentionable = role.is_some_and(|r| !r.mentionable);
    let Some(yours) = invoker_permissions_in(ctx, channel.id) else {
        return Err(UserError(t(lang, "subscribe-you-unknown", &[])).into());
    };
    let you_lack = member_missing(yours, pings_unmentionable);
    if !you_lack.is_empty() {
        return Err(UserError(t(
            lang,
            "subscribe-you-missing",
            &[
                ("channel", &format!("<#{}>", channel.id)),
                ("missing", &you_lack.join(", ")),
            ],
        ))
        .into());
    }
    let wants = Wants {
        role_ping: pings_unmentionable,
        ..wants
    };
    // The permission check asks Discord: answer within the 3-second
    // deadline first (privately, as every admin reply).
    ctx.defer_ephemeral().await?;
    if let Some(refusal) = over_limit(ctx, guild_id.get(), tiktok).await? {
        return Ok(Some(refusal_text(lang, &refusal)));
    }
    let have = bot_permissions(ctx, guild_id, channel).await?;
    let missing = missing_permissions(have, wants);
    if !missing.is_empty() {
        return Ok(Some(t(
            lang,
            "subscribe-missing",
            &[
                ("channel", &format!("<#{}>", channel.id)),
                ("missing", &missing.join(", ")),
            ],
        )));
    }
    Ok(None)
}

/// Whether one more subscription (naming `tiktok`) would pass a limit.
async fn over_limit(
    ctx: Context<'_>,
    guild_id: u64,
    tiktok: Option<&str>,
) -> Result<Option<Refusal>, Error> {
    let data = ctx.data();
    let existing = data.store.list_subscriptions(guild_id).await?;
    let all = match tiktok {
        Some(_) => data.store.tiktok_usernames().await?,
        None => Vec::new(),
    };
    Ok(crate::limits::admit(&existing, tiktok, &all, &data.config.limits).err())
}

/// What a refusal tells the admin: the limit, and what to remove.
pub fn refusal_text(lang: Lang, refusal: &Refusal) -> String {
    match refusal {
        Refusal::Subscriptions { limit } => {
            t(lang, "subscribe-limit-subscriptions", &[("limit", limit)])
        }
        Refusal::GuildTiktok { limit, names } => {
            let names = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            t(
                lang,
                "subscribe-limit-tiktok",
                &[("limit", limit), ("names", &names)],
            )
        }
        Refusal::TotalTiktok { limit } => {
            t(lang, "subscribe-limit-tiktok-total", &[("limit", limit)])
        }
    }
}

/// The channel's webhook for member posts: the one onair has, or a new one.
async fn ready_webhook(ctx: Context<'_>, channel: u64) -> Result<(), Error> {
    let data = ctx.data();
    if data.store.channel_webhook(channel).await?.is_some() {
        return Ok(());
    }
    let (id, token) = data
        .rest
        .create_webhook(channel, crate::outbox::webhook::WEBHOOK_NAME)
        .await?;
    data.store.save_webhook(id, channel, &token).await?;
    tracing::info!(channel, webhook = id, "channel webhook ready");
    Ok(())
}

/// The announcements' language: the admin's choice, else the server's
/// locale as Discord reports it.
pub(super) fn announcement_language(ctx: Context<'_>, choice: Option<LanguageChoice>) -> Lang {
    match choice {
        Some(LanguageChoice::En) => Lang::En,
        Some(LanguageChoice::Id) => Lang::Id,
        None => match ctx {
            poise::Context::Application(app) => app
                .interaction
                .guild_locale
                .as_deref()
                .map(Lang::from_locale)
                .unwrap_or_default(),
            poise::Context::Prefix(_) => Lang::En,
        },
    }
}

/// The `identity:` option; labels from the catalogue, by
/// [`IdentityChoice::message_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum IdentityChoice {
    #[name = "The bot"]
    Bot,
    #[name = "The member"]
    Member,
}

impl IdentityChoice {
    /// The catalogue id of this choice's label.
    pub fn message_id(self) -> &'static str {
        match self {
            IdentityChoice::Bot => "choice-identity-bot",
            IdentityChoice::Member => "choice-identity-member",
        }
    }
}

/// The `language:` option; labels from the catalogue, by
/// [`LanguageChoice::message_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum LanguageChoice {
    #[name = "English"]
    En,
    #[name = "Indonesian"]
    Id,
}

impl LanguageChoice {
    /// The catalogue id of this choice's label.
    pub fn message_id(self) -> &'static str {
        match self {
            LanguageChoice::En => "choice-language-en",
            LanguageChoice::Id => "choice-language-id",
        }
    }
}

/// One line describing a subscription's filters.
pub fn describe(lang: Lang, sub: &Subscription) -> String {
    let mut parts = vec![format!("<#{}>", sub.channel_id)];
    if let Some(choice) = &sub.calendar {
        parts.push(crate::calendar::lines::describe_choice(lang, choice));
        if let Some(r) = sub.role_id {
            parts.push(format!("→ <@&{r}>"));
        }
        return parts.join(" · ");
    }
    match (&sub.tiktok, &sub.realtimekit_id, sub.platform) {
        (Some(u), _, _) => parts.push(format!("TikTok @{u}")),
        (_, Some(id), _) => parts.push(format!("RealtimeKit `{id}`")),
        (_, _, Some(p)) => parts.push(p.display_name().to_string()),
        _ => parts.push(t(lang, "subscribe-all-platforms", &[])),
    }
    if let Some(m) = &sub.member {
        parts.push(format!(
            "“{}”",
            crate::discord::embeds::escape_markdown(&clean_text(m, 60))
        ));
    }
    if let Some(r) = sub.role_id {
        parts.push(format!("→ <@&{r}>"));
    }
    if sub.template.is_some() {
        parts.push(t(lang, "subscribe-custom-template", &[]));
    }
    if sub.identity == Identity::Member {
        parts.push(t(lang, "subscribe-as-member", &[]));
    }
    if sub.thread {
        parts.push(t(lang, "subscribe-with-thread", &[]));
    }
    parts.join(" · ")
}

/// A stored fallback reason (`webhook-deleted`, `webhook-refused:<error>`)
/// in the reader's language.
pub fn fallback_reason(lang: Lang, stored: &str) -> String {
    match stored.split_once(':') {
        _ if stored == crate::outbox::webhook::FALLBACK_DELETED => {
            t(lang, "identity-fallback-webhook-deleted", &[])
        }
        Some((crate::outbox::webhook::FALLBACK_REFUSED, error)) => t(
            lang,
            "identity-fallback-webhook-refused",
            &[("error", &clean_text(error, 200))],
        ),
        _ => clean_text(stored, 200),
    }
}

/// This server's subscriptions with their health
#[poise::command(slash_command, custom_data = Rule::Admin)]
pub async fn subscriptions(ctx: Context<'_>) -> Result<(), Error> {
    let guild_id = admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let subs = ctx.data().store.list_subscriptions(guild_id.get()).await?;
    if subs.is_empty() {
        return say(ctx, t(lang, "subscriptions-none", &[])).await;
    }
    let mut lines = Vec::new();
    for s in &subs {
        let health = match (&s.disabled_reason, &s.last_error, s.last_delivery_at) {
            (Some(why), _, _) => t(
                lang,
                "subscriptions-disabled",
                &[("reason", &clean_text(why, 200))],
            ),
            (None, Some(err), _) => t(
                lang,
                "subscriptions-last-error",
                &[("error", &clean_text(err, 200))],
            ),
            (None, None, Some(at)) => t(
                lang,
                "subscriptions-last-ok",
                &[("when", &format!("<t:{}:R>", at.timestamp()))],
            ),
            (None, None, None) => t(lang, "subscriptions-no-delivery", &[]),
        };
        let mut line = format!("`#{}` {}\n   {health}", s.id, describe(lang, s));
        if let (Identity::Member, Some(why)) = (s.identity, &s.identity_fallback) {
            line.push_str("\n   ");
            line.push_str(&t(
                lang,
                "subscriptions-identity-fallback",
                &[("reason", &fallback_reason(lang, why))],
            ));
        }
        lines.push(line);
    }
    let mut text = t(lang, "subscriptions-count", &[("count", &subs.len())]);
    // A source that stopped polling silences every subscription it feeds.
    for source in ctx.data().snapshot.sources() {
        if let Some(why) = ctx
            .data()
            .snapshot
            .state(source)
            .and_then(|s| s.halted.clone())
        {
            text.push('\n');
            text.push_str(&t(
                lang,
                "subscriptions-provider-halted",
                &[
                    ("provider", &source.as_str()),
                    ("why", &clean_text(&why, 200)),
                ],
            ));
        }
    }
    for l in lines {
        if text.chars().count() + l.chars().count() + 1 > 1900 {
            text.push_str("\n…");
            break;
        }
        text.push('\n');
        text.push_str(&l);
    }
    say(ctx, text).await
}

/// Stop announcing for one subscription
#[poise::command(slash_command, custom_data = Rule::Admin)]
pub async fn unsubscribe(
    ctx: Context<'_>,
    #[description = "Subscription id (see /subscriptions)"]
    #[min = 1]
    id: i64,
) -> Result<(), Error> {
    let guild_id = admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let removed = ctx
        .data()
        .store
        .remove_subscription(guild_id.get(), id)
        .await?;
    let text = if removed {
        t(lang, "unsubscribe-done", &[("id", &id)])
    } else {
        t(lang, "subscription-unknown", &[("id", &id)])
    };
    say(ctx, text).await
}

/// Manage one subscription
#[poise::command(
    slash_command,
    subcommands("test"),
    subcommand_required,
    custom_data = Rule::Admin
)]
pub async fn subscription(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// The sample post of `/subscription test`: the announcement as it will
/// look, marked as a test, that pings no one (the role's mention is shown,
/// `allowed_mentions` is empty) and carries no nonce.
pub fn test_body(
    lang: Lang,
    sub: &Subscription,
    stream: &crate::live::LiveStream,
) -> serde_json::Value {
    // The live card as an edit carries the same content and no nonce, and
    // pings no one.
    let mut body = live_edit_body(sub, stream);
    if let Some(content) = body.get("content").and_then(|c| c.as_str()) {
        body["content"] = crate::announce::message::marked_as_test(lang, content).into();
    }
    body
}

/// Post a clearly marked sample announcement to prove the setup works
#[poise::command(slash_command)]
pub async fn test(
    ctx: Context<'_>,
    #[description = "Subscription id (see /subscriptions)"]
    #[min = 1]
    id: i64,
) -> Result<(), Error> {
    let guild_id = admin_guild(ctx)?;
    let lang = super::lang(ctx);
    let data = ctx.data();
    let Some(sub) = data.store.get_subscription(guild_id.get(), id).await? else {
        return say(ctx, t(lang, "subscription-unknown", &[("id", &id)])).await;
    };
    super::cool_down(ctx, lang)?;
    ctx.defer_ephemeral().await?;
    let body = match &sub.calendar {
        Some(choice) => crate::calendar::cards::test_body(lang, &sub, choice),
        None => test_body(
            lang,
            &sub,
            &sample_stream(crate::announce::message::sub_lang(&sub)),
        ),
    };
    // Paced with the announcements (and held by a global 429 like them).
    data.pacing.bot.turn().await;
    let text = match data.rest.create_message(sub.channel_id, &body).await {
        Ok(_) => t(
            lang,
            "test-sent",
            &[("channel", &format!("<#{}>", sub.channel_id))],
        ),
        Err(e) => {
            tracing::warn!(error = %e, subscription = id, "test announcement failed");
            t(
                lang,
                "test-failed",
                &[
                    ("channel", &format!("<#{}>", sub.channel_id)),
                    ("error", &e),
                ],
            )
        }
    };
    say(ctx, text).await
}
