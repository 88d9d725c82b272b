//! Second-factor sign-ins over HTTP, on SQLite and PostgreSQL: authenticator apps (TOTP) and
//! recovery codes, "Sign in another way", replays, clock drift and the second-factor lockout.
//! The clock moves instead of sleeping; codes come from an independent TOTP implementation fed the
//! `otpauth://` URI the page shows. (Registration, remembered devices and Security info are in
//! `security_info.rs`.)

use crate::common::*;
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use postern_core::signin_log::SignInResult;
use time::Duration;

async fn totp_sign_in_with_an_independent_app(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "ada").await;

    let browser = Browser::new(&server);
    let (body, verifier) = prompt_for(&server, &browser, &client, "ada", &[]).await;
    assert!(body.contains("Enter code"), "{body}");
    assert!(body.contains("<label for=\"code\">Code</label>"));
    assert!(body.contains(">Verify</button>"));
    assert!(body.contains("Sign in another way"));
    assert_eq!(
        last_signin(&server, "ada")
            .await
            .error_code
            .map(|c| c.code()),
        Some(50074)
    );

    let landing = browser
        .submit_code(&body, &app.code(&server, Duration::ZERO), false)
        .await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:postern:acr:mfa");

    let entry = last_signin(&server, "ada").await;
    assert_eq!(entry.result, SignInResult::Success);
    let text = steps_text(&entry);
    assert!(
        text.contains("totp success code from 'Phone' accepted"),
        "{text}"
    );
    server.stop().await;
}

async fn replays_and_clock_drift(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "bo").await;

    // A code is accepted once: the same code in a second sign-in is a replay.
    let code = app.code(&server, Duration::ZERO);
    let first = Browser::new(&server);
    let (body, _) = prompt_for(&server, &first, &client, "bo", &[]).await;
    first.submit_code(&body, &code, false).await.app_url();
    let second = Browser::new(&server);
    let (body, _) = prompt_for(&server, &second, &client, "bo", &[]).await;
    let refused = second.submit_code(&body, &code, false).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990007"));
    assert!(refused.body().contains("That code was already used"));
    let text = steps_text(&last_signin(&server, "bo").await);
    assert!(
        text.contains("code from a time step already used"),
        "{text}"
    );

    // A device clock two steps ahead: shown as a wrong code, explained in the log.
    server.advance(STEP);
    let ahead = app.code(&server, STEP * 2);
    let again = second.submit_code(refused.body(), &ahead, false).await;
    assert_eq!(shown_code(again.body()).as_deref(), Some("990006"));
    assert!(
        !again.body().contains("off by"),
        "the page does not help a guesser"
    );
    let text = steps_text(&last_signin(&server, "bo").await);
    assert!(
        text.contains("off by 2 steps (60 s): check the device clock"),
        "{text}"
    );

    // One step behind is inside the window (once that step is newer than the last one used);
    // the drift is recorded.
    server.advance(STEP);
    let behind = app.code(&server, -STEP);
    let landing = second.submit_code(again.body(), &behind, false).await;
    landing.app_url();
    let text = steps_text(&last_signin(&server, "bo").await);
    assert!(text.contains("device clock off by -1 step"), "{text}");
    server.stop().await;
}

async fn wrong_codes_lock_the_second_step_only(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "cy").await;
    let browser = Browser::new(&server);
    let (mut body, _) = prompt_for(&server, &browser, &client, "cy", &[]).await;
    let right = app.code(&server, Duration::ZERO);
    let wrong: Vec<String> = (0..5)
        .map(|i| format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000))
        .collect();
    for (i, code) in wrong.iter().enumerate() {
        let landing = browser.submit_code(&body, code, false).await;
        body = landing.body().to_owned();
        let expected = if i < 4 { "990006" } else { "990008" };
        assert_eq!(shown_code(&body).as_deref(), Some(expected), "attempt {i}");
    }
    assert!(body.contains("Too many failed attempts"));
    assert!(body.contains("Try again after"));
    // Locked: even the right code is not checked.
    let landing = browser.submit_code(&body, &right, false).await;
    assert_eq!(shown_code(landing.body()).as_deref(), Some("990008"));
    let entry = last_signin(&server, "cy").await;
    assert_eq!(entry.error_code.map(|c| c.code()), Some(990008));
    let text = steps_text(&entry);
    assert!(
        text.contains("too many wrong codes: the second step is locked until"),
        "{text}"
    );
    assert!(text.contains("second step locked until"), "{text}");
    assert!(text.contains("the code was not checked"), "{text}");

    // The password counter is separate: the password still works (and leads to the prompt).
    let other = Browser::new(&server);
    prompt_for(&server, &other, &client, "cy", &[]).await;

    // The lock ends by itself.
    server.advance(Duration::seconds(61));
    let (body, _) = prompt_for(&server, &other, &client, "cy", &[]).await;
    other
        .submit_code(&body, &app.code(&server, Duration::ZERO), false)
        .await
        .app_url();
    server.stop().await;
}

async fn parallel_wrong_codes_are_bounded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "dee").await;
    let browser = Browser::new(&server);
    let (body, _) = prompt_for(&server, &browser, &client, "dee", &[]).await;
    let right: u32 = app.code(&server, Duration::ZERO).parse().unwrap();
    let guesses: Vec<_> = (1..=30)
        .map(|i| {
            let code = format!("{:06}", (right + i) % 1_000_000);
            let body = body.clone();
            let browser = browser.clone();
            tokio::spawn(async move {
                browser
                    .submit_code(&body, &code, false)
                    .await
                    .body()
                    .to_owned()
            })
        })
        .collect();
    let mut wrong = 0;
    for g in guesses {
        if shown_code(&g.await.unwrap()).as_deref() == Some("990006") {
            wrong += 1;
        }
    }
    assert!(
        wrong <= 4,
        "{wrong} guesses were checked and refused before the lock"
    );
    let entry = last_signin(&server, "dee").await;
    let checked = entry
        .steps
        .iter()
        .filter(|s| s.detail.starts_with("wrong code"))
        .count();
    assert!(
        checked <= 5,
        "{checked} codes were checked: the lock must bound them"
    );
    server.stop().await;
}

async fn recovery_codes_sign_in_once_and_lead_to_security_info(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("eve").await;
    let setup = Browser::new(&server);
    setup
        .sign_in(&server.url("/account/signin"), "eve", PASSWORD)
        .await;
    setup.add_authenticator(&server).await;
    let codes = setup.create_recovery_codes(&server).await;
    for c in &codes {
        let plain: String = c.chars().filter(|c| *c != '-').collect();
        assert_eq!(plain.len(), 12, "12 characters of 5 bits: 60 bits");
    }
    let page = setup.open(&server.url("/account/security")).await;
    assert!(page.body().contains("10 of 10 codes left"));

    // Sign in another way → recovery code (typed in capitals without dashes: still accepted).
    let browser = Browser::new(&server);
    let (body, verifier) = prompt_for(&server, &browser, &client, "eve", &[]).await;
    let other_url = links(&body)
        .into_iter()
        .find(|h| h.ends_with("/other"))
        .unwrap();
    let ways = browser.open(&server.url(&unescape(&other_url))).await;
    assert!(ways.body().contains("Sign in another way"));
    assert!(ways.body().contains("Use a code from my authenticator app"));
    let recovery_link = ways
        .body()
        .split("<a href=\"")
        .skip(1)
        .find(|r| r.contains(">Use a recovery code<"))
        .map(|r| unescape(r.split('"').next().unwrap()))
        .unwrap();
    let prompt = browser.open(&server.url(&recovery_link)).await;
    assert!(
        prompt.body().contains("Enter a recovery code"),
        "{}",
        prompt.body()
    );
    let typed = codes[0].replace('-', "").to_uppercase();
    let landing = browser.submit_code(prompt.body(), &typed, false).await;
    let (url, page) = landing.page();
    assert!(url.contains("/account/security"), "{url}");
    assert!(
        page.contains("You signed in with a recovery code"),
        "{page}"
    );
    assert!(page.contains("9 of 10 codes left"));
    let continue_href = links(page)
        .into_iter()
        .find(|h| h.ends_with("/continue"))
        .expect("a Continue link");
    let at_app = browser.open(&server.url(&continue_href)).await;
    let code = query_param(at_app.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "rec", "mfa"]));
    let text = steps_text(&last_signin(&server, "eve").await);
    assert!(
        text.contains("recovery code accepted and used up; 9 left"),
        "{text}"
    );

    // Used once: the same code again is refused, and says so.
    let recovery_id = recovery_method_id(&server, "eve").await;
    let again = Browser::new(&server);
    let (body, _) = prompt_for(&server, &again, &client, "eve", &[]).await;
    let flow_path = attr(&body, "action").unwrap();
    let prompt = again
        .open(&server.url(&format!("{flow_path}?method={recovery_id}")))
        .await;
    let refused = again.submit_code(prompt.body(), &codes[0], false).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990007"));

    // Regenerating invalidates the old set.
    let fresh = setup.create_recovery_codes(&server).await;
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    let b = Browser::new(&server);
    let (body, _) = prompt_for(&server, &b, &client, "eve", &[]).await;
    let flow_path = attr(&body, "action").unwrap();
    let recovery_id = recovery_method_id(&server, "eve").await;
    let prompt = b
        .open(&server.url(&format!("{flow_path}?method={recovery_id}")))
        .await;
    let refused = b.submit_code(prompt.body(), &codes[1], false).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990006"));
    let used = b.submit_code(refused.body(), &fresh[0], false).await;
    assert!(used.page().0.contains("/account/security"));
    server.stop().await;
}

crate::on_both_backends!(
    totp_sign_in_with_an_independent_app,
    replays_and_clock_drift,
    wrong_codes_lock_the_second_step_only,
    parallel_wrong_codes_are_bounded,
    recovery_codes_sign_in_once_and_lead_to_security_info,
);

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Postern's TOTP codes are the codes an independent implementation computes.
    #[test]
    fn codes_match_an_independent_implementation(
        seed in proptest::collection::vec(proptest::prelude::any::<u8>(), 20..=32),
        time in 0u64..4_000_000_000,
    ) {
        use postern_core::credential::totp::{TotpParams, code_at};
        let theirs = totp_rs::Builder::new()
            .with_secret(seed.clone())
            .build()
            .unwrap()
            .generate(time)
            .to_string();
        proptest::prop_assert_eq!(code_at(&seed, &TotpParams::default(), time as i64), theirs);
    }
}
