//! The helpdesk's rescues through the admin API, checked at the sign-in pages: unlock after a real
//! lockout, revoke sessions, require re-registration.

use crate::common::{
    Browser, PASSWORD, TestServer, authorize_url, create_admin_token, hidden, query_param,
    shown_code,
};
use crate::{Api, create_user, last_audit, sso_works};
use postern_core::admin::Role;
use postern_core::client::ClientKind;
use postern_core::clock::Clock;
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;
use serde_json::{Value, json};

async fn admin_of(server: &TestServer) -> Api {
    let (secret, _) = create_admin_token(server, "desk-admin", Role::Admin, None).await;
    Api::new(server, Some(&secret))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_after_a_real_lockout() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    create_user(&admin, "lou").await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let mut page = browser.open(&url).await;
    for i in 0..10 {
        page = browser
            .submit_password(page.body(), "lou", &format!("wrong-{i}"))
            .await;
    }
    assert_eq!(shown_code(page.body()).as_deref(), Some("50053"), "locked");
    let locked = admin.get("/admin/v1/users/lou").await.expect(200);
    let until = time::OffsetDateTime::parse(
        locked["locked_until"]
            .as_str()
            .expect("locked_until while locked"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(until > server.clock.now());
    let still = browser.submit_password(page.body(), "lou", PASSWORD).await;
    assert_eq!(
        shown_code(still.body()).as_deref(),
        Some("50053"),
        "even the right password"
    );

    let unlocked = admin
        .post_empty("/admin/v1/users/lou/unlock")
        .await
        .expect(200);
    assert_eq!(unlocked["locked_until"], Value::Null);
    assert_eq!(
        admin.get("/admin/v1/users/lou").await.expect(200)["locked_until"],
        Value::Null
    );
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.unlock");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("password lock until"),
        "{entry}"
    );
    let landing = browser.submit_password(still.body(), "lou", PASSWORD).await;
    assert!(
        query_param(landing.app_url(), "code").is_some(),
        "signs in at once"
    );

    // Nothing locked: still one entry saying so.
    admin
        .post_empty("/admin/v1/users/lou/unlock")
        .await
        .expect(200);
    let entry = last_audit(&admin).await;
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was locked"),
        "{entry}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_sessions_signs_the_user_out() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    create_user(&admin, "rae").await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    browser.sign_in(&url, "rae", PASSWORD).await.app_url();
    assert!(sso_works(&server, &browser, &client).await);
    let other = Browser::new(&server);
    other
        .sign_in(&authorize_url(&server, &client, &[]).0, "rae", PASSWORD)
        .await
        .app_url();

    let answer = admin
        .post_empty("/admin/v1/users/rae/revoke-sessions")
        .await
        .expect(200);
    assert_eq!(answer["username"], "rae");
    assert_eq!(last_audit(&admin).await["action"], "user.revoke_sessions");
    for b in [&browser, &other] {
        assert!(!sso_works(&server, b, &client).await, "every session ended");
        let (url, ..) = authorize_url(&server, &client, &[]);
        let landing = b.open(&url).await;
        assert!(
            landing.page().0.contains("/signin/"),
            "asked to sign in again"
        );
        let back = b.submit_password(landing.body(), "rae", PASSWORD).await;
        assert!(query_param(back.app_url(), "code").is_some());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_reregister_removes_every_method() {
    let server = TestServer::start_with(crate::common::Backend::Sqlite, |c| {
        c.policy.mfa = MfaPolicy::Required;
    })
    .await;
    let admin = admin_of(&server).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    create_user(&admin, "reg").await;

    // The first sign-in registers an app (the policy forces it).
    let browser = Browser::new(&server);
    let page = browser
        .sign_in(&authorize_url(&server, &client, &[]).0, "reg", PASSWORD)
        .await;
    let body = page.body().to_owned();
    assert!(body.contains("Set up a second sign-in method"), "{body}");
    let app = crate::common::AuthenticatorApp::scan(&crate::common::otpauth_uri(&body));
    let action = server.url(&crate::common::attr(&body, "action").unwrap());
    let code = app.code(&server, time::Duration::ZERO);
    browser
        .submit(
            &action,
            &[
                ("csrf", hidden(&body, "csrf").unwrap().as_str()),
                ("enrollment", hidden(&body, "enrollment").unwrap().as_str()),
                ("name", "Phone"),
                ("code", code.as_str()),
            ],
        )
        .await
        .app_url();
    let methods = admin
        .get("/admin/v1/users/reg/authentication/methods")
        .await
        .expect(200);
    assert_eq!(methods.as_array().unwrap().len(), 1);
    assert!(sso_works(&server, &browser, &client).await);

    let answer = admin
        .post_empty("/admin/v1/users/reg/require-reregister")
        .await
        .expect(200);
    assert_eq!(answer["username"], "reg");
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.require_reregister");
    assert!(
        entry["detail"].as_str().unwrap().contains("totp 'Phone'"),
        "{entry}"
    );
    let methods = admin
        .get("/admin/v1/users/reg/authentication/methods")
        .await
        .expect(200);
    assert_eq!(methods, json!([]), "every method gone");
    assert!(!sso_works(&server, &browser, &client).await, "signed out");
    let next = Browser::new(&server);
    let again = next
        .sign_in(&authorize_url(&server, &client, &[]).0, "reg", PASSWORD)
        .await;
    assert!(
        again.body().contains("Set up a second sign-in method"),
        "{}",
        again.body()
    );
    server.stop().await;
}
