//! Leaving a server. When Discord says onair was removed from a server
//! (GUILD_DELETE without `unavailable`), nothing of that server is left to
//! post: its subscriptions are deleted, its deliveries with work left are
//! dropped (the outbox skips a failed delivery), and the webhooks onair
//! made in its channels are deleted at Discord (a webhook token posts
//! without the bot being in the server) and forgotten. An outage
//! (`unavailable: true`) changes nothing. Rejoining starts clean.

use crate::discord::rest::DiscordRest;
use crate::store::{Store, StoreError};

/// Forget server `guild_id` and delete the webhooks onair made there;
/// returns how many webhooks were deleted at Discord.
pub async fn leave(
    store: &dyn Store,
    rest: &DiscordRest,
    guild_id: u64,
) -> Result<usize, StoreError> {
    let hooks = store.leave_guild(guild_id).await?;
    let mut deleted = 0;
    for hook in &hooks {
        match rest.delete_webhook(hook.id, &hook.token).await {
            Ok(()) => deleted += 1,
            // Someone deleted it already.
            Err(e) if e.is_unknown_webhook() => {}
            Err(e) => {
                tracing::warn!(guild = guild_id, webhook = hook.id, error = %e, "could not delete a webhook of a server onair left (its token is forgotten)");
            }
        }
    }
    tracing::info!(
        guild = guild_id,
        webhooks = deleted,
        "removed from a server: its subscriptions, pending deliveries and webhooks are gone"
    );
    Ok(deleted)
}
