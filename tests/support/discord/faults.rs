//! Fault injection: answers a test asks for instead of the route's own
//! (429s, Discord errors, 5xx, any body), and answers that get lost after
//! the work was done (a dropped connection).

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::builders::discord_error;
use super::limits::rate_limited;
use super::routes::segments;
use super::{FakeDiscord, Inner};

/// A fault to inject.
#[derive(Debug, Clone)]
pub enum Fault {
    RateLimited {
        retry_after: f64,
        global: bool,
    },
    Discord {
        status: u16,
        code: u64,
        message: &'static str,
    },
    Server(u16),
    /// Any status with this exact JSON body (e.g. a 400 with `errors`).
    Body {
        status: u16,
        body: Value,
    },
}

#[derive(Debug, Clone)]
pub(super) struct FaultRule {
    method: String,
    path_prefix: String,
    fault: Fault,
    times: usize,
    /// When set, the rule applies until then (however many times).
    until: Option<Instant>,
}

impl FakeDiscord {
    pub fn fail_next(&self, method: &str, path_prefix: &str, fault: Fault, times: usize) {
        self.state().faults.push(FaultRule {
            method: method.into(),
            path_prefix: path_prefix.into(),
            fault,
            times,
            until: None,
        });
    }

    /// Serve normally again: every pending fault is forgotten.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Answer every matching request with `fault` for `duration` from now
    /// (an incident), then serve normally again.
    pub fn fail_for(&self, method: &str, path_prefix: &str, fault: Fault, duration: Duration) {
        self.state().faults.push(FaultRule {
            method: method.into(),
            path_prefix: path_prefix.into(),
            fault,
            times: usize::MAX,
            until: Some(Instant::now() + duration),
        });
    }

    /// The next `times` message POSTs to `channel` store the message, then
    /// lose the answer: a 502 after `delay`.
    pub fn lose_answers(&self, channel: u64, times: usize, delay: Duration) {
        self.state().lost_answers.push((channel, times, delay));
    }

    /// The next `n` thread creations start the thread, then answer 502.
    pub fn lose_thread_answers(&self, n: usize) {
        self.state().lost_thread_answers = n;
    }
}

impl Inner {
    /// A matching rule for a lost answer on this POST, used up by one.
    pub(super) fn lose_answer(&self, path: &str) -> Option<Duration> {
        let segs = segments(path);
        let mut s = self.state();
        let ch: u64 = match segs.as_slice() {
            ["channels", ch, "messages"] => ch.parse().ok()?,
            // A channel webhook's post loses its answer the same way.
            ["webhooks", id, _] => s.webhooks.get(&id.parse().ok()?)?.channel_id,
            _ => return None,
        };
        let i = s
            .lost_answers
            .iter()
            .position(|(c, n, _)| *c == ch && *n > 0)?;
        s.lost_answers[i].1 -= 1;
        Some(s.lost_answers[i].2)
    }

    fn fault_for(&self, method: &str, path: &str) -> Option<Fault> {
        let mut s = self.state();
        let now = Instant::now();
        s.faults.retain(|f| f.until.is_none_or(|u| u > now));
        let i = s
            .faults
            .iter()
            .position(|f| f.times > 0 && f.method == method && path.starts_with(&f.path_prefix))?;
        s.faults[i].times -= 1;
        let f = s.faults[i].fault.clone();
        if s.faults[i].times == 0 {
            s.faults.remove(i);
        }
        Some(f)
    }

    /// The answer of the first fault rule matching this request (used up
    /// by one), if any.
    pub(super) fn injected_fault(&self, method: &str, path: &str) -> Option<Response> {
        let f = self.fault_for(method, path)?;
        Some(match f {
            Fault::RateLimited {
                retry_after,
                global,
            } => {
                self.state().rate_limited += 1;
                rate_limited(retry_after, global)
            }
            Fault::Discord {
                status,
                code,
                message,
            } => discord_error(status, code, message),
            Fault::Server(code) => discord_error(code, 0, "Internal Server Error"),
            Fault::Body { status, body } => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                axum::Json(body),
            )
                .into_response(),
        })
    }
}
