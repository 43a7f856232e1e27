//! What stops a delivery step, with its cause.

use crate::discord::rest::DiscordError;
use crate::store::StoreError;

/// Why a step could not go on: Discord's answer (decided by
/// [`transition`]) or the store's failure (the job is retried later, never
/// as if Discord were down).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Discord(#[from] DiscordError),
    #[error("the store failed")]
    Store(#[from] StoreError),
}
