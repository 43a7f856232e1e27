//! The outbox: every card onair posts is a delivery written to the store
//! first, then carried through its life by one executor, exactly once,
//! paced under Discord's limits, one request in flight per channel,
//! servers served in turn.
//!
//! ```text
//!            Post                      Close
//!  queued ──────────▶ sent(message) ──────────▶ closed
//!    │  ▲ Retry/Wait    │ ▲  Refresh, Redraw,     │ Redraw
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
mod error;
pub mod executor;
pub mod job;
pub mod lookup;
mod options;
pub mod pacing;
pub mod ports;
mod queues;
pub mod tally;
pub mod threads;
pub mod transition;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use content::{ByKind, Card, Content, Sender};
pub use error::DeliveryError;
pub use executor::Outbox;
pub use job::{Job, Step};
pub use options::Options;
