//! The helpdesk's diagnosis over the admin API, for every cause the issue lists, each produced by
//! a real sign-in through the pages, the device API and the admin API: wrong or unknown password,
//! locked and disabled accounts, push not delivered / not answered / denied / reported / wrong
//! number, a reused code, a clock beyond the window, too many wrong codes, no method registered,
//! an expired or used temporary access pass, and a misconfigured application. The id pasted is
//! the request id from the user's error page (or the correlation id); the cause is asserted in
//! the words a helpdesk reads, with the one-click fixes.

use crate::common::*;
use postern_core::admin::Role;
use postern_core::client::{Client, ClientKind};
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;
use serde_json::{Value, json};
use time::Duration;

/// The diagnosis of the sign-in `id` (a request or correlation id), read with a reader's token.
async fn diagnose(server: &TestServer, token: &str, id: &str) -> Value {
    let res = reqwest::Client::new()
        .get(server.url(&format!("/admin/v1/signins/{id}/diagnosis")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "diagnosis of {id}");
    res.json().await.unwrap()
}

fn request_id(landing: &Landing) -> String {
    match landing {
        Landing::Page { request_id, .. } => request_id.clone(),
        other => panic!("expected a page, got {other:?}"),
    }
}

fn actions(d: &Value) -> Vec<String> {
    d["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["action"].as_str().map(str::to_owned))
        .collect()
}

fn assert_cause(d: &Value, kind: &str, words: &str) {
    assert_eq!(d["cause"]["kind"], kind, "{d:#}");
    let summary = d["cause"]["summary"].as_str().unwrap();
    assert!(summary.contains(words), "'{words}' not in: {summary}");
}

async fn setup(
    tweak: impl FnOnce(&mut postern_server::config::Config),
) -> (TestServer, Client, String) {
    let server = TestServer::start_with(Backend::Sqlite, tweak).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (reader, _) = create_admin_token(&server, "desk", Role::Reader, None).await;
    (server, client, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_locks_and_disabled_accounts() {
    let (server, client, reader) = setup(|c| c.lockout.threshold = 3).await;
    server.create_user("ann").await;
    let url = authorize_url(&server, &client, &[]).0;

    let wrong = Browser::new(&server)
        .sign_in(&url, "ann", "not her password")
        .await;
    let d = diagnose(&server, &reader, &request_id(&wrong)).await;
    assert_cause(&d, "wrong_password", "Wrong password for 'ann'");
    assert_eq!(d["error_code"], 50126);
    assert_eq!(d["username"], "ann");
    assert!(d["timeline"][0]["detail"].is_string());
    // The correlation id finds the same sign-in.
    let by_correlation = diagnose(&server, &reader, d["correlation_id"].as_str().unwrap()).await;
    assert_eq!(by_correlation["cause"], d["cause"]);

    let unknown = Browser::new(&server)
        .sign_in(&url, "nobody", "whatever it is")
        .await;
    let d = diagnose(&server, &reader, &request_id(&unknown)).await;
    assert_cause(&d, "unknown_user", "There is no account named 'nobody'");
    assert!(d["methods"].as_array().unwrap().is_empty());

    let browser = Browser::new(&server);
    let mut last = browser.sign_in(&url, "ann", "guess one!").await;
    for guess in ["guess two!", "guess three!"] {
        last = browser.submit_password(last.body(), "ann", guess).await;
    }
    let locked = Browser::new(&server).sign_in(&url, "ann", PASSWORD).await;
    let d = diagnose(&server, &reader, &request_id(&locked)).await;
    assert_cause(&d, "account_locked", "locked until");
    assert_eq!(actions(&d), ["unlock"]);

    let bo = server.create_user("bo").await;
    server
        .store()
        .set_user_disabled(&bo.id, true)
        .await
        .unwrap();
    let disabled = Browser::new(&server).sign_in(&url, "bo", PASSWORD).await;
    let d = diagnose(&server, &reader, &request_id(&disabled)).await;
    assert_cause(&d, "account_disabled", "The account is disabled");
    assert_eq!(actions(&d), ["enable"]);
    server.stop().await;
}

/// A user with a Postern Authenticator ("Pixel 7").
async fn device_user(server: &TestServer, name: &str) -> TestDevice {
    server.create_user(name).await;
    let setup = Browser::new(server);
    setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let (device, _) = setup.add_push_device(server, "Pixel 7").await;
    server.advance(STEP);
    device
}

/// Signs in up to the push waiting page; returns the browser and the page.
async fn start_push(server: &TestServer, client: &Client, name: &str) -> (Browser, String) {
    let browser = Browser::new(server);
    let url = authorize_url(server, client, &[]).0;
    let body = browser
        .sign_in(&url, name, PASSWORD)
        .await
        .body()
        .to_owned();
    assert!(body.contains("Approve sign-in request"), "{body}");
    (browser, body)
}

/// Opens the waiting page again, where a failed push shows 500121; returns its request id.
async fn check_again(server: &TestServer, browser: &Browser, body: &str) -> String {
    let link = links(body)
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    let landing = browser.open(&server.url(&link)).await;
    assert_eq!(
        shown_code(landing.body()).as_deref(),
        Some("500121"),
        "{}",
        landing.body()
    );
    request_id(&landing)
}

async fn pending_id(server: &TestServer, device: &TestDevice) -> String {
    device.pending(server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_failures_are_told_apart() {
    let (server, client, reader) = setup(|_| {}).await;

    // Not delivered: the phone has not connected for three days.
    device_user(&server, "cy").await;
    server.advance(Duration::days(3));
    let (browser, body) = start_push(&server, &client, "cy").await;
    server.advance(Duration::seconds(61));
    let rid = check_again(&server, &browser, &body).await;
    let d = diagnose(&server, &reader, &rid).await;
    assert_cause(
        &d,
        "push_not_delivered",
        "not delivered: 'Pixel 7' has not connected since",
    );
    assert_cause(
        &d,
        "push_not_delivered",
        "(3 days before); nothing was answered; it timed out after 60 s",
    );
    assert_eq!(actions(&d), ["create_access_pass", "require_reregister"]);
    let warnings = d["warnings"].to_string();
    assert!(warnings.contains("only one way in"), "{warnings}");
    assert!(
        warnings.contains("'Pixel 7' has not connected for 3 days"),
        "{warnings}"
    );
    assert_eq!(d["push_requests"][0]["devices"][0]["received"], Value::Null);
    let kinds: Vec<&str> = d["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    let mut kinds = kinds;
    kinds.sort();
    assert_eq!(kinds, ["push", "totp"], "the device and its offline codes");
    // The page viewed again shows a new request id, which finds the same sign-in.
    let rid_again = check_again(&server, &browser, &body).await;
    assert_ne!(rid_again, rid);
    let again = diagnose(&server, &reader, &rid_again).await;
    assert_eq!(again["correlation_id"], d["correlation_id"]);

    // Not answered: the app fetched it, nobody approved.
    let device = device_user(&server, "di").await;
    let (browser, body) = start_push(&server, &client, "di").await;
    pending_id(&server, &device).await;
    server.advance(Duration::seconds(61));
    let d = diagnose(
        &server,
        &reader,
        &check_again(&server, &browser, &body).await,
    )
    .await;
    assert_cause(&d, "push_not_answered", "'Pixel 7' received it at");
    assert!(d["push_requests"][0]["devices"][0]["received"].is_string());

    // Denied; the wrong number; reported as not the user.
    for (name, approve, number, report, kind, words) in [
        (
            "ed",
            false,
            None,
            false,
            "push_denied",
            "denied on 'Pixel 7'",
        ),
        (
            "fay",
            true,
            Some(0),
            false,
            "push_wrong_number",
            "the wrong number was entered on 'Pixel 7'",
        ),
        (
            "gus",
            false,
            None,
            true,
            "push_reported",
            "reported as not the user",
        ),
    ] {
        let device = device_user(&server, name).await;
        let (browser, body) = start_push(&server, &client, name).await;
        let id = pending_id(&server, &device).await;
        device.answer(&server, &id, approve, number, report).await;
        let d = diagnose(
            &server,
            &reader,
            &check_again(&server, &browser, &body).await,
        )
        .await;
        assert_cause(&d, kind, words);
        if report {
            assert_eq!(actions(&d), ["revoke_sessions", "unlock"]);
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_replayed_off_the_clock_and_locked() {
    let (server, client, reader) = setup(|_| {}).await;
    let app = user_with_app(&server, "hal").await;
    let code = app.code(&server, Duration::ZERO);
    let (prompt, _) = prompt_for(&server, &Browser::new(&server), &client, "hal", &[]).await;
    let _ = prompt;
    let first = Browser::new(&server);
    let (prompt, _) = prompt_for(&server, &first, &client, "hal", &[]).await;
    first.submit_code(&prompt, &code, false).await.app_url();
    let again = Browser::new(&server);
    let (prompt, _) = prompt_for(&server, &again, &client, "hal", &[]).await;
    let replay = again.submit_code(&prompt, &code, false).await;
    let d = diagnose(&server, &reader, &request_id(&replay)).await;
    assert_cause(&d, "code_reused", "already been used");

    let drift = Browser::new(&server);
    let (prompt, _) = prompt_for(&server, &drift, &client, "hal", &[]).await;
    let off = drift
        .submit_code(&prompt, &app.code(&server, Duration::seconds(-120)), false)
        .await;
    let d = diagnose(&server, &reader, &request_id(&off)).await;
    assert_cause(&d, "clock_drift", "check the device clock");

    let guesser = Browser::new(&server);
    let (mut prompt, _) = prompt_for(&server, &guesser, &client, "hal", &[]).await;
    let mut last = None;
    for i in 1..=5u32 {
        let landing = guesser
            .submit_code(&prompt, &format!("{:06}", (123_457 * i) % 1_000_000), false)
            .await;
        prompt = landing.body().to_owned();
        last = Some(landing);
    }
    let d = diagnose(&server, &reader, &request_id(&last.unwrap())).await;
    assert_cause(&d, "second_factor_locked", "locked until");
    assert_eq!(actions(&d), ["unlock"]);
    server.stop().await;
}

/// Signs in with a temporary access pass from the sign-in page's link.
async fn sign_in_with_pass(
    server: &TestServer,
    client: &Client,
    username: &str,
    pass: &str,
) -> Landing {
    let browser = Browser::new(server);
    let url = authorize_url(server, client, &[]).0;
    let page = browser.open(&url).await;
    let link = links(page.body())
        .into_iter()
        .find(|l| l.ends_with("/access-pass"))
        .expect("Sign in with a temporary access pass");
    let form = browser.open(&server.url(&link)).await;
    let body = form.body().to_owned();
    browser
        .submit(
            &server.url(&attr(&body, "action").unwrap()),
            &[
                ("csrf", &hidden(&body, "csrf").unwrap()),
                ("username", username),
                ("access_pass", pass),
            ],
        )
        .await
}

async fn issue_pass(server: &TestServer, token: &str, username: &str, once: bool) -> String {
    let res = reqwest::Client::new()
        .post(server.url(&format!(
            "/admin/v1/users/{username}/authentication/temporary-access-pass"
        )))
        .bearer_auth(token)
        .json(&json!({ "once": once, "lifetime_minutes": 10 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["pass"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_passes_and_applications() {
    let (server, client, reader) = setup(|c| c.policy.mfa = MfaPolicy::Required).await;
    let (desk, _) = create_admin_token(&server, "desk-1", Role::Helpdesk, None).await;
    server.create_user("ivy").await;
    let url = authorize_url(&server, &client, &[]).0;
    let register = Browser::new(&server).sign_in(&url, "ivy", PASSWORD).await;
    assert!(register.body().contains("Set up a second sign-in method"));
    // The registration page shows no ids; the helpdesk finds it by the user's name.
    let entry = last_signin(&server, "ivy").await;
    let d = diagnose(&server, &reader, &entry.correlation_id).await;
    assert_cause(&d, "no_method_registered", "no second sign-in method yet");
    assert_eq!(actions(&d), ["create_access_pass"]);
    assert!(
        d["warnings"]
            .to_string()
            .contains("no second sign-in method")
    );

    let pass = issue_pass(&server, &desk, "ivy", true).await;
    sign_in_with_pass(&server, &client, "ivy", &pass).await;
    let used = sign_in_with_pass(&server, &client, "ivy", &pass).await;
    let d = diagnose(&server, &reader, &request_id(&used)).await;
    assert_cause(&d, "access_pass_used", "already been used");
    assert_eq!(actions(&d), ["create_access_pass"]);

    server.create_user("jo").await;
    let pass = issue_pass(&server, &desk, "jo", false).await;
    server.advance(Duration::minutes(11));
    let expired = sign_in_with_pass(&server, &client, "jo", &pass).await;
    let d = diagnose(&server, &reader, &request_id(&expired)).await;
    assert_cause(&d, "access_pass_expired", "had expired");

    // The application's side: an unknown client id, a redirect URI not registered.
    let unknown = Browser::new(&server)
        .open(&server.url("/authorize?client_id=no-such-app&response_type=code&redirect_uri=https%3A%2F%2Fx.example%2Fcb&scope=openid"))
        .await;
    let d = diagnose(&server, &reader, &request_id(&unknown)).await;
    assert_cause(
        &d,
        "unknown_client",
        "The application is not registered (client id 'no-such-app')",
    );
    let (bad, _, _, _) = authorize_url(&server, &client, &[]);
    let bad = bad.replace(
        "redirect_uri=",
        "redirect_uri=https%3A%2F%2Fevil.example%2Fcb&x=",
    );
    let mismatch = Browser::new(&server).open(&bad).await;
    let d = diagnose(&server, &reader, &request_id(&mismatch)).await;
    assert_cause(
        &d,
        "redirect_uri_mismatch",
        "sent a redirect URI that is not registered",
    );
    server.stop().await;
}
