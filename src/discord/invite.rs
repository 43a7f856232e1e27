//! Getting onto a server: the permissions onair asks for, each with the
//! reason it needs it, and the invite URL built from them. `/subscribe`
//! checks the same list in the chosen channel.

use poise::serenity_prelude::Permissions;

/// What the bot needs in a channel it announces in, and why.
pub const CHANNEL_PERMISSIONS: [(Permissions, &str, &str); 4] = [
    (
        Permissions::VIEW_CHANNEL,
        "View Channel",
        "see the channel it announces in",
    ),
    (
        Permissions::SEND_MESSAGES,
        "Send Messages",
        "post the announcements",
    ),
    (
        Permissions::EMBED_LINKS,
        "Embed Links",
        "show each live as a card (embed)",
    ),
    (
        Permissions::READ_MESSAGE_HISTORY,
        "Read Message History",
        "find its own earlier post instead of posting twice after an outage",
    ),
];

/// Not asked for at invite: needed only to ping a role that is not set as
/// mentionable (`/subscribe` says so when it is missing). onair never pings
/// @everyone or @here.
pub const ROLE_PING_PERMISSION: (Permissions, &str) = (
    Permissions::MENTION_EVERYONE,
    "Mention @everyone, @here and All Roles",
);

/// Not asked for at invite: needed only by subscriptions that post as the
/// member (`identity:member`), through a webhook onair creates in the
/// channel.
pub const WEBHOOK_PERMISSION: (Permissions, &str) =
    (Permissions::MANAGE_WEBHOOKS, "Manage Webhooks");

/// Not asked for at invite: needed only by subscriptions that start a
/// discussion thread on each announcement (`thread:true`). onair archives
/// the threads it started itself, as their creator.
pub const THREAD_PERMISSION: (Permissions, &str) =
    (Permissions::CREATE_PUBLIC_THREADS, "Create Public Threads");

/// The OAuth2 scopes of the invite: the bot user and its slash commands.
pub const SCOPES: &str = "bot applications.commands";

/// The permissions integer of the invite (84992).
pub fn permissions() -> Permissions {
    CHANNEL_PERMISSIONS
        .iter()
        .fold(Permissions::empty(), |all, (p, _, _)| all | *p)
}

/// The URL that adds onair (application `application_id`) to a server.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope={}&permissions={}",
        SCOPES.replace(' ', "+"),
        permissions().bits()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_asks_for_exactly_the_channel_permissions() {
        // 1024 view + 2048 send + 16384 embed + 65536 history.
        assert_eq!(permissions().bits(), 84_992);
        assert!(!permissions().mention_everyone());
        assert!(!permissions().administrator());
        assert_eq!(
            invite_url(1234),
            "https://discord.com/oauth2/authorize?client_id=1234&scope=bot+applications.commands&permissions=84992"
        );
    }
}
