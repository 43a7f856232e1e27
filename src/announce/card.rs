//! What a live card shows that is worth an edit while the broadcast runs,
//! and the recap it ends with. Pure: the announcer decides with these, the
//! outbox sends.
//!
//! A card is edited while live when its title changed, when the viewers
//! crossed a milestone upward (1k, 5k, 10k, 25k, …), or when a stream
//! quality appeared that it did not list; at most once per
//! `LIVE_UPDATE_SECS`. Viewer counts that merely move, or fall back under
//! a milestone, are not worth an edit: the recap gives the peak.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::live::LiveStream;
use crate::store::StoredStream;

/// Viewer counts worth an edit when first crossed.
pub const MILESTONES: &[u64] = &[
    1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
];

/// The highest milestone `viewers` reached (0 below the first).
pub fn milestone(viewers: Option<u64>) -> u64 {
    let v = viewers.unwrap_or(0);
    MILESTONES
        .iter()
        .copied()
        .take_while(|m| *m <= v)
        .last()
        .unwrap_or(0)
}

/// What the cards of a broadcast show, as far as live updates go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardState {
    pub title: Option<String>,
    /// The highest milestone shown so far.
    pub milestone: u64,
    /// The stream quality labels shown so far, sorted.
    pub qualities: Vec<String>,
}

impl CardState {
    /// What a card made from `stream` shows.
    pub fn of(stream: &LiveStream) -> CardState {
        let mut qualities: Vec<String> = stream.hls().map(|s| s.label.clone()).collect();
        qualities.sort();
        qualities.dedup();
        CardState {
            title: stream.title.clone().filter(|t| !t.trim().is_empty()),
            milestone: milestone(stream.viewers),
            qualities,
        }
    }

    /// What the cards show after an edit made from `now`: milestones and
    /// qualities only grow (a dip and a second crossing, or a quality that
    /// flickers, is not news twice).
    pub fn then(&self, now: &CardState) -> CardState {
        let mut qualities = self.qualities.clone();
        qualities.extend(now.qualities.iter().cloned());
        qualities.sort();
        qualities.dedup();
        CardState {
            title: now.title.clone().or_else(|| self.title.clone()),
            milestone: self.milestone.max(now.milestone),
            qualities,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Option<CardState> {
        serde_json::from_str(s).ok()
    }
}

/// Why a card is worth editing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Title,
    Milestone(u64),
    Quality,
}

/// Is `now` worth an edit of cards that show `shown`? The first reason.
pub fn worth_showing(shown: &CardState, now: &CardState) -> Option<Change> {
    if now.title.is_some() && now.title != shown.title {
        return Some(Change::Title);
    }
    if now.milestone > shown.milestone {
        return Some(Change::Milestone(now.milestone));
    }
    if now.qualities.iter().any(|q| !shown.qualities.contains(q)) {
        return Some(Change::Quality);
    }
    None
}

/// May the cards be edited again at `now`, last edited (or posted) at
/// `shown_at`, at most once per `every`?
pub fn due(shown_at: Option<DateTime<Utc>>, now: DateTime<Utc>, every: Duration) -> bool {
    match shown_at {
        None => true,
        Some(at) => (now - at).to_std().is_ok_and(|d| d >= every),
    }
}

/// The figures the end edit shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recap {
    /// The highest viewer count seen (None: the platform gives none).
    pub peak_viewers: Option<u64>,
    /// The last viewer count seen.
    pub final_viewers: Option<u64>,
    /// The title it went live with, when it differs from the last one.
    pub first_title: Option<String>,
}

impl Recap {
    pub fn of(stored: &StoredStream) -> Recap {
        let last = &stored.stream;
        let peak = match (stored.peak_viewers, last.viewers) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let changed = stored
            .first_title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && Some(*t) != last.title.as_deref().map(str::trim));
        Recap {
            peak_viewers: peak,
            final_viewers: last.viewers,
            first_title: changed.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Platform, StreamKind, StreamUrl};

    fn live(viewers: Option<u64>, title: &str, labels: &[&str]) -> LiveStream {
        let mut s = LiveStream::new(Platform::Idn, "1", "Fritzy");
        s.viewers = viewers;
        s.title = Some(title.into());
        for l in labels {
            s.streams.push(StreamUrl {
                label: (*l).into(),
                kind: StreamKind::Hls,
                url: format!("https://cdn.test/{l}.m3u8"),
            });
        }
        s
    }

    #[test]
    fn milestones_are_crossed_upward_only() {
        assert_eq!(milestone(None), 0);
        assert_eq!(milestone(Some(999)), 0);
        assert_eq!(milestone(Some(1_000)), 1_000);
        assert_eq!(milestone(Some(5_400)), 5_000);
        assert_eq!(milestone(Some(u64::MAX)), 1_000_000);
        let shown = CardState::of(&live(Some(800), "Hi", &["720p"]));
        let up = CardState::of(&live(Some(1_200), "Hi", &["720p"]));
        assert_eq!(worth_showing(&shown, &up), Some(Change::Milestone(1_000)));
        let after = shown.then(&up);
        let dip = CardState::of(&live(Some(900), "Hi", &["720p"]));
        assert_eq!(worth_showing(&after, &dip), None, "a dip is not news");
        let again = CardState::of(&live(Some(1_300), "Hi", &["720p"]));
        assert_eq!(
            worth_showing(&after.then(&dip), &again),
            None,
            "nor a second crossing"
        );
        let moved = CardState::of(&live(Some(1_900), "Hi", &["720p"]));
        assert_eq!(
            worth_showing(&after, &moved),
            None,
            "moving viewers are not news"
        );
    }

    #[test]
    fn title_and_new_qualities_are_news() {
        let shown = CardState::of(&live(Some(10), "Hi", &["720p"]));
        let retitled = CardState::of(&live(Some(10), "Hello", &["720p"]));
        assert_eq!(worth_showing(&shown, &retitled), Some(Change::Title));
        let hd = CardState::of(&live(Some(10), "Hi", &["720p", "1080p"]));
        assert_eq!(worth_showing(&shown, &hd), Some(Change::Quality));
        let fewer = CardState::of(&live(Some(10), "Hi", &[]));
        assert_eq!(worth_showing(&shown, &fewer), None);
        let untitled = CardState::of(&live(Some(10), "  ", &["720p"]));
        assert_eq!(
            worth_showing(&shown, &untitled),
            None,
            "a lost title is not news"
        );
        let back = CardState::from_json(&hd.to_json()).unwrap();
        assert_eq!(back, hd);
    }

    #[test]
    fn at_most_once_per_period() {
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        let every = Duration::from_secs(600);
        assert!(due(None, t0, every));
        assert!(!due(Some(t0), t0 + chrono::Duration::seconds(599), every));
        assert!(due(Some(t0), t0 + chrono::Duration::seconds(600), every));
        assert!(
            !due(Some(t0 + chrono::Duration::seconds(5)), t0, every),
            "clock skew"
        );
    }

    #[test]
    fn recap_takes_the_peak_and_a_changed_title() {
        let stored = |peak, first: Option<&str>, last: LiveStream| StoredStream {
            id: 1,
            stream_id: "idn:1".into(),
            platform: Platform::Idn,
            started_at: None,
            first_seen: Utc::now(),
            ended_at: None,
            peak_viewers: peak,
            first_title: first.map(str::to_string),
            card: None,
            card_at: None,
            stream: last,
        };
        let r = Recap::of(&stored(
            Some(5_400),
            Some("Hi"),
            live(Some(3_100), "Bye", &[]),
        ));
        assert_eq!(r.peak_viewers, Some(5_400));
        assert_eq!(r.final_viewers, Some(3_100));
        assert_eq!(r.first_title.as_deref(), Some("Hi"));
        let same = Recap::of(&stored(None, Some("Hi"), live(Some(7), "Hi", &[])));
        assert_eq!(same.peak_viewers, Some(7), "the last count counts");
        assert_eq!(same.first_title, None, "unchanged title not repeated");
        let none = Recap::of(&stored(None, None, live(None, "Hi", &[])));
        assert_eq!((none.peak_viewers, none.final_viewers), (None, None));
    }
}
