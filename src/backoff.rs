//! Waiting before trying again, in one place: capped exponential backoff,
//! jitter (so many tasks retrying after one incident do not arrive
//! together), a start-up budget, and "retry until it works or we stop".
//! The poll loop, start-up, the outbox's transitions and the announcer's store
//! retries all use these.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// `first × 2^n`, capped at `max` (`n` is the number of failures before).
pub fn exponential(first: Duration, n: u32, max: Duration) -> Duration {
    first.saturating_mul(1u32 << n.min(16)).min(max)
}

/// `d` minus up to `fraction` of it, by `unit` in [0, 1): jitter that
/// never makes a wait longer than promised.
pub fn jitter_down(d: Duration, fraction: f64, unit: f64) -> Duration {
    d.mul_f64(1.0 - fraction.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0))
}

/// A cheap, dependency-free jitter source in [0, 1).
pub fn unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// Retries within a time budget (start-up): each call to
/// [`Budget::next_wait`] counts a failure and says how long to wait, or
/// `None` once the next attempt would come after the budget.
pub struct Budget {
    started: tokio::time::Instant,
    budget: Duration,
    first: Duration,
    max: Duration,
    pub failures: u32,
}

impl Budget {
    pub fn new(budget: Duration, first: Duration, max: Duration) -> Self {
        Budget {
            started: tokio::time::Instant::now(),
            budget,
            first,
            max,
            failures: 0,
        }
    }

    pub fn next_wait(&mut self) -> Option<Duration> {
        let wait = jitter_down(
            exponential(self.first, self.failures, self.max),
            0.2,
            unit(),
        );
        self.failures += 1;
        (self.started.elapsed() + wait <= self.budget).then_some(wait)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Run `step` until it succeeds, waiting `first`, doubling up to `max`,
/// between failures (each logged as `what`). `None` when `stop` was
/// cancelled first. For work that must not be dropped (store writes).
pub async fn until_ok<T, E, F, Fut>(
    what: &str,
    first: Duration,
    max: Duration,
    stop: &CancellationToken,
    mut step: F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut failures: u32 = 0;
    loop {
        match step().await {
            Ok(v) => {
                if failures > 0 {
                    tracing::info!(failures, "{what}: done after retrying");
                }
                return Some(v);
            }
            Err(e) => {
                let wait = exponential(first, failures, max);
                failures += 1;
                tracing::error!(error = %e, failures, retry_in = ?wait, "{what} failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {
                        tracing::warn!("{what}: stopping before it succeeded");
                        return None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters_only_down() {
        let s = Duration::from_secs;
        assert_eq!(exponential(s(2), 0, s(60)), s(2));
        assert_eq!(exponential(s(2), 3, s(60)), s(16));
        assert_eq!(exponential(s(2), 40, s(60)), s(60));
        assert_eq!(jitter_down(s(10), 0.2, 0.0), s(10));
        assert_eq!(jitter_down(s(10), 0.2, 0.5), s(9));
        assert!(jitter_down(s(10), 0.2, 0.999) >= s(8));
    }

    #[tokio::test]
    async fn a_budget_runs_out() {
        let mut b = Budget::new(
            Duration::from_millis(1500),
            Duration::from_millis(500),
            Duration::from_secs(30),
        );
        let first = b.next_wait().expect("the first retry fits");
        assert!(first <= Duration::from_millis(500));
        // 0.5 + 1 + 2 s > 1.5 s: the third wait does not fit.
        let mut waits = 1;
        while b.next_wait().is_some() {
            waits += 1;
        }
        assert!(waits <= 2, "{waits}");
    }

    #[tokio::test]
    async fn until_ok_retries_and_stops_when_told() {
        let stop = CancellationToken::new();
        let mut n = 0;
        let r = until_ok(
            "step",
            Duration::from_millis(1),
            Duration::from_millis(4),
            &stop,
            || {
                n += 1;
                let k = n;
                async move {
                    if k < 4 {
                        Err("down")
                    } else {
                        Ok(k)
                    }
                }
            },
        )
        .await;
        assert_eq!(r, Some(4));
        stop.cancel();
        let r: Option<()> = until_ok(
            "step",
            Duration::from_secs(5),
            Duration::from_secs(5),
            &stop,
            || async { Err::<(), _>("down") },
        )
        .await;
        assert_eq!(r, None);
    }
}
