//! Poll loops: one per source, each keeping the snapshot's last good answer.
//! A failed poll changes nothing but the error note: the tracker sees only
//! successful answers, so no stream ends because a provider was down (see
//! [`super::tracker`]). The loop spends only what the source's ledger
//! allows, honours the provider's word (a 429's `Retry-After`, a refused
//! key, credits exhausted) and, after an outage, comes back within about
//! two intervals.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::ledger::{Ledger, Reservation};
use super::snapshot::Snapshot;
use crate::backoff;
use crate::live::LiveStream;
use crate::ops::metric;
use crate::providers::source::LiveSource;
use crate::providers::ProviderError;

/// How long polling pauses after a provider says its credits are exhausted
/// (HTTP 402) before one probe asks again (credits may be topped up).
pub const CREDITS_PAUSE: Duration = Duration::from_secs(3600);

/// The longest wait after failures: twice the interval, but never more than
/// the interval plus 30 s. A provider that recovers is seen again within
/// that (a 5 s interval: back within 10 s; 30 s: within 60 s).
pub fn failure_cap(interval: Duration) -> Duration {
    (interval * 2).min(interval + Duration::from_secs(30))
}

/// Delay before the next poll of an unmetered source: the interval (minus
/// up to 10% jitter, so a poll never comes later than the configured
/// interval) after success, doubling per consecutive failure up to
/// [`failure_cap`].
pub fn next_delay(interval: Duration, failures: u32, jitter_unit: f64) -> Duration {
    let base = if failures == 0 {
        interval
    } else {
        backoff::exponential(interval, failures - 1, failure_cap(interval))
    };
    // Spread polls of many sources over the last 10% of the interval,
    // never past it.
    backoff::jitter_down(base, 0.1, jitter_unit)
}

/// What a failed poll means for the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureAction {
    /// Back off as usual.
    Backoff,
    /// The provider asked for this much quiet (429 `Retry-After`).
    Wait(Duration),
    /// Pause this long, saying why (credits exhausted).
    Pause(Duration, String),
    /// Stop polling until the configuration changes (the key was refused).
    Stop(String),
}

/// Pure: the loop's answer to an error.
pub fn on_failure(error: &ProviderError) -> FailureAction {
    match error {
        ProviderError::RateLimited {
            retry_after: Some(d),
            ..
        } => FailureAction::Wait(*d),
        ProviderError::CreditsExhausted { .. } => {
            FailureAction::Pause(CREDITS_PAUSE, error.to_string())
        }
        ProviderError::Unauthorized { .. } => FailureAction::Stop(error.to_string()),
        _ => FailureAction::Backoff,
    }
}

/// Poll `source` until `shutdown`, writing successes into the snapshot and
/// calling `on_success` with each good list (the change detector hooks in
/// there).
pub async fn poll_loop<S>(
    source: Arc<dyn LiveSource>,
    ledger: Arc<Ledger>,
    snapshot: Arc<Snapshot>,
    mut on_success: S,
    shutdown: CancellationToken,
) where
    S: FnMut(&[LiveStream]) + Send,
{
    let name = source.name();
    let interval = source.schedule().interval;
    let metered = source.schedule().allowance.is_some();
    snapshot.register(name);
    let mut failures: u32 = 0;
    loop {
        let span = tracing::info_span!("poll", provider = %name);
        let cost = tokio::select! {
            _ = shutdown.cancelled() => return,
            c = source.cost() => c,
        };
        let reservation = ledger.reserve(cost, Utc::now()).await;
        if let Some(allowance) = ledger.schedule.allowance {
            let left = allowance.calls().saturating_sub(ledger.used());
            metrics::gauge!(metric::BUDGET_LEFT, "provider" => name.as_str()).set(left as f64);
        }
        let delay = match reservation {
            Reservation::Exhausted { until } => {
                let why = format!(
                    "the allowance of {} is spent until {}",
                    ledger
                        .schedule
                        .allowance
                        .map(|a| format!("{} {}", a.calls(), a.unit()))
                        .unwrap_or_default(),
                    until.format("%Y-%m-%d %H:%M UTC")
                );
                tracing::error!(parent: &span, provider = %name, until = %until, "provider allowance spent: polling paused until the next period");
                snapshot.set_halted(name, Some(why));
                Some(
                    (until - Utc::now())
                        .to_std()
                        .unwrap_or_default()
                        .max(interval),
                )
            }
            Reservation::Go => {
                let result = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = source.fetch().instrument(span.clone()) => r,
                };
                let _enter = span.enter();
                let now = Utc::now();
                match result {
                    Ok(streams) => {
                        metrics::counter!(metric::POLLS, "provider" => name.as_str()).increment(1);
                        if failures > 0 {
                            tracing::info!(after_failures = failures, "provider answering again");
                        }
                        failures = 0;
                        tracing::debug!(live = streams.len(), cost, "poll ok");
                        on_success(&streams);
                        snapshot.replace(name, streams, now);
                        let wait = if metered {
                            ledger.plan(now)
                        } else {
                            next_delay(interval, 0, backoff::unit())
                        };
                        snapshot.set_planned(name, wait);
                        Some(wait)
                    }
                    Err(e) => {
                        metrics::counter!(metric::PROVIDER_ERRORS, "provider" => name.as_str(), "kind" => e.kind())
                            .increment(1);
                        failures = failures.saturating_add(1);
                        snapshot.record_failure(name, e.to_string(), now);
                        let planned = if metered {
                            ledger.plan(now)
                        } else {
                            Duration::ZERO
                        };
                        let backoff = next_delay(interval, failures, backoff::unit());
                        match on_failure(&e) {
                            FailureAction::Backoff => {
                                tracing::warn!(error = %e, consecutive = failures, "poll failed; keeping last good data");
                                Some(planned.max(backoff))
                            }
                            FailureAction::Wait(d) => {
                                tracing::warn!(error = %e, retry_after_secs = d.as_secs_f64(), "provider rate limit: waiting as asked");
                                Some(planned.max(backoff).max(d))
                            }
                            FailureAction::Pause(d, why) => {
                                tracing::error!(error = %e, pause_secs = d.as_secs(), "provider credits exhausted: polling paused; top up the credits");
                                snapshot.set_halted(name, Some(why));
                                Some(d)
                            }
                            FailureAction::Stop(why) => {
                                tracing::error!(error = %e, "provider refused the key: polling stopped until the configuration is fixed and the bot restarted");
                                snapshot.set_halted(name, Some(why));
                                None
                            }
                        }
                    }
                }
            }
        };
        // `None`: stopped for good (the span guard is gone by now).
        let Some(delay) = delay else {
            shutdown.cancelled().await;
            return;
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Platform;
    use crate::providers::source::Schedule;
    use crate::providers::ProviderName;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn backoff_comes_back_within_two_intervals() {
        let i = Duration::from_secs(30);
        assert_eq!(next_delay(i, 0, 0.0), i);
        assert_eq!(next_delay(i, 1, 0.0), i);
        assert_eq!(next_delay(i, 2, 0.0), Duration::from_secs(60));
        assert_eq!(next_delay(i, 10, 0.0), Duration::from_secs(60));
        let five = Duration::from_secs(5);
        assert_eq!(next_delay(five, 10, 0.0), Duration::from_secs(10));
        let long = Duration::from_secs(600);
        assert_eq!(next_delay(long, 3, 0.0), Duration::from_secs(630));
        assert_eq!(next_delay(i, 0, 1.0), Duration::from_secs(27));
        assert!(next_delay(i, 0, 0.99) <= i);
    }

    #[test]
    fn the_providers_word_is_honoured() {
        let p = ProviderName::Konbini;
        assert_eq!(
            on_failure(&ProviderError::RateLimited {
                provider: p,
                retry_after: Some(Duration::from_secs(30))
            }),
            FailureAction::Wait(Duration::from_secs(30))
        );
        assert_eq!(
            on_failure(&ProviderError::RateLimited {
                provider: p,
                retry_after: None
            }),
            FailureAction::Backoff
        );
        assert!(matches!(
            on_failure(&ProviderError::CreditsExhausted { provider: p, detail: None }),
            FailureAction::Pause(d, _) if d == CREDITS_PAUSE
        ));
        assert!(matches!(
            on_failure(&ProviderError::Unauthorized {
                provider: p,
                status: 401
            }),
            FailureAction::Stop(_)
        ));
        assert_eq!(
            on_failure(&ProviderError::Status {
                provider: p,
                status: 502,
                message: None
            }),
            FailureAction::Backoff
        );
    }

    /// A source answering from a closure, counting calls.
    struct Scripted {
        calls: Arc<AtomicUsize>,
        answer: fn(usize) -> Result<Vec<LiveStream>, ProviderError>,
    }

    #[async_trait::async_trait]
    impl LiveSource for Scripted {
        fn name(&self) -> ProviderName {
            ProviderName::Jkt48Connect
        }
        fn platforms(&self) -> &'static [Platform] {
            &[Platform::Idn]
        }
        fn schedule(&self) -> Schedule {
            Schedule {
                interval: Duration::from_millis(10),
                allowance: None,
            }
        }
        async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError> {
            (self.answer)(self.calls.fetch_add(1, Ordering::SeqCst))
        }
    }

    async fn run(
        answer: fn(usize) -> Result<Vec<LiveStream>, ProviderError>,
        until_calls: usize,
    ) -> (
        Arc<Snapshot>,
        Arc<AtomicUsize>,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let snap = Arc::new(Snapshot::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let source: Arc<dyn LiveSource> = Arc::new(Scripted {
            calls: Arc::clone(&calls),
            answer,
        });
        let ledger = Arc::new(
            Ledger::open(source.as_ref(), None, Utc::now())
                .await
                .unwrap(),
        );
        let token = CancellationToken::new();
        let task = tokio::spawn(poll_loop(
            source,
            ledger,
            Arc::clone(&snap),
            |_| {},
            token.clone(),
        ));
        tokio::time::timeout(Duration::from_secs(5), async {
            while calls.load(Ordering::SeqCst) < until_calls {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("poller kept polling");
        (snap, calls, token, task)
    }

    #[tokio::test]
    async fn failed_poll_keeps_last_good_and_stops_on_shutdown() {
        let (snap, _calls, token, task) = run(
            |n| {
                if n == 0 {
                    Ok(vec![LiveStream::new(Platform::Idn, "1", "A")])
                } else {
                    Err(ProviderError::Status {
                        provider: ProviderName::Jkt48Connect,
                        status: 500,
                        message: None,
                    })
                }
            },
            3,
        )
        .await;
        assert_eq!(snap.streams().len(), 1);
        let st = snap.state(ProviderName::Jkt48Connect).unwrap();
        assert!(st.last_error.as_deref().unwrap().contains("500"));
        assert!(st.halted.is_none());
        token.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }

    // Paused time: every sleep the poller would take within the ten
    // intervals below runs before the clock gets there, so "still once"
    // holds by construction, not by a guess at how long to wait.
    #[tokio::test(start_paused = true)]
    async fn a_refused_key_stops_polling() {
        let (snap, calls, token, task) = run(
            |_| {
                Err(ProviderError::Unauthorized {
                    provider: ProviderName::Jkt48Connect,
                    status: 401,
                })
            },
            1,
        )
        .await;
        tokio::time::timeout(Duration::from_secs(2), async {
            while snap
                .state(ProviderName::Jkt48Connect)
                .is_none_or(|s| s.halted.is_none())
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("halted");
        // Ten intervals (10 ms each) later, in the paused clock, it still
        // asked only once.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        token.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
}
