//! Look before a resend: an earlier POST may have reached Discord without
//! its answer reaching us. Past Discord's nonce window (or for a webhook
//! post, which takes no nonce) the channel is searched for our own message
//! carrying the card's marker, among the first posted since (a little
//! before) the first attempt.

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

impl Lookup {
    /// Our message with `marker` (posted by the bot, or by one of
    /// `webhooks`), among the first posted in the channel since the first
    /// attempt.
    pub async fn find_posted(
        &self,
        channel_id: u64,
        marker: &str,
        webhooks: &[u64],
        first_attempt: DateTime<Utc>,
    ) -> Result<Option<u64>, DiscordError> {
        let mut authors = vec![self.discord.bot_user_id().await?];
        authors.extend_from_slice(webhooks);
        let since = first_attempt - chrono::Duration::seconds(LOOKBACK_SLACK_SECS);
        let mut after = snowflake_at(since);
        for _ in 0..LOOKBACK_PAGES {
            self.pacing.bot.turn().await;
            let page = self
                .discord
                .messages_after(channel_id, after, LOOKBACK)
                .await?;
            if let Some(id) = find_marked(&page, &authors, marker) {
                return Ok(Some(id));
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
        Ok(None)
    }
}

/// Among a channel's messages (as Discord lists them), the id of the one
/// one of `authors` (the bot, our webhooks) posted with `marker`.
pub fn find_marked(messages: &[Value], authors: &[u64], marker: &str) -> Option<u64> {
    messages.iter().find_map(|m| {
        let author = m["author"]["id"].as_str()?.parse::<u64>().ok()?;
        let marked = m["embeds"]
            .as_array()?
            .iter()
            .any(|e| e["footer"]["text"].as_str() == Some(marker));
        if authors.contains(&author) && marked {
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
