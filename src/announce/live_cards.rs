//! The cards of live announcements, as the outbox delivers them: a
//! delivery is one broadcast's card in one channel. Rendered from the
//! broadcast as the store has it now (`message.rs` holds the bodies).

use std::sync::Arc;

use chrono::Utc;

use super::card::Recap;
use super::message::{
    announcement_body, ended_announcement_body, ended_body, live_edit_body, marker,
};
use crate::discord::embeds::clean_text;
use crate::live::LiveStream;
use crate::outbox::{Card, Content, Sender};
use crate::store::{Delivery, Store, StoreError, Subscription};

/// Discord's limit on a thread's name.
const MAX_THREAD_NAME: usize = 100;

pub struct LiveCards {
    pub store: Arc<dyn Store>,
}

#[async_trait::async_trait]
impl Content for LiveCards {
    async fn card(
        &self,
        delivery: &Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Option<Card>, StoreError> {
        let Some(stream_row) = delivery.stream_row else {
            return Ok(None);
        };
        let Some(row) = self.store.get_stream(stream_row).await? else {
            return Ok(None);
        };
        let stream = &row.stream;
        let recap = Recap::of(&row);
        let post = sub.map(|s| match row.ended_at {
            // Ended while its post waited (429s, 5xx, a restart): posted as
            // the ended card ("was live", how long).
            Some(ended_at) => ended_announcement_body(s, stream, ended_at, &recap),
            None => announcement_body(s, stream),
        });
        Ok(Some(Card {
            marker: marker(stream_row),
            ended_at: row.ended_at,
            post,
            close: row
                .ended_at
                .map(|ended_at| ended_body(sub, stream, ended_at, &recap)),
            current: sub.map(|s| live_edit_body(s, stream)),
            sender: Sender {
                name: stream.name.clone(),
                avatar_url: stream.avatar_url.clone(),
            },
            thread_name: thread_name(stream),
            post_until: None,
        }))
    }

    async fn ended(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let Some(stream_row) = delivery.stream_row else {
            return Ok(false);
        };
        Ok(self
            .store
            .get_stream(stream_row)
            .await?
            .is_some_and(|s| s.ended_at.is_some()))
    }
}

/// "Fritzy · 2026-12-01": the member and the day the live started (UTC).
pub fn thread_name(stream: &LiveStream) -> String {
    let day = stream
        .started_at
        .unwrap_or_else(Utc::now)
        .format("%Y-%m-%d");
    let name = clean_text(&stream.name, MAX_THREAD_NAME - 13);
    let name = if name.is_empty() {
        "live".to_string()
    } else {
        name
    };
    format!("{name} · {day}")
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
