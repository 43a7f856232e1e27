//! One TikTok poll: a lookup per username of this poll's batch. When the
//! credits cannot cover every watched username on every poll, each poll
//! takes the next batch of a rotation over all of them ([`rotation`],
//! [`batch`]): every username is still seen, less often, and TikTok polling
//! never stops for everybody because the list grew. A username whose lookup
//! fails, or that is not in this poll's batch, keeps its last good answer
//! (so neither a flaky call nor the rotation "ends" a live); the poll fails
//! only when every lookup failed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::budget::Allowance;

use futures::StreamExt;

use crate::live::LiveStream;
use crate::providers::ProviderError;

/// One username's answer: `Some` when live.
type Answer = Result<Option<LiveStream>, Arc<ProviderError>>;

/// Lookups in flight at once.
const PARALLEL: usize = 4;

/// The last good answer per username.
#[derive(Default)]
pub struct LastGood {
    last_good: Mutex<HashMap<String, Option<LiveStream>>>,
}

impl LastGood {
    /// Look the users of `batch` up (`lookup` answers `Some` when live) and
    /// merge with the last good answers of the rest of `watched`; a user no
    /// longer watched is forgotten.
    pub async fn poll<F, Fut>(
        &self,
        batch: Vec<String>,
        watched: &[String],
        lookup: F,
    ) -> Result<Vec<LiveStream>, ProviderError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Answer>,
    {
        let results: Vec<(String, Answer)> = futures::stream::iter(batch.into_iter().map(|u| {
            let fut = lookup(u.clone());
            async move { (u, fut.await) }
        }))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
        let mut last = self.last_good.lock().unwrap_or_else(|e| e.into_inner());
        let total = results.len();
        let mut failures = Vec::new();
        let mut fresh: HashMap<String, Option<LiveStream>> = HashMap::new();
        for (user, r) in results {
            match r {
                Ok(live) => {
                    fresh.insert(user, live);
                }
                Err(e) => {
                    tracing::warn!(user = %user, error = %e, "TikTok lookup failed; keeping the last answer");
                    if let Some(prev) = last.get(&user) {
                        fresh.insert(user, prev.clone());
                    }
                    failures.push(e);
                }
            }
        }
        if total > 0 && failures.len() == total {
            if let Some(e) = failures.into_iter().next() {
                return Err(Arc::unwrap_or_clone(e));
            }
        }
        for user in watched {
            if !fresh.contains_key(user) {
                if let Some(prev) = last.get(user) {
                    fresh.insert(user.clone(), prev.clone());
                }
            }
        }
        *last = fresh;
        Ok(last.values().flatten().cloned().collect())
    }
}

/// How the poller covers the watched usernames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Usernames some subscription names.
    pub watched: usize,
    /// Usernames each poll looks up (its cost in credits).
    pub per_poll: usize,
    /// About how often each username is looked up.
    pub each_every: Duration,
}

/// The rotation for `watched` usernames, polled at most every `interval`
/// and, when metered, within `allowance` credits per period: every poll
/// looks everyone up when the credits allow it; otherwise each poll takes
/// as many as spend the allowance over the period at the fastest allowed
/// pace (at least one), so each username is seen about every
/// `period × watched / credits`.
pub fn rotation(watched: usize, allowance: Option<Allowance>, interval: Duration) -> Rotation {
    let interval = interval.max(Duration::from_secs(1));
    let Some(allowance) = allowance else {
        return Rotation {
            watched,
            per_poll: watched,
            each_every: interval,
        };
    };
    let credits = allowance.calls().max(1);
    let period = match allowance {
        Allowance::PerDay(_) => 86_400.0,
        Allowance::PerMonth(_) => 31.0 * 86_400.0,
    };
    // Polls the period allows at the fastest pace, and the batch that
    // spends the credits in that many polls.
    let polls = (period / interval.as_secs_f64()).max(1.0);
    let per_poll = ((credits as f64 / polls).ceil() as usize)
        .clamp(1, usize::try_from(credits).unwrap_or(usize::MAX))
        .min(watched);
    let each = (period * watched as f64 / credits as f64).max(interval.as_secs_f64());
    Rotation {
        watched,
        per_poll,
        each_every: Duration::from_secs_f64(each.min(period * 366.0)),
    }
}

/// The `k` usernames of `names` (sorted, the whole watched list) a poll
/// takes when the rotation has advanced `start` names so far: from
/// `start mod n`, wrapping around.
pub fn batch(names: &[String], start: u64, k: usize) -> Vec<String> {
    let n = names.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let first = (start % n as u64) as usize;
    (0..k.min(n))
        .map(|i| names[(first + i) % n].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("user{i:03}")).collect()
    }

    #[test]
    fn unmetered_or_ample_credits_look_everyone_up_every_poll() {
        let r = rotation(40, None, Duration::from_secs(30));
        assert_eq!((r.per_poll, r.each_every), (40, Duration::from_secs(30)));
        // 40 names every 30 s for a day: 115,200 credits.
        let r = rotation(
            40,
            Some(Allowance::PerDay(200_000)),
            Duration::from_secs(30),
        );
        assert_eq!((r.per_poll, r.each_every), (40, Duration::from_secs(30)));
    }

    #[test]
    fn fewer_credits_than_names_rotate_instead_of_stopping() {
        let r = rotation(
            5_000,
            Some(Allowance::PerDay(1_000)),
            Duration::from_secs(30),
        );
        assert_eq!(r.per_poll, 1, "1,000 polls of one name at most every 30 s");
        assert_eq!(r.each_every, Duration::from_secs(5 * 86_400));
        let r = rotation(10, Some(Allowance::PerDay(3)), Duration::from_secs(30));
        assert_eq!(r.per_poll, 1);
        let r = rotation(300, Some(Allowance::PerDay(8_640)), Duration::from_secs(30));
        assert_eq!(r.per_poll, 3, "8,640 credits in 2,880 polls");
        assert_eq!(r.each_every, Duration::from_secs(3_000));
    }

    #[test]
    fn batches_wrap_around_and_cover_every_name() {
        let all = names(5);
        assert_eq!(batch(&all, 0, 2), ["user000", "user001"]);
        assert_eq!(batch(&all, 4, 2), ["user004", "user000"]);
        assert_eq!(batch(&all, 7, 9).len(), 5, "never more than the list");
        assert!(batch(&[], 3, 2).is_empty());
    }

    /// A day of polling through the real scheduler: credits smaller than
    /// the usernames, and still every username is looked up within the day
    /// and the day's credits are never passed.
    #[test]
    fn a_day_of_rotation_sees_every_username_within_budget() {
        use crate::budget::{next_poll, BudgetState, LiveProfile, NextPoll};
        use chrono::{TimeZone, Utc};
        let all = names(120);
        let allowance = Allowance::PerDay(150);
        let interval = Duration::from_secs(30);
        let r = rotation(all.len(), Some(allowance), interval);
        let profile = LiveProfile::prior();
        let day_start = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        let (mut now, mut used, mut cursor) = (day_start, 0u64, 0u64);
        let mut seen = std::collections::HashMap::<String, usize>::new();
        loop {
            let state = BudgetState {
                allowance,
                used,
                cost: r.per_poll as u64,
                min_interval: interval,
            };
            if !crate::budget::may_spend(state) {
                break;
            }
            for u in batch(&all, cursor, r.per_poll) {
                *seen.entry(u).or_default() += 1;
            }
            cursor += r.per_poll as u64;
            used += r.per_poll as u64;
            let state = BudgetState { used, ..state };
            match next_poll(state, &profile, now) {
                NextPoll::At(t) if t < day_start + chrono::Duration::days(1) => now = t,
                _ => break,
            }
        }
        assert!(used <= 150, "spent {used} of 150");
        assert_eq!(seen.len(), 120, "every username looked up: {}", seen.len());
    }
}
