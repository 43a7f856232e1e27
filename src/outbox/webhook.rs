//! Posting as the member (`identity:member`): a webhook onair creates in
//! the channel (or adopts, if it made one before a crash) and reuses, the
//! member's name and avatar on each post. A webhook deleted by someone
//! (10015) is recreated once; deleted again, or refused, the subscription
//! posts as the bot and `/subscriptions` says why.

use std::sync::Arc;

use serde_json::Value;

use super::content::Sender;
use super::error::DeliveryError;
use super::pacing::Pacing;
use super::ports::{DeliveryStore, DiscordPort};
use crate::discord::embeds::clean_text;
use crate::discord::rest::{DiscordError, UNKNOWN_WEBHOOK};
use crate::live::web_url;
use crate::store::{StoreError, StoredWebhook, Subscription};

/// The name of the webhooks onair creates (each post carries the member's).
pub const WEBHOOK_NAME: &str = "onair";
/// Stored fallback reasons (`/subscriptions` words them).
pub const FALLBACK_DELETED: &str = "webhook-deleted";
pub const FALLBACK_REFUSED: &str = "webhook-refused";
/// Discord's limit on a webhook message's `username`.
const MAX_USERNAME: usize = 80;
/// Discord refuses a webhook `username` containing these.
const FORBIDDEN_IN_NAMES: [&str; 2] = ["discord", "clyde"];

/// A webhook `username` for `name`: cleaned, at most 80 characters,
/// without the words Discord refuses in webhook names.
pub fn username(name: &str) -> String {
    let mut chars: Vec<char> = clean_text(name, MAX_USERNAME).chars().collect();
    for word in FORBIDDEN_IN_NAMES {
        let w: Vec<char> = word.chars().collect();
        let mut i = 0;
        while i + w.len() <= chars.len() {
            let hit = chars[i..i + w.len()]
                .iter()
                .zip(&w)
                .all(|(a, b)| a.to_ascii_lowercase() == *b);
            if hit {
                chars[i..i + w.len()].fill('*');
                i += w.len();
            } else {
                i += 1;
            }
        }
    }
    let out: String = chars.into_iter().collect();
    if out.trim().is_empty() {
        WEBHOOK_NAME.to_string()
    } else {
        out
    }
}

/// A post as a webhook execution: the sender's name and avatar, and no
/// nonce (webhooks take none; the outbox and the look before a resend
/// keep it to one post).
pub fn as_member(mut body: Value, sender: &Sender) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.remove("nonce");
        o.remove("enforce_nonce");
        o.remove("tts");
        o.insert("username".into(), Value::String(username(&sender.name)));
        if let Some(avatar) = web_url(sender.avatar_url.as_deref()).filter(|u| u.len() <= 2048) {
            o.insert("avatar_url".into(), Value::String(avatar));
        }
    }
    body
}

/// An edit of a webhook's message: what such an edit takes.
pub fn as_edit(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.retain(|k, _| {
            matches!(
                k.as_str(),
                "content" | "embeds" | "allowed_mentions" | "components" | "attachments" | "flags"
            )
        });
    }
    body
}

/// What an edit of a message whose webhook is gone amounts to.
pub fn gone_error() -> DiscordError {
    DiscordError::Refused {
        status: 404,
        code: UNKNOWN_WEBHOOK,
        message: "the webhook that posted it is gone".into(),
    }
}

/// Is `hook` (one entry of `GET /channels/{id}/webhooks`) one that onair
/// (`me`) made, with its token?
fn ours(hook: &Value, me: u64) -> Option<(u64, String)> {
    let creator = hook["user"]["id"].as_str()?.parse::<u64>().ok()?;
    if creator != me || hook["name"].as_str() != Some(WEBHOOK_NAME) {
        return None;
    }
    let id = hook["id"].as_str()?.parse().ok()?;
    Some((id, hook["token"].as_str()?.to_string()))
}

/// The channel webhooks posts as the member go through: made (or
/// adopted) on first use, recreated once after a deletion, then given up
/// for the bot.
pub struct Webhooks {
    pub store: Arc<dyn DeliveryStore>,
    pub discord: Arc<dyn DiscordPort>,
    pub pacing: Arc<Pacing>,
}

impl Webhooks {
    /// The webhook to post `sub`'s card through: `None` to post as the bot
    /// (bot identity, or fallen back). A refusal falls back to the bot; a
    /// transient failure is the caller's to retry.
    pub async fn for_subscription(
        &self,
        sub: &Subscription,
    ) -> Result<Option<StoredWebhook>, DeliveryError> {
        if !sub.as_member() {
            return Ok(None);
        }
        let channel = sub.channel_id;
        if let Some(hook) = self.store.channel_webhook(channel).await? {
            return Ok(Some(hook));
        }
        if self.store.webhooks_deleted(channel, sub.created_at).await? >= 2 {
            self.fall_back(sub, FALLBACK_DELETED).await?;
            return Ok(None);
        }
        match self.adopt_or_make(channel).await {
            Ok((id, token)) => {
                self.store.save_webhook(id, channel, &token).await?;
                tracing::info!(channel, webhook = id, "channel webhook ready");
                Ok(self.store.channel_webhook(channel).await?)
            }
            Err(e) if e.is_transient() || matches!(e, DiscordError::Unauthorized) => Err(e.into()),
            Err(e) => {
                tracing::warn!(channel, error = %e, "cannot make the channel's webhook; posting as the bot");
                self.fall_back(sub, &format!("{FALLBACK_REFUSED}:{e}"))
                    .await?;
                Ok(None)
            }
        }
    }

    /// One onair made before a crash, not yet recorded, is adopted;
    /// otherwise one is made.
    async fn adopt_or_make(
        &self,
        channel: u64,
    ) -> Result<(u64, crate::secret::Secret), DiscordError> {
        self.pacing.bot.turn().await;
        let me = self.discord.bot_user_id().await?;
        let list = self.discord.channel_webhooks(channel).await?;
        if let Some((id, token)) = list.iter().find_map(|h| ours(h, me)) {
            return Ok((id, crate::secret::Secret::new(token)));
        }
        self.pacing.bot.turn().await;
        self.discord.create_webhook(channel, WEBHOOK_NAME).await
    }

    /// Discord says `hook` is gone (10015): forget it; the next attempt
    /// makes a new one, unless this is the second deletion the
    /// subscription has seen.
    pub async fn deleted(
        &self,
        sub: &Subscription,
        hook: &StoredWebhook,
    ) -> Result<(), StoreError> {
        self.store.webhook_gone(hook.id).await?;
        let deleted = self
            .store
            .webhooks_deleted(sub.channel_id, sub.created_at)
            .await?;
        tracing::warn!(
            channel = sub.channel_id,
            webhook = hook.id,
            deleted,
            "the channel's webhook was deleted"
        );
        if deleted >= 2 {
            self.fall_back(sub, FALLBACK_DELETED).await?;
        }
        Ok(())
    }

    /// The live webhook `id` (one that is gone cannot edit its messages).
    pub async fn live(&self, id: u64) -> Result<Option<StoredWebhook>, StoreError> {
        Ok(self.store.webhook(id).await?.filter(|h| !h.gone))
    }

    async fn fall_back(&self, sub: &Subscription, reason: &str) -> Result<(), StoreError> {
        tracing::warn!(
            subscription = sub.id,
            reason,
            "posting as the bot instead of the member"
        );
        self.store.identity_fallback(sub.id, reason).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_member_post_has_her_name_and_face_and_no_nonce() {
        let mut s = Sender {
            name: "Fritzy".into(),
            avatar_url: Some("https://cdn.test/fritzy.jpg".into()),
        };
        let body = as_member(
            json!({"content": "x", "nonce": "onair-1", "enforce_nonce": true, "embeds": []}),
            &s,
        );
        assert_eq!(body["username"], "Fritzy");
        assert_eq!(body["avatar_url"], "https://cdn.test/fritzy.jpg");
        assert!(body.get("nonce").is_none() && body.get("enforce_nonce").is_none());
        s.avatar_url = Some("javascript:alert(1)".into());
        assert!(as_member(json!({}), &s).get("avatar_url").is_none());
        let edit =
            as_edit(json!({"content": "y", "username": "F", "avatar_url": "a", "embeds": []}));
        assert_eq!(edit, json!({"content": "y", "embeds": []}));
    }

    #[test]
    fn names_discord_refuses_are_masked() {
        assert_eq!(username("Discord Fan"), "******* Fan");
        assert_eq!(username("clydeCLYDE"), "**********");
        assert_eq!(username("   "), "onair");
        assert_eq!(username(&"é".repeat(100)).chars().count(), 80);
    }

    #[test]
    fn only_our_own_webhooks_are_adopted() {
        let hook = |creator: &str, name: &str| json!({"id": "77", "name": name, "token": "tok", "user": {"id": creator}});
        assert_eq!(ours(&hook("9", "onair"), 9), Some((77, "tok".into())));
        assert_eq!(ours(&hook("8", "onair"), 9), None);
        assert_eq!(ours(&hook("9", "Captain Hook"), 9), None);
        assert_eq!(
            ours(
                &json!({"id": "77", "name": "onair", "user": {"id": "9"}}),
                9
            ),
            None
        );
    }
}
