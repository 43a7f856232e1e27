//! The benchmark, tiny: every scenario runs and its invariants hold (no
//! lost or duplicated message, no provider call on the command path, one
//! request per poll per provider, one per unique TikTok username).

mod support;

use std::time::Duration;
use support::bench;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_smoke() {
    let f = bench::fanout(20, 100, 90).await;
    assert_eq!((f.duplicates, f.missing), (0, 0), "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_fanout_smoke() {
    let f = support::bench_identity::fanout(20, 0.5, 200, 150).await;
    assert_eq!((f.duplicates, f.missing), (0, 0), "{f:?}");
    assert_eq!(
        (f.as_member, f.webhooks),
        (10, 10),
        "one webhook per member channel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fairness_smoke() {
    let f = support::bench_fairness::fairness(40, 10, 200, 150, true).await;
    assert_eq!((f.duplicates, f.missing), (0, 0), "{f:?}");
    assert!(f.small_max <= f.total, "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_latency_smoke() {
    let l = bench::command_latency(20, 100, 5).await;
    assert_eq!(l.count, 20);
    assert_eq!(l.upstream_calls, 0, "no provider call on the command path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_cost_smoke() {
    let u = bench::upstream_cost(10, 4, Duration::from_millis(2500)).await;
    assert!(u.jkt_requests >= 1 && u.jkt_per_poll <= 1.5, "{u:?}");
    assert_eq!(u.tiktok_users, 4, "{u:?}");
    assert!(
        (u.konbini_per_poll - 4.0).abs() < 1e-9,
        "one request per unique username: {u:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_smoke() {
    let m = bench::memory(10, 10).await;
    assert!(m.rss_kib > 0, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_month_smoke() {
    let m = support::budget_sim::month(1_000, Duration::from_secs(30), 7).await;
    assert!(m.scheduled.calls <= 1_000, "over budget: {m:?}");
    assert!(m.fixed.calls <= 1_000, "{m:?}");
    assert!(
        m.scheduled.calls >= 990,
        "the plan spends its budget: {m:?}"
    );
    assert!(!m.scheduled.delays.is_empty(), "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_smoke() {
    let Some(db) = support::pg::fresh_database("replicas_smoke").await else {
        return;
    };
    let f = support::bench_replicas::fanout(40, 200, 60, Some(db.url.clone())).await;
    assert_eq!((f.duplicates, f.missing), (0, 0), "{f:?}");
    assert_eq!(f.rss_kib.len(), 3, "{f:?}");
    assert!(
        f.failover.is_some(),
        "the new leader posted after the kill: {f:?}"
    );
    let lite = support::bench_replicas::fanout(20, 200, 60, None).await;
    assert_eq!((lite.duplicates, lite.missing), (0, 0), "{lite:?}");
}
