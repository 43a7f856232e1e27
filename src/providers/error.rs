//! [`ProviderError`]: what went wrong talking to a provider, safe to log and
//! to show (it names the provider and what happened, never a key).

use std::time::Duration;

use super::name::ProviderName;

/// What went wrong talking to a provider. The `Display` text is safe to log
/// and to show to a user: it never contains a key, token or query string.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: request timed out after {after:?}")]
    Timeout {
        provider: ProviderName,
        after: Duration,
    },
    #[error("{provider}: could not connect ({reason})")]
    Connect {
        provider: ProviderName,
        reason: String,
    },
    #[error("{provider}: the API key was refused (HTTP {status}){}", unauthorized_hint(*provider))]
    Unauthorized { provider: ProviderName, status: u16 },
    #[error("{provider}: API credits are exhausted (HTTP 402){}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    CreditsExhausted {
        provider: ProviderName,
        detail: Option<String>,
    },
    #[error("{provider}: rate limited (HTTP 429){}", retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        provider: ProviderName,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    #[error("{provider}: HTTP {status}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        provider: ProviderName,
        status: u16,
        message: Option<String>,
    },
    #[error("{provider}: answered with an HTML page instead of JSON (HTTP {status})")]
    Html { provider: ProviderName, status: u16 },
    #[error("{provider}: answered with a body that is not JSON (HTTP {status}): {snippet}")]
    NotJson {
        provider: ProviderName,
        status: u16,
        snippet: String,
    },
    #[error("{provider}: unexpected response shape: {detail}")]
    Shape {
        provider: ProviderName,
        detail: String,
    },
    #[error("{provider}: {message}")]
    Api {
        provider: ProviderName,
        message: String,
    },
    #[error("{provider}: not found{}", what.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    NotFound {
        provider: ProviderName,
        what: Option<String>,
    },
    /// Refused before any request was made (a malformed username, id or name).
    #[error("{provider}: {what}")]
    InvalidInput {
        provider: ProviderName,
        what: String,
    },
}

impl ProviderError {
    /// A short label of what went wrong, for metrics (`kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::Connect { .. } => "connect",
            ProviderError::Unauthorized { .. } => "unauthorized",
            ProviderError::CreditsExhausted { .. } => "credits_exhausted",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Status { .. } => "status",
            ProviderError::Html { .. } | ProviderError::NotJson { .. } => "not_json",
            ProviderError::Shape { .. } => "shape",
            ProviderError::Api { .. } => "api",
            ProviderError::NotFound { .. } => "not_found",
            ProviderError::InvalidInput { .. } => "invalid_input",
        }
    }
}

fn unauthorized_hint(provider: ProviderName) -> &'static str {
    match provider {
        ProviderName::RealtimeKit => {
            "; the Cloudflare API token needs the Realtime or Realtime Admin permission"
        }
        _ => "",
    }
}

impl ProviderError {
    pub fn provider(&self) -> ProviderName {
        match self {
            ProviderError::Timeout { provider, .. }
            | ProviderError::Connect { provider, .. }
            | ProviderError::Unauthorized { provider, .. }
            | ProviderError::CreditsExhausted { provider, .. }
            | ProviderError::RateLimited { provider, .. }
            | ProviderError::Status { provider, .. }
            | ProviderError::Html { provider, .. }
            | ProviderError::NotJson { provider, .. }
            | ProviderError::Shape { provider, .. }
            | ProviderError::Api { provider, .. }
            | ProviderError::NotFound { provider, .. }
            | ProviderError::InvalidInput { provider, .. } => *provider,
        }
    }

    /// Replace every occurrence of these secret values in the error's texts
    /// (a provider may echo a key back in its error body) with `[redacted]`.
    pub fn redact(mut self, secrets: &[&str]) -> Self {
        let fix = |s: &mut String| {
            for k in secrets.iter().filter(|k| !k.is_empty()) {
                if s.contains(*k) {
                    *s = s.replace(*k, "[redacted]");
                }
            }
        };
        match &mut self {
            ProviderError::Connect { reason: s, .. }
            | ProviderError::NotJson { snippet: s, .. }
            | ProviderError::Shape { detail: s, .. }
            | ProviderError::Api { message: s, .. }
            | ProviderError::InvalidInput { what: s, .. }
            | ProviderError::CreditsExhausted {
                detail: Some(s), ..
            }
            | ProviderError::Status {
                message: Some(s), ..
            }
            | ProviderError::NotFound { what: Some(s), .. } => fix(s),
            _ => {}
        }
        self
    }

    /// A short English hint on what the operator can do about this error.
    pub fn user_hint(&self) -> &'static str {
        match self {
            ProviderError::Unauthorized {
                provider: ProviderName::RealtimeKit,
                ..
            } => "Give the Cloudflare API token the Realtime (or Realtime Admin) permission for this account.",
            ProviderError::Unauthorized { .. } => "Check the provider's API key in the bot's configuration.",
            ProviderError::CreditsExhausted { .. } => "The provider's credits are used up; top them up or wait for the next period.",
            ProviderError::RateLimited { .. } => "The provider is rate limiting the bot; it will retry later.",
            ProviderError::Timeout { .. } | ProviderError::Connect { .. } => {
                "The provider could not be reached; it will be retried."
            }
            ProviderError::InvalidInput { .. } => "Check the value you entered.",
            ProviderError::NotFound { .. } => "Check the id or name.",
            _ => "The provider answered unexpectedly; it will be retried.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_echoed_secrets() {
        let e = ProviderError::NotJson {
            provider: ProviderName::Konbini,
            status: 401,
            snippet: "bad key KEY-1 for KEY-1".into(),
        };
        assert_eq!(
            e.redact(&["KEY-1", ""]).to_string(),
            "KonbiniAPI: answered with a body that is not JSON (HTTP 401): bad key [redacted] for [redacted]"
        );
    }
}
