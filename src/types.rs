//! The framework types, defined once: `Data`, `Context`, `Error`.

use std::sync::Arc;

use crate::budget::Allowance;
use crate::config::Config;
use crate::http::Http;
use crate::providers::jkt48connect::Jkt48Connect;
use crate::providers::kitkot::Kitkot;
use crate::providers::konbini::Konbini;
use crate::providers::realtimekit::RealtimeKit;
use crate::providers::source::{
    Jkt48Source, LiveSource, RealtimeKitSource, Schedule, TiktokSource, Usernames,
};
use crate::providers::tiktok::Tiktok;
use crate::providers::ProviderName;
use crate::watch::snapshot::Snapshot;

/// Every configured provider client (None = provider off), over one shared
/// HTTP context.
#[derive(Clone)]
pub struct Providers {
    pub jkt48connect: Option<Jkt48Connect>,
    pub kitkot: Option<Kitkot>,
    pub realtimekit: Option<RealtimeKit>,
    /// The one TikTok lookup (KonbiniAPI + kitkot, one cache), when
    /// KonbiniAPI is configured: the only KonbiniAPI client.
    pub tiktok: Option<Arc<Tiktok>>,
}

impl Providers {
    /// Build every provider the config turns on.
    pub fn from_config(config: &Config, http: &Http) -> Self {
        let konbini = config
            .konbini
            .clone()
            .map(|c| Konbini::new(http.clone(), c));
        let kitkot = config.kitkot.clone().map(|c| Kitkot::new(http.clone(), c));
        Providers {
            jkt48connect: config
                .jkt48connect
                .clone()
                .map(|c| Jkt48Connect::new(http.clone(), c)),
            tiktok: konbini.map(|k| Arc::new(Tiktok::new(k, kitkot.clone(), TIKTOK_CACHE_TTL))),
            kitkot,
            realtimekit: config
                .realtimekit
                .clone()
                .map(|c| RealtimeKit::new(http.clone(), c)),
        }
    }

    /// Whether a provider is configured.
    pub fn is_on(&self, name: ProviderName) -> bool {
        match name {
            ProviderName::Jkt48Connect => self.jkt48connect.is_some(),
            ProviderName::Konbini => self.tiktok.is_some(),
            ProviderName::Kitkot => self.kitkot.is_some(),
            ProviderName::RealtimeKit => self.realtimekit.is_some(),
        }
    }

    /// Every polled source the config turns on, with its schedule.
    pub fn sources(&self, config: &Config, usernames: Usernames) -> Vec<Arc<dyn LiveSource>> {
        let mut out: Vec<Arc<dyn LiveSource>> = Vec::new();
        if let (Some(client), Some(c)) = (&self.jkt48connect, &config.jkt48connect) {
            out.push(Arc::new(Jkt48Source {
                client: client.clone(),
                schedule: Schedule {
                    interval: c.interval,
                    allowance: c.calls_per_month.map(Allowance::PerMonth),
                },
            }));
        }
        if let (Some(client), Some(c)) = (&self.realtimekit, &config.realtimekit) {
            out.push(Arc::new(RealtimeKitSource {
                client: client.clone(),
                schedule: Schedule {
                    interval: c.interval,
                    allowance: None,
                },
            }));
        }
        if let (Some(tiktok), Some(c)) = (&self.tiktok, &config.konbini) {
            out.push(Arc::new(TiktokSource::new(
                Arc::clone(tiktok),
                usernames,
                Schedule {
                    interval: c.interval,
                    allowance: c.credits_per_day.map(Allowance::PerDay),
                },
            )));
        }
        out
    }
}

/// How long a TikTok answer is reused by `/tiktok`.
pub const TIKTOK_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Shared state every command and task reads. No global mutable state.
pub struct Data {
    pub config: Arc<Config>,
    pub snapshot: Arc<Snapshot>,
    pub providers: Providers,
    /// What each polled source may spend and has spent.
    pub budgets: Arc<crate::watch::Budgets>,
    pub store: Arc<dyn crate::store::Store>,
    /// Discord REST for announcements and test posts.
    pub rest: crate::discord::rest::DiscordRest,
    /// Member names seen in any poll, for autocomplete.
    pub seen_members: Arc<dashmap::DashSet<String>>,
    /// The request budgets the announcer paces itself with (a command that
    /// posts into a channel takes its turn too).
    pub pacing: Arc<crate::outbox::pacing::Pacing>,
    /// The JKT48 calendar the bot keeps (None: JKT48Connect is off).
    pub calendar: Option<Arc<crate::calendar::Calendar>>,
}

/// A failure the user caused or can act on: shown to them (ephemerally) as is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Context<'a> = poise::Context<'a, Data, Error>;
