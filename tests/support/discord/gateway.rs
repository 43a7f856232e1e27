//! The fake's websocket gateway as Discord documents it: HELLO,
//! heartbeats, IDENTIFY (with shards, `max_concurrency` per 5 s and the
//! day's session starts), RESUME (replaying what a session missed, refused
//! with op 9 for an unknown session or a gap), and the dispatches a test
//! pushes, each routed to its guild's shard. READY lists the shard's
//! guilds as unavailable and a GUILD_CREATE follows for each (Discord's
//! lazy loading); an outage's GUILD_DELETE is followed by GUILD_CREATE
//! when the guild is back (`guild_back`). A test can make it misbehave
//! as Discord does: op 7 Reconnect, op 9 Invalid Session, heartbeats left
//! unacknowledged (a zombie connection), any close code, a connection
//! dropped without a close frame, every connection refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{FakeDiscord, GuildSpec, Inner, State};

/// Internal signals to every connection, sent down the frames channel.
const CLOSE: &str = "__close__";
const DROP: &str = "__drop__";
const RECONNECT: &str = "__reconnect__";
const INVALID: &str = "__invalid__";

/// Discord's window for `max_concurrency` identifies.
pub const IDENTIFY_WINDOW: Duration = Duration::from_secs(5);

/// How many dispatched frames the fake keeps for RESUME.
const REPLAY_KEPT: usize = 2000;

/// The gateway's rules, as a test set them.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub heartbeat_interval: Duration,
    pub max_concurrency: u64,
    pub starts_total: u64,
    pub starts_remaining: u64,
    pub starts_reset_at: Instant,
    /// Every IDENTIFY is answered with this close (a bad token, an intent).
    pub refuse_identify: Option<(u16, String)>,
    /// Heartbeats are not acknowledged (a zombie connection).
    pub zombie: bool,
    /// Session ids handed out in READY that may still RESUME, with their
    /// `[shard, count]`.
    pub sessions: HashMap<String, [u64; 2]>,
    /// Op 9 sent, by why: "too soon", "no starts left", "cannot resume".
    pub invalid_sessions: HashMap<&'static str, usize>,
    /// Websocket connections accepted.
    pub connections: usize,
    /// Closes sent, by code.
    pub closes: Vec<u16>,
    /// Last IDENTIFY accepted per rate-limit bucket.
    pub last_identify: HashMap<u64, Instant>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            heartbeat_interval: Duration::from_millis(41250),
            max_concurrency: 1,
            starts_total: 1000,
            starts_remaining: 1000,
            starts_reset_at: Instant::now() + Duration::from_secs(86_400),
            refuse_identify: None,
            zombie: false,
            sessions: HashMap::new(),
            invalid_sessions: HashMap::new(),
            connections: 0,
            closes: Vec::new(),
            last_identify: HashMap::new(),
        }
    }
}

impl Rules {
    /// The day's starts, reset when their time came.
    fn starts(&mut self) -> (u64, Duration) {
        let now = Instant::now();
        if now >= self.starts_reset_at {
            self.starts_remaining = self.starts_total;
            self.starts_reset_at = now + Duration::from_secs(86_400);
        }
        (
            self.starts_remaining,
            self.starts_reset_at.saturating_duration_since(now),
        )
    }

    /// `session_start_limit` as `/gateway/bot` shows it.
    pub(super) fn session_start_limit(&mut self) -> Value {
        let (remaining, reset_after) = self.starts();
        json!({
            "total": self.starts_total, "remaining": remaining,
            "reset_after": reset_after.as_millis() as u64,
            "max_concurrency": self.max_concurrency
        })
    }
}

/// Discord's routing: a guild's events go to shard `(guild_id >> 22) %
/// shard_count`; events of no guild (DMs) to shard 0.
pub fn on_shard(guild: Option<u64>, [id, count]: [u64; 2]) -> bool {
    match guild {
        Some(g) => (g >> 22) % count.max(1) == id,
        None => id == 0,
    }
}

impl FakeDiscord {
    /// Wait until a client identified (and got READY).
    pub async fn wait_ready(&self, timeout: Duration) {
        self.wait_until(timeout, "the bot to identify", |s| s.identified > 0)
            .await;
    }

    /// Wait until `n` gateway sessions have identified in total.
    pub async fn wait_identified(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, "another identify", |s| s.identified >= n)
            .await;
    }

    /// Push a dispatch to every connected gateway session (each forwards
    /// it if the guild it concerns is on its shard).
    pub fn dispatch(&self, t: &str, d: Value) -> Instant {
        let (guild, frame) = self.inner.sequenced(t, d);
        let at = Instant::now();
        let _ = self.inner.frames.send((guild, frame));
        at
    }

    /// The bot is removed from `guild` (kicked): its channels answer
    /// 50001 from now on, and the gateway says GUILD_DELETE (no
    /// `unavailable`). Webhooks in its channels keep working, as on Discord.
    pub fn remove_bot_from(&self, guild: u64) -> Instant {
        self.state().left.insert(guild);
        self.dispatch("GUILD_DELETE", json!({"id": guild.to_string()}))
    }

    /// `guild` is unavailable for a while (a Discord outage): GUILD_DELETE
    /// with `unavailable: true`; the bot is still a member.
    pub fn guild_outage(&self, guild: u64) -> Instant {
        self.dispatch(
            "GUILD_DELETE",
            json!({"id": guild.to_string(), "unavailable": true}),
        )
    }

    /// Drop every gateway connection (as a network blip or Discord's
    /// load balancing would): serenity reconnects and RESUMEs.
    pub fn drop_gateway_connections(&self) {
        let _ = self.inner.frames.send((None, CLOSE.to_string()));
    }

    /// `[shard_id, shard_count]` of every IDENTIFY so far.
    pub fn identified_shards(&self) -> Vec<[u64; 2]> {
        self.state().identified_shards.clone()
    }

    /// Wait until every shard in `shards` (of `count`) has identified.
    pub async fn wait_shards(&self, shards: std::ops::Range<u64>, count: u64, timeout: Duration) {
        self.wait_until(timeout, "every shard to identify", |s| {
            shards
                .clone()
                .all(|id| s.identified_shards.contains(&[id, count]))
        })
        .await;
    }

    /// The gateway's URL (what `/gateway/bot` answers).
    pub fn gateway_url(&self) -> String {
        self.inner.gateway_url.clone()
    }

    /// How many GUILD_CREATEs for `guild` sessions delivered so far.
    pub fn guild_creates_delivered(&self, guild: u64) -> usize {
        self.state()
            .guild_creates_delivered
            .iter()
            .filter(|g| **g == guild)
            .count()
    }

    /// Wait until sessions delivered `n` GUILD_CREATEs for `guild` in all.
    pub async fn wait_guild_creates_delivered(&self, guild: u64, n: usize, timeout: Duration) {
        self.wait_until(timeout, "a GUILD_CREATE delivered", |s| {
            s.guild_creates_delivered
                .iter()
                .filter(|g| **g == guild)
                .count()
                >= n
        })
        .await;
    }

    /// How many shards `/gateway/bot` recommends (default 1).
    pub fn set_recommended_shards(&self, n: u64) {
        self.state().recommended_shards = n;
    }

    /// Sessions that identified (a RESUME does not count).
    pub fn identified_count(&self) -> usize {
        self.state().identified
    }

    /// Wait until `n` sessions have resumed in total.
    pub async fn wait_resumed(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, "a RESUME", |s| s.resumed >= n)
            .await;
    }

    /// Announce a guild (its channels, roles and the bot's membership),
    /// as when the bot joins it: the fake knows it from now on.
    pub fn push_guild_create(&self, g: &GuildSpec) {
        self.add_guild(g.clone());
        self.dispatch("GUILD_CREATE", self.inner.guild_create_object(g));
    }

    /// `guild` is back after an outage (`guild_outage`): Discord sends its
    /// GUILD_CREATE again.
    pub fn guild_back(&self, guild: u64) -> Instant {
        let g = self
            .state()
            .guilds
            .get(&guild)
            .cloned()
            .unwrap_or_else(|| panic!("no fake guild {guild}"));
        self.dispatch("GUILD_CREATE", self.inner.guild_create_object(&g))
    }

    /// Close every gateway connection with `code` and `reason` (4007 and
    /// 4009 also end the sessions: they cannot be resumed).
    pub fn close_gateway(&self, code: u16, reason: &str) {
        let _ = self
            .inner
            .frames
            .send((None, format!("{CLOSE}:{code}:{reason}")));
    }

    /// Cut every gateway connection without a close frame (a reset).
    pub fn cut_gateway_connections(&self) {
        let _ = self.inner.frames.send((None, DROP.to_string()));
    }

    /// Op 7 Reconnect on every connection: resume on a new one.
    pub fn send_reconnect(&self) {
        let _ = self.inner.frames.send((None, RECONNECT.to_string()));
    }

    /// Op 9 Invalid Session on every connection (`resumable` is its `d`).
    pub fn send_invalid_session(&self, resumable: bool) {
        let _ = self
            .inner
            .frames
            .send((None, format!("{INVALID}:{resumable}")));
    }

    /// Stop (or start again) acknowledging heartbeats: a zombie connection.
    pub fn set_zombie(&self, on: bool) {
        self.state().gateway.zombie = on;
    }

    /// Answer every IDENTIFY with this close (4004 a bad token, 4014 a
    /// disallowed intent, 4000 a gateway that keeps refusing), or serve.
    pub fn refuse_identify(&self, close: Option<(u16, &str)>) {
        self.state().gateway.refuse_identify = close.map(|(c, r)| (c, r.to_string()));
    }

    /// HELLO's heartbeat interval (Discord: about 41 s).
    pub fn set_heartbeat_interval(&self, every: Duration) {
        self.state().gateway.heartbeat_interval = every;
    }

    /// `max_concurrency` of `/gateway/bot` (identifies per 5 s).
    pub fn set_max_concurrency(&self, n: u64) {
        self.state().gateway.max_concurrency = n.max(1);
    }

    /// The day's session starts: `remaining` of `total`, reset after
    /// `reset_after`.
    pub fn set_session_starts(&self, total: u64, remaining: u64, reset_after: Duration) {
        let mut s = self.state();
        s.gateway.starts_total = total;
        s.gateway.starts_remaining = remaining;
        s.gateway.starts_reset_at = Instant::now() + reset_after;
    }

    /// Session starts left today, as `/gateway/bot` would say.
    pub fn session_starts_remaining(&self) -> u64 {
        self.state().gateway.starts().0
    }

    /// Op 9 Invalid Session the fake sent, by why ("too soon": an
    /// IDENTIFY inside its bucket's 5 s; "no starts left"; "cannot
    /// resume": an unknown or ended session, or a gap).
    pub fn invalid_sessions(&self) -> HashMap<&'static str, usize> {
        self.state().gateway.invalid_sessions.clone()
    }

    /// When each accepted IDENTIFY arrived, with its `[shard, count]`.
    pub fn identify_times(&self) -> Vec<(Instant, [u64; 2])> {
        self.state().identify_times.clone()
    }

    /// Websocket connections accepted so far.
    pub fn gateway_connections(&self) -> usize {
        self.state().gateway.connections
    }

    /// Wait until `n` websocket connections were accepted in total.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, "a gateway connection", |s| {
            s.gateway.connections >= n
        })
        .await;
    }

    /// Close codes the fake sent, in order.
    pub fn gateway_closes(&self) -> Vec<u16> {
        self.state().gateway.closes.clone()
    }
}

/// A dispatch frame of `t` with the next sequence number, kept for RESUME
/// with the guild it concerns: (its sequence number, the frame).
fn log_frame(st: &mut State, t: &str, d: Value, guild: Option<u64>) -> (u64, String) {
    st.seq += 1;
    let seq = st.seq;
    let frame = json!({"op": 0, "t": t, "s": seq, "d": d}).to_string();
    // What serenity cannot read it drops with a debug line, and the test
    // would only see a command that never answers: check here.
    match serde_json::from_str::<serenity::all::GatewayEvent>(&frame) {
        Ok(serenity::all::GatewayEvent::Dispatch(_, serenity::all::Event::Unknown(_))) => {
            panic!("serenity would drop this {t} frame as an unknown event\n{frame}")
        }
        Ok(_) => {}
        Err(e) => panic!("serenity would drop this {t} frame: {e}\n{frame}"),
    }
    st.sent_log.push_back((seq, guild, frame.clone()));
    if st.sent_log.len() > REPLAY_KEPT {
        if let Some((dropped, _, _)) = st.sent_log.pop_front() {
            st.sent_log_dropped_to = dropped;
        }
    }
    (seq, frame)
}

impl Inner {
    /// A dispatch frame with the next sequence number, kept for RESUME
    /// (a client that reconnects gets what it missed), with the guild it
    /// concerns (which routes it to that guild's shard).
    fn sequenced(&self, t: &str, d: Value) -> (Option<u64>, String) {
        let guild = d["guild_id"]
            .as_str()
            .or_else(|| {
                matches!(t, "GUILD_CREATE" | "GUILD_DELETE")
                    .then(|| d["id"].as_str())
                    .flatten()
            })
            .and_then(|g| g.parse::<u64>().ok());
        let (_, frame) = log_frame(&mut self.state(), t, d, guild);
        (guild, frame)
    }

    /// A session delivered a GUILD_CREATE for `guild`.
    fn delivered_guild_create(&self, guild: u64) {
        self.state().guild_creates_delivered.push(guild);
        self.changed.notify_waiters();
    }

    /// The guilds on `shard` the bot is in, by id.
    fn guilds_on(&self, shard: [u64; 2]) -> Vec<GuildSpec> {
        let s = self.state();
        let mut gs: Vec<GuildSpec> = s
            .guilds
            .values()
            .filter(|g| !s.left.contains(&g.id) && on_shard(Some(g.id), shard))
            .cloned()
            .collect();
        gs.sort_by_key(|g| g.id);
        gs
    }

    /// Send a close frame and remember its code.
    async fn close<S>(&self, tx: &mut S, code: u16, reason: &str)
    where
        S: futures::Sink<WsMessage> + Unpin,
    {
        self.state().gateway.closes.push(code);
        self.changed.notify_waiters();
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        let _ = tx.send(WsMessage::Close(Some(frame))).await;
    }

    /// Op 9, counted by why.
    async fn invalid_session<S>(&self, tx: &mut S, why: &'static str, resumable: bool) -> bool
    where
        S: futures::Sink<WsMessage> + Unpin,
    {
        *self
            .state()
            .gateway
            .invalid_sessions
            .entry(why)
            .or_default() += 1;
        self.changed.notify_waiters();
        let frame = json!({"op": 9, "d": resumable, "s": null, "t": null}).to_string();
        tx.send(WsMessage::text(frame)).await.is_ok()
    }

    /// Whether an IDENTIFY of `shard` may start a session now: within its
    /// bucket's 5 s window and the day's starts (the start is spent).
    fn admit_identify(&self, shard: [u64; 2]) -> Result<(), &'static str> {
        let mut s = self.state();
        let g = &mut s.gateway;
        let bucket = shard[0] % g.max_concurrency.max(1);
        let now = Instant::now();
        if g.last_identify
            .get(&bucket)
            .is_some_and(|t| now.duration_since(*t) < IDENTIFY_WINDOW)
        {
            return Err("too soon");
        }
        if g.starts().0 == 0 {
            return Err("no starts left");
        }
        g.starts_remaining -= 1;
        g.last_identify.insert(bucket, now);
        Ok(())
    }

    pub(super) async fn session(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        self.state().gateway.connections += 1;
        self.changed.notify_waiters();
        let (mut tx, mut rx) = ws.split();
        let mut pushes = self.frames.subscribe();
        let every = self.state().gateway.heartbeat_interval;
        let hello = json!({"op": 10, "d": {"heartbeat_interval": every.as_millis() as u64}, "s": null, "t": null});
        if tx.send(WsMessage::text(hello.to_string())).await.is_err() {
            return;
        }
        let mut ready = false;
        // `[id, count]` from IDENTIFY (or the resumed session's).
        let mut shard: [u64; 2] = [0, 1];
        let mut session_id: Option<String> = None;
        // The highest sequence this connection has delivered: replayed
        // frames and live pushes never go out twice.
        let mut last_sent: u64 = 0;
        loop {
            tokio::select! {
                frame = rx.next() => {
                    let Some(Ok(frame)) = frame else { return };
                    let Ok(text) = frame.to_text() else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
                    match v["op"].as_u64() {
                        Some(1) => {
                            if self.state().gateway.zombie {
                                continue;
                            }
                            let ack = json!({"op": 11}).to_string();
                            if tx.send(WsMessage::text(ack)).await.is_err() { return; }
                        }
                        Some(2) => {
                            if let Some([id, count]) = v["d"]["shard"].as_array().and_then(|a| {
                                Some([a.first()?.as_u64()?, a.get(1)?.as_u64()?])
                            }) {
                                shard = [id, count.max(1)];
                            }
                            let refused = self.state().gateway.refuse_identify.clone();
                            if let Some((code, reason)) = refused {
                                self.close(&mut tx, code, &reason).await;
                                return;
                            }
                            if let Err(why) = self.admit_identify(shard) {
                                if !self.invalid_session(&mut tx, why, false).await { return; }
                                continue;
                            }
                            // READY lists the shard's guilds as unavailable;
                            // a GUILD_CREATE for each follows (lazy loading).
                            let guilds = self.guilds_on(shard);
                            let mut d = self.samples["gateway_events"]["ready"]["d"].clone();
                            d["resume_gateway_url"] = self.gateway_url.clone().into();
                            d["shard"] = json!(shard);
                            d["guilds"] = guilds
                                .iter()
                                .map(|g| json!({"id": g.id.to_string(), "unavailable": true}))
                                .collect();
                            let id = format!("fake-session-{}-{}-{}", shard[0], shard[1], self.state().new_id());
                            d["session_id"] = id.clone().into();
                            let creates: Vec<(u64, Value)> = guilds
                                .iter()
                                .map(|g| (g.id, self.guild_create_object(g)))
                                .collect();
                            // Numbered together: a push cannot fall between
                            // them (it would be skipped as already sent).
                            let (seq, creates) = {
                                let mut s = self.state();
                                s.seq += 1;
                                let seq = s.seq;
                                let frames: Vec<(u64, u64, String)> = creates
                                    .into_iter()
                                    .map(|(g, d)| {
                                        let (seq, f) = log_frame(&mut s, "GUILD_CREATE", d, Some(g));
                                        (g, seq, f)
                                    })
                                    .collect();
                                (seq, frames)
                            };
                            let frame = json!({"op": 0, "t": "READY", "s": seq, "d": d}).to_string();
                            if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                            last_sent = seq;
                            ready = true;
                            for (g, seq, frame) in creates {
                                if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                                last_sent = last_sent.max(seq);
                                self.delivered_guild_create(g);
                            }
                            {
                                let mut st = self.state();
                                st.identified += 1;
                                st.identified_shards.push(shard);
                                st.identify_times.push((Instant::now(), shard));
                                st.gateway.sessions.insert(id.clone(), shard);
                            }
                            session_id = Some(id);
                            self.changed.notify_waiters();
                        }
                        Some(6) => {
                            // RESUME: a session the fake handed out, from a
                            // sequence it can still replay; else op 9.
                            let from = v["d"]["seq"].as_u64().unwrap_or(0);
                            let id = v["d"]["session_id"].as_str().unwrap_or("").to_string();
                            let resumed_shard = {
                                let s = self.state();
                                s.gateway
                                    .sessions
                                    .get(&id)
                                    .copied()
                                    .filter(|_| from >= s.sent_log_dropped_to)
                            };
                            let Some(resumed_shard) = resumed_shard else {
                                if !self.invalid_session(&mut tx, "cannot resume", false).await { return; }
                                continue;
                            };
                            shard = resumed_shard;
                            // What it missed and RESUMED's number, together:
                            // a push cannot fall between them.
                            let (missed, seq) = {
                                let mut s = self.state();
                                let missed: Vec<(u64, String)> = s
                                    .sent_log
                                    .iter()
                                    .filter(|(s, g, _)| *s > from && on_shard(*g, shard))
                                    .map(|(s, _, f)| (*s, f.clone()))
                                    .collect();
                                s.seq += 1;
                                (missed, s.seq)
                            };
                            for (seq, frame) in missed {
                                if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                                last_sent = last_sent.max(seq);
                            }
                            let resumed = json!({"op": 0, "t": "RESUMED", "s": seq, "d": {}}).to_string();
                            if tx.send(WsMessage::text(resumed)).await.is_err() { return; }
                            last_sent = last_sent.max(seq);
                            ready = true;
                            session_id = Some(id);
                            self.state().resumed += 1;
                            self.changed.notify_waiters();
                        }
                        _ => {}
                    }
                }
                push = pushes.recv() => {
                    match push {
                        Ok((_, frame)) if frame.starts_with(CLOSE) => {
                            // Default 4000 "unknown error": Discord's
                            // invitation to reconnect and resume.
                            let mut parts = frame.splitn(3, ':').skip(1);
                            let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(4000);
                            let reason = parts.next().unwrap_or("reconnect").to_string();
                            if matches!(code, 4007 | 4009) {
                                if let Some(id) = &session_id {
                                    self.state().gateway.sessions.remove(id);
                                }
                            }
                            self.close(&mut tx, code, &reason).await;
                            return;
                        }
                        Ok((_, frame)) if frame == DROP => return,
                        Ok((_, frame)) if frame == RECONNECT => {
                            let f = json!({"op": 7, "d": null, "s": null, "t": null}).to_string();
                            if tx.send(WsMessage::text(f)).await.is_err() { return; }
                        }
                        Ok((_, frame)) if frame.starts_with(INVALID) => {
                            let resumable = frame.ends_with("true");
                            if !resumable {
                                if let Some(id) = &session_id {
                                    self.state().gateway.sessions.remove(id);
                                }
                            }
                            if !self.invalid_session(&mut tx, "sent by the test", resumable).await { return; }
                        }
                        Ok(_) if !ready => {}
                        Ok((guild, _)) if !on_shard(guild, shard) => {}
                        Ok((guild, frame)) => {
                            let v = serde_json::from_str::<Value>(&frame).unwrap_or(Value::Null);
                            let seq = v["s"].as_u64().unwrap_or(u64::MAX);
                            if seq <= last_sent {
                                continue;
                            }
                            last_sent = seq;
                            if tx.send(WsMessage::text(frame)).await.is_err() { return }
                            if let (Some(g), Some("GUILD_CREATE")) = (guild, v["t"].as_str()) {
                                self.delivered_guild_create(g);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    }
                }
            }
        }
    }
}
