//! A Chrome DevTools Protocol client for the Chromium that chromedriver started: what WebDriver
//! cannot do — grant permissions, deliver a push message to a service worker, hold requests as a
//! silently hanging connection would, take the network offline, swipe with a finger.
//!
//! It speaks CDP over a plain `ws://` WebSocket to the browser target (flat sessions for pages),
//! with a small client written here (text frames only; what CDP needs).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::webdriver::Driver;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

pub struct Cdp {
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    events: Arc<Mutex<Vec<Value>>>,
    arrived: Arc<Notify>,
    next: AtomicU64,
}

async fn read_frame(stream: &mut tokio::net::tcp::OwnedReadHalf) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.ok()?;
    let opcode = head[0] & 0x0f;
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        stream.read_exact(&mut b).await.ok()?;
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        stream.read_exact(&mut b).await.ok()?;
        len = u64::from_be_bytes(b);
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    stream.read_exact(&mut payload).await.ok()?;
    Some((opcode | (head[0] & 0x80), payload))
}

fn text_frame(text: &str) -> Vec<u8> {
    let data = text.as_bytes();
    let mask: [u8; 4] = rand_mask();
    let mut frame = vec![0x81];
    match data.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

fn rand_mask() -> [u8; 4] {
    use postern_core::random::Random;
    let mut m = [0u8; 4];
    postern_core::random::OsRandom.fill(&mut m);
    m
}

impl Cdp {
    /// Connects to the browser of `driver`.
    pub async fn connect(driver: &Driver) -> Cdp {
        let address = driver.debugger_address().replace("localhost", "127.0.0.1");
        let version: Value = reqwest::get(format!("http://{address}/json/version"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ws = url::Url::parse(version["webSocketDebuggerUrl"].as_str().unwrap()).unwrap();
        let stream = TcpStream::connect(address.as_str()).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let key = data_encoding::BASE64.encode(&rand_mask().repeat(4));
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            ws.path()
        );
        wr.write_all(request.as_bytes()).await.unwrap();
        // The handshake answer ends with an empty line.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            rd.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = outgoing.recv().await {
                if wr.write_all(&text_frame(&text)).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let (p, e, a) = (pending.clone(), events.clone(), arrived.clone());
        tokio::spawn(async move {
            let mut message = Vec::new();
            while let Some((op, payload)) = read_frame(&mut rd).await {
                match op & 0x0f {
                    0x1 | 0x0 => message.extend_from_slice(&payload),
                    0x8 => break,
                    _ => continue,
                }
                if op & 0x80 == 0 {
                    continue;
                }
                let v: Value =
                    serde_json::from_slice(&std::mem::take(&mut message)).unwrap_or_default();
                if let Some(id) = v["id"].as_u64() {
                    if let Some(tx) = p.lock().unwrap().remove(&id) {
                        let _ = tx.send(v);
                    }
                } else {
                    e.lock().unwrap().push(v);
                    a.notify_waiters();
                }
            }
        });
        Cdp {
            out,
            pending,
            events,
            arrived,
            next: AtomicU64::new(1),
        }
    }

    /// Sends a command (to a session, or the browser) and returns its result.
    pub async fn send(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out.send(msg.to_string()).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .map_err(|_| format!("{method}: no answer"))?
            .map_err(|_| format!("{method}: connection closed"))?;
        match answer.get("error") {
            Some(e) => Err(format!("{method}: {e}")),
            None => Ok(answer["result"].clone()),
        }
    }

    /// Waits for an event `method` (already arrived or arriving) that `pred` accepts.
    pub async fn wait_event(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if let Some(v) = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|v| v["method"] == method && pred(&v["params"]))
            {
                return v["params"].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen: Vec<String> = self
                    .events
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|v| v["method"].to_string())
                    .collect();
                panic!("no {method} event; saw {seen:?}");
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// A session attached to the page the WebDriver window shows (the first page target).
    pub async fn page_session(&self) -> String {
        let targets = self
            .send(None, "Target.getTargets", json!({}))
            .await
            .unwrap();
        let page = targets["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page")["targetId"]
            .clone();
        let attached = self
            .send(
                None,
                "Target.attachToTarget",
                json!({ "targetId": page, "flatten": true }),
            )
            .await
            .unwrap();
        attached["sessionId"].as_str().unwrap().to_owned()
    }

    /// A session attached to the running service worker whose script URL starts with `url`.
    pub async fn worker_session(&self, url: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let targets = self
                .send(None, "Target.getTargets", json!({}))
                .await
                .unwrap();
            let worker = targets["targetInfos"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| {
                    t["type"] == "service_worker"
                        && t["url"].as_str().is_some_and(|u| u.starts_with(url))
                })
                .map(|t| t["targetId"].clone());
            if let Some(target) = worker {
                let attached = self
                    .send(
                        None,
                        "Target.attachToTarget",
                        json!({ "targetId": target, "flatten": true }),
                    )
                    .await
                    .unwrap();
                return attached["sessionId"].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "no service worker at {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluates `expression` in a session (awaiting a promise) and returns its value.
    pub async fn evaluate(&self, session: &str, expression: &str) -> Value {
        let result = self
            .send(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await
            .unwrap();
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Grants `permissions` (e.g. `notifications`) to `origin` without a prompt.
    pub async fn grant_permissions(&self, origin: &str, permissions: &[&str]) {
        self.send(
            None,
            "Browser.grantPermissions",
            json!({ "origin": origin, "permissions": permissions }),
        )
        .await
        .unwrap();
    }

    /// The id of the active service worker registration whose scope starts with `scope`.
    pub async fn service_worker_registration(&self, session: &str, scope: &str) -> String {
        self.send(Some(session), "ServiceWorker.enable", json!({}))
            .await
            .unwrap();
        let registration = self
            .wait_event(
                "ServiceWorker.workerRegistrationUpdated",
                Duration::from_secs(10),
                |p| {
                    p["registrations"].as_array().is_some_and(|r| {
                        r.iter().any(|r| {
                            r["scopeURL"].as_str().is_some_and(|s| s.starts_with(scope))
                                && r["isDeleted"] == false
                        })
                    })
                },
            )
            .await;
        let id = registration["registrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["scopeURL"].as_str().is_some_and(|s| s.starts_with(scope)))
            .unwrap()["registrationId"]
            .as_str()
            .unwrap()
            .to_owned();
        // Wait until a version of it is running, so that a push reaches a live worker.
        self.wait_event(
            "ServiceWorker.workerVersionUpdated",
            Duration::from_secs(10),
            |p| {
                p["versions"].as_array().is_some_and(|v| {
                    v.iter()
                        .any(|v| v["registrationId"] == id.as_str() && v["status"] == "activated")
                })
            },
        )
        .await;
        id
    }

    /// Delivers a push message to the service worker, as a push service would.
    pub async fn deliver_push(
        &self,
        session: &str,
        origin: &str,
        registration_id: &str,
        data: &str,
    ) {
        self.send(
            Some(session),
            "ServiceWorker.deliverPushMessage",
            json!({ "origin": origin, "registrationId": registration_id, "data": data }),
        )
        .await
        .unwrap();
    }

    /// Takes the page's network offline (or back).
    pub async fn set_offline(&self, session: &str, offline: bool) {
        self.send(Some(session), "Network.enable", json!({}))
            .await
            .unwrap();
        self.send(
            Some(session),
            "Network.emulateNetworkConditions",
            json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
        )
        .await
        .unwrap();
    }

    /// Pauses every request of the page matching `url_pattern` and never lets it go on: a
    /// connection that hangs silently (a lost event stream).
    pub async fn hold_requests(&self, session: &str, url_pattern: &str) {
        self.send(
            Some(session),
            "Fetch.enable",
            json!({ "patterns": [{ "urlPattern": url_pattern, "requestStage": "Request" }] }),
        )
        .await
        .unwrap();
    }

    /// A finger pulling the page down from `from_y` to `to_y` at `x` (pull to refresh).
    pub async fn swipe_down(&self, session: &str, x: f64, from_y: f64, to_y: f64) {
        let touch = |kind: &str, y: f64| json!({ "type": kind, "touchPoints": if kind == "touchEnd" { json!([]) } else { json!([{ "x": x, "y": y }]) } });
        self.send(
            Some(session),
            "Input.dispatchTouchEvent",
            touch("touchStart", from_y),
        )
        .await
        .unwrap();
        for i in 1..=10 {
            let y = from_y + (to_y - from_y) * f64::from(i) / 10.0;
            self.send(
                Some(session),
                "Input.dispatchTouchEvent",
                touch("touchMove", y),
            )
            .await
            .unwrap();
        }
        self.send(
            Some(session),
            "Input.dispatchTouchEvent",
            touch("touchEnd", to_y),
        )
        .await
        .unwrap();
    }
}
