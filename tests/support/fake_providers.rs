//! A scriptable fake provider HTTP server on 127.0.0.1 (random port).
//!
//! ```ignore
//! let fake = FakeProvider::start().await;
//! fake.set("GET /api/jkt48/live", Reply::json(json!([])));
//! fake.script("GET /v1/x", vec![Reply::html(502), Reply::json(json!({}))]); // then repeats the last
//! let url = fake.url(); // "http://127.0.0.1:PORT"
//! assert_eq!(fake.hits("/api/jkt48/live"), 1);
//! ```
//!
//! Routes are `"METHOD /path"` (or `"/path"` for any method). A route's
//! replies are served in order; the last one repeats. Unscripted routes get
//! 404 `{"errors":[{"message":"no such route in the fake"}]}`. Every request
//! is recorded (before any delay), so a request the client gave up on still
//! counts. The server stops when the `FakeProvider` is dropped.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;

/// JKT48Connect's answer with one member live on IDN (Fritzy, room
/// 510011) since `start`, with one HLS link.
pub fn fritzy_live(start: &str) -> serde_json::Value {
    serde_json::json!([{
        "name": "Fritzy", "url_key": "jkt48_fritzy", "slug": "s", "room_id": 510011,
        "started_at": start, "type": "idn",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/f.m3u8"}]
    }])
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
    pub delay: Option<Duration>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(v: serde_json::Value) -> Self {
        Reply::status(200, v.to_string())
    }

    /// `code` with a JSON body.
    pub fn json_status(code: u16, v: serde_json::Value) -> Self {
        Reply::status(code, v.to_string())
    }

    /// `code` with `body` as `application/json` (the body need not be valid).
    pub fn status(code: u16, body: impl Into<String>) -> Self {
        Reply {
            status: code,
            body: body.into(),
            content_type: "application/json".into(),
            delay: None,
            headers: Vec::new(),
        }
    }

    /// An nginx/Cloudflare-style HTML error page.
    pub fn html(code: u16) -> Self {
        Reply {
            status: code,
            body: format!(
                "<!DOCTYPE html>\n<html><head><title>{code} Error</title></head>\
                 <body><center><h1>{code}</h1></center><hr><center>nginx</center></body></html>"
            ),
            content_type: "text/html; charset=utf-8".into(),
            delay: None,
            headers: Vec::new(),
        }
    }

    /// `code` with a plain-text body.
    pub fn text(code: u16, body: impl Into<String>) -> Self {
        Reply {
            status: code,
            body: body.into(),
            content_type: "text/plain; charset=utf-8".into(),
            delay: None,
            headers: Vec::new(),
        }
    }

    /// Wait this long before answering.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

    /// Add a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Override the content type.
    pub fn content_type(mut self, ct: &str) -> Self {
        self.content_type = ct.to_string();
        self
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Inner {
    routes: Mutex<HashMap<String, VecDeque<Reply>>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running fake. Dropping it stops the server.
pub struct FakeProvider {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider { addr, inner, task }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer `route` ("GET /path" or "/path") with `reply` from now on.
    pub fn set(&self, route: &str, reply: Reply) {
        self.script(route, vec![reply]);
    }

    /// Answer `route` with these replies in order; the last one repeats.
    pub fn script(&self, route: &str, replies: Vec<Reply>) {
        let mut routes = self.inner.routes.lock().unwrap();
        routes.insert(normalize_route(route), replies.into_iter().collect());
    }

    /// Append a reply to a route's script.
    pub fn push(&self, route: &str, reply: Reply) {
        let mut routes = self.inner.routes.lock().unwrap();
        routes
            .entry(normalize_route(route))
            .or_default()
            .push_back(reply);
    }

    /// Requests to `path` ("/path" any method, or "GET /path").
    pub fn hits(&self, path: &str) -> usize {
        let (method, path) = split_route(path);
        self.requests()
            .iter()
            .filter(|r| r.path == path && method.as_ref().is_none_or(|m| *m == r.method))
            .count()
    }

    /// Wait (a condition, not a fixed sleep) until `path` has been asked
    /// `more` more times than now: "the bot ran that many more polls".
    pub async fn wait_more_hits(&self, path: &str, more: usize, timeout: Duration) {
        let target = self.hits(path) + more;
        let deadline = tokio::time::Instant::now() + timeout;
        while self.hits(path) < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {more} more requests to {path}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// The requests to `path` (as in [`FakeProvider::hits`]).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        let (method, path) = split_route(path);
        self.requests()
            .into_iter()
            .filter(|r| r.path == path && method.as_ref().is_none_or(|m| *m == r.method))
            .collect()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn split_route(route: &str) -> (Option<String>, String) {
    match route.trim().split_once(' ') {
        Some((m, p)) => (Some(m.trim().to_ascii_uppercase()), p.trim().to_string()),
        None => (None, route.trim().to_string()),
    }
}

fn normalize_route(route: &str) -> String {
    match split_route(route) {
        (Some(m), p) => format!("{m} {p}"),
        (None, p) => format!("* {p}"),
    }
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    inner.requests.lock().unwrap().push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        at: std::time::Instant::now(),
    });

    let reply = {
        let mut routes = inner.routes.lock().unwrap();
        let key = [format!("{method} {path}"), format!("* {path}")]
            .into_iter()
            .find(|k| routes.contains_key(k));
        key.and_then(|k| {
            let script = routes.get_mut(&k)?;
            if script.len() > 1 {
                script.pop_front()
            } else {
                script.front().cloned()
            }
        })
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json_status(
            404,
            serde_json::json!({"errors": [{"message": "no such route in the fake"}]}),
        )
    });
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    if let Ok(ct) = HeaderValue::from_str(&reply.content_type) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, ct);
    }
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}
