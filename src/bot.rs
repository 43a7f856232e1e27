//! Wiring: the Discord client (poise + serenity), the pollers, shutdown.
//! Tests and the binary start the bot through [`run`].

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use tokio_util::sync::CancellationToken;

use crate::announce::{Announcer, AnnouncerOptions};
use crate::config::{Config, ConfigError};
use crate::discord_rest::DiscordRest;
use crate::live::{LiveStream, Platform};
use crate::providers::realtimekit::LivestreamStatus;
use crate::providers::{http_client, ProviderName, REQUEST_TIMEOUT};
use crate::snapshot::Snapshot;
use crate::store::Store;
use crate::tiktok_cache::TiktokCache;
use crate::tracker::{Tracker, WatchEvent};
use crate::types::{Data, Error, Providers};
use crate::watch::poll_loop;

/// How long a `/tiktok` answer is reused.
pub const TIKTOK_CACHE_TTL: Duration = Duration::from_secs(30);
/// How long shutdown waits for in-flight deliveries.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Discord: {0}")]
    Discord(#[from] serenity::Error),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A setup step failed for good (after its retries): the process exits
    /// non-zero instead of staying up without its commands.
    #[error("start-up failed: {0}")]
    Startup(String),
}

/// Which polled source reports streams of a platform.
pub fn source_of(platform: Platform) -> ProviderName {
    match platform {
        Platform::Idn | Platform::Showroom | Platform::Youtube => ProviderName::Jkt48Connect,
        Platform::Tiktok => ProviderName::Konbini,
        Platform::Realtimekit => ProviderName::RealtimeKit,
    }
}

/// What every poller needs to turn answers into events.
#[derive(Clone)]
pub struct WatchContext {
    pub snapshot: Arc<Snapshot>,
    pub interval: Duration,
    pub grace: Duration,
    pub events: tokio::sync::mpsc::UnboundedSender<WatchEvent>,
    pub seen_members: Arc<dashmap::DashSet<String>>,
    pub shutdown: CancellationToken,
    /// Streams announced before a restart, still open in the store.
    pub seeds: Arc<Vec<LiveStream>>,
}

impl WatchContext {
    /// The success hook of one source: diff against the last answer, emit
    /// events, remember member names for autocomplete.
    fn on_success(&self, source: ProviderName) -> impl FnMut(&[LiveStream]) + Send + 'static {
        let mut tracker = Tracker::new(self.grace).with_poll_interval(self.interval);
        tracker.seed(
            self.seeds
                .iter()
                .filter(|s| source_of(s.platform) == source)
                .cloned(),
            chrono::Utc::now(),
        );
        let events = self.events.clone();
        let seen = Arc::clone(&self.seen_members);
        move |streams: &[LiveStream]| {
            for s in streams {
                if seen.len() < 10_000 && !seen.contains(&s.name) {
                    seen.insert(s.name.clone());
                }
            }
            for e in tracker.observe(streams, chrono::Utc::now()) {
                let _ = events.send(e);
            }
        }
    }
}

/// The serenity `Http`: proxy mode (our own pacing, serenity's ratelimiter
/// off, which it must be for the proxy to be honoured) when
/// `DISCORD_API_URL` is set.
pub fn discord_http(token: &crate::secret::Secret, api_url: Option<&url::Url>) -> serenity::Http {
    let builder = serenity::HttpBuilder::new(token.expose());
    match api_url {
        Some(url) => builder
            .proxy(url.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build(),
        None => builder.build(),
    }
}

/// Start one poll loop per configured polled source.
pub fn spawn_pollers(
    providers: &Providers,
    store: &Arc<dyn Store>,
    watch: &WatchContext,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(j) = providers.jkt48connect.clone() {
        watch.snapshot.register(ProviderName::Jkt48Connect);
        tasks.push(tokio::spawn(poll_loop(
            ProviderName::Jkt48Connect,
            watch.interval,
            Arc::clone(&watch.snapshot),
            move || {
                let j = j.clone();
                async move { j.live().await }
            },
            watch.on_success(ProviderName::Jkt48Connect),
            watch.shutdown.clone(),
        )));
    }
    if let Some(r) = providers.realtimekit.clone() {
        watch.snapshot.register(ProviderName::RealtimeKit);
        tasks.push(tokio::spawn(poll_loop(
            ProviderName::RealtimeKit,
            watch.interval,
            Arc::clone(&watch.snapshot),
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
            watch.on_success(ProviderName::RealtimeKit),
            watch.shutdown.clone(),
        )));
    }
    if let Some(k) = providers.konbini.clone() {
        watch.snapshot.register(ProviderName::Konbini);
        let poller = Arc::new(crate::tiktok_poll::TiktokPoller::new(k, Arc::clone(store)));
        tasks.push(tokio::spawn(poll_loop(
            ProviderName::Konbini,
            watch.interval,
            Arc::clone(&watch.snapshot),
            move || {
                let p = Arc::clone(&poller);
                async move { p.poll().await }
            },
            watch.on_success(ProviderName::Konbini),
            watch.shutdown.clone(),
        )));
    }
    tasks
}

/// Run the bot until `shutdown` is cancelled (or the gateway gives up).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    let token = config.discord_token.clone().ok_or(ConfigError::Missing {
        var: "DISCORD_TOKEN",
        why: "to run the bot",
    })?;
    let http = discord_http(&token, config.discord_api_url.as_ref());
    for (name, on, var) in config.provider_summary() {
        if !on {
            tracing::info!(provider = name, "provider off (set {var} to turn it on)");
        }
    }
    let config = Arc::new(config);
    let client = http_client(REQUEST_TIMEOUT);
    let providers = Providers::from_config(&config, &client);
    let snapshot = Arc::new(Snapshot::new());
    let store = crate::store::connect(&config.database_url).await?;

    let discord_base = config
        .discord_api_url
        .clone()
        .unwrap_or_else(|| url::Url::parse("https://discord.com").expect("static URL"));
    let rest = DiscordRest::new(client.clone(), &discord_base, &token);
    let announcer = Arc::new(Announcer::new(
        Arc::clone(&store),
        rest.clone(),
        AnnouncerOptions {
            global_rps: config.discord_global_rps,
            backoff_max: config.delivery_retry_max,
            stale_after: config.delivery_stale_after,
            nonce_window: config.discord_nonce_window,
            ..AnnouncerOptions::default()
        },
    ));
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    // Resume polls first, then decides: what was pending before a restart
    // is sent only after every source answered once (or had its chance),
    // and after the events of those first polls (a broadcast that ended,
    // or was replaced by a new one, while the bot was down).
    let first_polls_by = config.poll_interval + REQUEST_TIMEOUT + Duration::from_secs(1);
    let events_task = tokio::spawn(handle_events(
        Arc::clone(&announcer),
        events_rx,
        Arc::clone(&snapshot),
        first_polls_by,
        shutdown.clone(),
    ));
    let seeds = store
        .open_streams()
        .await?
        .into_iter()
        .map(|s| s.stream)
        .collect::<Vec<_>>();
    let seen_members = Arc::new(dashmap::DashSet::new());
    for s in &seeds {
        seen_members.insert(s.name.clone());
    }
    let watch = WatchContext {
        snapshot: Arc::clone(&snapshot),
        interval: config.poll_interval,
        grace: config.end_grace,
        events: events_tx,
        seen_members: Arc::clone(&seen_members),
        shutdown: shutdown.clone(),
        seeds: Arc::new(seeds),
    };
    let pollers = spawn_pollers(&providers, &store, &watch);
    drop(watch);

    let data = Data {
        config: Arc::clone(&config),
        snapshot,
        providers,
        tiktok: TiktokCache::new(TIKTOK_CACHE_TTL),
        store,
        rest,
        seen_members,
    };
    let dev_guild = config.dev_guild_id;
    let startup_budget = config.startup_retry;
    let setup_failure: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let setup_failed = Arc::clone(&setup_failure);
    let stop_on_failure = shutdown.clone();
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
                let registered =
                    crate::startup::register_commands(ctx, commands, dev_guild, startup_budget)
                        .await;
                if let Err(e) = registered {
                    // No commands means a deaf bot: stop, and let the
                    // supervisor restart the process.
                    *setup_failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                    stop_on_failure.cancel();
                    return Err(e.into());
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

    // Autosharding: Discord tells how many shards the bot needs
    // (`/gateway/bot`), so growing past 2,500 guilds does not end it. A
    // transient failure to start (5xx, timeout) is retried with backoff for
    // the start-up budget; then the process exits non-zero.
    let mut budget = crate::backoff::Budget::new(
        config.startup_retry,
        crate::startup::FIRST_BACKOFF,
        crate::startup::MAX_BACKOFF,
    );
    let result = loop {
        let result = client.start_autosharded().await;
        let Err(e) = &result else { break result };
        let transient = matches!(
            crate::startup::classify(e, &[]),
            crate::startup::Attempt::Retry(_)
        );
        let wait = match budget.next_wait() {
            Some(wait) if transient && !shutdown.is_cancelled() => wait,
            _ => break result,
        };
        tracing::warn!(error = %e, failures = budget.failures, ?wait, "could not start the gateway; retrying");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break result,
        }
    };
    shutdown.cancel();
    let _ = stop_task.await;
    for p in pollers {
        let _ = p.await;
    }
    // Pollers are gone, so the event channel closes once drained.
    let _ = events_task.await;
    // Deliveries are in the store already; give in-flight ones a moment.
    if !announcer.idle(SHUTDOWN_GRACE).await {
        tracing::warn!("shutting down with deliveries still queued; they resume at next start");
    }
    announcer.shutdown();
    if let Some(e) = setup_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(RunError::Startup(e));
    }
    result.map_err(RunError::from)
}

/// The announcer's event loop: events in order, and the resume of what a
/// restart left pending once the first polls are in.
async fn handle_events(
    announcer: Arc<Announcer>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<WatchEvent>,
    snapshot: Arc<Snapshot>,
    first_polls_by: Duration,
    stop: CancellationToken,
) {
    let first_polls = first_polls_done(snapshot, first_polls_by);
    tokio::pin!(first_polls);
    let mut resumed = false;
    loop {
        tokio::select! {
            // Events already queued (those of the first polls) come first.
            biased;
            event = events.recv() => match event {
                Some(e) => announcer.handle(e, &stop).await,
                None => break,
            },
            () = &mut first_polls, if !resumed => {
                resumed = true;
                // A store error here is retried too: what was pending is
                // never left for the next restart.
                let _ = crate::backoff::until_ok(
                    "resuming deliveries from the store",
                    crate::announce::EVENT_RETRY_FIRST,
                    crate::announce::EVENT_RETRY_MAX,
                    &stop,
                    || announcer.resume(),
                )
                .await;
            }
        }
    }
}

/// Resolves once every registered source has been polled once (success or
/// failure), or after `limit`.
async fn first_polls_done(snapshot: Arc<Snapshot>, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let all = snapshot.sources().into_iter().all(|s| {
            snapshot
                .state(s)
                .is_some_and(|st| st.last_attempt.is_some())
        });
        if all || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
