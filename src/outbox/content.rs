//! What the outbox delivers is data: a [`Card`], rendered by the feature
//! that owns the delivery (live announcements: `announce::live_cards`).
//! The outbox knows nothing of broadcasts, members or templates; it posts,
//! edits and threads what the card says, exactly once.

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
