//! The helpdesk's storage on both backends: one temporary access pass per user, spent once even
//! under a race; admin tokens by hash and their revocation; roles; the audit log and the sign-in
//! log queried with filters and keyset paging; account search that treats `%` and `_` literally;
//! and step reasons kept with the steps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{on_both, signin, step, t0, user};
use postern_core::admin::{AdminToken, Role};
use postern_core::audit::AuditEntry;
use postern_core::credential::access_pass::AccessPass;
use postern_core::signin_log::{SignInResult, StepReason};
use postern_proto::ErrorCode;
use postern_store::{AuditQuery, SignInQuery, SignInUpdate, StoreError};
use time::Duration;

fn pass(id: &str, user_id: &str, once: bool) -> AccessPass {
    AccessPass {
        id: id.into(),
        user_id: user_id.into(),
        hash: format!("hash-{id}"),
        created: t0(),
        expires: t0() + Duration::hours(1),
        once,
        used: None,
        uses: 0,
        created_by: "token 'desk'".into(),
    }
}

#[tokio::test]
async fn one_usable_pass_per_user_spent_once() {
    on_both(async |store, _| {
        store.create_user(&user("u1", "ana")).await.unwrap();
        store
            .create_access_pass(&pass("p1", "u1", true), t0())
            .await
            .unwrap();
        let second = store
            .create_access_pass(&pass("p2", "u1", true), t0())
            .await;
        assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
        assert_eq!(
            store.find_access_pass("u1").await.unwrap().unwrap().id,
            "p1"
        );

        // Ten sign-ins race with a one-time pass: one wins.
        let mut tries = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let store = store.clone();
            tries.spawn(async move {
                store
                    .use_access_pass("p1", t0() + Duration::minutes(1))
                    .await
                    .unwrap()
            });
        }
        let won = tries.join_all().await.into_iter().filter(|w| *w).count();
        assert_eq!(won, 1);
        let spent = store.find_access_pass("u1").await.unwrap().unwrap();
        assert_eq!((spent.uses, spent.used.is_some()), (1, true));

        // A spent pass is replaced by a new one; an expired one too.
        store
            .create_access_pass(&pass("p3", "u1", false), t0())
            .await
            .unwrap();
        assert!(store.use_access_pass("p3", t0()).await.unwrap());
        assert!(
            store.use_access_pass("p3", t0()).await.unwrap(),
            "multi-use"
        );
        assert!(
            !store
                .use_access_pass("p3", t0() + Duration::hours(1))
                .await
                .unwrap(),
            "expired"
        );
        store
            .create_access_pass(&pass("p4", "u1", true), t0() + Duration::hours(2))
            .await
            .unwrap();
        let deleted = store.delete_access_pass("u1").await.unwrap().unwrap();
        assert_eq!(deleted.id, "p4");
        assert!(store.find_access_pass("u1").await.unwrap().is_none());
        assert!(store.delete_access_pass("u1").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn admin_tokens_roles_and_user_search() {
    on_both(async |store, _| {
        let token = AdminToken {
            id: "t1".into(),
            name: "desk".into(),
            role: Role::Helpdesk,
            created: t0(),
            expires: Some(t0() + Duration::days(30)),
            revoked: None,
            last_used: None,
            created_by: "local operator 'root'".into(),
        };
        store.create_admin_token(&token, "h1").await.unwrap();
        assert_eq!(
            store.find_admin_token_by_hash("h1").await.unwrap(),
            Some(token.clone())
        );
        assert!(
            store
                .find_admin_token_by_hash("h2")
                .await
                .unwrap()
                .is_none()
        );
        store.touch_admin_token("t1", t0()).await.unwrap();
        assert!(store.revoke_admin_token("t1", t0()).await.unwrap());
        assert!(!store.revoke_admin_token("t1", t0()).await.unwrap(), "once");
        let revoked = store.find_admin_token("t1").await.unwrap().unwrap();
        assert!(!revoked.is_active(t0()));
        assert_eq!(revoked.last_used, Some(t0()));

        for (id, name) in [("u1", "ana"), ("u2", "an_a"), ("u3", "ben"), ("u4", "bea%")] {
            store.create_user(&user(id, name)).await.unwrap();
        }
        store
            .set_user_role("u1", Some(Role::Admin), t0())
            .await
            .unwrap();
        store
            .set_user_role("u1", Some(Role::Reader), t0())
            .await
            .unwrap();
        assert_eq!(
            store.find_user_role("u1").await.unwrap(),
            Some(Role::Reader)
        );
        store.set_user_role("u1", None, t0()).await.unwrap();
        assert_eq!(store.find_user_role("u1").await.unwrap(), None);

        let names = |users: Vec<postern_core::user::User>| {
            users.into_iter().map(|u| u.username).collect::<Vec<_>>()
        };
        assert_eq!(
            names(store.search_users(Some("_"), None, 10).await.unwrap()),
            ["an_a"]
        );
        assert_eq!(
            names(store.search_users(Some("%"), None, 10).await.unwrap()),
            ["bea%"]
        );
        assert_eq!(
            names(store.search_users(Some("AN"), None, 10).await.unwrap()),
            ["an_a", "ana"]
        );
        assert_eq!(
            names(store.search_users(None, Some("an_a"), 2).await.unwrap()),
            ["ana", "bea%"]
        );
    })
    .await;
}

fn audit(id: &str, at: i64, target: &str, action: &str) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        time: t0() + Duration::seconds(at),
        actor: "token 'desk'".into(),
        actor_id: "t1".into(),
        actor_role: Some(Role::Helpdesk),
        action: action.into(),
        target_type: "user".into(),
        target_id: target.into(),
        target_name: target.into(),
        ip: Some("10.0.0.9".into()),
        request_id: Some("r".into()),
        correlation_id: None,
        detail: "words".into(),
    }
}

#[tokio::test]
async fn audit_and_signin_queries_page_without_gaps() {
    on_both(async |store, _| {
        // Same-millisecond entries page by id.
        for i in 0..7 {
            let target = if i % 2 == 0 { "u1" } else { "u2" };
            store
                .append_audit(&audit(&format!("a{i}"), i / 2, target, "user.unlock"))
                .await
                .unwrap();
        }
        let mut seen = vec![];
        let mut before = None;
        loop {
            let q = AuditQuery {
                before: before.clone(),
                limit: 3,
                ..AuditQuery::default()
            };
            let page = store.query_audit(&q).await.unwrap();
            let Some(last) = page.last() else { break };
            before = Some((last.time, last.id.clone()));
            seen.extend(page.into_iter().map(|e| e.id));
        }
        assert_eq!(seen, ["a6", "a5", "a4", "a3", "a2", "a1", "a0"]);
        let q = AuditQuery {
            target_id: Some("u2".into()),
            limit: 10,
            ..AuditQuery::default()
        };
        assert_eq!(store.query_audit(&q).await.unwrap().len(), 3);
        assert_eq!(
            store
                .purge_audit_before(t0() + Duration::seconds(2))
                .await
                .unwrap(),
            4
        );

        for i in 0..5 {
            let mut e = signin(&format!("c{i}"), t0() + Duration::seconds(i));
            e.user_id = Some(if i < 3 { "u1" } else { "u2" }.into());
            e.steps = vec![{
                let mut s = step(i, &format!("r{i}"), "wrong password");
                s.reason = Some(StepReason::WrongPassword);
                s
            }];
            store.create_signin(&e).await.unwrap();
        }
        let failed = SignInUpdate {
            updated: t0(),
            user_id: None,
            username: None,
            result: SignInResult::Failure,
            error_code: Some(ErrorCode::InvalidCredentials),
            failure_reason: Some("wrong password".into()),
        };
        store.update_signin("c1", &failed).await.unwrap();
        let q = |f: SignInQuery| async move {
            store
                .query_signins(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.correlation_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            q(SignInQuery {
                limit: 10,
                ..Default::default()
            })
            .await,
            ["c4", "c3", "c2", "c1", "c0"]
        );
        assert_eq!(
            q(SignInQuery {
                user_id: Some("u1".into()),
                limit: 2,
                ..Default::default()
            })
            .await,
            ["c2", "c1"]
        );
        assert_eq!(
            q(SignInQuery {
                error_code: Some(ErrorCode::InvalidCredentials),
                limit: 10,
                ..Default::default()
            })
            .await,
            ["c1"]
        );
        assert_eq!(
            q(SignInQuery {
                from: Some(t0() + Duration::seconds(1)),
                to: Some(t0() + Duration::seconds(3)),
                limit: 10,
                ..Default::default()
            })
            .await,
            ["c2", "c1"]
        );
        assert_eq!(
            q(SignInQuery {
                before: Some((t0() + Duration::seconds(2), "c2".into())),
                limit: 10,
                ..Default::default()
            })
            .await,
            ["c1", "c0"]
        );
        // Shown request ids are linked at most 100 per sign-in, and only to a sign-in that exists.
        for i in 0..120 {
            store
                .link_shown_request("c4", &format!("shown-{i}"))
                .await
                .unwrap();
        }
        store.link_shown_request("no-such", "orphan").await.unwrap();
        assert!(store.find_signin("orphan").await.unwrap().is_none());
        assert_eq!(
            store
                .find_signin("c4")
                .await
                .unwrap()
                .unwrap()
                .request_ids
                .len(),
            100
        );
        assert!(store.find_signin("shown-50").await.unwrap().is_some());
        // The export pages oldest first.
        let first = store.export_signins(t0(), None, 2).await.unwrap();
        let ids: Vec<&str> = first.iter().map(|e| e.correlation_id.as_str()).collect();
        assert_eq!(ids, ["c0", "c1"]);
        assert_eq!(first[1].steps.len(), 1, "whole entries");
        let after = Some((first[1].started, first[1].correlation_id.clone()));
        let rest = store.export_signins(t0(), after, 10).await.unwrap();
        let ids: Vec<&str> = rest.iter().map(|e| e.correlation_id.as_str()).collect();
        assert_eq!(ids, ["c2", "c3", "c4"]);
        let found = store.find_signin("r3").await.unwrap().unwrap();
        assert_eq!(found.steps[0].reason, Some(StepReason::WrongPassword));
    })
    .await;
}
