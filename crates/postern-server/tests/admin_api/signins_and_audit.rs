//! The sign-in log and the audit log through the admin API: queries by id, user, application,
//! result, error code and time, paging, one sign-in with its steps, diagnoses, the export; audit
//! queries by target and action with paging, and the sign-in a change was made for.

use crate::common::{Browser, PASSWORD, TestServer, authorize_url, create_admin_token};
use crate::{Api, audit_log, create_user, page_request_id};
use postern_core::admin::Role;
use postern_core::client::ClientKind;
use postern_core::clock::{Clock, iso8601};
use postern_core::oidc::jws::SigningAlg;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use time::Duration;

/// Signs `user` in to `client` with `password` in `browser`; returns the request id of the page it
/// ends on (None when it reached the application) and the sign-in's correlation id.
async fn sign_in_once(
    server: &TestServer,
    browser: &Browser,
    client: &postern_core::client::Client,
    user: &str,
    password: &str,
) -> (Option<String>, String) {
    let (url, ..) = authorize_url(server, client, &[("prompt", "login")]);
    let landing = browser.sign_in(&url, user, password).await;
    let rid = match &landing {
        crate::common::Landing::Page { .. } => Some(page_request_id(&landing)),
        crate::common::Landing::App(_) => None,
    };
    (
        rid,
        crate::common::last_signin(server, user)
            .await
            .correlation_id,
    )
}

/// The correlation ids of a query's items, as a set.
async fn ids(admin: &Api, q: &[(&str, &str)]) -> BTreeSet<String> {
    query(admin, q).await.into_iter().collect()
}

/// The correlation ids of a query's items, in order.
async fn query(admin: &Api, q: &[(&str, &str)]) -> Vec<String> {
    let page = admin.get_query("/admin/v1/signins", q).await.expect(200);
    assert!(page["next_cursor"].is_null(), "one page: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["correlation_id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_log_queries_and_diagnoses() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (secret, _) = create_admin_token(&server, "reader", Role::Reader, None).await;
    let reader = Api::new(&server, Some(&secret));
    let (root, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&root));
    let (app_a, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (app_b, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    create_user(&admin, "sia").await;
    create_user(&admin, "dis").await;
    admin
        .post_empty("/admin/v1/users/dis/disable")
        .await
        .expect(200);

    // Five sign-ins: three now, two an hour later.
    let t0 = server.clock.now();
    let browser = Browser::new(&server);
    let (_, ok_a) = sign_in_once(&server, &browser, &app_a, "sia", PASSWORD).await;
    let (wrong_rid, wrong) =
        sign_in_once(&server, &browser, &app_b, "sia", "not the password").await;
    let (ghost_rid, ghost) =
        sign_in_once(&server, &browser, &app_a, "ghost", "not the password").await;
    server.advance(Duration::hours(1));
    let t1 = server.clock.now();
    let (disabled_rid, disabled) = sign_in_once(&server, &browser, &app_b, "dis", PASSWORD).await;
    let (_, ok_b) = sign_in_once(&server, &browser, &app_b, "sia", PASSWORD).await;
    let (wrong_rid, ghost_rid, disabled_rid) = (
        wrong_rid.unwrap(),
        ghost_rid.unwrap(),
        disabled_rid.unwrap(),
    );
    let all = set(&[&ok_a, &wrong, &ghost, &disabled, &ok_b]);
    assert_eq!(all.len(), 5);

    // By id: a request id or the correlation id finds the one sign-in.
    for id in [&wrong_rid, &wrong] {
        let items = query(&reader, &[("id", id)]).await;
        assert_eq!(items, std::slice::from_ref(&wrong));
    }
    assert!(query(&reader, &[("id", "no-such-id")]).await.is_empty());

    assert_eq!(
        ids(&reader, &[("user", "sia")]).await,
        set(&[&ok_a, &wrong, &ok_b])
    );
    assert_eq!(
        ids(&reader, &[("user", "SIA")]).await,
        set(&[&ok_a, &wrong, &ok_b])
    );
    assert_eq!(
        ids(&reader, &[("user", "ghost")]).await,
        set(&[&ghost]),
        "unknown usernames too"
    );
    assert_eq!(
        ids(&reader, &[("client_id", &app_b.id)]).await,
        set(&[&wrong, &disabled, &ok_b])
    );
    assert_eq!(
        ids(&reader, &[("result", "failure")]).await,
        set(&[&wrong, &ghost, &disabled])
    );
    assert_eq!(
        ids(&reader, &[("result", "success")]).await,
        set(&[&ok_a, &ok_b])
    );
    assert_eq!(
        ids(&reader, &[("error_code", "50126")]).await,
        set(&[&wrong, &ghost])
    );
    assert_eq!(
        ids(&reader, &[("error_code", "50057")]).await,
        set(&[&disabled])
    );
    assert_eq!(
        ids(&reader, &[("user", "sia"), ("result", "failure")]).await,
        set(&[&wrong])
    );
    let middle = iso8601(t1 - Duration::minutes(1));
    assert_eq!(
        ids(&reader, &[("from", &middle)]).await,
        set(&[&disabled, &ok_b])
    );
    assert_eq!(
        ids(&reader, &[("to", &middle)]).await,
        set(&[&ok_a, &wrong, &ghost])
    );
    let before = iso8601(t0 - Duration::minutes(1));
    assert_eq!(
        ids(
            &reader,
            &[("from", &before), ("to", &middle), ("client_id", &app_a.id)]
        )
        .await,
        set(&[&ok_a, &ghost])
    );

    // Paging: newest first, no duplicates or gaps.
    for limit in ["1", "2", "4"] {
        let mut seen: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut pairs = vec![("limit", limit.to_owned())];
            if let Some(c) = &cursor {
                pairs.push(("cursor", c.clone()));
            }
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = reader
                .get_query("/admin/v1/signins", &pairs)
                .await
                .expect(200);
            seen.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let ids: Vec<String> = seen
            .iter()
            .map(|e| e["correlation_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 5, "limit {limit}: {ids:?}");
        assert_eq!(
            ids.iter().cloned().collect::<BTreeSet<_>>(),
            all,
            "limit {limit}"
        );
        let started: Vec<&str> = seen
            .iter()
            .map(|e| e["started"].as_str().unwrap())
            .collect();
        let mut newest_first = started.clone();
        newest_first.sort_by(|a, b| b.cmp(a));
        assert_eq!(started, newest_first, "limit {limit}");
    }
    for bad in [
        ("result", "bogus"),
        ("error_code", "abc"),
        ("error_code", "12345"),
        ("from", "yesterday"),
        ("to", "2026-13-01T00:00:00Z"),
        ("cursor", "not-a-cursor"),
        ("limit", "0"),
        ("limit", "501"),
    ] {
        reader
            .get_query("/admin/v1/signins", &[bad])
            .await
            .error(400, "invalid_request");
    }

    // One sign-in, with its steps, by a request id or the correlation id.
    let one = reader
        .get(&format!("/admin/v1/signins/{wrong_rid}"))
        .await
        .expect(200);
    assert_eq!(one["correlation_id"], wrong.as_str());
    assert_eq!(one["username"], "sia");
    assert_eq!(one["client_id"], app_b.id.as_str());
    assert_eq!(one["result"], "failure");
    assert_eq!(one["error_code"], 50126);
    assert!(
        one["request_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(wrong_rid))
    );
    let steps = one["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["method"] == "password" && s["result"] == "failure"),
        "{one}"
    );
    assert!(
        !one.to_string().contains("not the password"),
        "no password in the log"
    );
    assert_eq!(
        reader
            .get(&format!("/admin/v1/signins/{wrong}"))
            .await
            .expect(200),
        one
    );
    reader
        .get("/admin/v1/signins/no-such-id")
        .await
        .error(404, "not_found");

    // Diagnoses name the cause.
    for (rid, cause) in [
        (&wrong_rid, "wrong_password"),
        (&ghost_rid, "unknown_user"),
        (&disabled_rid, "account_disabled"),
    ] {
        let d = reader
            .get(&format!("/admin/v1/signins/{rid}/diagnosis"))
            .await
            .expect(200);
        assert_eq!(d["cause"]["kind"], cause, "{d}");
        assert!(!d["cause"]["summary"].as_str().unwrap().is_empty());
        assert!(!d["timeline"].as_array().unwrap().is_empty(), "{d}");
    }
    reader
        .get("/admin/v1/signins/no-such-id/diagnosis")
        .await
        .error(404, "not_found");

    // The export: JSON lines with steps, oldest first, since a time.
    let export = reader
        .get_query("/admin/v1/signins/export", &[("since", &before)])
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines
        .iter()
        .map(|e| e["correlation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[0], ok_a.as_str(), "oldest first");
    assert_eq!(ids[4], ok_b.as_str());
    for e in &lines {
        assert!(!e["steps"].as_array().unwrap().is_empty(), "{e}");
    }
    let later = reader
        .get_query(
            "/admin/v1/signins/export",
            &[("since", &middle), ("format", "jsonl")],
        )
        .await;
    assert_eq!(later.text.lines().count(), 2, "{}", later.text);
    for bad in [
        vec![("since", "last week")],
        vec![],
        vec![("since", before.as_str()), ("format", "csv")],
    ] {
        reader
            .get_query("/admin/v1/signins/export", &bad)
            .await
            .error(400, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_queries_and_the_signin_a_change_fixes() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (secret, desk_token) = create_admin_token(&server, "desk-1", Role::Helpdesk, None).await;
    let desk = Api::new(&server, Some(&secret));
    let (root, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&root));
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let user = create_user(&admin, "aud").await;
    let user_id = user["id"].as_str().unwrap();
    create_user(&admin, "bystander").await;

    // A failed sign-in; the helpdesk fixes it, naming one of its request ids.
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let page = browser.sign_in(&url, "aud", "not the password").await;
    let rid = page_request_id(&page);
    let signin = desk
        .get(&format!("/admin/v1/signins/{rid}"))
        .await
        .expect(200);
    let correlation = signin["correlation_id"].as_str().unwrap();
    assert_ne!(rid, correlation);
    let fixed = Api::send(
        desk.request(reqwest::Method::POST, "/admin/v1/users/aud/unlock")
            .header("x-postern-signin", &rid),
    )
    .await;
    let fix_rid = fixed.request_id();
    fixed.expect(200);
    let entry = crate::last_audit(&admin).await;
    assert_eq!(entry["action"], "user.unlock");
    assert_eq!(
        entry["correlation_id"], correlation,
        "recorded by the sign-in's correlation id"
    );
    assert_eq!(entry["actor"], "token 'desk-1'");
    assert_eq!(entry["actor_id"], desk_token.id.as_str());
    assert_eq!(entry["actor_role"], "helpdesk");
    assert_eq!(entry["ip"], "127.0.0.1");
    assert_eq!(entry["request_id"], fix_rid.as_str());
    assert_eq!(entry["target_type"], "user");
    assert_eq!(entry["target_id"], user_id);
    assert_eq!(entry["target_name"], "aud");
    rfc3339(&entry["time"]);
    // A reference that is no sign-in is kept as given; no header, none.
    Api::send(
        desk.request(reqwest::Method::POST, "/admin/v1/users/aud/revoke-sessions")
            .header("x-postern-signin", "ticket-4711"),
    )
    .await
    .expect(200);
    assert_eq!(
        crate::last_audit(&admin).await["correlation_id"],
        "ticket-4711"
    );
    desk.post_empty("/admin/v1/users/aud/unlock")
        .await
        .expect(200);
    assert_eq!(
        crate::last_audit(&admin).await["correlation_id"],
        Value::Null
    );

    // Queries: by target (username or id), by action, combined, paged.
    let actions = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_name = audit_page(&desk, vec![("target", "aud".into())]).await;
    assert_eq!(
        actions(&by_name),
        [
            "user.unlock",
            "user.revoke_sessions",
            "user.unlock",
            "user.create"
        ],
        "newest first"
    );
    assert_eq!(
        audit_page(&desk, vec![("target", user_id.into())]).await,
        by_name
    );
    assert_eq!(
        actions(&audit_page(&desk, vec![("action", "user.unlock".into())]).await).len(),
        2
    );
    assert_eq!(
        actions(
            &audit_page(
                &desk,
                vec![
                    ("action", "user.create".into()),
                    ("target", "bystander".into())
                ]
            )
            .await
        ),
        ["user.create"]
    );
    assert!(
        audit_page(&desk, vec![("action", "user.nothing".into())]).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let future = iso8601(server.clock.now() + Duration::hours(1));
    assert!(
        audit_page(&desk, vec![("from", future.clone())]).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        audit_page(&desk, vec![("to", future), ("target", "aud".into())]).await["items"],
        by_name["items"]
    );

    let everything = audit_log(&admin).await;
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "1".to_owned())];
        if let Some(c) = cursor.take() {
            q.push(("cursor", c));
        }
        let p = audit_page(&desk, q).await;
        assert!(p["items"].as_array().unwrap().len() <= 1);
        paged.extend(p["items"].as_array().unwrap().iter().cloned());
        match p["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, everything, "limit 1, followed to the end");
    for bad in [
        ("cursor", "bad"),
        ("limit", "0"),
        ("limit", "501"),
        ("from", "yesterday"),
        ("to", "2026-02-30T00:00:00Z"),
    ] {
        desk.get_query("/admin/v1/audit", &[bad])
            .await
            .error(400, "invalid_request");
    }
    server.stop().await;
}

/// One page of the audit log.
async fn audit_page(api: &Api, q: Vec<(&str, String)>) -> Value {
    let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    api.get_query("/admin/v1/audit", &q).await.expect(200)
}

fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}
