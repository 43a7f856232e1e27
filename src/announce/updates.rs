//! Live updates: while a broadcast runs, its cards are edited when
//! something worth showing changed (`card.rs` decides what), at most once
//! per `LIVE_UPDATE_SECS`, at the lowest priority. The announcer offers
//! them (and times a held-back change); the dispatcher sends them, or
//! drops them: never retried, never held against a subscription.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::card;
use super::dispatch::{Dispatcher, Job};
use super::message::{live_edit_body, marker, with_marker};
use super::verdict::{verdict, Facts, Verdict};
use crate::discord::rest::DiscordError;
use crate::ops::metric;
use crate::store::{Delivery, DeliveryStatus, Store, StoreError, StoredStream, Subscription};

/// A live update waits at least this long behind other jobs before it is
/// dropped (else one period).
const UPDATE_TTL_MIN: Duration = Duration::from_secs(30);

/// What came of offering a live update.
pub(super) enum Offer {
    /// Nothing worth showing (or the cards are new to live updates).
    Nothing,
    /// Queued for every card that is out.
    Queued,
    /// Worth showing, but the period is not over until then.
    Held(DateTime<Utc>),
}

/// Compare what broadcast `row` is now with what its cards show; when it is
/// worth showing and the period has passed, record the new card and queue
/// a live-update edit of every card that is out (each dropped if it cannot
/// go out within a period, or 30 s at least).
pub(super) async fn offer(
    store: &Arc<dyn Store>,
    dispatcher: &Arc<Dispatcher>,
    row: &StoredStream,
    every: Duration,
) -> Result<Offer, StoreError> {
    let now_card = card::CardState::of(&row.stream);
    let Some(shown) = row.card.as_deref().and_then(card::CardState::from_json) else {
        // Announced by a version without live updates: this is the baseline.
        store
            .mark_card_shown(row.id, &now_card.to_json(), Utc::now())
            .await?;
        return Ok(Offer::Nothing);
    };
    let Some(change) = card::worth_showing(&shown, &now_card) else {
        return Ok(Offer::Nothing);
    };
    let now = Utc::now();
    if !card::due(row.card_at, now, every) {
        let until =
            row.card_at.unwrap_or(now) + chrono::Duration::from_std(every).unwrap_or_default();
        tracing::debug!(stream = %row.stream_id, ?change, "live update held back by LIVE_UPDATE_SECS");
        return Ok(Offer::Held(until));
    }
    store
        .mark_card_shown(row.id, &shown.then(&now_card).to_json(), now)
        .await?;
    let cards: Vec<_> = store
        .deliveries_for_stream(row.id)
        .await?
        .into_iter()
        .filter(|d| {
            d.status == DeliveryStatus::Sent && d.end_edited_at.is_none() && d.message_id.is_some()
        })
        .collect();
    tracing::info!(stream = %row.stream_id, ?change, cards = cards.len(), "live update");
    let within = every.max(UPDATE_TTL_MIN);
    for d in cards {
        dispatcher.enqueue(Job::live_update(&d, within));
    }
    Ok(Offer::Queued)
}

/// A change held back by the period is offered again when the period is
/// over, even if nothing else changes by then: one timer per broadcast
/// (`pending` holds the broadcasts with one), ended with the dispatcher.
pub(super) fn recheck(
    store: &Arc<dyn Store>,
    dispatcher: &Arc<Dispatcher>,
    pending: &Arc<Mutex<HashSet<i64>>>,
    row: i64,
    until: DateTime<Utc>,
    every: Duration,
) {
    if !lock(pending).insert(row) {
        return;
    }
    let store = Arc::clone(store);
    let dispatcher = Arc::clone(dispatcher);
    let pending = Arc::clone(pending);
    let stop = dispatcher.stopped();
    tokio::spawn(async move {
        let mut until = until;
        loop {
            let wait = (until - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => break,
            }
            let offered = match store.get_stream(row).await {
                Ok(Some(current)) if current.ended_at.is_none() => {
                    offer(&store, &dispatcher, &current, every).await
                }
                Ok(_) => Ok(Offer::Nothing),
                Err(e) => Err(e),
            };
            match offered {
                Ok(Offer::Held(later)) => until = later,
                Ok(_) => break,
                Err(e) => {
                    // The next update of the broadcast offers it again.
                    tracing::warn!(error = %e, "could not offer a held live update");
                    break;
                }
            }
        }
        lock(&pending).remove(&row);
    });
}

impl Dispatcher {
    /// Send one live update, or drop it: when it waited too long (behind
    /// every other job, then for the budget), or when Discord refused it.
    pub(super) async fn live_update(
        &self,
        job: &Job,
        delivery: &Delivery,
        stream: &StoredStream,
        sub: Option<Subscription>,
        facts: &Facts,
    ) {
        let (Some(message_id), Some(sub)) = (delivery.message_id, sub) else {
            return;
        };
        // Ended meanwhile: the recap has the last word.
        if stream.ended_at.is_some() || delivery.end_edited_at.is_some() {
            return;
        }
        let budget = self.budget_of(delivery);
        let turn = match job.not_after {
            Some(t) if Instant::now() >= t => false,
            Some(t) => tokio::time::timeout_at(t.into(), budget.turn())
                .await
                .is_ok(),
            None => {
                budget.turn().await;
                true
            }
        };
        if !turn {
            self.update_dropped("it waited too long for the budget");
            return;
        }
        let body = with_marker(
            live_edit_body(&sub, &stream.stream),
            &marker(job.stream_row),
        );
        match self.patch(delivery, message_id, &body).await {
            Ok(()) => {
                self.tally(|s| s.updated += 1);
                metrics::counter!(metric::LIVE_UPDATES, "result" => "sent").increment(1);
                tracing::info!(message = message_id, "live card updated");
            }
            Err(e) => {
                self.count_invalid(&e);
                // A global 429 still tells every other send to wait.
                if let Verdict::PauseAll(wait) = verdict(facts, &Err(e.clone()), Utc::now()) {
                    self.pause_all(wait);
                }
                if matches!(e, DiscordError::RateLimited { .. }) {
                    self.tally(|s| s.rate_limited += 1);
                }
                tracing::info!(error = %e, "live update refused; dropped");
                self.update_dropped("Discord refused it");
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
