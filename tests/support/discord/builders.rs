//! Discord's objects as the fake answers them: messages, roles, channels,
//! webhooks, threads and error bodies, most of them filled into the shapes
//! of `tests/data/gateway-samples.json`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{
    ChannelSpec, FakeThread, FakeWebhook, GuildSpec, Inner, StoredMessage, APP_ID, BOT_ID, GUILD_ID,
};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/gateway-samples.json"
);

pub(super) fn samples() -> Value {
    let text = std::fs::read_to_string(SAMPLES)
        .unwrap_or_else(|e| panic!("read {SAMPLES}: {e} (vendored test data)"));
    serde_json::from_str(&text).expect("gateway samples are JSON")
}

pub(super) fn discord_error(status: u16, code: u64, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({"message": message, "code": code})),
    )
        .into_response()
}

/// Discord's 400 50035 "Invalid Form Body", naming the refused `field`
/// in `errors` as Discord does.
pub(super) fn discord_form_error(field: &str, code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "message": "Invalid Form Body", "code": 50035,
            "errors": {field: {"_errors": [{"code": code, "message": message}]}}
        })),
    )
        .into_response()
}

pub(super) fn webhook_object(w: &FakeWebhook) -> Value {
    json!({
        "id": w.id.to_string(), "type": 1, "channel_id": w.channel_id.to_string(),
        "guild_id": GUILD_ID.to_string(), "name": w.name, "avatar": null, "token": w.token,
        "application_id": APP_ID.to_string(),
        "user": {"id": BOT_ID.to_string(), "username": "onair-bot", "discriminator": "0", "bot": true, "avatar": null}
    })
}

pub(super) fn thread_object(t: &FakeThread) -> Value {
    json!({
        "id": t.id.to_string(), "type": 11, "guild_id": GUILD_ID.to_string(),
        "parent_id": t.parent_id.to_string(), "owner_id": BOT_ID.to_string(), "name": t.name,
        "thread_metadata": {"archived": t.archived, "auto_archive_duration": 1440,
            "archive_timestamp": "2026-12-01T00:00:00.000000+00:00", "locked": false}
    })
}

pub(super) fn role_objects(g: &GuildSpec) -> Vec<Value> {
    let mut roles = vec![role_object(
        g.id,
        "@everyone",
        g.everyone_permissions,
        false,
    )];
    for r in &g.roles {
        roles.push(role_object(r.id, &r.name, r.permissions, r.mentionable));
    }
    roles
}

fn role_object(id: u64, name: &str, permissions: u64, mentionable: bool) -> Value {
    json!({
        "id": id.to_string(), "name": name, "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false, "icon": null, "unicode_emoji": null, "position": 0,
        "permissions": permissions.to_string(), "managed": false, "mentionable": mentionable, "flags": 0
    })
}

/// A guild channel with its permission overwrites (ids and bits as
/// strings, as Discord sends them).
pub(super) fn channel_object(g: &GuildSpec, c: &ChannelSpec) -> Value {
    let overwrites: Vec<Value> = c
        .effective_overwrites(g.id)
        .iter()
        .map(|o| {
            json!({"id": o.id.to_string(), "type": o.kind,
                "allow": o.allow.to_string(), "deny": o.deny.to_string()})
        })
        .collect();
    json!({
        "id": c.id.to_string(), "type": 0, "guild_id": g.id.to_string(), "name": c.name,
        "position": 0, "permission_overwrites": overwrites, "parent_id": null, "topic": null,
        "nsfw": false, "last_message_id": null, "rate_limit_per_user": 0, "flags": 0
    })
}

impl Inner {
    pub(super) fn message_object(&self, id: u64, channel: u64, body: &Value) -> Value {
        self.message_by(id, channel, body, BOT_ID)
    }

    pub(super) fn message_by(&self, id: u64, channel: u64, body: &Value, author: u64) -> Value {
        let mut m =
            self.samples["rest_responses"]["POST /api/v10/channels/{id}/messages (200)"].clone();
        if author != BOT_ID {
            m["author"]["id"] = author.to_string().into();
            m["author"]["bot"] = false.into();
            m["author"]["username"] = "a-fan".into();
        }
        m["id"] = id.to_string().into();
        m["channel_id"] = channel.to_string().into();
        for k in ["content", "embeds", "components"] {
            if let Some(v) = body.get(k) {
                m[k] = v.clone();
            }
        }
        m
    }

    /// A stored message as Discord shows it (a webhook's as its post, with
    /// the name it used; its thread, if one was started).
    pub(super) fn render_stored(&self, m: &StoredMessage) -> Value {
        let mut v = self.message_by(m.id, m.channel_id, &m.body, m.author_id);
        if let Some(w) = m.webhook_id {
            v["webhook_id"] = w.to_string().into();
            v["author"]["bot"] = true.into();
            v["author"]["username"] = m.body["username"].clone();
        }
        if let Some(t) = m.thread_id {
            v["thread"] =
                json!({"id": t.to_string(), "type": 11, "parent_id": m.channel_id.to_string()});
        }
        v
    }

    /// `GET /guilds/{id}`: the guild with its roles and owner.
    pub(super) fn guild_json_inner(&self, id: u64) -> Option<Value> {
        let g = self.state().guilds.get(&id).cloned()?;
        let mut d = self.samples["gateway_events"]["guild_create"]["d"].clone();
        d["id"] = g.id.to_string().into();
        d["name"] = g.name.clone().into();
        d["owner_id"] = g.owner_id.to_string().into();
        d["roles"] = Value::Array(role_objects(&g));
        Some(d)
    }

    /// A GUILD_CREATE's `d`: the guild, its roles, its channels with their
    /// overwrites, and the bot's membership with its roles.
    pub(super) fn guild_create_object(&self, g: &GuildSpec) -> Value {
        let mut d = self.samples["gateway_events"]["guild_create"]["d"].clone();
        d["id"] = g.id.to_string().into();
        d["name"] = g.name.clone().into();
        d["owner_id"] = g.owner_id.to_string().into();
        d["preferred_locale"] = g.locale.clone().into();
        d["roles"] = Value::Array(role_objects(g));
        d["channels"] = Value::Array(g.channels.iter().map(|c| channel_object(g, c)).collect());
        if let Some(members) = d["members"].as_array_mut() {
            for m in members {
                let bot = m["user"]["id"].as_str() == Some(&BOT_ID.to_string());
                let roles: &[u64] = if bot { &g.bot_roles } else { &[] };
                m["roles"] = json!(roles.iter().map(u64::to_string).collect::<Vec<_>>());
            }
        }
        d
    }
}

/// `resolved` data for a channel option: the channel, with the invoking
/// member's `permissions` in it.
pub(super) fn resolved_channel(channel: u64, permissions: u64) -> Value {
    json!({"channels": {channel.to_string(): {
        "id": channel.to_string(), "name": format!("channel-{channel}"), "type": 0,
        "permissions": permissions.to_string(), "parent_id": null
    }}})
}

/// A role as `resolved` data carries it.
pub(super) fn resolved_role(role: u64, mentionable: bool) -> Value {
    role_object(role, "Fans", 0, mentionable)
}
