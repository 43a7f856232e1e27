//! Interactions a test pushes through the gateway (slash commands,
//! autocomplete, buttons, as a server member, in DMs or through a user
//! install) and reading the bot's answers to them. Each carries what
//! Discord computes for it: the invoker's permissions in a `resolved`
//! channel and the bot's in the channel it was sent from
//! (`app_permissions`), from the guild's roles and overwrites.
//!
//! As on Discord, only commands the bot registered are pushed (globally or
//! in the interaction's guild; pushing another is a test bug and panics,
//! unless the test means a stale registration: [`FakeDiscord::slash_stale`]),
//! and each pushed interaction is remembered with its token, its type and
//! when it was created, so that `routes.rs` can hold its answers to
//! Discord's rules.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::builders::{resolved_channel, resolved_role};
use super::permissions::permissions_in;
use super::{FakeDiscord, Recorded, ALL_PERMISSIONS, CHANNEL_ID, GUILD_ID, MANAGE_GUILD, USER_ID};

/// Discord's deadline for the first answer to an interaction.
pub const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);

/// How long an interaction's token works for follow-ups and `@original`
/// after the interaction was created (then Discord answers 401 50027).
pub const INTERACTION_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What the fake remembers of a pushed interaction.
#[derive(Debug, Clone)]
pub(super) struct Interaction {
    /// The token that goes with this id, and only with it.
    pub token: String,
    /// Discord's interaction type: 2 command, 3 component, 4 autocomplete,
    /// 5 modal submit.
    pub kind: u64,
    /// When it was created (moved back by [`FakeDiscord::age_interaction`]).
    pub created: Instant,
    /// Whether the callback was accepted.
    pub acked: bool,
}

impl Interaction {
    /// The callback types Discord accepts for this interaction's type
    /// (the deprecated PREMIUM_REQUIRED, 10, is not among them).
    pub fn allowed_callbacks(&self) -> &'static [u64] {
        match self.kind {
            2 => &[4, 5, 9],
            3 => &[4, 5, 6, 7, 9],
            4 => &[8],
            5 => &[4, 5, 6, 7],
            _ => &[],
        }
    }
}

/// Who sends an interaction and from where.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub user_id: u64,
    pub guild_id: u64,
    pub channel_id: u64,
    /// The member's guild-level permissions (the invoker has no roles
    /// here); in a channel its overwrites apply on top.
    pub permissions: u64,
    pub locale: String,
    pub guild_locale: String,
}

impl Default for Invoker {
    fn default() -> Self {
        Invoker {
            user_id: USER_ID,
            guild_id: GUILD_ID,
            channel_id: CHANNEL_ID,
            // A server admin (Manage Server) by default.
            permissions: ALL_PERMISSIONS | MANAGE_GUILD,
            locale: "en-US".into(),
            guild_locale: "en-US".into(),
        }
    }
}

/// A pushed interaction: its id and token, and when the frame left.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub id: u64,
    pub token: String,
    pub sent_at: Instant,
}

impl FakeDiscord {
    /// The invoker's permissions in `channel`, as Discord computes them
    /// for an interaction: their guild-level permissions, then the
    /// channel's overwrites for @everyone and for them. A channel no fake
    /// guild has: the guild-level permissions.
    pub fn invoker_permissions_in(&self, who: &Invoker, channel: u64) -> u64 {
        let s = self.state();
        let found = s.guilds.get(&who.guild_id).and_then(|g| {
            let c = g.channels.iter().find(|c| c.id == channel)?;
            Some(permissions_in(g, c, who.user_id, &[], who.permissions))
        });
        found.unwrap_or(who.permissions)
    }

    /// `resolved` data for a channel option as Discord sends it to `who`:
    /// the channel with `who`'s permissions in it.
    pub fn resolved_channel_for(&self, who: &Invoker, channel: u64) -> Value {
        resolved_channel(channel, self.invoker_permissions_in(who, channel))
    }

    fn interaction_base(&self, who: &Invoker) -> (Value, u64, String) {
        let mut d = self.inner.samples["gateway_events"]["interaction_create_command"]["d"].clone();
        let id = {
            let mut s = self.state();
            s.new_id()
        };
        let token = format!("{}{id}", super::TOKEN_MARKERS[0]);
        d["id"] = id.to_string().into();
        d["token"] = token.clone().into();
        d["guild_id"] = who.guild_id.to_string().into();
        d["channel_id"] = who.channel_id.to_string().into();
        d["channel"]["id"] = who.channel_id.to_string().into();
        d["channel"]["guild_id"] = who.guild_id.to_string().into();
        d["member"]["user"]["id"] = who.user_id.to_string().into();
        d["member"]["permissions"] = self
            .invoker_permissions_in(who, who.channel_id)
            .to_string()
            .into();
        // The bot's permissions there (the sample's for a channel no fake
        // guild has).
        if let Some(app) = self.inner.bot_permissions_in(who.channel_id) {
            d["app_permissions"] = app.to_string().into();
        }
        d["locale"] = who.locale.clone().into();
        d["guild_locale"] = who.guild_locale.clone().into();
        d["authorizing_integration_owners"] = json!({"0": who.guild_id.to_string()});
        (d, id, token)
    }

    /// Push an interaction Discord would send: a command or autocomplete
    /// only for a command the bot registered.
    fn push(&self, d: Value, id: u64, token: String) -> Pushed {
        self.assert_registered(&d);
        self.push_unchecked(d, id, token)
    }

    /// Remember the interaction (before the bot can answer it), then send it.
    fn push_unchecked(&self, d: Value, id: u64, token: String) -> Pushed {
        let kind = d["type"].as_u64().unwrap_or(0);
        self.state().interactions.insert(
            id.to_string(),
            Interaction {
                token: token.clone(),
                kind,
                created: Instant::now(),
                acked: false,
            },
        );
        let sent_at = self.dispatch("INTERACTION_CREATE", d);
        if let Some(i) = self.state().interactions.get_mut(&id.to_string()) {
            i.created = sent_at;
        }
        Pushed { id, token, sent_at }
    }

    /// Discord sends commands and autocomplete only for names the app
    /// registered, globally or in that guild: anything else is a test bug.
    fn assert_registered(&self, d: &Value) {
        if !matches!(d["type"].as_u64(), Some(2 | 4)) {
            return;
        }
        let name = d["data"]["name"].as_str().unwrap_or_default();
        let guild = d["guild_id"].as_str().and_then(|g| g.parse::<u64>().ok());
        let s = self.state();
        let registered = s.commands_global.contains(name)
            || guild.is_some_and(|g| s.commands_guild.get(&g).is_some_and(|c| c.contains(name)));
        let mut global: Vec<String> = s.commands_global.iter().cloned().collect();
        drop(s);
        global.sort();
        if !registered {
            panic!(
                "the test pushed /{name} (guild {guild:?}), which the bot never registered \
                 there (global: {global:?}): Discord would not send it. Wait for the \
                 registration (`wait_registered`; `TestBot::start` does), or push a stale \
                 command on purpose with `slash_stale`"
            );
        }
    }

    /// Wait until `name` is registered globally or in `guild`.
    pub async fn wait_registered(&self, name: &str, guild: Option<u64>, timeout: Duration) {
        self.wait_until(timeout, &format!("/{name} to be registered"), |s| {
            s.commands_global.contains(name)
                || guild.is_some_and(|g| s.commands_guild.get(&g).is_some_and(|c| c.contains(name)))
        })
        .await;
    }

    /// The command names registered globally, or in `guild`.
    pub fn registered_commands(&self, guild: Option<u64>) -> HashSet<String> {
        let s = self.state();
        match guild {
            None => s.commands_global.clone(),
            Some(g) => s.commands_guild.get(&g).cloned().unwrap_or_default(),
        }
    }

    /// Make interaction `id` older by `by` (its 3 s deadline and its
    /// token's 15 minutes count from its creation), instead of waiting.
    pub fn age_interaction(&self, id: u64, by: Duration) {
        let mut s = self.state();
        let i = s
            .interactions
            .get_mut(&id.to_string())
            .unwrap_or_else(|| panic!("interaction {id} was never pushed"));
        i.created = i
            .created
            .checked_sub(by)
            .expect("the clock goes back that far");
    }

    /// A slash command with `options` (and optional `resolved` data).
    pub fn slash(
        &self,
        name: &str,
        options: Value,
        resolved: Option<Value>,
        who: &Invoker,
    ) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        if let Some(r) = resolved {
            d["data"]["resolved"] = r;
        }
        self.push(d, id, token)
    }

    /// A slash command in the bot's DMs (context 1), from a fan who
    /// installed the app to their account: no guild, `user` not `member`.
    pub fn slash_in_dm(&self, name: &str, options: Value, user_id: u64) -> Pushed {
        let mut d =
            self.inner.samples["gateway_events"]["interaction_create_command_dm"]["d"].clone();
        let id = self.state().new_id();
        let token = format!("{}{id}", super::TOKEN_MARKERS[0]);
        d["id"] = id.to_string().into();
        d["token"] = token.clone().into();
        d["user"]["id"] = user_id.to_string().into();
        d["channel"]["recipients"][0]["id"] = user_id.to_string().into();
        d["authorizing_integration_owners"] = json!({"1": user_id.to_string()});
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push(d, id, token)
    }

    /// A slash command in a server that has not added the bot (context 0),
    /// through the invoker's own install: only the user owner is there.
    pub fn slash_user_installed(&self, name: &str, options: Value, who: &Invoker) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["authorizing_integration_owners"] = json!({"1": who.user_id.to_string()});
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push(d, id, token)
    }

    /// A slash command Discord still has registered where this build does
    /// not (a registration from an older version, or from a scope the bot
    /// no longer registers it in): pushed past the registration check on
    /// purpose, to test what the bot answers to a command it cannot run.
    pub fn slash_stale(&self, name: &str, options: Value, who: &Invoker) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push_unchecked(d, id, token)
    }

    /// `/name sub options…`
    pub fn subcommand(&self, name: &str, sub: &str, options: Value, who: &Invoker) -> Pushed {
        self.slash(
            name,
            json!([{"name": sub, "type": 1, "options": options}]),
            None,
            who,
        )
    }

    /// An autocomplete request for `name`, with `options` (one `focused`).
    pub fn autocomplete(&self, name: &str, options: Value, who: &Invoker) -> Pushed {
        let (mut d, id, token) = self.interaction_base(who);
        d["type"] = 4.into();
        d["data"] =
            json!({"id": "1600000000000000001", "name": name, "type": 1, "options": options});
        self.push(d, id, token)
    }

    /// A button press on a message.
    pub fn button(&self, custom_id: &str, message_id: u64, who: &Invoker) -> Pushed {
        let mut d = self.inner.samples["gateway_events"]["interaction_create_component_button"]
            ["d"]
            .clone();
        let (base, id, token) = self.interaction_base(who);
        for k in [
            "id",
            "token",
            "guild_id",
            "channel_id",
            "channel",
            "member",
            "locale",
        ] {
            d[k] = base[k].clone();
        }
        d["data"]["custom_id"] = custom_id.into();
        d["message"]["id"] = message_id.to_string().into();
        d["message"]["channel_id"] = who.channel_id.to_string().into();
        self.push(d, id, token)
    }

    /// `/subscribe channel:<channel>` plus `extra` options, with the
    /// `resolved` data Discord sends (the invoker's permissions in the
    /// channel, and the role, when one is given).
    pub fn subscribe_command(
        &self,
        channel: u64,
        extra: &[Value],
        role: Option<(u64, bool)>,
        who: &Invoker,
    ) -> Pushed {
        let mut options = vec![json!({"name": "channel", "type": 7, "value": channel.to_string()})];
        options.extend(extra.iter().cloned());
        let mut resolved = self.resolved_channel_for(who, channel);
        if let Some((id, mentionable)) = role {
            options.push(json!({"name": "role", "type": 8, "value": id.to_string()}));
            resolved["roles"] = json!({id.to_string(): resolved_role(id, mentionable)});
        }
        self.slash("subscribe", Value::Array(options), Some(resolved), who)
    }

    /// The visible text of an interaction's final answer.
    pub async fn answer_text(&self, p: &Pushed, timeout: Duration) -> String {
        let a = self.answer(p, timeout).await;
        a["content"].as_str().unwrap_or_default().to_string()
    }

    /// The text of an immediate answer that must be private (ephemeral).
    pub async fn private_text(&self, p: &Pushed, timeout: Duration) -> String {
        let cb = self.callback(p, timeout).await.body.unwrap_or(Value::Null);
        assert_eq!(cb["data"]["flags"], 64, "not ephemeral: {cb}");
        cb["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The interaction callback body the bot sent for `token`.
    pub async fn callback(&self, p: &Pushed, timeout: Duration) -> Recorded {
        let path = format!("/api/v10/interactions/{}/{}/callback", p.id, p.token);
        let r = self
            .wait_request(timeout, &format!("callback of interaction {}", p.id), |r| {
                r.path == path
            })
            .await;
        assert_eq!(
            r.status, 204,
            "Discord refused the interaction answer (late or wrong token: 10062, twice: 40060, \
             a callback type this interaction does not take: 50035): {:?}",
            r.body
        );
        r
    }

    /// The final visible answer to an interaction: the callback's message,
    /// or after a deferral the `@original` edit / first follow-up.
    pub async fn answer(&self, p: &Pushed, timeout: Duration) -> Value {
        let cb = self.callback(p, timeout).await;
        let body = cb.body.clone().unwrap_or(Value::Null);
        let kind = body["type"].as_u64().unwrap_or(0);
        if kind == 5 || kind == 6 {
            let token = p.token.clone();
            self.wait_request(timeout, "the deferred answer (accepted)", |r| {
                r.path.contains(&token)
                    && !r.path.ends_with("/callback")
                    && matches!(r.method.as_str(), "PATCH" | "POST")
                    && r.status == 200
            })
            .await
            .body
            .unwrap_or(Value::Null)
        } else {
            body["data"].clone()
        }
    }
}
