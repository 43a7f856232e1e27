//! Who may use a command, and where: every top-level command declares its
//! [`Rule`] where it is defined, in poise's `custom_data`
//! (`#[poise::command(slash_command, custom_data = Rule::Admin)]`).
//! [`Rule::apply`] turns it into the registration fields and run-time checks,
//! and [`check`] refuses, at start, a command that declares none (and a
//! subcommand that declares one: poise runs the checks of every command on
//! the invoked path, so subcommands follow their parent's rule, and a rule
//! of their own would be ignored). Nothing is matched by name, so a renamed
//! command keeps its rule and a new one cannot go out without one.

use poise::serenity_prelude as serenity;

use super::admin;
use crate::types::{Data, Error};

/// Who may use a command, and where it may be installed and used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Installed with the bot to a server, used wherever the bot is
    /// (Discord's defaults: nothing set).
    Server,
    /// A fan may also install it to their own account and use it anywhere:
    /// in servers (even one that has not added the bot), in the bot's DMs
    /// and in group DMs.
    Anywhere,
    /// For server admins: guild-only, hidden from non-admins by default
    /// (`default_member_permissions`: Manage Server), and checked again
    /// when it runs.
    Admin,
    /// [`Rule::Admin`], and the operator's (it spends the operator's
    /// Cloudflare account): registered only in `OPERATOR_GUILD_IDS`, refused
    /// anywhere else.
    Operator,
}

impl Rule {
    /// The rule `cmd` declares, if any.
    pub fn of<U, E>(cmd: &poise::Command<U, E>) -> Option<Rule> {
        cmd.custom_data.downcast_ref::<Rule>().copied()
    }

    /// Set the command's install and use contexts, permissions and checks.
    pub fn apply(self, cmd: &mut poise::Command<Data, Error>) {
        if self == Rule::Anywhere {
            cmd.install_context = Some(vec![
                serenity::InstallationContext::Guild,
                serenity::InstallationContext::User,
            ]);
            cmd.interaction_context = Some(vec![
                serenity::InteractionContext::Guild,
                serenity::InteractionContext::BotDm,
                serenity::InteractionContext::PrivateChannel,
            ]);
        }
        if matches!(self, Rule::Admin | Rule::Operator) {
            // Installed with the bot to a server, used in that server only
            // (poise turns `guild_only` into `contexts: [0]`).
            cmd.install_context = Some(vec![serenity::InstallationContext::Guild]);
            cmd.guild_only = true;
            cmd.default_member_permissions = serenity::Permissions::MANAGE_GUILD;
            cmd.checks.push(admin_check);
        }
        if self == Rule::Operator {
            cmd.checks.push(operator_check);
        }
    }
}

/// The admin check, as poise wants it.
fn admin_check(ctx: crate::types::Context<'_>) -> poise::BoxFuture<'_, Result<bool, Error>> {
    Box::pin(async move { admin::require_admin(ctx).await.map(|_| true) })
}

/// The operator-guild check, as poise wants it.
fn operator_check(ctx: crate::types::Context<'_>) -> poise::BoxFuture<'_, Result<bool, Error>> {
    Box::pin(async move { admin::require_operator_guild(ctx).await.map(|_| true) })
}

/// Every top-level command declares a [`Rule`]; no subcommand does.
pub fn check<U, E>(commands: &[poise::Command<U, E>]) -> Result<(), String> {
    fn no_rule_below<U, E>(cmd: &poise::Command<U, E>) -> Result<(), String> {
        for sub in &cmd.subcommands {
            if Rule::of(sub).is_some() {
                return Err(format!(
                    "/{} declares a rule, but a subcommand follows its command's rule: \
                     declare it on /{} instead",
                    sub.qualified_name,
                    cmd.qualified_name.split(' ').next().unwrap_or_default()
                ));
            }
            no_rule_below(sub)?;
        }
        Ok(())
    }
    for cmd in commands {
        if Rule::of(cmd).is_none() {
            return Err(format!(
                "/{} declares no rule: add `custom_data = Rule::…` to its #[poise::command]",
                cmd.name
            ));
        }
        no_rule_below(cmd)?;
    }
    Ok(())
}

/// The names of the operator's commands ([`Rule::Operator`]), registered
/// only in the operator guilds.
pub fn operator_commands<U, E>(commands: &[poise::Command<U, E>]) -> Vec<&str> {
    commands
        .iter()
        .filter(|c| Rule::of(c) == Some(Rule::Operator))
        .map(|c| c.name.as_ref())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Command = poise::Command<Data, Error>;

    fn named(name: &str, rule: Option<Rule>) -> Command {
        let mut c = Command {
            name: name.to_string().into(),
            qualified_name: name.to_string().into(),
            ..Default::default()
        };
        if let Some(rule) = rule {
            c.custom_data = Box::new(rule);
        }
        c
    }

    #[test]
    fn every_command_declares_its_rule() {
        let commands = super::super::all();
        assert_eq!(check(&commands), Ok(()));
        let rules: Vec<(&str, Option<Rule>)> = commands
            .iter()
            .map(|c| (c.name.as_ref(), Rule::of(c)))
            .collect();
        assert_eq!(
            rules,
            [
                ("live", Some(Rule::Anywhere)),
                ("recent", Some(Rule::Anywhere)),
                ("tiktok", Some(Rule::Anywhere)),
                ("schedule", Some(Rule::Anywhere)),
                ("birthdays", Some(Rule::Anywhere)),
                ("help", Some(Rule::Server)),
                ("subscribe", Some(Rule::Admin)),
                ("subscriptions", Some(Rule::Admin)),
                ("unsubscribe", Some(Rule::Admin)),
                ("subscription", Some(Rule::Admin)),
                ("calendar", Some(Rule::Admin)),
                ("stream", Some(Rule::Operator)),
            ]
        );
        assert_eq!(operator_commands(&commands), ["stream"]);
    }

    #[test]
    fn a_command_without_a_rule_or_a_subcommand_with_one_is_refused() {
        let bare = [named("live", Some(Rule::Anywhere)), named("renamed", None)];
        let e = check(&bare).unwrap_err();
        assert!(e.starts_with("/renamed declares no rule"), "{e}");

        let mut parent = named("subscription", Some(Rule::Admin));
        let mut sub = named("test", Some(Rule::Server));
        sub.qualified_name = "subscription test".into();
        parent.subcommands.push(sub);
        let e = check(&[parent]).unwrap_err();
        assert!(e.starts_with("/subscription test declares a rule"), "{e}");
        assert!(e.contains("declare it on /subscription"), "{e}");
    }

    #[test]
    fn rules_set_contexts_permissions_and_checks() {
        let applied = |rule: Rule| {
            let mut c = named("x", Some(rule));
            rule.apply(&mut c);
            c
        };
        let server = applied(Rule::Server);
        assert!(server.install_context.is_none() && server.interaction_context.is_none());
        assert!(!server.guild_only && server.checks.is_empty());
        assert!(server.default_member_permissions.is_empty());

        let anywhere = applied(Rule::Anywhere);
        assert_eq!(
            anywhere.install_context,
            Some(vec![
                serenity::InstallationContext::Guild,
                serenity::InstallationContext::User
            ])
        );
        assert_eq!(anywhere.interaction_context.map(|c| c.len()), Some(3));
        assert!(!anywhere.guild_only && anywhere.checks.is_empty());

        for (rule, checks) in [(Rule::Admin, 1), (Rule::Operator, 2)] {
            let c = applied(rule);
            assert!(c.guild_only, "{rule:?}");
            assert_eq!(
                c.install_context,
                Some(vec![serenity::InstallationContext::Guild])
            );
            assert_eq!(c.interaction_context, None);
            assert_eq!(
                c.default_member_permissions,
                serenity::Permissions::MANAGE_GUILD
            );
            assert_eq!(c.checks.len(), checks, "{rule:?}");
        }
    }
}
