//! Live updates: while a broadcast runs, its cards are edited when
//! something worth showing changed (`card.rs` decides what), at most once
//! per `LIVE_UPDATE_SECS`, at the lowest priority. The announcer offers
//! them (and times a held-back change); the outbox sends them as
//! refreshes, or drops them: never retried, never held against a
//! subscription.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::card;
use crate::outbox::{Job, Outbox};
use crate::store::{DeliveryStatus, Store, StoreError, StoredStream};

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
    outbox: &Arc<Outbox>,
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
        outbox.enqueue(Job::refresh(&d, within));
    }
    Ok(Offer::Queued)
}

/// A change held back by the period is offered again when the period is
/// over, even if nothing else changes by then: one timer per broadcast
/// (`pending` holds the broadcasts with one), ended with the outbox.
pub(super) fn recheck(
    store: &Arc<dyn Store>,
    outbox: &Arc<Outbox>,
    pending: &Arc<Mutex<HashSet<i64>>>,
    row: i64,
    until: DateTime<Utc>,
    every: Duration,
) {
    if !lock(pending).insert(row) {
        return;
    }
    let store = Arc::clone(store);
    let outbox = Arc::clone(outbox);
    let pending = Arc::clone(pending);
    let stop = outbox.stopped();
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
                    offer(&store, &outbox, &current, every).await
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
