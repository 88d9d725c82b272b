//! The sign-in log on both backends: lookups by either id, step order, concurrent appends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use postern_core::signin_log::SignInResult;
use postern_proto::ErrorCode;
use postern_store::{SignInUpdate, StoreError};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_log_finds_by_either_id_with_ordered_steps() {
    on_both(async |store, _| {
        let mut first = signin("corr-a", t0());
        first.request_ids = vec!["req-1".into()];
        first.steps = vec![step(0, "req-1", "authorize: client Learning Hub")];
        store.create_signin(&first).await.unwrap();
        assert!(matches!(
            store.create_signin(&first).await,
            Err(StoreError::Conflict(_))
        ));
        store
            .create_signin(&signin("corr-b", t0() + Duration::minutes(5)))
            .await
            .unwrap();
        store
            .create_signin(&signin("corr-c", t0() + Duration::minutes(1)))
            .await
            .unwrap();

        store
            .append_signin_step(
                "corr-a",
                &step(5, "req-2", "wrong password; 9 attempts left"),
            )
            .await
            .unwrap();
        store.add_signin_request("corr-a", "req-2").await.unwrap();
        store
            .append_signin_step("corr-a", &step(9, "req-3", "password correct"))
            .await
            .unwrap();
        store.add_signin_request("corr-a", "req-1").await.unwrap();
        store
            .update_signin(
                "corr-a",
                &SignInUpdate {
                    updated: t0() + Duration::seconds(9),
                    user_id: Some("u1".into()),
                    username: None,
                    result: SignInResult::Failure,
                    error_code: Some(ErrorCode::InvalidCredentials),
                    failure_reason: Some("the push timed out".into()),
                },
            )
            .await
            .unwrap();

        let by_correlation = store.find_signin("corr-a").await.unwrap().unwrap();
        assert_eq!(by_correlation.request_ids, ["req-1", "req-2", "req-3"]);
        let details: Vec<_> = by_correlation
            .steps
            .iter()
            .map(|s| s.detail.as_str())
            .collect();
        assert_eq!(
            details,
            [
                "authorize: client Learning Hub",
                "wrong password; 9 attempts left",
                "password correct"
            ]
        );
        assert_eq!(
            by_correlation.steps[1],
            step(5, "req-2", "wrong password; 9 attempts left")
        );
        assert_eq!(by_correlation.user_id.as_deref(), Some("u1"));
        assert_eq!(
            by_correlation.username.as_deref(),
            Some("student"),
            "None keeps the username"
        );
        assert_eq!(by_correlation.result, SignInResult::Failure);
        assert_eq!(
            by_correlation.error_code,
            Some(ErrorCode::InvalidCredentials)
        );
        assert_eq!(by_correlation.updated, t0() + Duration::seconds(9));
        assert_eq!(by_correlation.started, t0());

        assert_eq!(
            store.find_signin("req-3").await.unwrap(),
            Some(by_correlation.clone())
        );
        assert_eq!(
            store.find_signin("req-1").await.unwrap(),
            Some(by_correlation.clone())
        );
        assert_eq!(store.find_signin("nothing").await.unwrap(), None);

        let listed = store.list_signins(10).await.unwrap();
        let ids: Vec<_> = listed.iter().map(|e| e.correlation_id.as_str()).collect();
        assert_eq!(ids, ["corr-b", "corr-c", "corr-a"], "newest first");
        assert_eq!(listed[2], by_correlation, "steps and request ids filled");
        assert_eq!(store.list_signins(2).await.unwrap().len(), 2);
        assert!(store.list_signins(0).await.unwrap().is_empty());

        // Concurrent appends (as from two nodes, thirty wrong guesses at once) all land, with
        // distinct numbers, and none fails for want of a step number.
        let mut appends = tokio::task::JoinSet::new();
        for n in 0..40 {
            let store = store.clone();
            appends.spawn(async move {
                let s = step(n, &format!("par-{n}"), &format!("parallel {n}"));
                store.append_signin_step("corr-b", &s).await
            });
        }
        while let Some(done) = appends.join_next().await {
            done.unwrap().unwrap();
        }
        let b = store.find_signin("corr-b").await.unwrap().unwrap();
        assert_eq!(b.steps.len(), 40);
        assert_eq!(b.request_ids.len(), 40);
    })
    .await;
}
