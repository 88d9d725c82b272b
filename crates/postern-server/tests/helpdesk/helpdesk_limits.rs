//! A helpdesk gets people back in, but cannot take over an administrator: no temporary access
//! pass, no method removal and no re-registration for an account holding the admin or helpdesk
//! role (else the helpdesk could sign in as that admin and act with its role). An admin can.

use crate::common::*;
use postern_core::admin::Role;
use postern_core::clock::Clock;
use serde_json::{Value, json};

async fn call(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helpdesk_cannot_take_over_an_administrator() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (admin, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let (desk, _) = create_admin_token(&server, "desk", Role::Helpdesk, None).await;
    user_with_app(&server, "boss").await;
    user_with_app(&server, "pupil").await;
    let boss = server
        .store()
        .find_user_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let now = server.clock.now();
    server
        .store()
        .set_user_role(&boss.id, Some(Role::Admin), now)
        .await
        .unwrap();
    let audit_len = async || {
        let (_, page) = call(
            &server,
            &admin,
            reqwest::Method::GET,
            "/admin/v1/audit?limit=500",
            None,
        )
        .await;
        page["items"].as_array().unwrap().len()
    };
    let before = audit_len().await;
    let tap = "/authentication/temporary-access-pass";
    for (method, rest, body) in [
        (reqwest::Method::POST, tap, Some(json!({ "once": true }))),
        (reqwest::Method::POST, "/require-reregister", None),
    ] {
        let (status, body) = call(
            &server,
            &desk,
            method.clone(),
            &format!("/admin/v1/users/boss{rest}"),
            body.clone(),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("holds the admin role"),
            "{body}"
        );
    }
    let (_, methods) = call(
        &server,
        &desk,
        reqwest::Method::GET,
        "/admin/v1/users/boss/authentication/methods",
        None,
    )
    .await;
    let id = methods[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &server,
        &desk,
        reqwest::Method::DELETE,
        &format!("/admin/v1/users/boss/authentication/methods/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(audit_len().await, before, "nothing changed");
    assert_eq!(
        server.store().list_methods(&boss.id).await.unwrap().len(),
        1
    );

    // The same helpdesk helps a pupil; an admin helps the admin.
    let (status, _) = call(
        &server,
        &desk,
        reqwest::Method::POST,
        &format!("/admin/v1/users/pupil{tap}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &server,
        &admin,
        reqwest::Method::POST,
        &format!("/admin/v1/users/boss{tap}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(audit_len().await, before + 2);
    server.stop().await;
}

/// A pass's whole life is in the audit log: issued, expired (written by Postern itself once,
/// whichever node sees it first), and deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_expiry_is_audited_once() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (desk, _) = create_admin_token(&server, "desk", Role::Helpdesk, None).await;
    server.create_user("pat").await;
    let tap = "/admin/v1/users/pat/authentication/temporary-access-pass";
    let (status, _) = call(
        &server,
        &desk,
        reqwest::Method::POST,
        tap,
        Some(json!({ "lifetime_minutes": 10 })),
    )
    .await;
    assert_eq!(status, 201);
    let state = &server.server.state;
    assert_eq!(
        postern_server::admin::methods::log_expired_passes(state)
            .await
            .unwrap(),
        0
    );
    server.advance(time::Duration::minutes(11));
    assert_eq!(
        postern_server::admin::methods::log_expired_passes(state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        postern_server::admin::methods::log_expired_passes(state)
            .await
            .unwrap(),
        0,
        "once"
    );
    let (status, _) = call(&server, &desk, reqwest::Method::DELETE, tap, None).await;
    assert_eq!(status, 204);
    let (_, page) = call(
        &server,
        &desk,
        reqwest::Method::GET,
        "/admin/v1/audit?target=pat",
        None,
    )
    .await;
    let entries: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("access_pass.delete".to_owned(), "token 'desk'".to_owned()),
            ("access_pass.expire".to_owned(), "Postern".to_owned()),
            ("access_pass.create".to_owned(), "token 'desk'".to_owned()),
        ]
    );
    assert!(page["items"][1]["actor_role"].is_null());
    server.stop().await;
}

/// What a helpdesk issued to a plain user does not carry over when the user is given a role: the
/// grant ends their sessions and deletes their pass. Nor can a helpdesk unlock, sign out, change
/// the default of, or delete the pass of an account holding a role. Clean-ups delete the pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_is_not_inherited_from_what_a_helpdesk_issued() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (admin, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let (desk, _) = create_admin_token(&server, "desk", Role::Helpdesk, None).await;
    let app = user_with_app(&server, "bob").await;
    let tap = "/admin/v1/users/bob/authentication/temporary-access-pass";
    let (status, _) = call(
        &server,
        &desk,
        reqwest::Method::POST,
        tap,
        Some(json!({ "lifetime_minutes": 600 })),
    )
    .await;
    assert_eq!(status, 201);
    let browser = Browser::new(&server);
    browser
        .sign_in(&server.url("/account/signin"), "bob", PASSWORD)
        .await;
    assert!(
        browser
            .open(&server.url("/account/security"))
            .await
            .body()
            .contains("Security info")
    );

    let (status, granted) = call(
        &server,
        &admin,
        reqwest::Method::PUT,
        "/admin/v1/users/bob/role",
        Some(json!({ "role": "admin" })),
    )
    .await;
    assert_eq!(status, 200, "{granted}");
    let (_, methods) = call(
        &server,
        &admin,
        reqwest::Method::GET,
        "/admin/v1/users/bob/authentication/methods",
        None,
    )
    .await;
    assert!(
        !methods.to_string().contains("temporary_access_pass"),
        "{methods}"
    );
    let after = browser.open(&server.url("/account/security")).await;
    assert!(
        after.page().0.contains("/signin/"),
        "signed out by the grant"
    );

    let bob = server
        .store()
        .find_user_by_username("bob")
        .await
        .unwrap()
        .unwrap();
    let method = server.store().list_methods(&bob.id).await.unwrap()[0]
        .id
        .clone();
    for (method_, path, body) in [
        (
            reqwest::Method::POST,
            "/admin/v1/users/bob/unlock".to_owned(),
            None,
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/users/bob/revoke-sessions".to_owned(),
            None,
        ),
        (
            reqwest::Method::PUT,
            "/admin/v1/users/bob/authentication/default-method".to_owned(),
            Some(json!({ "method_id": method })),
        ),
        (reqwest::Method::DELETE, tap.to_owned(), None),
    ] {
        let (status, body) = call(&server, &desk, method_, &path, body).await;
        assert_eq!(status, 403, "{path}: {body}");
    }

    // Re-registration and a password reset delete a pass too.
    server.create_user("cy").await;
    for (path, body) in [
        ("/admin/v1/users/cy/require-reregister", None),
        (
            "/admin/v1/users/cy/password",
            Some(json!({ "password": "a brand new password" })),
        ),
    ] {
        let tap = "/admin/v1/users/cy/authentication/temporary-access-pass";
        let (status, _) = call(&server, &admin, reqwest::Method::POST, tap, Some(json!({}))).await;
        assert_eq!(status, 201);
        let method_ = if body.is_some() {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let (status, _) = call(&server, &admin, method_, path, body).await;
        assert_eq!(status, 200, "{path}");
        let (_, methods) = call(
            &server,
            &admin,
            reqwest::Method::GET,
            "/admin/v1/users/cy/authentication/methods",
            None,
        )
        .await;
        assert!(
            !methods.to_string().contains("temporary_access_pass"),
            "{path}: {methods}"
        );
    }
    let _ = app;
    server.stop().await;
}
