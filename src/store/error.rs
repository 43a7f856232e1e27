//! What can go wrong in the store, with the cause attached.

use std::path::PathBuf;

/// One error type for the store layer: callers tell a failed query from a
/// database that cannot be opened, and the sqlx or I/O error that caused it
/// stays attached as the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database refused the connection or its address is wrong.
    #[error("could not open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The database file (or its lock beside it) could not be opened.
    #[error("could not open the database: {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The database opened but cannot serve onair (why, in words).
    #[error("could not open the database: {0}")]
    Open(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
