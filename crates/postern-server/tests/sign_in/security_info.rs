//! Registering and managing second factors over HTTP, on SQLite and PostgreSQL: the forced
//! registration interrupt (50079), "Don't ask again on this device", and the Security info page
//! (methods, default, removal rules, warnings, recent sign-ins, signing out everywhere).

use crate::common::*;
use postern_core::client::ClientKind;
use postern_core::clock::Clock;
use postern_core::credential::method::{MethodKind, MethodSecret};
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;
use postern_core::signin_log::SignInResult;
use time::Duration;

fn required(config: &mut postern_server::config::Config) {
    config.policy.mfa = MfaPolicy::Required;
}

/// Posts the registration page's form with `code`.
async fn submit_registration(
    browser: &Browser,
    server: &TestServer,
    body: &str,
    code: &str,
) -> Landing {
    browser
        .submit(
            &server.url(&attr(body, "action").unwrap()),
            &[
                ("csrf", &hidden(body, "csrf").unwrap()),
                ("enrollment", &hidden(body, "enrollment").unwrap()),
                ("name", "Phone"),
                ("code", code),
            ],
        )
        .await
}

async fn registration_is_forced_and_cannot_be_skipped(backend: Backend) {
    let server = TestServer::start_with(backend, required).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("fay").await;
    let browser = Browser::new(&server);
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let landing = browser.sign_in(&url, "fay", PASSWORD).await;
    let (flow_url, body) = landing.page();
    let flow_url = flow_url.to_owned();
    let body = body.to_owned();
    assert!(body.contains("Set up a second sign-in method"), "{body}");
    assert!(body.contains("<svg") && body.contains("aria-label=\"QR code"));
    assert!(body.contains("Secret key"));
    let uri = otpauth_uri(&body);
    let parsed = url::Url::parse(&uri).unwrap();
    assert_eq!(parsed.scheme(), "otpauth");
    assert_eq!(parsed.host_str(), Some("totp"));
    assert_eq!(parsed.path(), "/Postern:fay");
    let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(query["issuer"], "Postern");
    assert_eq!(query["algorithm"], "SHA1");
    assert_eq!(query["digits"], "6");
    assert_eq!(query["period"], "30");
    let secret = query["secret"].clone();
    assert!(
        body.contains(&secret[..4]),
        "the secret key is shown as text"
    );
    let entry = last_signin(&server, "fay").await;
    assert_eq!(entry.result, SignInResult::Interrupted);
    assert_eq!(entry.error_code.map(|c| c.code()), Some(50079));

    // No way around it: not "another way", not Security info, not a second-factor form.
    let other = browser.open(&format!("{flow_url}/other")).await;
    assert!(other.body().contains("Set up a second sign-in method"));
    let account = browser.open(&server.url("/account/security")).await;
    assert!(account.page().0.contains("/signin/"), "no session yet");
    assert!(account.body().contains("Password"));
    let forged = browser
        .submit(
            &flow_url,
            &[
                ("csrf", &hidden(&body, "csrf").unwrap()),
                ("method", "x"),
                ("code", "123456"),
            ],
        )
        .await;
    assert!(
        forged.body().contains("is not expected"),
        "{}",
        forged.body()
    );

    // A wrong code keeps the same secret (the app already scanned it).
    let app = AuthenticatorApp::scan(&uri);
    let good = app.code(&server, Duration::ZERO);
    let bad = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    let retry = submit_registration(&browser, &server, &body, &bad).await;
    assert_eq!(shown_code(retry.body()).as_deref(), Some("990006"));
    assert_eq!(otpauth_uri(retry.body()), uri);

    let done = submit_registration(&browser, &server, retry.body(), &good).await;
    let code = query_param(done.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    let entry = last_signin(&server, "fay").await;
    assert_eq!(entry.result, SignInResult::Success);
    let text = steps_text(&entry);
    assert!(
        text.contains("register_totp success authenticator app 'Phone' registered"),
        "{text}"
    );
    assert!(
        !text.contains(&good) && !text.contains(&bad),
        "no code in the log: {text}"
    );

    // The seed is sealed at rest and never shown again.
    let user = server
        .store()
        .find_user_by_username("fay")
        .await
        .unwrap()
        .unwrap();
    let methods = server.store().list_methods(&user.id).await.unwrap();
    let MethodSecret::Totp { sealed_seed, .. } = &methods[0].secret else {
        panic!("expected a TOTP method")
    };
    let raw = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let stored = data_encoding::BASE64URL_NOPAD
        .decode(sealed_seed.as_bytes())
        .unwrap();
    assert!(
        !stored.windows(raw.len()).any(|w| w == raw.as_slice()),
        "the seed is encrypted"
    );
    assert!(!sealed_seed.contains(&secret));
    let page = browser.open(&server.url("/account/security")).await;
    assert!(page.body().contains("Phone"));
    assert!(
        !page.body().contains(&secret[..16]),
        "the secret is never shown again"
    );
    server.stop().await;
}

/// Ends this browser's single sign-on session (the remembered device stays).
async fn sign_out(browser: &Browser, server: &TestServer) {
    let confirm = browser.open(&server.url("/logout")).await;
    let csrf = hidden(confirm.body(), "csrf").unwrap();
    browser
        .submit(&server.url("/logout"), &[("csrf", &csrf)])
        .await;
    let page = browser.open(&server.url("/account/security")).await;
    assert!(page.page().0.contains("/signin/"), "signed out");
}

async fn remembered_devices_skip_the_second_step_until_revoked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "gus").await;
    let browser = Browser::new(&server);
    let (body, _) = prompt_for(&server, &browser, &client, "gus", &[]).await;
    assert!(body.contains("Don't ask again on this device for 14 days"));
    browser
        .submit_code(&body, &app.code(&server, Duration::ZERO), true)
        .await
        .app_url();
    let text = steps_text(&last_signin(&server, "gus").await);
    assert!(
        text.contains("not to be asked again on this browser for 14 days"),
        "{text}"
    );

    // A new sign-in in this browser: the password is enough; amr says MFA was satisfied.
    sign_out(&browser, &server).await;
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let landing = browser.sign_in(&url, "gus", PASSWORD).await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "mfa"]));
    let text = steps_text(&last_signin(&server, "gus").await);
    assert!(
        text.contains("second factor not asked: the user asked to remember this browser"),
        "{text}"
    );

    // Never for an application that asks for a fresh sign-in (50076 in the log).
    let (url, _, _, _) = authorize_url(&server, &client, &[("prompt", "login")]);
    let fresh = browser.sign_in(&url, "gus", PASSWORD).await;
    assert!(
        fresh.body().contains("Enter code"),
        "prompt=login asks for a fresh second factor"
    );
    assert!(!fresh.body().contains("Don't ask again"));
    assert_eq!(
        last_signin(&server, "gus")
            .await
            .error_code
            .map(|c| c.code()),
        Some(50076)
    );
    server.advance(Duration::seconds(5));
    let (url, _, _, _) = authorize_url(&server, &client, &[("max_age", "1")]);
    let aged = browser.sign_in(&url, "gus", PASSWORD).await;
    assert!(
        aged.body().contains("Enter code"),
        "max_age asks for a fresh second factor"
    );
    // Another browser is not remembered.
    prompt_for(&server, &Browser::new(&server), &client, "gus", &[]).await;

    // Revoked from Security info: asked again.
    let page = browser.open(&server.url("/account/security")).await;
    assert!(
        page.body().contains("1 device skips the second step"),
        "{}",
        page.body()
    );
    let csrf = hidden(page.body(), "csrf").unwrap();
    let after = browser
        .submit(
            &server.url("/account/security/forget-devices"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(after.body().contains("Remembered devices revoked"));
    sign_out(&browser, &server).await;
    prompt_for(&server, &browser, &client, "gus", &[]).await;

    // And it expires by itself.
    let (body, _) = prompt_for(&server, &browser, &client, "gus", &[]).await;
    server.advance(STEP);
    browser
        .submit_code(&body, &app.code(&server, Duration::ZERO), true)
        .await
        .app_url();
    sign_out(&browser, &server).await;
    server.advance(Duration::days(15));
    prompt_for(&server, &browser, &client, "gus", &[]).await;
    server.stop().await;
}

async fn security_info_manages_methods(backend: Backend) {
    let server = TestServer::start_with(backend, required).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("hal").await;
    let browser = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let wrong = browser.sign_in(&url, "hal", "not the password").await;
    assert_eq!(shown_code(wrong.body()).as_deref(), Some("50126"));
    let landing = browser.sign_in(&url, "hal", PASSWORD).await;
    let body = landing.body().to_owned();
    let phone = AuthenticatorApp::scan(&otpauth_uri(&body));
    submit_registration(
        &browser,
        &server,
        &body,
        &phone.code(&server, Duration::ZERO),
    )
    .await
    .app_url();

    let page = browser.open(&server.url("/account/security")).await;
    let body = page.body();
    assert!(body.contains("Security info"));
    assert!(body.contains("Authenticator app (code)") && body.contains(">Default<"));
    assert!(body.contains(
        "You have only one way to sign in: if you lose this device you will need the helpdesk"
    ));
    // Recent sign-ins: time, app, IP, result, error code.
    assert!(body.contains(&client.name) && body.contains("127.0.0.1"));
    assert!(
        body.contains("<td>Success</td>") && body.contains("<td>50126</td>"),
        "{body}"
    );

    // The last method cannot go while MFA is required.
    let csrf = hidden(body, "csrf").unwrap();
    let phone_id = body
        .split("name=\"method\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let refused = browser
        .submit(
            &server.url("/account/security/remove"),
            &[("csrf", &csrf), ("method", &phone_id)],
        )
        .await;
    assert!(
        refused.body().contains("remove your last sign-in method"),
        "{}",
        refused.body()
    );

    // Recovery codes are not enough on their own either.
    browser.create_recovery_codes(&server).await;
    let refused = browser
        .submit(
            &server.url("/account/security/remove"),
            &[("csrf", &csrf), ("method", &phone_id)],
        )
        .await;
    assert!(
        refused
            .body()
            .contains("remove your only authenticator app")
    );
    assert!(
        !refused.body().contains("You have only one way"),
        "two ways now"
    );

    // A second app, made the default, is what the next sign-in asks for; then the first can go.
    server.advance(STEP);
    browser.add_authenticator(&server).await;
    let user = server
        .store()
        .find_user_by_username("hal")
        .await
        .unwrap()
        .unwrap();
    let methods = server.store().list_methods(&user.id).await.unwrap();
    let tablet = methods
        .iter()
        .filter(|m| m.kind() == MethodKind::Totp)
        .nth(1)
        .unwrap();
    let set = browser
        .submit(
            &server.url("/account/security/default"),
            &[("csrf", &csrf), ("method", &tablet.id)],
        )
        .await;
    assert!(set.body().contains("Default method changed"));
    let rc = methods
        .iter()
        .find(|m| m.kind() == MethodKind::RecoveryCodes)
        .unwrap();
    let not_default = browser
        .submit(
            &server.url("/account/security/default"),
            &[("csrf", &csrf), ("method", &rc.id)],
        )
        .await;
    assert!(not_default.body().contains("cannot be the default"));
    let removed = browser
        .submit(
            &server.url("/account/security/remove"),
            &[("csrf", &csrf), ("method", &phone_id)],
        )
        .await;
    assert!(removed.body().contains("Method removed"));
    assert_eq!(
        server.store().list_methods(&user.id).await.unwrap().len(),
        2
    );
    let other = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let prompt = other.sign_in(&url, "hal", PASSWORD).await;
    assert!(
        prompt
            .body()
            .contains(&format!("(&#39;{}&#39;)", tablet.name)),
        "{}",
        prompt.body()
    );

    // Few recovery codes left: warned.
    let mut set = server
        .store()
        .find_method(&user.id, &rc.id)
        .await
        .unwrap()
        .unwrap();
    if let MethodSecret::RecoveryCodes { codes } = &mut set.secret {
        for c in codes.iter_mut().take(8) {
            c.used_ms = Some(1);
        }
    }
    assert!(server.store().update_method_use(&set).await.unwrap());
    let page = browser.open(&server.url("/account/security")).await;
    assert!(
        page.body().contains("Only 2 recovery code(s) left"),
        "{}",
        page.body()
    );

    // Forms need the session's anti-forgery token.
    let forged = browser
        .submit(
            &server.url("/account/security/remove"),
            &[("method", &tablet.id)],
        )
        .await;
    assert_eq!(shown_code(forged.body()).as_deref(), Some("990001"));

    // Sign out everywhere: this browser and the other one lose their sessions.
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let prompt = other.sign_in(&url, "hal", PASSWORD).await;
    let _ = prompt;
    let out = browser
        .submit(
            &server.url("/account/security/sign-out-everywhere"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(out.body().contains("Signed out everywhere"));
    for b in [&browser, &other] {
        let page = b.open(&server.url("/account/security")).await;
        assert!(
            page.page().0.contains("/signin/"),
            "signed out: back to the sign-in page"
        );
    }
    server.stop().await;
}

async fn changes_need_a_second_factor_behind_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let user = server.create_user("ivy").await;
    let browser = Browser::new(&server);
    browser
        .sign_in(&server.url("/account/signin"), "ivy", PASSWORD)
        .await;
    // A method registered before this password-only session (say, by the user elsewhere).
    let methods = {
        let codes = postern_core::credential::recovery::generate(
            &postern_core::random::OsRandom,
            &[0u8; 32],
            &user.id,
        )
        .1;
        postern_core::credential::method::Method {
            id: "older".into(),
            user_id: user.id.clone(),
            name: "Recovery codes".into(),
            created: server.clock.now() - Duration::days(1),
            last_used: None,
            is_default: false,
            secret: MethodSecret::RecoveryCodes {
                codes: codes
                    .into_iter()
                    .map(|hash| postern_core::credential::method::RecoveryCodeSlot {
                        hash,
                        used_ms: None,
                    })
                    .collect(),
            },
            version: 1,
        }
    };
    server.store().create_method(&methods).await.unwrap();
    let page = browser.open(&server.url("/account/security/totp")).await;
    assert!(
        page.body().contains("Sign in again to make changes"),
        "{}",
        page.body()
    );
    assert!(page.body().contains("/account/signin?fresh=1"));
    server.stop().await;
}

crate::on_both_backends!(
    registration_is_forced_and_cannot_be_skipped,
    remembered_devices_skip_the_second_step_until_revoked,
    security_info_manages_methods,
    changes_need_a_second_factor_behind_the_session,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembering_devices_can_be_turned_off() {
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.policy.remember_device_days = 0).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "jo").await;
    let browser = Browser::new(&server);
    let (body, _) = prompt_for(&server, &browser, &client, "jo", &[]).await;
    assert!(!body.contains("Don't ask again"), "{body}");
    // A hand-made "remember" changes nothing either.
    browser
        .submit_code(&body, &app.code(&server, Duration::ZERO), true)
        .await
        .app_url();
    let user = server
        .store()
        .find_user_by_username("jo")
        .await
        .unwrap()
        .unwrap();
    let now = server.clock.now();
    assert_eq!(
        server
            .store()
            .count_remembered_devices(&user.id, now)
            .await
            .unwrap(),
        0
    );
    server.stop().await;
}
