//! Sending, fairly and politely: a queue per channel (one message in flight
//! per channel), channels served round-robin by a fixed pool of workers,
//! every request paced under Discord's global limit (the bot's budget, or
//! the webhooks' for posts as the member; `budget.rs`), live updates last
//! (`queues.rs`).
//! What an answer means is decided by [`super::verdict`] (pure, table
//! tested); this module applies it: store writes, requeue, pauses.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::budget::{Budget, Pacing};
use super::card::Recap;
use super::message::{
    announcement_body, ended_announcement_body, ended_body, find_marked, live_edit_body, marker,
    with_marker,
};
use super::queues::Queues;
use super::verdict::{verdict, Facts, Verdict};
use super::webhook;
use super::AnnouncerOptions;
use crate::discord::rest::{snowflake_at, DiscordError, DiscordRest};
use crate::ops::metric;
use crate::store::{Delivery, DeliveryStatus, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Send,
    EndEdit,
    /// The broadcast came back after its end edit: edit it back to live.
    Reopen,
    /// A live update (new title, a viewer milestone, a new quality): the
    /// lowest priority, dropped rather than retried or kept waiting, and
    /// never held against the subscription.
    Update,
    /// Start the discussion thread on a sent announcement.
    Thread,
    /// Archive the thread of an announcement whose broadcast ended.
    ArchiveThread,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub kind: JobKind,
    pub delivery_id: i64,
    pub stream_row: i64,
    pub subscription_id: i64,
    pub guild_id: u64,
    pub channel_id: u64,
    pub attempts: u32,
    /// A live update not sent by then is dropped (the next one, or the
    /// recap, shows the news).
    pub not_after: Option<Instant>,
}

impl Job {
    pub fn from_delivery(d: &Delivery, kind: JobKind) -> Self {
        Job {
            kind,
            delivery_id: d.id,
            stream_row: d.stream_row,
            subscription_id: d.subscription_id,
            guild_id: d.guild_id,
            channel_id: d.channel_id,
            attempts: 0,
            not_after: None,
        }
    }

    /// A live update of a sent announcement, dropped if not sent within
    /// `within`.
    pub fn live_update(d: &Delivery, within: Duration) -> Self {
        Job {
            not_after: Some(Instant::now() + within),
            ..Job::from_delivery(d, JobKind::Update)
        }
    }
}

/// Counters a test or benchmark reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DispatchStats {
    pub sent: u64,
    pub edited: u64,
    pub rate_limited: u64,
    pub failed: u64,
    pub retried: u64,
    /// Live-update edits Discord took.
    pub updated: u64,
    /// Live updates dropped (waited too long, or refused).
    pub updates_dropped: u64,
}

pub struct Dispatcher {
    pub(super) store: Arc<dyn Store>,
    pub(super) rest: DiscordRest,
    options: AnnouncerOptions,
    /// The bot's own requests, under Discord's global limit, and webhook
    /// executions and edits (no `Authorization`: per IP).
    pub(super) pacing: Arc<Pacing>,
    queues: Mutex<Queues>,
    work: Notify,
    idle: Notify,
    invalid: Mutex<VecDeque<Instant>>,
    stats: Mutex<DispatchStats>,
    shutdown: CancellationToken,
}

const INVALID_WINDOW: Duration = Duration::from_secs(600);
/// How many messages after the first attempt are searched for it.
const LOOKBACK: u8 = 100;
/// At most this many pages of [`LOOKBACK`] are read.
const LOOKBACK_PAGES: usize = 5;
/// How long before the first attempt the search starts (clock skew).
const LOOKBACK_SLACK_SECS: i64 = 30;

fn chrono_window(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

impl Dispatcher {
    pub fn start(store: Arc<dyn Store>, rest: DiscordRest, options: AnnouncerOptions) -> Arc<Self> {
        let workers = options.concurrency.max(1);
        // Live updates use a quarter of the workers at most, so a new
        // announcement finds the budget nearly untouched.
        let update_slots = (workers / 4).max(1);
        let fair = options.fair_shares;
        let d = Arc::new(Dispatcher {
            store,
            rest,
            pacing: Arc::clone(&options.pacing),
            options,
            queues: Mutex::new(Queues::new(update_slots, fair)),
            work: Notify::new(),
            idle: Notify::new(),
            invalid: Mutex::new(VecDeque::new()),
            stats: Mutex::new(DispatchStats::default()),
            shutdown: CancellationToken::new(),
        });
        for _ in 0..workers {
            tokio::spawn(Arc::clone(&d).worker());
        }
        d
    }

    pub fn stats(&self) -> DispatchStats {
        lock(&self.stats).clone()
    }

    /// Count into the stats.
    pub(super) fn tally(&self, f: impl FnOnce(&mut DispatchStats)) {
        f(&mut lock(&self.stats));
    }

    /// Cancelled when the dispatcher stops (timers of its owner end too).
    pub fn stopped(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn shutdown(&self) {
        self.shutdown.cancel();
        self.work.notify_waiters();
    }

    /// One job at the back of its channel's queue.
    pub fn enqueue(&self, job: Job) {
        self.enqueue_all(vec![job]);
    }

    /// Queue a whole fan-out at once: the queues see every server's job
    /// before a worker takes any, so the round-robin by server holds
    /// however the tasks are scheduled.
    pub fn enqueue_all(&self, jobs: Vec<Job>) {
        let (count, pending) = {
            let mut queues = lock(&self.queues);
            let count = jobs.len();
            for job in jobs {
                queues.push(job);
            }
            (count, queues.outstanding())
        };
        metrics::gauge!(metric::DELIVERIES_PENDING).set(pending as f64);
        for _ in 0..count.min(self.options.concurrency.max(1)) {
            self.work.notify_one();
        }
    }

    /// Resolves when nothing is queued or in flight, or after `timeout`.
    pub async fn idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            if lock(&self.queues).outstanding() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return lock(&self.queues).outstanding() == 0;
            }
        }
    }

    /// A job is done: its channel goes back in line (or not, if cooling).
    fn finish(self: &Arc<Self>, job: &Job) {
        let (idle, pending, updates_free) = {
            let mut queues = lock(&self.queues);
            let idle = queues.finish(job.channel_id, job.kind);
            (idle, queues.outstanding(), queues.updates_free())
        };
        metrics::gauge!(metric::DELIVERIES_PENDING).set(pending as f64);
        if updates_free {
            // The last urgent job is done: the waiting updates may go.
            self.work.notify_waiters();
        }
        self.work.notify_one();
        if idle {
            self.idle.notify_waiters();
        }
    }

    async fn worker(self: Arc<Self>) {
        loop {
            let notified = self.work.notified();
            let next = lock(&self.queues).take();
            let job = match next {
                Some(job) => job,
                None => {
                    tokio::select! {
                        _ = notified => continue,
                        _ = self.shutdown.cancelled() => return,
                    }
                }
            };
            let span = tracing::info_span!(
                "delivery",
                delivery = job.delivery_id,
                channel = job.channel_id,
                kind = ?job.kind
            );
            // Stopped (leadership lost, or shutdown after its grace): no
            // request starts after this, and one in flight is abandoned. Its
            // first attempt is on record, so whoever sends it next reuses the
            // nonce or looks for the post first: never twice.
            tokio::select! {
                () = tracing::Instrument::instrument(self.run(&job), span) => {}
                () = self.shutdown.cancelled() => return,
            }
            self.finish(&job);
        }
    }

    /// The budget a request about `delivery`'s message is paced under:
    /// the webhook's when a webhook posted it.
    pub(super) fn budget_of(&self, delivery: &Delivery) -> &Budget {
        if delivery.webhook_id.is_some() {
            &self.pacing.hooks
        } else {
            &self.pacing.bot
        }
    }

    async fn run(self: &Arc<Self>, job: &Job) {
        if let Err(e) = self.attempt(job).await {
            tracing::error!(error = %e, "store error; retrying the delivery later");
            self.requeue(
                job.clone(),
                self.options.backoff.max(Duration::from_millis(100)),
            );
        }
    }

    async fn attempt(self: &Arc<Self>, job: &Job) -> Result<(), crate::store::StoreError> {
        let Some(delivery) = self.store.get_delivery(job.delivery_id).await? else {
            return Ok(());
        };
        // Dropped (stale, its subscription gone, onair left the server):
        // nothing more is sent, edited or archived for it.
        if delivery.status == DeliveryStatus::Failed {
            return Ok(());
        }
        let Some(stream) = self.store.get_stream(job.stream_row).await? else {
            return Ok(());
        };
        let sub = self
            .store
            .get_subscription(job.guild_id, job.subscription_id)
            .await?;
        let facts = self.facts(job, stream.ended_at);
        match job.kind {
            JobKind::Send => self.send(job, &delivery, &stream, sub, &facts).await,
            JobKind::EndEdit => {
                let (Some(message_id), Some(ended_at)) = (delivery.message_id, stream.ended_at)
                else {
                    return Ok(());
                };
                if delivery.end_edited_at.is_some() {
                    return Ok(());
                }
                let body = with_marker(
                    ended_body(sub.as_ref(), &stream.stream, ended_at, &Recap::of(&stream)),
                    &marker(job.stream_row),
                );
                if self.edit(job, &delivery, message_id, &body, &facts).await? {
                    self.store.mark_end_edited(delivery.id, Utc::now()).await?;
                    // Its thread job, if any, ran before this one (same
                    // channel queue), so the delivery read above knows.
                    if delivery.thread_id.is_some() {
                        self.archive_thread_later(job);
                    }
                }
                Ok(())
            }
            JobKind::Reopen => {
                let (Some(message_id), Some(sub)) = (delivery.message_id, sub) else {
                    return Ok(());
                };
                // Ended again meanwhile: the end edit has the last word.
                if stream.ended_at.is_some() || delivery.end_edited_at.is_some() {
                    return Ok(());
                }
                let body = with_marker(
                    live_edit_body(&sub, &stream.stream),
                    &marker(job.stream_row),
                );
                if self.edit(job, &delivery, message_id, &body, &facts).await? {
                    tracing::info!(message = message_id, "reopened: live again");
                }
                Ok(())
            }
            JobKind::Update => {
                self.live_update(job, &delivery, &stream, sub, &facts).await;
                Ok(())
            }
            JobKind::Thread => self.start_thread(job, &delivery, &stream, &facts).await,
            JobKind::ArchiveThread => self.archive_thread(job, &delivery, &facts).await,
        }
    }

    /// Post one announcement: as the bot, or through the channel's webhook
    /// as the member; never twice (a nonce for the bot, and a look in the
    /// channel before any resend Discord could not deduplicate).
    async fn send(
        self: &Arc<Self>,
        job: &Job,
        delivery: &Delivery,
        stream: &crate::store::StoredStream,
        sub: Option<crate::store::Subscription>,
        facts: &Facts,
    ) -> Result<(), crate::store::StoreError> {
        if delivery.status != DeliveryStatus::Pending {
            return Ok(());
        }
        // A broadcast that ended while its announcement waited (429s, 5xx,
        // a restart) is posted as the ended card ("was live", how long);
        // one that ended longer ago than the staleness rule allows is
        // dropped as old news.
        if !facts.still_matters(Utc::now()) {
            self.store
                .mark_failed(
                    delivery.id,
                    "stale: the broadcast ended too long before it could be announced",
                )
                .await?;
            metrics::counter!(metric::DELIVERIES_FAILED, "reason" => "stale").increment(1);
            return Ok(());
        }
        let Some(sub) = sub.filter(|s| s.disabled_reason.is_none()) else {
            self.store
                .mark_failed(delivery.id, "the subscription was removed or disabled")
                .await?;
            return Ok(());
        };
        let hook = match self.webhook_for(&sub).await? {
            Ok(hook) => hook,
            Err(e) => return self.apply(job, Some(sub.id), facts, e).await,
        };
        let marker = marker(job.stream_row);
        // An earlier POST may have reached Discord: look before sending
        // again, when Discord cannot drop the copy itself (its nonce is
        // forgotten by now, or the POST went through a webhook, which has
        // no nonce).
        let may_exist = delivery.first_attempt_at.filter(|t| {
            delivery.webhook_id.is_some()
                || Utc::now() - *t > chrono_window(self.options.nonce_window)
        });
        if let Some(first_attempt) = may_exist {
            let authors: Vec<u64> = [delivery.webhook_id, hook.as_ref().map(|h| h.id)]
                .into_iter()
                .flatten()
                .collect();
            match self
                .find_posted(job.channel_id, &marker, &authors, first_attempt)
                .await
            {
                Ok(Some(message_id)) => {
                    tracing::info!(message = message_id, "found the earlier post; adopting it");
                    return self
                        .sent(job, &sub, message_id, false, delivery.created_at)
                        .await;
                }
                Ok(None) => {}
                Err(e) if e.is_transient() => {
                    return self.apply(job, Some(sub.id), facts, e).await;
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "cannot read the channel to look for an earlier post; sending"
                ),
            }
        }
        let nonce = format!("onair-{}", delivery.id);
        let (body, already_ended) = match stream.ended_at {
            Some(ended_at) => (
                ended_announcement_body(&sub, &stream.stream, ended_at, &Recap::of(stream), &nonce),
                true,
            ),
            None => (announcement_body(&sub, &stream.stream, &nonce), false),
        };
        let body = with_marker(body, &marker);
        let posted = match &hook {
            Some(hook) => {
                let as_member = webhook::as_member(body.clone(), &stream.stream);
                self.pacing.hooks.turn().await;
                self.store
                    .mark_attempting(delivery.id, Utc::now(), Some(hook.id))
                    .await?;
                let posted = self
                    .rest
                    .execute_webhook(hook.id, &hook.token, &as_member)
                    .await;
                match &posted {
                    Err(e) if e.is_unknown_webhook() => {
                        // Deleted: nothing was posted. Recreated once, then
                        // the subscription posts as the bot.
                        self.webhook_deleted(&sub, hook).await?;
                        self.requeue(job.clone(), Duration::ZERO);
                        return Ok(());
                    }
                    Err(e) if e.is_invalid_form() => {
                        // Discord refused the member's name (or picture) as
                        // a webhook's: nothing was posted. This one goes out
                        // as the bot rather than not at all.
                        tracing::warn!(error = %e, "Discord refused the post as the member; posting it as the bot");
                        self.pacing.bot.turn().await;
                        self.store
                            .mark_attempting(delivery.id, Utc::now(), None)
                            .await?;
                        self.rest.create_message(job.channel_id, &body).await
                    }
                    _ => posted,
                }
            }
            None => {
                self.pacing.bot.turn().await;
                self.store
                    .mark_attempting(delivery.id, Utc::now(), None)
                    .await?;
                self.rest.create_message(job.channel_id, &body).await
            }
        };
        match posted {
            Ok(message_id) => {
                tracing::info!(
                    message = message_id,
                    ended = already_ended,
                    as_member = hook.is_some(),
                    "announced"
                );
                self.sent(job, &sub, message_id, already_ended, delivery.created_at)
                    .await
            }
            Err(e) => self.apply(job, Some(sub.id), facts, e).await,
        }
    }

    /// Edit one message in its turn (through the webhook that posted it,
    /// if one did); true when Discord took it (a failure has been handed to
    /// its verdict).
    async fn edit(
        self: &Arc<Self>,
        job: &Job,
        delivery: &Delivery,
        message_id: u64,
        body: &serde_json::Value,
        facts: &Facts,
    ) -> Result<bool, crate::store::StoreError> {
        self.budget_of(delivery).turn().await;
        match self.patch(delivery, message_id, body).await {
            Ok(()) => {
                lock(&self.stats).edited += 1;
                Ok(true)
            }
            Err(e) => self.apply(job, None, facts, e).await.map(|()| false),
        }
    }

    /// PATCH one of our messages: as the bot, or through the webhook that
    /// posted it (one whose webhook is gone cannot be edited: 10015).
    pub(super) async fn patch(
        &self,
        delivery: &Delivery,
        message_id: u64,
        body: &serde_json::Value,
    ) -> Result<(), DiscordError> {
        let Some(webhook_id) = delivery.webhook_id else {
            return self
                .rest
                .edit_message(delivery.channel_id, message_id, body)
                .await;
        };
        let hook = match self.store.get_webhook(webhook_id).await {
            Ok(hook) => hook.filter(|h| !h.gone),
            Err(e) => return Err(DiscordError::Transport(format!("store: {e}"))),
        };
        let Some(hook) = hook else {
            return Err(webhook::gone_error());
        };
        let result = self
            .rest
            .edit_webhook_message(
                hook.id,
                &hook.token,
                message_id,
                &webhook::as_edit(body.clone()),
            )
            .await;
        if result.as_ref().is_err_and(DiscordError::is_unknown_webhook) {
            if let Err(e) = self.store.webhook_gone(hook.id).await {
                tracing::warn!(error = %e, "could not record the deleted webhook");
            }
        }
        result
    }

    /// Record a message as sent (posted now, or an earlier post found). An
    /// ended card needs no end edit; a live card whose broadcast ended
    /// meanwhile gets one right away; one whose subscription wants a
    /// thread gets one.
    async fn sent(
        self: &Arc<Self>,
        job: &Job,
        sub: &crate::store::Subscription,
        message_id: u64,
        ended_card: bool,
        started: chrono::DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        let now = Utc::now();
        self.store
            .mark_sent(job.delivery_id, message_id, now)
            .await?;
        self.store.record_delivery_success(sub.id).await?;
        lock(&self.stats).sent += 1;
        // The delivery was written when the watcher saw the go-live. The
        // latency first: a scrape that sees the post counted sees its
        // latency too.
        let latency = (now - started).to_std().unwrap_or_default();
        metrics::histogram!(metric::DISPATCH_LATENCY).record(latency.as_secs_f64());
        metrics::counter!(metric::DELIVERIES_SENT).increment(1);
        if ended_card {
            return self.store.mark_end_edited(job.delivery_id, now).await;
        }
        if sub.thread {
            self.enqueue(Job {
                kind: JobKind::Thread,
                attempts: 0,
                ..job.clone()
            });
        }
        let ended = self
            .store
            .get_stream(job.stream_row)
            .await?
            .is_some_and(|s| s.ended_at.is_some());
        if ended {
            self.enqueue(Job {
                kind: JobKind::EndEdit,
                attempts: 0,
                ..job.clone()
            });
        }
        Ok(())
    }

    /// Our message with `marker` (posted by the bot, or by one of
    /// `webhooks`), among the first posted in the channel since (a little
    /// before) its first attempt.
    async fn find_posted(
        &self,
        channel_id: u64,
        marker: &str,
        webhooks: &[u64],
        first_attempt: chrono::DateTime<Utc>,
    ) -> Result<Option<u64>, DiscordError> {
        let mut authors = vec![self.rest.bot_user_id().await?];
        authors.extend_from_slice(webhooks);
        // Clocks differ: start a little before the attempt left.
        let since = first_attempt - chrono::Duration::seconds(LOOKBACK_SLACK_SECS);
        let mut after = snowflake_at(since);
        for _ in 0..LOOKBACK_PAGES {
            self.pacing.bot.turn().await;
            let page = self
                .rest
                .messages_after(channel_id, after, LOOKBACK)
                .await?;
            if let Some(id) = find_marked(&page, &authors, marker) {
                return Ok(Some(id));
            }
            let newest = page
                .iter()
                .filter_map(|m| m["id"].as_str()?.parse::<u64>().ok())
                .max();
            match newest {
                Some(id) if page.len() >= usize::from(LOOKBACK) => after = id,
                _ => break,
            }
        }
        Ok(None)
    }

    fn facts(&self, job: &Job, ended_at: Option<chrono::DateTime<Utc>>) -> Facts {
        Facts {
            kind: job.kind,
            attempts: job.attempts,
            ended_at,
            stale_after: self.options.stale_after,
            backoff: self.options.backoff,
            backoff_max: self.options.backoff_max,
            jitter: crate::backoff::unit(),
        }
    }

    /// Act on the verdict for a failed request.
    pub(super) async fn apply(
        self: &Arc<Self>,
        job: &Job,
        subscription: Option<i64>,
        facts: &Facts,
        error: DiscordError,
    ) -> Result<(), crate::store::StoreError> {
        self.count_invalid(&error);
        let reason = error.to_string();
        let mut retry_job = job.clone();
        retry_job.attempts = job.attempts.saturating_add(1);
        match verdict(facts, &Err(error.clone()), Utc::now()) {
            Verdict::Done => {}
            Verdict::PauseAll(wait) => {
                lock(&self.stats).rate_limited += 1;
                self.pause_all(wait);
                self.requeue(job.clone(), wait);
            }
            Verdict::Retry(wait) => {
                if let DiscordError::RateLimited { global, .. } = error {
                    lock(&self.stats).rate_limited += 1;
                    let scope = if global { "global" } else { "route" };
                    metrics::counter!(metric::DISCORD_429, "scope" => scope).increment(1);
                    tracing::warn!(?wait, "rate limited; waiting as told");
                    self.requeue(job.clone(), wait);
                } else {
                    if matches!(error, DiscordError::Unauthorized) {
                        tracing::error!("Discord refused the bot token; deliveries stay pending");
                    } else {
                        tracing::info!(error = %reason, attempts = retry_job.attempts, ?wait, "retrying");
                    }
                    lock(&self.stats).retried += 1;
                    self.store
                        .note_attempt(job.delivery_id, Some(&reason))
                        .await?;
                    self.requeue(retry_job, wait);
                }
            }
            Verdict::CountTowardDisable(wait) => {
                if let Some(sub) = subscription {
                    let disabled = self
                        .store
                        .record_delivery_failure(sub, &reason, self.options.disable_after)
                        .await?;
                    if disabled {
                        tracing::warn!(subscription = sub, %reason, "subscription disabled");
                        self.store.mark_failed(job.delivery_id, &reason).await?;
                        lock(&self.stats).failed += 1;
                        metrics::counter!(metric::DELIVERIES_FAILED, "reason" => "channel_unusable")
                            .increment(1);
                        return Ok(());
                    }
                }
                self.store
                    .note_attempt(job.delivery_id, Some(&reason))
                    .await?;
                lock(&self.stats).retried += 1;
                self.requeue(retry_job, wait);
            }
            Verdict::Drop(why) => {
                tracing::warn!(error = %reason, kind = ?job.kind, "{why}");
                match job.kind {
                    JobKind::Send => {
                        self.store
                            .note_attempt(job.delivery_id, Some(&reason))
                            .await?;
                        self.store.mark_failed(job.delivery_id, &why).await?;
                        if let Some(sub) = subscription {
                            // Shown in /subscriptions; never disables.
                            self.store
                                .record_delivery_failure(sub, &reason, u32::MAX)
                                .await?;
                        }
                        lock(&self.stats).failed += 1;
                        metrics::counter!(metric::DELIVERIES_FAILED, "reason" => "dropped")
                            .increment(1);
                    }
                    JobKind::EndEdit => {
                        // Nothing left to edit (or too late): done with it.
                        self.store
                            .mark_end_edited(job.delivery_id, Utc::now())
                            .await?;
                    }
                    JobKind::ArchiveThread => {
                        // Gone or not ours to archive: done with it.
                        self.store
                            .mark_thread_archived(job.delivery_id, Utc::now())
                            .await?;
                    }
                    JobKind::Reopen | JobKind::Update | JobKind::Thread => {}
                }
            }
        }
        Ok(())
    }

    /// A global 429: every send waits `wait` (the bot's and the webhooks':
    /// the answer does not say which limit it was, and waiting a moment
    /// too long is harmless).
    pub(super) fn pause_all(&self, wait: Duration) {
        metrics::counter!(metric::DISCORD_429, "scope" => "global").increment(1);
        tracing::warn!(?wait, "global rate limit; every send waits as told");
        self.pacing.bot.pause(wait);
        self.pacing.hooks.pause(wait);
    }

    pub(super) fn update_dropped(&self, why: &str) {
        lock(&self.stats).updates_dropped += 1;
        metrics::counter!(metric::LIVE_UPDATES, "result" => "dropped").increment(1);
        tracing::info!("live update dropped: {why}");
    }

    /// Put a job back at the front of its channel's queue after `after`.
    pub(super) fn requeue(self: &Arc<Self>, job: Job, after: Duration) {
        // Counted again here; the current one finishes as done.
        let ch = job.channel_id;
        lock(&self.queues).retry_later(job);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(after) => {}
                _ = me.shutdown.cancelled() => return,
            }
            lock(&me.queues).cooled(ch);
            me.work.notify_one();
        });
    }

    /// Count 401/403/429 answers; near Discord's ban threshold, stop sending
    /// for the rest of the window and say so loudly.
    pub(super) fn count_invalid(&self, e: &DiscordError) {
        if !e.counts_as_invalid() {
            return;
        }
        let now = Instant::now();
        let mut w = lock(&self.invalid);
        w.push_back(now);
        while w
            .front()
            .is_some_and(|t| now.duration_since(*t) > INVALID_WINDOW)
        {
            w.pop_front();
        }
        if w.len() >= self.options.invalid_limit {
            let resume = w
                .front()
                .map_or(now + INVALID_WINDOW, |t| *t + INVALID_WINDOW);
            tracing::error!(
                invalid_requests = w.len(),
                limit = self.options.invalid_limit,
                "too many 401/403/429 answers from Discord: pausing all sends to avoid an IP ban"
            );
            self.pacing.bot.pause_until(resume);
            self.pacing.hooks.pause_until(resume);
        }
    }
}

/// A poisoned lock only means another task panicked mid-update; the data
/// is still the best we have.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
