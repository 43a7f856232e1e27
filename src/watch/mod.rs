//! Watching the providers: one poll loop per source ([`poll`]), the last good
//! view of who is live ([`snapshot`]), the change detector that turns polls
//! into go-live and end events ([`tracker`]), and what each source may spend
//! ([`ledger`], planned by [`crate::budget`]). [`start`] wires them for the bot.

pub mod ledger;
pub mod poll;
pub mod shared;
pub mod snapshot;
pub mod tracker;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use tokio_util::sync::CancellationToken;

pub use ledger::{Budgets, Ledger};

use crate::live::LiveStream;
use crate::providers::source::LiveSource;
use crate::store::Store;
use snapshot::Snapshot;
use tracker::{Tracker, WatchEvent};

/// What every poller needs to turn answers into events.
#[derive(Clone)]
pub struct WatchContext {
    pub snapshot: Arc<Snapshot>,
    pub grace: Duration,
    pub events: tokio::sync::mpsc::UnboundedSender<WatchEvent>,
    pub seen_members: Arc<dashmap::DashSet<String>>,
    pub shutdown: CancellationToken,
    /// Streams announced before a restart, still open in the store.
    pub seeds: Arc<Vec<LiveStream>>,
}

impl WatchContext {
    /// The success hook of one source: diff against the last answer, emit
    /// events, teach the ledger when lives start, remember member names for
    /// autocomplete.
    fn on_success(
        &self,
        source: &dyn LiveSource,
        ledger: Arc<Ledger>,
    ) -> impl FnMut(&[LiveStream]) + Send + 'static {
        let platforms = source.platforms();
        let mut tracker = Tracker::new(self.grace).with_poll_interval(source.schedule().interval);
        tracker.seed(
            self.seeds
                .iter()
                .filter(|s| platforms.contains(&s.platform))
                .cloned(),
            chrono::Utc::now(),
        );
        let events = self.events.clone();
        let seen = Arc::clone(&self.seen_members);
        move |streams: &[LiveStream]| {
            for s in streams {
                if seen.len() < 10_000 && !seen.contains(&s.name) {
                    seen.insert(s.name.clone());
                }
            }
            let now = chrono::Utc::now();
            for e in tracker.observe(streams, now) {
                if let WatchEvent::Started(s) = &e {
                    ledger.saw_go_live(s.started_at.unwrap_or(now));
                }
                let _ = events.send(e);
            }
        }
    }
}

/// Open every source's ledger (retrying store errors until `shutdown`).
pub async fn open_ledgers(
    sources: &[Arc<dyn LiveSource>],
    store: &Arc<dyn Store>,
    shutdown: &CancellationToken,
) -> Budgets {
    let mut ledgers = Vec::new();
    for source in sources {
        let opened = crate::backoff::until_ok(
            "reading the provider's call count",
            Duration::from_millis(200),
            Duration::from_secs(10),
            shutdown,
            || Ledger::open(source.as_ref(), Some(Arc::clone(store)), chrono::Utc::now()),
        )
        .await;
        if let Some(ledger) = opened {
            ledgers.push(Arc::new(ledger));
        }
    }
    Budgets::new(ledgers)
}

/// Start one poll loop per source.
pub fn spawn_pollers(
    sources: &[Arc<dyn LiveSource>],
    budgets: &Budgets,
    watch: &WatchContext,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for source in sources {
        let Some(ledger) = budgets.get(source.name()) else {
            continue;
        };
        watch.snapshot.register(source.name());
        tasks.push(tokio::spawn(poll::poll_loop(
            Arc::clone(source),
            Arc::clone(ledger),
            Arc::clone(&watch.snapshot),
            watch.on_success(source.as_ref(), Arc::clone(ledger)),
            watch.shutdown.clone(),
        )));
    }
    tasks
}

/// Resolves once every registered source has been polled (success or
/// failure) since `since`, or after `limit`. A snapshot loaded from another
/// process's polls does not count: the work polls for itself first.
pub async fn first_polls_done(snapshot: Arc<Snapshot>, since: DateTime<Utc>, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let all = snapshot.sources().into_iter().all(|s| {
            snapshot.state(s).is_some_and(|st| {
                st.last_attempt.is_some_and(|t| t >= since) || st.halted.is_some()
            })
        });
        if all || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
