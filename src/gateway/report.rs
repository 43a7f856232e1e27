//! What the gateway relay saw, told to the operator: every close is logged
//! with its code and Discord's reason and counted in `/metrics`; a run of
//! closes (or a fatal one) is logged at error level. It also remembers the
//! last fatal close, for the message the process exits with.

use std::collections::HashMap;
use std::sync::Mutex;

use super::closes::{meaning, Loudness, Meaning, Streak};
use crate::ops::metric;

/// One shard's gateway life, as far as the relay sees it.
#[derive(Default)]
struct Shards {
    streaks: HashMap<u64, Streak>,
    /// session id (from READY) -> shard id, so a RESUME names its shard.
    sessions: HashMap<String, u64>,
    /// What to fix, after a close reconnecting cannot help.
    fatal: Option<String>,
}

/// The streak of connections that ended before any IDENTIFY or RESUME
/// named their shard (they could not be opened).
const UNKNOWN_SHARD: u64 = u64::MAX;

/// Shared by every relayed connection of this process.
pub struct Report {
    shards: Mutex<Shards>,
    /// Cancelled by a close reconnecting cannot help: the process ends.
    on_fatal: tokio_util::sync::CancellationToken,
}

/// How a connection ended.
#[derive(Debug, Clone)]
pub enum Ended {
    /// Discord closed it with a close frame.
    Closed { code: u16, reason: String },
    /// It could not be opened, or broke without a close frame.
    Broken(String),
}

impl Report {
    /// A report that cancels `on_fatal` when Discord closes a connection
    /// for good (a bad token, an intent, the shard count).
    pub fn new(on_fatal: tokio_util::sync::CancellationToken) -> Report {
        Report {
            shards: Mutex::default(),
            on_fatal,
        }
    }

    fn shards(&self) -> std::sync::MutexGuard<'_, Shards> {
        self.shards.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// IDENTIFY went out for `shard`.
    pub fn identified(&self, shard: u64) {
        metrics::counter!(metric::GATEWAY_SESSIONS, "kind" => "identify").increment(1);
        tracing::info!(shard, "gateway: identifying (a new session)");
    }

    /// RESUME went out; the shard its session belongs to, when known.
    pub fn resuming(&self, session: &str) -> Option<u64> {
        metrics::counter!(metric::GATEWAY_SESSIONS, "kind" => "resume").increment(1);
        self.shards().sessions.get(session).copied()
    }

    /// READY (with its session id) or RESUMED: the shard is connected.
    pub fn established(&self, shard: Option<u64>, session: Option<&str>) {
        let mut s = self.shards();
        if let (Some(shard), Some(session)) = (shard, session) {
            s.sessions.insert(session.to_string(), shard);
        }
        // A session also ends the run of connections that could not even
        // be opened: Discord is reachable again.
        for key in shard.into_iter().chain([UNKNOWN_SHARD]) {
            if let Some(streak) = s.streaks.get_mut(&key) {
                if streak.closes() >= super::closes::CLOSES_BEFORE_ERROR {
                    tracing::info!(
                        shard,
                        closes = streak.closes(),
                        "gateway: connected again after a run of closes"
                    );
                }
                streak.established();
            }
        }
    }

    /// Discord asked for a reconnect (op 7) or invalidated the session (op
    /// 9): serenity follows; counted.
    pub fn asked(&self, shard: Option<u64>, op: u64, resumable: Option<bool>) {
        let op_label = if op == 7 { "7" } else { "9" };
        metrics::counter!(metric::GATEWAY_RECONNECT_ASKS, "op" => op_label).increment(1);
        tracing::info!(
            shard,
            op,
            resumable,
            "gateway: Discord asked for a reconnect"
        );
    }

    /// A connection of `shard` ended (or could not be opened); how loudly
    /// it was reported.
    pub fn ended(&self, shard: Option<u64>, how: &Ended) -> Loudness {
        let code = match how {
            Ended::Closed { code, .. } => Some(*code),
            Ended::Broken(_) => None,
        };
        let label = code.map_or_else(|| "none".to_string(), |c| c.to_string());
        metrics::counter!(metric::GATEWAY_CLOSES, "code" => label).increment(1);
        let means = code.map(meaning);
        let mut s = self.shards();
        let streak = s.streaks.entry(shard.unwrap_or(UNKNOWN_SHARD)).or_default();
        let loud = streak.closed(means);
        let in_a_row = streak.closes();
        let fatal = match (means, how) {
            (Some(Meaning::Fatal(why)), Ended::Closed { reason, .. }) => {
                s.fatal = Some(if reason.is_empty() {
                    why.to_string()
                } else {
                    format!("{why} (Discord said: {reason})")
                });
                Some(why)
            }
            _ => None,
        };
        drop(s);
        if fatal.is_some() {
            self.on_fatal.cancel();
        }
        match (how, loud) {
            (Ended::Closed { code, reason }, Loudness::Error) => {
                let why = fatal.unwrap_or("Discord keeps closing the gateway connection");
                tracing::error!(shard, code, reason = %reason, in_a_row, "gateway: {why}");
            }
            (Ended::Closed { code, reason }, Loudness::Warn) => {
                tracing::warn!(shard, code, reason = %reason, in_a_row, "gateway: Discord closed the connection; reconnecting");
            }
            (Ended::Broken(e), Loudness::Error) => {
                tracing::error!(shard, error = %e, in_a_row, "gateway: the connection keeps failing");
            }
            (Ended::Broken(e), Loudness::Warn) => {
                tracing::warn!(shard, error = %e, in_a_row, "gateway: the connection broke; reconnecting");
            }
        }
        loud
    }

    /// The last close Discord sent that reconnecting cannot help, with its
    /// reason and what to do.
    pub fn fatal(&self) -> Option<String> {
        self.shards().fatal.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken() -> Ended {
        Ended::Broken("cannot connect".into())
    }

    #[test]
    fn a_session_ends_the_run_of_connections_that_could_not_open() {
        let r = Report::new(tokio_util::sync::CancellationToken::new());
        assert_eq!(r.ended(None, &broken()), Loudness::Warn);
        assert_eq!(r.ended(None, &broken()), Loudness::Warn);
        r.established(Some(0), Some("s-1"));
        // Days later, one more failure to connect is one, not the third.
        assert_eq!(r.ended(None, &broken()), Loudness::Warn);
        assert_eq!(r.resuming("s-1"), Some(0));
    }

    #[test]
    fn a_fatal_close_stops_the_process_with_what_to_fix_and_discords_reason() {
        let stop = tokio_util::sync::CancellationToken::new();
        let r = Report::new(stop.clone());
        let closed = Ended::Closed {
            code: 4000,
            reason: "retry".into(),
        };
        assert_eq!(r.ended(Some(0), &closed), Loudness::Warn);
        assert!(!stop.is_cancelled() && r.fatal().is_none());
        let refused = Ended::Closed {
            code: 4004,
            reason: "Authentication failed.".into(),
        };
        assert_eq!(r.ended(Some(0), &refused), Loudness::Error);
        assert!(stop.is_cancelled());
        let why = r.fatal().unwrap_or_default();
        assert!(
            why.contains("DISCORD_TOKEN")
                && why.ends_with("(Discord said: Authentication failed.)"),
            "{why}"
        );
    }
}
