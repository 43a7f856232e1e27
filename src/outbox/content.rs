//! What the outbox delivers is data: a [`Card`], rendered by the feature
//! that owns the delivery's kind (live announcements: `announce::live_cards`),
//! chosen by [`ByKind`]. The outbox knows nothing of broadcasts, members or
//! templates; it posts, edits and threads what the card says, exactly once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::store::{Delivery, StoreError, Subscription};

/// Who a post looks like it comes from when it goes through a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub name: String,
    pub avatar_url: Option<String>,
}

/// One delivery's card as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The mark its messages carry (the first embed's footer), by which
    /// the outbox finds its own post after Discord's nonce window.
    pub marker: String,
    /// When the news it carries ended (`None`: still current); how long a
    /// step is still worth retrying counts from here.
    pub ended_at: Option<DateTime<Utc>>,
    /// The message to post (already the closed card when the news ended
    /// before it went out), without nonce or marker. `None` when there is
    /// no subscription to render it for.
    pub post: Option<Value>,
    /// The edit that closes it (once the news ended).
    pub close: Option<Value>,
    /// The edit that shows it current (reopen, refresh).
    pub current: Option<Value>,
    /// Name and picture for a post through a webhook.
    pub sender: Sender,
    /// The name of its discussion thread.
    pub thread_name: String,
    /// A post not out by then is not worth sending any more (a reminder
    /// of a show that has started, a birthday post after her day).
    pub post_until: Option<DateTime<Utc>>,
}

impl Card {
    /// The post is already the closed card.
    pub fn posts_closed(&self) -> bool {
        self.ended_at.is_some()
    }
}

/// Renders the cards of the deliveries a feature owns.
#[async_trait::async_trait]
pub trait Content: Send + Sync {
    /// `None`: what the delivery was about is gone (nothing to do).
    async fn card(
        &self,
        delivery: &Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Option<Card>, StoreError>;

    /// Has the news ended by now? Asked again right after a post, so a
    /// card that went out while its news ended is closed.
    async fn ended(&self, delivery: &Delivery) -> Result<bool, StoreError>;
}

/// Every kind's renderer, chosen by the delivery's `kind`: a new kind of
/// post registers its renderer here and the outbox carries it like any
/// other.
#[derive(Default)]
pub struct ByKind {
    kinds: HashMap<String, Arc<dyn Content>>,
}

impl ByKind {
    /// `content` renders the deliveries of `kind`.
    pub fn with(mut self, kind: &str, content: Arc<dyn Content>) -> Self {
        self.kinds.insert(kind.to_string(), content);
        self
    }

    fn of(&self, delivery: &Delivery) -> Option<&Arc<dyn Content>> {
        let found = self.kinds.get(&delivery.kind);
        if found.is_none() {
            // A newer version's kind, met during a rolling upgrade: left
            // pending for a process that renders it.
            tracing::warn!(
                delivery = delivery.id,
                kind = %delivery.kind,
                "no renderer for this kind of delivery; left for a process that has one"
            );
        }
        found
    }
}

#[async_trait::async_trait]
impl Content for ByKind {
    async fn card(
        &self,
        delivery: &Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Option<Card>, StoreError> {
        match self.of(delivery) {
            Some(content) => content.card(delivery, sub).await,
            None => Ok(None),
        }
    }

    async fn ended(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        match self.of(delivery) {
            Some(content) => content.ended(delivery).await,
            None => Ok(false),
        }
    }
}
