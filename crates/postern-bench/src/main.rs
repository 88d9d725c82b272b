//! `postern-bench`: measures, on this machine,
//! 1. raw Argon2id verifications per second at the configured parameters (one thread per core);
//! 2. password sign-ins per second end to end through the real server over HTTP (authorize →
//!    sign-in page → password → code → token), SQLite; and in the same run passwordless passkey
//!    sign-ins per second (authorize → sign-in page → WebAuthn options → a software key's
//!    signature → code → token), one user and key per browser, registered through Security info;
//! 3. sign-ins with an authenticator app (TOTP) per second end to end (authorize → password →
//!    second-factor page → code → authorization code → token), and the code step alone;
//! 4. client-credentials grants per second (ES256 access tokens), SQLite;
//! 5. push delivery with 1,000 and 10,000 authenticators connected: the server's memory per idle
//!    event stream, and the time from a challenge's creation to the app receiving it;
//! 6. Web Push with 1,000 subscribed devices: the time from a challenge's creation to the
//!    encrypted wake-up notification arriving at a push service on this machine;
//! 7. the helpdesk's answer time over a month of sign-in log (`--helpdesk-signins`, 100,000):
//!    the diagnosis from a pasted request id, a student's sign-ins, the latest failures;
//! 8. (`--only multi-node`) one and two nodes on PostgreSQL: password sign-ins and
//!    client-credentials grants per second, and push delivery across nodes.
//!
//! Run it in release mode: `cargo build --release --bin postern --bin postern-bench &&
//! ./target/release/postern-bench --seconds 10`. The server is the real `postern` binary in its own
//! process, with `policy.mfa = when_registered` so that the password-only user of (2) signs
//! straight in, and (for 2–4) the issuer `http://localhost:PORT`, a domain name, so that passkeys
//! are on; the load generator runs at idle priority so that it takes only what the server leaves.
//! It is a harness, not a test: it reports figures and asserts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod client_credentials;
mod helpdesk;
mod load;
mod multi_node;
mod passkey;
mod push;
mod push_delivery;
mod server;
#[path = "../../postern-server/tests/common/test_key.rs"]
mod test_key;
mod totp;
mod web_push_delivery;

use browser::App;
use postern_core::credential::password::{PasswordHasher, PasswordParams};
use postern_core::random::{OsRandom, token};
use postern_core::sealed::MasterKey;
use postern_core::secret::SecretString;
use server::{Server, admin, set_priority, store_config};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_key::TestKey;

const PASSWORD: &str = "correct horse battery staple";

struct Options {
    seconds: u64,
    concurrency: usize,
    only: Option<String>,
    totp_users: usize,
    /// Connected authenticators, one push measurement (and server) each.
    push_devices: Vec<usize>,
    push_challenges: usize,
    push_connect_rate: f64,
    /// Devices with a Web Push subscription (the Web Push measurement).
    web_push_devices: usize,
    helpdesk_signins: usize,
    /// Simulated browsers of the sign-in measurements (default 4 per core).
    browsers: Option<usize>,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 10,
        concurrency: 64,
        only: None,
        totp_users: 3000,
        push_devices: vec![1000, 10_000],
        push_challenges: 200,
        push_connect_rate: 500.0,
        web_push_devices: 1000,
        helpdesk_signins: 100_000,
        browsers: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seconds" => o.seconds = args[i + 1].parse().expect("--seconds N"),
            "--concurrency" => o.concurrency = args[i + 1].parse().expect("--concurrency N"),
            "--browsers" => o.browsers = Some(args[i + 1].parse().expect("--browsers N")),
            "--only" => o.only = Some(args[i + 1].clone()),
            "--totp-users" => {
                o.totp_users = args[i + 1].parse::<usize>().expect("--totp-users N").max(1)
            }
            "--push-devices" => {
                o.push_devices = args[i + 1]
                    .split(',')
                    .map(|n| n.trim().parse().expect("--push-devices N[,N…]"))
                    .collect()
            }
            "--push-challenges" => {
                o.push_challenges = args[i + 1].parse().expect("--push-challenges N")
            }
            "--push-connect-rate" => {
                o.push_connect_rate = args[i + 1]
                    .parse::<f64>()
                    .expect("--push-connect-rate N")
                    .max(1.0)
            }
            "--web-push-devices" => {
                o.web_push_devices = args[i + 1].parse().expect("--web-push-devices N")
            }
            "--helpdesk-signins" => {
                o.helpdesk_signins = args[i + 1].parse().expect("--helpdesk-signins N")
            }
            "--help" | "-h" => {
                println!(
                    "postern-bench [--seconds N] [--concurrency N] [--browsers N] [--totp-users N] [--push-devices N[,N…]] [--push-challenges N] [--push-connect-rate N] [--web-push-devices N] [--helpdesk-signins N] [--only argon2|signin|totp|client-credentials|push|web-push|helpdesk|multi-node] (a comma list runs several: --only argon2,signin)"
                );
                println!(
                    "  signin: password sign-ins, then passwordless passkey sign-ins (one user and key per browser), in the same run"
                );
                println!(
                    "  multi-node: one and two nodes on a fresh PostgreSQL database (POSTERN_TEST_POSTGRES_URL): password sign-ins, client credentials, and push with the apps (the first --push-devices figure) on the other node than the challenge; only with --only"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    o
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Raw Argon2id verifications per second, all cores busy.
fn argon2_rate(seconds: u64) -> f64 {
    let hasher = Arc::new(PasswordHasher::new(PasswordParams::default(), &OsRandom).unwrap());
    let pw = SecretString::new(PASSWORD);
    let phc = Arc::new(hasher.hash(&pw, &OsRandom));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..cores())
        .map(|_| {
            let (hasher, phc, count, pw) = (hasher.clone(), phc.clone(), count.clone(), pw.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    hasher.verify(&pw, &phc);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Simulated browsers, each with its own keep-alive connection.
fn new_browsers(n: usize) -> Arc<Vec<reqwest::Client>> {
    Arc::new((0..n).map(|_| browser::browser()).collect())
}

/// The users of the TOTP measurements.
struct TotpUsers {
    /// Whole sign-ins: reused in later time steps.
    pool: Arc<totp::Pool>,
    /// The code step alone: each used once.
    once: Arc<Vec<totp::TotpUser>>,
}

#[tokio::main]
async fn main() {
    let o = options();
    // `--only a,b` runs measurements a and b (in the harness's order, in one run).
    let want = |name: &str| {
        o.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|n| n == name))
    };
    println!(
        "postern-bench: {} cores, {} s per measurement, concurrency {}",
        cores(),
        o.seconds,
        o.concurrency
    );
    let mut argon = None;
    if want("argon2") {
        let rate = argon2_rate(o.seconds);
        println!(
            "raw Argon2id (m=19456 KiB, t=2, p=1) verifications/s, {} threads: {rate:.1}",
            cores()
        );
        argon = Some(rate);
    }
    if o.only.as_deref() == Some("push") {
        push_measurements(&o).await;
        return;
    }
    if o.only.as_deref() == Some("web-push") {
        web_push_delivery::measure(o.web_push_devices, o.push_challenges, PASSWORD).await;
        return;
    }
    if o.only.as_deref() == Some("multi-node") {
        multi_node::measure(
            &multi_node::Settings {
                seconds: o.seconds,
                browsers: o.browsers.unwrap_or(cores() * 4).min(o.concurrency),
                connections: o.concurrency,
                devices: o.push_devices.first().copied().unwrap_or(1000),
                challenges: o.push_challenges,
                connect_rate: o.push_connect_rate,
            },
            PASSWORD,
        )
        .await;
        return;
    }
    if o.only.as_deref() == Some("helpdesk") {
        helpdesk::measure(o.seconds, o.helpdesk_signins).await;
        return;
    }
    let dir = std::env::temp_dir().join(format!("postern-bench-{}", token(&OsRandom, 6)));
    std::fs::create_dir_all(&dir).unwrap();
    let redirect = "http://127.0.0.1:9/callback".to_owned();
    admin(
        &dir,
        &["admin", "user", "create", "bench", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let public = admin(
        &dir,
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
    let service = admin(
        &dir,
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
    // The server seals TOTP seeds with this key; the seeded users' seeds are sealed with it too.
    let master_bytes = postern_core::random::bytes(&OsRandom, MasterKey::LEN);
    let master = MasterKey::from_bytes(&master_bytes).unwrap();
    let master_text = data_encoding::BASE64URL_NOPAD.encode(&master_bytes);
    let concurrency = o.browsers.unwrap_or(cores() * 4).min(o.concurrency);
    // One user per browser for the passkey sign-ins; their app and passkey are added through the
    // pages once the server runs.
    let passkey_users = if want("signin") {
        totp::seed(
            &store_config(&dir, None),
            &master,
            "passkey",
            concurrency,
            PASSWORD,
            false,
        )
        .await
    } else {
        vec![]
    };
    let totp_users = if want("totp") {
        let started = Instant::now();
        let pool = totp::seed(
            &store_config(&dir, None),
            &master,
            "totp",
            o.totp_users,
            PASSWORD,
            true,
        )
        .await;
        // Enough for the code step alone at 150 password sign-ins/s, above what 2 cores do.
        let once = totp::seed(
            &store_config(&dir, None),
            &master,
            "step",
            o.seconds as usize * 150,
            PASSWORD,
            true,
        )
        .await;
        totp::seed(
            &store_config(&dir, None),
            &master,
            "enrolled",
            1,
            PASSWORD,
            false,
        )
        .await;
        println!(
            "seeded {} users with an authenticator app in {:.1} s",
            pool.len() + once.len(),
            started.elapsed().as_secs_f64()
        );
        Some(TotpUsers {
            pool: Arc::new(totp::Pool::new(pool)),
            once: Arc::new(once),
        })
    } else {
        None
    };
    let server = Server::start_localhost(
        &dir,
        &[
            ("POSTERN_POLICY__MFA", "when_registered"),
            ("POSTERN_MASTER_KEY", &master_text),
        ],
    )
    .await;
    println!(
        "server: postern serve, pid {}, {}",
        server.pid(),
        server.issuer
    );
    let public_app = Arc::new(App {
        issuer: server.issuer.clone(),
        origin: server.issuer.clone(),
        client_id: public["id"].as_str().unwrap().to_owned(),
        redirect: redirect.clone(),
    });

    let mut password_rate = None;
    if want("signin") {
        let keys = passkey_keys(&server.issuer, &passkey_users).await;
        set_priority(19);
        let (app, browsers) = (public_app.clone(), new_browsers(concurrency));
        let out = load::run_for(o.seconds, concurrency, move |i| {
            let (app, browsers) = (app.clone(), browsers.clone());
            async move { browser::password_sign_in(&browsers[i], &app, "bench", PASSWORD).await }
        })
        .await;
        set_priority(0);
        println!(
            "password sign-ins/s end to end (authorize → password → code → token), {concurrency} browsers: {:.1} ({}; {})",
            out.rate,
            out.counts(),
            out.latencies()
        );
        if let Some(a) = argon {
            println!("  ratio to raw Argon2id: {:.2}", out.rate / a);
        }
        password_rate = Some(out.rate);
        if let Some(keys) = keys {
            passkey_measurement(&o, &public_app, keys, out.rate, argon).await;
        }
    }

    if let Some(users) = totp_users {
        totp_measurements(&o, &public_app, users, concurrency, password_rate).await;
    }

    if want("client-credentials") {
        let client_id = service["id"].as_str().unwrap().to_owned();
        let secret = service["client_secret"].as_str().unwrap().to_owned();
        let url = format!("{}/token", server.issuer);
        match client_credentials::wrk_rate(&url, &client_id, &secret, o.seconds, o.concurrency) {
            Some(rate) => println!(
                "client-credentials grants/s (ES256 access tokens, SQLite; wrk, 1 thread, {} connections, same machine): {rate:.0}",
                o.concurrency
            ),
            None => {
                let out = client_credentials::reqwest_rate(
                    url,
                    client_id,
                    secret,
                    o.seconds,
                    o.concurrency,
                )
                .await;
                println!(
                    "client-credentials grants/s (ES256 access tokens, SQLite; in-process reqwest load, install wrk for a lighter generator): {:.0} ({})",
                    out.rate,
                    out.counts()
                );
            }
        }
    }
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    if want("push") {
        push_measurements(&o).await;
    }
    if want("web-push") {
        web_push_delivery::measure(o.web_push_devices, o.push_challenges, PASSWORD).await;
    }
    if want("helpdesk") {
        helpdesk::measure(o.seconds, o.helpdesk_signins).await;
    }
}

/// Push delivery for each number of connected authenticators, one server each. The harness runs
/// at normal priority here: it plays the phones, whose clock reading on arrival is the measurement.
async fn push_measurements(o: &Options) {
    for &devices in &o.push_devices {
        push_delivery::measure(
            &push_delivery::Settings {
                devices,
                challenges: o.push_challenges,
                connect_rate: o.push_connect_rate,
            },
            PASSWORD,
        )
        .await;
    }
}

/// Registers one passkey per user through Security info (an app first, then the passkey), at
/// normal priority; `None` (and why, printed) if any registration failed.
async fn passkey_keys(issuer: &str, users: &[totp::TotpUser]) -> Option<Arc<Vec<Mutex<TestKey>>>> {
    let started = Instant::now();
    let rp = match passkey::Rp::of(issuer) {
        Ok(rp) => rp,
        Err(why) => {
            println!("passkey setup FAILED: {why}");
            return None;
        }
    };
    let mut keys = Vec::with_capacity(users.len());
    for user in users {
        let mut key = TestKey::new();
        if let Err(why) = passkey::register(issuer, &rp, &user.username, PASSWORD, &mut key).await {
            println!("passkey setup FAILED for {}: {why}", user.username);
            return None;
        }
        keys.push(Mutex::new(key));
    }
    println!(
        "passkeys: {} users each added an app and a passkey at Security info in {:.1} s",
        keys.len(),
        started.elapsed().as_secs_f64()
    );
    Some(Arc::new(keys))
}

/// Passwordless passkey sign-ins, browser `i` with key `i`; next to the password sign-ins of the
/// same run.
async fn passkey_measurement(
    o: &Options,
    app: &Arc<App>,
    keys: Arc<Vec<Mutex<TestKey>>>,
    password_rate: f64,
    argon: Option<f64>,
) {
    let Ok(rp) = passkey::Rp::of(&app.issuer) else {
        return;
    };
    let browsers = keys.len();
    let (app, rp, http) = (app.clone(), Arc::new(rp), new_browsers(browsers));
    set_priority(19);
    let out = load::run_for(o.seconds, browsers, move |i| {
        let (app, rp, http, keys) = (app.clone(), rp.clone(), http.clone(), keys.clone());
        async move { passkey::sign_in(&http[i], &app, &rp, &keys[i]).await }
    })
    .await;
    set_priority(0);
    println!(
        "passwordless passkey sign-ins/s end to end (authorize → passkey options → signature → code → token, amr hwk+mfa), {browsers} browsers, {browsers} keys: {:.1} ({}; {})",
        out.rate,
        out.counts(),
        out.latencies()
    );
    if password_rate > 0.0 {
        println!(
            "  ratio to password sign-ins: {:.2}",
            out.rate / password_rate
        );
    }
    if let Some(a) = argon {
        println!("  ratio to raw Argon2id: {:.2}", out.rate / a);
    }
}

/// The enrollment check, whole TOTP sign-ins, and the code step alone.
async fn totp_measurements(
    o: &Options,
    app: &Arc<App>,
    users: TotpUsers,
    concurrency: usize,
    password_rate: Option<f64>,
) {
    set_priority(19);
    // A person adds an app at Security info and signs in with it (the app's next code: the
    // current one was used to add it).
    let checked = match totp::enroll_through_pages(&app.issuer, "enrolled00000", PASSWORD).await {
        Ok(user) => {
            let step = totp::current_step() + 1;
            totp::sign_in(&browser::browser(), app, &user, step, PASSWORD)
                .await
                .map(|()| "ok".to_owned())
                .unwrap_or_else(|why| format!("sign-in FAILED: {why}"))
        }
        Err(why) => format!("enrollment FAILED: {why}"),
    };
    println!("TOTP check (add an app at Security info, then sign in with it): {checked}");

    let (pool, browsers) = (users.pool.clone(), new_browsers(concurrency));
    let app2 = app.clone();
    let out = load::run_for(o.seconds, concurrency, move |i| {
        let (app, browsers, pool) = (app2.clone(), browsers.clone(), pool.clone());
        async move {
            let (user, step) = pool.claim().await;
            totp::sign_in(&browsers[i], &app, user, step, PASSWORD).await
        }
    })
    .await;
    println!(
        "TOTP sign-ins/s end to end (authorize → password → code page → TOTP code → code → token), {concurrency} browsers, {} users: {:.1} ({})",
        o.totp_users,
        out.rate,
        out.counts()
    );
    if let Some(p) = password_rate {
        println!("  ratio to password sign-ins: {:.2}", out.rate / p);
    }
    let waits = users.pool.waits.load(Ordering::Relaxed);
    if waits > 0 {
        println!(
            "  WARNING: {waits} times every user had signed in during the current 30 s step; raise --totp-users"
        );
    }

    let step = totp::second_step(
        new_browsers(concurrency),
        app.clone(),
        users.once.clone(),
        Arc::new(PASSWORD.to_owned()),
        o.seconds,
    )
    .await;
    set_priority(0);
    println!(
        "TOTP code step alone (POST code → redirect with code), {concurrency} browsers: {:.1}/s ({} codes in {:.2} s; {} failed{})",
        step.rate(),
        step.accepted,
        step.seconds,
        step.failed,
        step.first_error
            .as_deref()
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default()
    );
    println!(
        "  {} sign-ins brought to the code page by password first, in {} s ({} failed)",
        step.prepared, o.seconds, step.prepare_failed
    );
}
