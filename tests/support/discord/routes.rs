//! The fake's REST API under `/api/v10`: every request is checked for
//! Discord's credentials, recorded (its body checked against the OpenAPI
//! document by `tests/support/spec.rs`), put through injected faults and
//! rate limits, then answered by the handler of its resource.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::super::spec;
use super::builders::{
    channel_object, discord_error, discord_form_error, thread_object, webhook_object,
};
use super::faults::{reset_response, Loss};
use super::{
    FakeThread, FakeWebhook, Inner, Recorded, StoredMessage, APP_ID, BOT_ID, CHANNEL_ID,
    CREATE_PUBLIC_THREADS, DEFAULT_NONCE_WINDOW, EMBED_LINKS, INTERACTION_DEADLINE,
    INTERACTION_TOKEN_LIFETIME, MANAGE_WEBHOOKS, READ_MESSAGE_HISTORY, SEND_MESSAGES, VIEW_CHANNEL,
};

/// Discord refuses a request without `Authorization: Bot …` (except on the
/// token-authenticated interaction and webhook routes) and, per its
/// documentation, one without a `DiscordBot (url, version)` User-Agent.
fn authentication_problem(path: &str, headers: &HeaderMap) -> Option<&'static str> {
    let ua = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ua.starts_with("DiscordBot (") {
        return Some("User-Agent is not `DiscordBot (url, version)`");
    }
    let token_route =
        path.starts_with("/api/v10/interactions/") || path.starts_with("/api/v10/webhooks/");
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !token_route && !auth.starts_with("Bot ") {
        return Some("no `Authorization: Bot …`");
    }
    None
}

/// What a route answers: the status to record and the response.
type Answer = (u16, Response);

/// A path's segments after `/api/v10`.
pub(super) fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches("/api/v10")
        .trim_matches('/')
        .split('/')
        .collect()
}

fn ok(v: Value) -> Answer {
    (200, axum::Json(v).into_response())
}

fn not_found() -> Answer {
    (404, discord_error(404, 0, "404: Not Found"))
}

/// A message body as Discord keeps it: without Embed Links in the channel
/// the embeds are dropped (the message itself is accepted).
fn without_unlinked_embeds(body: Option<&Value>, perms: Option<u64>) -> Value {
    let mut b = body.cloned().unwrap_or(Value::Null);
    if perms.is_some_and(|p| p & EMBED_LINKS == 0) {
        if let Some(o) = b.as_object_mut() {
            if o.contains_key("embeds") {
                o.insert("embeds".into(), json!([]));
            }
        }
    }
    b
}

/// Which page of a channel's history `GET /channels/{id}/messages` asks
/// for: `limit` (1–100, 50 by default) around, before or after a message
/// (at most one of the three), else the newest.
struct Page {
    limit: usize,
    anchor: Anchor,
}

enum Anchor {
    Newest,
    Before(u64),
    After(u64),
    Around(u64),
}

impl Page {
    /// The page a query asks for, or the field Discord would refuse.
    fn parse(query: Option<&str>) -> Result<Page, &'static str> {
        let mut limit = 50;
        let mut anchors = Vec::new();
        for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let id = || v.parse::<u64>().map_err(|_| "snowflake");
            match k {
                "limit" => {
                    limit = v.parse().map_err(|_| "limit")?;
                    if !(1..=100).contains(&limit) {
                        return Err("limit");
                    }
                }
                "before" => anchors.push(Anchor::Before(id().map_err(|_| "before")?)),
                "after" => anchors.push(Anchor::After(id().map_err(|_| "after")?)),
                "around" => anchors.push(Anchor::Around(id().map_err(|_| "around")?)),
                _ => {}
            }
        }
        // "The before, after, and around parameters are mutually
        // exclusive, only one may be passed at a time."
        if anchors.len() > 1 {
            return Err("around");
        }
        Ok(Page {
            limit,
            anchor: anchors.pop().unwrap_or(Anchor::Newest),
        })
    }

    /// The page of `stored` (oldest first, as posted), newest first as
    /// Discord lists every page.
    fn select(&self, stored: &[StoredMessage]) -> Vec<StoredMessage> {
        let mut by_id: Vec<&StoredMessage> = stored.iter().collect();
        by_id.sort_by_key(|m| m.id);
        let n = self.limit;
        let mut page: Vec<&StoredMessage> = match self.anchor {
            Anchor::Newest => by_id.iter().rev().take(n).copied().collect(),
            Anchor::Before(b) => by_id
                .iter()
                .rev()
                .filter(|m| m.id < b)
                .take(n)
                .copied()
                .collect(),
            // The `limit` messages right after `after`, not the newest.
            Anchor::After(a) => by_id.iter().filter(|m| m.id > a).take(n).copied().collect(),
            Anchor::Around(x) => {
                let older: Vec<&StoredMessage> = by_id
                    .iter()
                    .rev()
                    .filter(|m| m.id < x)
                    .take(n / 2)
                    .copied()
                    .collect();
                let newer: Vec<&StoredMessage> = by_id
                    .iter()
                    .filter(|m| m.id >= x)
                    .take(n - older.len().min(n / 2))
                    .copied()
                    .collect();
                older.into_iter().chain(newer).collect()
            }
        };
        page.sort_by_key(|m| std::cmp::Reverse(m.id));
        page.into_iter().cloned().collect()
    }
}

impl Inner {
    fn new_id(&self) -> u64 {
        self.state().new_id()
    }

    fn record(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) {
        let mut s = self.state();
        s.requests.push(Recorded {
            method: method.into(),
            path: path.into(),
            query: query.unwrap_or("").into(),
            body,
            status,
            at: Instant::now(),
        });
        drop(s);
        self.changed.notify_waiters();
    }

    pub(super) fn handle(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (Response, Option<Duration>) {
        // One request at a time, whole (see `Inner::serial`).
        let _whole = self.serial.lock().unwrap_or_else(|e| e.into_inner());
        let path = uri.path().to_string();
        let m = method.as_str().to_string();
        let json_body: Option<Value> = if body.is_empty() {
            None
        } else {
            Some(
                serde_json::from_slice(&body)
                    .unwrap_or(Value::String(String::from_utf8_lossy(&body).into())),
            )
        };
        if let Some(problem) = authentication_problem(&path, &headers) {
            self.state()
                .unauthenticated
                .push(format!("{m} {path}: {problem}"));
            self.count_invalid(401, false);
            self.record(&m, &path, uri.query(), json_body, 401);
            return (discord_error(401, 0, "401: Unauthorized"), None);
        }
        if path.starts_with("/api/v10/webhooks/") && headers.contains_key("authorization") {
            let id = path
                .trim_start_matches("/api/v10/webhooks/")
                .split('/')
                .next()
                .and_then(|id| id.parse::<u64>().ok());
            let mut s = self.state();
            if id.is_some_and(|id| s.webhooks.contains_key(&id)) {
                s.violations.push(format!(
                    "{m} /api/v10/webhooks/…: a channel webhook request carries the bot token"
                ));
            }
        }
        if let Some(refused) = self.refused_body(&m, &path, json_body.as_ref()) {
            self.record(&m, &path, uri.query(), json_body, 400);
            return (refused, None);
        }
        let (status, mut response) = self.route(&m, &path, uri.query(), json_body.as_ref());
        let mut delay = None;
        if (200..300).contains(&status) {
            match self.loss_for(&m, &path) {
                Some(Loss::BadGateway(after)) => {
                    response = discord_error(502, 0, "Bad Gateway");
                    delay = Some(after);
                }
                Some(Loss::Reset) => response = reset_response(),
                Some(Loss::Hang(after)) => delay = Some(after),
                None => {}
            }
        }
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            self.add_bucket_headers(&m, &segments(&path), response.headers_mut());
        }
        let shared = response
            .headers()
            .get("x-ratelimit-scope")
            .is_some_and(|v| v == "shared");
        self.count_invalid(status, shared);
        self.record(&m, &path, uri.query(), json_body, status);
        (response, delay)
    }

    /// Discord's 400 for a body it refuses (50006 for an empty message,
    /// else 50035 with the reasons under `errors`), answered before the
    /// route runs, as Discord does: nothing is stored. The refusal also
    /// stays on record, so the test fails when the fake is dropped unless
    /// it meant to send a bad body.
    fn refused_body(&self, method: &str, path: &str, body: Option<&Value>) -> Option<Response> {
        let body = body?;
        if !matches!(method, "POST" | "PUT" | "PATCH") || spec::match_path(path).is_none() {
            return None;
        }
        let reasons = spec::check(method, path, body);
        if reasons.is_empty() {
            return None;
        }
        let mut s = self.state();
        for e in &reasons {
            s.violations.push(format!("{method} {path}: {e}"));
        }
        drop(s);
        if reasons.iter().any(|e| e == spec::EMPTY_MESSAGE) {
            return Some(discord_error(400, 50006, "Cannot send an empty message"));
        }
        let errors: Vec<Value> = reasons
            .iter()
            .map(|e| json!({"code": "BASE_TYPE_INVALID", "message": e}))
            .collect();
        Some(
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "code": 50035, "message": "Invalid Form Body",
                    "errors": {"_errors": errors}
                })),
            )
                .into_response(),
        )
    }

    /// Injected faults first, then Discord's limits, then a channel
    /// webhook's own routes or a deleted channel's 10003, then the handler
    /// of the resource.
    fn route(&self, method: &str, path: &str, query: Option<&str>, body: Option<&Value>) -> Answer {
        let segs = segments(path);
        // A channel webhook's requests: no bot token, counted per IP, under
        // the webhook's own bucket.
        let hook: Option<FakeWebhook> = match segs.as_slice() {
            ["webhooks", id, ..] => id
                .parse::<u64>()
                .ok()
                .and_then(|id| self.state().webhooks.get(&id).cloned()),
            _ => None,
        };
        let channel = match segs.as_slice() {
            ["channels", id, ..] => id.parse().ok(),
            _ => hook.as_ref().map(|h| h.channel_id),
        };
        if let Some(r) = self.injected_fault(method, path) {
            return (r.status().as_u16(), r);
        }
        if let Some(r) = self.limits(method, &segs, hook.is_some()) {
            return (429, r);
        }
        if let Some(hook) = hook {
            return self.route_webhook(method, &segs, query, body, &hook);
        }
        if let Some(ch) = channel {
            if self.state().deleted.contains(&ch) {
                return (404, discord_error(404, 10003, "Unknown Channel"));
            }
        }
        match (method, segs.as_slice()) {
            (_, ["gateway" | "oauth2" | "users" | "applications", ..]) => {
                self.route_application(method, path, &segs, body)
            }
            (_, ["interactions" | "webhooks", ..]) => self.route_interaction(method, &segs, body),
            ("POST", ["channels", _, "messages", _, "threads"]) | ("PATCH", ["channels", _]) => {
                self.route_threads(method, &segs, body)
            }
            (_, ["channels", _, "messages", ..]) => self.route_messages(method, &segs, query, body),
            (_, ["channels", _, "webhooks"]) => self.route_channel_webhooks(method, &segs, body),
            (_, ["channels", ..]) => self.route_channel(method, &segs),
            (_, ["guilds", ..]) => self.route_guild(method, &segs),
            _ => not_found(),
        }
    }

    /// The gateway's address, the application, the bot's user and its
    /// command registrations (global or in one guild).
    fn route_application(
        &self,
        method: &str,
        path: &str,
        segs: &[&str],
        body: Option<&Value>,
    ) -> Answer {
        match (method, segs) {
            ("GET", ["gateway"]) => ok(json!({"url": self.gateway_url})),
            ("GET", ["gateway", "bot"]) => {
                let mut s = self.state();
                let limit = s.gateway.session_start_limit();
                ok(json!({
                    "url": self.gateway_url, "shards": s.recommended_shards.max(1),
                    "session_start_limit": limit
                }))
            }
            ("GET", ["oauth2", "applications", "@me"]) => {
                ok(self.samples["rest_responses"]["GET /api/v10/oauth2/applications/@me"].clone())
            }
            ("GET", ["users", "@me"]) => {
                ok(self.samples["gateway_events"]["ready"]["d"]["user"].clone())
            }
            ("PUT", ["applications", _, "commands"])
            | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
                if segs.len() == 5 {
                    // "only for globally-scoped commands"
                    for c in body.and_then(Value::as_array).into_iter().flatten() {
                        for k in ["integration_types", "contexts"] {
                            if c.get(k).is_some() {
                                self.state().violations.push(format!(
                                    "PUT {path}: guild command {} has `{k}`, which is only for globally-scoped commands",
                                    c["name"]
                                ));
                            }
                        }
                    }
                }
                let cmds: Vec<Value> = body
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| {
                        // Discord's echo: the body plus the fields it fills in.
                        let mut out = json!({
                            "type": 1, "options": [], "default_member_permissions": null,
                            "nsfw": false, "integration_types": [0], "contexts": [0]
                        });
                        if let (Some(o), Some(c)) = (out.as_object_mut(), c.as_object()) {
                            for (k, v) in c {
                                o.insert(k.clone(), v.clone());
                            }
                        }
                        out["id"] = self.new_id().to_string().into();
                        out["application_id"] = APP_ID.to_string().into();
                        out["version"] = self.new_id().to_string().into();
                        out
                    })
                    .collect();
                // A bulk overwrite: these names replace the scope's.
                let names = cmds
                    .iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect();
                let mut s = self.state();
                match segs {
                    ["applications", _, "guilds", g, "commands"] => {
                        s.commands_guild.insert(g.parse().unwrap_or(0), names);
                    }
                    _ => s.commands_global = names,
                }
                drop(s);
                ok(Value::Array(cmds))
            }
            _ => not_found(),
        }
    }

    /// An interaction's answers, by its token: the callback, the
    /// `@original` response and follow-ups (a channel webhook's own
    /// requests go to `route_webhook`), each held to Discord's rules first
    /// (`callback_refusal`, `interaction_webhook_refusal`).
    fn route_interaction(&self, method: &str, segs: &[&str], body: Option<&Value>) -> Answer {
        match (method, segs) {
            ("POST", ["interactions", id, token, "callback"]) => {
                let b = body.cloned().unwrap_or(Value::Null);
                if let Some(refusal) = self.callback_refusal(id, token, &b) {
                    return refusal;
                }
                let mut s = self.state();
                match b["type"].as_u64() {
                    Some(4) | Some(7) => {
                        s.originals.insert(token.to_string(), b["data"].clone());
                    }
                    Some(5) | Some(6) => {
                        s.originals.entry(token.to_string()).or_insert(json!({}));
                    }
                    _ => {}
                }
                (204, StatusCode::NO_CONTENT.into_response())
            }
            (_, ["webhooks", app, token, ..]) => {
                if let Some(refusal) = self.interaction_webhook_refusal(app, token) {
                    return refusal;
                }
                self.route_interaction_webhook(method, segs, body)
            }
            _ => not_found(),
        }
    }

    /// Discord's refusal of a callback, if any: an id it does not know with
    /// this token or answered too late (10062), a second answer (40060), a
    /// callback type the interaction's type does not take (50035). An
    /// accepted callback acknowledges the interaction.
    fn callback_refusal(&self, id: &str, token: &str, body: &Value) -> Option<Answer> {
        let mut s = self.state();
        let unknown = || Some((404, discord_error(404, 10062, "Unknown interaction")));
        let Some(i) = s.interactions.get_mut(id) else {
            return unknown();
        };
        if i.token != token {
            return unknown();
        }
        if i.acked {
            return Some((
                400,
                discord_error(400, 40060, "Interaction has already been acknowledged."),
            ));
        }
        if i.created.elapsed() > INTERACTION_DEADLINE {
            return unknown();
        }
        let allowed = i.allowed_callbacks();
        if !body["type"].as_u64().is_some_and(|t| allowed.contains(&t)) {
            let choices: Vec<String> = allowed.iter().map(u64::to_string).collect();
            return Some((
                400,
                discord_form_error(
                    "type",
                    "BASE_TYPE_CHOICES",
                    &format!("Value must be one of ({}).", choices.join(", ")),
                ),
            ));
        }
        i.acked = true;
        None
    }

    /// Discord's refusal of a follow-up or `@original` request, if any: an
    /// application that is not the bot's, a token it never handed out or
    /// whose interaction was not acknowledged yet (10015), a token older
    /// than [`INTERACTION_TOKEN_LIFETIME`] (401 50027).
    fn interaction_webhook_refusal(&self, app: &str, token: &str) -> Option<Answer> {
        let unknown = || Some((404, discord_error(404, 10015, "Unknown Webhook")));
        if app.parse::<u64>().ok() != Some(APP_ID) {
            return unknown();
        }
        let s = self.state();
        let Some(i) = s.interactions.values().find(|i| i.token == token) else {
            return unknown();
        };
        if i.created.elapsed() > INTERACTION_TOKEN_LIFETIME {
            return Some((401, discord_error(401, 50027, "Invalid Webhook Token")));
        }
        if !i.acked {
            return unknown();
        }
        None
    }

    /// An acknowledged interaction's `@original` response and follow-ups.
    fn route_interaction_webhook(
        &self,
        method: &str,
        segs: &[&str],
        body: Option<&Value>,
    ) -> Answer {
        match (method, segs) {
            (_, ["webhooks", _, token, "messages", "@original"]) => {
                let token = token.to_string();
                let mut s = self.state();
                match method {
                    "DELETE" => {
                        s.originals.remove(&token);
                        (204, StatusCode::NO_CONTENT.into_response())
                    }
                    "PATCH" => {
                        let cur = s.originals.entry(token).or_insert(json!({}));
                        if let (Some(cur), Some(b)) =
                            (cur.as_object_mut(), body.and_then(Value::as_object))
                        {
                            for (k, v) in b {
                                cur.insert(k.clone(), v.clone());
                            }
                        }
                        let v = cur.clone();
                        drop(s);
                        ok(self.message_object(1, CHANNEL_ID, &v))
                    }
                    _ => match s.originals.get(&token).cloned() {
                        Some(v) => {
                            drop(s);
                            ok(self.message_object(1, CHANNEL_ID, &v))
                        }
                        None => (404, discord_error(404, 10008, "Unknown Message")),
                    },
                }
            }
            ("POST", ["webhooks", _, token]) => {
                let b = body.cloned().unwrap_or(Value::Null);
                self.state()
                    .followups
                    .entry(token.to_string())
                    .or_default()
                    .push(b.clone());
                let id = self.new_id();
                ok(self.message_object(id, CHANNEL_ID, &b))
            }
            ("PATCH", ["webhooks", _, _, "messages", _]) => {
                let b = body.cloned().unwrap_or(Value::Null);
                ok(self.message_object(self.new_id(), CHANNEL_ID, &b))
            }
            _ => not_found(),
        }
    }

    /// A channel's messages: post (with `enforce_nonce`; embeds dropped
    /// without Embed Links), list (a page by `limit` and one of `before`,
    /// `after`, `around`, newest first; empty without Read Message
    /// History), read and edit one.
    fn route_messages(
        &self,
        method: &str,
        segs: &[&str],
        query: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        match (method, segs) {
            ("POST", ["channels", ch, "messages"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let perms = self.bot_permissions_in(ch);
                if let Some(perms) = perms {
                    if perms & VIEW_CHANNEL == 0 {
                        return (403, discord_error(403, 50001, "Missing Access"));
                    }
                    if perms & SEND_MESSAGES == 0 {
                        return (403, discord_error(403, 50013, "Missing Permissions"));
                    }
                }
                let b = without_unlinked_embeds(body, perms);
                let nonce = b["nonce"].as_str().map(str::to_string);
                let enforce = b["enforce_nonce"].as_bool().unwrap_or(false);
                let mut s = self.state();
                let window = s.nonce_window.unwrap_or(DEFAULT_NONCE_WINDOW);
                if let (Some(n), true) = (&nonce, enforce) {
                    if let Some((existing, at)) = s.nonces.get(&(ch, n.clone())).copied() {
                        if at.elapsed() < window {
                            drop(s);
                            return ok(self.message_object(existing, ch, &b));
                        }
                    }
                }
                let id = s.new_id();
                if let (Some(n), true) = (nonce, enforce) {
                    s.nonces.insert((ch, n), (id, Instant::now()));
                }
                s.messages.entry(ch).or_default().push(StoredMessage::new(
                    id,
                    ch,
                    b.clone(),
                    BOT_ID,
                    None,
                ));
                drop(s);
                ok(self.message_object(id, ch, &b))
            }
            ("GET", ["channels", ch, "messages"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let page = match Page::parse(query) {
                    Ok(page) => page,
                    Err(field) => {
                        return (
                            400,
                            discord_form_error(field, "BASE_TYPE_INVALID", "Invalid value."),
                        )
                    }
                };
                let perms = self.bot_permissions_in(ch);
                if perms.is_some_and(|p| p & VIEW_CHANNEL == 0) {
                    return (403, discord_error(403, 50001, "Missing Access"));
                }
                // Discord: "If operating on a guild channel, this endpoint
                // requires the READ_MESSAGE_HISTORY permission to be
                // present on the current user. If the current user is
                // missing the READ_MESSAGE_HISTORY permission in the
                // channel, then no messages will be returned."
                if perms.is_some_and(|p| p & READ_MESSAGE_HISTORY == 0) {
                    return ok(json!([]));
                }
                let stored: Vec<StoredMessage> =
                    self.state().messages.get(&ch).cloned().unwrap_or_default();
                let page: Vec<Value> = page
                    .select(&stored)
                    .iter()
                    .map(|m| self.render_stored(m))
                    .collect();
                ok(Value::Array(page))
            }
            ("PATCH", ["channels", ch, "messages", mid]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let mid: u64 = mid.parse().unwrap_or(0);
                let b = without_unlinked_embeds(body, self.bot_permissions_in(ch));
                let mut s = self.state();
                let Some(msg) = s
                    .messages
                    .get_mut(&ch)
                    .and_then(|ms| ms.iter_mut().find(|m| m.id == mid))
                else {
                    return (404, discord_error(404, 10008, "Unknown Message"));
                };
                if msg.author_id != BOT_ID {
                    return (
                        403,
                        discord_error(403, 50005, "Cannot edit a message authored by another user"),
                    );
                }
                msg.apply_edit(&b);
                let v = msg.body.clone();
                drop(s);
                ok(self.message_object(mid, ch, &v))
            }
            ("GET", ["channels", ch, "messages", mid]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let mid: u64 = mid.parse().unwrap_or(0);
                let found = self
                    .state()
                    .messages
                    .get(&ch)
                    .and_then(|ms| ms.iter().find(|m| m.id == mid).cloned());
                match found {
                    Some(m) => ok(self.render_stored(&m)),
                    None => (404, discord_error(404, 10008, "Unknown Message")),
                }
            }
            _ => not_found(),
        }
    }

    /// A channel's webhooks: list them, make one (15 at most).
    fn route_channel_webhooks(&self, method: &str, segs: &[&str], body: Option<&Value>) -> Answer {
        match (method, segs) {
            ("GET", ["channels", ch, "webhooks"]) | ("POST", ["channels", ch, "webhooks"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                if self.bot_permissions_in(ch).unwrap_or(0) & MANAGE_WEBHOOKS == 0 {
                    return (403, discord_error(403, 50013, "Missing Permissions"));
                }
                let mut s = self.state();
                if method == "GET" {
                    let list: Vec<Value> = s
                        .webhooks
                        .values()
                        .filter(|w| w.channel_id == ch && !w.deleted)
                        .map(webhook_object)
                        .collect();
                    drop(s);
                    return ok(Value::Array(list));
                }
                let live = s
                    .webhooks
                    .values()
                    .filter(|w| w.channel_id == ch && !w.deleted)
                    .count();
                if live >= 15 {
                    return (
                        400,
                        discord_error(400, 30007, "Maximum number of webhooks reached (15)"),
                    );
                }
                let id = s.new_id();
                let w = FakeWebhook {
                    id,
                    channel_id: ch,
                    token: format!("{}{id}", super::TOKEN_MARKERS[1]),
                    name: body
                        .and_then(|b| b["name"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    deleted: false,
                };
                s.webhooks.insert(id, w.clone());
                drop(s);
                ok(webhook_object(&w))
            }
            _ => not_found(),
        }
    }

    /// Threads: start one on a message, archive one.
    fn route_threads(&self, method: &str, segs: &[&str], body: Option<&Value>) -> Answer {
        match (method, segs) {
            ("POST", ["channels", ch, "messages", mid, "threads"]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let mid: u64 = mid.parse().unwrap_or(0);
                if self.bot_permissions_in(ch).unwrap_or(0) & CREATE_PUBLIC_THREADS == 0 {
                    return (403, discord_error(403, 50013, "Missing Permissions"));
                }
                let mut guard = self.state();
                let s = &mut *guard;
                let id = s.new_id();
                let Some(msg) = s
                    .messages
                    .get_mut(&ch)
                    .and_then(|ms| ms.iter_mut().find(|m| m.id == mid))
                else {
                    return (404, discord_error(404, 10008, "Unknown Message"));
                };
                if msg.thread_id.is_some() {
                    return (
                        400,
                        discord_error(
                            400,
                            160004,
                            "A thread has already been created for this message",
                        ),
                    );
                }
                msg.thread_id = Some(id);
                let t = FakeThread {
                    id,
                    parent_id: ch,
                    message_id: mid,
                    name: body
                        .and_then(|b| b["name"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    archived: false,
                };
                s.threads.insert(id, t.clone());
                drop(guard);
                ok(thread_object(&t))
            }
            ("PATCH", ["channels", thread]) => {
                let id: u64 = thread.parse().unwrap_or(0);
                let mut s = self.state();
                let Some(t) = s.threads.get_mut(&id) else {
                    return (404, discord_error(404, 10003, "Unknown Channel"));
                };
                // The bot started every fake thread: as its creator it may
                // archive it without Manage Threads.
                if let Some(a) = body.and_then(|b| b["archived"].as_bool()) {
                    t.archived = a;
                }
                let v = thread_object(t);
                drop(s);
                ok(v)
            }
            _ => not_found(),
        }
    }

    /// A channel as Discord shows it.
    fn route_channel(&self, method: &str, segs: &[&str]) -> Answer {
        match (method, segs) {
            ("GET", ["channels", ch]) => {
                let ch: u64 = ch.parse().unwrap_or(0);
                let s = self.state();
                let found = s.guilds.values().find_map(|g| {
                    g.channels
                        .iter()
                        .find(|c| c.id == ch)
                        .map(|c| channel_object(g, c))
                });
                // The newest message's id, whether or not the bot may read
                // the channel's history.
                let last = s
                    .messages
                    .get(&ch)
                    .and_then(|ms| ms.iter().map(|m| m.id).max());
                drop(s);
                match found {
                    Some(mut c) => {
                        c["last_message_id"] = last.map(|id| id.to_string()).into();
                        ok(c)
                    }
                    None => (404, discord_error(404, 10003, "Unknown Channel")),
                }
            }
            _ => not_found(),
        }
    }

    /// A guild and its members.
    fn route_guild(&self, method: &str, segs: &[&str]) -> Answer {
        match (method, segs) {
            // A guild the bot was removed from is closed to it.
            ("GET", ["guilds", g, ..])
                if g.parse::<u64>()
                    .is_ok_and(|g| self.state().left.contains(&g)) =>
            {
                (403, discord_error(403, 50001, "Missing Access"))
            }
            ("GET", ["guilds", g]) => match g.parse().ok().and_then(|g| self.guild_json_inner(g)) {
                Some(v) => ok(v),
                None => (404, discord_error(404, 10004, "Unknown Guild")),
            },
            ("GET", ["guilds", g, "members", user]) => {
                let mut m =
                    self.samples["gateway_events"]["guild_create"]["d"]["members"][0].clone();
                m["user"]["id"] = user.to_string().into();
                if user.parse::<u64>().ok() != Some(BOT_ID) {
                    m["user"]["bot"] = false.into();
                }
                // The bot's roles in that guild; others have none here.
                let roles: Vec<String> = match (g.parse::<u64>(), user.parse::<u64>()) {
                    (Ok(g), Ok(BOT_ID)) => self
                        .state()
                        .guilds
                        .get(&g)
                        .map(|g| g.bot_roles.iter().map(u64::to_string).collect())
                        .unwrap_or_default(),
                    _ => vec![],
                };
                m["roles"] = json!(roles);
                ok(m)
            }
            _ => not_found(),
        }
    }

    /// A channel webhook's routes: execute (`?wait=true`) and edit its
    /// messages. Discord answers 10015 for a deleted webhook or a wrong
    /// token.
    fn route_webhook(
        &self,
        method: &str,
        segs: &[&str],
        query: Option<&str>,
        body: Option<&Value>,
        hook: &FakeWebhook,
    ) -> Answer {
        let token_ok = segs.get(2).is_some_and(|t| *t == hook.token);
        if hook.deleted || !token_ok {
            return (404, discord_error(404, 10015, "Unknown Webhook"));
        }
        let b = body.cloned().unwrap_or(Value::Null);
        let ch = hook.channel_id;
        if self.state().deleted.contains(&ch) {
            return (404, discord_error(404, 10003, "Unknown Channel"));
        }
        match (method, segs) {
            ("POST", [_, _, _]) => {
                let name = b["username"].as_str().unwrap_or("").to_lowercase();
                if name.contains("discord") || name.contains("clyde") {
                    return (
                        400,
                        discord_error(400, 50035, "Invalid Form Body (username)"),
                    );
                }
                let mut s = self.state();
                let id = s.new_id();
                s.messages.entry(ch).or_default().push(StoredMessage::new(
                    id,
                    ch,
                    b.clone(),
                    hook.id,
                    Some(hook.id),
                ));
                let stored = s.messages[&ch].last().cloned();
                drop(s);
                let waits = query.unwrap_or("").split('&').any(|kv| kv == "wait=true");
                match stored {
                    Some(m) if waits => (200, axum::Json(self.render_stored(&m)).into_response()),
                    _ => (204, StatusCode::NO_CONTENT.into_response()),
                }
            }
            ("DELETE", [_, _, _]) => {
                if let Some(w) = self.state().webhooks.get_mut(&hook.id) {
                    w.deleted = true;
                }
                (204, StatusCode::NO_CONTENT.into_response())
            }
            ("PATCH", [_, _, _, "messages", mid]) => {
                let mid: u64 = mid.parse().unwrap_or(0);
                let mut s = self.state();
                let Some(msg) = s.messages.get_mut(&ch).and_then(|ms| {
                    ms.iter_mut()
                        .find(|m| m.id == mid && m.webhook_id == Some(hook.id))
                }) else {
                    return (404, discord_error(404, 10008, "Unknown Message"));
                };
                msg.apply_edit(&b);
                let m = msg.clone();
                drop(s);
                (200, axum::Json(self.render_stored(&m)).into_response())
            }
            _ => (404, discord_error(404, 0, "404: Not Found")),
        }
    }
}
