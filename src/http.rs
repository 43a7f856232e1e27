//! The one HTTP client onair makes its own calls with (every provider, and
//! the terminal commands' checks): one connection pool, one user agent, and
//! the default per-request timeout.

use std::time::Duration;

use reqwest::RequestBuilder;

/// Default per-request timeout for provider calls.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP context every provider shares: one `reqwest::Client` (one
/// connection pool, one user agent) and, optionally, a per-request timeout
/// shorter than the client's.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    timeout: Option<Duration>,
}

impl Http {
    pub fn new(client: reqwest::Client) -> Self {
        Http {
            client,
            timeout: None,
        }
    }

    /// The shared client with the default timeout.
    pub fn shared() -> Self {
        Http::new(http_client(REQUEST_TIMEOUT))
    }

    /// A per-request timeout overriding the client's.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Apply the per-request timeout, when one was set; returns the timeout
    /// to report in a [`ProviderError::Timeout`](crate::providers::ProviderError::Timeout).
    pub fn timed(&self, request: RequestBuilder) -> (RequestBuilder, Duration) {
        match self.timeout {
            Some(t) => (request.timeout(t), t),
            None => (request, REQUEST_TIMEOUT),
        }
    }
}

/// The one HTTP client every provider shares.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!(
            "onair/",
            env!("CARGO_PKG_VERSION"),
            " (+https://github.com/onair-bot/onair)"
        ))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
