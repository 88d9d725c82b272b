//! A fake Postern authenticator API for the app's own tests: the wire contract of
//! `postern_proto::authenticator`, served under an issuer with a path prefix (`/idp`), checking
//! every signature (Ed25519 over `signing_input`, timestamp within ±60 s, no replays) the way
//! the contract says. It keeps a log of the requests it accepted, in order, so tests can check
//! what the app did (e.g. `/pending` right after every event-stream connect).
//!
//! The real server's end-to-end tests live with the server; this one exists so the app can be
//! tested alone, and so a wrong signature shows up here first.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use data_encoding::BASE64URL_NOPAD;
use postern_proto::authenticator::{
    API_PREFIX, AccountInfo, ActivateRequest, ActivateResponse, AnswerOutcome, AnswerRequest,
    AnswerResponse, ApiError, Decision, DeviceStatus, HEADER_DEVICE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, MAX_SKEW_MS, PendingChallenge, PendingList, signing_input,
};
use tokio::sync::mpsc;

pub const PREFIX: &str = "/idp";
pub const TOTP_URI: &str = "otpauth://totp/Postern%20School:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Postern%20School";

pub struct Challenge {
    pub pending: PendingChallenge,
    pub number: u32,
    pub shown: bool,
    pub answer: Option<AnswerRequest>,
    pub outcome: Option<AnswerOutcome>,
}

struct Device {
    public_key: Vec<u8>,
    name: String,
    username: String,
}

#[derive(Default)]
pub struct State {
    codes: HashSet<String>,
    devices: HashMap<String, Device>,
    pub challenges: Vec<Challenge>,
    /// Accepted requests in order: "GET /idp/api/authenticator/v1/pending".
    pub log: Vec<String>,
    /// Refused requests: "bad_signature GET …".
    pub refused: Vec<String>,
    seen_signatures: HashSet<String>,
    /// Added to the real clock for `server_time_ms` and the skew check.
    pub clock_offset_ms: i64,
    /// Event streams refused with 503 while set (a server restarting, a proxy cutting them).
    pub refuse_events: bool,
    streams: Vec<mpsc::UnboundedSender<Option<String>>>,
    next_device: u32,
}

#[derive(Clone)]
pub struct FakeServer {
    /// The issuer: `http://127.0.0.1:PORT/idp`.
    pub issuer: String,
    pub state: Arc<Mutex<State>>,
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// IMF-fixdate, as in an HTTP `Date` header.
fn http_date(ms: i64) -> String {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .unwrap();
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&format)
        .unwrap()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(ApiError {
            error: code.into(),
            message: message.into(),
            server_time_ms: None,
        }),
    )
        .into_response()
}

fn event_text(event: &str, data: &str) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

impl FakeServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Self {
            issuer: format!("http://{addr}{PREFIX}"),
            state: Arc::default(),
        };
        let app = axum::Router::new().fallback({
            let server = server.clone();
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let server = server.clone();
                async move { server.handle(method, uri, headers, body) }
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        server
    }

    /// A fresh single-use activation link.
    pub fn activation_link(&self, code: &str) -> String {
        self.state.lock().unwrap().codes.insert(code.to_owned());
        format!("{}/authenticator/activate?code={code}", self.issuer)
    }

    /// A new push request for `ada`; the event streams hear of it when `wake` is set (a lost
    /// notification otherwise).
    pub fn create_challenge(&self, id: &str, app: &str, number: u32, wake: bool) {
        let created = now_ms();
        let pending = PendingChallenge {
            id: id.into(),
            app: app.into(),
            ip: "203.0.113.7".into(),
            username: "ada".into(),
            created: rfc3339(created),
            expires: rfc3339(created + 60_000),
        };
        let mut state = self.state.lock().unwrap();
        if wake {
            let text = event_text("challenge", &serde_json::to_string(&pending).unwrap());
            state.streams.retain(|s| s.send(Some(text.clone())).is_ok());
        }
        state.challenges.push(Challenge {
            pending,
            number,
            shown: false,
            answer: None,
            outcome: None,
        });
    }

    /// Resolves a request as if another device answered it; streams hear of it when `wake`.
    pub fn resolve_elsewhere(&self, id: &str, wake: bool) {
        let mut state = self.state.lock().unwrap();
        if let Some(c) = state.challenges.iter_mut().find(|c| c.pending.id == id) {
            c.outcome = Some(AnswerOutcome::Approved);
        }
        if wake {
            let text = event_text("resolved", &format!("{{\"id\":\"{id}\"}}"));
            state.streams.retain(|s| s.send(Some(text.clone())).is_ok());
        }
    }

    /// Closes every open event stream (a network drop, a server restart).
    pub fn drop_streams(&self) {
        for s in self.state.lock().unwrap().streams.drain(..) {
            let _ = s.send(None);
        }
    }

    pub fn open_streams(&self) -> usize {
        let mut state = self.state.lock().unwrap();
        state.streams.retain(|s| !s.is_closed());
        state.streams.len()
    }

    pub fn remove_device(&self, device_id: &str) {
        self.state.lock().unwrap().devices.remove(device_id);
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn challenge<T>(&self, id: &str, f: impl FnOnce(&Challenge) -> T) -> T {
        let state = self.state.lock().unwrap();
        f(state
            .challenges
            .iter()
            .find(|c| c.pending.id == id)
            .unwrap())
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let api = format!("{PREFIX}{API_PREFIX}");
        let Some(endpoint) = uri.path().strip_prefix(&api) else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such path");
        };
        let endpoint = endpoint.to_owned();
        if method == Method::POST && endpoint == "/activate" {
            return self.activate(&body);
        }
        let device_id = match self.verify(&method, path_and_query, &headers, &body) {
            Ok(id) => id,
            Err(response) => return response,
        };
        self.state
            .lock()
            .unwrap()
            .log
            .push(format!("{method} {path_and_query}"));
        let segments: Vec<&str> = endpoint.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["pending"]) => self.pending(),
            ("GET", ["device"]) => self.device(&device_id),
            ("GET", ["events"]) => self.events(),
            ("POST", ["challenges", id, "shown"]) => self.shown(id),
            ("POST", ["challenges", id, "answer"]) => self.answer(id, &body),
            _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
        }
    }

    fn activate(&self, body: &[u8]) -> Response {
        let Ok(req) = serde_json::from_slice::<ActivateRequest>(body) else {
            return error(StatusCode::BAD_REQUEST, "invalid_request", "bad JSON");
        };
        let mut state = self.state.lock().unwrap();
        if !state.codes.remove(&req.code) {
            return error(
                StatusCode::BAD_REQUEST,
                "activation_invalid",
                "unknown or used code",
            );
        }
        let key = BASE64URL_NOPAD
            .decode(req.public_key.as_bytes())
            .unwrap_or_default();
        if key.len() != 32 || req.app_version.is_empty() {
            return error(StatusCode::BAD_REQUEST, "invalid_request", "bad public key");
        }
        state.next_device += 1;
        let device_id = format!("dev-{}", state.next_device);
        state.devices.insert(
            device_id.clone(),
            Device {
                public_key: key,
                name: req.device_name,
                username: "ada".into(),
            },
        );
        axum::Json(ActivateResponse {
            device_id,
            account: AccountInfo {
                issuer: self.issuer.clone(),
                organisation: "Postern School".into(),
                username: "ada".into(),
            },
            totp_uri: TOTP_URI.into(),
            server_time_ms: now_ms() + state.clock_offset_ms,
        })
        .into_response()
    }

    /// The contract's signature check; returns the device id, or the refusal.
    fn verify(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, Response> {
        let mut state = self.state.lock().unwrap();
        match Self::check_signature(&mut state, method, path_and_query, headers, body) {
            Ok(device_id) => Ok(device_id),
            Err(code) => {
                state
                    .refused
                    .push(format!("{code} {method} {path_and_query}"));
                let mut response = error(StatusCode::UNAUTHORIZED, code, "refused by the fake");
                // The server's own clock, as a real server's Date header would carry it.
                let date = http_date(now_ms() + state.clock_offset_ms);
                response.headers_mut().insert("date", date.parse().unwrap());
                Err(response)
            }
        }
    }

    fn check_signature(
        state: &mut State,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, &'static str> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (Some(device_id), Some(timestamp), Some(signature)) = (
            header(HEADER_DEVICE),
            header(HEADER_TIMESTAMP),
            header(HEADER_SIGNATURE),
        ) else {
            return Err("bad_signature");
        };
        let device = state.devices.get(&device_id).ok_or("unknown_device")?;
        let timestamp_ms = timestamp.parse::<i64>().map_err(|_| "bad_signature")?;
        let digest = BASE64URL_NOPAD.encode(digest::digest(&digest::SHA256, body).as_ref());
        let input = signing_input(
            method.as_str(),
            path_and_query,
            &digest,
            timestamp_ms,
            &device_id,
        );
        let signature_bytes = BASE64URL_NOPAD
            .decode(signature.as_bytes())
            .unwrap_or_default();
        UnparsedPublicKey::new(&ED25519, &device.public_key)
            .verify(input.as_bytes(), &signature_bytes)
            .map_err(|_| "bad_signature")?;
        let server_now = now_ms() + state.clock_offset_ms;
        if (server_now - timestamp_ms).abs() > MAX_SKEW_MS {
            return Err("clock_skew");
        }
        if !state.seen_signatures.insert(signature) {
            return Err("replayed");
        }
        Ok(device_id)
    }

    fn open_challenges(state: &State) -> Vec<PendingChallenge> {
        state
            .challenges
            .iter()
            .filter(|c| c.outcome.is_none())
            .map(|c| c.pending.clone())
            .collect()
    }

    fn pending(&self) -> Response {
        let state = self.state.lock().unwrap();
        axum::Json(PendingList {
            challenges: Self::open_challenges(&state),
            server_time_ms: now_ms() + state.clock_offset_ms,
        })
        .into_response()
    }

    fn device(&self, device_id: &str) -> Response {
        let state = self.state.lock().unwrap();
        let device = &state.devices[device_id];
        axum::Json(DeviceStatus {
            device_id: device_id.into(),
            device_name: device.name.clone(),
            username: device.username.clone(),
            server_time_ms: now_ms() + state.clock_offset_ms,
        })
        .into_response()
    }

    fn shown(&self, id: &str) -> Response {
        let mut state = self.state.lock().unwrap();
        match state.challenges.iter_mut().find(|c| c.pending.id == id) {
            Some(c) => {
                c.shown = true;
                StatusCode::NO_CONTENT.into_response()
            }
            None => error(StatusCode::NOT_FOUND, "not_found", "no such challenge"),
        }
    }

    fn answer(&self, id: &str, body: &[u8]) -> Response {
        let Ok(req) = serde_json::from_slice::<AnswerRequest>(body) else {
            return error(StatusCode::BAD_REQUEST, "invalid_request", "bad JSON");
        };
        let mut state = self.state.lock().unwrap();
        let Some(c) = state.challenges.iter_mut().find(|c| c.pending.id == id) else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such challenge");
        };
        let outcome = match (&c.outcome, req.decision) {
            (Some(_), _) => AnswerOutcome::AlreadyAnswered,
            (None, Decision::Deny) => AnswerOutcome::Denied,
            (None, Decision::Approve) if req.number == Some(c.number) => AnswerOutcome::Approved,
            (None, Decision::Approve) => AnswerOutcome::WrongNumber,
        };
        if c.outcome.is_none() {
            c.outcome = Some(outcome);
            c.answer = Some(req);
        }
        axum::Json(AnswerResponse { outcome }).into_response()
    }

    fn events(&self) -> Response {
        let mut state = self.state.lock().unwrap();
        if state.refuse_events {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "event streams are off",
            );
        }
        let (tx, rx) = mpsc::unbounded_channel::<Option<String>>();
        // As the contract says: the pending ones first, then what arrives; a keep-alive comment.
        let _ = tx.send(Some(": keepalive\n\n".into()));
        for c in Self::open_challenges(&state) {
            let _ = tx.send(Some(event_text(
                "challenge",
                &serde_json::to_string(&c).unwrap(),
            )));
        }
        state.streams.push(tx);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Some(Some(text)) => Some((Ok::<_, Infallible>(Bytes::from(text)), rx)),
                _ => None,
            }
        });
        Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(Body::from_stream(stream))
            .unwrap()
    }
}
