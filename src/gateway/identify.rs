//! Pacing IDENTIFYs as Discord allows them, across every process of the
//! bot: `max_concurrency` identifies per 5 s (one per rate-limit bucket,
//! `shard_id % max_concurrency`), and about 1,000 session starts a day
//! (`session_start_limit` of `/gateway/bot`).
//!
//! - In one process, each bucket's identifies are spaced by
//!   [`IDENTIFY_SPACING`].
//! - With replicas (PostgreSQL), a bucket's identify also takes a
//!   PostgreSQL advisory lock and keeps it for [`IDENTIFY_SPACING`] after
//!   the IDENTIFY went out: another process identifying in that bucket
//!   waits for it. A process that dies frees the lock with its connection.
//! - Before connecting, and before an identify when the count it keeps
//!   runs low, the bot reads `session_start_limit`; with fewer starts left
//!   than it needs plus [`STARTS_RESERVE`], it waits for the reset, saying
//!   when, instead of spending the rest (a restart loop would otherwise
//!   lock the bot out until the reset).

use std::str::FromStr;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Discord's window is 5 s per bucket, measured on its side; half a second
/// more keeps two identifies apart whatever the network did between.
pub const IDENTIFY_SPACING: Duration = Duration::from_millis(5500);

/// Session starts left untouched for the operator (a manual restart, a
/// second deployment): the bot waits for the reset rather than go below.
pub const STARTS_RESERVE: u64 = 10;

/// How long to wait for the database before pacing this process alone.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock keys of the identify buckets: this base plus the
/// bucket (apart from the leader lock's key).
const LOCK_BASE: i64 = 0x006f_6e61_6900_0000;

/// What `/gateway/bot` said about session starts, and when it was read.
#[derive(Debug, Clone, Copy)]
pub struct Starts {
    pub total: u64,
    pub remaining: u64,
    pub reset_at: Instant,
    pub max_concurrency: u64,
}

impl Starts {
    pub fn of(limit: &serenity::SessionStartLimit) -> Starts {
        Starts {
            total: limit.total,
            remaining: limit.remaining,
            reset_at: Instant::now() + Duration::from_millis(limit.reset_after),
            max_concurrency: limit.max_concurrency.max(1),
        }
    }
}

/// Whether `starts` leaves enough for `needed` session starts.
pub fn enough(starts: &Starts, needed: u64) -> bool {
    starts.remaining >= needed.saturating_add(STARTS_RESERVE)
}

/// Read `/gateway/bot` until it leaves enough starts for `needed` (None:
/// as many as the shards Discord recommends), waiting for each reset it
/// names (logged with the time). Returns what it read last; at shutdown,
/// at once.
pub async fn wait_for_starts(
    http: &serenity::Http,
    needed: Option<u64>,
    shutdown: &CancellationToken,
) -> Result<Starts, serenity::Error> {
    loop {
        let gateway = http.get_bot_gateway().await?;
        let starts = Starts::of(&gateway.session_start_limit);
        let needed = needed.unwrap_or(u64::from(gateway.shards.max(1)));
        if enough(&starts, needed) || shutdown.is_cancelled() {
            return Ok(starts);
        }
        let wait = starts.reset_at.saturating_duration_since(Instant::now());
        let reset_at = (chrono::Utc::now()
            + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::zero()))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tracing::error!(
            remaining = starts.remaining,
            total = starts.total,
            needed,
            reserve = STARTS_RESERVE,
            "gateway: too few session starts left today; not identifying until Discord resets them at {reset_at}"
        );
        tokio::select! {
            () = tokio::time::sleep(wait + Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return Ok(starts),
        }
    }
}

/// The identify gate of one process.
pub struct Gate {
    http: std::sync::Arc<serenity::Http>,
    starts: tokio::sync::Mutex<Starts>,
    /// Per bucket: when its last IDENTIFY went out from this process.
    last: Vec<tokio::sync::Mutex<Option<Instant>>>,
    /// The database the replicas share (PostgreSQL), to pace across them.
    replicas: Option<crate::secret::Secret>,
}

impl Gate {
    pub fn new(
        http: std::sync::Arc<serenity::Http>,
        starts: Starts,
        replicas: Option<crate::secret::Secret>,
    ) -> Gate {
        Gate {
            http,
            last: (0..starts.max_concurrency)
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            starts: tokio::sync::Mutex::new(starts),
            replicas,
        }
    }

    /// Wait until shard `shard_id` may IDENTIFY now. False at shutdown.
    pub async fn admit(&self, shard_id: u64, shutdown: &CancellationToken) -> bool {
        tokio::select! {
            () = self.admit_inner(shard_id, shutdown) => true,
            () = shutdown.cancelled() => false,
        }
    }

    async fn admit_inner(&self, shard_id: u64, shutdown: &CancellationToken) {
        {
            // A restart loop spends starts: re-read before going too low.
            let mut starts = self.starts.lock().await;
            if !enough(&starts, 1) {
                if let Ok(read) = wait_for_starts(&self.http, Some(1), shutdown).await {
                    *starts = read;
                }
            }
            starts.remaining = starts.remaining.saturating_sub(1);
        }
        let buckets = self.last.len().max(1) as u64;
        let bucket = shard_id % buckets;
        let Some(slot) = self.last.get(bucket as usize) else {
            return;
        };
        let mut last = slot.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + IDENTIFY_SPACING).await;
        }
        if let Some(url) = &self.replicas {
            across_replicas(url, bucket as i64).await;
        }
        *last = Some(Instant::now());
    }
}

/// Take the bucket's advisory lock (waiting while another replica holds
/// it) and keep it for [`IDENTIFY_SPACING`] from now, in the background.
/// A database that does not answer leaves the pacing to this process.
async fn across_replicas(url: &crate::secret::Secret, bucket: i64) {
    let connect = async {
        let options = PgConnectOptions::from_str(url.expose())?.application_name("onair-identify");
        let mut conn = options.connect().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(LOCK_BASE + bucket)
            .execute(&mut conn)
            .await?;
        Ok::<_, sqlx::Error>(conn)
    };
    // The lock waits at most one spacing per replica ahead of this one.
    match tokio::time::timeout(DB_TIMEOUT + IDENTIFY_SPACING * 4, connect).await {
        Ok(Ok(conn)) => {
            tokio::spawn(async move {
                tokio::time::sleep(IDENTIFY_SPACING).await;
                // Closing the session frees its lock.
                let _ = conn.close().await;
            });
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "gateway: cannot pace identifies with the other replicas (database); pacing this process alone");
        }
        Err(_) => {
            tracing::warn!("gateway: the identify lock took too long; identifying anyway");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_below_what_is_needed_plus_the_reserve_are_not_enough() {
        let s = |remaining| Starts {
            total: 1000,
            remaining,
            reset_at: Instant::now(),
            max_concurrency: 1,
        };
        assert!(enough(&s(999), 1));
        assert!(enough(&s(11), 1));
        assert!(!enough(&s(10), 1));
        assert!(!enough(&s(13), 4));
        assert!(enough(&s(14), 4));
    }
}
