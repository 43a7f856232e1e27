//! A kept copy of one calendar list: answered from memory while it is
//! younger than its age limit; an older one is read again once, however
//! many ask at the same moment (the first asker reads, the others wait for
//! its answer), the call spent from the JKT48Connect ledger first. A failed
//! read is not retried for a while (each try costs a call): until then the
//! last good copy is answered, marked stale.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::providers::ProviderError;
use crate::watch::ledger::{Ledger, Reservation};

/// How a copy is kept.
#[derive(Debug, Clone, Copy)]
pub struct Ages {
    /// A copy younger than this is answered as it is.
    pub max_age: Duration,
    /// After a failed read (or a spent budget), how long before trying again.
    pub retry_after: Duration,
}

/// Why the copy could not be read fresh.
#[derive(Debug, Clone)]
pub enum Problem {
    /// The month's allowance is spent until `until`.
    BudgetSpent { until: DateTime<Utc> },
    /// The provider failed (logged).
    Provider(ProviderError),
    /// An earlier read failed a moment ago; not tried again yet.
    Resting,
}

/// What an ask gets: the copy (if any was ever read), when it was read,
/// and why it is not fresh.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: Option<Arc<T>>,
    pub read_at: Option<DateTime<Utc>>,
    pub problem: Option<Problem>,
}

struct Slot<T> {
    value: Option<Arc<T>>,
    read_at: Option<DateTime<Utc>>,
    /// The last try that did not give a copy.
    failed_at: Option<DateTime<Utc>>,
}

/// Read again now? Only when the copy is missing or older than the age
/// limit, and no try failed within the rest period.
pub fn should_read(
    read_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    ages: Ages,
) -> bool {
    let older_than = |t: DateTime<Utc>, d: Duration| {
        now.signed_duration_since(t)
            .to_std()
            .is_ok_and(|age| age >= d)
    };
    let aged = read_at.is_none_or(|t| older_than(t, ages.max_age));
    let rested = failed_at.is_none_or(|t| older_than(t, ages.retry_after));
    aged && rested
}

/// One kept list.
pub struct Kept<T> {
    ages: Ages,
    ledger: Option<Arc<Ledger>>,
    slot: Mutex<Slot<T>>,
}

impl<T> Kept<T> {
    /// `ledger`: the JKT48Connect allowance each read is spent from (None:
    /// unmetered).
    pub fn new(ages: Ages, ledger: Option<Arc<Ledger>>) -> Self {
        Kept {
            ages,
            ledger,
            slot: Mutex::new(Slot {
                value: None,
                read_at: None,
                failed_at: None,
            }),
        }
    }

    /// The copy, read again by `read` first when it has aged.
    pub async fn get<F, Fut>(&self, now: DateTime<Utc>, read: F) -> Answer<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        self.get_within(now, self.ages.max_age, read).await
    }

    /// The copy, read again by `read` first when older than `max_age`.
    pub async fn get_within<F, Fut>(
        &self,
        now: DateTime<Utc>,
        max_age: Duration,
        read: F,
    ) -> Answer<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let ages = Ages {
            max_age,
            ..self.ages
        };
        // Held across the read: whoever asks meanwhile waits, then finds
        // the copy fresh (one call for any number of asks).
        let mut slot = self.slot.lock().await;
        let answer = |slot: &Slot<T>, problem| Answer {
            value: slot.value.clone(),
            read_at: slot.read_at,
            problem,
        };
        if !should_read(slot.read_at, slot.failed_at, now, ages) {
            let problem =
                (slot.value.is_none() || slot.failed_at > slot.read_at).then_some(Problem::Resting);
            return answer(&slot, problem);
        }
        if let Some(ledger) = &self.ledger {
            if let Reservation::Exhausted { until } = ledger.reserve_once(1, now).await {
                slot.failed_at = Some(now);
                return answer(&slot, Some(Problem::BudgetSpent { until }));
            }
        }
        match read().await {
            Ok(value) => {
                slot.value = Some(Arc::new(value));
                slot.read_at = Some(now);
                slot.failed_at = None;
                answer(&slot, None)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the calendar; answering the last copy");
                slot.failed_at = Some(now);
                answer(&slot, Some(Problem::Provider(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::providers::ProviderName;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).expect("a valid time")
    }

    const AGES: Ages = Ages {
        max_age: Duration::from_secs(3 * 3600),
        retry_after: Duration::from_secs(10 * 60),
    };

    #[test]
    fn a_copy_is_read_again_only_when_aged_and_not_right_after_a_failure() {
        assert!(should_read(None, None, at(0), AGES), "never read");
        assert!(!should_read(Some(at(0)), None, at(179), AGES));
        assert!(should_read(Some(at(0)), None, at(180), AGES));
        assert!(!should_read(None, Some(at(0)), at(9), AGES), "resting");
        assert!(should_read(None, Some(at(0)), at(10), AGES));
        assert!(!should_read(Some(at(0)), Some(at(175)), at(181), AGES));
    }

    #[tokio::test]
    async fn twenty_asks_at_once_read_once_and_a_failure_keeps_the_last_copy() {
        let kept = Arc::new(Kept::<u32>::new(AGES, None));
        let reads = Arc::new(AtomicUsize::new(0));
        let asks = (0..20).map(|_| {
            let (kept, reads) = (Arc::clone(&kept), Arc::clone(&reads));
            tokio::spawn(async move {
                kept.get(at(0), || async {
                    reads.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok(7)
                })
                .await
            })
        });
        for ask in asks {
            let answer = ask.await.expect("the ask ran");
            assert_eq!(answer.value.as_deref(), Some(&7));
            assert!(answer.problem.is_none());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        // Aged: read again, which fails; the last copy is answered, stale,
        // and the next asks within the rest period do not call.
        let failing = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::Timeout {
                provider: ProviderName::Jkt48Connect,
                after: Duration::from_secs(10),
            })
        };
        let answer = kept.get(at(200), failing).await;
        assert_eq!(answer.value.as_deref(), Some(&7));
        assert_eq!(answer.read_at, Some(at(0)));
        assert!(matches!(answer.problem, Some(Problem::Provider(_))));
        for minute in 201..205 {
            let answer = kept.get(at(minute), failing).await;
            assert!(matches!(answer.problem, Some(Problem::Resting)));
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }
}
