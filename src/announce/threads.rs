//! A discussion thread per announcement (`thread:true`): started on the
//! message once it is out, named after the member and the day, archived
//! when the live ends. The bot archives the threads it started, as their
//! creator.

use chrono::Utc;

use super::dispatch::{Dispatcher, Job, JobKind};
use super::verdict::Facts;
use crate::discord::embeds::clean_text;
use crate::discord::rest::DiscordError;
use crate::live::LiveStream;
use crate::store::{Delivery, StoreError, StoredStream};

/// Discord's answer when the message already has a thread.
pub const THREAD_ALREADY_CREATED: u64 = 160_004;
/// Discord's limit on a thread's name.
const MAX_NAME: usize = 100;

/// "Fritzy · 2026-12-01": the member and the day the live started (UTC).
pub fn thread_name(stream: &LiveStream) -> String {
    let day = stream
        .started_at
        .unwrap_or_else(Utc::now)
        .format("%Y-%m-%d");
    let name = clean_text(&stream.name, MAX_NAME - 13);
    let name = if name.is_empty() {
        "live".to_string()
    } else {
        name
    };
    format!("{name} · {day}")
}

impl Dispatcher {
    pub(super) async fn start_thread(
        self: &std::sync::Arc<Self>,
        job: &Job,
        delivery: &Delivery,
        stream: &StoredStream,
        facts: &Facts,
    ) -> Result<(), StoreError> {
        let Some(message_id) = delivery.message_id else {
            return Ok(());
        };
        // Already there, or the live is over (its card is a recap now).
        if delivery.thread_id.is_some() || stream.ended_at.is_some() {
            return Ok(());
        }
        self.pacing.bot.turn().await;
        let started = self
            .rest
            .start_thread(job.channel_id, message_id, &thread_name(&stream.stream))
            .await;
        let thread = match started {
            Ok(id) => Ok(id),
            // Started before an answer was lost: it is the message's thread.
            Err(DiscordError::Refused {
                code: THREAD_ALREADY_CREATED,
                ..
            }) => {
                self.pacing.bot.turn().await;
                self.rest
                    .get_message(job.channel_id, message_id)
                    .await
                    .and_then(|m| {
                        m["thread"]["id"]
                            .as_str()
                            .and_then(|id| id.parse().ok())
                            .ok_or_else(|| {
                                DiscordError::Transport("message without its thread".into())
                            })
                    })
            }
            Err(e) => Err(e),
        };
        match thread {
            Ok(id) => {
                tracing::info!(
                    thread = id,
                    message = message_id,
                    "discussion thread started"
                );
                self.store.set_thread(delivery.id, id).await
            }
            Err(e) => self.apply(job, None, facts, e).await,
        }
    }

    pub(super) async fn archive_thread(
        self: &std::sync::Arc<Self>,
        job: &Job,
        delivery: &Delivery,
        facts: &Facts,
    ) -> Result<(), StoreError> {
        let Some(thread) = delivery.thread_id else {
            return Ok(());
        };
        if delivery.thread_archived_at.is_some() {
            return Ok(());
        }
        self.pacing.bot.turn().await;
        match self.rest.archive_thread(thread).await {
            Ok(()) => {
                tracing::info!(thread, "discussion thread archived");
                self.store
                    .mark_thread_archived(delivery.id, Utc::now())
                    .await
            }
            Err(e) => self.apply(job, None, facts, e).await,
        }
    }

    /// After the end edit of a message with a thread: archive it.
    pub(super) fn archive_thread_later(&self, job: &Job) {
        self.enqueue(Job {
            kind: JobKind::ArchiveThread,
            attempts: 0,
            ..job.clone()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_named_after_the_member_and_the_day() {
        let mut s = LiveStream::new(crate::live::Platform::Idn, "1", "Fritzy");
        s.started_at = chrono::DateTime::from_timestamp(1_764_590_400, 0);
        assert_eq!(thread_name(&s), "Fritzy · 2025-12-01");
        s.name = "x".repeat(300);
        assert!(thread_name(&s).chars().count() <= 100);
    }
}
