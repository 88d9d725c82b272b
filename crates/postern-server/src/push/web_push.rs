//! Sending one Web Push message (RFC 8030) to a push service: encrypted (RFC 8291), authorised
//! with VAPID (RFC 8292), to an endpoint chosen by a browser — or by whoever holds a device key,
//! so the endpoint is treated as hostile. Only `https://` on public addresses: names resolve
//! through a resolver that drops every address that is not public (no DNS rebinding onto an
//! internal service), literal addresses are checked before sending, redirects are not followed,
//! the answer is read only up to a small cap, and a timeout bounds each send. A semaphore caps the
//! sends in flight. [`WebPush`] is the server's side of it: the VAPID key (made once, sealed with
//! the master key, the same on every node) and the sender. What to send and what the answer
//! means for a sign-in is `notifications`.

use crate::config::WebPushConfig;
use data_encoding::BASE64URL_NOPAD as B64;
use postern_core::clock::Clock;
use postern_core::random::Random;
use postern_core::sealed::MasterKey;
use postern_core::web_push::{self, SubscriberKeys, VapidKey, address_allowed, check_endpoint};
use postern_store::{Store, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// For one whole send: connect, TLS, request and answer.
    pub timeout: Duration,
    /// For the connection alone (at most `timeout`): a push service that does not even accept
    /// the connection gives its slot back early.
    pub connect_timeout: Duration,
    /// Sends in flight at once.
    pub max_concurrent: usize,
    /// Tests only: endpoints on this machine are allowed (never other non-public addresses).
    pub allow_loopback: bool,
    /// The most of a push service's answer that is read.
    pub max_response_bytes: usize,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_concurrent: 8,
            allow_loopback: false,
            max_response_bytes: 4096,
        }
    }
}

/// One message for one subscription.
#[derive(Debug, Clone)]
pub struct Message {
    pub endpoint: String,
    pub keys: SubscriberKeys,
    /// The plaintext (JSON): encrypted before it leaves.
    pub payload: Vec<u8>,
    /// When the challenge ends: the push service may hold the message until then (`TTL`, counted
    /// when the message leaves), and an expired one is not sent at all.
    pub expires: OffsetDateTime,
    /// RFC 8030 §5.3: `very-low`, `low`, `normal` or `high`.
    pub urgency: &'static str,
}

/// What the push service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted for delivery (201, or another 2xx).
    Accepted { status: u16 },
    /// 404 or 410: the subscription is dead and must be removed.
    Gone { status: u16 },
    /// Any other answer (413 too large, 429 too many, 5xx, a redirect…). `detail`, a little of
    /// the answer's text, goes to the server's own log only: the endpoint is chosen by the
    /// device's holder, so what its server says is not echoed back to them.
    Refused { status: u16, detail: String },
    /// The challenge ended while the message waited for a free slot.
    Expired,
    /// DNS, connection, TLS or the timeout.
    Unreachable { detail: String },
    /// The endpoint or every address of its name is not one Postern sends to.
    NotAllowed { detail: String },
}

impl SendOutcome {
    /// The outcome in words for the sign-in log and the helpdesk (no key, payload or token).
    pub fn words(&self) -> String {
        match self {
            SendOutcome::Accepted { status } => format!("push service accepted ({status})"),
            SendOutcome::Gone { status } => {
                format!("push service refused: {status} → subscription removed")
            }
            SendOutcome::Refused { status, .. } => format!("push service refused: {status}"),
            SendOutcome::Expired => "not sent: the request had expired".into(),
            SendOutcome::Unreachable { detail } => format!("push service unreachable: {detail}"),
            SendOutcome::NotAllowed { detail } => format!("push endpoint not allowed: {detail}"),
        }
    }
}

/// Resolves names and keeps only the addresses Postern may send to.
struct PublicOnly {
    allow_loopback: bool,
}

#[derive(Debug)]
struct NoAllowedAddress(String);

impl std::fmt::Display for NoAllowedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} has no public address", self.0)
    }
}

impl std::error::Error for NoAllowedAddress {}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| address_allowed(a.ip(), allow_loopback))
                .collect();
            if found.is_empty() {
                return Err(Box::new(NoAllowedAddress(host)) as Box<_>);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends Web Push messages.
pub struct Sender {
    http: reqwest::Client,
    settings: SenderSettings,
    slots: Arc<Semaphore>,
}

impl Sender {
    pub fn new(settings: SenderSettings) -> Result<Sender, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout.min(settings.timeout))
            // Straight to the push service: a proxy from the environment would resolve the
            // endpoint itself, past the public-address check.
            .no_proxy()
            .dns_resolver(PublicOnly {
                allow_loopback: settings.allow_loopback,
            })
            .user_agent(concat!("Postern/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("web push: cannot build the HTTP client: {e}"))?;
        Ok(Sender {
            slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            http,
            settings,
        })
    }

    /// Encrypts and sends `msg`, waiting for a free slot first; the time left (`TTL`) and the
    /// VAPID token are taken from `clock` once the slot is free.
    pub async fn send(
        &self,
        msg: &Message,
        vapid: &VapidKey,
        subject: &str,
        rng: &dyn Random,
        clock: &dyn Clock,
    ) -> SendOutcome {
        let url = match check_endpoint(&msg.endpoint, self.settings.allow_loopback) {
            Ok(u) => u,
            Err(problem) => {
                return SendOutcome::NotAllowed {
                    detail: problem.to_string(),
                };
            }
        };
        let body = match web_push::encrypt(&msg.keys, &msg.payload, rng) {
            Ok(b) => b,
            Err(e) => {
                return SendOutcome::Refused {
                    status: 0,
                    detail: e.to_string(),
                };
            }
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return SendOutcome::Unreachable {
                detail: "the server is stopping".into(),
            };
        };
        let now = clock.now();
        let ttl = (msg.expires - now).whole_seconds();
        if ttl <= 0 {
            return SendOutcome::Expired;
        }
        let authorization = vapid.authorization(&url, subject, now);
        let sent = self
            .http
            .post(url)
            .header("TTL", ttl.to_string())
            .header("Urgency", msg.urgency)
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await;
        let mut res = match sent {
            Ok(r) => r,
            Err(e) => return unreachable(&e, self.settings.timeout),
        };
        let status = res.status().as_u16();
        // Read at most a little of the answer (a push service says little; a hostile one could
        // say a lot), within the same timeout.
        let mut read = Vec::new();
        while read.len() < self.settings.max_response_bytes {
            match res.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        match status {
            200..=299 => SendOutcome::Accepted { status },
            404 | 410 => SendOutcome::Gone { status },
            _ => SendOutcome::Refused {
                status,
                detail: reason(&read),
            },
        }
    }
}

/// A short, printable reason from a refusal's body (push services send a sentence or JSON).
fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let clean: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
    clean.trim().to_owned()
}

fn unreachable(e: &reqwest::Error, timeout: Duration) -> SendOutcome {
    let detail = if e.is_timeout() {
        format!("timed out after {} s", timeout.as_secs_f32())
    } else {
        // The innermost cause says it best ("… has no public address", "connection refused").
        let mut source: &dyn std::error::Error = e;
        while let Some(next) = source.source() {
            source = next;
        }
        if let Some(no) = source.downcast_ref::<NoAllowedAddress>() {
            return SendOutcome::NotAllowed {
                detail: no.to_string(),
            };
        }
        source.to_string()
    };
    SendOutcome::Unreachable { detail }
}

/// Where the sealed VAPID key is kept (the `settings` table).
const VAPID_SETTING: &str = "web_push.vapid_key";
const VAPID_CONTEXT: &str = "web-push-vapid-key";

/// Web Push on this server: its VAPID key pair and the sender. What is sent for a challenge, and
/// the subscriptions, are `notifications`.
pub struct WebPush {
    pub(super) vapid: VapidKey,
    /// The VAPID `sub` claim: how a push service reaches the operator.
    pub(super) subject: String,
    pub(super) allow_loopback: bool,
    pub(super) sender: Sender,
    /// Notifications waiting for a slot or in flight.
    pub(super) waiting: AtomicUsize,
}

/// Web Push could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("web_push: {0}")]
    Key(String),
}

impl WebPush {
    /// Loads the VAPID key pair from the store, making it on the first start (nodes starting
    /// together agree on one), and builds the sender.
    pub async fn load(
        store: &Store,
        master: &MasterKey,
        rng: &dyn Random,
        config: &WebPushConfig,
        issuer: &str,
    ) -> Result<WebPush, SetupError> {
        let vapid = match store.find_setting(VAPID_SETTING).await? {
            Some(sealed) => open_vapid(master, &sealed)?,
            None => {
                let fresh = VapidKey::generate().map_err(|e| SetupError::Key(e.to_string()))?;
                let der = zeroize::Zeroizing::new(
                    fresh
                        .to_pkcs8()
                        .map_err(|e| SetupError::Key(e.to_string()))?,
                );
                let sealed = B64.encode(&master.seal(rng, VAPID_CONTEXT, &der));
                if store.create_setting(VAPID_SETTING, &sealed).await? {
                    fresh
                } else {
                    // Another node made one first: use that one.
                    let stored = store.find_setting(VAPID_SETTING).await?.ok_or_else(|| {
                        SetupError::Key("the VAPID key vanished while starting".into())
                    })?;
                    open_vapid(master, &stored)?
                }
            }
        };
        if config.allow_loopback_endpoints {
            tracing::warn!(
                "web_push.allow_loopback_endpoints is on: notifications may be sent over http to this machine (for tests only)"
            );
        }
        let sender = Sender::new(SenderSettings {
            timeout: std::time::Duration::from_secs(config.timeout_seconds),
            max_concurrent: config.max_concurrent,
            allow_loopback: config.allow_loopback_endpoints,
            ..SenderSettings::default()
        })
        .map_err(SetupError::Key)?;
        Ok(WebPush {
            vapid,
            subject: config.subject_for(issuer),
            allow_loopback: config.allow_loopback_endpoints,
            sender,
            waiting: AtomicUsize::new(0),
        })
    }

    /// The VAPID public key, as browsers take it (`applicationServerKey`).
    pub fn application_server_key(&self) -> String {
        self.vapid.public_key_b64url()
    }
}

fn open_vapid(master: &MasterKey, sealed: &str) -> Result<VapidKey, SetupError> {
    let bytes = B64
        .decode(sealed.as_bytes())
        .map_err(|_| SetupError::Key("the stored VAPID key is not base64url".into()))?;
    let der = master.open(VAPID_CONTEXT, &bytes).map_err(|_| {
        SetupError::Key(
            "the stored VAPID key cannot be decrypted: is this the master key it was made with?"
                .into(),
        )
    })?;
    VapidKey::from_pkcs8(&der).map_err(|e| SetupError::Key(e.to_string()))
}

#[cfg(test)]
mod tests;
