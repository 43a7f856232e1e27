//! Fault injection: answers a test asks for instead of the route's own
//! (429s, Discord errors, 5xx, any body), and answers that get lost after
//! the work was done (a 502, a reset or a hanging connection), all of the
//! latter through one kind of rule.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::builders::discord_error;
use super::limits::{bucket_of, rate_limited, Scope};
use super::routes::segments;
use super::{FakeDiscord, Inner, State};

/// A fault to inject.
#[derive(Debug, Clone)]
pub enum Fault {
    RateLimited {
        retry_after: f64,
        global: bool,
    },
    /// A 429 of a resource's shared limit (`X-RateLimit-Scope: shared`),
    /// which Discord does not count as an invalid request.
    SharedRateLimit {
        retry_after: f64,
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

/// How an answer is lost after Discord did the work (stored the message,
/// applied the edit, started or archived the thread).
#[derive(Debug, Clone, Copy)]
pub enum Loss {
    /// A 502 from Discord's edge after `delay`.
    BadGateway(Duration),
    /// The connection is reset while the answer is read: the status line
    /// arrives, the body never does.
    Reset,
    /// No answer for `delay` (longer than the bot's timeout): the
    /// connection is left hanging.
    Hang(Duration),
}

/// Which writes a loss rule takes.
#[derive(Debug, Clone)]
enum Writes {
    /// `method` requests whose path starts so.
    Under { method: String, path_prefix: String },
    /// New messages in a channel, as the bot or through a webhook.
    PostsIn(u64),
    /// Thread starts on a message, in any channel.
    ThreadStarts,
}

impl Writes {
    fn take(&self, s: &State, method: &str, path: &str) -> bool {
        let segs = segments(path);
        match self {
            Writes::Under {
                method: m,
                path_prefix,
            } => m == method && path.starts_with(path_prefix.as_str()),
            Writes::PostsIn(channel) => {
                let posted_in = match (method, segs.as_slice()) {
                    ("POST", ["channels", ch, "messages"]) => ch.parse().ok(),
                    ("POST", ["webhooks", id, _]) => id
                        .parse()
                        .ok()
                        .and_then(|id: u64| s.webhooks.get(&id))
                        .map(|w| w.channel_id),
                    _ => None,
                };
                posted_in == Some(*channel)
            }
            Writes::ThreadStarts => matches!(
                (method, segs.as_slice()),
                ("POST", ["channels", _, "messages", _, "threads"])
            ),
        }
    }
}

/// A rule losing the answers of matching writes.
#[derive(Debug, Clone)]
pub(super) struct LossRule {
    writes: Writes,
    loss: Loss,
    times: usize,
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

    fn lose(&self, writes: Writes, loss: Loss, times: usize) {
        self.state().losses.push(LossRule {
            writes,
            loss,
            times,
        });
    }

    /// The next `times` new messages in `channel` (as the bot or through a
    /// webhook) are stored, then their answer is lost: a 502 after `delay`.
    pub fn lose_answers(&self, channel: u64, times: usize, delay: Duration) {
        self.lose(Writes::PostsIn(channel), Loss::BadGateway(delay), times);
    }

    /// The next `times` successful `method` requests under `path_prefix`
    /// (after `/api/v10`) do their work, then lose the answer as `loss`
    /// says: an edit applied, a thread started or archived, a webhook's
    /// message stored, and the bot never hears of it.
    pub fn lose_after_write(&self, method: &str, path_prefix: &str, loss: Loss, times: usize) {
        let writes = Writes::Under {
            method: method.into(),
            path_prefix: format!("/api/v10{path_prefix}"),
        };
        self.lose(writes, loss, times);
    }

    /// The next `n` thread creations start the thread, then answer 502.
    pub fn lose_thread_answers(&self, n: usize) {
        self.lose(Writes::ThreadStarts, Loss::BadGateway(Duration::ZERO), n);
    }
}

impl Inner {
    /// The loss of this write's answer, if a rule matches (used up by one).
    pub(super) fn loss_for(&self, method: &str, path: &str) -> Option<Loss> {
        let mut guard = self.state();
        let s = &mut *guard;
        let i = s
            .losses
            .iter()
            .position(|l| l.times > 0 && l.writes.take(s, method, path))?;
        s.losses[i].times -= 1;
        let loss = s.losses[i].loss;
        if s.losses[i].times == 0 {
            s.losses.remove(i);
        }
        Some(loss)
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
                let mut s = self.state();
                s.rate_limited += 1;
                // A route's 429 names the route's own bucket.
                let bucket = bucket_of(&s, method, &segments(path));
                drop(s);
                let scope = if global { Scope::Global } else { Scope::User };
                rate_limited(retry_after, scope, bucket.as_ref().filter(|_| !global))
            }
            Fault::SharedRateLimit { retry_after } => {
                self.state().rate_limited += 1;
                rate_limited(retry_after, Scope::Shared, None)
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

/// An answer whose status line and headers go out and whose body fails:
/// the connection is reset while the client reads it.
pub(super) fn reset_response() -> Response {
    let failing = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by the fake",
        ))
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        axum::body::Body::from_stream(failing),
    )
        .into_response()
}
