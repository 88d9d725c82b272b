//! `postern-bench`: measures, on this machine,
//! 1. raw Argon2id verifications per second at the configured parameters (one thread per core);
//! 2. password sign-ins per second end to end through the real server over HTTP (authorize →
//!    sign-in page → password → code → token), SQLite;
//! 3. client-credentials grants per second (ES256 access tokens), SQLite.
//!
//! Run it in release mode: `cargo build --release --bin postern --bin postern-bench &&
//! ./target/release/postern-bench --seconds 10`. The server is the real `postern` binary in its own
//! process; the load generator runs at idle priority so that it takes only what the server leaves.
//! It is a harness, not a test: it reports figures and asserts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use postern_core::credential::password::{PasswordHasher, PasswordParams};
use postern_core::random::{OsRandom, token};
use postern_core::secret::SecretString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Options {
    seconds: u64,
    concurrency: usize,
    only: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 10,
        concurrency: 64,
        only: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seconds" => o.seconds = args[i + 1].parse().expect("--seconds N"),
            "--concurrency" => o.concurrency = args[i + 1].parse().expect("--concurrency N"),
            "--only" => o.only = Some(args[i + 1].clone()),
            "--help" | "-h" => {
                println!(
                    "postern-bench [--seconds N] [--concurrency N] [--only argon2|signin|client-credentials]"
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
    let pw = SecretString::new("correct horse battery staple");
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

/// The real `postern` binary, built next to this one.
fn postern_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.with_file_name("postern");
    assert!(
        bin.exists(),
        "build the server first: cargo build --release --bin postern --bin postern-bench"
    );
    bin
}

fn admin(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    use std::io::Write;
    let mut child = std::process::Command::new(postern_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "postern {args:?} failed");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Starts `postern serve` as its own process and waits until it is ready. The caller stops and
/// waits for it; if it never becomes ready the harness panics and the process ends with it.
#[allow(clippy::zombie_processes)]
async fn start_server(dir: &std::path::Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(postern_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("POSTERN_LIMITS__SIGNIN_PER_MINUTE", "1000000000")
        .env("POSTERN_LIMITS__TOKEN_PER_SECOND", "1000000000")
        .env("POSTERN_LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if let Ok(res) = reqwest::get(format!("{issuer}/readyz")).await
            && res.status().is_success()
        {
            return (child, issuer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("postern did not become ready");
}

/// Sets this process's priority. During the sign-in measurement the load generator runs at idle
/// priority (19) on what the server leaves, as remote browsers would; the client-credentials
/// measurement runs it at normal priority, because there the generator's own work per request is
/// as large as the server's and starving it would measure the generator.
fn set_priority(nice: i32) {
    let _ = std::process::Command::new("renice")
        .args([
            "-n",
            &nice.to_string(),
            "-p",
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status();
}

/// Runs `op` from `concurrency` tasks for `seconds`; returns completed operations per second.
async fn run_for<F, Fut>(seconds: u64, concurrency: usize, op: F) -> (f64, u64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let (op, done, failed, stop) = (op.clone(), done.clone(), failed.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if op(i).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    (
        done.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let s = body.find(start)? + start.len();
    let e = body[s..].find(end)? + s;
    Some(&body[s..e])
}

/// The browser cookie Postern set, as a `Cookie` header value.
fn browser_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// One complete sign-in: authorize → sign-in page → password → code → token. Each simulated
/// browser keeps one HTTP connection (as a real browser does) and a fresh cookie jar per sign-in.
async fn one_sign_in(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    redirect: &str,
) -> bool {
    let verifier = token(&OsRandom, 32);
    let challenge = postern_core::oidc::pkce::challenge_s256(&verifier);
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let Ok(res) = http.get(format!("{issuer}/authorize?{q}")).send().await else {
        return false;
    };
    let cookie = browser_cookie(&res);
    let signin = format!("{issuer}{}", location(&res));
    let Ok(page) = http.get(&signin).header("cookie", &cookie).send().await else {
        return false;
    };
    let body = page.text().await.unwrap_or_default();
    let Some(csrf) = between(&body, "name=\"csrf\" value=\"", "\"") else {
        return false;
    };
    let Ok(res) = http
        .post(&signin)
        .header("origin", issuer)
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf),
            ("username", "bench"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
    else {
        return false;
    };
    let back = location(&res);
    let Some(code) = url::Url::parse(&back).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    }) else {
        return false;
    };
    let Ok(res) = http
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("client_id", client_id),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
    else {
        return false;
    };
    res.status().is_success() && res.bytes().await.is_ok()
}

/// Client-credentials load from `wrk` (a separate, efficient C load generator), if installed.
fn wrk_rate(
    url: &str,
    client_id: &str,
    secret: &str,
    seconds: u64,
    concurrency: usize,
) -> Option<f64> {
    let which = std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .ok()?;
    if which.stdout.is_empty() && which.stderr.is_empty() {
        return None;
    }
    let basic = data_encoding::BASE64.encode(format!("{client_id}:{secret}").as_bytes());
    let script = std::env::temp_dir().join(format!("postern-bench-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = \"grant_type=client_credentials&scope=reports.read\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             wrk.headers[\"Authorization\"] = \"Basic {basic}\"\n\
             done = function(summary, latency, requests)\n  io.write(string.format(\"non2xx=%d\\n\", summary.errors.status))\nend\n"
        ),
    )
    .ok()?;
    let out = std::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{concurrency}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("non2xx=0") {
        eprintln!("wrk saw failed requests:\n{text}");
    }
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// Client-credentials load from reqwest in this process (when wrk is not installed).
async fn reqwest_rate(
    url: String,
    client_id: String,
    secret: String,
    seconds: u64,
    concurrency: usize,
) -> (f64, u64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let (url, client_id, secret) = (Arc::new(url), Arc::new(client_id), Arc::new(secret));
    run_for(seconds, concurrency, move |_| {
        let (http, url, client_id, secret) =
            (http.clone(), url.clone(), client_id.clone(), secret.clone());
        async move {
            match http
                .post(url.as_str())
                .basic_auth(client_id.as_str(), Some(secret.as_str()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&scope=reports.read")
                .send()
                .await
            {
                Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let o = options();
    let want = |name: &str| o.only.as_deref().is_none_or(|only| only == name);
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
    let dir = std::env::temp_dir().join(format!("postern-bench-{}", token(&OsRandom, 6)));
    std::fs::create_dir_all(&dir).unwrap();
    let redirect = "http://127.0.0.1:9/callback".to_owned();
    admin(
        &dir,
        &["admin", "user", "create", "bench", "--password-stdin"],
        Some("correct horse battery staple\n"),
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
    let (mut server, issuer) = start_server(&dir).await;

    if want("signin") {
        let client_id = public["id"].as_str().unwrap().to_owned();
        let concurrency = (cores() * 4).min(o.concurrency);
        set_priority(19);
        let (issuer, client_id, redirect) = (
            Arc::new(issuer.clone()),
            Arc::new(client_id),
            Arc::new(redirect.clone()),
        );
        let browsers: Arc<Vec<reqwest::Client>> = Arc::new(
            (0..concurrency)
                .map(|_| {
                    reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .unwrap()
                })
                .collect(),
        );
        let (rate, failed) = run_for(o.seconds, concurrency, move |i| {
            let (issuer, client_id, redirect, browsers) = (
                issuer.clone(),
                client_id.clone(),
                redirect.clone(),
                browsers.clone(),
            );
            async move { one_sign_in(&browsers[i], &issuer, &client_id, &redirect).await }
        })
        .await;
        set_priority(0);
        println!(
            "password sign-ins/s end to end (authorize → password → code → token), {concurrency} browsers: {rate:.1} ({failed} failed)"
        );
        if let Some(a) = argon {
            println!("  ratio to raw Argon2id: {:.2}", rate / a);
        }
    }

    if want("client-credentials") {
        let client_id = service["id"].as_str().unwrap().to_owned();
        let secret = service["client_secret"].as_str().unwrap().to_owned();
        let url = format!("{issuer}/token");
        match wrk_rate(&url, &client_id, &secret, o.seconds, o.concurrency) {
            Some(rate) => println!(
                "client-credentials grants/s (ES256 access tokens, SQLite; wrk, 1 thread, {} connections, same machine): {rate:.0}",
                o.concurrency
            ),
            None => {
                let (rate, failed) =
                    reqwest_rate(url, client_id, secret, o.seconds, o.concurrency).await;
                println!(
                    "client-credentials grants/s (ES256 access tokens, SQLite; in-process reqwest load, install wrk for a lighter generator): {rate:.0} ({failed} failed)"
                );
            }
        }
    }
    let _ = std::process::Command::new("kill")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
