//! Decide, don't act: every move of a delivery's life, as pure functions
//! from what is known (the delivery, the facts of its job, Discord's
//! answer) to the [`Effect`]s the executor carries out. Every rule is a
//! row in a table test.
//!
//! The rules on a failed request:
//! - a 429 waits as long as Discord says (a global one pauses every send);
//! - 5xx, timeouts and connection errors retry with capped, jittered
//!   exponential backoff for as long as the news still matters: while it
//!   is current, and until `stale_after` past its end (the other steps:
//!   [`CLOSE_STALE_AFTER`], since a card that still says "live" is wrong
//!   for as long as it stands);
//! - a gone or forbidden channel counts toward disabling the subscription
//!   (a post), or leaves nothing to edit (the other steps);
//! - any other 4xx (a body Discord refused, 50035…) is final;
//! - a refresh is never retried nor held against the subscription: the
//!   next one (or the close) carries the news.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::job::Step;
use crate::backoff;
use crate::discord::rest::DiscordError;
use crate::store::{Delivery, DeliveryStatus};

/// How long the steps after the post keep being retried after the news
/// ended.
pub const CLOSE_STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Wait after a 401 before trying again (the operator must fix the token).
pub const UNAUTHORIZED_WAIT: Duration = Duration::from_secs(60);

/// What a job knows when its answer comes.
#[derive(Debug, Clone)]
pub struct Facts {
    pub step: Step,
    /// Failed attempts so far, this one not included.
    pub attempts: u32,
    /// When the news ended (None: still current).
    pub ended_at: Option<DateTime<Utc>>,
    /// How long past the end a post is still worth sending.
    pub stale_after: Duration,
    /// First retry delay; doubles per attempt.
    pub backoff: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// In [0, 1): takes up to 20% off a backoff, so retries of many
    /// channels after one incident do not arrive together.
    pub jitter: f64,
    /// The post was the closed card already (no close edit to follow).
    pub posts_closed: bool,
    /// The card has a discussion thread (archived after the close).
    pub has_thread: bool,
    /// A post not out by then is dropped as stale (a reminder of a show
    /// that has started).
    pub post_until: Option<DateTime<Utc>>,
}

impl Facts {
    /// Is the news this job carries still worth delivering at `now`?
    pub fn still_matters(&self, now: DateTime<Utc>) -> bool {
        let window = match self.step {
            Step::Post | Step::Refresh => self.stale_after,
            Step::Close | Step::Redraw | Step::StartThread | Step::ArchiveThread => {
                CLOSE_STALE_AFTER.max(self.stale_after)
            }
        };
        match self.ended_at {
            None => true,
            Some(t) => {
                now - t <= chrono::Duration::from_std(window).unwrap_or(chrono::TimeDelta::MAX)
            }
        }
    }

    /// The delay before retry number `attempts + 1`.
    pub fn backoff_delay(&self) -> Duration {
        backoff::jitter_down(
            backoff::exponential(self.backoff, self.attempts, self.backoff_max),
            0.2,
            self.jitter,
        )
    }
}

/// What Discord did when a request went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// A message was posted.
    Posted(u64),
    /// An earlier post of it was found in the channel (it went out as
    /// the card of its day: a close follows if the news ended since).
    Found(u64),
    Edited,
    ThreadStarted(u64),
    ThreadArchived,
    /// Nothing was sent: nothing is left to do for this step.
    Skipped,
    /// A refresh's deadline passed while it waited for the budget.
    TimedOut,
    /// An earlier attempt may have been posted, and the channel cannot be
    /// searched for it: not sent again (at most once, on purpose).
    NotResent(&'static str),
}

/// Why a delivery was dropped (the `reason` label of the failed counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropKind {
    /// The news ended too long before it could go out.
    Stale,
    /// Its subscription was removed or disabled before it went out.
    Removed,
    /// Discord refused it for good.
    Refused,
    /// The channel stayed unusable until the subscription was disabled.
    ChannelUnusable,
    /// An earlier attempt may have gone out and could not be looked for:
    /// resending blind could post it twice.
    Unverifiable,
}

impl DropKind {
    pub fn label(self) -> &'static str {
        match self {
            DropKind::Stale => "stale",
            DropKind::Removed => "removed",
            DropKind::Refused => "dropped",
            DropKind::ChannelUnusable => "channel_unusable",
            DropKind::Unverifiable => "unverifiable",
        }
    }
}

/// Something to count (all counting goes through `tally`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A card went out (the latency is measured where it is recorded).
    Sent,
    Dropped(DropKind),
    /// A 429; `global` or per route.
    RateLimited {
        global: bool,
    },
    /// A failed request that will be tried again.
    Retried,
    /// A close or redraw Discord took.
    Edited,
    Refreshed,
    RefreshDropped,
}

/// One thing the executor does.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Record the card as sent with this message (and the subscription's
    /// success); `closed`: it went out as the closed card.
    Sent {
        message_id: u64,
        closed: bool,
    },
    /// Record the card as closed.
    Closed,
    ThreadStarted(u64),
    ThreadArchived,
    /// Record a failed attempt and its error.
    Note(String),
    /// One more strike against the subscription (its channel is unusable);
    /// then [`after_strike`] decides.
    Strike {
        reason: String,
        retry: Duration,
    },
    /// Drop the delivery: nothing more is sent, edited or archived for it.
    Drop {
        kind: DropKind,
        reason: String,
    },
    /// Show the error in `/subscriptions` (never disables).
    ShowError(String),
    /// Try the job again after the delay, as one more attempt.
    Retry(Duration),
    /// Try the job again after the delay (not a failure of its own: a 429,
    /// a webhook to make again).
    Wait(Duration),
    /// Every send waits this long (a global 429).
    PauseAll(Duration),
    /// The webhook the post went through is gone: forget it.
    ForgetWebhook,
    /// Queue the next step of the same delivery.
    Then(Step),
    Count(Event),
}

/// Before any request: is there anything to do?
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing to do (done already, or not applicable any more).
    Skip,
    /// Decided without a request.
    Settle(Vec<Effect>),
    /// Make the request.
    Go,
}

/// What is known of a delivery before its step runs.
#[derive(Debug, Clone, Copy)]
pub struct Before<'a> {
    pub delivery: &'a Delivery,
    /// Its subscription exists (a sent card may still be edited).
    pub subscribed: bool,
    /// Its subscription exists and is not disabled (a post may go out).
    pub active: bool,
    /// A refresh's deadline has passed.
    pub expired: bool,
}

/// The plan for `facts.step` on the delivery as it stands at `now`.
pub fn plan(b: Before<'_>, facts: &Facts, now: DateTime<Utc>) -> Plan {
    let d = b.delivery;
    // Dropped (stale, its subscription gone, onair left the server).
    if d.status == DeliveryStatus::Failed {
        return Plan::Skip;
    }
    let sent = d.message_id.is_some();
    let closed = d.end_edited_at.is_some();
    let ended = facts.ended_at.is_some();
    match facts.step {
        Step::Post if d.status != DeliveryStatus::Pending => Plan::Skip,
        Step::Post if !facts.still_matters(now) => Plan::Settle(drop_post(
            DropKind::Stale,
            "stale: the news ended too long before it could be announced",
        )),
        Step::Post if facts.post_until.is_some_and(|t| now >= t) => Plan::Settle(drop_post(
            DropKind::Stale,
            "stale: the moment it was for has passed",
        )),
        Step::Post if !b.active => Plan::Settle(drop_post(
            DropKind::Removed,
            "the subscription was removed or disabled",
        )),
        Step::Post => Plan::Go,
        Step::Close if sent && ended && !closed => Plan::Go,
        // Ended again meanwhile: the close has the last word.
        Step::Redraw if sent && b.subscribed && !ended && !closed => Plan::Go,
        Step::Refresh if sent && b.subscribed && !ended && !closed => {
            if b.expired {
                Plan::Settle(vec![Effect::Count(Event::RefreshDropped)])
            } else {
                Plan::Go
            }
        }
        // Already there, or over (its card is closed now).
        Step::StartThread if sent && d.thread_id.is_none() && !ended => Plan::Go,
        Step::ArchiveThread if d.thread_id.is_some() && d.thread_archived_at.is_none() => Plan::Go,
        _ => Plan::Skip,
    }
}

fn drop_post(kind: DropKind, reason: &str) -> Vec<Effect> {
    vec![
        Effect::Drop {
            kind,
            reason: reason.into(),
        },
        Effect::Count(Event::Dropped(kind)),
    ]
}

/// Should a post look in the channel before going out again? When an
/// earlier attempt may have reached Discord and Discord cannot drop the
/// copy itself: its nonce is forgotten by now, or the attempt went through
/// a webhook (webhooks take no nonce). Asked right before the send (after
/// its turn and its bucket), and a tenth of the window early: the resend
/// must reach Discord while the nonce is still remembered.
pub fn look_first(
    d: &Delivery,
    nonce_window: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let window = chrono::Duration::from_std(nonce_window - nonce_window / 10)
        .unwrap_or(chrono::TimeDelta::MAX);
    d.first_attempt_at
        .filter(|t| d.webhook_id.is_some() || now - *t > window)
}

/// The effects of Discord's answer to a job's request.
pub fn answer(
    facts: &Facts,
    answer: Result<Done, &DiscordError>,
    now: DateTime<Utc>,
) -> Vec<Effect> {
    match answer {
        Ok(done) => succeeded(facts, done),
        Err(e) => failed(facts, e, now),
    }
}

fn succeeded(facts: &Facts, done: Done) -> Vec<Effect> {
    match (facts.step, done) {
        (_, Done::Posted(message_id)) => vec![Effect::Sent {
            message_id,
            closed: facts.posts_closed,
        }],
        (_, Done::Found(message_id)) => vec![Effect::Sent {
            message_id,
            closed: false,
        }],
        (_, Done::Skipped) => Vec::new(),
        (_, Done::NotResent(reason)) => {
            let mut out = drop_post(DropKind::Unverifiable, reason);
            out.push(Effect::ShowError(reason.to_string()));
            out
        }
        (Step::Refresh, Done::TimedOut) => vec![Effect::Count(Event::RefreshDropped)],
        (_, Done::TimedOut) => Vec::new(),
        (Step::Close, _) => {
            let mut out = vec![Effect::Closed, Effect::Count(Event::Edited)];
            if facts.has_thread {
                out.push(Effect::Then(Step::ArchiveThread));
            }
            out
        }
        (Step::Refresh, _) => vec![Effect::Count(Event::Refreshed)],
        (_, Done::ThreadStarted(id)) => vec![Effect::ThreadStarted(id)],
        (_, Done::ThreadArchived) => vec![Effect::ThreadArchived],
        (_, Done::Edited) => vec![Effect::Count(Event::Edited)],
    }
}

fn failed(facts: &Facts, error: &DiscordError, now: DateTime<Utc>) -> Vec<Effect> {
    let reason = error.to_string();
    match error {
        DiscordError::RateLimited {
            retry_after,
            global: true,
            ..
        } => {
            let wait = *retry_after;
            let mut out = vec![
                Effect::Count(Event::RateLimited { global: true }),
                Effect::PauseAll(wait),
            ];
            // A refresh is dropped, but still tells every send to wait.
            out.push(if facts.step == Step::Refresh {
                Effect::Count(Event::RefreshDropped)
            } else {
                Effect::Wait(wait)
            });
            out
        }
        DiscordError::RateLimited { .. } if facts.step == Step::Refresh => vec![
            Effect::Count(Event::RateLimited { global: false }),
            Effect::Count(Event::RefreshDropped),
        ],
        _ if facts.step == Step::Refresh => vec![Effect::Count(Event::RefreshDropped)],
        DiscordError::RateLimited { retry_after, .. } => vec![
            Effect::Count(Event::RateLimited { global: false }),
            Effect::Wait(*retry_after),
        ],
        e if facts.step == Step::Post && e.is_unknown_webhook() => {
            // The webhook was deleted: nothing was posted. Made again
            // (once), then the subscription posts as the bot.
            vec![Effect::ForgetWebhook, Effect::Wait(Duration::ZERO)]
        }
        e if e.is_channel_unusable() => match facts.step {
            Step::Post => vec![Effect::Strike {
                reason,
                retry: facts.backoff_delay(),
            }],
            _ => given_up(facts, format!("nothing left to edit: {e}")),
        },
        DiscordError::Refused { .. } => {
            let mut out = given_up(facts, format!("Discord refused it: {error}"));
            if facts.step == Step::Post {
                out.insert(0, Effect::Note(reason.clone()));
                out.push(Effect::ShowError(reason));
            }
            out
        }
        DiscordError::Unauthorized | DiscordError::Server(_) | DiscordError::Transport(_) => {
            if !facts.still_matters(now) {
                let mut out = given_up(
                    facts,
                    format!("still failing ({error}) long after the news ended; dropped as stale"),
                );
                if facts.step == Step::Post {
                    out.insert(0, Effect::Note(reason.clone()));
                    out.push(Effect::ShowError(reason));
                }
                return out;
            }
            let wait = if matches!(error, DiscordError::Unauthorized) {
                UNAUTHORIZED_WAIT.max(facts.backoff_delay())
            } else {
                facts.backoff_delay()
            };
            vec![
                Effect::Count(Event::Retried),
                Effect::Note(reason),
                Effect::Retry(wait),
            ]
        }
    }
}

/// Give up on a job: a post is dropped; a close or an archive is done with
/// (nothing left to edit, or too late); a redraw or a thread start is
/// simply not made.
fn given_up(facts: &Facts, why: String) -> Vec<Effect> {
    match facts.step {
        Step::Post => vec![
            Effect::Drop {
                kind: DropKind::Refused,
                reason: why,
            },
            Effect::Count(Event::Dropped(DropKind::Refused)),
        ],
        Step::Close => vec![Effect::Closed],
        Step::ArchiveThread => vec![Effect::ThreadArchived],
        Step::Redraw | Step::Refresh | Step::StartThread => Vec::new(),
    }
}

/// After a strike: a disabled subscription drops the delivery; otherwise
/// the attempt is noted and retried.
pub fn after_strike(disabled: bool, reason: String, retry: Duration) -> Vec<Effect> {
    if disabled {
        vec![
            Effect::Drop {
                kind: DropKind::ChannelUnusable,
                reason,
            },
            Effect::Count(Event::Dropped(DropKind::ChannelUnusable)),
        ]
    } else {
        vec![
            Effect::Count(Event::Retried),
            Effect::Note(reason),
            Effect::Retry(retry),
        ]
    }
}

/// After a card is recorded as sent: a closed card is done; a current one
/// gets its thread when the subscription wants one, and its close right
/// away when the news ended while it went out.
pub fn after_sent(closed: bool, wants_thread: bool, ended_now: bool) -> Vec<Effect> {
    if closed {
        return vec![Effect::Closed];
    }
    let mut out = Vec::new();
    if wants_thread {
        out.push(Effect::Then(Step::StartThread));
    }
    if ended_now {
        out.push(Effect::Then(Step::Close));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Effect::{Count, Note, PauseAll, Retry, Then, Wait};
    use Step::{ArchiveThread, Close, Post, Redraw, Refresh, StartThread};

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    fn facts(step: Step, attempts: u32, ended_min: Option<i64>) -> Facts {
        Facts {
            step,
            attempts,
            ended_at: ended_min.map(at),
            stale_after: Duration::from_secs(15 * 60),
            backoff: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            jitter: 0.0,
            posts_closed: ended_min.is_some(),
            has_thread: false,
            post_until: None,
        }
    }

    fn refused(status: u16, code: u64) -> DiscordError {
        DiscordError::Refused {
            status,
            code,
            message: "m".into(),
        }
    }

    fn rl(secs: f64, global: bool) -> DiscordError {
        DiscordError::RateLimited {
            retry_after: Duration::from_secs_f64(secs),
            global,
            shared: false,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn retried(s: u64, e: &DiscordError) -> Vec<Effect> {
        vec![Count(Event::Retried), Note(e.to_string()), Retry(secs(s))]
    }

    /// The kinds of effect, without the reasons (those are for logs).
    fn shape(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Drop { kind, .. } => format!("Drop({kind:?})"),
                Effect::Note(_) => "Note".into(),
                Effect::ShowError(_) => "ShowError".into(),
                Effect::Strike { retry, .. } => format!("Strike({retry:?})"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_answer_to_a_request_moves_the_delivery_as_the_table_says() {
        let server = DiscordError::Server(502);
        let timeout = DiscordError::Transport("timed out".into());
        let unauthorized = DiscordError::Unauthorized;
        let dropped_post = "Note, Drop(Refused), Count(Dropped(Refused)), ShowError";
        // (facts, answer, minutes after `at(0)`, expected effects by shape)
        type Row = (Facts, Result<Done, DiscordError>, i64, String);
        let exact = |e: Vec<Effect>| shape(&e).join(", ");
        let rows: Vec<Row> = vec![
            // successes
            (
                facts(Post, 0, None),
                Ok(Done::Posted(7)),
                0,
                exact(vec![Effect::Sent {
                    message_id: 7,
                    closed: false,
                }]),
            ),
            (
                facts(Post, 0, Some(0)),
                Ok(Done::Posted(7)),
                1,
                exact(vec![Effect::Sent {
                    message_id: 7,
                    closed: true,
                }]),
            ),
            // an earlier post found is the card of its day: a close follows
            (
                facts(Post, 0, Some(0)),
                Ok(Done::Found(7)),
                1,
                exact(vec![Effect::Sent {
                    message_id: 7,
                    closed: false,
                }]),
            ),
            (
                facts(Close, 0, Some(0)),
                Ok(Done::Edited),
                1,
                exact(vec![Effect::Closed, Count(Event::Edited)]),
            ),
            (
                Facts {
                    has_thread: true,
                    ..facts(Close, 0, Some(0))
                },
                Ok(Done::Edited),
                1,
                exact(vec![
                    Effect::Closed,
                    Count(Event::Edited),
                    Then(ArchiveThread),
                ]),
            ),
            (
                facts(Redraw, 0, None),
                Ok(Done::Edited),
                0,
                exact(vec![Count(Event::Edited)]),
            ),
            (
                facts(Refresh, 0, None),
                Ok(Done::Edited),
                0,
                exact(vec![Count(Event::Refreshed)]),
            ),
            (
                facts(Refresh, 0, None),
                Ok(Done::TimedOut),
                0,
                exact(vec![Count(Event::RefreshDropped)]),
            ),
            (
                facts(StartThread, 0, None),
                Ok(Done::ThreadStarted(9)),
                0,
                exact(vec![Effect::ThreadStarted(9)]),
            ),
            (
                facts(ArchiveThread, 0, Some(0)),
                Ok(Done::ThreadArchived),
                1,
                exact(vec![Effect::ThreadArchived]),
            ),
            (
                facts(Close, 0, Some(0)),
                Ok(Done::Skipped),
                1,
                String::new(),
            ),
            // 429s wait as told, a global one pauses everyone
            (
                facts(Post, 3, None),
                Err(rl(1.5, false)),
                0,
                exact(vec![
                    Count(Event::RateLimited { global: false }),
                    Wait(Duration::from_millis(1500)),
                ]),
            ),
            (
                facts(Post, 0, None),
                Err(rl(0.25, true)),
                0,
                exact(vec![
                    Count(Event::RateLimited { global: true }),
                    PauseAll(Duration::from_millis(250)),
                    Wait(Duration::from_millis(250)),
                ]),
            ),
            // 5xx while live: backoff doubles from 2 s, capped at 60 s
            (
                facts(Post, 0, None),
                Err(server.clone()),
                0,
                exact(retried(2, &server)),
            ),
            (
                facts(Post, 3, None),
                Err(server.clone()),
                0,
                exact(retried(16, &server)),
            ),
            (
                facts(Post, 40, None),
                Err(server.clone()),
                0,
                exact(retried(60, &server)),
            ),
            // a timeout long into a live: still retried (no attempt cap)
            (
                facts(Post, 500, None),
                Err(timeout.clone()),
                600,
                exact(retried(60, &timeout)),
            ),
            // ended 10 min ago: still matters; 20 min ago: stale
            (
                facts(Post, 2, Some(0)),
                Err(server.clone()),
                10,
                exact(retried(8, &server)),
            ),
            (
                facts(Post, 2, Some(0)),
                Err(server.clone()),
                20,
                dropped_post.into(),
            ),
            // a close keeps trying for a day, then is done with
            (
                facts(Close, 2, Some(0)),
                Err(server.clone()),
                20,
                exact(retried(8, &server)),
            ),
            (
                facts(Close, 2, Some(0)),
                Err(server.clone()),
                24 * 60 + 1,
                exact(vec![Effect::Closed]),
            ),
            // a body Discord refused: never retried
            (
                facts(Post, 0, None),
                Err(refused(400, 50035)),
                0,
                dropped_post.into(),
            ),
            (
                facts(Close, 0, Some(0)),
                Err(refused(400, 50035)),
                0,
                exact(vec![Effect::Closed]),
            ),
            (
                facts(Redraw, 0, None),
                Err(refused(400, 50035)),
                0,
                String::new(),
            ),
            // gone or forbidden channel: a strike for a post; nothing to edit
            (
                facts(Post, 0, None),
                Err(refused(404, 10003)),
                0,
                "Strike(2s)".into(),
            ),
            (
                facts(Post, 1, None),
                Err(refused(403, 50013)),
                0,
                "Strike(4s)".into(),
            ),
            (
                facts(Close, 0, Some(0)),
                Err(refused(404, 10008)),
                1,
                exact(vec![Effect::Closed]),
            ),
            (
                facts(Close, 0, Some(0)),
                Err(refused(403, 50001)),
                1,
                exact(vec![Effect::Closed]),
            ),
            (
                facts(ArchiveThread, 0, Some(0)),
                Err(refused(404, 10003)),
                1,
                exact(vec![Effect::ThreadArchived]),
            ),
            (
                facts(StartThread, 0, None),
                Err(refused(403, 50013)),
                0,
                String::new(),
            ),
            // a post's webhook was deleted: forget it, go again at once
            (
                facts(Post, 0, None),
                Err(refused(404, 10015)),
                0,
                exact(vec![Effect::ForgetWebhook, Wait(Duration::ZERO)]),
            ),
            // a bad token: wait a minute, until stale
            (
                facts(Post, 0, None),
                Err(unauthorized.clone()),
                0,
                exact(vec![
                    Count(Event::Retried),
                    Note(unauthorized.to_string()),
                    Retry(UNAUTHORIZED_WAIT),
                ]),
            ),
            (
                facts(Post, 0, Some(0)),
                Err(unauthorized.clone()),
                16,
                dropped_post.into(),
            ),
            // a refresh: a global 429 still pauses everyone; anything else
            // drops it (no retry, no strike against the subscription)
            (
                facts(Refresh, 0, None),
                Err(rl(0.25, true)),
                0,
                exact(vec![
                    Count(Event::RateLimited { global: true }),
                    PauseAll(Duration::from_millis(250)),
                    Count(Event::RefreshDropped),
                ]),
            ),
            (
                facts(Refresh, 0, None),
                Err(rl(1.0, false)),
                0,
                exact(vec![
                    Count(Event::RateLimited { global: false }),
                    Count(Event::RefreshDropped),
                ]),
            ),
            (
                facts(Refresh, 0, None),
                Err(server.clone()),
                0,
                exact(vec![Count(Event::RefreshDropped)]),
            ),
            (
                facts(Refresh, 0, None),
                Err(refused(403, 50013)),
                0,
                exact(vec![Count(Event::RefreshDropped)]),
            ),
            (
                facts(Refresh, 0, None),
                Err(refused(404, 10003)),
                0,
                exact(vec![Count(Event::RefreshDropped)]),
            ),
        ];
        for (i, (f, a, now_min, expected)) in rows.iter().enumerate() {
            let got = shape(&answer(f, a.as_ref().copied(), at(*now_min))).join(", ");
            assert_eq!(
                &got, expected,
                "row {i}: {:?} {a:?} at +{now_min} min",
                f.step
            );
        }
    }

    fn delivery() -> Delivery {
        Delivery::sample(1, at(0))
    }

    fn sent() -> Delivery {
        Delivery {
            status: DeliveryStatus::Sent,
            message_id: Some(5),
            sent_at: Some(at(0)),
            ..delivery()
        }
    }

    fn before(d: &Delivery) -> Before<'_> {
        Before {
            delivery: d,
            subscribed: true,
            active: true,
            expired: false,
        }
    }

    #[test]
    fn each_step_goes_only_where_the_delivery_stands() {
        let pending = delivery();
        let sent = sent();
        let closed = Delivery {
            end_edited_at: Some(at(1)),
            ..sent.clone()
        };
        let failed = Delivery {
            status: DeliveryStatus::Failed,
            ..delivery()
        };
        let threaded = Delivery {
            thread_id: Some(8),
            ..sent.clone()
        };
        let archived = Delivery {
            thread_archived_at: Some(at(2)),
            ..threaded.clone()
        };
        let shape_of = |p: Plan| match p {
            Plan::Skip => "skip".to_string(),
            Plan::Go => "go".to_string(),
            Plan::Settle(e) => shape(&e).join(", "),
        };
        let removed = Before {
            active: false,
            ..before(&pending)
        };
        let expired = Before {
            expired: true,
            ..before(&sent)
        };
        // (before, step, ended minutes, now minutes, expected)
        let rows: Vec<(Before<'_>, Step, Option<i64>, i64, &str)> = vec![
            (before(&pending), Post, None, 0, "go"),
            (before(&pending), Post, Some(0), 10, "go"),
            (
                before(&pending),
                Post,
                Some(0),
                20,
                "Drop(Stale), Count(Dropped(Stale))",
            ),
            (
                removed,
                Post,
                None,
                0,
                "Drop(Removed), Count(Dropped(Removed))",
            ),
            (before(&sent), Post, None, 0, "skip"),
            (before(&failed), Post, None, 0, "skip"),
            (before(&failed), Close, Some(0), 1, "skip"),
            (before(&sent), Close, None, 0, "skip"),
            (before(&sent), Close, Some(0), 1, "go"),
            (before(&closed), Close, Some(0), 1, "skip"),
            (before(&pending), Close, Some(0), 1, "skip"),
            (before(&closed), Redraw, None, 2, "skip"),
            (before(&sent), Redraw, None, 2, "go"),
            (before(&sent), Redraw, Some(0), 2, "skip"),
            (before(&pending), Redraw, None, 2, "skip"),
            (before(&sent), Refresh, None, 0, "go"),
            (expired, Refresh, None, 0, "Count(RefreshDropped)"),
            (before(&sent), Refresh, Some(0), 1, "skip"),
            (before(&sent), StartThread, None, 0, "go"),
            (before(&threaded), StartThread, None, 0, "skip"),
            (before(&sent), StartThread, Some(0), 1, "skip"),
            (before(&threaded), ArchiveThread, Some(0), 1, "go"),
            (before(&archived), ArchiveThread, Some(0), 1, "skip"),
        ];
        for (i, (b, step, ended, now, expected)) in rows.into_iter().enumerate() {
            let got = shape_of(plan(b, &facts(step, 0, ended), at(now)));
            assert_eq!(got, expected, "row {i}: {step:?}");
        }
        // A post with a moment (a show's reminder) goes until it, not after.
        let until = Facts {
            post_until: Some(at(10)),
            ..facts(Post, 0, None)
        };
        assert_eq!(shape_of(plan(before(&pending), &until, at(9))), "go");
        assert_eq!(
            shape_of(plan(before(&pending), &until, at(10))),
            "Drop(Stale), Count(Dropped(Stale))"
        );
    }

    #[test]
    fn a_resend_looks_first_past_the_nonce_window_or_after_a_webhook_post() {
        let window = Duration::from_secs(60);
        let mut d = delivery();
        assert_eq!(look_first(&d, window, at(5)), None, "never attempted");
        d.first_attempt_at = Some(at(0));
        assert_eq!(
            look_first(&d, window, at(0)),
            None,
            "Discord drops the copy"
        );
        assert_eq!(
            look_first(&d, window, at(2)),
            Some(at(0)),
            "nonce forgotten"
        );
        let nearly = at(0) + chrono::Duration::seconds(55);
        assert_eq!(
            look_first(&d, window, nearly),
            Some(at(0)),
            "too close to the window's end for the resend to arrive inside it"
        );
        let early = at(0) + chrono::Duration::seconds(50);
        assert_eq!(look_first(&d, window, early), None);
        d.webhook_id = Some(3);
        assert_eq!(
            look_first(&d, window, at(0)),
            Some(at(0)),
            "webhooks take no nonce"
        );
    }

    #[test]
    fn after_a_post_the_thread_and_the_close_follow_and_strikes_disable() {
        assert_eq!(after_sent(true, true, true), vec![Effect::Closed]);
        assert_eq!(
            after_sent(false, true, true),
            vec![Then(StartThread), Then(Close)]
        );
        assert_eq!(after_sent(false, false, false), vec![]);
        assert_eq!(
            shape(&after_strike(true, "gone".into(), secs(2))),
            ["Drop(ChannelUnusable)", "Count(Dropped(ChannelUnusable))"]
        );
        assert_eq!(
            shape(&after_strike(false, "gone".into(), secs(2))),
            ["Count(Retried)", "Note", "Retry(2s)"]
        );
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_a_fifth() {
        let mut f = facts(Post, 3, None);
        f.jitter = 0.999;
        let d = f.backoff_delay();
        assert!(d < secs(16) && d >= Duration::from_secs_f64(16.0 * 0.8));
    }

    #[test]
    fn the_steps_after_a_post_stay_worth_retrying_for_a_day() {
        let f = |step| facts(step, 0, Some(0));
        assert!(!f(Post).still_matters(at(16)));
        assert!(!f(Refresh).still_matters(at(16)));
        for step in [Close, Redraw, StartThread, ArchiveThread] {
            assert!(f(step).still_matters(at(23 * 60)), "{step:?}");
            assert!(!f(step).still_matters(at(24 * 60 + 1)), "{step:?}");
        }
        assert!(facts(Post, 0, None).still_matters(at(100_000)));
    }
}
