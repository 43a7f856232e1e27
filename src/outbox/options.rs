//! The outbox's tunables.

use std::sync::Arc;
use std::time::Duration;

use super::pacing;

/// Tunables (tests shorten the delays).
#[derive(Debug, Clone)]
pub struct Options {
    /// The request budgets the outbox paces itself with: the bot's own
    /// requests (`DISCORD_GLOBAL_RPS`) and webhook executions
    /// (`DISCORD_WEBHOOK_RPS`: sent without the bot's token, Discord
    /// counts them per IP). Shared with the commands that post.
    pub pacing: Arc<pacing::Pacing>,
    /// Jobs in flight at once (each to a different channel).
    pub concurrency: usize,
    /// First retry delay after a 5xx / network failure (doubles each time).
    pub backoff: Duration,
    /// The longest retry delay (`DELIVERY_RETRY_MAX_SECS`).
    pub backoff_max: Duration,
    /// How long past its news' end a post is still retried
    /// (`DELIVERY_STALE_SECS`); while current, always.
    pub stale_after: Duration,
    /// How long Discord is assumed to remember an `enforce_nonce` nonce
    /// (`DISCORD_NONCE_WINDOW_SECS`). A resend of a delivery whose first
    /// POST left longer ago first looks for it in the channel. Shorter than
    /// Discord's real window is safe (a lookup too many), longer is not.
    pub nonce_window: Duration,
    /// Consecutive "channel unusable" failures before a subscription is disabled.
    pub disable_after: u32,
    /// 401/403/429 answers per 10 minutes at which sending stops (Discord
    /// bans an IP at 10,000).
    pub invalid_limit: usize,
    /// Serve channels round-robin by server (`DISCORD_FAIR_SHARES`): every
    /// server's first post before any server's second.
    pub fair_shares: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pacing: pacing::Pacing::new(40, 40),
            concurrency: 16,
            backoff: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            stale_after: Duration::from_secs(15 * 60),
            nonce_window: Duration::from_secs(60),
            disable_after: 3,
            invalid_limit: 5_000,
            fair_shares: true,
        }
    }
}
