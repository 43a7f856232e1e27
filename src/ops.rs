//! Operations endpoints on `HTTP_ADDR` (default `127.0.0.1:9090`, off when
//! empty): `/healthz` (the process is up), `/readyz` (the gateway is
//! connected for this process's shards and the database answers) and
//! `/metrics` (Prometheus text, rendered by `metrics-exporter-prometheus`).
//! The metric names live in [`metric`]; the code that does the work records
//! them with the `metrics` macros.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poise::serenity_prelude as serenity;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Every metric onair exports.
pub mod metric {
    /// Counter {provider}: polls that got an answer.
    pub const POLLS: &str = "onair_polls_total";
    /// Counter {provider, kind}: polls that failed, by kind of failure.
    pub const PROVIDER_ERRORS: &str = "onair_provider_errors_total";
    /// Gauge {provider}: calls (credits) left in the current period.
    pub const BUDGET_LEFT: &str = "onair_budget_calls_left";
    /// Gauge: announcements and edits waiting in the outbox.
    pub const DELIVERIES_PENDING: &str = "onair_deliveries_pending";
    /// Counter: deliveries Discord accepted.
    pub const DELIVERIES_SENT: &str = "onair_deliveries_sent_total";
    /// Counter {reason}: deliveries given up (refused, channel gone, stale).
    pub const DELIVERIES_FAILED: &str = "onair_deliveries_failed_total";
    /// Counter {scope}: Discord 429 answers (global, user, shared).
    pub const DISCORD_429: &str = "onair_discord_rate_limited_total";
    /// Counter {result}: live-update edits sent, or dropped (waited too
    /// long behind announcements, or refused).
    pub const LIVE_UPDATES: &str = "onair_live_updates_total";
    /// Failed Discord requests of the outbox that will be tried again.
    pub const DELIVERY_RETRIES: &str = "onair_delivery_retries_total";
    /// Closes and reopens of sent cards Discord took.
    pub const CARD_EDITS: &str = "onair_card_edits_total";
    /// Histogram, seconds: from the `Started` event to the post.
    pub const DISPATCH_LATENCY: &str = "onair_dispatch_latency_seconds";
    /// Gauge: 1 while this process does the work that must happen once
    /// (polling, dispatching).
    pub const LEADER: &str = "onair_leader";
    /// Gauge: gateway shards of this process that are connected.
    pub const SHARDS_CONNECTED: &str = "onair_shards_connected";
    /// Gauge: gateway shards this process runs.
    pub const SHARDS: &str = "onair_shards";
    /// Counter {code}: gateway connections Discord closed, by close code
    /// ("none": broken or never opened).
    pub const GATEWAY_CLOSES: &str = "onair_gateway_closes_total";
    /// Counter {kind}: gateway sessions started (identify) or resumed.
    pub const GATEWAY_SESSIONS: &str = "onair_gateway_sessions_total";
    /// Counter {op}: Discord's requests to reconnect (7) or re-identify (9).
    pub const GATEWAY_RECONNECT_ASKS: &str = "onair_gateway_reconnect_requests_total";
}

/// Buckets of the dispatch latency, seconds: a post within the second is
/// the goal; minutes mean an outage was ridden out.
const LATENCY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// The process's Prometheus recorder, installed on first use (a process has
/// one global recorder; bots started again in one process share it).
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(metric::DISPATCH_LATENCY.into()),
                    LATENCY_BUCKETS,
                )
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(metric::POLLS, "Provider polls that got an answer");
    describe_counter!(
        metric::LIVE_UPDATES,
        "Live-update edits of announcements, sent or dropped"
    );
    describe_counter!(metric::PROVIDER_ERRORS, "Provider polls that failed");
    describe_gauge!(
        metric::BUDGET_LEFT,
        "Calls or credits left in the provider's current period"
    );
    describe_gauge!(
        metric::DELIVERIES_PENDING,
        "Deliveries waiting in the outbox"
    );
    describe_counter!(metric::DELIVERIES_SENT, "Deliveries Discord accepted");
    describe_counter!(metric::DELIVERIES_FAILED, "Deliveries given up");
    describe_counter!(metric::DISCORD_429, "Discord 429 answers by scope");
    describe_counter!(
        metric::DELIVERY_RETRIES,
        "Failed outbox requests to Discord that will be tried again"
    );
    describe_counter!(metric::CARD_EDITS, "Closes and reopens of sent cards");
    describe_histogram!(
        metric::DISPATCH_LATENCY,
        Unit::Seconds,
        "From a go-live seen to its announcement posted"
    );
    describe_gauge!(metric::LEADER, "1 while this process polls and dispatches");
    describe_gauge!(metric::SHARDS_CONNECTED, "Gateway shards connected");
    describe_gauge!(metric::SHARDS, "Gateway shards this process runs");
    describe_counter!(
        metric::GATEWAY_CLOSES,
        "Gateway connections closed by Discord, by close code"
    );
    describe_counter!(
        metric::GATEWAY_SESSIONS,
        "Gateway sessions identified or resumed"
    );
    describe_counter!(
        metric::GATEWAY_RECONNECT_ASKS,
        "Discord's reconnect (op 7) and invalid session (op 9) requests"
    );
}

/// What `/readyz` asks.
#[derive(Clone)]
pub struct Health {
    pub store: Arc<dyn Store>,
    /// Set once the Discord client exists.
    pub shards: Arc<OnceLock<Arc<serenity::ShardManager>>>,
}

impl Health {
    /// (shards connected, shards run).
    async fn shards(&self) -> (usize, usize) {
        let Some(manager) = self.shards.get() else {
            return (0, 0);
        };
        let runners = manager.runners.lock().await;
        let connected = runners
            .values()
            .filter(|r| r.stage == serenity::ConnectionStage::Connected)
            .count();
        (connected, runners.len())
    }

    /// `Ok` when every shard of this process is connected and the database
    /// answers; else what is not ready.
    pub async fn ready(&self) -> Result<String, String> {
        let (connected, total) = self.shards().await;
        let db = tokio::time::timeout(Duration::from_secs(3), self.store.ping()).await;
        let mut problems = Vec::new();
        if total == 0 || connected < total {
            problems.push(format!("gateway: {connected} of {total} shards connected"));
        }
        problems.extend(database_problem(db.map_err(|_| ())));
        if problems.is_empty() {
            Ok(format!(
                "ready: {connected} of {total} shards connected, database ok"
            ))
        } else {
            Err(problems.join("; "))
        }
    }
}

/// What `/readyz` says of the database's answer (`Err(())`: none in
/// time). The raw error (a host, a user, a path) goes to the log, never to
/// whoever can reach the endpoint.
fn database_problem(answer: Result<Result<(), crate::store::StoreError>, ()>) -> Option<String> {
    match answer {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "/readyz: the database did not answer");
            Some("database: not answering (see the log)".into())
        }
        Err(()) => Some("database: no answer within 3 s".into()),
    }
}

#[derive(Clone)]
struct Ops {
    health: Health,
    metrics: PrometheusHandle,
}

/// Bind `addr` now (so a taken port stops the start, naming `HTTP_ADDR`).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("HTTP_ADDR: cannot listen on {addr}: {e}"))
}

/// Serve the endpoints on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Health,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    }
    let upkeep = metrics.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        // Histograms are drained into their buckets by the upkeep.
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => upkeep.run_upkeep(),
            }
        }
    });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(Ops { health, metrics });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the operations endpoint stopped");
    }
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    match ops.health.ready().await {
        Ok(text) => (StatusCode::OK, text + "\n"),
        Err(text) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {text}\n"),
        ),
    }
}

async fn render_metrics(State(ops): State<Ops>) -> impl IntoResponse {
    let (connected, total) = ops.health.shards().await;
    metrics::gauge!(metric::SHARDS_CONNECTED).set(connected as f64);
    metrics::gauge!(metric::SHARDS).set(total as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ops.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_names_a_database_problem_without_its_raw_error() {
        let raw = crate::store::StoreError::Database(sqlx::Error::Configuration(
            "error connecting to server at /var/run/secret-host (user onair)".into(),
        ));
        let said = database_problem(Ok(Err(raw))).unwrap();
        assert_eq!(said, "database: not answering (see the log)");
        assert!(database_problem(Ok(Ok(()))).is_none());
        assert!(database_problem(Err(())).unwrap().contains("3 s"));
    }
}
