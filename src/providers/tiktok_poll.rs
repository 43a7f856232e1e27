//! One TikTok poll: a lookup per watched username. A username whose lookup
//! fails keeps its last good answer (so a flaky call never "ends" a live);
//! the poll fails only when every lookup failed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

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
    /// Look every user up (`lookup` answers `Some` when live) and merge with
    /// the last good answers.
    pub async fn poll<F, Fut>(
        &self,
        users: Vec<String>,
        lookup: F,
    ) -> Result<Vec<LiveStream>, ProviderError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Answer>,
    {
        let results: Vec<(String, Answer)> = futures::stream::iter(users.into_iter().map(|u| {
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
        *last = fresh;
        Ok(last.values().flatten().cloned().collect())
    }
}
