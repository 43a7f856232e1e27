//! One abstraction for every source the bot polls: its name, the platforms
//! it reports, how to fetch who is live, what a poll costs and what the
//! operator allows it to spend. The pollers, `onair live`, `onair check`,
//! `/help` and the configuration all iterate [`LiveSource`]s; adding a
//! provider means one file implementing it and one line in
//! [`crate::types::Providers::sources`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::jkt48connect::Jkt48Connect;
use super::realtimekit::RealtimeKit;
use super::tiktok::Tiktok;
use super::tiktok_cache::TiktokLookup;
use super::{ProviderError, ProviderName};
use crate::live::{LiveStream, Platform};
use crate::watch::budget::Allowance;

/// How often a source may be polled, and what it may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Never poll more often than this.
    pub interval: Duration,
    /// A paid allowance (calls per month or credits per day), when the
    /// provider sells calls; `None` = poll every `interval`.
    pub allowance: Option<Allowance>,
}

/// A source the bot polls for who is live.
#[async_trait]
pub trait LiveSource: Send + Sync {
    fn name(&self) -> ProviderName;
    /// The platforms whose streams this source reports.
    fn platforms(&self) -> &'static [Platform];
    fn schedule(&self) -> Schedule;
    /// Calls (credits) the next poll will spend. One, unless the source
    /// makes a request per watched item.
    async fn cost(&self) -> u64 {
        1
    }
    /// Everyone live now, as far as this source knows.
    async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError>;
    /// `onair check`'s probe: one request on a path that answers whoever is
    /// live, telling a wrong base URL or key from "nobody live". Returns a
    /// short detail for the report.
    async fn probe(&self) -> Result<String, ProviderError> {
        self.fetch().await.map(|v| format!("{} live now", v.len()))
    }
}

/// JKT48Connect: IDN Live, Showroom and YouTube in one list.
pub struct Jkt48Source {
    pub client: Jkt48Connect,
    pub schedule: Schedule,
}

#[async_trait]
impl LiveSource for Jkt48Source {
    fn name(&self) -> ProviderName {
        ProviderName::Jkt48Connect
    }
    fn platforms(&self) -> &'static [Platform] {
        &[Platform::Idn, Platform::Showroom, Platform::Youtube]
    }
    fn schedule(&self) -> Schedule {
        self.schedule
    }
    async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError> {
        self.client.live().await
    }
}

/// Cloudflare RealtimeKit: the app's livestreams that are LIVE.
pub struct RealtimeKitSource {
    pub client: RealtimeKit,
    pub schedule: Schedule,
}

#[async_trait]
impl LiveSource for RealtimeKitSource {
    fn name(&self) -> ProviderName {
        ProviderName::RealtimeKit
    }
    fn platforms(&self) -> &'static [Platform] {
        &[Platform::Realtimekit]
    }
    fn schedule(&self) -> Schedule {
        self.schedule
    }
    async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError> {
        Ok(self
            .client
            .live_livestreams()
            .await?
            .iter()
            .map(|l| l.to_live_stream(None))
            .collect())
    }
    async fn probe(&self) -> Result<String, ProviderError> {
        let all = self.client.list_livestreams().await?;
        let live = all
            .iter()
            .filter(|l| l.status == super::realtimekit::LivestreamStatus::Live)
            .count();
        Ok(format!("{} livestreams, {live} live", all.len()))
    }
}

/// Where the TikTok source finds the usernames to watch.
#[derive(Clone)]
pub enum Usernames {
    /// Every username a subscription names (the bot).
    Subscribed(Arc<dyn crate::store::Store>),
    /// A fixed list (`onair live --tiktok`).
    Fixed(Vec<String>),
}

impl Usernames {
    async fn list(&self) -> Result<Vec<String>, ProviderError> {
        match self {
            Usernames::Fixed(v) => Ok(v.clone()),
            Usernames::Subscribed(store) => {
                store
                    .tiktok_usernames()
                    .await
                    .map_err(|e| ProviderError::Api {
                        provider: ProviderName::Konbini,
                        message: format!("could not read subscribed usernames: {e}"),
                    })
            }
        }
    }
}

/// TikTok through KonbiniAPI: one request (one credit) per watched username.
pub struct TiktokSource {
    pub tiktok: Arc<Tiktok>,
    pub usernames: Usernames,
    pub schedule: Schedule,
    poller: super::tiktok_poll::LastGood,
}

impl TiktokSource {
    pub fn new(tiktok: Arc<Tiktok>, usernames: Usernames, schedule: Schedule) -> Self {
        TiktokSource {
            tiktok,
            usernames,
            schedule,
            poller: Default::default(),
        }
    }
}

#[async_trait]
impl LiveSource for TiktokSource {
    fn name(&self) -> ProviderName {
        ProviderName::Konbini
    }
    fn platforms(&self) -> &'static [Platform] {
        &[Platform::Tiktok]
    }
    fn schedule(&self) -> Schedule {
        self.schedule
    }
    async fn cost(&self) -> u64 {
        // A store error costs nothing: the fetch fails the same way.
        self.usernames
            .list()
            .await
            .map(|v| v.len() as u64)
            .unwrap_or(0)
    }
    async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError> {
        let users = self.usernames.list().await?;
        // Answers younger than half the interval (a `/tiktok` that just
        // asked) are reused: they cost nothing and are fresh enough.
        let max_age = self.schedule.interval / 2;
        self.poller
            .poll(users, |u| {
                let t = Arc::clone(&self.tiktok);
                async move {
                    match t.lookup(&u, max_age).await {
                        Ok(TiktokLookup::Live(s)) => Ok(Some(*s)),
                        Ok(TiktokLookup::NotLive) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            })
            .await
    }
    async fn probe(&self) -> Result<String, ProviderError> {
        self.tiktok.probe().await
    }
}
