//! Tracing setup, one for the binary and the tests: [`subscriber`] is what
//! the binary installs ([`init`]) and what the secret-scan tests capture
//! through.
//!
//! Whatever `RUST_LOG` asks for, a few library targets are capped, because
//! at debug/trace they print raw bytes that carry secrets:
//! - tungstenite prints whole websocket frames, and the IDENTIFY frame
//!   carries the bot token;
//! - serenity's `request` span (INFO, `#[instrument]`) records the whole
//!   request, whose body is a byte array (an interaction reply can carry a
//!   stream key). A span below the filter is never created, so no event
//!   inside it can print its fields;
//! - serenity's shard spans `handle_event` and `handle_gateway_dispatch`
//!   (INFO) record the whole gateway event, and an interaction's carries
//!   its token: a warning inside them ("Sequence off") printed it.
//!
//! The caps are not `RUST_LOG` directives (a more specific directive such
//! as `tungstenite::protocol=trace` would win over them): they are a
//! second filter, [`within_caps`], that every event and span must pass
//! as well as `RUST_LOG`'s, by target prefix. No `RUST_LOG` value opens them.

use tracing::level_filters::LevelFilter;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// Targets (and everything under them) that print raw frames or request
/// bodies at debug/trace, with the most they may log: the websocket (the
/// IDENTIFY frame carries the bot token), serenity's HTTP client (its
/// `request` span records the body) and serenity's shard (its event spans
/// record interaction tokens). Everything else may log at any level:
/// the secret-scan tests run the binary with every other target at trace.
pub const CAPS: &[(&str, Level)] = &[
    ("tungstenite", Level::INFO),
    ("tokio_tungstenite", Level::INFO),
    ("serenity::http", Level::WARN),
    ("serenity::gateway::shard", Level::WARN),
];

/// The default when `RUST_LOG` is unset.
pub const DEFAULT: &str = "info,serenity=warn,tracing::span=warn";

/// Whether `target` is `prefix` or a module under it.
fn under(target: &str, prefix: &str) -> bool {
    target
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Whether an event or span at `level` from `target` passes the caps.
pub fn within_caps(target: &str, level: &Level) -> bool {
    CAPS.iter()
        .filter(|(prefix, _)| under(target, prefix))
        .all(|(_, max)| level <= max)
}

/// `RUST_LOG`'s filter for `spec`; an unparsable spec falls back to `info`.
fn env_filter(spec: &str) -> EnvFilter {
    EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The subscriber for `spec` (a `RUST_LOG` value) writing to `writer`:
/// `RUST_LOG`'s filter and the caps, both required.
pub fn subscriber<W>(
    spec: &str,
    writer: W,
    ansi: bool,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let caps = filter_fn(|m: &Metadata<'_>| within_caps(m.target(), m.level()))
        .with_max_level_hint(LevelFilter::TRACE);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_filter(env_filter(spec).and(caps));
    tracing_subscriber::registry().with(layer)
}

/// `RUST_LOG`, or [`DEFAULT`].
pub fn spec_from_env() -> String {
    std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT.to_string())
}

/// Install `subscriber` for this process, with the bridge that turns the
/// `log` records of libraries (tungstenite) into events the same filters
/// see. A second call does nothing.
pub fn install(subscriber: impl tracing::Subscriber + Send + Sync + 'static) {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = subscriber.try_init();
}

/// Install the binary's subscriber: [`spec_from_env`], to stderr.
pub fn init() {
    // Colours for a terminal only: a container's or a file's log stays
    // plain text (`key=value`, as a log search expects it).
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    install(subscriber(&spec_from_env(), std::io::stderr, ansi));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_targets_stay_capped_at_any_depth() {
        assert!(!within_caps("tungstenite", &Level::DEBUG));
        assert!(!within_caps("tungstenite::protocol", &Level::TRACE));
        assert!(!within_caps("tungstenite::protocol::frame", &Level::DEBUG));
        assert!(within_caps("tungstenite::protocol", &Level::INFO));
        assert!(!within_caps("serenity::http::client", &Level::INFO));
        assert!(!within_caps("serenity::http::ratelimiting", &Level::TRACE));
        assert!(within_caps("serenity::http", &Level::WARN));
        assert!(within_caps("onair::announce", &Level::TRACE));
        assert!(within_caps("serenity::model", &Level::TRACE));
        assert!(
            within_caps("tungstenite_extra", &Level::TRACE),
            "a prefix of a name is not a module"
        );
    }
}
