//! Hard limits every server lives within, and what a refusal says. One
//! server cannot spend the operator's credits or the announcer's time for
//! the others: subscriptions per server, TikTok usernames per server and in
//! total (each username costs a KonbiniAPI credit per poll). Pure functions.

use crate::store::Subscription;

/// The limits (`GUILD_MAX_SUBSCRIPTIONS`, `GUILD_MAX_TIKTOK_USERNAMES`,
/// `TIKTOK_MAX_USERNAMES`, `TIKTOK_LOOKUPS_PER_DAY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Subscriptions one server may have.
    pub subscriptions_per_guild: u32,
    /// Distinct TikTok usernames one server's subscriptions may name.
    pub tiktok_per_guild: u32,
    /// Distinct TikTok usernames all servers together may name.
    pub tiktok_total: u32,
    /// Paid `/tiktok` lookups per UTC day, all users and servers together.
    pub tiktok_lookups_per_day: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            subscriptions_per_guild: 25,
            tiktok_per_guild: 5,
            tiktok_total: 200,
            tiktok_lookups_per_day: 300,
        }
    }
}

/// Why a new subscription is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The server has `limit` subscriptions already.
    Subscriptions { limit: u32 },
    /// The server's subscriptions name `limit` TikTok usernames already
    /// (`names`, sorted), and this one would add another.
    GuildTiktok { limit: u32, names: Vec<String> },
    /// All servers together name `limit` usernames already.
    TotalTiktok { limit: u32 },
}

/// May a server whose subscriptions are `existing` add one more, naming
/// `tiktok` (normalised) if any? `all_usernames`: every username any active
/// subscription names (a username already polled costs nothing more).
pub fn admit(
    existing: &[Subscription],
    tiktok: Option<&str>,
    all_usernames: &[String],
    limits: &Limits,
) -> Result<(), Refusal> {
    if existing.len() >= limits.subscriptions_per_guild as usize {
        return Err(Refusal::Subscriptions {
            limit: limits.subscriptions_per_guild,
        });
    }
    let Some(user) = tiktok else {
        return Ok(());
    };
    let mut names: Vec<String> = existing
        .iter()
        .filter_map(|s| s.tiktok.as_deref().map(str::to_ascii_lowercase))
        .collect();
    names.sort();
    names.dedup();
    if names.iter().any(|n| n.eq_ignore_ascii_case(user)) {
        return Ok(());
    }
    if names.len() >= limits.tiktok_per_guild as usize {
        return Err(Refusal::GuildTiktok {
            limit: limits.tiktok_per_guild,
            names,
        });
    }
    let polled = all_usernames.iter().any(|n| n.eq_ignore_ascii_case(user));
    if !polled && all_usernames.len() >= limits.tiktok_total as usize {
        return Err(Refusal::TotalTiktok {
            limit: limits.tiktok_total,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announce::message::tests::sub;

    fn with_tiktok(user: &str) -> Subscription {
        let mut s = sub();
        s.tiktok = Some(user.into());
        s
    }

    const SMALL: Limits = Limits {
        subscriptions_per_guild: 3,
        tiktok_per_guild: 2,
        tiktok_total: 4,
        tiktok_lookups_per_day: 10,
    };

    #[test]
    fn a_server_at_its_subscription_limit_is_refused() {
        let existing = vec![sub(), sub()];
        assert_eq!(admit(&existing, None, &[], &SMALL), Ok(()));
        let existing = vec![sub(), sub(), sub()];
        assert_eq!(
            admit(&existing, None, &[], &SMALL),
            Err(Refusal::Subscriptions { limit: 3 })
        );
    }

    #[test]
    fn a_server_at_its_username_limit_may_reuse_a_name_but_not_add_one() {
        let existing = vec![with_tiktok("a1"), with_tiktok("A2")];
        let all = vec!["a1".to_string(), "a2".to_string()];
        assert_eq!(admit(&existing, Some("a2"), &all, &SMALL), Ok(()));
        assert_eq!(
            admit(&existing, Some("a3"), &all, &SMALL),
            Err(Refusal::GuildTiktok {
                limit: 2,
                names: vec!["a1".into(), "a2".into()]
            })
        );
    }

    #[test]
    fn the_total_limit_refuses_only_names_nobody_polls_yet() {
        let all: Vec<String> = ["x1", "x2", "x3", "x4"].map(String::from).to_vec();
        assert_eq!(
            admit(&[], Some("new"), &all, &SMALL),
            Err(Refusal::TotalTiktok { limit: 4 })
        );
        assert_eq!(admit(&[], Some("x3"), &all, &SMALL), Ok(()));
    }
}
