//! The last good view of who is live, per source. Pollers write it; commands
//! read it and never wait on the network.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::live::LiveStream;
use crate::providers::ProviderName;

/// What one source last told us. Serialized when the leader shares its
/// snapshot with the other processes (`crate::watch::shared`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceState {
    pub streams: Vec<LiveStream>,
    /// When the last successful poll finished.
    pub last_ok: Option<DateTime<Utc>>,
    /// The last failure, if the most recent poll failed.
    pub last_error: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    /// Polling stopped or paused, and why (a refused key, credits or the
    /// allowance spent): shown in `/help` and `/subscriptions`.
    pub halted: Option<String>,
    /// The wait the poller chose after its last poll (a metered source
    /// polls less often than its interval at quiet hours).
    pub planned: Option<Duration>,
}

/// Freshness of one polled source, as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Fresh(Duration),
    /// Older than twice the poll interval.
    Stale(Duration),
    /// Never answered successfully.
    Never,
}

#[derive(Debug)]
pub struct Snapshot {
    sources: DashMap<ProviderName, Arc<SourceState>>,
    /// Bumped on every change the pollers make (not on [`Snapshot::load`]).
    version: tokio::sync::watch::Sender<u64>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            sources: DashMap::new(),
            version: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a polled source so it shows as "no data yet" before its first answer.
    pub fn register(&self, source: ProviderName) {
        self.sources.entry(source).or_default();
    }

    /// A successful poll: replace the source's streams.
    pub fn replace(&self, source: ProviderName, streams: Vec<LiveStream>, now: DateTime<Utc>) {
        {
            let mut entry = self.sources.entry(source).or_default();
            let planned = entry.planned;
            *entry = Arc::new(SourceState {
                streams,
                last_ok: Some(now),
                last_error: None,
                last_attempt: Some(now),
                halted: None,
                planned,
            });
        }
        self.changed();
    }

    fn update(&self, source: ProviderName, change: impl FnOnce(&mut SourceState)) {
        {
            let mut entry = self.sources.entry(source).or_default();
            let mut state = (**entry).clone();
            change(&mut state);
            *entry = Arc::new(state);
        }
        self.changed();
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Wakes on every change the pollers make.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Take a source's state as another process (the leader) published it.
    pub fn load(&self, source: ProviderName, state: SourceState) {
        self.sources.insert(source, Arc::new(state));
    }

    /// Polling of `source` stopped or paused (`Some(why)`), or resumed.
    pub fn set_halted(&self, source: ProviderName, why: Option<String>) {
        self.update(source, |s| s.halted = why);
    }

    /// The wait the poller planned after a successful poll.
    pub fn set_planned(&self, source: ProviderName, wait: Duration) {
        self.update(source, |s| s.planned = Some(wait));
    }

    /// A failed poll changes nothing but the error note.
    pub fn record_failure(&self, source: ProviderName, error: String, now: DateTime<Utc>) {
        self.update(source, |s| {
            s.last_error = Some(error);
            s.last_attempt = Some(now);
        });
    }

    pub fn state(&self, source: ProviderName) -> Option<Arc<SourceState>> {
        self.sources.get(&source).map(|s| Arc::clone(&s))
    }

    pub fn sources(&self) -> Vec<ProviderName> {
        let mut v: Vec<_> = self.sources.iter().map(|e| *e.key()).collect();
        v.sort_by_key(|p| p.as_str());
        v
    }

    /// Every live stream, newest start first, then by name.
    pub fn streams(&self) -> Vec<LiveStream> {
        let mut all: Vec<LiveStream> = self
            .sources
            .iter()
            .flat_map(|e| e.value().streams.clone())
            .collect();
        sort_streams(&mut all);
        all
    }

    /// Freshness of each registered source, judged against the poll interval.
    pub fn freshness(
        &self,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Vec<(ProviderName, Freshness)> {
        self.sources()
            .into_iter()
            .map(|p| {
                let f = self
                    .state(p)
                    .map(|s| freshness_of(&s, interval, now))
                    .unwrap_or(Freshness::Never);
                (p, f)
            })
            .collect()
    }
}

/// Fresh while younger than twice the wait the poller planned after its
/// last success (never less than `interval`): a metered source that polls
/// every 20 minutes at night is not "stale" after 61 seconds, and a failing
/// one is stale after two planned waits, whatever its backoff.
pub fn freshness_of(state: &SourceState, interval: Duration, now: DateTime<Utc>) -> Freshness {
    match state.last_ok {
        None => Freshness::Never,
        Some(t) => {
            let age = (now - t).to_std().unwrap_or_default();
            let expected = state.planned.unwrap_or(interval).max(interval);
            if age > expected * 2 {
                Freshness::Stale(age)
            } else {
                Freshness::Fresh(age)
            }
        }
    }
}

/// Newest start first; streams without a start after those with one; then by name.
pub fn sort_streams(streams: &mut [LiveStream]) {
    streams.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.key.cmp(&b.key))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Platform;

    fn s(name: &str, start: i64) -> LiveStream {
        let mut l = LiveStream::new(Platform::Idn, name, name);
        l.started_at = DateTime::from_timestamp(start, 0);
        l
    }

    #[test]
    fn failure_keeps_last_good() {
        let snap = Snapshot::new();
        let now = Utc::now();
        snap.replace(ProviderName::Jkt48Connect, vec![s("a", 1), s("b", 2)], now);
        snap.record_failure(ProviderName::Jkt48Connect, "boom".into(), now);
        let names: Vec<_> = snap.streams().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["b", "a"]);
        let st = snap.state(ProviderName::Jkt48Connect).unwrap();
        assert_eq!(st.last_error.as_deref(), Some("boom"));
        assert_eq!(st.last_ok, Some(now));
    }

    #[test]
    fn stale_after_twice_the_planned_wait() {
        let snap = Snapshot::new();
        let now = Utc::now();
        snap.register(ProviderName::RealtimeKit);
        snap.replace(
            ProviderName::Jkt48Connect,
            vec![],
            now - chrono::Duration::seconds(61),
        );
        let f = snap.freshness(Duration::from_secs(30), now);
        assert_eq!(
            f[1],
            (
                ProviderName::Jkt48Connect,
                Freshness::Stale(Duration::from_secs(61))
            )
        );
        // A metered source that planned a 20-minute wait is not stale yet.
        snap.set_planned(ProviderName::Jkt48Connect, Duration::from_secs(1200));
        let f = snap.freshness(Duration::from_secs(30), now);
        assert_eq!(
            f[1],
            (
                ProviderName::Jkt48Connect,
                Freshness::Fresh(Duration::from_secs(61))
            )
        );
        snap.replace(
            ProviderName::Jkt48Connect,
            vec![],
            now - chrono::Duration::seconds(61),
        );
        let f = snap.freshness(Duration::from_secs(30), now);
        // sources() sorts by name: "Cloudflare RealtimeKit" < "JKT48Connect"
        assert_eq!(
            f,
            vec![
                (ProviderName::RealtimeKit, Freshness::Never),
                (
                    ProviderName::Jkt48Connect,
                    Freshness::Fresh(Duration::from_secs(61))
                ),
            ]
        );
    }
}
