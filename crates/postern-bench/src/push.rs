//! Push approvals with thousands of Postern Authenticators connected: the devices, their event
//! streams, and what the streams receive.
//!
//! The users and their devices are written straight into the store before the server starts
//! (activating 10,000 devices through Security info would cost a password sign-in each): each
//! user has one push method, written as `push::activate` writes it, with its own Ed25519 key held
//! here as the app holds it in its vault. Each device opens `GET /api/authenticator/v1/events`,
//! signed as the app signs it, and keeps it open; a `challenge` event is timed on arrival against
//! the challenge's `created` (the server's clock, on the same machine). The measurement itself
//! (memory, sign-ins that create challenges, percentiles) is in `push_delivery`.

use crate::load::Failures;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use postern_core::credential::method::{Method, MethodSecret};
use postern_core::credential::password::{PasswordHasher, PasswordParams};
use postern_core::random::{self, OsRandom};
use postern_core::secret::{SecretString, sha256};
use postern_core::user::User;
use postern_proto::authenticator::{self as api, PendingChallenge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

const B64: data_encoding::Encoding = data_encoding::BASE64URL_NOPAD;

/// Connection attempts per device before it counts as refused (each with a fresh signature).
const ATTEMPTS: usize = 3;

/// A user and the Postern Authenticator registered to their account.
pub struct Device {
    pub username: String,
    pub user_id: String,
    /// The push method's id, which is the device id.
    pub id: String,
    key: Ed25519KeyPair,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Device {
    /// `GET /api/authenticator/v1/events`, signed now (the server accepts a signature once, so
    /// every attempt is signed afresh).
    fn events_request(&self, http: &reqwest::Client, issuer: &str) -> reqwest::RequestBuilder {
        self.signed(http, reqwest::Method::GET, issuer, "events", Vec::new())
    }

    /// A request to `{API_PREFIX}/{suffix}` with `body`, signed now as the device contract says.
    pub fn signed(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        issuer: &str,
        suffix: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let path = format!("{}/{suffix}", api::API_PREFIX);
        let ts = unix_ms();
        let input = api::signing_input(
            method.as_str(),
            &path,
            &B64.encode(&sha256(&body)),
            ts,
            &self.id,
        );
        let signature = B64.encode(self.key.sign(input.as_bytes()).as_ref());
        let request = http
            .request(method, format!("{issuer}{path}"))
            .header(api::HEADER_DEVICE, &self.id)
            .header(api::HEADER_TIMESTAMP, ts.to_string())
            .header(api::HEADER_SIGNATURE, signature);
        if body.is_empty() {
            request
        } else {
            request
                .header("content-type", "application/json")
                .body(body)
        }
    }
}

/// Writes `count` users named `{prefix}{n}` with `password` (one Argon2id hash shared by all)
/// straight into the store of `dir`, each with one push device as their default method. Run it
/// while the server is stopped.
pub async fn seed(
    config: &postern_server::config::Config,
    prefix: &str,
    count: usize,
    password: &str,
) -> Vec<Arc<Device>> {
    let store = postern_server::app::open_store(config).await.unwrap();
    let hasher = PasswordHasher::new(PasswordParams::default(), &OsRandom).unwrap();
    let phc = hasher.hash(&SecretString::new(password), &OsRandom);
    let now = OffsetDateTime::now_utc();
    let mut devices = Vec::with_capacity(count);
    for n in 0..count {
        let user = User {
            id: random::uuid(&OsRandom),
            username: format!("{prefix}{n:05}"),
            email: None,
            name: None,
            password_hash: Some(phc.clone()),
            disabled: false,
            created: now,
        };
        store.create_user(&user).await.unwrap();
        let key = Ed25519KeyPair::generate().unwrap();
        let method = Method {
            id: random::uuid(&OsRandom),
            user_id: user.id.clone(),
            name: format!("Bench phone {n}"),
            created: now,
            last_used: None,
            is_default: true,
            secret: MethodSecret::Push {
                public_key: B64.encode(key.public_key().as_ref()),
                key_algorithm: postern_proto::authenticator::KeyAlgorithm::Ed25519,
                app_version: "postern-bench".into(),
            },
            version: 1,
        };
        store.create_method(&method).await.unwrap();
        devices.push(Arc::new(Device {
            username: user.username,
            user_id: user.id,
            id: method.id,
            key,
        }));
    }
    store.close().await;
    devices
}

/// A `challenge` event as a device received it.
pub struct Arrival {
    pub username: String,
    pub challenge_id: String,
    /// From the challenge's `created` to the moment the stream delivered the event.
    pub latency_ms: f64,
}

#[derive(Default)]
struct Shared {
    /// Streams answered with 200 and still open.
    open: AtomicUsize,
    /// Streams that ended after opening (the server closed them, or the connection broke).
    ended: AtomicUsize,
    /// Connection attempts that were refused or failed and tried again.
    retried: AtomicUsize,
    /// Devices that could not connect in [`ATTEMPTS`] tries.
    refused: Failures,
    /// `challenge` events whose data was not a pending challenge with an RFC 3339 `created`.
    unreadable: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
}

/// The devices' open event streams.
#[derive(Default)]
pub struct Streams {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Streams {
    /// Opens the event streams of `devices`, one every `1 / rate` seconds with at most
    /// `handshakes` waiting for their answer at a time, and returns once every one has been
    /// answered (open, or refused after [`ATTEMPTS`] tries). The streams stay open.
    pub async fn open(
        &mut self,
        http: &reqwest::Client,
        issuer: &str,
        devices: &[Arc<Device>],
        rate: f64,
        handshakes: usize,
    ) {
        let permits = Arc::new(Semaphore::new(handshakes));
        let gap = Duration::from_secs_f64(1.0 / rate);
        let start = Instant::now();
        let mut answered = Vec::with_capacity(devices.len());
        for (i, device) in devices.iter().enumerate() {
            tokio::time::sleep_until((start + gap.mul_f64(i as f64)).into()).await;
            let permit = permits.clone().acquire_owned().await.unwrap();
            let (done, answer) = oneshot::channel();
            let (http, issuer, device, shared) = (
                http.clone(),
                issuer.to_owned(),
                device.clone(),
                self.shared.clone(),
            );
            self.tasks.push(tokio::spawn(async move {
                let connected = connect(&http, &issuer, &device, &shared).await;
                drop(permit);
                match connected {
                    Ok(res) => {
                        shared.open.fetch_add(1, Ordering::Relaxed);
                        let _ = done.send(());
                        hold(res, &shared).await;
                        shared.open.fetch_sub(1, Ordering::Relaxed);
                        shared.ended.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(why) => {
                        shared.refused.record(why);
                        let _ = done.send(());
                    }
                }
            }));
            answered.push(answer);
        }
        for answer in answered {
            let _ = answer.await;
        }
    }

    /// Streams open now.
    pub fn open_count(&self) -> usize {
        self.shared.open.load(Ordering::Relaxed)
    }

    pub fn ended(&self) -> usize {
        self.shared.ended.load(Ordering::Relaxed)
    }

    pub fn retried(&self) -> usize {
        self.shared.retried.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> (u64, Option<String>) {
        (self.shared.refused.count(), self.shared.refused.first())
    }

    pub fn unreadable(&self) -> usize {
        self.shared.unreadable.load(Ordering::Relaxed)
    }

    /// Runs `f` over the arrivals so far.
    pub fn with_arrivals<T>(&self, f: impl FnOnce(&[Arrival]) -> T) -> T {
        f(&self.shared.arrivals.lock().unwrap())
    }

    /// Closes every stream (the server's graceful stop waits for open responses to end).
    pub async fn close(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Opens one device's event stream: the response, once its headers are in.
async fn connect(
    http: &reqwest::Client,
    issuer: &str,
    device: &Device,
    shared: &Shared,
) -> Result<reqwest::Response, String> {
    let mut why = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            shared.retried.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        match device.events_request(http, issuer).send().await {
            Ok(res) if res.status().is_success() => return Ok(res),
            Ok(res) => {
                let status = res.status();
                let body = res.text().await.unwrap_or_default();
                why = format!("events: HTTP {status} {body}");
            }
            Err(e) => why = format!("events: {e}"),
        }
    }
    Err(why)
}

/// Reads a stream until it ends, timing every `challenge` event.
async fn hold(mut res: reqwest::Response, shared: &Shared) {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let received = OffsetDateTime::now_utc();
        buf.extend_from_slice(&chunk);
        for (event, data) in take_events(&mut buf) {
            if event != api::EVENT_CHALLENGE {
                continue;
            }
            let read = serde_json::from_str::<PendingChallenge>(&data)
                .ok()
                .and_then(|p| Some((OffsetDateTime::parse(&p.created, &Rfc3339).ok()?, p)));
            match read {
                Some((created, p)) => shared.arrivals.lock().unwrap().push(Arrival {
                    username: p.username,
                    challenge_id: p.id,
                    latency_ms: (received - created).as_seconds_f64() * 1000.0,
                }),
                None => {
                    shared.unreadable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Takes the complete server-sent events out of `buf`: (event name, data) of each, comments
/// (keep-alives) skipped; an incomplete event stays in `buf`.
fn take_events(buf: &mut Vec<u8>) -> Vec<(String, String)> {
    let mut events = vec![];
    while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
        let block: Vec<u8> = buf.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&block);
        let (mut event, mut data) = (String::from("message"), Vec::new());
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = value.to_owned(),
                "data" => data.push(value),
                _ => {}
            }
        }
        if !data.is_empty() {
            events.push((event, data.join("\n")));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_events_across_chunks_and_skips_keepalives() {
        let mut buf = b":keepalive\n\nevent: challenge\ndata: {\"a\":".to_vec();
        assert!(take_events(&mut buf).is_empty());
        buf.extend_from_slice(b"1}\n\nevent: resolved\ndata: x\n\n:kee");
        assert_eq!(
            take_events(&mut buf),
            vec![
                ("challenge".to_owned(), "{\"a\":1}".to_owned()),
                ("resolved".to_owned(), "x".to_owned())
            ]
        );
        assert_eq!(buf, b":kee");
    }
}
