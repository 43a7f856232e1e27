//! Discussion threads on sent cards: started once the card is out,
//! archived after its close. The bot archives the threads it started, as
//! their creator.

use std::sync::Arc;

use super::pacing::Pacing;
use super::ports::DiscordPort;
use crate::discord::rest::DiscordError;

/// Discord's answer when the message already has a thread.
pub const THREAD_ALREADY_CREATED: u64 = 160_004;

pub struct Threads {
    pub discord: Arc<dyn DiscordPort>,
    pub pacing: Arc<Pacing>,
}

impl Threads {
    /// Start the thread `name` on a message; the id of the message's
    /// thread (one started before an answer was lost counts).
    pub async fn start(&self, channel: u64, message: u64, name: &str) -> Result<u64, DiscordError> {
        self.pacing.bot.turn().await;
        match self.discord.start_thread(channel, message, name).await {
            Err(DiscordError::Refused {
                code: THREAD_ALREADY_CREATED,
                ..
            }) => {
                self.pacing.bot.turn().await;
                let m = self.discord.get_message(channel, message).await?;
                m["thread"]["id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| DiscordError::Transport("message without its thread".into()))
            }
            other => other,
        }
    }

    pub async fn archive(&self, thread: u64) -> Result<(), DiscordError> {
        self.pacing.bot.turn().await;
        self.discord.archive_thread(thread).await
    }
}
