//! Several nodes on one PostgreSQL database (`--only multi-node`), all on this machine: password
//! sign-ins and client-credentials grants per second with one node and then with two (the load
//! spread evenly, each browser and each `wrk` on one node, as a load balancer spreads
//! connections), and push delivery when the challenge is made on one node and the app's event
//! stream is held by the other (the wake-up crosses nodes through PostgreSQL `LISTEN/NOTIFY`).
//!
//! The database is a fresh one on the PostgreSQL server of the tests
//! (`POSTERN_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`), dropped
//! at the end. Every node, PostgreSQL and the load generator share the same cores: a second node
//! here adds no CPU, so the two-node figures say what spreading costs, not what it gains.

use crate::browser::{self, App};
use crate::client_credentials;
use crate::load::{self, Outcome};
use crate::push::{self, Device, Streams};
use crate::push_delivery::{Stats, delivered, sign_in};
use crate::server::{Server, admin_on, set_priority, store_config};
use postern_core::random::{OsRandom, token};
use postern_store::testing::TestDatabase;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stream connections waiting for their answer at a time.
const HANDSHAKES: usize = 32;
/// How long after the last sign-in the harness waits for challenges still on their way.
const GRACE: Duration = Duration::from_secs(10);

/// What to measure.
pub struct Settings {
    pub seconds: u64,
    /// Browsers (password sign-ins) and `wrk` connections (client credentials) in all.
    pub browsers: usize,
    pub connections: usize,
    /// Apps connected to the second node for the push measurement.
    pub devices: usize,
    pub challenges: usize,
    pub connect_rate: f64,
}

pub async fn measure(s: &Settings, password: &str) {
    let db = TestDatabase::create(postern_store::Backend::Postgres).await;
    let url = db.url.clone();
    let dirs = [dir("a"), dir("b")];
    let redirect = "http://127.0.0.1:9/callback".to_owned();
    let on = |args: &[&str], stdin: Option<&str>| admin_on(&dirs[0], Some(&url), args, stdin);
    on(
        &["admin", "user", "create", "bench", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    let public = on(
        &[
            "admin",
            "--json",
            "client",
            "create",
            "--name",
            "Bench",
            "--redirect-uri",
            &redirect,
            "--public",
        ],
        None,
    );
    let service = on(
        &[
            "admin",
            "--json",
            "client",
            "create",
            "--name",
            "Service",
            "--redirect-uri",
            &redirect,
        ],
        None,
    );
    let seeding = Instant::now();
    let devices = push::seed(
        &store_config(&dirs[0], Some(&url)),
        "push",
        s.devices.max(2),
        password,
    )
    .await;
    println!(
        "multi-node (PostgreSQL): seeded {} users with a push device in {:.1} s",
        devices.len(),
        seeding.elapsed().as_secs_f64()
    );
    let client_id = public["id"].as_str().unwrap().to_owned();
    let service_id = service["id"].as_str().unwrap().to_owned();
    let service_secret = service["client_secret"].as_str().unwrap().to_owned();

    // The nodes share the deployment's master key (each has its own data directory).
    let master = data_encoding::BASE64URL_NOPAD.encode(&postern_core::random::bytes(
        &OsRandom,
        postern_core::sealed::MasterKey::LEN,
    ));
    let a = Server::start_node(&dirs[0], &url, &master, None).await;
    println!(
        "  node A: postern serve, pid {}, {} (the issuer)",
        a.pid(),
        a.base
    );
    let app_on = |node: &Server| {
        Arc::new(App {
            issuer: node.base.clone(),
            origin: a.issuer.clone(),
            client_id: client_id.clone(),
            redirect: redirect.clone(),
        })
    };
    let one = [app_on(&a)];
    let one_signins = password_sign_ins(s, &one, password).await;
    let one_grants = grants(s, &[&a], &service_id, &service_secret).await;

    let b = Server::start_node(&dirs[1], &url, &master, Some(&a.issuer)).await;
    println!("  node B: postern serve, pid {}, {}", b.pid(), b.base);
    let two = [app_on(&a), app_on(&b)];
    let two_signins = password_sign_ins(s, &two, password).await;
    let two_grants = grants(s, &[&a, &b], &service_id, &service_secret).await;

    println!(
        "  password sign-ins/s end to end (authorize → password → code → token), {} browsers: one node {:.1} ({}; {}), two nodes {:.1} ({}; {}); two / one = {:.2}",
        s.browsers,
        one_signins.rate,
        one_signins.counts(),
        one_signins.latencies(),
        two_signins.rate,
        two_signins.counts(),
        two_signins.latencies(),
        two_signins.rate / one_signins.rate.max(f64::MIN_POSITIVE)
    );
    println!(
        "  client-credentials grants/s (ES256 access tokens), {} connections: one node {one_grants:.0}, two nodes {two_grants:.0}; two / one = {:.2}",
        s.connections,
        two_grants / one_grants.max(f64::MIN_POSITIVE)
    );

    cross_node_push(s, &a, &b, app_on(&a), &devices, password).await;
    b.stop();
    a.stop();
    db.drop_database().await;
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("postern-bench-node-{name}-{}", token(&OsRandom, 6)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Password sign-ins for `s.seconds`, browser `i` through `apps[i % apps.len()]`, the generator
/// at idle priority.
async fn password_sign_ins(s: &Settings, apps: &[Arc<App>], password: &str) -> Outcome {
    let apps: Arc<Vec<Arc<App>>> = Arc::new(apps.to_vec());
    let browsers: Arc<Vec<reqwest::Client>> =
        Arc::new((0..s.browsers).map(|_| browser::browser()).collect());
    let password = Arc::new(password.to_owned());
    set_priority(19);
    let out = load::run_for(s.seconds, s.browsers, move |i| {
        let (apps, browsers, password) = (apps.clone(), browsers.clone(), password.clone());
        async move {
            let app = &apps[i % apps.len()];
            browser::password_sign_in(&browsers[i], app, "bench", &password).await
        }
    })
    .await;
    set_priority(0);
    out
}

/// Client-credentials grants per second over all `nodes`, one `wrk` per node with an even share
/// of the connections, all at once (reqwest in this process when `wrk` is not installed).
async fn grants(s: &Settings, nodes: &[&Server], client_id: &str, secret: &str) -> f64 {
    let share = (s.connections / nodes.len()).max(1);
    let runs: Vec<_> = nodes
        .iter()
        .map(|n| {
            let (url, id, secret, seconds) = (
                format!("{}/token", n.base),
                client_id.to_owned(),
                secret.to_owned(),
                s.seconds,
            );
            tokio::spawn(async move {
                let blocking = {
                    let (url, id, secret) = (url.clone(), id.clone(), secret.clone());
                    tokio::task::spawn_blocking(move || {
                        client_credentials::wrk_rate(&url, &id, &secret, seconds, share)
                    })
                };
                match blocking.await.unwrap() {
                    Some(rate) => rate,
                    None => {
                        client_credentials::reqwest_rate(url, id, secret, seconds, share)
                            .await
                            .rate
                    }
                }
            })
        })
        .collect();
    let mut total = 0.0;
    for r in runs {
        total += r.await.unwrap();
    }
    total
}

/// Every app's event stream on node B; sampled users sign in through node A, whose waiting page
/// creates the challenge; each challenge's delivery is timed by its device's stream on B.
async fn cross_node_push(
    s: &Settings,
    a: &Server,
    b: &Server,
    app_a: Arc<App>,
    devices: &[Arc<Device>],
    password: &str,
) {
    let n = devices.len();
    let http = reqwest::Client::new();
    let mut streams = Streams::default();
    let connecting = Instant::now();
    streams
        .open(&http, &b.base, devices, s.connect_rate, HANDSHAKES)
        .await;
    let (refused, first_refusal) = streams.refused();
    println!(
        "  push across nodes: {} of {n} apps connected to node B in {:.1} s ({refused} refused{}); challenges made on node A (pid {})",
        streams.open_count(),
        connecting.elapsed().as_secs_f64(),
        first_refusal
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default(),
        a.pid()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let k = s.challenges.clamp(1, n);
    let sample: Vec<Arc<Device>> = (0..k).map(|j| devices[j * n / k].clone()).collect();
    let (created, failures) = sign_in(app_a, sample, password).await;
    let waiting = Instant::now();
    let (latencies, stray) = loop {
        let got = streams.with_arrivals(|arrivals| delivered(arrivals, &created));
        if got.0.len() >= created.len() || waiting.elapsed() > GRACE {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "  {} sign-ins on node A reached the waiting page ({} failed{}); {} of their challenges reached the app's stream on node B ({stray} other events)",
        created.len(),
        failures.count(),
        failures
            .first()
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default(),
        latencies.len(),
    );
    if let Some(st) = Stats::of(latencies) {
        println!(
            "  challenge created on A → app receives it from B, {} streams open on B: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (min {:.2} ms)",
            streams.open_count(),
            st.p50,
            st.p90,
            st.p99,
            st.max,
            st.min
        );
    }
    streams.close().await;
}
