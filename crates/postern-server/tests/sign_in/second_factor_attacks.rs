//! Attacks on the second factor found in review, each a regression test on both databases: an
//! enrollment posted twice, the same guess spread over two apps, a password-only session from
//! before the user registered a factor, a registration page parked by someone with only the
//! password, codes minted from a finished sign-in, a planted remember-device cookie, and recovery
//! codes regenerated in parallel.

use crate::common::*;
use postern_core::client::ClientKind;
use postern_core::credential::method::{Method, MethodKind};
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;
use std::sync::Arc;
use time::Duration;

async fn methods_of(server: &TestServer, name: &str) -> Vec<Method> {
    let user = server
        .store()
        .find_user_by_username(name)
        .await
        .unwrap()
        .unwrap();
    server.store().list_methods(&user.id).await.unwrap()
}

/// Posts a second-factor form for a chosen method id.
async fn post_code_for(
    browser: &Browser,
    server: &TestServer,
    body: &str,
    method: &str,
    code: &str,
) -> Landing {
    let form = [
        ("csrf", hidden(body, "csrf").unwrap()),
        ("method", method.to_owned()),
        ("code", code.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser
        .submit(&server.url(&attr(body, "action").unwrap()), &form)
        .await
}

/// Posts an enrollment form (registration page or Security info) with `code`.
async fn post_enrollment(
    browser: &Browser,
    server: &TestServer,
    body: &str,
    code: &str,
) -> Landing {
    let form = [
        ("csrf", hidden(body, "csrf").unwrap()),
        ("enrollment", hidden(body, "enrollment").unwrap()),
        ("name", "Phone".to_owned()),
        ("code", code.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser
        .submit(&server.url(&attr(body, "action").unwrap()), &form)
        .await
}

async fn an_enrollment_posted_twice_adds_one_app(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("ann").await;
    let browser = Browser::new(&server);
    browser
        .sign_in(&server.url("/account/signin"), "ann", PASSWORD)
        .await;
    let page = browser.open(&server.url("/account/security/totp")).await;
    let body = page.body().to_owned();
    let code = AuthenticatorApp::scan(&otpauth_uri(&body)).code(&server, Duration::ZERO);
    for _ in 0..2 {
        let landing = post_enrollment(&browser, &server, &body, &code).await;
        assert!(landing.body().contains("Authenticator app added"));
    }
    assert_eq!(
        methods_of(&server, "ann").await.len(),
        1,
        "one seed, one method"
    );
    server.stop().await;
}

async fn the_same_guess_on_two_apps_counts_twice(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("bea").await;
    let setup = Browser::new(&server);
    setup
        .sign_in(&server.url("/account/signin"), "bea", PASSWORD)
        .await;
    let app = setup.add_authenticator(&server).await;
    setup.add_authenticator(&server).await;
    server.advance(STEP);
    let ids: Vec<String> = methods_of(&server, "bea")
        .await
        .into_iter()
        .map(|m| m.id)
        .collect();
    let browser = Browser::new(&server);
    // Every guess below must fall in one time step: "the same guess" is the same in a step.
    server.start_of_step();
    let (mut body, _) = prompt_for(&server, &browser, &client, "bea", &[]).await;
    let right: u32 = app.code(&server, Duration::ZERO).parse().unwrap();
    let guess = format!("{:06}", (right + 7919) % 1_000_000);
    let mut shown = vec![];
    for _ in 0..3 {
        for id in &ids {
            body = post_code_for(&browser, &server, &body, id, &guess)
                .await
                .body()
                .to_owned();
            shown.push(shown_code(&body).unwrap());
        }
    }
    // The same guess again at the same app is not counted again; at another app it is.
    assert_eq!(shown.last().map(String::as_str), Some("990006"));
    let other = format!("{:06}", (right + 2 * 7919) % 1_000_000);
    let mut last = String::new();
    for id in &ids {
        body = post_code_for(&browser, &server, &body, id, &other)
            .await
            .body()
            .to_owned();
        last = shown_code(&body).unwrap();
    }
    let third = format!("{:06}", (right + 3 * 7919) % 1_000_000);
    body = post_code_for(&browser, &server, &body, &ids[0], &third)
        .await
        .body()
        .to_owned();
    assert_eq!(last, "990006");
    assert_eq!(
        shown_code(&body).as_deref(),
        Some("990008"),
        "5 distinct checks lock the step"
    );
    server.stop().await;
}

async fn a_password_only_session_loses_its_power_once_a_factor_exists(backend: Backend) {
    let server = TestServer::start(backend).await; // when_registered
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("cat").await;
    let attacker = Browser::new(&server);
    attacker
        .sign_in(&server.url("/account/signin"), "cat", PASSWORD)
        .await;
    server.advance(Duration::seconds(10));
    let victim = Browser::new(&server);
    victim
        .sign_in(&server.url("/account/signin"), "cat", PASSWORD)
        .await;
    victim.add_authenticator(&server).await;
    server.advance(STEP);

    // The old session no longer signs in to applications by itself...
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let landing = attacker.open(&url).await;
    assert!(
        landing.body().contains("Password"),
        "a new sign-in is asked for"
    );
    // ...nor changes methods.
    let page = attacker.open(&server.url("/account/security/totp")).await;
    assert!(page.body().contains("Sign in again to make changes"));
    let page = attacker.open(&server.url("/account/security")).await;
    let csrf = hidden(page.body(), "csrf").unwrap();
    let refused = attacker
        .submit(
            &server.url("/account/security/recovery-codes"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(refused.body().contains("Sign in again to make changes"));
    assert_eq!(methods_of(&server, "cat").await.len(), 1);

    server.stop().await;
}

async fn a_parked_registration_page_cannot_add_a_second_app(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.policy.mfa = MfaPolicy::Required).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("dan").await;
    let attacker = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let parked = attacker
        .sign_in(&url, "dan", PASSWORD)
        .await
        .body()
        .to_owned();
    assert!(parked.contains("Set up a second sign-in method"));

    let victim = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let page = victim
        .sign_in(&url, "dan", PASSWORD)
        .await
        .body()
        .to_owned();
    let code = AuthenticatorApp::scan(&otpauth_uri(&page)).code(&server, Duration::ZERO);
    post_enrollment(&victim, &server, &page, &code)
        .await
        .app_url();

    server.advance(Duration::minutes(5));
    let mine = AuthenticatorApp::scan(&otpauth_uri(&parked)).code(&server, Duration::ZERO);
    let landing = post_enrollment(&attacker, &server, &parked, &mine).await;
    assert!(
        landing.body().contains("Enter code"),
        "the flow now asks for the user's factor"
    );
    assert_eq!(methods_of(&server, "dan").await.len(), 1);
    server.stop().await;
}

async fn a_finished_sign_in_issues_one_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "eli").await;
    let browser = Browser::new(&server);
    let (body, _) = prompt_for(&server, &browser, &client, "eli", &[]).await;
    let flow = attr(&body, "action").unwrap();
    browser
        .submit_code(&body, &app.code(&server, Duration::ZERO), false)
        .await
        .app_url();
    let again = browser.open(&server.url(&format!("{flow}/continue"))).await;
    assert!(
        again.body().contains("no longer valid"),
        "not a recovery-code sign-in"
    );

    // After a recovery code: one continuation, not two.
    let codes = browser.create_recovery_codes(&server).await;
    let other = Browser::new(&server);
    let (body, _) = prompt_for(&server, &other, &client, "eli", &[]).await;
    let flow = attr(&body, "action").unwrap();
    let rc = methods_of(&server, "eli")
        .await
        .into_iter()
        .find(|m| m.kind() == MethodKind::RecoveryCodes)
        .unwrap();
    let landing = post_code_for(&other, &server, &body, &rc.id, &codes[0]).await;
    assert!(landing.page().0.contains("/account/security"));
    other
        .open(&server.url(&format!("{flow}/continue")))
        .await
        .app_url();
    let twice = other.open(&server.url(&format!("{flow}/continue"))).await;
    assert!(twice.body().contains("no longer valid"));
    server.stop().await;
}

async fn a_planted_device_cookie_is_never_remembered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "fin").await;
    let known = "attacker-knows-this-token-0123456789";
    let with_cookie = |server: &TestServer| {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let url: url::Url = server.issuer().parse().unwrap();
        jar.add_cookie_str(&format!("postern_device={known}; Path=/"), &url);
        let mut b = Browser::new(server);
        b.http = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        b
    };
    let victim = with_cookie(&server);
    let (body, _) = prompt_for(&server, &victim, &client, "fin", &[]).await;
    victim
        .submit_code(&body, &app.code(&server, Duration::ZERO), true)
        .await
        .app_url();
    let attacker = with_cookie(&server);
    prompt_for(&server, &attacker, &client, "fin", &[]).await;
    server.stop().await;
}

async fn recovery_codes_made_at_once_leave_one_set(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("gil").await;
    let b = Browser::new(&server);
    b.sign_in(&server.url("/account/signin"), "gil", PASSWORD)
        .await;
    b.add_authenticator(&server).await;
    let page = b.open(&server.url("/account/security")).await;
    let csrf = hidden(page.body(), "csrf").unwrap();
    for _round in 0..3 {
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (b, csrf) = (b.clone(), csrf.clone());
                let url = server.url("/account/security/recovery-codes");
                tokio::spawn(
                    async move { b.submit(&url, &[("csrf", &csrf)]).await.body().to_owned() },
                )
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let sets = methods_of(&server, "gil")
            .await
            .iter()
            .filter(|m| m.kind() == MethodKind::RecoveryCodes)
            .count();
        assert_eq!(sets, 1);
    }
    server.stop().await;
}

crate::on_both_backends!(
    an_enrollment_posted_twice_adds_one_app,
    the_same_guess_on_two_apps_counts_twice,
    a_password_only_session_loses_its_power_once_a_factor_exists,
    a_parked_registration_page_cannot_add_a_second_app,
    a_finished_sign_in_issues_one_code,
    a_planted_device_cookie_is_never_remembered,
    recovery_codes_made_at_once_leave_one_set,
);
