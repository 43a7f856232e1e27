//! Poll loops: one per source, each keeping the snapshot's last good answer.
//! A failed poll changes nothing but the error note (design §3).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backoff;
use crate::live::LiveStream;
use crate::providers::{ProviderError, ProviderName};
use crate::snapshot::Snapshot;

/// Longest wait between polls while a source keeps failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Delay before the next poll: the interval (minus up to 10% jitter, so a
/// poll never comes later than the configured interval) after success,
/// doubling per consecutive failure up to [`MAX_BACKOFF`] (never below the
/// interval).
pub fn next_delay(interval: Duration, failures: u32, jitter_unit: f64) -> Duration {
    let base = if failures == 0 {
        interval
    } else {
        backoff::exponential(interval, failures, MAX_BACKOFF.max(interval))
    };
    // Spread polls of many sources over the last 10% of the interval,
    // never past it.
    backoff::jitter_down(base, 0.1, jitter_unit)
}

/// Run `fetch` every `interval` until `shutdown`, writing successes into the
/// snapshot under `source` and calling `on_success` with each good list
/// (the change detector hooks in there).
pub async fn poll_loop<F, Fut, S>(
    source: ProviderName,
    interval: Duration,
    snapshot: Arc<Snapshot>,
    fetch: F,
    mut on_success: S,
    shutdown: CancellationToken,
) where
    F: Fn() -> Fut + Send,
    Fut: Future<Output = Result<Vec<LiveStream>, ProviderError>> + Send,
    S: FnMut(&[LiveStream]) + Send,
{
    snapshot.register(source);
    let mut failures: u32 = 0;
    loop {
        let span = tracing::info_span!("poll", provider = %source);
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = fetch().instrument(span.clone()) => r,
        };
        let _enter = span.enter();
        match result {
            Ok(streams) => {
                if failures > 0 {
                    tracing::info!(after_failures = failures, "provider answering again");
                }
                failures = 0;
                tracing::debug!(live = streams.len(), "poll ok");
                on_success(&streams);
                snapshot.replace(source, streams, Utc::now());
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, consecutive = failures, "poll failed; keeping last good data");
                snapshot.record_failure(source, e.to_string(), Utc::now());
            }
        }
        drop(_enter);
        let delay = next_delay(interval, failures, backoff::unit());
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_secs(30);
        assert_eq!(next_delay(i, 0, 0.0), i);
        assert_eq!(next_delay(i, 1, 0.0), Duration::from_secs(60));
        assert_eq!(next_delay(i, 2, 0.0), Duration::from_secs(120));
        assert_eq!(next_delay(i, 10, 0.0), MAX_BACKOFF);
        assert_eq!(next_delay(i, 0, 1.0), Duration::from_secs(27));
        assert!(next_delay(i, 0, 0.99) <= i);
        let long = Duration::from_secs(600);
        assert_eq!(next_delay(long, 3, 0.0), long);
    }

    #[tokio::test]
    async fn failed_poll_keeps_last_good_and_stops_on_shutdown() {
        let snap = Arc::new(Snapshot::new());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let token = CancellationToken::new();
        let c = Arc::clone(&calls);
        let task = tokio::spawn(poll_loop(
            ProviderName::Jkt48Connect,
            Duration::from_millis(10),
            Arc::clone(&snap),
            move || {
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Ok(vec![LiveStream::new(crate::live::Platform::Idn, "1", "A")])
                    } else {
                        Err(ProviderError::Status {
                            provider: ProviderName::Jkt48Connect,
                            status: 500,
                            message: None,
                        })
                    }
                }
            },
            |_| {},
            token.clone(),
        ));
        tokio::time::timeout(Duration::from_secs(5), async {
            while calls.load(std::sync::atomic::Ordering::SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("poller kept polling");
        assert_eq!(snap.streams().len(), 1);
        let st = snap.state(ProviderName::Jkt48Connect).unwrap();
        assert!(st.last_error.as_deref().unwrap().contains("500"));
        token.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
}
