//! Poll KonbiniAPI once per unique subscribed TikTok username. A username
//! whose lookup fails keeps its last good answer (so a flaky call never
//! "ends" a live); the poll fails only when every lookup failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use crate::live::LiveStream;
use crate::providers::konbini::Konbini;
use crate::providers::{ProviderError, ProviderName};
use crate::store::Store;

/// Lookups in flight at once.
const PARALLEL: usize = 4;

pub struct TiktokPoller {
    konbini: Konbini,
    store: Arc<dyn Store>,
    last_good: Mutex<HashMap<String, Option<LiveStream>>>,
}

impl TiktokPoller {
    pub fn new(konbini: Konbini, store: Arc<dyn Store>) -> Self {
        TiktokPoller {
            konbini,
            store,
            last_good: Mutex::new(HashMap::new()),
        }
    }

    pub async fn poll(&self) -> Result<Vec<LiveStream>, ProviderError> {
        let users = self
            .store
            .tiktok_usernames()
            .await
            .map_err(|e| ProviderError::Api {
                provider: ProviderName::Konbini,
                message: format!("could not read subscribed usernames: {e}"),
            })?;
        let results: Vec<(String, Result<Option<LiveStream>, ProviderError>)> =
            futures::stream::iter(users.into_iter().map(|u| async move {
                let r = self.konbini.user_live(&u).await.map(|a| a.live);
                (u, r)
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
                return Err(e);
            }
        }
        *last = fresh;
        Ok(last.values().flatten().cloned().collect())
    }
}
