//! Decide, don't act: what one Discord answer means for one delivery job.
//! The dispatcher applies the verdict (store writes, requeue, pause); this
//! module only decides, so every rule is a row in a table test.
//!
//! The rules:
//! - a 429 waits as long as Discord says (a global one pauses every send);
//! - 5xx, timeouts and connection errors retry with capped, jittered
//!   exponential backoff for as long as the news still matters: while the
//!   broadcast is live, and until `stale_after` past its end (end edits:
//!   [`END_EDIT_STALE_AFTER`], since a card that still says "live" is wrong
//!   for as long as it stands);
//! - a gone or forbidden channel counts toward disabling the subscription;
//! - any other 4xx (a body Discord refused, 50035…) is final: not retried.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::dispatch::JobKind;
use crate::backoff;
use crate::discord::rest::DiscordError;

/// How long an end edit keeps being retried after the broadcast ended.
pub const END_EDIT_STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Wait after a 401 before trying again (the operator must fix the token).
pub const UNAUTHORIZED_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It worked.
    Done,
    /// Try this job again after the delay.
    Retry(Duration),
    /// A global rate limit: nothing is sent by anyone for this long; the
    /// job is retried after it.
    PauseAll(Duration),
    /// The channel is gone or forbidden: one more strike toward disabling
    /// the subscription (then retried with backoff until disabled).
    CountTowardDisable(Duration),
    /// Give up on this job, for this reason.
    Drop(String),
}

/// What the verdict needs to know about the job.
#[derive(Debug, Clone)]
pub struct Facts {
    pub kind: JobKind,
    /// Failed attempts so far, this one not included.
    pub attempts: u32,
    /// When the broadcast ended (None: still live).
    pub ended_at: Option<DateTime<Utc>>,
    /// How long past the end an announcement is still worth sending.
    pub stale_after: Duration,
    /// First retry delay; doubles per attempt.
    pub backoff: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// In [0, 1): takes up to 20% off a backoff, so retries of many
    /// channels after one incident do not arrive together.
    pub jitter: f64,
}

impl Facts {
    /// Is the news this job carries still worth delivering at `now`?
    pub fn still_matters(&self, now: DateTime<Utc>) -> bool {
        let window = match self.kind {
            JobKind::Send | JobKind::Update => self.stale_after,
            JobKind::EndEdit | JobKind::Reopen | JobKind::Thread | JobKind::ArchiveThread => {
                END_EDIT_STALE_AFTER.max(self.stale_after)
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

/// The verdict on one answer.
pub fn verdict(facts: &Facts, answer: &Result<(), DiscordError>, now: DateTime<Utc>) -> Verdict {
    let error = match answer {
        Ok(()) => return Verdict::Done,
        Err(e) => e,
    };
    match error {
        DiscordError::RateLimited {
            retry_after,
            global: true,
        } => Verdict::PauseAll(*retry_after),
        // A live update is never retried nor held against the
        // subscription: the next one (or the recap) carries the news.
        e if facts.kind == JobKind::Update => {
            Verdict::Drop(format!("live update not taken ({e}); dropped"))
        }
        DiscordError::RateLimited { retry_after, .. } => Verdict::Retry(*retry_after),
        e if e.is_channel_unusable() => match facts.kind {
            JobKind::Send => Verdict::CountTowardDisable(facts.backoff_delay()),
            JobKind::EndEdit
            | JobKind::Reopen
            | JobKind::Update
            | JobKind::Thread
            | JobKind::ArchiveThread => Verdict::Drop(format!("nothing left to edit: {e}")),
        },
        DiscordError::Refused { .. } => Verdict::Drop(format!("Discord refused it: {error}")),
        DiscordError::Unauthorized | DiscordError::Server(_) | DiscordError::Transport(_) => {
            if !facts.still_matters(now) {
                return Verdict::Drop(format!(
                    "still failing ({error}) long after the broadcast ended; dropped as stale"
                ));
            }
            if matches!(error, DiscordError::Unauthorized) {
                Verdict::Retry(UNAUTHORIZED_WAIT.max(facts.backoff_delay()))
            } else {
                Verdict::Retry(facts.backoff_delay())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    fn facts(kind: JobKind, attempts: u32, ended_min: Option<i64>) -> Facts {
        Facts {
            kind,
            attempts,
            ended_at: ended_min.map(at),
            stale_after: Duration::from_secs(15 * 60),
            backoff: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            jitter: 0.0,
        }
    }

    fn refused(status: u16, code: u64) -> DiscordError {
        DiscordError::Refused {
            status,
            code,
            message: "m".into(),
        }
    }

    #[test]
    fn the_table() {
        use JobKind::{EndEdit, Send, Update};
        let secs = Duration::from_secs;
        let rl = |s: f64, global| DiscordError::RateLimited {
            retry_after: Duration::from_secs_f64(s),
            global,
        };
        let server = |c| Err(DiscordError::Server(c));
        // (facts, answer, minutes after the epoch of `at`, expected);
        // `None` expects a Drop (its reason is for logs).
        type Row = (Facts, Result<(), DiscordError>, i64, Option<Verdict>);
        let rows: Vec<Row> = vec![
            // success
            (facts(Send, 0, None), Ok(()), 0, Some(Verdict::Done)),
            // 429s wait as told, a global one pauses everyone
            (
                facts(Send, 3, None),
                Err(rl(1.5, false)),
                0,
                Some(Verdict::Retry(Duration::from_millis(1500))),
            ),
            (
                facts(Send, 0, None),
                Err(rl(0.25, true)),
                0,
                Some(Verdict::PauseAll(Duration::from_millis(250))),
            ),
            // 5xx while live: backoff doubles from 2 s, capped at 60 s
            (
                facts(Send, 0, None),
                server(502),
                0,
                Some(Verdict::Retry(secs(2))),
            ),
            (
                facts(Send, 3, None),
                server(502),
                0,
                Some(Verdict::Retry(secs(16))),
            ),
            (
                facts(Send, 40, None),
                server(500),
                0,
                Some(Verdict::Retry(secs(60))),
            ),
            // a timeout long into a live: still retried (no attempt cap)
            (
                facts(Send, 500, None),
                Err(DiscordError::Transport("timed out".into())),
                600,
                Some(Verdict::Retry(secs(60))),
            ),
            // ended 10 min ago: still matters; 20 min ago: stale
            (
                facts(Send, 2, Some(0)),
                server(503),
                10,
                Some(Verdict::Retry(secs(8))),
            ),
            (facts(Send, 2, Some(0)), server(503), 20, None),
            // an end edit keeps trying for a day
            (
                facts(EndEdit, 2, Some(0)),
                server(503),
                20,
                Some(Verdict::Retry(secs(8))),
            ),
            (facts(EndEdit, 2, Some(0)), server(503), 24 * 60 + 1, None),
            // a body Discord refused: never retried
            (facts(Send, 0, None), Err(refused(400, 50035)), 0, None),
            (facts(EndEdit, 0, None), Err(refused(400, 50035)), 0, None),
            // gone or forbidden channel: a strike for a send; nothing to edit
            (
                facts(Send, 0, None),
                Err(refused(404, 10003)),
                0,
                Some(Verdict::CountTowardDisable(secs(2))),
            ),
            (
                facts(Send, 1, None),
                Err(refused(403, 50013)),
                0,
                Some(Verdict::CountTowardDisable(secs(4))),
            ),
            (
                facts(EndEdit, 0, Some(0)),
                Err(refused(404, 10008)),
                1,
                None,
            ),
            (
                facts(EndEdit, 0, Some(0)),
                Err(refused(403, 50001)),
                1,
                None,
            ),
            // a bad token: wait a minute, until stale
            (
                facts(Send, 0, None),
                Err(DiscordError::Unauthorized),
                0,
                Some(Verdict::Retry(UNAUTHORIZED_WAIT)),
            ),
            (
                facts(Send, 0, Some(0)),
                Err(DiscordError::Unauthorized),
                16,
                None,
            ),
            // a live update: a global 429 still pauses everyone; anything
            // else drops it (no retry, no strike against the subscription)
            (
                facts(Update, 0, None),
                Err(rl(0.25, true)),
                0,
                Some(Verdict::PauseAll(Duration::from_millis(250))),
            ),
            (facts(Update, 0, None), Err(rl(1.0, false)), 0, None),
            (facts(Update, 0, None), server(502), 0, None),
            (facts(Update, 0, None), Err(refused(403, 50013)), 0, None),
            (facts(Update, 0, None), Err(refused(404, 10003)), 0, None),
        ];
        for (i, (f, answer, now_min, expected)) in rows.iter().enumerate() {
            let v = verdict(f, answer, at(*now_min));
            let ok = match expected {
                Some(e) => v == *e,
                None => matches!(v, Verdict::Drop(_)),
            };
            assert!(
                ok,
                "row {i}: {answer:?} at +{now_min} min -> {v:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_a_fifth() {
        let mut f = facts(JobKind::Send, 3, None);
        f.jitter = 0.999;
        let d = f.backoff_delay();
        assert!(d < Duration::from_secs(16) && d >= Duration::from_secs_f64(16.0 * 0.8));
    }
}
