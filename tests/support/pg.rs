//! A fresh PostgreSQL database per test, on the server named by
//! `ONAIR_TEST_POSTGRES_URL` (`.ci/run` starts a throwaway cluster and sets
//! it). Unset on a developer's machine, PostgreSQL tests are skipped with a
//! loud line on stderr. Unset with `CI` set (any CI runner sets it), they
//! fail: a CI that runs the README command without a server must not pass
//! with every PostgreSQL test skipped.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

pub const VAR: &str = "ONAIR_TEST_POSTGRES_URL";

/// The server's URL, or `None` after saying loudly that the test is
/// skipped; under CI (`CI` set and not "false"), a panic instead.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if under_ci() => panic!(
            "{test} needs PostgreSQL and CI is set: set {VAR} (`bash .ci/run` starts a server and sets it)"
        ),
        _ => {
            // Straight to the process's stderr, past the test harness's
            // capture, so a skip is never silent.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "!!! SKIPPED {test} on PostgreSQL: {VAR} is unset (`bash .ci/run` starts a server and sets it) !!!"
            );
            None
        }
    }
}

/// Whether this runs under CI: `CI` set to anything but "" or "false"
/// (GitHub Actions, GitLab and most runners set `CI=true`).
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// One database, dropped (with its connections) when this is dropped.
pub struct TestDb {
    pub url: String,
    server: String,
    name: String,
}

/// A new, empty database on the test server.
pub async fn fresh_database(test: &str) -> Option<TestDb> {
    static N: AtomicU32 = AtomicU32::new(0);
    let server = server_url(test)?;
    let name = format!(
        "onair_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>()
            .to_lowercase()
    );
    let mut admin = connect(&server).await;
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE on the test server");
    let _ = admin.close().await;
    let url = with_database(&server, &name);
    Some(TestDb { url, server, name })
}

async fn connect(url: &str) -> PgConnection {
    PgConnectOptions::from_str(url)
        .expect("ONAIR_TEST_POSTGRES_URL parses")
        .connect()
        .await
        .expect("the test PostgreSQL server answers")
}

/// `url` with its database replaced by `name` (keeps `?host=` etc.).
fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("ONAIR_TEST_POSTGRES_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

impl TestDb {
    /// Cut every client off this database and refuse new connections (the
    /// database server is there, this database is not reachable).
    pub async fn cut_off(&self) {
        self.admin(&[
            format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false", self.name),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ),
        ])
        .await;
    }

    /// Let clients connect again after [`TestDb::cut_off`].
    pub async fn restore(&self) {
        self.admin(&[format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true",
            self.name
        )])
        .await;
    }

    /// One number from `sql`, run in this database.
    pub async fn query_scalar_i64(&self, sql: &str) -> i64 {
        let mut conn = connect(&self.url).await;
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("query on the test database");
        let _ = conn.close().await;
        n
    }

    async fn admin(&self, statements: &[String]) {
        let mut admin = connect(&self.server).await;
        for sql in statements {
            sqlx::raw_sql(sql)
                .execute(&mut admin)
                .await
                .expect("admin statement on the test server");
        }
        let _ = admin.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs outside any runtime guarantee: use a small one of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for DROP DATABASE");
            rt.block_on(async {
                let mut admin = connect(&server).await;
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            });
        })
        .join();
    }
}
