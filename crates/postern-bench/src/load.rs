//! Driving an operation from many tasks for a fixed time and counting what completed, with the
//! time each completed operation took (client side, HTTP included).

use crate::push_delivery::Stats;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a measurement counted.
pub struct Outcome {
    /// Completed operations per second of wall time.
    pub rate: f64,
    pub done: u64,
    pub failed: u64,
    /// Why the first failed operation failed (there may be more reasons).
    pub first_error: Option<String>,
    /// Nearest-rank percentiles of the completed operations' durations, in ms.
    pub latency: Option<Stats>,
}

impl Outcome {
    /// `N completed, M failed`, with the first failure's reason when there was one.
    pub fn counts(&self) -> String {
        match &self.first_error {
            Some(why) => format!(
                "{} completed, {} failed; first: {why}",
                self.done, self.failed
            ),
            None => format!("{} completed, {} failed", self.done, self.failed),
        }
    }

    /// `p50 X ms, p99 Y ms` of the completed operations.
    pub fn latencies(&self) -> String {
        match &self.latency {
            Some(s) => format!("p50 {:.1} ms, p99 {:.1} ms", s.p50, s.p99),
            None => "no latency: nothing completed".into(),
        }
    }
}

/// Keeps the count of failures and the first reason.
#[derive(Default)]
pub struct Failures {
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Failures {
    pub fn record(&self, why: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap();
        if first.is_none() {
            *first = Some(why);
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn first(&self) -> Option<String> {
        self.first.lock().unwrap().clone()
    }
}

/// Runs `op` from `concurrency` tasks for `seconds` (task `i` passes `i`). Only operations that
/// end before the time is up count; those still in flight then finish uncounted.
pub async fn run_for<F, Fut>(seconds: u64, concurrency: usize, op: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Failures::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let (op, done, failures, stop) =
                (op.clone(), done.clone(), failures.clone(), stop.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    let result = op(i).await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match result {
                        Ok(()) => {
                            took.push(began.elapsed().as_secs_f64() * 1000.0);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(why) => failures.record(why),
                    }
                }
                took
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let mut took = Vec::new();
    for t in tasks {
        took.extend(t.await.unwrap_or_default());
    }
    let done = done.load(Ordering::Relaxed);
    Outcome {
        rate: done as f64 / elapsed,
        done,
        failed: failures.count(),
        first_error: failures.first(),
        latency: Stats::of(took),
    }
}
