//! Tracing setup shared by the binary and the tests. Whatever `RUST_LOG`
//! asks for, the websocket library stays at `info`: at `trace` it prints
//! whole gateway frames, and the IDENTIFY frame carries the bot token.

use tracing_subscriber::EnvFilter;

/// Targets that print raw frames or headers at debug/trace.
const CAPPED: &[&str] = &["tungstenite=info", "tokio_tungstenite=info"];

/// The filter for `spec` (a `RUST_LOG` value), with the caps above.
pub fn filter(spec: &str) -> EnvFilter {
    let mut f = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for cap in CAPPED {
        if let Ok(d) = cap.parse() {
            f = f.add_directive(d);
        }
    }
    f
}

/// The default when `RUST_LOG` is unset.
pub const DEFAULT: &str = "info,serenity=warn,tracing::span=warn";
