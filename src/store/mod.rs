//! The store: subscriptions, the broadcasts seen, every delivery (the
//! outbox's records), the channel webhooks, provider budgets and the shared
//! snapshot. Callers hold an `Arc<dyn Store>`, served by SQLite (embedded,
//! the default) or PostgreSQL (`DATABASE_URL=postgres://…`, for several
//! processes on one database). Each table group is its own trait in its
//! own module; both engines run the same SQL ([`sql`]).

mod budgets;
mod calendar;
mod deliveries;
mod error;
mod postgres;
pub mod seal;
mod snapshot;
mod sql;
mod sqlite;
mod streams;
mod subscriptions;
mod webhooks;

use std::sync::Arc;

pub use budgets::BudgetTable;
pub use calendar::{
    CalendarChoice, CalendarItem, CalendarTable, Change, Feed, ListedItem, Listing,
};
pub use deliveries::{Delivery, DeliveryStatus, DeliveryTable, KIND_LIVE};
pub use error::StoreError;
pub use postgres::PgStore;
pub use snapshot::{SnapshotTable, StateNotices, SNAPSHOT_CHANNEL};
pub use sqlite::SqliteStore;
pub use streams::{StoredStream, StreamTable};
pub use subscriptions::{Identity, NewSubscription, Subscription, SubscriptionTable};
pub use webhooks::{StoredWebhook, WebhookTable};

/// Everything the bot persists: every table group. Code that needs only
/// one group takes that trait (`Arc<dyn Store>` upcasts to it).
pub trait Store:
    SubscriptionTable
    + StreamTable
    + DeliveryTable
    + CalendarTable
    + WebhookTable
    + BudgetTable
    + SnapshotTable
{
}

impl<T> Store for T where
    T: SubscriptionTable
        + StreamTable
        + DeliveryTable
        + CalendarTable
        + WebhookTable
        + BudgetTable
        + SnapshotTable
{
}

/// The database engine a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite:…`: embedded, one bot process per file.
    Sqlite,
    /// `postgres://…` or `postgresql://…`: shared by any number of processes.
    Postgres,
}

impl Engine {
    /// The engine of `database_url`; `None` for anything else.
    pub fn of(database_url: &str) -> Option<Engine> {
        if database_url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// Held by the bot for as long as it runs on a SQLite file: a second bot
/// process on the same file refuses to start (SQLite serves one process;
/// several replicas share a PostgreSQL database instead). Released when
/// dropped or when the process dies.
#[derive(Debug)]
pub struct ProcessLock {
    _file: std::fs::File,
}

/// Claim `DATABASE_URL` for this bot process. PostgreSQL and in-memory
/// databases need no claim (`None`); a SQLite file is claimed by an
/// exclusive lock on `<file>.lock` beside it.
pub fn claim(database_url: &str) -> Result<Option<ProcessLock>, StoreError> {
    use std::str::FromStr;
    if Engine::of(database_url) != Some(Engine::Sqlite) || database_url.contains(":memory:") {
        return Ok(None);
    }
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(database_url).map_err(StoreError::Connect)?;
    let mut path = options.get_filename().as_os_str().to_owned();
    path.push(".lock");
    let path = std::path::PathBuf::from(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::File {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ProcessLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Open(format!(
            "another onair process is already running on {} (its lock {} is held): SQLite serves \
             one process at a time; stop the other one, or run several replicas on a shared \
             DATABASE_URL=postgres://…",
            options.get_filename().display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::File { path, source }),
    }
}

/// Open the store the bot runs on: [`connect`], with webhook tokens sealed
/// under a key derived from the bot token ([`seal`]).
pub async fn connect_sealed(
    database_url: &str,
    sealer: seal::Sealer,
) -> Result<Arc<dyn Store>, StoreError> {
    prepare_file(database_url)?;
    match Engine::of(database_url) {
        Some(Engine::Postgres) => Ok(Arc::new(
            PgStore::connect(database_url)
                .await?
                .seal_with(sealer)
                .await?,
        )),
        Some(Engine::Sqlite) => Ok(Arc::new(
            SqliteStore::connect(database_url)
                .await?
                .seal_with(sealer)
                .await?,
        )),
        None => Err(StoreError::Unsupported(
            "DATABASE_URL must start with sqlite:// or postgres://",
        )),
    }
}

/// A SQLite file that does not exist yet is created readable and writable
/// by its owner only (0600), before SQLite opens it: its journal files take
/// the same mode. An existing file is left as the operator set it.
fn prepare_file(database_url: &str) -> Result<(), StoreError> {
    use std::str::FromStr;
    if Engine::of(database_url) != Some(Engine::Sqlite) || database_url.contains(":memory:") {
        return Ok(());
    }
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(database_url).map_err(StoreError::Connect)?;
    let path = options.get_filename();
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Open the store named by `DATABASE_URL` and run the migrations. Webhook
/// tokens it seals are readable by this process only (tools and tests; the
/// bot uses [`connect_sealed`]).
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    prepare_file(database_url)?;
    match Engine::of(database_url) {
        Some(Engine::Postgres) => Ok(Arc::new(PgStore::connect(database_url).await?)),
        Some(Engine::Sqlite) => Ok(Arc::new(SqliteStore::connect(database_url).await?)),
        None => Err(StoreError::Unsupported(
            "DATABASE_URL must start with sqlite:// or postgres://",
        )),
    }
}
