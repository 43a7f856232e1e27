//! The fake's websocket gateway: HELLO, heartbeats, IDENTIFY (with
//! shards) and RESUME (replaying what a session missed), and the
//! dispatches a test pushes, each routed to its guild's shard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::builders::{channel_object, role_objects};
use super::{FakeDiscord, GuildSpec, Inner};

/// The internal signal that closes every gateway connection.
const CLOSE: &str = "__close__";

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

    fn next_seq(&self) -> u64 {
        let mut s = self.state();
        s.seq += 1;
        s.seq
    }

    /// Push a dispatch to every connected gateway session.
    pub fn dispatch(&self, t: &str, d: Value) -> Instant {
        let frame = json!({"op": 0, "t": t, "s": self.next_seq(), "d": d}).to_string();
        // What serenity cannot read it drops with a debug line, and the
        // test would only see a command that never answers: check here.
        match serde_json::from_str::<serenity::all::GatewayEvent>(&frame) {
            Ok(serenity::all::GatewayEvent::Dispatch(_, serenity::all::Event::Unknown(_))) => {
                panic!("serenity would drop this {t} frame as an unknown event\n{frame}")
            }
            Ok(_) => {}
            Err(e) => panic!("serenity would drop this {t} frame: {e}\n{frame}"),
        }
        // The guild it concerns routes it to that guild's shard.
        let guild = d["guild_id"]
            .as_str()
            .or_else(|| {
                matches!(t, "GUILD_CREATE" | "GUILD_DELETE")
                    .then(|| d["id"].as_str())
                    .flatten()
            })
            .and_then(|g| g.parse::<u64>().ok());
        let at = Instant::now();
        {
            // Kept for RESUME: a client that reconnects gets what it missed.
            let mut st = self.state();
            let seq = st.seq;
            st.sent_log.push_back((seq, guild, frame.clone()));
            if st.sent_log.len() > 2000 {
                st.sent_log.pop_front();
            }
        }
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

    /// Announce a guild (its channels, roles and the bot's membership).
    pub fn push_guild_create(&self, g: &GuildSpec) {
        self.add_guild(g.clone());
        let mut d = self.inner.samples["gateway_events"]["guild_create"]["d"].clone();
        d["id"] = g.id.to_string().into();
        d["name"] = g.name.clone().into();
        d["preferred_locale"] = g.locale.clone().into();
        d["roles"] = Value::Array(role_objects(g));
        d["channels"] = Value::Array(g.channels.iter().map(|c| channel_object(g, c)).collect());
        self.dispatch("GUILD_CREATE", d);
    }
}

impl Inner {
    pub(super) async fn session(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (mut tx, mut rx) = ws.split();
        let mut pushes = self.frames.subscribe();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
        if tx.send(WsMessage::text(hello.to_string())).await.is_err() {
            return;
        }
        let mut ready = false;
        // `[id, count]` from IDENTIFY (or the resumed session's id).
        let mut shard: [u64; 2] = [0, 1];
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
                            let ack = json!({"op": 11}).to_string();
                            if tx.send(WsMessage::text(ack)).await.is_err() { return; }
                        }
                        Some(2) => {
                            if let Some([id, count]) = v["d"]["shard"].as_array().and_then(|a| {
                                Some([a.first()?.as_u64()?, a.get(1)?.as_u64()?])
                            }) {
                                shard = [id, count.max(1)];
                            }
                            let mut d = self.samples["gateway_events"]["ready"]["d"].clone();
                            d["resume_gateway_url"] = self.gateway_url.clone().into();
                            d["shard"] = json!(shard);
                            // The session id names the shard, for RESUME.
                            d["session_id"] = format!("fake-session-{}-{}", shard[0], shard[1]).into();
                            let seq = { let mut s = self.state(); s.seq += 1; s.seq };
                            let frame = json!({"op": 0, "t": "READY", "s": seq, "d": d}).to_string();
                            if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                            last_sent = seq;
                            ready = true;
                            {
                                let mut st = self.state();
                                st.identified += 1;
                                st.identified_shards.push(shard);
                            }
                            self.changed.notify_waiters();
                        }
                        Some(6) => {
                            // RESUME: replay what the client missed after its
                            // last sequence, then RESUMED.
                            let from = v["d"]["seq"].as_u64().unwrap_or(0);
                            if let Some(rest) = v["d"]["session_id"].as_str().and_then(|s| s.strip_prefix("fake-session-")) {
                                if let Some((id, count)) = rest.split_once('-') {
                                    if let (Ok(id), Ok(count)) = (id.parse(), count.parse()) {
                                        shard = [id, count];
                                    }
                                }
                            }
                            let missed: Vec<(u64, String)> = self
                                .state()
                                .sent_log
                                .iter()
                                .filter(|(s, g, _)| *s > from && on_shard(*g, shard))
                                .map(|(s, _, f)| (*s, f.clone()))
                                .collect();
                            for (seq, frame) in missed {
                                if tx.send(WsMessage::text(frame)).await.is_err() { return; }
                                last_sent = last_sent.max(seq);
                            }
                            let seq = { let mut s = self.state(); s.seq += 1; s.seq };
                            let resumed = json!({"op": 0, "t": "RESUMED", "s": seq, "d": {}}).to_string();
                            if tx.send(WsMessage::text(resumed)).await.is_err() { return; }
                            last_sent = last_sent.max(seq);
                            ready = true;
                            self.state().resumed += 1;
                            self.changed.notify_waiters();
                        }
                        _ => {}
                    }
                }
                push = pushes.recv(), if ready => {
                    match push {
                        Ok((_, frame)) if frame == CLOSE => {
                            // 4000 "unknown error": Discord's invitation to
                            // reconnect and resume.
                            let close = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                                code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::from(4000),
                                reason: "reconnect".into(),
                            };
                            let _ = tx.send(WsMessage::Close(Some(close))).await;
                            return;
                        }
                        Ok((guild, _)) if !on_shard(guild, shard) => {}
                        Ok((_, frame)) => {
                            let seq = serde_json::from_str::<Value>(&frame)
                                .ok()
                                .and_then(|v| v["s"].as_u64())
                                .unwrap_or(u64::MAX);
                            if seq <= last_sent {
                                continue;
                            }
                            last_sent = seq;
                            if tx.send(WsMessage::text(frame)).await.is_err() { return }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    }
                }
            }
        }
    }
}
