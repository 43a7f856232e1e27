//! Discord's permission bits the tests use, and the bot's permissions in a
//! channel as Discord computes them.

use super::Inner;

/// Every permission a server owner has (as Discord sends it).
pub const ALL_PERMISSIONS: u64 = 2248473465835073;
pub const MANAGE_GUILD: u64 = 1 << 5;
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
pub const MENTION_EVERYONE: u64 = 1 << 17;
pub const ADMINISTRATOR: u64 = 1 << 3;

/// MANAGE_WEBHOOKS, CREATE_PUBLIC_THREADS, MANAGE_THREADS.
pub const MANAGE_WEBHOOKS: u64 = 1 << 29;
pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
pub const MANAGE_THREADS: u64 = 1 << 34;

impl Inner {
    /// The bot's permissions in a known channel, from its roles (only
    /// @everyone here) and the channel's overwrites, as Discord computes
    /// them; None for a channel no fake guild has.
    pub(super) fn bot_permissions_in(&self, channel: u64) -> Option<u64> {
        let s = self.state();
        s.guilds.values().find_map(|g| {
            let c = g.channels.iter().find(|c| c.id == channel)?;
            if s.left.contains(&g.id) {
                // Not a member any more: Discord answers 50001.
                return Some(0);
            }
            let base = g.everyone_permissions;
            if base & ADMINISTRATOR != 0 {
                return Some(u64::MAX);
            }
            Some(base & !c.deny_everyone)
        })
    }
}
