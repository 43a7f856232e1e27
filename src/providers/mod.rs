//! Provider clients: one file per provider, all over the one shared
//! [`crate::http::Http`] client.
//!
//! Every client maps its provider's JSON into [`crate::live::LiveStream`] and
//! reports failures as a [`ProviderError`] that names the provider and what
//! happened, never the key. What they share: [`name`] (which provider),
//! [`error`] (what went wrong), [`request`] (one call to a JSON API and the
//! common meaning of its errors) and [`ids`] (ids safe to put in a URL).

pub mod error;
pub mod ids;
pub mod jkt48_calendar;
pub mod jkt48connect;
pub mod kitkot;
pub mod konbini;
pub mod lenient;
pub mod name;
pub mod realtimekit;
pub mod request;
pub mod source;
pub mod tiktok;
pub mod tiktok_cache;
pub mod tiktok_poll;

pub use error::ProviderError;
pub use name::ProviderName;
