//! One unit of outbox work: a step of one delivery's life, queued for its
//! channel. The job names the delivery; what it carries is read from the
//! store when its turn comes, so a job never acts on stale data.

use std::time::{Duration, Instant};

use crate::store::Delivery;

/// What a job does to its delivery (the arrows of the life in
/// [`super`]'s diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Post the card: queued → sent.
    Post,
    /// Edit the card to its final form: sent → closed.
    Close,
    /// Edit a sent card to its news as it stands now, retried like a
    /// close: the news came back after its close (closed → sent: a live
    /// back on air, a show listed again), or it changed (a show moved or
    /// renamed after its reminder went out).
    Redraw,
    /// Show what changed on a sent card: the lowest priority, dropped
    /// rather than retried or kept waiting, never held against the
    /// subscription.
    Refresh,
    /// Start the discussion thread on a sent card.
    StartThread,
    /// Archive the thread of a closed card.
    ArchiveThread,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Post => "post",
            Step::Close => "close",
            Step::Redraw => "redraw",
            Step::Refresh => "refresh",
            Step::StartThread => "start_thread",
            Step::ArchiveThread => "archive_thread",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub step: Step,
    pub delivery_id: i64,
    /// The server and channel it goes to (its queue, and its server's
    /// turn in the round-robin).
    pub guild_id: u64,
    pub channel_id: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// A refresh not sent by then is dropped (the next one, or the close,
    /// shows the news).
    pub not_after: Option<Instant>,
}

impl Job {
    pub fn new(d: &Delivery, step: Step) -> Self {
        Job {
            step,
            delivery_id: d.id,
            guild_id: d.guild_id,
            channel_id: d.channel_id,
            attempts: 0,
            not_after: None,
        }
    }

    /// A refresh of a sent card, dropped if not sent within `within`.
    pub fn refresh(d: &Delivery, within: Duration) -> Self {
        Job {
            not_after: Some(Instant::now() + within),
            ..Job::new(d, Step::Refresh)
        }
    }

    /// The next step of the same delivery, from its first attempt.
    pub fn then(&self, step: Step) -> Self {
        Job {
            step,
            attempts: 0,
            not_after: None,
            ..self.clone()
        }
    }
}
