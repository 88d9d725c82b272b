//! The helpdesk's answer time over a realistic sign-in log: the log is seeded (one month of a
//! school: `entries` sign-ins of 400 students, each with its request ids and five steps, one in ten
//! a push that was not delivered), then one helpdesk person at a time pastes a request id
//! (`GET /admin/v1/signins/{id}/diagnosis`), lists a student's sign-ins and lists the latest
//! 500121 failures; the harness reports each call's p50 and p99 over `seconds`.

use crate::server::{Server, admin};
use postern_core::random::{self, OsRandom};
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep, StepReason, StepResult};
use postern_core::user::User;
use postern_proto::ErrorCode;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const STUDENTS: usize = 400;

fn step(
    at: OffsetDateTime,
    rid: &str,
    method: &str,
    result: StepResult,
    detail: &str,
    reason: Option<StepReason>,
) -> SignInStep {
    SignInStep {
        time: at,
        request_id: rid.to_owned(),
        method: method.to_owned(),
        result,
        detail: detail.to_owned(),
        reason,
    }
}

/// Seeds the log; returns (request id, user id) of every entry.
async fn seed(dir: &std::path::Path, entries: usize) -> Vec<(String, String)> {
    let config = postern_server::config::Config {
        data_dir: dir.to_owned(),
        ..postern_server::config::Config::default()
    };
    let store = postern_server::app::open_store(&config).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let mut users = Vec::new();
    for i in 0..STUDENTS {
        let user = User {
            id: random::uuid(&OsRandom),
            username: format!("student{i}"),
            email: None,
            name: None,
            password_hash: None,
            disabled: false,
            created: now,
        };
        store.create_user(&user).await.unwrap();
        users.push(user);
    }
    let mut out = Vec::with_capacity(entries);
    // 29 days: entries older than the 30 the log keeps would be purged when the server starts.
    let month_ms = 29 * 86_400_000i64;
    for i in 0..entries {
        let user = &users[i % STUDENTS];
        let started =
            now - time::Duration::milliseconds(month_ms * (entries - i) as i64 / entries as i64);
        let rids: Vec<String> = (0..3).map(|_| random::uuid(&OsRandom)).collect();
        let failed = i % 10 == 0;
        let mut steps = vec![
            step(
                started,
                &rids[0],
                "authorize",
                StepResult::Info,
                "sign-in started for 'Learning hub'",
                None,
            ),
            step(
                started,
                &rids[1],
                "password",
                StepResult::Success,
                "password accepted; second factor due",
                None,
            ),
            step(
                started,
                &rids[1],
                "push",
                StepResult::Info,
                "push request sent to 'Pixel 7'",
                None,
            ),
        ];
        if failed {
            steps.push(step(
                started,
                &rids[2],
                "push",
                StepResult::Failure,
                "not delivered within 60 s: 'Pixel 7' has not connected since …",
                Some(StepReason::PushNotDelivered),
            ));
        } else {
            steps.push(step(
                started,
                &rids[2],
                "push",
                StepResult::Success,
                "push approved on 'Pixel 7' with the matching number",
                None,
            ));
            steps.push(step(
                started,
                &rids[2],
                "authorize",
                StepResult::Success,
                "authorization code issued to 'Learning hub'",
                None,
            ));
        }
        store
            .create_signin(&SignInEntry {
                correlation_id: random::uuid(&OsRandom),
                started,
                updated: started,
                user_id: Some(user.id.clone()),
                username: Some(user.username.clone()),
                client_id: Some("learning-hub".into()),
                client_name: Some("Learning hub".into()),
                ip: Some("10.1.2.3".into()),
                user_agent: Some("Mozilla/5.0".into()),
                result: if failed {
                    SignInResult::Failure
                } else {
                    SignInResult::Success
                },
                error_code: failed.then_some(ErrorCode::SecondFactorFailed),
                failure_reason: None,
                request_ids: rids.clone(),
                steps,
            })
            .await
            .unwrap();
        out.push((rids[2].clone(), user.id.clone()));
    }
    store.close().await;
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Calls `path(i)` one after another for `seconds`; p50/p99 in ms and the count.
async fn latencies(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    seconds: u64,
    path: impl Fn(usize) -> String,
) -> (f64, f64, usize) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut took = Vec::new();
    let mut i = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let res = http
            .get(format!("{base}{}", path(i)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        res.bytes().await.unwrap();
        took.push(started.elapsed());
        i += 1;
    }
    took.sort();
    (percentile(&took, 0.5), percentile(&took, 0.99), took.len())
}

pub async fn measure(seconds: u64, entries: usize) {
    let dir = std::env::temp_dir().join(format!(
        "postern-bench-helpdesk-{}",
        random::token(&OsRandom, 6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let seeded = seed(&dir, entries).await;
    println!(
        "helpdesk: seeded {entries} sign-ins ({} steps) of {STUDENTS} students in {:.1} s",
        entries * 9 / 2,
        started.elapsed().as_secs_f64()
    );
    let token = admin(
        &dir,
        &[
            "admin", "--json", "token", "create", "--name", "bench", "--role", "reader",
        ],
        None,
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = Server::start(&dir, &[]).await;
    let http = reqwest::Client::new();
    let base = server.issuer.clone();
    // Paste a request id: spread over the whole month.
    let step = (seeded.len() / 997).max(1);
    let pick = |i: usize| &seeded[(i * step * 7919) % seeded.len()];
    let (p50, p99, n) = latencies(&http, &base, &token, seconds, |i| {
        format!("/admin/v1/signins/{}/diagnosis", pick(i).0)
    })
    .await;
    println!(
        "helpdesk: diagnosis from a pasted request id: p50 {p50:.2} ms, p99 {p99:.2} ms ({n} calls, one at a time)"
    );
    let (p50, p99, n) = latencies(&http, &base, &token, seconds, |i| {
        format!("/admin/v1/signins?user={}&limit=50", pick(i).1)
    })
    .await;
    println!(
        "helpdesk: a student's latest 50 sign-ins: p50 {p50:.2} ms, p99 {p99:.2} ms ({n} calls)"
    );
    let (p50, p99, n) = latencies(&http, &base, &token, seconds, |_| {
        "/admin/v1/signins?error_code=500121&limit=50".to_owned()
    })
    .await;
    println!(
        "helpdesk: the latest 50 failures with 500121: p50 {p50:.2} ms, p99 {p99:.2} ms ({n} calls)"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
