//! Start the real bot in-process, pointed at the fakes, and stop it.

use std::collections::HashMap;
use std::time::Duration;

use onair::config::Config;
use tokio_util::sync::CancellationToken;

use super::discord::FakeDiscord;

pub const TOKEN: &str = "FAKE-DISCORD-TOKEN-SECRET";

pub struct TestBot {
    pub shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), onair::bot::RunError>>>,
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
    m.insert("END_GRACE_SECS".into(), "2".into());
    m.insert("DISCORD_GLOBAL_RPS".into(), "200".into());
    m
}

/// Logs for debugging a test: `TEST_LOG=debug cargo test ...`.
pub fn init_logs() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(onair::logging::filter(&filter))
            .with_test_writer()
            .try_init();
    }
}

impl TestBot {
    /// Start the bot and wait until it identified on the fake gateway.
    pub async fn start(discord: &FakeDiscord, vars: &HashMap<String, String>) -> TestBot {
        init_logs();
        let config = Config::from_map(vars).expect("test config is valid");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(onair::bot::run(config, shutdown.clone()));
        let bot = TestBot {
            shutdown,
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
