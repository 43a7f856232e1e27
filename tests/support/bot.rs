//! Start the real bot in-process, pointed at the fakes, and stop it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use onair::config::Config;
use tokio_util::sync::CancellationToken;

use super::discord::FakeDiscord;

pub const TOKEN: &str = "FAKE-DISCORD-TOKEN-SECRET";

pub struct TestBot {
    pub shutdown: CancellationToken,
    secrets: Vec<String>,
    task: Option<tokio::task::JoinHandle<Result<(), onair::bot::RunError>>>,
}

/// The `onair` binary itself (the release path, not the library), started
/// in `dir` with exactly `vars`, `RUST_LOG=rust_log`, stderr to `stderr`.
pub fn spawn_binary(
    vars: &HashMap<String, String>,
    dir: &std::path::Path,
    rust_log: &str,
    stderr: std::process::Stdio,
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", rust_log)
        .envs(vars)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("start the onair binary")
}

/// Point the bot at a fake JKT48Connect (with a key), nobody live yet.
pub fn use_jkt(vars: &mut HashMap<String, String>, jkt: &super::fake_providers::FakeProvider) {
    jkt.set(
        "GET /api/jkt48/live",
        super::fake_providers::Reply::json(serde_json::json!([])),
    );
    vars.insert("JKT48CONNECT_API_KEY".into(), "JKT-SECRET-KEY".into());
    vars.insert("JKT48CONNECT_URL".into(), jkt.url());
}

/// Subscribe `channel` of `guild` to every live (no filter).
pub async fn subscribe_everything(
    store: &std::sync::Arc<dyn onair::store::Store>,
    guild: u64,
    channel: u64,
) -> onair::store::Subscription {
    store
        .add_subscription(onair::store::NewSubscription {
            guild_id: guild,
            channel_id: channel,
            created_by: 1,
            ..Default::default()
        })
        .await
        .expect("subscription saved")
}

/// Wait (polling the store) until delivery `id` has `status`.
pub async fn wait_delivery(
    store: &std::sync::Arc<dyn onair::store::Store>,
    id: i64,
    status: onair::store::DeliveryStatus,
    timeout: Duration,
) -> onair::store::Delivery {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let d = store.get_delivery(id).await.ok().flatten();
        if let Some(d) = d.as_ref().filter(|d| d.status == status) {
            return d.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery {id} never became {status:?}: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Variables for a bot talking to `discord`, with its database in `db_dir`.
pub fn env(discord: &FakeDiscord, db_dir: &std::path::Path) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("DISCORD_TOKEN".into(), TOKEN.into());
    m.insert("DISCORD_API_URL".into(), discord.api_url());
    m.insert(
        "DATABASE_URL".into(),
        format!("sqlite://{}", db_dir.join("onair.db").display()),
    );
    m.insert("POLL_INTERVAL_SECS".into(), "1".into());
    // The fakes are unmetered (a 1 s interval would otherwise be planned
    // against JKT48Connect's default 1,000 calls); budgets have their own
    // tests, which set a number.
    m.insert("JKT48CONNECT_CALLS_PER_MONTH".into(), "unlimited".into());
    m.insert("END_GRACE_SECS".into(), "2".into());
    m.insert("DISCORD_GLOBAL_RPS".into(), "200".into());
    // Off unless a test asks (many bots run side by side).
    m.insert("HTTP_ADDR".into(), String::new());
    m
}

/// Every log line of this test binary, captured at TRACE through the
/// bot's own filter, so each test can check that no secret was logged.
/// `TEST_LOG=debug cargo test ...` prints logs instead (no capture).
pub fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        if let Ok(filter) = std::env::var("TEST_LOG") {
            onair::logging::install(onair::logging::subscriber(
                &filter,
                tracing_subscriber::fmt::TestWriter::new(),
                true,
            ));
        } else {
            let writer = Arc::clone(&buf);
            onair::logging::install(onair::logging::subscriber(
                "trace",
                move || Capture(Arc::clone(&writer)),
                false,
            ));
        }
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Panic if any of `secrets` appears in the captured logs, plainly or in a
/// byte array a library printed.
pub fn assert_no_secret_logged(secrets: &[String]) {
    let logs = captured_logs().lock().unwrap_or_else(|e| e.into_inner());
    let text = String::from_utf8_lossy(&logs);
    if let Some(leak) = super::secrets::find_leak(&text, secrets) {
        panic!("secret leaked into the logs: {leak}");
    }
}

/// The secret values among the bot's variables.
pub fn secrets_of(vars: &HashMap<String, String>) -> Vec<String> {
    vars.iter()
        .filter(|(k, _)| k.ends_with("_KEY") || k.ends_with("_TOKEN"))
        .map(|(_, v)| v.clone())
        .filter(|v| v.len() >= 6)
        .collect()
}

impl TestBot {
    /// Start the bot and wait until it identified on the fake gateway.
    pub async fn start(discord: &FakeDiscord, vars: &HashMap<String, String>) -> TestBot {
        captured_logs();
        let config = Config::from_map(vars).expect("test config is valid");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(onair::bot::run(config, shutdown.clone()));
        let bot = TestBot {
            shutdown,
            secrets: secrets_of(vars),
            task: Some(task),
        };
        discord.wait_ready(Duration::from_secs(20)).await;
        bot
    }

    /// Stop the bot (as SIGTERM would) and wait for it to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(15), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("bot ended with an error: {e}"),
                Ok(Err(e)) => panic!("bot task panicked: {e}"),
                Err(_) => panic!("bot did not shut down within 15 s"),
            }
        }
        assert_no_secret_logged(&self.secrets);
    }

    /// Drop the bot without a clean shutdown (a crash).
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
