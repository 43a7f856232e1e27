//! The outbox: every card onair posts is a delivery written to the store
//! first, then carried through its life by one executor, exactly once,
//! paced under Discord's limits, one request in flight per channel,
//! servers served in turn.
//!
//! ```text
//!            Post                      Close
//!  queued ──────────▶ sent(message) ──────────▶ closed
//!    │  ▲ Retry/Wait    │ ▲  Refresh,             │ Reopen
//!    │  └──────────┘    │ └─ StartThread          └───────▶ sent
//!    │                  │                           (ArchiveThread after
//!    └──▶ dropped(reason)                            a close with a thread)
//! ```
//!
//! Who moves them: a feature's trigger writes deliveries and queues their
//! first [`Job`] (`announce` for live cards); the [`executor`] takes jobs
//! from the [`queues`] in turn, asks the feature's [`Content`] for the
//! card, and makes the request; [`transition`] (pure, table-tested)
//! decides from the delivery, the job's facts and Discord's answer which
//! [`transition::Effect`]s follow (a store update, a retry after a delay, a
//! pause of every send, a next step, a count); the executor carries them
//! out and counts through [`tally`] alone.
//!
//! Exactly once on every path: a bot post carries a nonce Discord drops a
//! duplicate by ([`lookup::with_nonce`]); the first attempt is recorded
//! before the request leaves; a resend after Discord's nonce window (or
//! through a webhook) first looks in the channel ([`lookup`]).

pub mod content;
pub mod executor;
pub mod job;
pub mod lookup;
pub mod pacing;
pub mod ports;
mod queues;
pub mod tally;
pub mod threads;
pub mod transition;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use crate::discord::rest::DiscordError;
use crate::store::StoreError;

pub use content::{Card, Content, Sender};
pub use executor::Outbox;
pub use job::{Job, Step};

/// Why a step could not go on: Discord's answer (decided by
/// [`transition`]) or the store's failure (the job is retried later, never
/// as if Discord were down).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Discord(#[from] DiscordError),
    #[error("the store failed")]
    Store(#[from] StoreError),
}

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
