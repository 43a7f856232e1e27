//! One snapshot for every process: the leader publishes what its pollers
//! saw (PostgreSQL: a row per source and a `NOTIFY`), the followers listen
//! and keep it in memory, so `/live` on any process answers from fresh data
//! with no provider call.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio_util::sync::CancellationToken;

use super::snapshot::{Snapshot, SourceState};
use super::Budgets;
use crate::providers::ProviderName;
use crate::store::{Store, SNAPSHOT_CHANNEL};

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

/// Follower side: keep `snapshot` equal to what the leader published, while
/// this process does not lead (`leading`). Reconnects by itself; after a
/// reconnect (notices may have been missed) it reloads every source.
pub async fn follow(
    database_url: &str,
    snapshot: Arc<Snapshot>,
    store: Arc<dyn Store>,
    budgets: Arc<Budgets>,
    seen_members: Arc<dashmap::DashSet<String>>,
    leading: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let options = match PgConnectOptions::from_str(database_url) {
        Ok(o) => o.application_name("onair-snapshot-listener"),
        Err(e) => {
            tracing::error!(error = %e, "DATABASE_URL: cannot follow the shared snapshot");
            return;
        }
    };
    let load_all = || async {
        if leading.load(Ordering::SeqCst) {
            return;
        }
        match store.published_states().await {
            Ok(rows) => {
                for (source, json) in rows {
                    apply(&snapshot, &seen_members, &source, &json);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the shared snapshot"),
        }
    };
    loop {
        let listener = async {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(SNAPSHOT_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            () = stop.cancelled() => return,
            l = listener => match l {
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
        load_all().await;
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                n = listener.try_recv() => n,
            };
            match next {
                Ok(Some(notice)) => {
                    if leading.load(Ordering::SeqCst) {
                        continue;
                    }
                    // The leader polled: what it spent shows in /help here too.
                    if let Some(ledger) = ProviderName::from_str(notice.payload())
                        .ok()
                        .and_then(|p| budgets.get(p))
                    {
                        ledger.sync(chrono::Utc::now()).await;
                    }
                    // The notice names the source; its row holds the state.
                    match store.published_states().await {
                        Ok(rows) => {
                            for (source, json) in rows.iter().filter(|(s, _)| s == notice.payload())
                            {
                                apply(&snapshot, &seen_members, source, json);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "could not read the shared snapshot"),
                    }
                }
                // The connection was lost and is re-established on the next
                // call: what was published meanwhile is read again.
                Ok(None) => load_all().await,
                Err(e) => {
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
