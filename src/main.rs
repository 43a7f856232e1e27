//! The `onair` binary: parse the CLI, set up tracing, call into the library.

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use onair::cli::{self, LiveArgs, EXIT_CONFIG, EXIT_OK, EXIT_PROVIDER};
use onair::config::Config;
use onair::live::Platform;

#[derive(Parser)]
#[command(
    name = "onair",
    version,
    about = "Tells a Discord server who is live right now"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Discord bot (the default)
    Run,
    /// Print who is live now across the configured providers
    Live {
        /// Only this platform (idn, showroom, youtube, tiktok, realtimekit)
        #[arg(long)]
        platform: Option<Platform>,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Also ask KonbiniAPI about this TikTok username (repeatable)
        #[arg(long = "tiktok", value_name = "USER")]
        tiktok: Vec<String>,
    },
    /// Validate the configuration and reach every configured provider once
    Check,
    /// Ask the running bot's /readyz (on HTTP_ADDR): exit 0 when ready, 1
    /// when not (a container healthcheck; the image has no curl)
    Ready,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    onair::logging::init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("configuration error: {e}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let code = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run_bot(config).await,
        Command::Live {
            platform,
            json,
            tiktok,
        } => {
            let args = LiveArgs {
                platform,
                json,
                tiktok,
            };
            cli::live(
                &config,
                &args,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )
            .await
        }
        Command::Check => cli::check(&config, &mut std::io::stdout()).await,
        Command::Ready => cli::ready(&config, &mut std::io::stdout()).await,
    };
    std::process::exit(code);
}

async fn run_bot(config: Config) -> i32 {
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match onair::bot::run(config, shutdown).await {
        Ok(()) => EXIT_OK,
        Err(onair::bot::RunError::Config(e)) => {
            tracing::error!("configuration error: {e}");
            EXIT_CONFIG
        }
        Err(e) => {
            tracing::error!("{e}");
            EXIT_PROVIDER
        }
    }
}

/// SIGINT or SIGTERM cancels the token: the bot closes its gateway
/// connection and the pollers stop.
async fn stop_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("signal received");
    token.cancel();
    // Whatever the gateway or the outbox is doing, the process ends within
    // the deadline (a container stop escalates to SIGKILL after 10 s).
    tokio::time::sleep(onair::bot::SHUTDOWN_DEADLINE).await;
    tracing::error!(
        deadline = ?onair::bot::SHUTDOWN_DEADLINE,
        "shutdown is taking too long; exiting now"
    );
    std::process::exit(EXIT_PROVIDER);
}
