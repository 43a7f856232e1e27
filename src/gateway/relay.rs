//! A websocket relay on 127.0.0.1 between serenity's shards and Discord's
//! gateway. serenity 0.12 has no hook before an IDENTIFY and does not say
//! why a connection closed; the relay sees every frame, so:
//!
//! - an IDENTIFY waits for the [`Gate`] (pacing across replicas, session
//!   starts) before it goes out, and asks for uncompressed payloads, so
//!   every frame can be read;
//! - READY, RESUMED, op 7 and op 9 and every close (code and reason) are
//!   told to the [`Report`].
//!
//! A connection to Discord that cannot be opened is refused to serenity
//! before its handshake, so serenity's own retry runs as it would against
//! Discord. Frames are never logged (IDENTIFY and RESUME carry the token).

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::identify::Gate;
use super::report::{Ended, Report};

/// How long opening a connection to Discord may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Start relaying to `upstream` (the gateway URL `/gateway` named) until
/// `shutdown`; the relay's address, for serenity's `ws_url`.
pub async fn start(
    upstream: String,
    gate: Arc<Gate>,
    report: Arc<Report>,
    shutdown: CancellationToken,
) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    // As serenity builds it: the version in the query, and a URL whose
    // path is at least "/" (`Url` normalises it).
    let upstream = url::Url::parse(&format!(
        "{}?v={}&encoding=json",
        upstream.trim_end_matches('/'),
        serenity::constants::GATEWAY_VERSION
    ))
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
    .to_string();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = shutdown.cancelled() => return,
            };
            let Ok((client, _)) = accepted else { continue };
            let link = Link {
                gate: Arc::clone(&gate),
                report: Arc::clone(&report),
                shutdown: shutdown.clone(),
                shard: None,
                heartbeat: None,
                ack_due: None,
            };
            tokio::spawn(link.run(client, upstream.clone()));
        }
    });
    Ok(url)
}

/// One relayed connection.
struct Link {
    gate: Arc<Gate>,
    report: Arc<Report>,
    shutdown: CancellationToken,
    /// The shard this connection serves, once IDENTIFY or RESUME named it.
    shard: Option<u64>,
    /// HELLO's heartbeat interval.
    heartbeat: Option<Duration>,
    /// A heartbeat went out and its ACK must arrive by then.
    ack_due: Option<tokio::time::Instant>,
}

/// How much of a heartbeat interval an ACK may take before the connection
/// counts as a zombie: less than the whole interval, so the relay replaces
/// it (a close serenity resumes from at once) before serenity's own check
/// at the next heartbeat, which restarts the shard with a 5 s stall.
fn ack_deadline(interval: Duration) -> Duration {
    interval * 3 / 4
}

impl Link {
    async fn run(mut self, client: TcpStream, upstream: String) {
        let opened = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async(upstream.as_str()),
        )
        .await;
        let up = match opened {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                self.report
                    .ended(None, &Ended::Broken(format!("cannot connect: {e}")));
                return; // serenity's handshake fails; it retries
            }
            Err(_) => {
                self.report
                    .ended(None, &Ended::Broken("connecting timed out".into()));
                return;
            }
        };
        let Ok(down) = tokio_tungstenite::accept_async(client).await else {
            return;
        };
        let (mut up_tx, mut up_rx) = up.split();
        let (mut down_tx, mut down_rx) = down.split();
        loop {
            let ack_due = self.ack_due;
            tokio::select! {
                () = async { tokio::time::sleep_until(ack_due.unwrap_or_else(tokio::time::Instant::now)).await }, if ack_due.is_some() => {
                    // A zombie: Discord stopped acknowledging. Close both
                    // sides with a resumable code; serenity resumes at once.
                    self.report.ended(self.shard, &Ended::Broken("heartbeat not acknowledged (a zombie connection); replacing it".into()));
                    let close = |why: &'static str| Message::Close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::from(4000),
                        reason: why.into(),
                    }));
                    let _ = up_tx.send(close("zombie connection")).await;
                    let _ = down_tx.send(close("heartbeat not acknowledged")).await;
                    return;
                }
                from_bot = down_rx.next() => match from_bot {
                    Some(Ok(Message::Text(text))) => {
                        let Some(text) = self.outgoing(text).await else { return };
                        if up_tx.send(Message::Text(text)).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let _ = up_tx.send(Message::Close(frame)).await;
                        return;
                    }
                    Some(Ok(other)) => {
                        if up_tx.send(other).await.is_err() {
                            return;
                        }
                    }
                    // serenity dropped the connection: so does the relay.
                    Some(Err(_)) | None => return,
                },
                from_discord = up_rx.next() => match from_discord {
                    Some(Ok(Message::Text(text))) => {
                        self.incoming(&text);
                        if down_tx.send(Message::Text(text)).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame.as_ref().map_or((1005, String::new()), |f| {
                            (u16::from(f.code), f.reason.to_string())
                        });
                        self.report.ended(self.shard, &Ended::Closed { code, reason });
                        let _ = down_tx.send(Message::Close(frame)).await;
                        return;
                    }
                    Some(Ok(other)) => {
                        if down_tx.send(other).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        self.report.ended(self.shard, &Ended::Broken(e.to_string()));
                        return; // serenity sees the connection drop, as it was
                    }
                    None => {
                        self.report.ended(self.shard, &Ended::Broken("closed without a close frame".into()));
                        return;
                    }
                },
            }
        }
    }

    /// A frame from serenity to Discord: IDENTIFY waits for the gate and
    /// asks for uncompressed payloads. None: stop (shutdown).
    async fn outgoing(&mut self, text: String) -> Option<String> {
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
            return Some(text);
        };
        match v["op"].as_u64() {
            Some(1) => {
                if let (None, Some(every)) = (self.ack_due, self.heartbeat) {
                    self.ack_due = Some(tokio::time::Instant::now() + ack_deadline(every));
                }
                Some(text)
            }
            Some(2) => {
                let shard = v["d"]["shard"][0].as_u64().unwrap_or(0);
                self.shard = Some(shard);
                if !self.gate.admit(shard, &self.shutdown).await {
                    return None;
                }
                self.report.identified(shard);
                v["d"]["compress"] = Value::Bool(false);
                Some(v.to_string())
            }
            Some(6) => {
                if let Some(session) = v["d"]["session_id"].as_str() {
                    self.shard = self.report.resuming(session).or(self.shard);
                }
                Some(text)
            }
            _ => Some(text),
        }
    }

    /// A frame from Discord: sessions established and reconnect requests.
    fn incoming(&mut self, text: &str) {
        // Only the opcode and type of most frames matter: read just those
        // (a dispatch's data is skipped without building it).
        #[derive(serde::Deserialize)]
        struct Head {
            op: Option<u64>,
            t: Option<String>,
        }
        let Ok(head) = serde_json::from_str::<Head>(text) else {
            return;
        };
        match (head.op, head.t.as_deref()) {
            (Some(10), _) => {
                self.heartbeat = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v["d"]["heartbeat_interval"].as_u64())
                    .map(Duration::from_millis);
            }
            (Some(11), _) => self.ack_due = None,
            (Some(0), Some("READY")) => {
                let Ok(v) = serde_json::from_str::<Value>(text) else {
                    return;
                };
                if let Some(shard) = v["d"]["shard"][0].as_u64() {
                    self.shard = Some(shard);
                }
                self.report
                    .established(self.shard, v["d"]["session_id"].as_str());
            }
            (Some(0), Some("RESUMED")) => self.report.established(self.shard, None),
            (Some(7), _) => self.report.asked(self.shard, 7, None),
            (Some(9), _) => {
                let resumable = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v["d"].as_bool());
                self.report.asked(self.shard, 9, resumable);
            }
            _ => {}
        }
    }
}
