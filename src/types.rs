//! The framework types, defined once: `Data`, `Context`, `Error`.

use std::sync::Arc;

use crate::config::Config;
use crate::providers::jkt48connect::Jkt48Connect;
use crate::providers::kitkot::Kitkot;
use crate::providers::konbini::Konbini;
use crate::providers::realtimekit::RealtimeKit;
use crate::snapshot::Snapshot;
use crate::tiktok_cache::TiktokCache;

/// Every configured provider client (None = provider off).
#[derive(Clone)]
pub struct Providers {
    pub jkt48connect: Option<Jkt48Connect>,
    pub konbini: Option<Konbini>,
    pub kitkot: Option<Kitkot>,
    pub realtimekit: Option<RealtimeKit>,
}

impl Providers {
    /// Build every provider the config turns on, over one shared client.
    pub fn from_config(config: &Config, client: &reqwest::Client) -> Self {
        Providers {
            jkt48connect: config
                .jkt48connect
                .clone()
                .map(|c| Jkt48Connect::new(client.clone(), c)),
            konbini: config
                .konbini
                .clone()
                .map(|c| Konbini::new(client.clone(), c)),
            kitkot: config
                .kitkot
                .clone()
                .map(|c| Kitkot::new(client.clone(), c)),
            realtimekit: config
                .realtimekit
                .clone()
                .map(|c| RealtimeKit::new(client.clone(), c)),
        }
    }
}

/// Shared state every command and task reads. No global mutable state.
pub struct Data {
    pub config: Arc<Config>,
    pub snapshot: Arc<Snapshot>,
    pub providers: Providers,
    pub tiktok: TiktokCache,
    pub store: Arc<dyn crate::store::Store>,
    /// Discord REST for announcements and test posts.
    pub rest: crate::discord_rest::DiscordRest,
    /// Member names seen in any poll, for autocomplete.
    pub seen_members: Arc<dashmap::DashSet<String>>,
}

/// A failure the user caused or can act on: shown to them (ephemerally) as is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Context<'a> = poise::Context<'a, Data, Error>;
