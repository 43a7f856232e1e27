//! Discord's permission bits the tests use, and a member's permissions in
//! a channel computed as Discord documents it ("Permission Overwrites"):
//! @everyone's permissions OR those of each of the member's roles; the
//! server's owner or an Administrator has every permission; then the
//! channel's overwrites in order: @everyone's (deny, then allow), the
//! member's roles' combined (deny, then allow), the member's own (deny,
//! then allow). The fake's REST checks, the `resolved` channels of
//! interactions and the bot (serenity's `user_permissions_in` over the
//! guild, member and channel the fake answers) all come to the same value.

use super::{ChannelSpec, GuildSpec, Inner};

/// The permissions of the sample's server owner (as Discord sent them;
/// not Administrator, not Manage Server).
pub const ALL_PERMISSIONS: u64 = 2248473465835073;
/// Every permission: what an Administrator or the server's owner has.
pub const EVERY_PERMISSION: u64 = serenity::all::Permissions::all().bits();
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

/// The permissions of `user`, with `roles` and the guild-level
/// permissions `base` (@everyone's OR its roles'), in channel `c` of `g`,
/// by Discord's algorithm.
pub fn permissions_in(g: &GuildSpec, c: &ChannelSpec, user: u64, roles: &[u64], base: u64) -> u64 {
    if user == g.owner_id || base & ADMINISTRATOR != 0 {
        return EVERY_PERMISSION;
    }
    let overwrites = c.effective_overwrites(g.id);
    let mut perms = base;
    if let Some(o) = overwrites.iter().find(|o| o.kind == 0 && o.id == g.id) {
        perms = (perms & !o.deny) | o.allow;
    }
    let (mut allow, mut deny) = (0, 0);
    for o in overwrites
        .iter()
        .filter(|o| o.kind == 0 && o.id != g.id && roles.contains(&o.id))
    {
        allow |= o.allow;
        deny |= o.deny;
    }
    perms = (perms & !deny) | allow;
    if let Some(o) = overwrites.iter().find(|o| o.kind == 1 && o.id == user) {
        perms = (perms & !o.deny) | o.allow;
    }
    perms
}

impl GuildSpec {
    /// Guild-level permissions of a member with `roles`: @everyone's OR
    /// each role's.
    pub fn base_permissions(&self, roles: &[u64]) -> u64 {
        self.roles
            .iter()
            .filter(|r| roles.contains(&r.id))
            .fold(self.everyone_permissions, |p, r| p | r.permissions)
    }

    /// The bot's permissions in channel `c` of this guild.
    pub fn bot_permissions_in(&self, c: &ChannelSpec) -> u64 {
        permissions_in(
            self,
            c,
            super::BOT_ID,
            &self.bot_roles,
            self.base_permissions(&self.bot_roles),
        )
    }
}

impl Inner {
    /// The bot's permissions in a known channel, as Discord computes them
    /// (its roles and the channel's overwrites); None for a channel no
    /// fake guild has.
    pub(super) fn bot_permissions_in(&self, channel: u64) -> Option<u64> {
        let s = self.state();
        s.guilds.values().find_map(|g| {
            let c = g.channels.iter().find(|c| c.id == channel)?;
            if s.left.contains(&g.id) {
                // Not a member any more: Discord answers 50001.
                return Some(0);
            }
            Some(g.bot_permissions_in(c))
        })
    }
}
