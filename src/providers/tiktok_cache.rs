//! TikTok answers cached per username for a short time, with concurrent
//! askers coalesced: many askers at once (the poller and `/tiktok` users
//! alike) cost one upstream call.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::sync::OnceCell;

use crate::live::LiveStream;
use crate::providers::ProviderError;

/// What a lookup found. Errors are not reused (the next ask retries), but
/// concurrent askers share the one in-flight call and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum TiktokLookup {
    Live(Box<LiveStream>),
    NotLive,
}

/// A lookup's outcome as every sharer sees it.
pub type Shared = Result<TiktokLookup, Arc<ProviderError>>;

type Cell = Arc<OnceCell<(Instant, Shared)>>;

pub struct TiktokCache {
    ttl: Duration,
    entries: DashMap<String, Cell>,
}

impl TiktokCache {
    pub fn new(ttl: Duration) -> Self {
        TiktokCache {
            ttl,
            entries: DashMap::new(),
        }
    }

    /// How long an answer is reused by default.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A cached answer younger than `max_age`, without calling upstream.
    pub fn peek(&self, user: &str, max_age: Duration) -> Option<TiktokLookup> {
        let cell = self.entries.get(user)?.clone();
        match cell.get() {
            Some((at, Ok(v))) if at.elapsed() < max_age => Some(v.clone()),
            _ => None,
        }
    }

    /// The cached answer for `user` if younger than `max_age`, or the result
    /// of `fetch` (run once for all concurrent callers).
    pub async fn get_or_fetch<F, Fut>(&self, user: &str, max_age: Duration, fetch: F) -> Shared
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TiktokLookup, ProviderError>>,
    {
        let cell: Cell = {
            let mut entry = self.entries.entry(user.to_string()).or_default();
            let expired = match entry.get() {
                Some((at, Ok(_))) => at.elapsed() >= max_age,
                Some((_, Err(_))) => true,
                None => false,
            };
            if expired {
                *entry = Arc::default();
            }
            Arc::clone(&entry)
        };
        let (_, result) = cell
            .get_or_init(|| async {
                let r = fetch().await.map_err(Arc::new);
                (Instant::now(), r)
            })
            .await;
        self.prune();
        result.clone()
    }

    /// Drop expired entries so the map does not grow without bound.
    fn prune(&self) {
        if self.entries.len() > 1024 {
            let ttl = self.ttl;
            self.entries
                .retain(|_, c| c.get().is_none_or(|(at, _)| at.elapsed() < ttl));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderName;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const TTL: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn concurrent_askers_cost_one_call() {
        let cache = Arc::new(TiktokCache::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = Arc::clone(&cache);
            let calls = Arc::clone(&calls);
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch("khaby.lame", TTL, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(TiktokLookup::NotLive)
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().ok(), Some(TiktokLookup::NotLive));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.peek("khaby.lame", TTL), Some(TiktokLookup::NotLive));
        // A caller wanting fresher data than the entry refetches.
        assert_eq!(cache.peek("khaby.lame", Duration::ZERO), None);
    }

    #[tokio::test]
    async fn errors_are_retried_and_entries_expire() {
        let cache = TiktokCache::new(Duration::from_millis(30));
        let ttl = cache.ttl();
        let r = cache
            .get_or_fetch("a", ttl, || async {
                Err(ProviderError::RateLimited {
                    provider: ProviderName::Konbini,
                    retry_after: None,
                })
            })
            .await;
        assert!(r.unwrap_err().to_string().contains("429"));
        let r = cache
            .get_or_fetch("a", ttl, || async { Ok(TiktokLookup::NotLive) })
            .await;
        assert_eq!(r.ok(), Some(TiktokLookup::NotLive));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.peek("a", ttl), None);
    }
}
