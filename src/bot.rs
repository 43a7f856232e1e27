//! Wiring: the Discord client (poise + serenity), the pollers, shutdown.
//! Tests and the binary start the bot through [`run`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use tokio_util::sync::CancellationToken;

use crate::announce::AnnouncerOptions;
use crate::config::{Config, ConfigError};
use crate::discord::rest::DiscordRest;
use crate::http::Http;
use crate::leader::Election;
use crate::providers::source::Usernames;
use crate::store::Engine;
use crate::types::{Data, Error, Providers};
use crate::watch::open_ledgers;
use crate::watch::snapshot::Snapshot;
use crate::work::{Work, WorkContext};
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
    /// Discord's gateway refused the bot in a way reconnecting cannot
    /// help (a bad token, an intent): what to fix.
    #[error("{0}")]
    Gateway(String),
}

/// How long the gateway gets to close its shards at shutdown before the
/// process stops waiting for it (whatever it is doing: a reconnect loop
/// included). With [`SHUTDOWN_GRACE`] running alongside, a SIGTERM ends the
/// process within [`SHUTDOWN_DEADLINE`].
pub const GATEWAY_STOP: Duration = Duration::from_secs(3);

/// The longest a shutdown takes from SIGTERM to exit (a container stop
/// escalates to SIGKILL after 10 s). `main` enforces it.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(9);

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
    let http_ctx = Http::shared();
    let providers = Providers::from_config(&config, &http_ctx);
    let snapshot = Arc::new(Snapshot::new());
    // Before anything else touches the database: one bot per SQLite file.
    let _claim = crate::store::claim(config.database_url.expose())?;
    // Webhook tokens are sealed under a key derived from the bot token.
    let store = crate::store::connect_sealed(
        config.database_url.expose(),
        crate::store::seal::Sealer::from_secret(&token),
    )
    .await?;
    // The operations endpoints come up before Discord: /healthz answers
    // while the gateway connects, /readyz says when it has.
    let shard_manager_slot = Arc::new(std::sync::OnceLock::new());
    let ops_task = match config.http_addr {
        Some(addr) => {
            let listener = crate::ops::bind(addr).await.map_err(RunError::Startup)?;
            let metrics = crate::ops::recorder().map_err(RunError::Startup)?;
            let health = crate::ops::Health {
                store: Arc::clone(&store),
                shards: Arc::clone(&shard_manager_slot),
            };
            Some(tokio::spawn(crate::ops::serve(
                listener,
                health,
                metrics,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    let rest = DiscordRest::new(http_ctx.client().clone(), &config.discord_origin(), &token);
    let sources = providers.sources(&config, Usernames::Subscribed(Arc::clone(&store)));
    let seen_members = Arc::new(dashmap::DashSet::new());
    let budgets = Arc::new(open_ledgers(&sources, &store, &shutdown).await);
    // The work that must happen once (polling, dispatching) runs while this
    // process leads: always on SQLite, when it holds the leader lock on
    // PostgreSQL. Resume polls first, then decides: what was pending is sent
    // only after every source answered once (or had its chance).
    let on_postgres = config.engine() == Engine::Postgres;
    let election = if on_postgres {
        Election::Postgres(config.database_url.clone())
    } else {
        Election::Solo
    };
    let pacing =
        crate::outbox::pacing::Pacing::new(config.discord_global_rps, config.discord_webhook_rps);
    // The calendar spends from the same JKT48Connect allowance as polling.
    let calendar = providers.jkt48connect.clone().map(|client| {
        Arc::new(crate::calendar::Calendar::new(
            client,
            budgets
                .get(crate::providers::ProviderName::Jkt48Connect)
                .cloned(),
        ))
    });
    let calendar_plan = crate::calendar::reads::plan(
        budgets
            .get(crate::providers::ProviderName::Jkt48Connect)
            .and_then(|l| l.schedule.allowance),
        config.calendar_refresh,
    );
    let work = WorkContext {
        store: Arc::clone(&store),
        rest: rest.clone(),
        announcer: AnnouncerOptions {
            outbox: crate::outbox::Options {
                pacing: Arc::clone(&pacing),
                backoff_max: config.delivery_retry_max,
                stale_after: config.delivery_stale_after,
                nonce_window: config.discord_nonce_window,
                fair_shares: config.fair_shares,
                ..crate::outbox::Options::default()
            },
            live_update: config.live_update,
            reach: crate::announce::audience::Reach {
                realtimekit_public: config.realtimekit_public,
            },
        },
        snapshot: Arc::clone(&snapshot),
        sources: sources.clone(),
        budgets: Arc::clone(&budgets),
        seen_members: Arc::clone(&seen_members),
        grace: config.end_grace,
        longest_interval: sources
            .iter()
            .map(|s| s.schedule().interval)
            .max()
            .unwrap_or(config.poll_interval),
        share_snapshot: on_postgres,
        retention: config.retention,
        calendar: calendar.clone().map(|c| (c, calendar_plan)),
    };
    let leading = Arc::new(AtomicBool::new(false));
    // Followers keep the leader's snapshot (a leader's own pollers write it).
    let follower_task = on_postgres.then(|| {
        tokio::spawn(crate::watch::shared::follow(
            crate::watch::shared::Follower {
                store: Arc::clone(&work.store),
                snapshot: Arc::clone(&work.snapshot),
                seen_members: Arc::clone(&work.seen_members),
                budgets: Arc::clone(&work.budgets),
            },
            Arc::clone(&leading),
            shutdown.clone(),
        ))
    });
    let leader_task = tokio::spawn(lead(election, work, Arc::clone(&leading), shutdown.clone()));

    let data = Data {
        calendar,
        config: Arc::clone(&config),
        snapshot,
        providers,
        budgets,
        store,
        rest,
        seen_members,
        pacing,
    };
    let dev_guild = config.dev_guild_id;
    let operator_guilds = config.operator_guild_ids.clone();
    let startup_budget = config.startup_retry;
    let setup_failure: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let setup_failed = Arc::clone(&setup_failure);
    let stop_on_failure = shutdown.clone();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: crate::commands::all_with(&config),
            on_error: |e| Box::pin(crate::commands::on_error(e)),
            event_handler: |fw, event| Box::pin(on_event(fw, event)),
            allowed_mentions: Some(serenity::CreateAllowedMentions::new()),
            initialize_owners: false,
            // `/tiktok` starts its cooldown itself, only on a paid lookup.
            manual_cooldowns: true,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                let registered = crate::startup::register_commands(
                    ctx,
                    commands,
                    &crate::commands::operator_commands(commands),
                    dev_guild,
                    &operator_guilds,
                    startup_budget,
                )
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
                tracing::info!(
                    invite = %crate::discord::invite::invite_url(ready.application.id.get()),
                    "add onair to a server with this invite (scopes bot applications.commands)"
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
    let _ = shard_manager_slot.set(Arc::clone(&shard_manager));
    let stopper = shutdown.clone();
    let stop_task = tokio::spawn(async move {
        stopper.cancelled().await;
        tracing::info!("shutting down");
        if tokio::time::timeout(GATEWAY_STOP, shard_manager.shutdown_all())
            .await
            .is_err()
        {
            tracing::warn!(after = ?GATEWAY_STOP, "the gateway did not close its shards in time; leaving them");
        }
    });

    // Unless DISCORD_SHARD_COUNT/IDS split the shards between processes,
    // autosharding: Discord tells how many shards the bot needs
    // (`/gateway/bot`), so growing past 2,500 guilds does not end it. A
    // transient failure to start (5xx, timeout) is retried with backoff for
    // the start-up budget; then the process exits non-zero. Every shard
    // connects through the relay (`crate::gateway`), which paces identifies
    // and reports closes.
    let report = Arc::new(crate::gateway::report::Report::new(shutdown.clone()));
    let replicas = on_postgres.then(|| config.database_url.clone());
    let mut relayed = false;
    let mut budget = crate::backoff::Budget::new(
        config.startup_retry,
        crate::startup::FIRST_BACKOFF,
        crate::startup::MAX_BACKOFF,
    );
    let needed = config.shards.map(|s| u64::from(s.last - s.first + 1));
    let gateway = async {
        loop {
            let result = async {
                let starts =
                    crate::gateway::identify::wait_for_starts(&client.http, needed, &shutdown)
                        .await?;
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                if !relayed {
                    let upstream = client.ws_url.lock().await.clone();
                    let gate = Arc::new(crate::gateway::identify::Gate::new(
                        Arc::clone(&client.http),
                        starts,
                        replicas.clone(),
                    ));
                    let relay = crate::gateway::relay::start(
                        upstream,
                        gate,
                        Arc::clone(&report),
                        shutdown.clone(),
                    )
                    .await?;
                    *client.ws_url.lock().await = relay;
                    relayed = true;
                }
                match config.shards {
                    None => client.start_autosharded().await,
                    // serenity 0.12 reads the range's end as inclusive (it
                    // starts `end - start + 1` shards), so `first..last`
                    // starts first..=last.
                    Some(s) => client.start_shard_range(s.first..s.last, s.total).await,
                }
            }
            .await;
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
        }
    };
    // At shutdown the gateway gets GATEWAY_STOP to end, and no more.
    tokio::pin!(gateway);
    let result = tokio::select! {
        r = &mut gateway => r,
        () = shutdown.cancelled() => {
            match tokio::time::timeout(GATEWAY_STOP, &mut gateway).await {
                Ok(r) => r,
                Err(_) => Ok(()),
            }
        }
    };
    shutdown.cancel();
    let _ = stop_task.await;
    // The leader's work stops with a grace for in-flight deliveries.
    let _ = leader_task.await;
    if let Some(task) = follower_task {
        let _ = task.await;
    }
    if let Some(task) = ops_task {
        let _ = task.await;
    }
    if let Some(e) = setup_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(RunError::Startup(e));
    }
    if let Some(why) = report.fatal() {
        return Err(RunError::Gateway(why));
    }
    match result {
        Err(serenity::Error::Gateway(e)) => {
            Err(RunError::Gateway(format!("Discord's gateway: {e}")))
        }
        other => other.map_err(RunError::from),
    }
}

/// Lead whenever this process wins the election: start the work, and stop
/// it the moment the term ends (at once, sending nothing more) or at
/// shutdown (with a grace for in-flight deliveries).
async fn lead(
    election: Election,
    work: WorkContext,
    leading: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    // Leading or not, in one place: the followers' snapshot listener stands
    // down while this process's own pollers write the snapshot.
    let set_leading = |on: bool| {
        leading.store(on, Ordering::SeqCst);
        metrics::gauge!(crate::ops::metric::LEADER).set(if on { 1.0 } else { 0.0 });
    };
    set_leading(false);
    while let Some(term) = election.win(&shutdown).await {
        set_leading(true);
        let Some(running) = Work::start(&work, &shutdown).await else {
            // Shut down before the store answered: nothing was started.
            set_leading(false);
            term.end().await;
            continue;
        };
        if matches!(election, Election::Postgres(_)) {
            tracing::info!("leading: this process polls and dispatches");
        }
        let lost = tokio::select! {
            () = term.lost.cancelled() => true,
            () = shutdown.cancelled() => false,
        };
        if !lost {
            running.stop(Some(SHUTDOWN_GRACE)).await;
            term.end().await;
            set_leading(false);
            return;
        }
        running.stop(None).await;
        set_leading(false);
        tracing::warn!("no longer the leader: stopped polling and dispatching");
        // Its connection just failed: let a healthy replica take over
        // rather than race for the lock again at once.
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(crate::leader::STEP_ASIDE) => {}
        }
    }
}

async fn on_event(
    fw: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    match event {
        serenity::FullEvent::InteractionCreate {
            interaction: serenity::Interaction::Component(component),
        } => {
            crate::commands::on_component(fw.serenity_context, fw.user_data, component).await?;
        }
        serenity::FullEvent::GuildDelete { incomplete, .. } => {
            let guild = incomplete.id.get();
            if incomplete.unavailable {
                tracing::info!(guild, "a server is unavailable (outage): nothing changes");
                return Ok(());
            }
            // Off the event loop; a store that is down is retried for a
            // while (the outbox's strikes are the fallback).
            let store = Arc::clone(&fw.user_data.store);
            let rest = fw.user_data.rest.clone();
            tokio::spawn(async move {
                let never = CancellationToken::new();
                let retried = crate::backoff::until_ok(
                    "forgetting a server onair was removed from",
                    crate::announce::EVENT_RETRY_FIRST,
                    crate::announce::EVENT_RETRY_MAX,
                    &never,
                    || crate::announce::leave::leave(store.as_ref(), &rest, guild),
                );
                if tokio::time::timeout(LEAVE_RETRY_FOR, retried)
                    .await
                    .is_err()
                {
                    tracing::error!(guild, "gave up forgetting a server onair was removed from");
                }
            });
        }
        _ => {}
    }
    Ok(())
}

/// How long leaving a server is retried while the store is unreachable.
const LEAVE_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(600);
