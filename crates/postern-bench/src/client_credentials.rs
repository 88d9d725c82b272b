//! Client-credentials grants (`POST /token`, `client_secret_basic`), each answered with a fresh
//! ES256 access token: from `wrk` when it is installed, else from reqwest in this process.

use crate::load::{Outcome, run_for};
use std::sync::Arc;

/// Client-credentials load from `wrk` (a separate, efficient C load generator), if installed.
pub fn wrk_rate(
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
pub async fn reqwest_rate(
    url: String,
    client_id: String,
    secret: String,
    seconds: u64,
    concurrency: usize,
) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let (url, client_id, secret) = (Arc::new(url), Arc::new(client_id), Arc::new(secret));
    run_for(seconds, concurrency, move |_| {
        let (http, url, client_id, secret) =
            (http.clone(), url.clone(), client_id.clone(), secret.clone());
        async move {
            let res = http
                .post(url.as_str())
                .basic_auth(client_id.as_str(), Some(secret.as_str()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&scope=reports.read")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !res.status().is_success() {
                return Err(format!("HTTP {}", res.status()));
            }
            res.bytes().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    })
    .await
}
