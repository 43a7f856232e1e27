//! The one executor: a fixed pool of workers takes jobs from the
//! [`Queues`] (one in flight per channel, servers in turn, refreshes
//! last), runs each job's step (asking the feature's [`Content`] for the
//! card, making the request through the [`DiscordPort`] under the
//! [`Pacing`] budgets), hands the answer to [`transition`], and carries
//! out the effects it decides. Nothing here decides what an answer means.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::content::{Card, Content};
use super::error::DeliveryError;
use super::job::{Job, Step};
use super::lookup::{with_marker, with_nonce, Lookup, Seen};
use super::options::Options;
use super::pacing::{Budget, Pacing};
use super::ports::{DeliveryStore, DiscordPort};
use super::queues::Queues;
use super::tally;
use super::threads::Threads;
use super::transition::{self, Before, Done, Effect, Event, Facts, Plan};
use super::webhook::{self, Webhooks};
use crate::discord::rest::DiscordError;
use crate::store::{Delivery, DeliveryStatus, StoreError, StoredWebhook, Subscription};

/// Discord's window for counting invalid (401/403/429) requests.
const INVALID_WINDOW: Duration = Duration::from_secs(600);

pub struct Outbox {
    store: Arc<dyn DeliveryStore>,
    discord: Arc<dyn DiscordPort>,
    content: Arc<dyn Content>,
    options: Options,
    /// The bot's own requests, under Discord's global limit, and webhook
    /// executions and edits (no `Authorization`: per IP).
    pacing: Arc<Pacing>,
    webhooks: Webhooks,
    threads: Threads,
    lookup: Lookup,
    queues: Mutex<Queues>,
    work: Notify,
    idle: Notify,
    invalid: Mutex<VecDeque<Instant>>,
    shutdown: CancellationToken,
}

/// One job's request, with what it used (for the effects that follow).
struct Request<'a> {
    job: &'a Job,
    delivery: &'a Delivery,
    sub: Option<&'a Subscription>,
    card: &'a Card,
    /// The webhook a post went through.
    hook: Option<StoredWebhook>,
}

impl Outbox {
    pub fn start(
        store: Arc<dyn DeliveryStore>,
        discord: Arc<dyn DiscordPort>,
        content: Arc<dyn Content>,
        options: Options,
    ) -> Arc<Self> {
        let workers = options.concurrency.max(1);
        // Refreshes use a quarter of the workers at most, so a new post
        // finds the budget nearly untouched.
        let update_slots = (workers / 4).max(1);
        let pacing = Arc::clone(&options.pacing);
        let o = Arc::new(Outbox {
            webhooks: Webhooks {
                store: Arc::clone(&store),
                discord: Arc::clone(&discord),
                pacing: Arc::clone(&pacing),
            },
            threads: Threads {
                discord: Arc::clone(&discord),
                pacing: Arc::clone(&pacing),
            },
            lookup: Lookup {
                discord: Arc::clone(&discord),
                pacing: Arc::clone(&pacing),
            },
            store,
            discord,
            content,
            pacing,
            queues: Mutex::new(Queues::new(update_slots, options.fair_shares)),
            options,
            work: Notify::new(),
            idle: Notify::new(),
            invalid: Mutex::new(VecDeque::new()),
            shutdown: CancellationToken::new(),
        });
        for _ in 0..workers {
            tokio::spawn(Arc::clone(&o).worker());
        }
        o
    }

    /// Cancelled when the outbox stops (timers of its owner end too).
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
        tally::pending(pending);
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
    fn finish(&self, job: &Job) {
        let (idle, pending, updates_free) = {
            let mut queues = lock(&self.queues);
            let idle = queues.finish(job.channel_id, job.step);
            (idle, queues.outstanding(), queues.updates_free())
        };
        tally::pending(pending);
        if updates_free {
            // The last urgent job is done: the waiting refreshes may go.
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
                step = job.step.as_str()
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

    async fn run(self: &Arc<Self>, job: &Job) {
        if let Err(e) = self.attempt(job).await {
            tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "store error; retrying the delivery later");
            self.requeue(
                job.clone(),
                self.options.backoff.max(Duration::from_millis(100)),
            );
        }
    }

    /// Plan, request, decide, act: one step of one delivery.
    async fn attempt(self: &Arc<Self>, job: &Job) -> Result<(), StoreError> {
        let Some(delivery) = self.store.delivery(job.delivery_id).await? else {
            return Ok(());
        };
        if delivery.status == DeliveryStatus::Failed {
            return Ok(());
        }
        let sub = self
            .store
            .subscription(delivery.guild_id, delivery.subscription_id)
            .await?;
        let Some(card) = self.content.card(&delivery, sub.as_ref()).await? else {
            return Ok(());
        };
        let facts = self.facts(job, &delivery, &card);
        let before = Before {
            delivery: &delivery,
            subscribed: sub.is_some() && card.current.is_some(),
            active: sub.as_ref().is_some_and(|s| s.disabled_reason.is_none())
                && card.post.is_some(),
            expired: job.not_after.is_some_and(|t| Instant::now() >= t),
        };
        let mut request = Request {
            job,
            delivery: &delivery,
            sub: sub.as_ref(),
            card: &card,
            hook: None,
        };
        let effects = match transition::plan(before, &facts, Utc::now()) {
            Plan::Skip => return Ok(()),
            Plan::Settle(effects) => effects,
            Plan::Go => match self.request(&mut request).await {
                Ok(done) => transition::answer(&facts, Ok(done), Utc::now()),
                Err(DeliveryError::Discord(e)) => {
                    self.count_invalid(&e);
                    if matches!(e, DiscordError::Unauthorized) {
                        tracing::error!("Discord refused the bot token; deliveries stay pending");
                    } else {
                        tracing::info!(error = %e, attempts = job.attempts, "request failed");
                    }
                    transition::answer(&facts, Err(&e), Utc::now())
                }
                Err(DeliveryError::Store(e)) => return Err(e),
            },
        };
        self.apply(&request, effects).await
    }

    fn facts(&self, job: &Job, delivery: &Delivery, card: &Card) -> Facts {
        Facts {
            step: job.step,
            attempts: job.attempts,
            ended_at: card.ended_at,
            stale_after: self.options.stale_after,
            backoff: self.options.backoff,
            backoff_max: self.options.backoff_max,
            jitter: crate::backoff::unit(),
            posts_closed: card.posts_closed(),
            post_until: card.post_until,
            has_thread: delivery.thread_id.is_some(),
        }
    }

    /// The request of the job's step.
    async fn request(&self, r: &mut Request<'_>) -> Result<Done, DeliveryError> {
        let d = r.delivery;
        let marked = |body: &Option<Value>| body.clone().map(|b| with_marker(b, &r.card.marker));
        match r.job.step {
            Step::Post => self.post(r).await,
            Step::Close => match (d.message_id, marked(&r.card.close)) {
                (Some(message), Some(body)) => self.edit(r.job, d, message, &body).await,
                _ => Ok(Done::Skipped),
            },
            Step::Redraw | Step::Refresh => match (d.message_id, marked(&r.card.current)) {
                (Some(message), Some(body)) => self.edit(r.job, d, message, &body).await,
                _ => Ok(Done::Skipped),
            },
            Step::StartThread => {
                let Some(message) = d.message_id else {
                    return Ok(Done::Skipped);
                };
                let thread = self
                    .threads
                    .start(d.channel_id, message, &r.card.thread_name)
                    .await?;
                Ok(Done::ThreadStarted(thread))
            }
            Step::ArchiveThread => {
                let Some(thread) = d.thread_id else {
                    return Ok(Done::Skipped);
                };
                self.threads.archive(thread).await?;
                Ok(Done::ThreadArchived)
            }
        }
    }

    /// Post the card: as the bot, or through the channel's webhook as the
    /// sender; never twice (a nonce for the bot, and a look in the channel
    /// before any resend Discord could not deduplicate).
    async fn post(&self, r: &mut Request<'_>) -> Result<Done, DeliveryError> {
        let (d, card) = (r.delivery, r.card);
        let (Some(sub), Some(post)) = (r.sub, card.post.as_ref()) else {
            return Ok(Done::Skipped);
        };
        let hook = self.webhooks.for_subscription(sub).await?;
        // The send's turn and bucket first: whether Discord still
        // remembers the nonce is decided when the post can leave at once,
        // not before a wait that could outlast the window.
        match hook {
            None => {
                self.pacing.bot.turn().await;
                self.discord.wait_to_post(d.channel_id).await;
            }
            Some(_) => self.pacing.hooks.turn().await,
        }
        if let Some(first_attempt) =
            transition::look_first(d, self.options.nonce_window, Utc::now())
        {
            let authors: Vec<u64> = [d.webhook_id, hook.as_ref().map(|h| h.id)]
                .into_iter()
                .flatten()
                .collect();
            let content = post["content"].as_str();
            match self
                .lookup
                .find_posted(d.channel_id, &card.marker, content, &authors, first_attempt)
                .await
            {
                Ok(Seen::Found(message_id)) => {
                    tracing::info!(message = message_id, "found the earlier post; adopting it");
                    return Ok(Done::Found(message_id));
                }
                Ok(Seen::NotThere) => {}
                Ok(Seen::Blind(why)) => {
                    tracing::warn!("not resending: {why}");
                    return Ok(Done::NotResent(why));
                }
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => tracing::warn!(
                    error = %e,
                    "cannot read the channel to look for an earlier post; sending"
                ),
            }
        }
        let body = with_marker(post.clone(), &card.marker);
        let Some(hook) = hook else {
            return self.send_as_bot(d, body).await;
        };
        let as_member = webhook::as_member(body.clone(), &card.sender);
        self.store
            .attempting(d.id, Utc::now(), Some(hook.id))
            .await?;
        let posted = self
            .discord
            .execute_webhook(hook.id, &hook.token, &as_member)
            .await;
        r.hook = Some(hook);
        match posted {
            Ok(message_id) => Ok(Done::Posted(message_id)),
            Err(e) if e.is_invalid_form() => {
                // Discord refused the sender's name (or picture) as a
                // webhook's: nothing was posted. This one goes out as the
                // bot rather than not at all.
                tracing::warn!(error = %e, "Discord refused the post as the member; posting it as the bot");
                self.post_as_bot(d, body).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Post as the bot, in its turn.
    async fn post_as_bot(&self, d: &Delivery, body: Value) -> Result<Done, DeliveryError> {
        self.pacing.bot.turn().await;
        self.send_as_bot(d, body).await
    }

    /// Post as the bot now (its turn taken), with the delivery's nonce.
    async fn send_as_bot(&self, d: &Delivery, body: Value) -> Result<Done, DeliveryError> {
        let body = with_nonce(body, d.id);
        self.store.attempting(d.id, Utc::now(), None).await?;
        let message_id = self.discord.create_message(d.channel_id, &body).await?;
        Ok(Done::Posted(message_id))
    }

    /// Edit one card in its turn (through the webhook that posted it, if
    /// one did). A refresh whose deadline passes while it waits for the
    /// budget is not sent.
    async fn edit(
        &self,
        job: &Job,
        d: &Delivery,
        message_id: u64,
        body: &Value,
    ) -> Result<Done, DeliveryError> {
        let budget = self.budget_of(d);
        match job.not_after {
            Some(t) => {
                if tokio::time::timeout_at(t.into(), budget.turn())
                    .await
                    .is_err()
                {
                    return Ok(Done::TimedOut);
                }
            }
            None => budget.turn().await,
        }
        self.patch(d, message_id, body).await?;
        Ok(Done::Edited)
    }

    /// PATCH one of our messages: as the bot, or through the webhook that
    /// posted it (one whose webhook is gone cannot be edited: 10015).
    async fn patch(
        &self,
        d: &Delivery,
        message_id: u64,
        body: &Value,
    ) -> Result<(), DeliveryError> {
        let Some(webhook_id) = d.webhook_id else {
            return Ok(self
                .discord
                .edit_message(d.channel_id, message_id, body)
                .await?);
        };
        let Some(hook) = self.webhooks.live(webhook_id).await? else {
            return Err(webhook::gone_error().into());
        };
        let result = self
            .discord
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
        Ok(result?)
    }

    /// The budget a request about `d`'s message is paced under: the
    /// webhook's when a webhook posted it.
    fn budget_of(&self, d: &Delivery) -> &Budget {
        if d.webhook_id.is_some() {
            &self.pacing.hooks
        } else {
            &self.pacing.bot
        }
    }

    /// Carry out what [`transition`] decided, in order.
    async fn apply(
        self: &Arc<Self>,
        r: &Request<'_>,
        effects: Vec<Effect>,
    ) -> Result<(), StoreError> {
        let (job, d) = (r.job, r.delivery);
        let mut effects = VecDeque::from(effects);
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::Sent { message_id, closed } => {
                    let now = Utc::now();
                    self.store.sent(d.id, message_id, now).await?;
                    if let Some(sub) = r.sub {
                        self.store.subscription_ok(sub.id).await?;
                    }
                    // The latency first: a scrape that sees the post
                    // counted sees its latency too.
                    tally::latency((now - d.created_at).to_std().unwrap_or_default());
                    tally::count(Event::Sent);
                    tracing::info!(
                        message = message_id,
                        closed,
                        as_member = r.hook.is_some(),
                        "announced"
                    );
                    let ended_now = !closed && self.content.ended(d).await?;
                    let wants_thread = r.sub.is_some_and(|s| s.thread);
                    effects.extend(transition::after_sent(closed, wants_thread, ended_now));
                }
                Effect::Closed => self.store.closed(d.id, Utc::now()).await?,
                Effect::ThreadStarted(thread) => {
                    tracing::info!(thread, "discussion thread started");
                    self.store.thread_started(d.id, thread).await?;
                }
                Effect::ThreadArchived => {
                    tracing::info!(thread = d.thread_id, "discussion thread archived");
                    self.store.thread_archived(d.id, Utc::now()).await?;
                }
                Effect::Note(error) => self.store.note_attempt(d.id, &error).await?,
                Effect::Strike { reason, retry } => {
                    let disabled = match r.sub {
                        Some(sub) => {
                            self.store
                                .subscription_failed(sub.id, &reason, self.options.disable_after)
                                .await?
                        }
                        None => false,
                    };
                    if disabled {
                        tracing::warn!(subscription = d.subscription_id, %reason, "subscription disabled");
                    }
                    effects.extend(transition::after_strike(disabled, reason, retry));
                }
                Effect::Drop { kind, reason } => {
                    tracing::warn!(
                        step = job.step.as_str(),
                        reason = kind.label(),
                        "dropped: {reason}"
                    );
                    self.store.drop_delivery(d.id, &reason).await?;
                }
                Effect::ShowError(error) => {
                    if let Some(sub) = r.sub {
                        // Shown in /subscriptions; never disables.
                        self.store
                            .subscription_failed(sub.id, &error, u32::MAX)
                            .await?;
                    }
                }
                Effect::Retry(wait) => {
                    tracing::info!(attempts = job.attempts + 1, ?wait, "retrying");
                    self.requeue(
                        Job {
                            attempts: job.attempts.saturating_add(1),
                            ..job.clone()
                        },
                        wait,
                    );
                }
                Effect::Wait(wait) => self.requeue(job.clone(), wait),
                Effect::PauseAll(wait) => self.pause_all(wait),
                Effect::ForgetWebhook => {
                    if let (Some(sub), Some(hook)) = (r.sub, r.hook.as_ref()) {
                        self.webhooks.deleted(sub, hook).await?;
                    }
                }
                Effect::Then(step) => self.enqueue(job.then(step)),
                Effect::Count(event) => {
                    if event == Event::RefreshDropped {
                        tracing::info!("live update dropped");
                    }
                    tally::count(event);
                }
            }
        }
        Ok(())
    }

    /// A global 429: every send waits `wait` (the bot's and the webhooks':
    /// the answer does not say which limit it was, and waiting a moment
    /// too long is harmless).
    fn pause_all(&self, wait: Duration) {
        tracing::warn!(?wait, "global rate limit; every send waits as told");
        self.pacing.bot.pause(wait);
        self.pacing.hooks.pause(wait);
    }

    /// Put a job back at the front of its channel's queue after `after`.
    fn requeue(self: &Arc<Self>, job: Job, after: Duration) {
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
    fn count_invalid(&self, e: &DiscordError) {
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
