//! One abstraction for every source the bot polls: its name, the platforms
//! it reports, how to fetch who is live, what a poll costs and what the
//! operator allows it to spend. The pollers, `onair live`, `onair check`,
//! `/help` and the configuration all iterate [`LiveSource`]s; adding a
//! provider means one file implementing it and one line in
//! [`crate::types::Providers::sources`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::error::ProviderError;
use super::jkt48connect::Jkt48Connect;
use super::name::ProviderName;
use super::realtimekit::RealtimeKit;
use super::tiktok::Tiktok;
use super::tiktok_cache::TiktokLookup;
use crate::budget::Allowance;
use crate::live::{LiveStream, Platform};

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
    /// A source that polls a list in turns: how it covers the list now.
    async fn rotation_now(&self) -> Option<super::tiktok_poll::Rotation> {
        None
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
                let stored = store
                    .tiktok_usernames()
                    .await
                    .map_err(|e| ProviderError::Api {
                        provider: ProviderName::Konbini,
                        message: format!("could not read subscribed usernames: {e}"),
                    })?;
                // A row saved before TikTok's rules were checked (`..`,
                // `a.`) is skipped and logged, never polled.
                Ok(stored
                    .into_iter()
                    .filter_map(|u| match super::konbini::normalize_username(&u) {
                        Ok(ok) => Some(ok),
                        Err(e) => {
                            tracing::warn!(error = %e, "skipping a stored TikTok username");
                            None
                        }
                    })
                    .collect())
            }
        }
    }
}

/// TikTok through KonbiniAPI: one request (one credit) per username a poll
/// looks up; a rotation over the watched usernames when the credits cannot
/// cover all of them on every poll (`tiktok_poll::rotation`).
pub struct TiktokSource {
    pub tiktok: Arc<Tiktok>,
    pub usernames: Usernames,
    pub schedule: Schedule,
    poller: super::tiktok_poll::LastGood,
    /// How far the rotation has gone (in memory; persisted in the store
    /// when there is one, so a restart carries on where it stopped).
    cursor: std::sync::atomic::AtomicU64,
}

/// The store's counter for the rotation (a row of the provider-call
/// counts, never limited).
const ROTATION_COUNTER: (&str, &str) = ("konbini-rotation", "cursor");

impl TiktokSource {
    pub fn new(tiktok: Arc<Tiktok>, usernames: Usernames, schedule: Schedule) -> Self {
        TiktokSource {
            tiktok,
            usernames,
            schedule,
            poller: Default::default(),
            cursor: Default::default(),
        }
    }

    fn rotation(&self, watched: usize) -> super::tiktok_poll::Rotation {
        super::tiktok_poll::rotation(watched, self.schedule.allowance, self.schedule.interval)
    }

    /// Advance the rotation by `k` names; returns where this poll starts.
    async fn advance(&self, k: usize) -> u64 {
        use std::sync::atomic::Ordering;
        let k = k as u64;
        if let Usernames::Subscribed(store) = &self.usernames {
            let (name, key) = ROTATION_COUNTER;
            match store.spend_calls(name, key, k, u64::MAX).await {
                Ok(Some(total)) => {
                    self.cursor.store(total, Ordering::Relaxed);
                    return total.saturating_sub(k);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not advance the TikTok rotation in the store; advancing it in memory");
                }
            }
        }
        self.cursor.fetch_add(k, Ordering::Relaxed)
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
            .map(|v| self.rotation(v.len()).per_poll as u64)
            .unwrap_or(0)
    }
    async fn fetch(&self) -> Result<Vec<LiveStream>, ProviderError> {
        let users = self.usernames.list().await?;
        let rotation = self.rotation(users.len());
        self.tiktok.set_rotation(rotation);
        let start = self.advance(rotation.per_poll).await;
        let batch = super::tiktok_poll::batch(&users, start, rotation.per_poll);
        // Answers younger than half the interval (a `/tiktok` that just
        // asked) are reused: they cost nothing and are fresh enough.
        let max_age = self.schedule.interval / 2;
        self.poller
            .poll(batch, &users, |u| {
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
    async fn rotation_now(&self) -> Option<super::tiktok_poll::Rotation> {
        let users = self.usernames.list().await.ok()?;
        let rotation = self.rotation(users.len());
        self.tiktok.set_rotation(rotation);
        Some(rotation)
    }
}
