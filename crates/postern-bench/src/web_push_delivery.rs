//! The Web Push measurement, for N subscribed devices: the time from a challenge's creation to
//! the encrypted wake-up notification (RFC 8030/8291/8292) arriving at the push service.
//!
//! One server on its own data directory, with `web_push.allow_loopback_endpoints` so that it may
//! send to a push service on this machine: the devices are seeded (`push::seed`), the server
//! started, and every device saves a subscription through the real signed device API
//! (`PUT …/web-push/subscription`) whose endpoint is this harness's push service (one URL per
//! device). No device holds an event stream open: a phone whose app is closed is the case Web Push
//! exists for. Then a sample of the users signs in through the real pages, spread over a few
//! seconds; the waiting page's request creates the challenge and the server sends the
//! notification off the request path. The push service notes when each request arrived (headers
//! and body read) and answers 201; after the server stops, the challenges' `created` times and
//! the server's own record of the push service's answer are read from its store.

use crate::browser::App;
use crate::push::{self, Device};
use crate::push_delivery::{Stats, sign_in};
use crate::server::{Server, admin, store_config};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use postern_core::random::{OsRandom, token};
use postern_proto::authenticator::{WebPushKeys, WebPushSubscription};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Devices saving their subscription at a time.
const SUBSCRIBERS: usize = 16;
/// How long after the last sign-in the harness waits for notifications still on their way.
const GRACE: Duration = Duration::from_secs(10);

/// What the push service received: per device (the endpoint's last segment), when, and whether
/// the request looked like RFC 8291/8292 (an `aes128gcm` body, a VAPID authorization, a TTL).
#[derive(Default)]
struct Received {
    arrivals: Mutex<HashMap<String, OffsetDateTime>>,
    malformed: Mutex<Vec<String>>,
}

async fn accept(
    State(received): State<Arc<Received>>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let at = OffsetDateTime::now_utc();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let looks_right = header("content-encoding") == "aes128gcm"
        && header("authorization").starts_with("vapid t=")
        && !header("ttl").is_empty()
        && body.len() > 86;
    if !looks_right {
        received
            .malformed
            .lock()
            .unwrap()
            .push(format!("{device}: {headers:?}, {} bytes", body.len()));
    }
    received
        .arrivals
        .lock()
        .unwrap()
        .entry(device)
        .or_insert(at);
    StatusCode::CREATED
}

/// Starts the push service on a loopback port: its base URL.
async fn push_service(received: Arc<Received>) -> String {
    let app = axum::Router::new()
        .route("/push/{device}", axum::routing::post(accept))
        .with_state(received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A subscription as a browser would make it: the push service's URL for this device and fresh
/// keys (a P-256 point and a 16-byte secret).
fn subscription(service: &str, device: &Device) -> WebPushSubscription {
    use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
    let key = PrivateKey::generate(&ECDH_P256).unwrap();
    let public = key.compute_public_key().unwrap();
    let b64 = data_encoding::BASE64URL_NOPAD;
    WebPushSubscription {
        endpoint: format!("{service}/push/{}", device.username),
        keys: WebPushKeys {
            p256dh: b64.encode(public.as_ref()),
            auth: b64.encode(&postern_core::random::bytes(&OsRandom, 16)),
        },
        expiration_time: None,
    }
}

/// Every device saves its subscription through the signed device API; the failures.
async fn subscribe(issuer: &str, service: &str, devices: &[Arc<Device>]) -> Vec<String> {
    let devices = Arc::new(devices.to_vec());
    let tasks: Vec<_> = (0..SUBSCRIBERS)
        .map(|t| {
            let (devices, issuer, service) =
                (devices.clone(), issuer.to_owned(), service.to_owned());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut failed = vec![];
                for d in devices.iter().skip(t).step_by(SUBSCRIBERS) {
                    let body = serde_json::to_vec(&subscription(&service, d)).unwrap();
                    let res = d
                        .signed(
                            &http,
                            reqwest::Method::PUT,
                            &issuer,
                            "web-push/subscription",
                            body,
                        )
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => failed.push(format!("HTTP {}", r.status())),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                failed
            })
        })
        .collect();
    let mut failed = vec![];
    for t in tasks {
        failed.extend(t.await.unwrap());
    }
    failed
}

/// Runs the measurement for `devices` subscribed devices and `challenges` sampled sign-ins.
pub async fn measure(devices: usize, challenges: usize, password: &str) {
    let n = devices.max(2);
    let dir = std::env::temp_dir().join(format!("postern-bench-webpush-{}", token(&OsRandom, 6)));
    std::fs::create_dir_all(&dir).unwrap();
    let redirect = "http://127.0.0.1:9/callback".to_owned();
    let client = admin(
        &dir,
        &[
            "admin",
            "--json",
            "client",
            "create",
            "--name",
            "Learning hub",
            "--redirect-uri",
            &redirect,
            "--public",
        ],
        None,
    );
    let all = push::seed(&store_config(&dir, None), "webpush", n, password).await;
    let received = Arc::new(Received::default());
    let service = push_service(received.clone()).await;
    let server = Server::start(
        &dir,
        &[("POSTERN_WEB_PUSH__ALLOW_LOOPBACK_ENDPOINTS", "true")],
    )
    .await;
    let app = Arc::new(App {
        issuer: server.issuer.clone(),
        origin: server.issuer.clone(),
        client_id: client["id"].as_str().unwrap().to_owned(),
        redirect,
    });
    let subscribing = Instant::now();
    let failed = subscribe(&app.issuer, &service, &all).await;
    println!(
        "web push, {n} subscribed devices: {} subscriptions saved through the device API in {:.1} s ({} failed{})",
        n - failed.len(),
        subscribing.elapsed().as_secs_f64(),
        failed.len(),
        failed
            .first()
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default()
    );

    let k = challenges.clamp(1, n);
    let sample: Vec<Arc<Device>> = (0..k).map(|j| all[j * n / k].clone()).collect();
    let since = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let (created, failures) = sign_in(app.clone(), sample.clone(), password).await;
    let waiting = Instant::now();
    while received.arrivals.lock().unwrap().len() < created.len() && waiting.elapsed() < GRACE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop();
    let malformed = received.malformed.lock().unwrap().clone();
    let arrived = received.arrivals.lock().unwrap().len();
    println!(
        "  {} sign-ins reached the waiting page ({} failed{}); the push service received {} notifications ({} not shaped as RFC 8291/8292{})",
        created.len(),
        failures.count(),
        failures
            .first()
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default(),
        arrived,
        malformed.len(),
        malformed
            .first()
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default()
    );

    let config = postern_server::config::Config {
        data_dir: dir.clone(),
        ..Default::default()
    };
    let store = postern_server::app::open_store(&config).await.unwrap();
    let arrivals = received.arrivals.lock().unwrap().clone();
    let (mut sent, mut recorded, mut accepted) = (vec![], vec![], 0);
    for d in &sample {
        let Some(at) = arrivals.get(&d.username) else {
            continue;
        };
        let challenges = store
            .list_user_challenges(&d.user_id, since)
            .await
            .unwrap_or_default();
        let Some(c) = challenges.first() else {
            continue;
        };
        sent.push((*at - c.created).as_seconds_f64() * 1000.0);
        if let Some(result) = c
            .deliveries
            .iter()
            .find(|x| x.device_id == d.id)
            .and_then(|x| x.web_push.as_ref())
        {
            accepted += usize::from(result.accepted);
            let created_ms = (c.created.unix_timestamp_nanos() / 1_000_000) as i64;
            recorded.push((result.at_ms - created_ms) as f64);
        }
    }
    store.close().await;
    if let Some(s) = Stats::of(sent) {
        println!(
            "  challenge created → Web Push request at the push service, {n} subscribed devices: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (min {:.2} ms)",
            s.p50, s.p90, s.p99, s.max, s.min
        );
    }
    if let Some(s) = Stats::of(recorded) {
        println!(
            "  challenge created → push service's answer recorded on the challenge ({accepted} accepted; ms resolution): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            s.p50, s.p99, s.max
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
