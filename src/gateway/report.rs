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
    fatal: Option<(u16, String)>,
}

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
        if let Some(shard) = shard {
            if let Some(streak) = s.streaks.get_mut(&shard) {
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

    /// A connection of `shard` ended (or could not be opened).
    pub fn ended(&self, shard: Option<u64>, how: &Ended) {
        let code = match how {
            Ended::Closed { code, .. } => Some(*code),
            Ended::Broken(_) => None,
        };
        let label = code.map_or_else(|| "none".to_string(), |c| c.to_string());
        metrics::counter!(metric::GATEWAY_CLOSES, "code" => label).increment(1);
        let mut s = self.shards();
        let key = shard.unwrap_or(u64::MAX);
        let streak = s.streaks.entry(key).or_default();
        let loud = streak.closed(code);
        let in_a_row = streak.closes();
        let fatal = code.is_some_and(|c| matches!(meaning(c), Meaning::Fatal(_)));
        if let (Some(c), Ended::Closed { reason, .. }, true) = (code, how, fatal) {
            s.fatal = Some((c, reason.clone()));
        }
        drop(s);
        if fatal {
            self.on_fatal.cancel();
        }
        match (how, loud) {
            (Ended::Closed { code, reason }, Loudness::Error) => {
                let why = match meaning(*code) {
                    Meaning::Fatal(why) => why,
                    _ => "Discord keeps closing the gateway connection",
                };
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
    }

    /// The last close Discord sent that reconnecting cannot help, with its
    /// reason and what to do.
    pub fn fatal(&self) -> Option<String> {
        let (code, reason) = self.shards().fatal.clone()?;
        let Meaning::Fatal(why) = meaning(code) else {
            return None;
        };
        Some(if reason.is_empty() {
            why.to_string()
        } else {
            format!("{why} (Discord said: {reason})")
        })
    }
}
