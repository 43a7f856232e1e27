//! Look before a resend: an earlier POST may have reached Discord without
//! its answer reaching us. Past Discord's nonce window (or for a webhook
//! post, which takes no nonce) the channel is searched for our own message
//! carrying the card's marker, among the first posted since (a little
//! before) the first attempt.
//!
//! The rule when the search cannot see: a message posted without Embed
//! Links lost its embeds, and with them the marker in the footer, so one
//! of ours without embeds whose text is the card's is taken for it. A
//! history that reads empty although the channel's newest message is
//! newer than the search start means the bot lacks Read Message History:
//! the earlier attempt may be there unseen, so the card is not sent again
//! (at most once, on purpose: a double post is worse than one missed,
//! and `/subscriptions` says why).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::pacing::Pacing;
use super::ports::DiscordPort;
use crate::discord::rest::{snowflake_at, DiscordError};

/// How many messages after the first attempt are searched for it.
const LOOKBACK: u8 = 100;
/// At most this many pages of [`LOOKBACK`] are read.
const LOOKBACK_PAGES: usize = 5;
/// How long before the first attempt the search starts (clock skew).
const LOOKBACK_SLACK_SECS: i64 = 30;

pub struct Lookup {
    pub discord: Arc<dyn DiscordPort>,
    pub pacing: Arc<Pacing>,
}

/// What a look in the channel saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Our earlier post: adopt it.
    Found(u64),
    /// Not there: sending is safe.
    NotThere,
    /// The history cannot be read, so an earlier post may be there
    /// unseen; why, in words for `/subscriptions`.
    Blind(&'static str),
}

/// Why a card was not resent in a channel whose history is unreadable.
pub const NO_HISTORY: &str = "could not check whether an earlier attempt was posted: onair lacks Read Message History in this channel, so it did not send the announcement again (it never posts twice)";

impl Lookup {
    /// Our message with `marker` (posted by the bot, or by one of
    /// `webhooks`), or with `content` and no embeds left, among the first
    /// posted in the channel since the first attempt.
    pub async fn find_posted(
        &self,
        channel_id: u64,
        marker: &str,
        content: Option<&str>,
        webhooks: &[u64],
        first_attempt: DateTime<Utc>,
    ) -> Result<Seen, DiscordError> {
        let mut authors = vec![self.discord.bot_user_id().await?];
        authors.extend_from_slice(webhooks);
        let since = first_attempt - chrono::Duration::seconds(LOOKBACK_SLACK_SECS);
        let start = snowflake_at(since);
        let mut after = start;
        for page_number in 0..LOOKBACK_PAGES {
            self.pacing.bot.turn().await;
            let page = self
                .discord
                .messages_after(channel_id, after, LOOKBACK)
                .await?;
            if let Some(id) = find_marked(&page, &authors, marker, content) {
                return Ok(Seen::Found(id));
            }
            if page_number == 0 && page.is_empty() {
                // Nothing since the start, or nothing the bot may read.
                self.pacing.bot.turn().await;
                let last = self.discord.last_message_id(channel_id).await?;
                if last.is_some_and(|id| id > start) {
                    return Ok(Seen::Blind(NO_HISTORY));
                }
            }
            let newest = page
                .iter()
                .filter_map(|m| m["id"].as_str()?.parse::<u64>().ok())
                .max();
            match newest {
                Some(id) if page.len() >= usize::from(LOOKBACK) => after = id,
                _ => break,
            }
        }
        Ok(Seen::NotThere)
    }
}

/// Among a channel's messages (as Discord lists them), the id of the one
/// one of `authors` (the bot, our webhooks) posted with `marker` in an
/// embed's footer, or (its embeds dropped for want of Embed Links) with
/// no embed and exactly `content`.
pub fn find_marked(
    messages: &[Value],
    authors: &[u64],
    marker: &str,
    content: Option<&str>,
) -> Option<u64> {
    messages.iter().find_map(|m| {
        let author = m["author"]["id"].as_str()?.parse::<u64>().ok()?;
        let embeds = m["embeds"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let marked = embeds
            .iter()
            .any(|e| e["footer"]["text"].as_str() == Some(marker));
        let bare_twin = embeds.is_empty()
            && content.is_some_and(|c| !c.is_empty() && m["content"].as_str() == Some(c));
        if authors.contains(&author) && (marked || bare_twin) {
            m["id"].as_str()?.parse().ok()
        } else {
            None
        }
    })
}

/// Put `marker` in the footer of the body's first embed.
pub fn with_marker(mut body: Value, marker: &str) -> Value {
    if let Some(e) = body
        .get_mut("embeds")
        .and_then(|e| e.get_mut(0))
        .and_then(Value::as_object_mut)
    {
        e.insert("footer".into(), serde_json::json!({ "text": marker }));
    }
    body
}

/// The nonce Discord drops a duplicate POST by, for a bot post of
/// delivery `id` (at most 25 characters).
pub fn with_nonce(mut body: Value, id: i64) -> Value {
    if let Some(o) = body.as_object_mut() {
        let nonce: String = format!("onair-{id}").chars().take(25).collect();
        o.insert("nonce".into(), Value::String(nonce));
        o.insert("enforce_nonce".into(), Value::Bool(true));
    }
    body
}
