//! One leader among the onair processes sharing a database, for the work
//! that must happen once (`crate::work`). On SQLite there is one process,
//! and it always leads. On PostgreSQL the leader is the process holding an
//! advisory lock on a dedicated connection:
//!
//! - followers try the lock every [`RETRY`];
//! - the leader checks its lock connection every [`CHECK`]; a failed or
//!   slow check ends its term at once (its work stops sending);
//! - a process that wins the lock waits [`HANDOVER`] (more than two checks)
//!   before it starts: when the old leader's connection was cut, the old
//!   leader has stopped by then, so no two processes ever dispatch together.
//!
//! A leader that dies or loses its connection frees the lock with its
//! session; another process takes over within `RETRY + HANDOVER`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio_util::sync::CancellationToken;

/// How often a follower tries to become the leader.
pub const RETRY: Duration = Duration::from_secs(1);
/// How often the leader proves its lock connection alive (and how long the
/// proof may take).
pub const CHECK: Duration = Duration::from_millis(400);
/// How long a new leader waits before it starts: longer than an old
/// leader's detection (`2 × CHECK`) with room to stop.
pub const HANDOVER: Duration = Duration::from_millis(2000);

/// How long a process whose term just ended waits before it tries again,
/// so that another replica (whose connection is fine) takes over.
pub const STEP_ASIDE: Duration = Duration::from_secs(5);

/// The advisory lock key ("onair" in ASCII).
const LOCK_KEY: i64 = 0x006f_6e61_6972;

/// How leadership is decided.
#[derive(Debug, Clone)]
pub enum Election {
    /// The only process (SQLite): always the leader.
    Solo,
    /// Processes sharing the PostgreSQL database at this URL.
    Postgres(crate::secret::Secret),
}

/// One term of leadership: `lost` is cancelled when it ends.
pub struct Term {
    pub lost: CancellationToken,
    watchdog: Option<tokio::task::JoinHandle<()>>,
}

impl Term {
    /// Give the leadership up (shutdown): the lock connection is closed.
    pub async fn end(mut self) {
        self.lost.cancel();
        if let Some(w) = self.watchdog.take() {
            let _ = w.await;
        }
    }
}

impl Election {
    /// Wait until this process leads; `None` on shutdown.
    pub async fn win(&self, shutdown: &CancellationToken) -> Option<Term> {
        match self {
            Election::Solo => Some(Term {
                lost: CancellationToken::new(),
                watchdog: None,
            }),
            Election::Postgres(url) => win_postgres(url.expose(), shutdown).await,
        }
    }
}

async fn win_postgres(url: &str, shutdown: &CancellationToken) -> Option<Term> {
    let options = match PgConnectOptions::from_str(url) {
        Ok(o) => o.application_name("onair-leader-lock"),
        Err(e) => {
            tracing::error!(error = %e, "DATABASE_URL: cannot take part in the leader election");
            shutdown.cancelled().await;
            return None;
        }
    };
    let mut announced_follower = false;
    loop {
        let mut conn = match pause(shutdown, options.connect()).await? {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "leader election: cannot reach the database; retrying");
                pause(shutdown, tokio::time::sleep(RETRY)).await?;
                continue;
            }
        };
        // Try until won, or until this connection fails (then reconnect).
        let won = loop {
            let won: Result<bool, sqlx::Error> = pause(
                shutdown,
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut conn),
            )
            .await?;
            match won {
                Ok(true) => break true,
                Ok(false) => {
                    if !announced_follower {
                        tracing::info!("another process leads: following (answering commands from the shared snapshot)");
                        announced_follower = true;
                    }
                    pause(shutdown, tokio::time::sleep(RETRY)).await?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: the lock connection failed; reconnecting");
                    break false;
                }
            }
        };
        if !won {
            continue;
        }
        // Won. Let a previous leader whose connection was cut notice and
        // stop before this one starts.
        tracing::info!(handover = ?HANDOVER, "won the leader lock; taking over after the handover wait");
        pause(shutdown, tokio::time::sleep(HANDOVER)).await?;
        if !alive(&mut conn).await {
            tracing::warn!("lost the lock connection during the handover wait; trying again");
            continue;
        }
        let lost = CancellationToken::new();
        let watchdog = tokio::spawn(watch_lock(conn, lost.clone()));
        return Some(Term {
            lost,
            watchdog: Some(watchdog),
        });
    }
}

/// Check the lock connection every [`CHECK`]; cancel `lost` when a check
/// fails or takes too long. Dropping the connection (on either end of the
/// term) closes its session, which frees the lock.
async fn watch_lock(mut conn: PgConnection, lost: CancellationToken) {
    loop {
        tokio::select! {
            () = lost.cancelled() => break,
            () = tokio::time::sleep(CHECK) => {}
        }
        if !alive(&mut conn).await {
            tracing::error!("the leader lock connection failed: stopping the leader's work now");
            lost.cancel();
            break;
        }
    }
    // A clean close when possible (a dead one is just dropped).
    let _ = tokio::time::timeout(CHECK, conn.close()).await;
}

async fn alive(conn: &mut PgConnection) -> bool {
    matches!(
        tokio::time::timeout(CHECK, sqlx::query("SELECT 1").execute(&mut *conn)).await,
        Ok(Ok(_))
    )
}

/// `f`, unless shutdown comes first (`None`).
async fn pause<T>(
    shutdown: &CancellationToken,
    f: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        () = shutdown.cancelled() => None,
        v = f => Some(v),
    }
}
