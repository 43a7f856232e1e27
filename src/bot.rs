//! Wiring: the Discord client (poise + serenity), the pollers, shutdown.
//! Tests and the binary start the bot through [`run`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use poise::serenity_prelude as serenity;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::live::LiveStream;
use crate::providers::realtimekit::LivestreamStatus;
use crate::providers::{http_client, ProviderName, REQUEST_TIMEOUT};
use crate::snapshot::Snapshot;
use crate::tiktok_cache::TiktokCache;
use crate::types::{Data, Error, Providers};
use crate::watch::poll_loop;

/// How long a `/tiktok` answer is reused.
pub const TIKTOK_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Discord: {0}")]
    Discord(#[from] serenity::Error),
}

/// The serenity `Http`: proxy mode (our own pacing, serenity's ratelimiter
/// off, which it must be for the proxy to be honoured) when
/// `DISCORD_API_URL` is set.
pub fn discord_http(config: &Config) -> Result<serenity::Http, ConfigError> {
    let token = config.discord_token.as_ref().ok_or(ConfigError::Missing {
        var: "DISCORD_TOKEN",
        why: "to run the bot",
    })?;
    let builder = serenity::HttpBuilder::new(token.expose());
    Ok(match &config.discord_api_url {
        Some(url) => builder
            .proxy(url.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build(),
        None => builder.build(),
    })
}

/// Start one poll loop per configured polled source.
pub fn spawn_pollers(
    providers: &Providers,
    snapshot: &Arc<Snapshot>,
    interval: Duration,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(j) = providers.jkt48connect.clone() {
        tasks.push(tokio::spawn(poll_loop(
            ProviderName::Jkt48Connect,
            interval,
            Arc::clone(snapshot),
            move || {
                let j = j.clone();
                async move { j.live().await }
            },
            |_| {},
            shutdown.clone(),
        )));
    }
    if let Some(r) = providers.realtimekit.clone() {
        tasks.push(tokio::spawn(poll_loop(
            ProviderName::RealtimeKit,
            interval,
            Arc::clone(snapshot),
            move || {
                let r = r.clone();
                async move {
                    let list = r.list_livestreams().await?;
                    Ok(list
                        .iter()
                        .filter(|l| l.status == LivestreamStatus::Live)
                        .map(|l| l.to_live_stream(None))
                        .collect::<Vec<LiveStream>>())
                }
            },
            |_| {},
            shutdown.clone(),
        )));
    }
    tasks
}

/// Run the bot until `shutdown` is cancelled (or the gateway gives up).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    let http = discord_http(&config)?;
    for (name, on, var) in config.provider_summary() {
        if !on {
            tracing::info!(provider = name, "provider off (set {var} to turn it on)");
        }
    }
    let config = Arc::new(config);
    let client = http_client(REQUEST_TIMEOUT);
    let providers = Providers::from_config(&config, &client);
    let snapshot = Arc::new(Snapshot::new());
    let pollers = spawn_pollers(&providers, &snapshot, config.poll_interval, &shutdown);

    let data = Data {
        config: Arc::clone(&config),
        snapshot,
        providers,
        tiktok: TiktokCache::new(TIKTOK_CACHE_TTL),
        started: Instant::now(),
    };
    let dev_guild = config.dev_guild_id;
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: crate::commands::all(),
            on_error: |e| Box::pin(crate::commands::on_error(e)),
            event_handler: |fw, event| Box::pin(on_event(fw, event)),
            allowed_mentions: Some(serenity::CreateAllowedMentions::new()),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                match dev_guild {
                    Some(g) => {
                        poise::builtins::register_in_guild(ctx, commands, serenity::GuildId::new(g))
                            .await?
                    }
                    None => poise::builtins::register_globally(ctx, commands).await?,
                }
                tracing::info!(
                    user = %ready.user.name,
                    guilds = ready.guilds.len(),
                    commands = commands.len(),
                    scope = if dev_guild.is_some() { "dev guild" } else { "global" },
                    "connected; commands registered"
                );
                Ok::<Data, Error>(data)
            })
        })
        .build();

    let mut cache = serenity::cache::Settings::default();
    cache.max_messages = 0;
    cache.cache_users = false;
    let mut client = serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::GUILDS)
        .framework(framework)
        .cache_settings(cache)
        .await?;

    let shard_manager = Arc::clone(&client.shard_manager);
    let stopper = shutdown.clone();
    let stop_task = tokio::spawn(async move {
        stopper.cancelled().await;
        tracing::info!("shutting down");
        shard_manager.shutdown_all().await;
    });

    let result = client.start().await;
    shutdown.cancel();
    let _ = stop_task.await;
    for p in pollers {
        let _ = p.await;
    }
    result.map_err(RunError::from)
}

async fn on_event(
    fw: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    if let serenity::FullEvent::InteractionCreate {
        interaction: serenity::Interaction::Component(component),
    } = event
    {
        crate::commands::on_component(fw.serenity_context, fw.user_data, component).await?;
    }
    Ok(())
}
