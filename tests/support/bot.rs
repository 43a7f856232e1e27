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

/// The `onair` binary running (the release path, not the library). Its
/// log (stderr) always goes to a file in its directory, which is scanned
/// for secrets when it is dropped: the variables' keys and tokens, and any
/// interaction or webhook token the fake Discord handed out.
pub struct Binary {
    pub child: tokio::process::Child,
    pub log_path: std::path::PathBuf,
    secrets: Vec<String>,
}

impl Binary {
    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Wait until the log has a line for which `pred` holds; that line.
    pub async fn wait_log(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.log().lines().find(|l| pred(l)) {
                return line.to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what} in the log:\n{}",
                self.log()
            );
            // Polling a file: nothing notifies a write to it.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, as `docker stop` sends it.
    pub fn sigterm(&self) {
        let pid = self.child.id().expect("running") as i32;
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "SIGTERM sent");
    }

    /// Wait for the process to end by itself: its status and log.
    pub async fn exit(&mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the process did not end within {timeout:?}:\n{}",
                    self.log()
                )
            })
            .expect("wait for the process");
        (status, self.log())
    }
}

impl std::ops::Deref for Binary {
    type Target = tokio::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.child
    }
}

impl std::ops::DerefMut for Binary {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.child
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            return;
        }
        let text = self.log();
        if let Some(leak) = super::secrets::find_leak(&text, &self.secrets) {
            panic!("secret leaked into {}: {leak}", self.log_path.display());
        }
    }
}

/// Start the `onair` binary in `dir` with exactly `vars` and
/// `RUST_LOG=rust_log`, its log to a new file in `dir`.
pub fn spawn_binary(
    vars: &HashMap<String, String>,
    dir: &std::path::Path,
    rust_log: &str,
) -> Binary {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let log_path = dir.join(format!("onair-{n}.log"));
    let log = std::fs::File::create(&log_path).expect("create the log file");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", rust_log)
        .envs(vars)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start the onair binary");
    Binary {
        child,
        log_path,
        secrets: secrets_of(vars),
    }
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

/// Wait until every delivery in `ids` satisfies `done` (polling the store,
/// which says nothing when it changes).
pub async fn wait_deliveries(
    store: &std::sync::Arc<dyn onair::store::Store>,
    ids: std::ops::RangeInclusive<i64>,
    what: &str,
    timeout: Duration,
    done: impl Fn(&onair::store::Delivery) -> bool,
) -> Vec<onair::store::Delivery> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut all = Vec::new();
        for id in ids.clone() {
            if let Some(d) = store.get_delivery(id).await.ok().flatten() {
                all.push(d);
            }
        }
        if all.len() == ids.clone().count() && all.iter().all(&done) {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}: {all:?}"
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
    // DISCORD_GLOBAL_RPS stays at its default (40/s): the fake holds the
    // bot to Discord's 50/s, as Discord does.
    // Off unless a test asks (many bots run side by side).
    m.insert("HTTP_ADDR".into(), String::new());
    m
}

/// Every log line of this test binary, captured at TRACE through the
/// bot's own filter, so each test can check that no secret was logged.
/// With `TEST_LOG` set (any value) every captured line is also printed
/// (all of it, at TRACE); the capture, and so the scan, stays on.
pub fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buf);
        let echo = std::env::var("TEST_LOG").ok();
        onair::logging::install(onair::logging::subscriber(
            "trace",
            move || Capture {
                buf: Arc::clone(&writer),
                echo: echo.is_some(),
            },
            false,
        ));
        buf
    })
}

struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    /// Also print (TEST_LOG set).
    echo: bool,
}

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        if self.echo {
            // Through the test harness's capture, like `TestWriter`.
            eprint!("{}", String::from_utf8_lossy(b));
        }
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

/// The secret values among the bot's variables, and the common part of
/// every interaction and webhook token the fake Discord hands out (any of
/// them in a log is a leak).
pub fn secrets_of(vars: &HashMap<String, String>) -> Vec<String> {
    let mut secrets: Vec<String> = vars
        .iter()
        .filter(|(k, _)| k.ends_with("_KEY") || k.ends_with("_TOKEN"))
        .map(|(_, v)| v.clone())
        .filter(|v| v.len() >= 6)
        .collect();
    secrets.extend(super::discord::TOKEN_MARKERS.iter().map(|m| m.to_string()));
    secrets
}

/// Wait until every command the bot registers with `config` is registered
/// where it goes (Discord sends interactions only for those; the fake
/// refuses to push others).
pub async fn wait_commands_registered(discord: &FakeDiscord, config: &Config, timeout: Duration) {
    let commands = onair::commands::all_with(config);
    let names: Vec<String> = commands.iter().map(|c| c.name.to_string()).collect();
    let ops = onair::commands::operator_commands(&commands);
    let plan = onair::startup::registration_plan(
        &names,
        &ops,
        config.dev_guild_id,
        &config.operator_guild_ids,
    );
    for (scope, set) in plan {
        let guild = match scope {
            onair::startup::Scope::Global => None,
            onair::startup::Scope::Guild(g) => Some(g),
        };
        for i in set {
            discord.wait_registered(&names[i], guild, timeout).await;
        }
    }
}

/// [`wait_commands_registered`] for a bot (a spawned binary) started with
/// `vars`.
pub async fn wait_registered_with(discord: &FakeDiscord, vars: &HashMap<String, String>) {
    let config = Config::from_map(vars).expect("test config is valid");
    wait_commands_registered(discord, &config, Duration::from_secs(30)).await;
}

impl TestBot {
    /// Start the bot and wait until it identified on the fake gateway
    /// (its own IDENTIFY: one more than before it started) and its
    /// commands are registered.
    pub async fn start(discord: &FakeDiscord, vars: &HashMap<String, String>) -> TestBot {
        captured_logs();
        let before = discord.identified_count();
        let config = Config::from_map(vars).expect("test config is valid");
        let waited_config = config.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(onair::bot::run(config, shutdown.clone()));
        let bot = TestBot {
            shutdown,
            secrets: secrets_of(vars),
            task: Some(task),
        };
        discord
            .wait_identified(before + 1, Duration::from_secs(20))
            .await;
        wait_commands_registered(discord, &waited_config, Duration::from_secs(20)).await;
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
