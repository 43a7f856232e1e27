//! One snapshot for every process: the leader publishes what its pollers
//! saw (PostgreSQL: a row per source and a `NOTIFY`), the followers listen
//! and keep it in memory, so `/live` on any process answers from fresh data
//! with no provider call.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::ledger::Budgets;
use super::snapshot::{Snapshot, SourceState};
use crate::providers::ProviderName;
use crate::store::Store;

/// Leader side: publish every source's state after each change the pollers
/// make, until `stop`.
pub async fn publish(snapshot: Arc<Snapshot>, store: Arc<dyn Store>, stop: CancellationToken) {
    let mut changes = snapshot.changes();
    loop {
        for source in snapshot.sources() {
            let Some(state) = snapshot.state(source) else {
                continue;
            };
            let json = match serde_json::to_string(&*state) {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(%source, error = %e, "could not serialize the snapshot");
                    continue;
                }
            };
            if let Err(e) = store.publish_state(source.as_str(), &json).await {
                // The next change publishes again; followers keep the last.
                tracing::warn!(%source, error = %e, "could not share the snapshot");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

/// What a follower keeps in step with the leader.
pub struct Follower {
    pub store: Arc<dyn Store>,
    pub snapshot: Arc<Snapshot>,
    pub seen_members: Arc<dashmap::DashSet<String>>,
    pub budgets: Arc<Budgets>,
}

/// Follower side: keep the snapshot equal to what the leader published,
/// while this process does not lead (`leading`), and re-read what the
/// leader spent for `/help`. On every notice (and after a reconnect, when
/// notices may have been missed) every source is read again: there are at
/// most four rows.
pub async fn follow(follower: Follower, leading: Arc<AtomicBool>, stop: CancellationToken) {
    let refresh = || async {
        if leading.load(Ordering::SeqCst) {
            return;
        }
        match follower.store.published_states().await {
            Ok(rows) => {
                for (source, json) in rows {
                    apply(&follower.snapshot, &follower.seen_members, &source, &json);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the shared snapshot"),
        }
        for ledger in follower.budgets.all() {
            ledger.sync(chrono::Utc::now()).await;
        }
    };
    loop {
        let mut notices = tokio::select! {
            () = stop.cancelled() => return,
            l = follower.store.state_notices() => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for the shared snapshot; retrying");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        refresh().await;
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                n = notices.next() => n,
            };
            match next {
                // A notice, or a lost connection re-established (notices
                // may have been missed): read again either way.
                Some(Ok(())) => refresh().await,
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "the snapshot listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

fn apply(snapshot: &Snapshot, seen_members: &dashmap::DashSet<String>, source: &str, json: &str) {
    let Ok(name) = ProviderName::from_str(source) else {
        tracing::warn!(source, "shared snapshot of an unknown source; skipped");
        return;
    };
    match serde_json::from_str::<SourceState>(json) {
        Ok(state) => {
            for s in &state.streams {
                seen_members.insert(s.name.clone());
            }
            snapshot.load(name, state);
        }
        Err(e) => tracing::warn!(source, error = %e, "unreadable shared snapshot; skipped"),
    }
}
