//! The one normalized model every provider maps into. Nothing downstream of
//! `providers` knows a provider's JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a stream is broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Idn,
    Showroom,
    Youtube,
    Tiktok,
    Realtimekit,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Idn,
        Platform::Showroom,
        Platform::Youtube,
        Platform::Tiktok,
        Platform::Realtimekit,
    ];

    /// Stable lowercase id, used in config, CLI flags, command choices and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Idn => "idn",
            Platform::Showroom => "showroom",
            Platform::Youtube => "youtube",
            Platform::Tiktok => "tiktok",
            Platform::Realtimekit => "realtimekit",
        }
    }

    /// Human name shown to users.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Idn => "IDN Live",
            Platform::Showroom => "Showroom",
            Platform::Youtube => "YouTube",
            Platform::Tiktok => "TikTok",
            Platform::Realtimekit => "RealtimeKit",
        }
    }

    /// Embed colour per platform.
    pub fn colour(self) -> u32 {
        match self {
            Platform::Idn => 0xE5_1F_2E,
            Platform::Showroom => 0x2E_C4_B6,
            Platform::Youtube => 0xFF_00_00,
            Platform::Tiktok => 0x00_F2_EA,
            Platform::Realtimekit => 0xF3_80_20,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}` (expected one of: idn, showroom, youtube, tiktok, realtimekit)")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "idn" | "idnlive" | "idn live" | "idn_live" => Ok(Platform::Idn),
            "showroom" | "sr" => Ok(Platform::Showroom),
            "youtube" | "yt" => Ok(Platform::Youtube),
            "tiktok" | "tt" => Ok(Platform::Tiktok),
            "realtimekit" | "cloudflare" | "rtk" => Ok(Platform::Realtimekit),
            _ => Err(UnknownPlatform(s.to_string())),
        }
    }
}

/// Container of a playable stream URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    Hls,
    Flv,
}

/// One playable URL with its quality label ("original", "720p", ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamUrl {
    pub label: String,
    pub kind: StreamKind,
    pub url: String,
}

/// Identity of one broadcast: platform + room/handle + start. Two polls that
/// see the same broadcast produce the same `StreamId`; a new broadcast of the
/// same member (new start) produces a different one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamId {
    pub platform: Platform,
    /// Room id, handle or livestream id: stable for the channel/room.
    pub key: String,
    /// Start time (unix seconds), when the provider gives one.
    pub started: Option<i64>,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.started {
            Some(t) => write!(f, "{}:{}@{}", self.platform, self.key, t),
            None => write!(f, "{}:{}", self.platform, self.key),
        }
    }
}

/// A live broadcast, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStream {
    pub platform: Platform,
    /// Stable key of the room/channel (room id, url_key, handle, livestream id).
    pub key: String,
    /// Member / channel display name.
    pub name: String,
    /// Handle or url key (e.g. `jkt48_fritzy`, a TikTok username), when known.
    pub handle: Option<String>,
    pub avatar_url: Option<String>,
    pub title: Option<String>,
    pub thumbnail_url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub viewers: Option<u64>,
    pub streams: Vec<StreamUrl>,
    /// The page a viewer opens to watch.
    pub watch_url: Option<String>,
}

impl LiveStream {
    /// A minimal stream; providers fill in the rest.
    pub fn new(platform: Platform, key: impl Into<String>, name: impl Into<String>) -> Self {
        LiveStream {
            platform,
            key: key.into(),
            name: name.into(),
            handle: None,
            avatar_url: None,
            title: None,
            thumbnail_url: None,
            started_at: None,
            viewers: None,
            streams: Vec::new(),
            watch_url: None,
        }
    }

    pub fn id(&self) -> StreamId {
        StreamId {
            platform: self.platform,
            key: self.key.clone(),
            started: self.started_at.map(|t| t.timestamp()),
        }
    }

    /// HLS URLs, best first (as the provider ordered them).
    pub fn hls(&self) -> impl Iterator<Item = &StreamUrl> {
        self.streams.iter().filter(|s| s.kind == StreamKind::Hls)
    }
}

/// A provider-supplied link, made safe to show: `https` only (a page or
/// stream served over plain `http`, or any other scheme such as
/// `javascript:`, `data:`, `file:`, is dropped), with a host and no
/// credentials, and returned in its normalised form (the `url` crate's
/// serialisation: spaces and other characters that cannot stand in a URL
/// are percent-encoded). Where a link goes into Markdown, the caller still
/// escapes it ([`crate::discord::embeds::markdown_url`]).
pub fn web_url(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = url::Url::parse(raw).ok()?;
    let ok = parsed.scheme() == "https"
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none();
    ok.then(|| parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_round_trips() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        }
        assert!("myspace".parse::<Platform>().is_err());
        assert_eq!("IDN".parse::<Platform>(), Ok(Platform::Idn));
    }

    #[test]
    fn id_depends_on_start() {
        let mut a = LiveStream::new(Platform::Idn, "510011", "Fritzy");
        let b = a.clone();
        assert_eq!(a.id(), b.id());
        a.started_at = DateTime::from_timestamp(1_700_000_000, 0);
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().to_string(), "idn:510011@1700000000");
    }

    #[test]
    fn web_url_drops_other_schemes() {
        assert_eq!(
            web_url(Some("https://a.b/c.m3u8")).as_deref(),
            Some("https://a.b/c.m3u8")
        );
        assert_eq!(web_url(Some("javascript:alert(1)")), None);
        assert_eq!(web_url(Some("http://a.b/c.m3u8")), None, "https only");
        assert_eq!(web_url(Some("https://user:pw@a.b/c")), None);
        assert_eq!(
            web_url(Some(" https://A.B/x y) z ")).as_deref(),
            Some("https://a.b/x%20y)%20z"),
            "normalised: host lower case, spaces encoded"
        );
        assert_eq!(web_url(Some("data:text/html,hi")), None);
        assert_eq!(web_url(Some("")), None);
        assert_eq!(web_url(Some("not a url")), None);
        assert_eq!(web_url(None), None);
    }
}
