//! Decide, don't act: turn successive successful polls of one source into
//! `Started` / `Updated` / `Ended` events, with an end grace period.
//!
//! Broadcasts are tracked by platform + room key. A room seen again within
//! the grace is the same broadcast (no new `Started`), even if the provider
//! reports a new start time for it; a room absent for longer than the grace
//! has `Ended`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::live::{LiveStream, Platform};

#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    Started(LiveStream),
    Updated(LiveStream),
    Ended {
        stream: LiveStream,
        ended_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
struct Tracked {
    /// The broadcast as first announced (its identity never changes).
    stream: LiveStream,
    last_seen: DateTime<Utc>,
}

#[derive(Debug)]
pub struct Tracker {
    grace: Duration,
    known: HashMap<(Platform, String), Tracked>,
}

impl Tracker {
    pub fn new(grace: Duration) -> Self {
        Tracker {
            grace,
            known: HashMap::new(),
        }
    }

    /// Streams already announced before a restart: tracked as live, so they
    /// end (and get their end edit) if they are gone, and are not started
    /// again if they are still there.
    pub fn seed(&mut self, streams: impl IntoIterator<Item = LiveStream>, now: DateTime<Utc>) {
        for s in streams {
            self.known.insert(
                (s.platform, s.key.clone()),
                Tracked {
                    stream: s,
                    last_seen: now,
                },
            );
        }
    }

    pub fn live_count(&self) -> usize {
        self.known.len()
    }

    /// One successful poll's full list for this source.
    pub fn observe(&mut self, current: &[LiveStream], now: DateTime<Utc>) -> Vec<WatchEvent> {
        let mut events = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in current {
            let k = (s.platform, s.key.clone());
            if !seen.insert(k.clone()) {
                continue; // a duplicate entry in one answer
            }
            match self.known.get_mut(&k) {
                Some(t) => {
                    t.last_seen = now;
                    let mut updated = s.clone();
                    // Keep the identity of the broadcast as first seen.
                    updated.started_at = t.stream.started_at.or(s.started_at);
                    if updated != t.stream {
                        t.stream = updated.clone();
                        events.push(WatchEvent::Updated(updated));
                    }
                }
                None => {
                    self.known.insert(
                        k,
                        Tracked {
                            stream: s.clone(),
                            last_seen: now,
                        },
                    );
                    events.push(WatchEvent::Started(s.clone()));
                }
            }
        }
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let gone: Vec<(Platform, String)> = self
            .known
            .iter()
            .filter(|(k, t)| !seen.contains(*k) && now - t.last_seen >= grace)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            if let Some(t) = self.known.remove(&k) {
                events.push(WatchEvent::Ended {
                    stream: t.stream,
                    ended_at: t.last_seen,
                });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(key: &str, start: i64) -> LiveStream {
        let mut l = LiveStream::new(Platform::Idn, key, key);
        l.started_at = DateTime::from_timestamp(start, 0);
        l
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_000_000 + secs, 0).unwrap()
    }

    fn kinds(e: &[WatchEvent]) -> Vec<String> {
        e.iter()
            .map(|e| match e {
                WatchEvent::Started(s) => format!("start {}", s.key),
                WatchEvent::Updated(s) => format!("update {}", s.key),
                WatchEvent::Ended { stream, .. } => format!("end {}", stream.key),
            })
            .collect()
    }

    #[test]
    fn start_update_end_with_grace() {
        let mut t = Tracker::new(Duration::from_secs(60));
        assert_eq!(kinds(&t.observe(&[s("a", 1)], at(0))), ["start a"]);
        assert!(t.observe(&[s("a", 1)], at(30)).is_empty());
        let mut titled = s("a", 1);
        titled.title = Some("new title".into());
        assert_eq!(kinds(&t.observe(&[titled.clone()], at(40))), ["update a"]);
        // absent, but within the grace: nothing
        assert!(t.observe(&[], at(70)).is_empty());
        // absent for the whole grace: ended, at the last time seen
        let e = t.observe(&[], at(100));
        assert_eq!(kinds(&e), ["end a"]);
        match &e[0] {
            WatchEvent::Ended { ended_at, stream } => {
                assert_eq!(*ended_at, at(40));
                assert_eq!(stream.title.as_deref(), Some("new title"));
            }
            other => panic!("{other:?}"),
        }
        // comes back later: a new broadcast
        assert_eq!(kinds(&t.observe(&[s("a", 200)], at(300))), ["start a"]);
    }

    #[test]
    fn flap_inside_grace_is_the_same_broadcast() {
        let mut t = Tracker::new(Duration::from_secs(180));
        t.observe(&[s("a", 1)], at(0));
        assert!(t.observe(&[], at(30)).is_empty());
        // back with a new start time from the provider: same broadcast
        let e = t.observe(&[s("a", 35)], at(60));
        assert_eq!(kinds(&e), Vec::<String>::new());
    }

    #[test]
    fn zero_grace_ends_on_first_absence_and_dupes_ignored() {
        let mut t = Tracker::new(Duration::ZERO);
        assert_eq!(
            kinds(&t.observe(&[s("a", 1), s("a", 1)], at(0))),
            ["start a"]
        );
        assert_eq!(kinds(&t.observe(&[], at(1))), ["end a"]);
    }

    #[test]
    fn seeded_streams_end_or_continue() {
        let mut t = Tracker::new(Duration::from_secs(10));
        t.seed([s("a", 1), s("b", 1)], at(0));
        assert_eq!(t.live_count(), 2);
        assert!(t.observe(&[s("a", 1)], at(5)).is_empty());
        assert_eq!(kinds(&t.observe(&[s("a", 1)], at(20))), ["end b"]);
    }
}
