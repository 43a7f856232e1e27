//! Live announcements: the trigger that matches watch events against
//! subscriptions ([`audience`]), writes one delivery per channel to the
//! store and hands them to the [`crate::outbox`], which posts them exactly
//! once; and the renderer of their cards ([`live_cards`], [`message`]).
//! While a broadcast runs, its cards are refreshed when something worth
//! showing changes (at most once per `LIVE_UPDATE_SECS`, at the lowest
//! priority; [`updates`]); on `Ended` every sent card is closed as a recap.

pub mod audience;
pub mod card;
pub mod leave;
pub mod live_cards;
pub mod message;
mod updates;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::backoff;
use crate::discord::rest::DiscordRest;
use crate::live::LiveStream;
use crate::outbox::ports::Deliveries;
use crate::outbox::{pacing, ByKind, Job, Outbox, Step};
use crate::store::{Delivery, Store, Subscription, KIND_LIVE};
use crate::watch::tracker::WatchEvent;

/// The first and the longest wait between two attempts to record an event
/// (or to resume from the store).
pub const EVENT_RETRY_FIRST: Duration = Duration::from_millis(500);
pub const EVENT_RETRY_MAX: Duration = Duration::from_secs(30);

/// Tunables (tests shorten the delays).
#[derive(Debug, Clone)]
pub struct AnnouncerOptions {
    /// How the outbox delivers (pacing, retries, staleness, fair shares).
    pub outbox: crate::outbox::Options,
    /// At most one live-update edit per message per this long
    /// (`LIVE_UPDATE_SECS`); `None`: cards are not edited while live.
    pub live_update: Option<Duration>,
    /// What reaches catch-all subscriptions beyond the curated sources
    /// (the isolation rule, [`audience`]).
    pub reach: audience::Reach,
}

impl Default for AnnouncerOptions {
    fn default() -> Self {
        AnnouncerOptions {
            outbox: crate::outbox::Options::default(),
            live_update: Some(Duration::from_secs(600)),
            reach: audience::Reach::default(),
        }
    }
}

/// Turns events into deliveries and hands them to the outbox.
pub struct Announcer {
    store: Arc<dyn Store>,
    outbox: Arc<Outbox>,
    live_update: Option<Duration>,
    reach: audience::Reach,
    /// Broadcasts with a held live update timed to be offered again.
    rechecks: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

impl Announcer {
    /// Announce through `outbox` (shared with the other kinds of post).
    pub fn new(store: Arc<dyn Store>, outbox: Arc<Outbox>, options: &AnnouncerOptions) -> Self {
        let live_update = options.live_update;
        let reach = options.reach;
        Announcer {
            store,
            outbox,
            live_update,
            reach,
            rechecks: Arc::default(),
        }
    }

    /// After a restart: send what was not sent, edit what ended.
    pub async fn resume(&self) -> Result<(), crate::store::StoreError> {
        // A crash between writing a stream and writing its deliveries leaves
        // an open stream without any: match it again (idempotent).
        let subs = self.store.active_subscriptions().await?;
        for open in self.store.open_streams().await? {
            if self.store.deliveries_for_stream(open.id).await?.is_empty() {
                self.match_and_record(&open.stream, open.id, &subs).await?;
            }
        }
        let pending = self.store.pending_deliveries().await?;
        let ended = self.store.deliveries_needing_end_edit().await?;
        if !pending.is_empty() || !ended.is_empty() {
            tracing::info!(
                pending = pending.len(),
                end_edits = ended.len(),
                "resuming deliveries from the store"
            );
        }
        self.enqueue_sends(pending, &subs);
        for (d, _) in ended {
            self.outbox.enqueue(Job::new(&d, Step::Close));
        }
        // Threads to start on cards that are out, or to archive after the
        // end (queued after the end edits, so a card is closed first).
        for d in self.store.deliveries_needing_thread_work().await? {
            let kind = match d.thread_id {
                None => Step::StartThread,
                Some(_) => Step::ArchiveThread,
            };
            self.outbox.enqueue(Job::new(&d, kind));
        }
        Ok(())
    }

    /// Handle one watch event. A store error is never the end of it: the
    /// event is retried with backoff (capped at [`EVENT_RETRY_MAX`]) until
    /// it is recorded or `stop` is cancelled, so a started stream is
    /// announced once the store recovers (the tracker never emits the same
    /// `Started` twice).
    pub async fn handle(&self, event: WatchEvent, stop: &CancellationToken) {
        let _ = backoff::until_ok(
            "recording a watch event",
            EVENT_RETRY_FIRST,
            EVENT_RETRY_MAX,
            stop,
            || async {
                match &event {
                    WatchEvent::Started(stream) => self.started(stream).await,
                    WatchEvent::Updated(stream) => self.updated(stream).await,
                    WatchEvent::Ended { stream, ended_at } => self.ended(stream, *ended_at).await,
                }
            },
        )
        .await;
    }

    async fn started(&self, stream: &LiveStream) -> Result<(), crate::store::StoreError> {
        let row = self.store.upsert_stream(stream).await?;
        // What the cards show from now on, and since when (the first live
        // update comes at the earliest one period after the go-live).
        self.store
            .mark_card_shown(row.id, &card::CardState::of(stream).to_json(), Utc::now())
            .await?;
        let subs = self.store.active_subscriptions().await?;
        let pending = self.match_and_record(stream, row.id, &subs).await?;
        self.enqueue_sends(pending, &subs);
        // The same broadcast back after its end edit (a blip longer than
        // the grace): its messages go back to live, no second post.
        for d in self.store.deliveries_for_stream(row.id).await? {
            if d.status == crate::store::DeliveryStatus::Sent && d.end_edited_at.is_some() {
                self.store.clear_end_edited(d.id).await?;
                self.outbox.enqueue(Job::new(&d, Step::Redraw));
            }
        }
        Ok(())
    }

    /// A broadcast's details changed: record them (the recap's peak), and
    /// offer its cards a live update.
    async fn updated(&self, stream: &LiveStream) -> Result<(), crate::store::StoreError> {
        let row = self.store.upsert_stream(stream).await?;
        let Some(every) = self.live_update else {
            return Ok(());
        };
        if let updates::Offer::Held(until) =
            updates::offer(&self.store, &self.outbox, &row, every).await?
        {
            updates::recheck(
                &self.store,
                &self.outbox,
                &self.rechecks,
                row.id,
                until,
                every,
            );
        }
        Ok(())
    }

    /// Queue announcements so that those posted as the bot and those posted
    /// through webhooks alternate: each kind has its own budget, and a
    /// fan-out in subscription order would spend one, then the other.
    /// `subs`: the active subscriptions (who posts as the member).
    fn enqueue_sends(&self, pending: Vec<Delivery>, subs: &[Subscription]) {
        let as_member: std::collections::HashSet<i64> = subs
            .iter()
            .filter(|s| s.as_member())
            .map(|s| s.id)
            .collect();
        let (hooks, bot): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|d| as_member.contains(&d.subscription_id));
        let jobs = pacing::interleave(bot, hooks)
            .iter()
            .map(|d| Job::new(d, Step::Post))
            .collect();
        self.outbox.enqueue_all(jobs);
    }

    /// Write one pending delivery per matching channel; returns the pending
    /// ones (the caller enqueues them, or `resume` finds them in the store).
    async fn match_and_record(
        &self,
        stream: &LiveStream,
        row: i64,
        subs: &[Subscription],
    ) -> Result<Vec<Delivery>, crate::store::StoreError> {
        let targets: Vec<(i64, u64, u64)> = subs
            .iter()
            .filter(|s| audience::matches(s, stream, self.reach))
            .map(|s| (s.id, s.guild_id, s.channel_id))
            .collect();
        tracing::info!(
            stream = %stream.id(),
            name = %stream.name,
            channels = targets.len(),
            "stream started"
        );
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let deliveries = self.store.create_deliveries(row, &targets).await?;
        Ok(deliveries
            .into_iter()
            .filter(|d| d.status == crate::store::DeliveryStatus::Pending)
            .collect())
    }

    async fn ended(
        &self,
        stream: &LiveStream,
        ended_at: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        let row = self.store.upsert_stream(stream).await?;
        self.store.end_stream(row.id, ended_at).await?;
        let deliveries = self.store.deliveries_for_stream(row.id).await?;
        tracing::info!(stream = %stream.id(), messages = deliveries.len(), "stream ended");
        for d in deliveries {
            // Sent ones get their edit; pending ones are dropped by the
            // outbox when it sees the stream ended. Both go through the
            // channel's queue, so an edit never overtakes its send.
            let kind = match d.status {
                crate::store::DeliveryStatus::Sent => Step::Close,
                _ => continue,
            };
            self.outbox.enqueue(Job::new(&d, kind));
        }
        Ok(())
    }
}

/// Start the outbox for every kind of post: live cards (rendered here)
/// and whatever `more` registers (the calendar's cards).
pub fn start_outbox(
    store: &Arc<dyn Store>,
    rest: DiscordRest,
    options: &AnnouncerOptions,
    more: ByKind,
) -> Arc<Outbox> {
    Outbox::start(
        Arc::new(Deliveries(Arc::clone(store))),
        Arc::new(rest),
        Arc::new(more.with(
            KIND_LIVE,
            Arc::new(live_cards::LiveCards {
                store: Arc::clone(store),
            }),
        )),
        options.outbox.clone(),
    )
}
