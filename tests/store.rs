//! The store: round trips, guild isolation, the idempotent outbox, restart
//! on the same database, disabling after repeated failures, atomic budgets.
//! One set of tests, run on both engines: each test body takes a database
//! URL, and `on_both!` runs it on a fresh SQLite file and on a fresh
//! PostgreSQL database (`ONAIR_TEST_POSTGRES_URL`, set by `.ci/run`).

mod support;

use chrono::{DateTime, Utc};
use onair::live::{LiveStream, Platform};
use onair::store::{connect, DeliveryStatus, Identity, NewSubscription, Store, KIND_LIVE};
use std::sync::Arc;

/// A fresh database of one engine; dropped with the test.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(support::pg::TestDb),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.path().join("onair.db").display()),
            Db::Postgres(db) => db.url.clone(),
        }
    }
}

/// Runs each named test body (`async fn name(url: String)`) on SQLite and on
/// PostgreSQL, as `name::sqlite` and `name::postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::Db::sqlite();
                super::$name(db.url()).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = super::support::pg::fresh_database(stringify!($name)).await else {
                    return;
                };
                let db = super::Db::Postgres(db);
                super::$name(db.url()).await;
            }
        }
    )*};
}

on_both!(
    subscriptions_round_trip_and_guild_isolation,
    disabled_after_three_failures_and_reset_by_success,
    streams_keep_identity_and_first_seen,
    outbox_is_idempotent_one_per_channel,
    the_database_survives_a_restart,
    provider_calls_are_spent_atomically_within_the_limit,
    concurrent_spenders_never_pass_the_limit,
    go_live_times_are_read_back_in_order,
    the_live_card_the_recap_and_recent_lives,
    identity_webhooks_and_threads_round_trip,
    leaving_a_guild_forgets_it_and_returns_its_webhooks,
    pruning_deletes_only_what_is_older_than_the_retention,
    an_unreadable_subscription_row_is_skipped_not_fatal,
    plaintext_tokens_of_an_older_version_are_sealed_at_start,
    calendar_reads_record_what_changed_and_item_deliveries_are_one_per_channel_and_slot,
);

async fn open(url: &str) -> Arc<dyn Store> {
    connect(url).await.expect("open the store")
}

fn new_sub(guild: u64, channel: u64) -> NewSubscription {
    NewSubscription {
        guild_id: guild,
        channel_id: channel,
        created_by: 42,
        ..Default::default()
    }
}

fn stream(key: &str, start: i64) -> LiveStream {
    let mut s = LiveStream::new(Platform::Idn, key, "Fritzy");
    s.started_at = DateTime::from_timestamp(start, 0);
    s
}

async fn subscriptions_round_trip_and_guild_isolation(url: String) {
    let store = open(&url).await;
    let mut n = new_sub(1, 10);
    n.platform = Some(Platform::Showroom);
    n.member = Some("Gracia".into());
    n.tiktok = Some("Khaby.Lame".into());
    n.role_id = Some(u64::MAX >> 1);
    n.template = Some("{name} live!".into());
    let a = store.add_subscription(n).await.unwrap();
    assert_eq!(a.platform, Some(Platform::Showroom));
    assert_eq!(a.tiktok.as_deref(), Some("khaby.lame"));
    assert_eq!(a.role_id, Some(u64::MAX >> 1));
    let b = store.add_subscription(new_sub(2, 20)).await.unwrap();

    assert_eq!(
        store.get_subscription(1, a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.get_subscription(2, a.id).await.unwrap(),
        None,
        "other guild"
    );
    assert!(
        !store.remove_subscription(2, a.id).await.unwrap(),
        "other guild"
    );
    assert_eq!(store.list_subscriptions(1).await.unwrap().len(), 1);
    assert_eq!(store.active_subscriptions().await.unwrap().len(), 2);
    assert_eq!(store.tiktok_usernames().await.unwrap(), ["khaby.lame"]);
    assert_eq!(store.count_subscriptions().await.unwrap(), 2);
    assert!(store.remove_subscription(2, b.id).await.unwrap());
    assert_eq!(store.count_subscriptions().await.unwrap(), 1);
}

async fn disabled_after_three_failures_and_reset_by_success(url: String) {
    let store = open(&url).await;
    let s = store.add_subscription(new_sub(1, 10)).await.unwrap();
    assert!(!store
        .record_delivery_failure(s.id, "Unknown Channel", 3)
        .await
        .unwrap());
    store.record_delivery_success(s.id).await.unwrap();
    for i in 1..=3 {
        let disabled = store
            .record_delivery_failure(s.id, "Unknown Channel", 3)
            .await
            .unwrap();
        assert_eq!(disabled, i == 3);
    }
    let got = store.get_subscription(1, s.id).await.unwrap().unwrap();
    assert_eq!(got.disabled_reason.as_deref(), Some("Unknown Channel"));
    assert!(store.active_subscriptions().await.unwrap().is_empty());
}

async fn streams_keep_identity_and_first_seen(url: String) {
    let store = open(&url).await;
    let a = store.upsert_stream(&stream("510011", 100)).await.unwrap();
    let mut titled = stream("510011", 100);
    titled.title = Some("new".into());
    let again = store.upsert_stream(&titled).await.unwrap();
    assert_eq!(a.id, again.id);
    assert_eq!(a.first_seen, again.first_seen);
    assert_eq!(again.stream.title.as_deref(), Some("new"));
    let other = store.upsert_stream(&stream("510011", 200)).await.unwrap();
    assert_ne!(other.id, a.id, "a new start is a new broadcast");
    store.end_stream(a.id, Utc::now()).await.unwrap();
    let open: Vec<_> = store
        .open_streams()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(open, [other.id]);
}

async fn outbox_is_idempotent_one_per_channel(url: String) {
    let store = open(&url).await;
    let s1 = store.add_subscription(new_sub(1, 10)).await.unwrap();
    let s2 = store.add_subscription(new_sub(1, 10)).await.unwrap(); // same channel
    let s3 = store.add_subscription(new_sub(1, 11)).await.unwrap();
    let row = store.upsert_stream(&stream("a", 1)).await.unwrap();
    let targets = [(s1.id, 1, 10), (s2.id, 1, 10), (s3.id, 1, 11)];
    let first = store.create_deliveries(row.id, &targets).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|d| d.kind == KIND_LIVE), "{first:?}");
    let second = store.create_deliveries(row.id, &targets).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(store.pending_deliveries().await.unwrap().len(), 2);

    store.mark_sent(first[0].id, 999, Utc::now()).await.unwrap();
    let d = store.get_delivery(first[0].id).await.unwrap().unwrap();
    assert_eq!((d.status, d.message_id), (DeliveryStatus::Sent, Some(999)));
    store.mark_failed(first[1].id, "gone").await.unwrap();
    assert!(store.pending_deliveries().await.unwrap().is_empty());

    assert!(store
        .deliveries_needing_end_edit()
        .await
        .unwrap()
        .is_empty());
    store.end_stream(row.id, Utc::now()).await.unwrap();
    let needing = store.deliveries_needing_end_edit().await.unwrap();
    assert_eq!(needing.len(), 1);
    assert_eq!(needing[0].0.id, first[0].id);
    store
        .mark_end_edited(first[0].id, Utc::now())
        .await
        .unwrap();
    assert!(store
        .deliveries_needing_end_edit()
        .await
        .unwrap()
        .is_empty());
}

async fn the_database_survives_a_restart(url: String) {
    let (pending_id, sub_id) = {
        let store = open(&url).await;
        let s = store.add_subscription(new_sub(1, 10)).await.unwrap();
        let row = store.upsert_stream(&stream("a", 1)).await.unwrap();
        let ds = store
            .create_deliveries(row.id, &[(s.id, 1, 10), (s.id, 1, 11)])
            .await
            .unwrap();
        store.mark_sent(ds[1].id, 5, Utc::now()).await.unwrap();
        (ds[0].id, s.id)
    };
    let store = connect(&url).await.expect("reopen and re-run migrations");
    let pending = store.pending_deliveries().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, pending_id);
    assert!(store.get_subscription(1, sub_id).await.unwrap().is_some());
    assert_eq!(store.open_streams().await.unwrap().len(), 1);
}

#[tokio::test]
async fn clear_errors_for_bad_urls() {
    // Nothing listens on port 1: refused at once, and the password is not
    // repeated in the error.
    let err = connect("postgres://u:SECRETPW@127.0.0.1:1/db")
        .await
        .err()
        .expect("nothing listens there");
    assert!(err.to_string().contains("could not open"), "{err}");
    assert!(!err.to_string().contains("SECRETPW"), "{err}");
    let err = connect("mysql://u@127.0.0.1/db")
        .await
        .err()
        .expect("unsupported engine");
    assert!(err.to_string().contains("sqlite://"), "{err}");
    let err = connect("sqlite:///nonexistent-dir-onair/x/y.db")
        .await
        .err()
        .expect("bad path");
    assert!(err.to_string().contains("could not open"), "{err}");
}

async fn provider_calls_are_spent_atomically_within_the_limit(url: String) {
    let store = open(&url).await;
    assert_eq!(
        store.calls_spent("JKT48Connect", "2026-12").await.unwrap(),
        0
    );
    assert_eq!(
        store
            .spend_calls("JKT48Connect", "2026-12", 2, 5)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .spend_calls("JKT48Connect", "2026-12", 3, 5)
            .await
            .unwrap(),
        Some(5)
    );
    // One more would pass the limit: refused, count unchanged.
    assert_eq!(
        store
            .spend_calls("JKT48Connect", "2026-12", 1, 5)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.calls_spent("JKT48Connect", "2026-12").await.unwrap(),
        5
    );
    // Periods and providers are counted apart.
    assert_eq!(
        store
            .spend_calls("JKT48Connect", "2027-01", 1, 5)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .spend_calls("KonbiniAPI", "2026-12", 4, 4)
            .await
            .unwrap(),
        Some(4)
    );
}

async fn concurrent_spenders_never_pass_the_limit(url: String) {
    // Two processes' worth of pools on one database, racing.
    let a = connect(&url).await.unwrap();
    let b = connect(&url).await.unwrap();
    let mut tasks = Vec::new();
    for store in [a.clone(), b.clone(), a, b] {
        tasks.push(tokio::spawn(async move {
            let mut granted = 0;
            for _ in 0..50 {
                if store
                    .spend_calls("JKT48Connect", "2026-12", 1, 120)
                    .await
                    .unwrap()
                    .is_some()
                {
                    granted += 1;
                }
            }
            granted
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 120, "exactly the limit granted over 200 tries");
    let store = connect(&url).await.unwrap();
    assert_eq!(
        store.calls_spent("JKT48Connect", "2026-12").await.unwrap(),
        120
    );
}

async fn go_live_times_are_read_back_in_order(url: String) {
    let store = open(&url).await;
    let since = Utc::now() - chrono::Duration::days(1);
    store.upsert_stream(&stream("a", 1_000)).await.unwrap();
    store.upsert_stream(&stream("b", 3_000)).await.unwrap();
    store.upsert_stream(&stream("c", 2_000)).await.unwrap();
    let mut yt = LiveStream::new(Platform::Youtube, "v", "Gita");
    yt.started_at = DateTime::from_timestamp(4_000, 0);
    store.upsert_stream(&yt).await.unwrap();
    let idn = store
        .go_live_times(&[Platform::Idn], since, 10)
        .await
        .unwrap();
    let secs: Vec<i64> = idn.iter().map(|t| t.timestamp()).collect();
    assert_eq!(secs, [1_000, 3_000, 2_000], "oldest first seen first");
    let both = store
        .go_live_times(&[Platform::Idn, Platform::Youtube], since, 2)
        .await
        .unwrap();
    assert_eq!(both.len(), 2, "the limit keeps the newest");
    assert_eq!(both[1].timestamp(), 4_000);
    let none = store
        .go_live_times(&[Platform::Showroom], since, 10)
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn the_live_card_the_recap_and_recent_lives(url: String) {
    let store = open(&url).await;
    let live = |key: &str, viewers: Option<u64>, title: &str| {
        let mut s = LiveStream::new(Platform::Idn, key, key);
        s.started_at = DateTime::from_timestamp(1_700_000_000, 0);
        s.viewers = viewers;
        s.title = Some(title.into());
        s
    };
    let row = store
        .upsert_stream(&live("a", Some(800), "Hi"))
        .await
        .unwrap();
    assert_eq!(
        (row.peak_viewers, row.first_title.as_deref()),
        (Some(800), Some("Hi"))
    );
    store
        .upsert_stream(&live("a", Some(5_400), "Bye"))
        .await
        .unwrap();
    store.upsert_stream(&live("a", None, "Bye")).await.unwrap();
    let row = store
        .upsert_stream(&live("a", Some(3_100), "Bye"))
        .await
        .unwrap();
    assert_eq!(row.peak_viewers, Some(5_400), "the highest count seen");
    assert_eq!(
        row.first_title.as_deref(),
        Some("Hi"),
        "the title it went live with"
    );
    assert_eq!(row.stream.viewers, Some(3_100), "as last seen");
    let at = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
    store
        .mark_card_shown(row.id, "{\"milestone\":5000}", at)
        .await
        .unwrap();
    let row = store.get_stream(row.id).await.unwrap().unwrap();
    assert_eq!(
        (row.card.as_deref(), row.card_at),
        (Some("{\"milestone\":5000}"), Some(at))
    );

    let b = store.upsert_stream(&live("b", None, "x")).await.unwrap();
    assert!(
        store.recent_streams(10).await.unwrap().is_empty(),
        "none ended"
    );
    store.end_stream(row.id, at).await.unwrap();
    store
        .end_stream(b.id, at + chrono::Duration::seconds(60))
        .await
        .unwrap();
    let recent = store.recent_streams(10).await.unwrap();
    let keys: Vec<&str> = recent.iter().map(|s| s.stream.key.as_str()).collect();
    assert_eq!(keys, ["b", "a"], "latest end first");
    assert_eq!(store.recent_streams(1).await.unwrap().len(), 1);
}

async fn identity_webhooks_and_threads_round_trip(url: String) {
    let store = open(&url).await;
    let sub = store
        .add_subscription(NewSubscription {
            guild_id: 1,
            channel_id: 10,
            created_by: 2,
            identity: Identity::Member,
            thread: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (sub.identity, sub.thread, sub.as_member()),
        (Identity::Member, true, true)
    );
    store
        .set_identity_fallback(sub.id, Some("webhook-deleted"))
        .await
        .unwrap();
    let back = store.get_subscription(1, sub.id).await.unwrap().unwrap();
    assert_eq!(back.identity_fallback.as_deref(), Some("webhook-deleted"));
    assert!(!back.as_member());

    let token = onair::secret::Secret::new("WEBHOOK-TOKEN".to_string());
    assert!(store.channel_webhook(10).await.unwrap().is_none());
    store.save_webhook(77, 10, &token).await.unwrap();
    let hook = store.channel_webhook(10).await.unwrap().unwrap();
    assert_eq!(
        (hook.id, hook.channel_id, hook.token.expose()),
        (77, 10, "WEBHOOK-TOKEN")
    );
    assert_eq!(store.webhooks_deleted(10, sub.created_at).await.unwrap(), 0);
    store.webhook_gone(77).await.unwrap();
    assert!(store.channel_webhook(10).await.unwrap().is_none());
    assert!(store.get_webhook(77).await.unwrap().unwrap().gone);
    assert_eq!(store.webhooks_deleted(10, sub.created_at).await.unwrap(), 1);
    let later = Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(
        store.webhooks_deleted(10, later).await.unwrap(),
        0,
        "a newer subscription starts afresh"
    );
    store.save_webhook(78, 10, &token).await.unwrap();
    assert_eq!(store.channel_webhook(10).await.unwrap().unwrap().id, 78);

    let row = store
        .upsert_stream(&LiveStream::new(Platform::Idn, "a", "A"))
        .await
        .unwrap();
    let d = store
        .create_deliveries(row.id, &[(sub.id, 1, 10)])
        .await
        .unwrap()
        .remove(0);
    let t0 = Utc::now();
    store.mark_attempting(d.id, t0, Some(78)).await.unwrap();
    store
        .mark_attempting(d.id, t0 + chrono::Duration::seconds(9), None)
        .await
        .unwrap();
    let d = store.get_delivery(d.id).await.unwrap().unwrap();
    assert_eq!(d.webhook_id, None, "the last attempt's way");
    assert_eq!(
        d.first_attempt_at.map(|t| t.timestamp_millis()),
        Some(t0.timestamp_millis()),
        "the first attempt's time"
    );
    store.mark_sent(d.id, 500, Utc::now()).await.unwrap();
    let work = store.deliveries_needing_thread_work().await.unwrap();
    assert_eq!(work.len(), 1, "a thread to start");
    store.set_thread(d.id, 900).await.unwrap();
    assert!(
        store
            .deliveries_needing_thread_work()
            .await
            .unwrap()
            .is_empty(),
        "live: nothing to do"
    );
    store.mark_end_edited(d.id, Utc::now()).await.unwrap();
    let work = store.deliveries_needing_thread_work().await.unwrap();
    assert_eq!(work[0].thread_id, Some(900), "ended: to archive");
    store.mark_thread_archived(d.id, Utc::now()).await.unwrap();
    assert!(store
        .deliveries_needing_thread_work()
        .await
        .unwrap()
        .is_empty());
}

async fn leaving_a_guild_forgets_it_and_returns_its_webhooks(url: String) {
    let store = open(&url).await;
    let gone = store.add_subscription(new_sub(1, 10)).await.unwrap();
    let kept = store.add_subscription(new_sub(2, 20)).await.unwrap();
    let token = onair::secret::Secret::new("TOKEN-1".to_string());
    store.save_webhook(77, 10, &token).await.unwrap();
    store.save_webhook(88, 20, &token).await.unwrap();
    let row = store.upsert_stream(&stream("a", 1)).await.unwrap();
    let ds = store
        .create_deliveries(row.id, &[(gone.id, 1, 10), (kept.id, 2, 20)])
        .await
        .unwrap();
    let hooks = store.leave_guild(1).await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!((hooks[0].id, hooks[0].token.expose()), (77, "TOKEN-1"));
    assert!(store.list_subscriptions(1).await.unwrap().is_empty());
    assert_eq!(store.list_subscriptions(2).await.unwrap().len(), 1);
    assert!(store.channel_webhook(10).await.unwrap().is_none());
    assert!(store.channel_webhook(20).await.unwrap().is_some());
    let pending: Vec<u64> = store
        .pending_deliveries()
        .await
        .unwrap()
        .iter()
        .map(|d| d.channel_id)
        .collect();
    assert_eq!(pending, [20], "the other guild's delivery stays");
    let d = store.get_delivery(ds[0].id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Failed);
}

async fn pruning_deletes_only_what_is_older_than_the_retention(url: String) {
    let store = open(&url).await;
    let sub = store.add_subscription(new_sub(1, 10)).await.unwrap();
    let old = store.upsert_stream(&stream("old", 1)).await.unwrap();
    let recent = store.upsert_stream(&stream("recent", 2)).await.unwrap();
    let open_one = store.upsert_stream(&stream("open", 3)).await.unwrap();
    for r in [&old, &recent, &open_one] {
        store
            .create_deliveries(r.id, &[(sub.id, 1, 10)])
            .await
            .unwrap();
    }
    let now = Utc::now();
    store
        .end_stream(old.id, now - chrono::Duration::days(100))
        .await
        .unwrap();
    store
        .end_stream(recent.id, now - chrono::Duration::days(3))
        .await
        .unwrap();
    let (streams, deliveries) = store.prune(now - chrono::Duration::days(90)).await.unwrap();
    assert_eq!((streams, deliveries), (1, 1));
    assert!(store.get_stream(old.id).await.unwrap().is_none());
    assert!(store.get_stream(recent.id).await.unwrap().is_some());
    assert!(
        store.get_stream(open_one.id).await.unwrap().is_some(),
        "still live"
    );
    assert_eq!(
        store.deliveries_for_stream(recent.id).await.unwrap().len(),
        1
    );
}

async fn an_unreadable_subscription_row_is_skipped_not_fatal(url: String) {
    let store = open(&url).await;
    let bad = store.add_subscription(new_sub(1, 10)).await.unwrap();
    store.add_subscription(new_sub(2, 20)).await.unwrap();
    raw_exec(
        &url,
        &format!(
            "UPDATE subscriptions SET platform = 'myspace' WHERE id = {}",
            bad.id
        ),
    )
    .await;
    let subs = store.active_subscriptions().await.unwrap();
    assert_eq!(subs.len(), 1, "the readable one: {subs:?}");
    assert_eq!(subs[0].guild_id, 2);
}

async fn plaintext_tokens_of_an_older_version_are_sealed_at_start(url: String) {
    drop(open(&url).await);
    raw_exec(
        &url,
        "INSERT INTO webhooks (id, channel_id, token, created_at) VALUES (5, 50, 'PLAIN-TOKEN', 0)",
    )
    .await;
    let key = onair::secret::Secret::new("BOT-TOKEN".to_string());
    let store = onair::store::connect_sealed(&url, onair::store::seal::Sealer::from_secret(&key))
        .await
        .unwrap();
    assert_eq!(
        store
            .channel_webhook(50)
            .await
            .unwrap()
            .unwrap()
            .token
            .expose(),
        "PLAIN-TOKEN",
        "still usable"
    );
    let stored = raw_token(&url, 5).await;
    assert!(
        stored.starts_with("sealed:v1:") && !stored.contains("PLAIN-TOKEN"),
        "{stored}"
    );
    // Another bot token cannot open it: the webhook counts as unknown.
    let other = onair::secret::Secret::new("OTHER-BOT-TOKEN".to_string());
    let store = onair::store::connect_sealed(&url, onair::store::seal::Sealer::from_secret(&other))
        .await
        .unwrap();
    assert!(store.channel_webhook(50).await.unwrap().is_none());
}

/// One statement straight on the database, as an operator's hand would.
async fn raw_exec(url: &str, sql: &str) {
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn raw_token(url: &str, id: i64) -> String {
    let sql = format!("SELECT token FROM webhooks WHERE id = {id}");
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let t: String = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        t
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let t: String = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        t
    }
}

async fn calendar_reads_record_what_changed_and_item_deliveries_are_one_per_channel_and_slot(
    url: String,
) {
    use onair::store::{CalendarChoice, Change, Feed, ListedItem, Listing};
    let store = open(&url).await;
    let t = |min: i64| DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap();
    let item = |key: &str, at: i64, data: &str| ListedItem {
        key: key.into(),
        at: Some(t(at)),
        data: data.into(),
    };
    fn read(items: &[ListedItem], covers: bool, now: DateTime<Utc>) -> Listing<'_> {
        let t = |min: i64| DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap();
        Listing {
            kind: "theater",
            items,
            covers: covers.then(|| (t(100), t(300))),
            now,
        }
    }
    let shape = |changes: Vec<(onair::store::CalendarItem, Change)>| {
        let mut v: Vec<(String, Change)> = changes.into_iter().map(|(i, c)| (i.key, c)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };

    // The first read of a kind: its items are seeds.
    let first = [
        item("theater:1", 100, "a"),
        item("theater:2", 200, "b"),
        item("theater:3", 300, "c"),
    ];
    let changes = store.save_listing(read(&first, true, t(0))).await.unwrap();
    assert_eq!(changes.len(), 3);
    assert!(changes.iter().all(|(i, c)| *c == Change::New && i.seed));
    // A show moved, one taken off within the span, one new: not seeds.
    let second = [
        item("theater:1", 100, "a"),
        item("theater:2", 260, "b"),
        item("theater:4", 400, "d"),
    ];
    let changes = store.save_listing(read(&second, true, t(1))).await.unwrap();
    assert_eq!(
        shape(changes.clone()),
        [
            ("theater:2".to_string(), Change::Changed),
            ("theater:3".to_string(), Change::Unlisted),
            ("theater:4".to_string(), Change::New),
        ]
    );
    let new = changes.iter().find(|(i, _)| i.key == "theater:4").unwrap();
    assert!(!new.0.seed);
    let changes = store.save_listing(read(&first, false, t(2))).await.unwrap();
    assert!(shape(changes).contains(&("theater:3".to_string(), Change::Relisted)));
    let upcoming = store.calendar_items_from("theater", t(150)).await.unwrap();
    assert_eq!(
        upcoming.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        ["theater:2", "theater:3", "theater:4"]
    );
    assert_eq!(
        store
            .calendar_items_new_since("theater", t(0))
            .await
            .unwrap()
            .len(),
        1,
        "only the non-seed item"
    );

    // A calendar subscription round-trips its choice.
    let choice = CalendarChoice {
        leads: vec![60, 15],
        ..CalendarChoice::of(Feed::Theater)
    };
    let sub = store
        .add_subscription(NewSubscription {
            calendar: Some(choice.clone()),
            ..new_sub(1, 10)
        })
        .await
        .unwrap();
    assert_eq!(sub.calendar, Some(choice));

    // One delivery per (item, channel, slot), beside a live delivery.
    let show = &upcoming[0];
    let targets = [(sub.id, 1, 10), (sub.id, 1, 11)];
    let sixty = store
        .create_item_deliveries(show, "60", &targets)
        .await
        .unwrap();
    assert_eq!(sixty.len(), 2);
    assert!(sixty
        .iter()
        .all(|d| d.item_row == Some(show.id) && d.stream_row.is_none() && d.kind == "theater"));
    assert!(
        store
            .create_item_deliveries(show, "60", &targets)
            .await
            .unwrap()
            .is_empty(),
        "written once"
    );
    assert_eq!(
        store
            .create_item_deliveries(show, "15", &targets[..1])
            .await
            .unwrap()
            .len(),
        1
    );
    let row = store.upsert_stream(&stream("a", 1)).await.unwrap();
    assert_eq!(
        store
            .create_deliveries(row.id, &[(sub.id, 1, 10)])
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.deliveries_for_item(show.id).await.unwrap().len(), 3);
    assert_eq!(store.pending_deliveries().await.unwrap().len(), 4);

    // Items neither happening nor listed since the cutoff go, with their
    // deliveries.
    assert_eq!(store.prune_calendar(t(100_000)).await.unwrap(), 4);
    assert!(store.calendar_item(show.id).await.unwrap().is_none());
    assert_eq!(
        store.pending_deliveries().await.unwrap().len(),
        1,
        "the live one stays"
    );
}
