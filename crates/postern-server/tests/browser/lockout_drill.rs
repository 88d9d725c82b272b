//! The lockout drill, end to end with the real server, the real Postern Authenticator (library)
//! and real browsers (headless Chromium): a student's phone is lost → their sign-in times out with
//! 500121 → the helpdesk pastes the request id from the error page on `/admin` and reads "not
//! delivered: 'Old phone' has not connected since …" → requires re-registration and issues a
//! one-time temporary access pass → the student uses it from the same 500121 page, lands on
//! Security info and registers the Authenticator on a new phone → the next sign-in is approved on
//! the new phone, while the old phone's requests are refused. Every step is in the sign-in and
//! audit logs. The clock moves instead of sleeping.

use crate::common::webdriver::Driver;
use crate::common::*;
use postern_authenticator::client::Client as App;
use postern_authenticator::listen::{ListenEvent, ListenOptions, listen};
use postern_core::admin::Role;
use postern_core::client::ClientKind;
use postern_core::clock::Clock;
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;
use postern_proto::authenticator::{AnswerOutcome, Decision};
use serde_json::Value;
use std::sync::Arc;
use time::Duration;

/// Under `policy.mfa = required`, `name` signs in to Security info and registers an authenticator
/// app on the forced-registration page; returns the browser (signed in) and the app.
async fn registered(server: &TestServer, name: &str) -> (Browser, AuthenticatorApp) {
    server.create_user(name).await;
    let browser = Browser::new(server);
    let page = browser
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let body = page.body().to_owned();
    assert!(body.contains("Set up a second sign-in method"), "{body}");
    let app = AuthenticatorApp::scan(&otpauth_uri(&body));
    let form = [
        ("csrf", hidden(&body, "csrf").unwrap()),
        ("enrollment", hidden(&body, "enrollment").unwrap()),
        ("name", "Phone app".to_owned()),
        ("code", app.code(server, Duration::ZERO)),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let landed = browser
        .submit(&server.url(&attr(&body, "action").unwrap()), &form)
        .await;
    assert!(landed.body().contains("Security info"), "{}", landed.body());
    server.advance(STEP);
    (browser, app)
}

/// The real app, on the server's (moving) clock.
fn authenticator(server: &TestServer) -> App {
    let clock = server.clock.clone();
    App::with_clock(Arc::new(move || {
        postern_core::clock::to_millis(clock.now())
    }))
    .unwrap()
}

async fn fill(browser: &Driver, label: &str, text: &str) {
    let field = browser.field_labelled(label).await;
    browser.clear(&field).await;
    browser.type_into(&field, text).await;
}

async fn api(server: &TestServer, token: &str, path: &str) -> Value {
    let res = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_phone_is_fixed_in_a_minute() {
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.policy.mfa = MfaPolicy::Required).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;

    // Sam's school phone carries the Postern Authenticator ("Old phone") and an app's codes.
    let (sam, _lost_codes) = registered(&server, "sam").await;
    let page = sam.open(&server.url("/account/security/push")).await;
    let link = unescape(&attr(page.body(), "data-activation-url").unwrap());
    let old_app = authenticator(&server);
    let old_phone = old_app.activate(&link, "Old phone").await.unwrap();
    // The helpdesk agent: a role, and an authenticator app of her own.
    let (_, desk_app) = registered(&server, "hana").await;
    let hana = server
        .store()
        .find_user_by_username("hana")
        .await
        .unwrap()
        .unwrap();
    server
        .store()
        .set_user_role(&hana.id, Some(Role::Helpdesk), server.clock.now())
        .await
        .unwrap();

    // The phone is lost. Three days later Sam signs in to the learning hub; nothing arrives.
    server.advance(Duration::days(3));
    let student = Driver::start().await;
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    student.goto(&url).await;
    fill(&student, "Username", "sam").await;
    fill(&student, "Password", PASSWORD).await;
    student.click(&student.button("Sign in").await).await;
    student
        .wait_for_text("Enter this number in your Postern Authenticator")
        .await;
    student
        .wait_for_text("'Old phone' has not connected since")
        .await;
    server.advance(Duration::seconds(61));
    student.wait_for_text("500121").await;
    let request_id = student
        .text(&student.find("//*[@data-field='request-id']").await)
        .await;
    let request_id = request_id.trim().to_owned();

    // The helpdesk pastes the request id and reads the cause.
    let desk = Driver::start().await;
    desk.goto(&server.url("/admin")).await;
    fill(&desk, "Username", "hana").await;
    fill(&desk, "Password", PASSWORD).await;
    desk.click(&desk.button("Sign in").await).await;
    desk.wait_for_text("Enter code").await;
    fill(&desk, "Code", &desk_app.code(&server, Duration::ZERO)).await;
    desk.click(&desk.button("Verify").await).await;
    desk.wait_for_text("Paste the Request Id or Correlation Id")
        .await;
    fill(&desk, "Request id, correlation id or username", &request_id).await;
    desk.click(&desk.button("Search").await).await;
    desk.wait_for_text("not delivered: 'Old phone' has not connected since")
        .await;
    desk.wait_for_text("(3 days before)").await;
    desk.wait_for_text("Phone app").await;

    // Lost device: re-registration (confirmed), then a one-time pass.
    desk.click(&desk.button("Require re-registration").await)
        .await;
    desk.wait_for_text("Yes").await;
    let yes = desk
        .find("//button[starts-with(normalize-space(.), 'Yes')]")
        .await;
    desk.click(&yes).await;
    desk.wait_for_text("re-registration").await;
    // Back on the diagnosis, whose fixes carry the sign-in they are for.
    desk.wait_for_text("not delivered: 'Old phone' has not connected since")
        .await;
    desk.click(&desk.button("Issue temporary access pass").await)
        .await;
    desk.wait_for_text("Give it to the user now").await;
    let pass = desk.text(&desk.find("//*[@data-access-pass]").await).await;
    let pass = pass.trim().to_owned();
    assert_eq!(pass.len(), 11, "{pass}");

    // Sam, still on the 500121 page: the pass, then the Authenticator on the new phone.
    student
        .click(
            &student
                .link("Use a temporary access pass from the helpdesk")
                .await,
        )
        .await;
    fill(&student, "Temporary Access Pass", &pass).await;
    student.click(&student.button("Sign in").await).await;
    student
        .wait_for_text("You signed in with a temporary access pass")
        .await;
    let security = student.current_url().await;
    student
        .click(&student.link("Add the Postern Authenticator").await)
        .await;
    let shown = student.find("//*[@data-activation-url]").await;
    let link = student
        .attribute(&shown, "data-activation-url")
        .await
        .unwrap();
    let new_app = authenticator(&server);
    let new_phone = new_app.activate(&link, "New phone").await.unwrap();
    student.goto(&security).await;
    student
        .click(&student.link(&format!("Continue to {}", client.name)).await)
        .await;
    assert!(
        student
            .wait_for_url("http://127.0.0.1:9/callback")
            .await
            .contains("code=")
    );

    // The next sign-in: approved on the new phone, which listens.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = {
        let (app, account) = (new_app.clone(), new_phone.clone());
        tokio::spawn(async move {
            listen(&app, vec![account], ListenOptions::default(), move |e| {
                let _ = tx.send(e);
            })
            .await
        })
    };
    while !matches!(rx.recv().await.unwrap(), ListenEvent::Connected { .. }) {}
    student.goto(&server.url("/healthz")).await;
    student.delete_cookies().await;
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    student.goto(&url).await;
    fill(&student, "Username", "sam").await;
    fill(&student, "Password", PASSWORD).await;
    student.click(&student.button("Sign in").await).await;
    student
        .wait_for_text("Enter this number in your Postern Authenticator")
        .await;
    let number: u32 = student
        .text(&student.find("//*[@data-match-number]").await)
        .await
        .trim()
        .parse()
        .unwrap();
    let challenge = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            ListenEvent::Challenge { challenge, .. } => break challenge,
            _ => continue,
        }
    };
    // The old phone, found again, can neither see nor answer it.
    assert!(
        old_app
            .pending(&old_phone)
            .await
            .unwrap_err()
            .is_unknown_device()
    );
    assert!(
        old_app
            .answer(
                &old_phone,
                &challenge.id,
                Decision::Approve,
                Some(number),
                false
            )
            .await
            .is_err()
    );
    let outcome = new_app
        .answer(
            &new_phone,
            &challenge.id,
            Decision::Approve,
            Some(number),
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome, AnswerOutcome::Approved);
    assert!(
        student
            .wait_for_url("http://127.0.0.1:9/callback")
            .await
            .contains("code=")
    );
    listener.abort();

    // Every step is in the logs: the three sign-ins and the helpdesk's two changes, tied to the
    // failed sign-in.
    let (reader, _) = create_admin_token(&server, "auditor", Role::Reader, None).await;
    // The rescued sign-in is one entry: the push that was not delivered, then the pass.
    let rescued = api(&server, &reader, &format!("/admin/v1/signins/{request_id}")).await;
    let correlation = rescued["correlation_id"].as_str().unwrap().to_owned();
    let steps = rescued["steps"].to_string();
    assert!(steps.contains("not delivered within 60 s"), "{steps}");
    assert!(
        steps.contains("temporary access pass accepted (one-time: now used)"),
        "{steps}"
    );
    assert_eq!(rescued["result"], "success");
    let audit = api(&server, &reader, "/admin/v1/audit?target=sam").await;
    let changes: Vec<(&str, &str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["correlation_id"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("access_pass.create", "user 'hana'", correlation.as_str()),
            (
                "user.require_reregister",
                "user 'hana'",
                correlation.as_str()
            ),
        ]
    );
    let signins = api(&server, &reader, "/admin/v1/signins?user=sam&limit=10").await;
    let latest = signins["items"][0]["correlation_id"].as_str().unwrap();
    assert_ne!(latest, correlation);
    let steps = api(&server, &reader, &format!("/admin/v1/signins/{latest}"))
        .await
        .to_string();
    assert!(steps.contains("approved on 'New phone'"), "{steps}");
    student.quit().await;
    desk.quit().await;
    server.stop().await;
}
