//! Passkeys in a real browser: headless Chromium on a 360-px phone screen, with its virtual
//! authenticator (DevTools `WebAuthn` domain: internal transport, resident keys, user
//! verification) playing the phone's screen lock. On `http://localhost` (a secure context whose
//! host can be an RP id). The student registers a passkey on Security info, signs in with it
//! alone from the first page by autofill (conditional mediation), uses it as the second step
//! after the password, and a bogus signature (`setResponseOverrideBits`) is refused with the
//! error page's ids. Each screen is kept as a screenshot in `target/screenshots/`.

use crate::common::cdp::Cdp;
use crate::common::webdriver::Driver;
use crate::common::{
    Backend, PASSWORD, TestServer, authorize_url, id_token_claims, query_param, redeem,
    user_with_app,
};
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use serde_json::{Value, json};
use std::path::PathBuf;

fn shot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("passkey-{name}.png"))
}

/// Redeems the code of the callback the browser reached; returns the ID token's amr.
async fn amr_of(
    server: &TestServer,
    client: &postern_core::client::Client,
    callback: &str,
    verifier: &str,
) -> Value {
    let code = query_param(callback, "code").expect("a code");
    let tokens: Value = redeem(server, client, None, &code, verifier)
        .await
        .json()
        .await
        .unwrap();
    id_token_claims(&tokens)["amr"].clone()
}

/// Whether the virtual authenticator answers by itself (a user tapping it at once).
async fn presence(cdp: &Cdp, page: &str, authenticator: &str, on: bool) {
    cdp.send(
        Some(page),
        "WebAuthn.setAutomaticPresenceSimulation",
        json!({ "authenticatorId": authenticator, "enabled": on }),
    )
    .await
    .unwrap();
}

async fn click_button(phone: &Driver, text: &str) {
    let button = phone.button(text).await;
    phone.click(&button).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_registers_a_passkey_and_signs_in_with_it() {
    let server = TestServer::start_localhost(Backend::Sqlite, |_| {}).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app = user_with_app(&server, "ana").await;
    let phone = Driver::start_phone().await;
    let cdp = Cdp::connect(&phone).await;
    let page = cdp.page_session().await;
    cdp.send(Some(&page), "WebAuthn.enable", json!({ "enableUI": false }))
        .await
        .unwrap();
    let added = cdp
        .send(
            Some(&page),
            "WebAuthn.addVirtualAuthenticator",
            json!({ "options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserVerified": true,
                "automaticPresenceSimulation": true
            }}),
        )
        .await
        .unwrap();
    let authenticator = added["authenticatorId"].as_str().unwrap().to_owned();

    // Security info, after signing in with the password and the app's code.
    phone.goto(&server.url("/account/signin")).await;
    phone
        .type_into(&phone.field_labelled("Username").await, "ana")
        .await;
    phone
        .type_into(&phone.field_labelled("Password").await, PASSWORD)
        .await;
    click_button(&phone, "Sign in").await;
    phone.wait_for_text("Enter code").await;
    phone
        .type_into(
            &phone.field_labelled("Code").await,
            &app.code(&server, time::Duration::ZERO),
        )
        .await;
    click_button(&phone, "Verify").await;
    phone.wait_for_text("Security info").await;
    let add = phone.link("Add a passkey or security key").await;
    phone.click(&add).await;
    phone.wait_for_text("Create a passkey on this device").await;
    phone
        .type_into(&phone.field_labelled("Name (optional)").await, "My phone")
        .await;
    phone.screenshot(&shot_path("1-add")).await;
    click_button(&phone, "Create a passkey").await;
    phone.wait_for_text("Passkey added").await;
    phone.wait_for_text("My phone").await;
    phone.screenshot(&shot_path("2-added")).await;
    let credentials = cdp
        .send(
            Some(&page),
            "WebAuthn.getCredentials",
            json!({ "authenticatorId": authenticator }),
        )
        .await
        .unwrap();
    let stored = credentials["credentials"].as_array().unwrap();
    assert_eq!(stored.len(), 1, "{credentials}");
    assert_eq!(stored[0]["isResidentCredential"], true, "discoverable");

    // Renamed from its row, by keyboard: the "Rename" disclosure opens a one-field form.
    let rename = phone.find("//summary[@aria-label='Rename My phone']").await;
    phone.click(&rename).await;
    let field = phone
        .find(
            "//summary[@aria-label='Rename My phone']/following-sibling::form//input[@name='name']",
        )
        .await;
    phone.clear(&field).await;
    phone.type_into(&field, "Ana's phone\n").await;
    phone.wait_for_text("Method renamed").await;
    phone.wait_for_text("Ana's phone").await;
    phone.screenshot(&shot_path("2b-renamed")).await;

    // Passwordless by autofill: the first page asks the browser for a passkey with conditional
    // mediation; the virtual authenticator (presence simulated) answers it at once, as a tap
    // on the suggested passkey would.
    assert_eq!(
        phone
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 PublicKeyCredential.isConditionalMediationAvailable().then(done, () => done(false));",
                vec![],
            )
            .await,
        json!(true),
        "Chromium offers passkey autofill"
    );
    phone.delete_cookies().await;
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    phone.goto(&url).await;
    let callback = phone.wait_for_url(&client.redirect_uris[0]).await;
    assert_eq!(
        amr_of(&server, &client, &callback, &verifier).await,
        json!(["hwk", "mfa"]),
        "no password; the screen lock is the second factor"
    );

    // Without a tap on the suggestion the first page stays as it is: the password form, the
    // username field offering passkeys, "Sign in with a passkey".
    presence(&cdp, &page, &authenticator, false).await;
    phone.goto(&server.url("/")).await;
    phone.delete_cookies().await;
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    phone.goto(&url).await;
    phone.wait_for_text("Sign in with a passkey").await;
    let username = phone.field_labelled("Username").await;
    assert_eq!(
        phone.attribute(&username, "autocomplete").await.as_deref(),
        Some("username webauthn")
    );
    phone.screenshot(&shot_path("3-first-page")).await;

    // The second step after the password: "Sign in another way" → the passkey.
    phone.type_into(&username, "ana").await;
    phone
        .type_into(&phone.field_labelled("Password").await, PASSWORD)
        .await;
    click_button(&phone, "Sign in").await;
    phone.wait_for_text("Enter code").await;
    phone.click(&phone.link("Sign in another way").await).await;
    phone
        .click(&phone.link("Use a passkey or security key").await)
        .await;
    phone.wait_for_text("Use your passkey").await;
    phone.screenshot(&shot_path("4-second-step")).await;
    presence(&cdp, &page, &authenticator, true).await;
    click_button(&phone, "Use passkey").await;
    let callback = phone.wait_for_url(&client.redirect_uris[0]).await;
    assert_eq!(
        amr_of(&server, &client, &callback, &verifier).await,
        json!(["pwd", "hwk", "mfa"])
    );

    // A bogus signature: refused, with the ids the helpdesk needs.
    cdp.send(
        Some(&page),
        "WebAuthn.setResponseOverrideBits",
        json!({ "authenticatorId": authenticator, "isBogusSignature": true }),
    )
    .await
    .unwrap();
    phone.goto(&server.url("/")).await;
    phone.delete_cookies().await;
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    phone.goto(&url).await;
    phone.wait_for_text("That passkey didn't work").await;
    // Refused once, not again by itself: the page with the error does not ask for autofill.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let entry = server.store().list_signins(1).await.unwrap().remove(0);
    assert_eq!(
        entry.steps.iter().filter(|s| s.method == "passkey").count(),
        1,
        "{:?}",
        entry.steps
    );
    phone.wait_for_text("990015").await;
    phone.wait_for_text("Correlation Id").await;
    phone.screenshot(&shot_path("5-bogus-signature")).await;
    let entry = server.store().list_signins(1).await.unwrap().remove(0);
    assert!(
        entry
            .steps
            .iter()
            .any(|s| s.detail.contains("the passkey's answer was refused")),
        "{:?}",
        entry.steps
    );
    phone.quit().await;
    server.stop().await;
}
