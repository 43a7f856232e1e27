//! [`ProviderName`]: which upstream a result or error came from, and the
//! name it goes by in logs, metrics and messages.

use std::fmt;

/// Which upstream a result or error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderName {
    Jkt48Connect,
    Konbini,
    Kitkot,
    RealtimeKit,
}

impl std::str::FromStr for ProviderName {
    type Err = String;

    /// The inverse of [`ProviderName::as_str`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderName::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown provider {s}"))
    }
}

impl ProviderName {
    pub const ALL: [ProviderName; 4] = [
        ProviderName::Jkt48Connect,
        ProviderName::Konbini,
        ProviderName::Kitkot,
        ProviderName::RealtimeKit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Jkt48Connect => "JKT48Connect",
            ProviderName::Konbini => "KonbiniAPI",
            ProviderName::Kitkot => "kitkot",
            ProviderName::RealtimeKit => "Cloudflare RealtimeKit",
        }
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
