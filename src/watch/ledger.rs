//! What each polled source may spend and has spent: the persisted call
//! count of the current billing period (a restart does not reset it), the
//! go-live times the plan learns from, and the plan itself
//! ([`super::budget`]). The poll loop asks [`Ledger::reserve`] before every
//! request: that is the hard guarantee that an allowance is never exceeded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::budget::{self, Allowance, BudgetState, Forecast, LiveProfile, NextPoll};
use crate::live::Platform;
use crate::providers::source::{LiveSource, Schedule};
use crate::providers::ProviderName;
use crate::store::{Store, StoreError};

/// Go-live times remembered for learning (about two months of a busy fandom).
const HISTORY: usize = 2_000;
/// How far back the history is read at start.
const HISTORY_DAYS: i64 = 60;

/// The answer to "may I poll now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Spent: go ahead.
    Go,
    /// The allowance is spent until the next period starts.
    Exhausted { until: DateTime<Utc> },
}

/// A budget as shown in `onair check` and `/help`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetReport {
    pub allowance: Allowance,
    pub used: u64,
    pub forecast: Forecast,
    /// The busiest hour of the learned profile (UTC).
    pub peak_hour_utc: u32,
    /// How many go-live times the profile learned from.
    pub learned_from: usize,
}

struct State {
    period: String,
    used: u64,
    /// Calls the last poll cost (the plan assumes the next costs as much).
    cost: u64,
    /// Calls counted in memory while the store could not be reached; the
    /// next successful spend adds them.
    unrecorded: u64,
    starts: VecDeque<DateTime<Utc>>,
    profile: LiveProfile,
}

/// One source's spending.
pub struct Ledger {
    pub provider: ProviderName,
    pub schedule: Schedule,
    pub platforms: &'static [Platform],
    state: Mutex<State>,
    store: Option<Arc<dyn Store>>,
}

impl Ledger {
    /// Load the period's count and the go-live history from the store.
    pub async fn open(
        source: &dyn LiveSource,
        store: Option<Arc<dyn Store>>,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let schedule = source.schedule();
        let provider = source.name();
        let platforms = source.platforms();
        let period = schedule
            .allowance
            .map(|a| a.period_key(now))
            .unwrap_or_default();
        // Only a metered source has a count to read and a plan to learn.
        let (used, starts) = match (&store, schedule.allowance) {
            (Some(store), Some(_)) => {
                let used = store.calls_spent(provider.as_str(), &period).await?;
                let since = now - chrono::Duration::days(HISTORY_DAYS);
                let starts = store
                    .go_live_times(platforms, since, HISTORY as u32)
                    .await?;
                (used, starts)
            }
            _ => (0, Vec::new()),
        };
        if let Some(a) = schedule.allowance {
            tracing::info!(
                provider = %provider,
                allowance = a.calls(),
                unit = a.unit(),
                used,
                period = %period,
                learned_from = starts.len(),
                "provider budget"
            );
        }
        let profile = LiveProfile::learn(&starts);
        Ok(Ledger {
            provider,
            schedule,
            platforms,
            state: Mutex::new(State {
                period,
                used,
                cost: 1,
                unrecorded: 0,
                starts: starts.into_iter().collect(),
                profile,
            }),
            store,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state_of(&self, allowance: Allowance, st: &State) -> BudgetState {
        BudgetState {
            allowance,
            used: st.used,
            cost: st.cost,
            min_interval: self.schedule.interval,
        }
    }

    /// Calls spent in the current period.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Reserve `cost` calls for a poll about to be made. Never lets the
    /// period's count pass the allowance; the count is persisted (and checked
    /// atomically in the store) before the request leaves. If the store
    /// cannot be reached, the call is counted in memory only (logged).
    pub async fn reserve(&self, cost: u64, now: DateTime<Utc>) -> Reservation {
        self.spend(cost, now, true).await
    }

    /// Reserve `cost` calls for a one-off request (a `/tiktok` lookup): the
    /// same hard limit, but the plan keeps assuming what a poll costs.
    pub async fn reserve_once(&self, cost: u64, now: DateTime<Utc>) -> Reservation {
        self.spend(cost, now, false).await
    }

    async fn spend(&self, cost: u64, now: DateTime<Utc>, poll: bool) -> Reservation {
        let Some(allowance) = self.schedule.allowance else {
            return Reservation::Go;
        };
        if cost == 0 {
            // Nothing to ask (no TikTok username subscribed): free.
            return Reservation::Go;
        }
        let key = allowance.period_key(now);
        let rolled = self.lock().period != key;
        if rolled {
            // A new period: its count may exist already (another run).
            let used = match &self.store {
                Some(store) => store
                    .calls_spent(self.provider.as_str(), &key)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(provider = %self.provider, error = %e, "could not read the new period's call count; counting from 0");
                        0
                    }),
                None => 0,
            };
            let mut st = self.lock();
            if st.period != key {
                tracing::info!(provider = %self.provider, period = %key, previous = st.used, "new billing period");
                st.period = key.clone();
                st.used = used;
                st.unrecorded = 0;
            }
        }
        let unrecorded = {
            let mut st = self.lock();
            if poll {
                st.cost = cost;
            }
            st.unrecorded
        };
        // The store decides, atomically: every process sharing it (the bot,
        // `onair live`, `onair check`) spends from one count.
        if let Some(store) = &self.store {
            let name = self.provider.as_str();
            let spend = cost + unrecorded;
            match store
                .spend_calls(name, &key, spend, allowance.calls())
                .await
            {
                Ok(Some(total)) => {
                    let mut st = self.lock();
                    st.used = total;
                    st.unrecorded = 0;
                    return Reservation::Go;
                }
                Ok(None) => {
                    if let Ok(spent) = store.calls_spent(name, &key).await {
                        let mut st = self.lock();
                        st.used = st.used.max(spent + st.unrecorded);
                    }
                    return Reservation::Exhausted {
                        until: allowance.period_at(now).1,
                    };
                }
                Err(e) => {
                    tracing::warn!(provider = %self.provider, error = %e, "could not count the call in the store; counting it in memory");
                }
            }
        }
        let mut st = self.lock();
        if !budget::may_spend(self.state_of(allowance, &st)) {
            return Reservation::Exhausted {
                until: allowance.period_at(now).1,
            };
        }
        st.used += cost;
        if self.store.is_some() {
            st.unrecorded += cost;
        }
        Reservation::Go
    }

    /// Read the period's count from the store again: a process that does not
    /// poll (a follower) shows in `/help` what the leader has spent.
    pub async fn sync(&self, now: DateTime<Utc>) {
        let (Some(allowance), Some(store)) = (self.schedule.allowance, &self.store) else {
            return;
        };
        let key = allowance.period_key(now);
        if let Ok(spent) = store.calls_spent(self.provider.as_str(), &key).await {
            let mut st = self.lock();
            if st.period != key {
                st.period = key;
                st.unrecorded = 0;
            }
            st.used = spent + st.unrecorded;
        }
    }

    /// How long to wait after a poll at `now` before the next one: the
    /// interval for an unmetered source, the plan's answer for a metered one.
    pub fn plan(&self, now: DateTime<Utc>) -> Duration {
        let Some(allowance) = self.schedule.allowance else {
            return self.schedule.interval;
        };
        let st = self.lock();
        let at = match budget::next_poll(self.state_of(allowance, &st), &st.profile, now) {
            NextPoll::At(t) => t,
            NextPoll::Exhausted { until } => until,
        };
        (at - now)
            .to_std()
            .unwrap_or_default()
            .max(self.schedule.interval)
    }

    /// A broadcast went live at `at`: the profile learns from it.
    pub fn saw_go_live(&self, at: DateTime<Utc>) {
        if self.schedule.allowance.is_none() {
            return;
        }
        let mut st = self.lock();
        if st.starts.len() >= HISTORY {
            st.starts.pop_front();
        }
        st.starts.push_back(at);
        let starts: Vec<DateTime<Utc>> = st.starts.iter().copied().collect();
        st.profile = LiveProfile::learn(&starts);
    }

    /// The budget, the calls spent, the projection and the mean detection
    /// delay; `None` for an unmetered source.
    pub fn report(&self, now: DateTime<Utc>) -> Option<BudgetReport> {
        let allowance = self.schedule.allowance?;
        let st = self.lock();
        Some(BudgetReport {
            allowance,
            used: st.used,
            forecast: budget::forecast(self.state_of(allowance, &st), &st.profile, now),
            peak_hour_utc: st.profile.peak_hour(),
            learned_from: st.starts.len(),
        })
    }
}

/// Every polled source's ledger, for the pollers and for display.
#[derive(Default)]
pub struct Budgets {
    ledgers: Vec<Arc<Ledger>>,
}

impl Budgets {
    pub fn new(ledgers: Vec<Arc<Ledger>>) -> Self {
        Budgets { ledgers }
    }

    pub fn get(&self, provider: ProviderName) -> Option<&Arc<Ledger>> {
        self.ledgers.iter().find(|l| l.provider == provider)
    }

    pub fn all(&self) -> &[Arc<Ledger>] {
        &self.ledgers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveStream;
    use crate::providers::ProviderError;

    /// A metered source (1,000 calls a month) that is never fetched.
    struct Metered;

    #[async_trait::async_trait]
    impl LiveSource for Metered {
        fn name(&self) -> ProviderName {
            ProviderName::Jkt48Connect
        }
        fn platforms(&self) -> &'static [Platform] {
            &[Platform::Idn]
        }
        fn schedule(&self) -> Schedule {
            Schedule {
                interval: Duration::from_secs(30),
                allowance: Some(Allowance::PerMonth(1_000)),
            }
        }
        async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_follower_syncs_what_the_leader_spent() {
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        let now = Utc::now();
        let leader = Ledger::open(&Metered, Some(Arc::clone(&store)), now)
            .await
            .unwrap();
        let follower = Ledger::open(&Metered, Some(Arc::clone(&store)), now)
            .await
            .unwrap();
        for _ in 0..3 {
            assert!(matches!(leader.reserve(1, now).await, Reservation::Go));
        }
        assert_eq!(follower.used(), 0, "nothing read yet");
        follower.sync(now).await;
        assert_eq!(follower.used(), 3);
        assert_eq!(leader.used(), 3);
    }
}
