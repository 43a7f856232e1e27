//! The one TikTok lookup, used by the poller, `/tiktok` and `onair live`
//! alike: KonbiniAPI says whether a user is live, kitkot (when configured)
//! adds the stream links, and answers are shared through one cache, so the
//! poller and a fan asking about the same user within the cache time cost
//! one request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::error::ProviderError;
use super::kitkot::Kitkot;
use super::konbini::{normalize_username, Konbini};
use super::tiktok_cache::{Shared, TiktokCache, TiktokLookup};
use crate::live::{LiveStream, StreamUrl};

/// How long a room's kitkot links are reused (a room keeps its links for
/// the whole live; this only bounds a stale entry).
const ROOM_LINKS_TTL: Duration = Duration::from_secs(30 * 60);

pub struct Tiktok {
    konbini: Konbini,
    kitkot: Option<Kitkot>,
    cache: TiktokCache,
    /// kitkot links per TikTok room id: joined once per live, not per poll.
    rooms: DashMap<String, (Instant, Vec<StreamUrl>)>,
    /// Whether the "KONBINI_URL looks wrong" warning was logged.
    warned_url: std::sync::atomic::AtomicBool,
    /// How the poller last covered the watched usernames (`/help`).
    rotation: std::sync::Mutex<Option<super::tiktok_poll::Rotation>>,
}

impl Tiktok {
    pub fn new(konbini: Konbini, kitkot: Option<Kitkot>, cache_ttl: Duration) -> Self {
        Tiktok {
            konbini,
            kitkot,
            cache: TiktokCache::new(cache_ttl),
            rooms: DashMap::new(),
            warned_url: std::sync::atomic::AtomicBool::new(false),
            rotation: std::sync::Mutex::new(None),
        }
    }

    /// How the poller covers the watched usernames, as it last computed.
    pub fn rotation(&self) -> Option<super::tiktok_poll::Rotation> {
        *self.rotation.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_rotation(&self, r: super::tiktok_poll::Rotation) {
        *self.rotation.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }

    /// How long an answer is reused for `/tiktok`.
    pub fn cache_ttl(&self) -> Duration {
        self.cache.ttl()
    }

    /// A cached answer for an already normalized username, without a call.
    pub fn peek(&self, user: &str) -> Option<TiktokLookup> {
        self.cache.peek(user, self.cache.ttl())
    }

    /// An answer at most `max_age` old: the cache's, or one upstream lookup
    /// shared by every concurrent asker. `user` may carry an `@` and
    /// capitals; a malformed one is refused without a call.
    pub async fn lookup(&self, user: &str, max_age: Duration) -> Shared {
        let user = normalize_username(user).map_err(Arc::new)?;
        self.cache
            .get_or_fetch(&user, max_age, || self.fetch(&user))
            .await
    }

    /// `onair check`'s probe: ask about TikTok's own account. A 404 without
    /// KonbiniAPI's credit headers comes from something else than KonbiniAPI:
    /// the base URL is wrong, which is not "not live".
    pub async fn probe(&self) -> Result<String, ProviderError> {
        let a = self.konbini.user_live("tiktok").await?;
        if a.unbilled_404 {
            return Err(ProviderError::NotFound {
                provider: super::ProviderName::Konbini,
                what: Some(format!(
                    "{} answered 404 without KonbiniAPI's credit headers: KONBINI_URL looks wrong (expected https://api.konbiniapi.com)",
                    self.konbini.base_url()
                )),
            });
        }
        Ok(match a.credits_remaining {
            Some(c) => format!("reachable, {c} credits left"),
            None => "reachable".to_string(),
        })
    }

    /// KonbiniAPI, then kitkot's links for a live room.
    async fn fetch(&self, user: &str) -> Result<TiktokLookup, ProviderError> {
        let answer = self.konbini.user_live(user).await?;
        if answer.unbilled_404
            && !self
                .warned_url
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                url = %self.konbini.base_url(),
                "KonbiniAPI answered 404 without its credit headers: KONBINI_URL may be wrong (run `onair check`); counting the user as not live"
            );
        }
        let Some(mut stream) = answer.live else {
            return Ok(TiktokLookup::NotLive);
        };
        if let (Some(kitkot), Some(room)) = (self.kitkot.as_ref(), answer.room_id.as_deref()) {
            match self.room_links(kitkot, room).await {
                Ok(links) => merge_streams(&mut stream, links),
                Err(e) => {
                    tracing::warn!(error = %e, user, "kitkot enrichment failed; answering without HLS")
                }
            }
        }
        Ok(TiktokLookup::Live(Box::new(stream)))
    }

    async fn room_links(
        &self,
        kitkot: &Kitkot,
        room: &str,
    ) -> Result<Vec<StreamUrl>, ProviderError> {
        if let Some(hit) = self.rooms.get(room) {
            if hit.0.elapsed() < ROOM_LINKS_TTL {
                return Ok(hit.1.clone());
            }
        }
        let links = kitkot.room(room, None).await?.streams;
        if self.rooms.len() > 1024 {
            self.rooms
                .retain(|_, (at, _)| at.elapsed() < ROOM_LINKS_TTL);
        }
        self.rooms
            .insert(room.to_string(), (Instant::now(), links.clone()));
        Ok(links)
    }
}

/// Add kitkot's URLs that the stream does not have yet, HLS first.
pub fn merge_streams(stream: &mut LiveStream, extra: Vec<StreamUrl>) {
    for u in extra {
        if !stream.streams.iter().any(|s| s.url == u.url) {
            stream.streams.push(u);
        }
    }
    stream
        .streams
        .sort_by_key(|s| !matches!(s.kind, crate::live::StreamKind::Hls));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{LiveStream, Platform, StreamKind, StreamUrl};

    #[test]
    fn merge_puts_hls_first_and_dedupes() {
        let mut s = LiveStream::new(Platform::Tiktok, "k", "K");
        s.streams.push(StreamUrl {
            label: "flv".into(),
            kind: StreamKind::Flv,
            url: "https://a/x.flv".into(),
        });
        merge_streams(
            &mut s,
            vec![
                StreamUrl {
                    label: "flv".into(),
                    kind: StreamKind::Flv,
                    url: "https://a/x.flv".into(),
                },
                StreamUrl {
                    label: "1080p".into(),
                    kind: StreamKind::Hls,
                    url: "https://a/x.m3u8".into(),
                },
            ],
        );
        assert_eq!(s.streams.len(), 2);
        assert_eq!(s.streams[0].kind, StreamKind::Hls);
    }
}
