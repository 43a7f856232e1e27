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
async fn memory_scenario_runs_and_reads_the_process_rss() {
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

/// The same month with every calendar feed subscribed on a Basic key: the
/// calendar and live detection together stay within the 1,000 calls, and
/// every reminder and birthday post goes out within a minute of its moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_month_with_the_calendar_never_goes_over_and_posts_every_reminder_on_time() {
    let m = support::budget_sim::month_with_calendar(1_000, Duration::from_secs(30), 7).await;
    assert!(m.total_calls() <= 1_000, "over budget: {m:?}");
    assert!(
        m.lists.iter().all(|(_, n)| *n > 0),
        "every list read: {m:?}"
    );
    assert_eq!(m.reminders_on_time, m.reminders, "{m:?}");
    assert_eq!(m.birthdays_on_time, m.birthdays, "{m:?}");
    assert!(m.birthdays > 0 && m.reminders > 0, "{m:?}");
}
