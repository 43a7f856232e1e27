//! A cheap, dependency-free jitter source, so retries and polls of many
//! tasks after one incident do not arrive together.

/// A value in [0, 1) from the clock's sub-second nanoseconds.
pub fn unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}
