//! A local RFC 8030 push service for tests (no internet here): it takes what Postern sends,
//! answers as told (201, 404, 410, or never), and keeps every request so a test can check the
//! headers, verify the VAPID token (RFC 8292) and decrypt the body (RFC 8291) with the keys of a
//! subscription it made — code written from the RFCs on its own, not Postern's, so that it is an
//! independent check of the server's encryption.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey as VerifyKey};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use data_encoding::BASE64URL_NOPAD as B64;
use postern_core::random::{OsRandom, Random};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    NotFound,
    Gone,
    /// Never answers (until the test ends).
    Hang,
}

/// One request the service received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The subscription id in `/push/{id}`.
    pub id: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    mode: Mutex<Option<Mode>>,
    received: Mutex<Vec<Received>>,
    hanging: Mutex<usize>,
}

pub struct PushService {
    pub base: String,
    shared: Arc<Shared>,
}

/// A subscription as a browser would make it, with the private half the browser keeps.
pub struct TestSubscription {
    pub id: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    private: [u8; 32],
}

async fn take(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    shared.received.lock().unwrap().push(Received {
        id,
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    let mode = shared.mode.lock().unwrap().unwrap_or(Mode::Accept);
    match mode {
        Mode::Accept => StatusCode::CREATED,
        Mode::NotFound => StatusCode::NOT_FOUND,
        Mode::Gone => StatusCode::GONE,
        Mode::Hang => {
            *shared.hanging.lock().unwrap() += 1;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::CREATED
        }
    }
}

impl PushService {
    pub async fn start() -> PushService {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/push/{id}", axum::routing::post(take))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        PushService { base, shared }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
    }

    /// Requests being held unanswered right now (mode `Hang`).
    pub fn hanging(&self) -> usize {
        *self.shared.hanging.lock().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (real time, up to `timeout`) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the push service received {} of {n} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A new subscription on this service: fresh P-256 keys and auth secret.
    pub fn subscription(&self) -> TestSubscription {
        let private = loop {
            let mut d = [0u8; 32];
            OsRandom.fill(&mut d);
            if PrivateKey::from_private_key(&ECDH_P256, &d).is_ok() {
                break d;
            }
        };
        let public = PrivateKey::from_private_key(&ECDH_P256, &private)
            .unwrap()
            .compute_public_key()
            .unwrap();
        let mut auth = [0u8; 16];
        OsRandom.fill(&mut auth);
        let id = postern_core::random::token(&OsRandom, 12);
        TestSubscription {
            endpoint: format!("{}/push/{id}", self.base),
            id,
            p256dh: B64.encode(public.as_ref()),
            auth: B64.encode(&auth),
            private,
        }
    }
}

fn hmac256(key: &[u8], data: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for d in data {
        ctx.update(d);
    }
    ctx.sign().as_ref().to_vec()
}

impl TestSubscription {
    /// `PushSubscription.toJSON()` of this subscription.
    pub fn to_json(&self) -> Value {
        json!({ "endpoint": self.endpoint, "expirationTime": null,
                "keys": { "p256dh": self.p256dh, "auth": self.auth } })
    }

    /// Decrypts an `aes128gcm` body (RFC 8188 header; RFC 8291 key derivation) sent to this
    /// subscription; the plaintext without its padding.
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        decrypt_with(
            body,
            &self.private,
            &B64.decode(self.p256dh.as_bytes()).unwrap(),
            &B64.decode(self.auth.as_bytes()).unwrap(),
        )
    }
}

/// RFC 8291 §3.4 from the receiving side.
pub fn decrypt_with(
    body: &[u8],
    ua_private: &[u8],
    ua_public: &[u8],
    auth: &[u8],
) -> Result<Vec<u8>, String> {
    if body.len() < 21 {
        return Err("too short for the aes128gcm header".into());
    }
    let salt = &body[..16];
    let idlen = usize::from(body[20]);
    let sender_public = body.get(21..21 + idlen).ok_or("truncated key id")?;
    let ciphertext = &body[21 + idlen..];
    let me = PrivateKey::from_private_key(&ECDH_P256, ua_private).map_err(|e| e.to_string())?;
    let shared = agreement::agree(
        &me,
        UnparsedPublicKey::new(&ECDH_P256, sender_public),
        "agreement failed".to_owned(),
        |k| Ok(k.to_vec()),
    )?;
    let prk_key = hmac256(auth, &[&shared]);
    let ikm = hmac256(
        &prk_key,
        &[b"WebPush: info", &[0], ua_public, sender_public, &[1]],
    );
    let prk = hmac256(salt, &[&ikm]);
    let cek = &hmac256(&prk, &[b"Content-Encoding: aes128gcm", &[0], &[1]])[..16];
    let nonce = &hmac256(&prk, &[b"Content-Encoding: nonce", &[0], &[1]])[..12];
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, cek).map_err(|e| e.to_string())?);
    let mut data = ciphertext.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).map_err(|e| e.to_string())?,
            Aad::empty(),
            &mut data,
        )
        .map_err(|_| "the body does not decrypt with this subscription's keys".to_owned())?;
    // Padding: zeros after the delimiter (2 for the last record).
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .ok_or("no padding delimiter")?;
    if plain[end] != 2 {
        return Err(format!(
            "padding delimiter is {} (expected 2, the last record)",
            plain[end]
        ));
    }
    Ok(plain[..end].to_vec())
}

/// Verifies an `Authorization: vapid t=…, k=…` header: the ES256 signature by `k`, `aud` and an
/// `exp` within the next 24 hours; returns the JWT's claims.
pub fn verify_vapid(
    authorization: &str,
    expected_aud: &str,
    now_unix: i64,
) -> Result<Value, String> {
    let rest = authorization
        .strip_prefix("vapid ")
        .ok_or("not a vapid authorization")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
    let (signed, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let decode = |s: &str| {
        B64.decode(s.as_bytes())
            .map_err(|_| "not base64url".to_owned())
    };
    VerifyKey::new(&ECDSA_P256_SHA256_FIXED, decode(key)?)
        .verify(signed.as_bytes(), &decode(signature)?)
        .map_err(|_| "the signature does not verify with k".to_owned())?;
    let (header, claims) = signed.split_once('.').ok_or("not a JWS")?;
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "ES256" {
        return Err(format!("alg is {}", header["alg"]));
    }
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    if claims["aud"] != expected_aud {
        return Err(format!("aud is {}, expected {expected_aud}", claims["aud"]));
    }
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    if exp <= now_unix || exp > now_unix + 24 * 3600 {
        return Err(format!(
            "exp {exp} is not within the next 24 hours of {now_unix}"
        ));
    }
    if claims["sub"]
        .as_str()
        .is_none_or(|s| !(s.starts_with("mailto:") || s.starts_with("https:")))
    {
        return Err(format!("sub is {}", claims["sub"]));
    }
    Ok(claims)
}
