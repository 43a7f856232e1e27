//! The work that must happen once per bot, however many processes run it:
//! the pollers (provider budgets are spent once), the tracker and the
//! announcer (Discord's global limit is per token: one pacer). A process
//! runs it while it leads (`crate::leader`): [`Work::start`] when it
//! becomes the leader, [`Work::stop`] the moment it is not any more.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::announce::{start_outbox, Announcer, AnnouncerOptions};
use crate::calendar::cards::CalendarCards;
use crate::calendar::feeds::Feeds;
use crate::calendar::reads::ReadPlan;
use crate::calendar::Calendar;
use crate::discord::rest::DiscordRest;
use crate::http::REQUEST_TIMEOUT;
use crate::outbox::{ByKind, Content, Outbox};
use crate::providers::source::LiveSource;
use crate::store::Store;
use crate::watch::snapshot::Snapshot;
use crate::watch::tracker::WatchEvent;
use crate::watch::{first_polls_done, spawn_pollers, Budgets, WatchContext};

/// What the work is made of; cloned for every term of leadership.
#[derive(Clone)]
pub struct WorkContext {
    pub store: Arc<dyn Store>,
    pub rest: DiscordRest,
    pub announcer: AnnouncerOptions,
    pub snapshot: Arc<Snapshot>,
    pub sources: Vec<Arc<dyn LiveSource>>,
    pub budgets: Arc<Budgets>,
    pub seen_members: Arc<dashmap::DashSet<String>>,
    pub grace: Duration,
    /// The longest interval of any source: how long resume waits for the
    /// first polls.
    pub longest_interval: Duration,
    /// Publish the snapshot for other processes (PostgreSQL).
    pub share_snapshot: bool,
    /// Ended broadcasts and finished deliveries older than this are pruned.
    pub retention: Duration,
    /// The JKT48 calendar and its feeds' read plan (None: no JKT48Connect
    /// key).
    pub calendar: Option<(Arc<Calendar>, ReadPlan)>,
}

/// The running work of one term.
pub struct Work {
    stop: CancellationToken,
    pollers: Vec<tokio::task::JoinHandle<()>>,
    events: tokio::task::JoinHandle<()>,
    publisher: Option<tokio::task::JoinHandle<()>>,
    pruner: tokio::task::JoinHandle<()>,
    feeds: Option<tokio::task::JoinHandle<()>>,
    outbox: Arc<Outbox>,
}

impl Work {
    /// Start polling and dispatching. Streams still open in the store seed
    /// the tracker; what earlier terms (or processes) left pending is
    /// resumed once this term's first polls are in. `None`: `parent` was
    /// cancelled before the store answered (a store failure is retried
    /// until then, never returned).
    pub async fn start(ctx: &WorkContext, parent: &CancellationToken) -> Option<Work> {
        let stop = parent.child_token();
        let since = chrono::Utc::now();
        let seeds: Vec<_> = crate::backoff::until_ok(
            "reading the open broadcasts",
            crate::announce::EVENT_RETRY_FIRST,
            crate::announce::EVENT_RETRY_MAX,
            &stop,
            || ctx.store.open_streams(),
        )
        .await?
        .into_iter()
        .map(|s| s.stream)
        .collect();
        for s in &seeds {
            ctx.seen_members.insert(s.name.clone());
        }
        let mut kinds = ByKind::default();
        if ctx.calendar.is_some() {
            let cards: Arc<dyn Content> = Arc::new(CalendarCards {
                store: Arc::clone(&ctx.store),
            });
            for kind in crate::calendar::items::KINDS {
                kinds = kinds.with(kind, Arc::clone(&cards));
            }
        }
        let outbox = start_outbox(&ctx.store, ctx.rest.clone(), &ctx.announcer, kinds);
        let announcer = Arc::new(Announcer::new(
            Arc::clone(&ctx.store),
            Arc::clone(&outbox),
            &ctx.announcer,
        ));
        let feeds = ctx.calendar.as_ref().map(|(calendar, plan)| {
            tokio::spawn(crate::calendar::feeds::run(
                Feeds {
                    store: Arc::clone(&ctx.store),
                    calendar: Arc::clone(calendar),
                    outbox: Arc::clone(&outbox),
                    plan: *plan,
                },
                stop.clone(),
            ))
        });
        let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
        let first_polls_by = ctx.longest_interval + REQUEST_TIMEOUT + Duration::from_secs(1);
        let events = tokio::spawn(handle_events(
            Arc::clone(&announcer),
            events_rx,
            Arc::clone(&ctx.snapshot),
            since,
            first_polls_by,
            stop.clone(),
        ));
        let watch = WatchContext {
            snapshot: Arc::clone(&ctx.snapshot),
            grace: ctx.grace,
            events: events_tx,
            seen_members: Arc::clone(&ctx.seen_members),
            shutdown: stop.clone(),
            seeds: Arc::new(seeds),
        };
        let pollers = spawn_pollers(&ctx.sources, &ctx.budgets, &watch);
        let publisher = ctx.share_snapshot.then(|| {
            tokio::spawn(crate::watch::shared::publish(
                Arc::clone(&ctx.snapshot),
                Arc::clone(&ctx.store),
                stop.clone(),
            ))
        });
        let pruner = tokio::spawn(prune(Arc::clone(&ctx.store), ctx.retention, stop.clone()));
        Some(Work {
            stop,
            pollers,
            events,
            publisher,
            pruner,
            feeds,
            outbox,
        })
    }

    /// Stop. `grace`: how long in-flight deliveries may finish (a clean
    /// shutdown); `None` when leadership was lost: nothing new is sent from
    /// this moment (what was queued stays pending in the store for the next
    /// leader).
    pub async fn stop(self, grace: Option<Duration>) {
        if grace.is_none() {
            self.outbox.shutdown();
        }
        self.stop.cancel();
        for p in self.pollers {
            let _ = p.await;
        }
        // Pollers are gone, so the event channel closes once drained.
        let _ = self.events.await;
        if let Some(p) = self.publisher {
            let _ = p.await;
        }
        let _ = self.pruner.await;
        if let Some(f) = self.feeds {
            let _ = f.await;
        }
        if let Some(grace) = grace {
            if !self.outbox.idle(grace).await {
                tracing::warn!(
                    "shutting down with deliveries still queued; they resume at next start"
                );
            }
        }
        self.outbox.shutdown();
    }
}

/// How often the leader prunes what is older than the retention.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);

/// Data retention: once soon after the term starts, then every
/// [`PRUNE_EVERY`], delete the broadcasts that ended more than `retention`
/// ago (their deliveries with them) and the old dropped deliveries.
async fn prune(store: Arc<dyn Store>, retention: Duration, stop: CancellationToken) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = PRUNE_EVERY;
        let Ok(keep) = chrono::Duration::from_std(retention) else {
            continue;
        };
        match store.prune_calendar(chrono::Utc::now() - keep).await {
            Ok(0) => {}
            Ok(items) => tracing::info!(items, "pruned old calendar items"),
            Err(e) => tracing::warn!(error = %e, "could not prune old calendar items"),
        }
        match store.prune(chrono::Utc::now() - keep).await {
            Ok((0, 0)) => {}
            Ok((streams, deliveries)) => {
                tracing::info!(
                    streams,
                    deliveries,
                    "pruned what is older than the retention"
                );
            }
            Err(e) => tracing::warn!(error = %e, "could not prune old broadcasts"),
        }
    }
}

/// The announcer's event loop: events in order, and the resume of what a
/// restart (or an earlier leader) left pending once the first polls are in.
async fn handle_events(
    announcer: Arc<Announcer>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<WatchEvent>,
    snapshot: Arc<Snapshot>,
    since: chrono::DateTime<chrono::Utc>,
    first_polls_by: Duration,
    stop: CancellationToken,
) {
    let first_polls = first_polls_done(snapshot, since, first_polls_by);
    tokio::pin!(first_polls);
    let mut resumed = false;
    loop {
        tokio::select! {
            // Events already queued (those of the first polls) come first.
            biased;
            event = events.recv() => match event {
                Some(e) => announcer.handle(e, &stop).await,
                None => break,
            },
            () = &mut first_polls, if !resumed => {
                resumed = true;
                // A store error here is retried too: what was pending is
                // never left for the next restart.
                let _ = crate::backoff::until_ok(
                    "resuming deliveries from the store",
                    crate::announce::EVENT_RETRY_FIRST,
                    crate::announce::EVENT_RETRY_MAX,
                    &stop,
                    || announcer.resume(),
                )
                .await;
            }
        }
    }
}
