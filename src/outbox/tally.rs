//! The outbox counts in one place: every [`Event`] becomes a Prometheus
//! sample here, and nowhere else.

use std::time::Duration;

use super::transition::Event;
use crate::ops::metric;

/// Count one event.
pub fn count(event: Event) {
    match event {
        Event::Sent => metrics::counter!(metric::DELIVERIES_SENT).increment(1),
        Event::Dropped(kind) => {
            metrics::counter!(metric::DELIVERIES_FAILED, "reason" => kind.label()).increment(1);
        }
        Event::RateLimited { global } => {
            let scope = if global { "global" } else { "route" };
            metrics::counter!(metric::DISCORD_429, "scope" => scope).increment(1);
        }
        Event::Retried => metrics::counter!(metric::DELIVERY_RETRIES).increment(1),
        Event::Edited => metrics::counter!(metric::CARD_EDITS).increment(1),
        Event::Refreshed => {
            metrics::counter!(metric::LIVE_UPDATES, "result" => "sent").increment(1);
        }
        Event::RefreshDropped => {
            metrics::counter!(metric::LIVE_UPDATES, "result" => "dropped").increment(1);
        }
    }
}

/// A card went out `latency` after its delivery was written.
pub fn latency(latency: Duration) {
    metrics::histogram!(metric::DISPATCH_LATENCY).record(latency.as_secs_f64());
}

/// Jobs queued or in flight.
pub fn pending(n: usize) {
    metrics::gauge!(metric::DELIVERIES_PENDING).set(n as f64);
}
