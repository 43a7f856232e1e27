//! Decide, don't act: turn successive successful polls of one source into
//! `Started` / `Updated` / `Ended` events, with an end grace period.
//!
//! Broadcasts are tracked by platform + room key. A room seen again within
//! the grace is the same broadcast (no new `Started`), even if the provider
//! reports a new start time for it; a room absent for longer than the grace
//! has `Ended`.
//!
//! A broadcast is one continuous period of being live, and its identity
//! is platform + room + start. A source that gives no start time (a reused
//! RealtimeKit livestream, some JKT48Connect and TikTok entries) gets the
//! time the watcher first saw it live after an absence past the grace, so
//! next week's show on the same livestream is a new broadcast. The start is
//! stored with the broadcast, so a restart keeps it.
//!
//! Streams seeded after a restart were last confirmed before the outage: if
//! the provider now reports a different start for that room, the old
//! broadcast ended while the bot was down and this is a new one.

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
    /// The first successful poll that did not list it (since last seen).
    first_absent: Option<DateTime<Utc>>,
    /// Seeded from the store after a restart and not seen since.
    seeded: bool,
}

impl Tracked {
    fn new(stream: LiveStream, now: DateTime<Utc>, seeded: bool) -> Self {
        Tracked {
            stream,
            last_seen: now,
            first_absent: None,
            seeded,
        }
    }
}

#[derive(Debug)]
pub struct Tracker {
    grace: Duration,
    /// The poll interval: how much absence one missing answer stands for.
    interval: Duration,
    known: HashMap<(Platform, String), Tracked>,
}

impl Tracker {
    pub fn new(grace: Duration) -> Self {
        Tracker {
            grace,
            interval: Duration::MAX,
            known: HashMap::new(),
        }
    }

    /// Absence is counted from what polls showed, not from the clock: after
    /// a provider outage (failed or hung polls) longer than the grace, one
    /// answer that misses her stands for one interval of absence, not for
    /// the whole outage, so a blip right after an outage ends nothing.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Streams already announced before a restart: tracked as live, so they
    /// end (and get their end edit) if they are gone, and are not started
    /// again if they are still there.
    pub fn seed(&mut self, streams: impl IntoIterator<Item = LiveStream>, now: DateTime<Utc>) {
        for s in streams {
            self.known
                .insert((s.platform, s.key.clone()), Tracked::new(s, now, true));
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
            if let Some(t) = self.known.get(&k) {
                if t.seeded && starts_differ(&t.stream, s) {
                    // A new broadcast in this room began while the bot was
                    // down: the old one ended, at the latest when it began.
                    if let Some(old) = self.known.remove(&k) {
                        let ended_at = s.started_at.map_or(old.last_seen, |b| b.min(old.last_seen));
                        events.push(WatchEvent::Ended {
                            stream: old.stream,
                            ended_at,
                        });
                    }
                }
            }
            match self.known.get_mut(&k) {
                Some(t) => {
                    t.last_seen = now;
                    t.first_absent = None;
                    t.seeded = false;
                    let mut updated = s.clone();
                    // Keep the identity of the broadcast as first seen.
                    updated.started_at = t.stream.started_at.or(s.started_at);
                    if updated != t.stream {
                        t.stream = updated.clone();
                        events.push(WatchEvent::Updated(updated));
                    }
                }
                None => {
                    let mut started = s.clone();
                    // No start from the provider: the transition we saw is
                    // the start (this broadcast's identity from now on).
                    started.started_at = started.started_at.or(Some(now));
                    self.known
                        .insert(k, Tracked::new(started.clone(), now, false));
                    events.push(WatchEvent::Started(started));
                }
            }
        }
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let interval = chrono::Duration::from_std(self.interval).unwrap_or(chrono::Duration::MAX);
        let mut gone: Vec<(Platform, String)> = Vec::new();
        for (k, t) in self.known.iter_mut() {
            if seen.contains(k) {
                continue;
            }
            let first_absent = *t.first_absent.get_or_insert(now);
            // She went missing between the last answer that listed her and
            // the first that did not: at most one interval before it.
            let absent_since = match first_absent.checked_sub_signed(interval) {
                Some(credit) => t.last_seen.max(credit),
                None => t.last_seen,
            };
            if now - absent_since >= grace {
                gone.push(k.clone());
            }
        }
        for k in gone {
            if let Some(t) = self.known.remove(&k) {
                events.push(WatchEvent::Ended {
                    stream: t.stream,
                    ended_at: t.last_seen,
                });
            }
        }
        // News first: go-lives and ends (in the order found), then the
        // updates of broadcasts still running (their live-update edits are
        // the lowest priority; a go-live of this poll must not queue
        // behind them).
        events.sort_by_key(|e| matches!(e, WatchEvent::Updated(_)));
        events
    }
}

/// Both the known broadcast and the new answer carry a start, and they
/// differ (to the second, as identities compare).
fn starts_differ(known: &LiveStream, now: &LiveStream) -> bool {
    match (known.started_at, now.started_at) {
        (Some(a), Some(b)) => a.timestamp() != b.timestamp(),
        _ => false,
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

    fn no_start(key: &str) -> LiveStream {
        LiveStream::new(Platform::Realtimekit, key, key)
    }

    fn started_at(e: &WatchEvent) -> Option<DateTime<Utc>> {
        match e {
            WatchEvent::Started(s) | WatchEvent::Updated(s) => s.started_at,
            WatchEvent::Ended { stream, .. } => stream.started_at,
        }
    }

    #[test]
    fn a_source_without_start_gets_the_transition_time() {
        let mut t = Tracker::new(Duration::from_secs(60));
        let e = t.observe(&[no_start("ls-1")], at(0));
        assert_eq!(kinds(&e), ["start ls-1"]);
        assert_eq!(started_at(&e[0]), Some(at(0)));
        // still live, still the same broadcast, start unchanged
        let mut titled = no_start("ls-1");
        titled.title = Some("t".into());
        let e = t.observe(&[titled], at(30));
        assert_eq!(kinds(&e), ["update ls-1"]);
        assert_eq!(started_at(&e[0]), Some(at(0)));
        // idle past the grace: ended; live again next week: a new broadcast
        assert_eq!(kinds(&t.observe(&[], at(100))), ["end ls-1"]);
        let e = t.observe(&[no_start("ls-1")], at(10_000));
        assert_eq!(kinds(&e), ["start ls-1"]);
        assert_eq!(started_at(&e[0]), Some(at(10_000)));
        if let WatchEvent::Started(s) = &e[0] {
            assert_ne!(s.id().to_string(), "realtimekit:ls-1");
        }
    }

    #[test]
    fn a_seeded_room_with_a_new_start_is_a_new_broadcast() {
        let mut t = Tracker::new(Duration::from_secs(180));
        t.seed([s("a", 100)], at(500));
        let e = t.observe(&[s("a", 400)], at(510));
        assert_eq!(kinds(&e), ["end a", "start a"]);
        match &e[0] {
            WatchEvent::Ended { stream, ended_at } => {
                assert_eq!(stream.started_at, DateTime::from_timestamp(100, 0));
                // ended at the latest when the new one began
                assert_eq!(*ended_at, DateTime::from_timestamp(400, 0).unwrap());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(started_at(&e[1]), DateTime::from_timestamp(400, 0));
        // once confirmed, a later new start is a flap of the same broadcast
        assert!(t.observe(&[s("a", 450)], at(520)).is_empty());
    }

    #[test]
    fn go_lives_come_before_updates_of_the_same_poll() {
        let mut t = Tracker::new(Duration::from_secs(180));
        t.observe(&[s("a", 1)], at(0));
        let mut busier = s("a", 1);
        busier.viewers = Some(1_200);
        let e = t.observe(&[busier, s("b", 2)], at(30));
        assert_eq!(kinds(&e), ["start b", "update a"]);
    }

    #[test]
    fn a_seeded_room_with_the_same_start_continues() {
        let mut t = Tracker::new(Duration::from_secs(180));
        t.seed([s("a", 100), no_start_seeded("b", 50)], at(500));
        assert!(t.observe(&[s("a", 100), no_start("b")], at(510)).is_empty());
    }

    fn no_start_seeded(key: &str, start: i64) -> LiveStream {
        let mut l = no_start(key);
        l.started_at = DateTime::from_timestamp(start, 0);
        l
    }

    #[test]
    fn a_blip_right_after_a_provider_outage_ends_nothing() {
        let mut t =
            Tracker::new(Duration::from_secs(60)).with_poll_interval(Duration::from_secs(30));
        t.observe(&[s("a", 1)], at(0));
        // Polls fail for 10 minutes (nothing observed), then one answer
        // misses her: that is 30 s of absence, not 10 minutes.
        assert!(t.observe(&[], at(600)).is_empty());
        // Two answers without her (and the interval before the first):
        // absent for the grace, as the polls showed.
        let e = t.observe(&[], at(630));
        assert_eq!(kinds(&e), ["end a"]);
        // Without an outage the grace counts from the last sighting.
        let mut t =
            Tracker::new(Duration::from_secs(60)).with_poll_interval(Duration::from_secs(30));
        t.observe(&[s("b", 1)], at(0));
        assert!(t.observe(&[], at(30)).is_empty());
        assert_eq!(kinds(&t.observe(&[], at(60))), ["end b"]);
        // Back after one missing answer: the count starts over.
        let mut t =
            Tracker::new(Duration::from_secs(60)).with_poll_interval(Duration::from_secs(30));
        t.observe(&[s("c", 1)], at(0));
        assert!(t.observe(&[], at(600)).is_empty());
        assert!(t.observe(&[s("c", 1)], at(630)).is_empty());
        assert!(t.observe(&[], at(660)).is_empty());
    }
}
