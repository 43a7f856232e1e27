//! Tracing setup, one for the binary and the tests: [`filter`] is what the
//! binary installs ([`init`]) and what the secret-scan tests capture through.
//!
//! Whatever `RUST_LOG` asks for, a few library targets are capped, because
//! at debug/trace they print raw bytes that carry secrets:
//! - tungstenite prints whole websocket frames, and the IDENTIFY frame
//!   carries the bot token;
//! - serenity's `request` span (INFO, `#[instrument]`) records the whole
//!   request, whose body is a byte array (an interaction reply can carry a
//!   stream key). A span below the filter is never created, so no event
//!   inside it can print its fields.

use tracing_subscriber::EnvFilter;

/// Targets that print raw frames, headers or bodies at debug/trace.
const CAPPED: &[&str] = &[
    "tungstenite=info",
    "tokio_tungstenite=info",
    "serenity::http=warn",
];

/// The default when `RUST_LOG` is unset.
pub const DEFAULT: &str = "info,serenity=warn,tracing::span=warn";

/// The filter for `spec` (a `RUST_LOG` value), with the caps above. An
/// unparsable spec falls back to `info` (still capped).
pub fn filter(spec: &str) -> EnvFilter {
    let mut f = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for cap in CAPPED {
        if let Ok(d) = cap.parse() {
            f = f.add_directive(d);
        }
    }
    f
}

/// The filter for this process: `RUST_LOG`, or [`DEFAULT`].
pub fn filter_from_env() -> EnvFilter {
    filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT.to_string()))
}

/// Install the binary's subscriber: [`filter_from_env`], to stderr.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter_from_env())
        .with_writer(std::io::stderr)
        .try_init();
}
