//! `/calendar theater|today|birthdays|news|events`: an admin chooses, per
//! channel, which JKT48 calendar feeds it gets (guild only, Manage Server,
//! replies ephemeral). A calendar subscription is a subscription like any
//! other: listed by `/subscriptions`, removed by `/unsubscribe`, tried by
//! `/subscription test`, under the same limits, permission checks and
//! isolation (`subscriptions::admit`).
//!
//! A group rather than a kind on `/subscribe`: each feed has options of its
//! own (a show's lead times, the daily post's hour, the monthly list) that
//! mean nothing for lives, and `/subscribe`'s ten live options (platform,
//! member, TikTok, template, identity…) mean nothing for a calendar. As
//! subcommands, Discord shows each feed only its own options.

use poise::serenity_prelude as serenity;

use super::subscriptions::{admit, announcement_language, describe, LanguageChoice, Wants};
use super::{say, Rule};
use crate::calendar::due::DEFAULT_TODAY_HOUR;
use crate::messages::t;
use crate::store::{CalendarChoice, Feed, NewSubscription};
use crate::types::{Context, Error};

/// Follow the JKT48 calendar in a channel
#[poise::command(
    slash_command,
    subcommands("theater", "today", "feed_birthdays", "news", "events"),
    subcommand_required,
    custom_data = Rule::Admin
)]
pub async fn calendar(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// A reminder before each theater show (setlist, members, seitansai)
#[poise::command(slash_command)]
pub async fn theater(
    ctx: Context<'_>,
    #[description = "Channel to post in"]
    #[channel_types("Text", "News")]
    channel: serenity::GuildChannel,
    #[description = "Minutes before the show (default 15)"]
    #[min = 1]
    #[max = 1440]
    lead: Option<u32>,
    #[description = "A second reminder, this many minutes before"]
    #[min = 1]
    #[max = 1440]
    second_lead: Option<u32>,
    #[description = "Role to ping"] role: Option<serenity::Role>,
    #[description = "Language of the posts (default: the server's)"] language: Option<
        LanguageChoice,
    >,
) -> Result<(), Error> {
    let mut chosen: Vec<u32> = lead.into_iter().chain(second_lead).collect();
    chosen.sort_unstable_by(|a, b| b.cmp(a));
    chosen.dedup();
    let choice = CalendarChoice {
        leads: chosen,
        ..CalendarChoice::of(Feed::Theater)
    };
    follow(ctx, channel, role, language, choice).await
}

/// The day's theater shows, posted at a chosen hour (WIB)
#[poise::command(slash_command)]
pub async fn today(
    ctx: Context<'_>,
    #[description = "Channel to post in"]
    #[channel_types("Text", "News")]
    channel: serenity::GuildChannel,
    #[description = "Hour of the post, Jakarta time (default 12)"]
    #[min = 0]
    #[max = 23]
    hour: Option<u8>,
    #[description = "Role to ping"] role: Option<serenity::Role>,
    #[description = "Language of the posts (default: the server's)"] language: Option<
        LanguageChoice,
    >,
) -> Result<(), Error> {
    let choice = CalendarChoice {
        hour: Some(hour.unwrap_or(DEFAULT_TODAY_HOUR)),
        ..CalendarChoice::of(Feed::Today)
    };
    follow(ctx, channel, role, language, choice).await
}

/// Each member's birthday at 00:00 WIB, and the month's list if chosen
#[poise::command(slash_command, rename = "birthdays")]
pub async fn feed_birthdays(
    ctx: Context<'_>,
    #[description = "Channel to post in"]
    #[channel_types("Text", "News")]
    channel: serenity::GuildChannel,
    #[description = "Also the month's birthdays on the 1st"] monthly: Option<bool>,
    #[description = "Role to ping"] role: Option<serenity::Role>,
    #[description = "Language of the posts (default: the server's)"] language: Option<
        LanguageChoice,
    >,
) -> Result<(), Error> {
    let choice = CalendarChoice {
        monthly: monthly.unwrap_or(false),
        ..CalendarChoice::of(Feed::Birthdays)
    };
    follow(ctx, channel, role, language, choice).await
}

/// Official JKT48 news, each new item once
#[poise::command(slash_command)]
pub async fn news(
    ctx: Context<'_>,
    #[description = "Channel to post in"]
    #[channel_types("Text", "News")]
    channel: serenity::GuildChannel,
    #[description = "Role to ping"] role: Option<serenity::Role>,
    #[description = "Language of the posts (default: the server's)"] language: Option<
        LanguageChoice,
    >,
) -> Result<(), Error> {
    follow(ctx, channel, role, language, CalendarChoice::of(Feed::News)).await
}

/// Official JKT48 events, each new one once
#[poise::command(slash_command)]
pub async fn events(
    ctx: Context<'_>,
    #[description = "Channel to post in"]
    #[channel_types("Text", "News")]
    channel: serenity::GuildChannel,
    #[description = "Role to ping"] role: Option<serenity::Role>,
    #[description = "Language of the posts (default: the server's)"] language: Option<
        LanguageChoice,
    >,
) -> Result<(), Error> {
    follow(
        ctx,
        channel,
        role,
        language,
        CalendarChoice::of(Feed::Events),
    )
    .await
}

/// Save a calendar subscription after the checks every subscription passes.
async fn follow(
    ctx: Context<'_>,
    channel: serenity::GuildChannel,
    role: Option<serenity::Role>,
    language: Option<LanguageChoice>,
    choice: CalendarChoice,
) -> Result<(), Error> {
    let guild_id = super::admin::admin_guild(ctx)?;
    let lang = super::lang(ctx);
    if ctx.data().calendar.is_none() {
        return say(ctx, t(lang, "calendar-off", &[])).await;
    }
    if let Some(refusal) = admit(
        ctx,
        guild_id,
        &channel,
        role.as_ref(),
        Wants::default(),
        None,
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
            role_id: role.map(|r| r.id.get()),
            language: Some(announcement_language(ctx, language).code().to_string()),
            created_by: ctx.author().id.get(),
            calendar: Some(choice),
            ..NewSubscription::default()
        })
        .await?;
    tracing::info!(
        subscription = sub.id,
        guild = guild_id.get(),
        channel = sub.channel_id,
        feed = sub.calendar.as_ref().map(|c| c.feed.as_str()),
        "calendar subscribed"
    );
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
