//! The push measurement, for N connected authenticators: the server's memory per idle event
//! stream, and the time from a challenge's creation to its device receiving it.
//!
//! One server per N, on its own data directory: the devices are seeded (`push::seed`), the server
//! started, its resident memory read (`VmRSS`), half of the devices connected, memory read, the
//! other half connected, memory read (each after the connections settle). Then a few browsers
//! sign in through the real pages as a sample of the users, spread over a few seconds — the
//! waiting page after the password creates the challenge and wakes the device — while every
//! stream stays open, and each challenge's delivery is timed by its device's stream. Each sampled
//! user signs in once (the server sends at most 3 pushes per user per 5 minutes).

use crate::browser::{self, App};
use crate::load::Failures;
use crate::push::{self, Device, Streams};
use crate::server::{Memory, Server, admin, store_config};
use postern_core::random::{OsRandom, token};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Browsers signing in the sampled users.
const BROWSERS: usize = 4;
/// The sampled sign-ins are spread evenly over this time.
const SPREAD: Duration = Duration::from_secs(5);
/// Stream connections waiting for their answer at a time.
const HANDSHAKES: usize = 32;
/// Pause before memory is read, for the server to finish with the connections just made.
const SETTLE: Duration = Duration::from_secs(3);
/// How long after the last sign-in the harness waits for challenges still on their way.
const GRACE: Duration = Duration::from_secs(10);

/// What to measure.
pub struct Settings {
    /// Connected authenticators (one user each).
    pub devices: usize,
    /// Sign-ins that create a challenge, each for a different user.
    pub challenges: usize,
    /// Stream connections opened per second.
    pub connect_rate: f64,
}

/// Runs the measurement for `settings.devices` devices and prints what it found.
pub async fn measure(settings: &Settings, password: &str) {
    let n = settings.devices.max(2);
    let dir = std::env::temp_dir().join(format!("postern-bench-push-{}", token(&OsRandom, 6)));
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
    let seeding = Instant::now();
    let devices = push::seed(&store_config(&dir, None), "push", n, password).await;
    println!(
        "push, {n} authenticators: seeded {n} users with a push device in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let server = Server::start(&dir, &[]).await;
    let app = Arc::new(App {
        issuer: server.issuer.clone(),
        origin: server.issuer.clone(),
        client_id: client["id"].as_str().unwrap().to_owned(),
        redirect,
    });
    println!("  server: postern serve, pid {}", server.pid());
    tokio::time::sleep(SETTLE).await;
    let idle = server.memory();

    let http = reqwest::Client::new();
    let mut streams = Streams::default();
    let half = n / 2;
    let connecting = Instant::now();
    streams
        .open(
            &http,
            &app.issuer,
            &devices[..half],
            settings.connect_rate,
            HANDSHAKES,
        )
        .await;
    let mut connect_time = connecting.elapsed();
    tokio::time::sleep(SETTLE).await;
    let (mid, open_mid) = (server.memory(), streams.open_count());
    let connecting = Instant::now();
    streams
        .open(
            &http,
            &app.issuer,
            &devices[half..],
            settings.connect_rate,
            HANDSHAKES,
        )
        .await;
    connect_time += connecting.elapsed();
    tokio::time::sleep(SETTLE).await;
    let (full, open_full) = (server.memory(), streams.open_count());
    let (refused, first_refusal) = streams.refused();
    println!(
        "  connected {open_full} of {n} event streams in {:.1} s ({:.0}/s; {refused} refused{}, {} attempts retried)",
        connect_time.as_secs_f64(),
        n as f64 / connect_time.as_secs_f64(),
        first_refusal
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default(),
        streams.retried()
    );
    let per = |from: &Memory, to: &Memory, conns: usize| {
        (to.rss_kib as f64 - from.rss_kib as f64) / conns.max(1) as f64
    };
    println!(
        "  server memory (VmRSS): {} KiB idle, {} KiB with {open_mid} streams, {} KiB with {open_full}: {:.1} KiB per idle connection ({:.1} KiB per connection over the second half); open files {} → {} → {}",
        idle.rss_kib,
        mid.rss_kib,
        full.rss_kib,
        per(&idle, &full, open_full),
        per(&mid, &full, open_full.saturating_sub(open_mid)),
        idle.open_files,
        mid.open_files,
        full.open_files,
    );

    let k = settings.challenges.clamp(1, n);
    let sample: Vec<Arc<Device>> = (0..k).map(|j| devices[j * n / k].clone()).collect();
    let since = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let (created, failures) = sign_in(app.clone(), sample.clone(), password).await;
    let waiting = Instant::now();
    let (latencies, stray) = loop {
        let got = streams.with_arrivals(|a| delivered(a, &created));
        if got.0.len() >= created.len() || waiting.elapsed() > GRACE {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after = server.memory();
    println!(
        "  {} sign-ins reached the waiting page ({} failed{}); {} of their challenges reached the device's stream{}",
        created.len(),
        failures.count(),
        failures
            .first()
            .map(|w| format!(", first: {w}"))
            .unwrap_or_default(),
        latencies.len(),
        if stray > 0 {
            format!(" ({stray} more events for other users or repeated)")
        } else {
            String::new()
        }
    );
    if let Some(s) = Stats::of(latencies) {
        println!(
            "  challenge created → app receives it, {n} streams open: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (min {:.2} ms)",
            s.p50, s.p90, s.p99, s.max, s.min
        );
    }
    println!(
        "  streams still open {} (ended early {}, unreadable events {}); server memory after the sign-ins {} KiB, open files {}",
        streams.open_count(),
        streams.ended(),
        streams.unreadable(),
        after.rss_kib,
        after.open_files
    );
    streams.close().await;
    server.stop();
    delivery_records(&dir, &sample, since).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Signs in each sampled user through the pages, [`BROWSERS`] at a time, their starts spread over
/// [`SPREAD`]: up to the waiting page, whose request creates the challenge. The usernames whose
/// waiting page showed a number to match, and the failures.
pub async fn sign_in(
    app: Arc<App>,
    sample: Vec<Arc<Device>>,
    password: &str,
) -> (Vec<String>, Arc<Failures>) {
    let sample = Arc::new(sample);
    let password = Arc::new(password.to_owned());
    let failures = Arc::new(Failures::default());
    let start = Instant::now();
    let gap = SPREAD.div_f64(sample.len() as f64);
    let tasks: Vec<_> = (0..BROWSERS)
        .map(|b| {
            let (app, sample, password, failures) = (
                app.clone(),
                sample.clone(),
                password.clone(),
                failures.clone(),
            );
            tokio::spawn(async move {
                let http = browser::browser();
                let mut created = vec![];
                for j in (b..sample.len()).step_by(BROWSERS) {
                    tokio::time::sleep_until((start + gap.mul_f64(j as f64)).into()).await;
                    let user = &sample[j];
                    let shown = async {
                        let started = browser::start(&http, &app).await?;
                        browser::password_to_push(&http, &app, &started, &user.username, &password)
                            .await
                    }
                    .await;
                    match shown {
                        Ok(_number) => created.push(user.username.clone()),
                        Err(why) => failures.record(why),
                    }
                }
                created
            })
        })
        .collect();
    let mut created = vec![];
    for t in tasks {
        created.extend(t.await.unwrap_or_default());
    }
    (created, failures)
}

/// The latency of the first arrival of each challenge of a sampled user, and how many other
/// arrivals there were (repeats, other users).
pub(crate) fn delivered(arrivals: &[push::Arrival], created: &[String]) -> (Vec<f64>, usize) {
    let wanted: HashSet<&str> = created.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let (mut latencies, mut stray) = (vec![], 0);
    for a in arrivals {
        if wanted.contains(a.username.as_str()) && seen.insert(a.challenge_id.as_str()) {
            latencies.push(a.latency_ms);
        } else {
            stray += 1;
        }
    }
    (latencies, stray)
}

pub struct Stats {
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    /// Nearest-rank percentiles.
    pub fn of(mut v: Vec<f64>) -> Option<Stats> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Stats {
            min: v[0],
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: v[v.len() - 1],
        })
    }
}

/// What the server recorded for the sampled users' challenges (read from its store after it
/// stopped): how many were recorded as woken over an open connection and as fetched by the app.
async fn delivery_records(dir: &std::path::Path, sample: &[Arc<Device>], since: OffsetDateTime) {
    let config = postern_server::config::Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    let store = postern_server::app::open_store(&config).await.unwrap();
    let (mut challenges, mut woke, mut fetched, mut fetched_not_woke) = (0, 0, 0, 0);
    for d in sample {
        for c in store
            .list_user_challenges(&d.user_id, since)
            .await
            .unwrap_or_default()
        {
            challenges += 1;
            for delivery in c.deliveries.iter().filter(|x| x.device_id == d.id) {
                woke += usize::from(delivery.woke_ms.is_some());
                fetched += usize::from(delivery.fetched_ms.is_some());
                fetched_not_woke +=
                    usize::from(delivery.fetched_ms.is_some() && delivery.woke_ms.is_none());
            }
        }
    }
    store.close().await;
    println!(
        "  server's delivery records: {challenges} challenges, woken over the open connection {woke}, fetched by the app {fetched} (fetched but not marked woken: {fetched_not_woke})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Stats::of((1..=200).map(f64::from).collect()).unwrap();
        assert_eq!(
            (s.min, s.p50, s.p90, s.p99, s.max),
            (1.0, 100.0, 180.0, 198.0, 200.0)
        );
    }
}
