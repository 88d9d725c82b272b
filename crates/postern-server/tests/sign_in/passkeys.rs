//! Passkeys and security keys over HTTP, on SQLite and PostgreSQL, with two software
//! authenticators (`webauthn-authenticator-rs`'s soft passkey and the independent `TestKey`):
//! registration on Security info and at the registration interrupt, the second step, passwordless
//! sign-in from the first page, and every refusal — a removed passkey, a counter that went back,
//! no user verification, a bad signature, a replayed answer, re-registration, the policy's rules.

use crate::common::*;
use postern_core::client::ClientKind;
use postern_core::credential::method::MethodKind;
use postern_core::oidc::jws::SigningAlg;
use postern_core::signin_log::{SignInResult, StepReason};
use serde_json::{Value, json};

const GPM: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";
const YUBIKEY: &str = "2fc0579f-8113-47ea-b116-bb5a8db9202a";

/// A user with an authenticator app and a browser signed in to Security info with it.
async fn signed_in_with_app(server: &TestServer, name: &str) -> (Browser, AuthenticatorApp) {
    let app = user_with_app(server, name).await;
    let browser = Browser::new(server);
    let landing = browser
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let landing = browser
        .submit_code(
            landing.body(),
            &app.code(server, time::Duration::ZERO),
            false,
        )
        .await;
    assert!(
        landing.body().contains("Security info"),
        "{}",
        landing.body()
    );
    (browser, app)
}

/// The error code a page shows.
fn shown_error(body: &str) -> Option<u32> {
    shown_code(body).and_then(|c| c.parse().ok())
}

async fn passkeys_of(
    server: &TestServer,
    username: &str,
) -> Vec<postern_core::credential::method::Method> {
    let user = server
        .store()
        .find_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    server
        .store()
        .list_methods(&user.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind() == MethodKind::Passkey)
        .collect()
}

/// Opens `client`'s sign-in page in a fresh browser; returns it with the page and the verifier.
async fn first_page(
    server: &TestServer,
    client: &postern_core::client::Client,
) -> (Browser, String, String) {
    let browser = Browser::new(server);
    let (url, verifier, _, _) = authorize_url(server, client, &[]);
    let landing = browser.open(&url).await;
    let body = landing.body().to_owned();
    assert!(body.contains("Sign in"), "{body}");
    (browser, body, verifier)
}

async fn the_soft_passkey_registers_and_is_the_second_step(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (browser, _) = signed_in_with_app(&server, "ana").await;
    let mut key = SoftKey::new();
    let landing = browser
        .add_passkey(&server, &mut key, Some("Laptop key"))
        .await;
    let body = landing.body();
    assert!(body.contains("Passkey added"), "{body}");
    assert!(body.contains("Laptop key"), "{body}");
    assert!(body.contains("Device-bound"), "{body}");
    let stored = passkeys_of(&server, "ana").await;
    assert_eq!(stored.len(), 1);

    // The app stays the default until the user makes the passkey the default; then the next
    // sign-in asks for it first, after the password.
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let landing = Browser::new(&server).sign_in(&url, "ana", PASSWORD).await;
    assert!(landing.body().contains("Enter code"), "{}", landing.body());
    let csrf = hidden(body, "csrf").unwrap();
    let made_default = browser
        .submit(
            &server.url("/account/security/default"),
            &[("csrf", &csrf), ("method", &stored[0].id)],
        )
        .await;
    assert!(
        made_default.body().contains("Default method changed"),
        "{}",
        made_default.body()
    );
    let fresh = Browser::new(&server);
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let landing = fresh.sign_in(&url, "ana", PASSWORD).await;
    let body = landing.body().to_owned();
    assert!(body.contains("Use your passkey"), "{body}");
    assert!(body.contains("Sign in another way"));
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(amr, ["pwd", "hwk", "mfa"], "{claims}");
    let entry = last_signin(&server, "ana").await;
    assert_eq!(entry.result, SignInResult::Success);
    assert!(
        steps_text(&entry)
            .contains("passkey 'Laptop key' (device-bound) accepted with user verification"),
        "{}",
        steps_text(&entry)
    );
    let used = passkeys_of(&server, "ana").await;
    assert!(used[0].last_used.is_some(), "last use recorded");

    // "Sign in another way" lists it once, beside the app.
    let other_browser = Browser::new(&server);
    let (body, _) = {
        let (url, v, _, _) = authorize_url(&server, &client, &[]);
        let landing = other_browser.sign_in(&url, "ana", PASSWORD).await;
        (landing.body().to_owned(), v)
    };
    let flow = attr(&body, "action").unwrap().replace("/passkey", "");
    let ways = other_browser
        .open(&server.url(&format!("{flow}/other")))
        .await;
    assert_eq!(
        ways.body().matches("Use a passkey or security key").count(),
        1,
        "{}",
        ways.body()
    );
    assert!(ways.body().contains("Use a code from my authenticator app"));
    server.stop().await;
}

async fn passwordless_from_the_first_page(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (browser, _) = signed_in_with_app(&server, "ben").await;
    let mut key = TestKey::new().model(YUBIKEY);
    let landing = browser.add_passkey(&server, &mut key, None).await;
    assert!(
        landing.body().contains("YubiKey 5 NFC"),
        "named after the model: {}",
        landing.body()
    );

    let (fresh, body, verifier) = first_page(&server, &client).await;
    assert!(
        body.contains(r#"autocomplete="username webauthn""#),
        "autofill: {body}"
    );
    assert!(body.contains("Sign in with a passkey"));
    assert!(
        body.contains(r#"name="password""#),
        "the password form stays for pages without JavaScript"
    );
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(
        claims["amr"],
        json!(["hwk", "mfa"]),
        "no password, two factors: {claims}"
    );
    let user = server
        .store()
        .find_user_by_username("ben")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sub"], user.id.as_str());
    let entry = last_signin(&server, "ben").await;
    assert!(
        steps_text(&entry).contains("signed in without a password"),
        "{}",
        steps_text(&entry)
    );

    // A synced passkey says so: swk.
    let mut synced = TestKey::new().model(GPM).synced();
    browser.add_passkey(&server, &mut synced, None).await;
    let (fresh, body, verifier) = first_page(&server, &client).await;
    let landing = fresh.use_passkey(&server, &body, &mut synced, None).await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], json!(["swk", "mfa"]), "{claims}");
    server.stop().await;
}

async fn refusals_explain_themselves(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (browser, _) = signed_in_with_app(&server, "cy").await;
    let mut key = TestKey::new();
    browser
        .add_passkey(&server, &mut key, Some("Phone passkey"))
        .await;

    // A counter that goes back: a copy of the key.
    let (fresh, body, _) = first_page(&server, &client).await;
    fresh
        .use_passkey(&server, &body, &mut key, None)
        .await
        .app_url();
    key.counter -= 1;
    let (fresh, body, _) = first_page(&server, &client).await;
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    let page = landing.body();
    assert_eq!(shown_error(page), Some(990015), "{page}");
    assert!(page.contains("looks like a copy"), "{page}");
    assert!(page.contains("Request Id") && page.contains("Correlation Id"));
    let entry = last_signin(&server, "cy").await;
    assert_eq!(entry.result, SignInResult::Failure);
    assert!(
        steps_text(&entry)
            .contains("passkey signature counter went backwards: possible cloned authenticator"),
        "{}",
        steps_text(&entry)
    );
    assert_eq!(
        entry.steps.last().unwrap().reason,
        Some(StepReason::PasskeyCounterWentBack)
    );
    key.counter += 5;

    // No user verification.
    key.verifies_user = false;
    let (fresh, body, _) = first_page(&server, &client).await;
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    assert!(
        landing.body().contains("did not ask for your fingerprint"),
        "{}",
        landing.body()
    );
    let entry = last_signin(&server, "cy").await;
    assert!(
        steps_text(&entry).contains("user verification not performed"),
        "{}",
        steps_text(&entry)
    );
    key.verifies_user = true;

    // A bad signature, then the same answer again (single use).
    key.forge_signature = true;
    let (fresh, body, _) = first_page(&server, &client).await;
    let options = fresh.passkey_options(&body).await;
    let forged = key.get(&server, &options);
    let landing = fresh.answer_passkey(&body, &forged, None).await;
    assert_eq!(shown_error(landing.body()), Some(990015));
    let replayed = fresh.answer_passkey(&body, &forged, None).await;
    assert!(
        replayed.body().contains("had expired"),
        "{}",
        replayed.body()
    );
    let good_after = key.get(&server, &options);
    let landing = fresh.answer_passkey(&body, &good_after, None).await;
    assert!(
        landing.body().contains("had expired"),
        "a used ceremony is gone even for a right answer"
    );

    // Removed from Security info: refused, and the helpdesk is told so.
    let security = browser.open(&server.url("/account/security")).await;
    let id = passkeys_of(&server, "cy").await[0].id.clone();
    let csrf = hidden(security.body(), "csrf").unwrap();
    let removed = browser
        .submit(
            &server.url("/account/security/remove"),
            &[("csrf", &csrf), ("method", &id)],
        )
        .await;
    assert!(
        removed.body().contains("Method removed"),
        "{}",
        removed.body()
    );
    let (fresh, body, _) = first_page(&server, &client).await;
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    assert!(
        landing.body().contains("not registered to an account here"),
        "{}",
        landing.body()
    );
    let entries = server.store().list_signins(1).await.unwrap();
    assert!(
        steps_text(&entries[0]).contains("this passkey was removed"),
        "{}",
        steps_text(&entries[0])
    );
    server.stop().await;
}

async fn registration_rules(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (browser, _) = signed_in_with_app(&server, "dee").await;
    let mut key = TestKey::new();
    browser.add_passkey(&server, &mut key, None).await;

    // The page's options exclude it: a browser refuses. A client that ignores that is refused by
    // the server (one credential, one account).
    let page = browser.open(&server.url("/account/security/passkey")).await;
    let options = browser.passkey_options(page.body()).await;
    let excluded: Vec<&str> = options["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    let id = data_encoding::BASE64URL_NOPAD.encode(&key.credential_id);
    assert_eq!(excluded, [id.as_str()]);
    let mut options_without = options.clone();
    options_without["publicKey"]["excludeCredentials"] = json!([]);
    let again = key.create(&server, &options_without);
    let landing = browser.answer_passkey(page.body(), &again, None).await;
    assert!(
        landing.body().contains("already registered"),
        "{}",
        landing.body()
    );
    assert_eq!(passkeys_of(&server, "dee").await.len(), 1);

    // Registration needs user verification (the library's passkey profile).
    let mut no_pin = TestKey::new();
    no_pin.verifies_user = false;
    let landing = browser.add_passkey(&server, &mut no_pin, None).await;
    assert_eq!(
        shown_error(landing.body()),
        Some(990015),
        "{}",
        landing.body()
    );
    assert_eq!(passkeys_of(&server, "dee").await.len(), 1);
    server.stop().await;
}

async fn policy_refusals_name_the_rule(backend: Backend) {
    let server = TestServer::start_localhost(backend, |c| {
        c.passkeys.allow_synced = false;
        c.passkeys.aaguid_block = vec![YUBIKEY.into()];
        c.passkeys.passwordless = false;
    })
    .await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (browser, _) = signed_in_with_app(&server, "eve").await;
    let landing = browser
        .add_passkey(&server, &mut TestKey::new().model(GPM).synced(), None)
        .await;
    assert_eq!(
        shown_error(landing.body()),
        Some(990016),
        "{}",
        landing.body()
    );
    assert!(
        landing.body().contains("passkeys.allow_synced = false"),
        "{}",
        landing.body()
    );
    let landing = browser
        .add_passkey(&server, &mut TestKey::new().model(YUBIKEY), None)
        .await;
    assert!(
        landing.body().contains("passkeys.aaguid_block"),
        "{}",
        landing.body()
    );
    assert!(passkeys_of(&server, "eve").await.is_empty());
    let mut allowed = TestKey::new();
    assert!(
        browser
            .add_passkey(&server, &mut allowed, None)
            .await
            .body()
            .contains("Passkey added")
    );

    // Passwordless off: no passkey form on the first page, and a hand-made answer is refused.
    let (fresh, body, _) = first_page(&server, &client).await;
    assert!(!body.contains("data-passkey"), "{body}");
    assert!(body.contains(r#"autocomplete="username""#));
    let flow = attr(&body, "action").unwrap();
    let landing = fresh
        .submit(
            &server.url(&format!("{flow}/passkey")),
            &[
                ("csrf", &hidden(&body, "csrf").unwrap()),
                ("credential", "{}"),
            ],
        )
        .await;
    assert_eq!(
        shown_error(landing.body()),
        Some(990016),
        "{}",
        landing.body()
    );
    assert!(landing.body().contains("passkeys.passwordless = false"));
    server.stop().await;

    // Attestation required: the maker's root is trusted for YubiKeys only.
    let maker = Maker::new("Yubico-like");
    let roots = std::env::temp_dir().join(format!(
        "postern-roots-{}",
        postern_core::random::token(&postern_core::random::OsRandom, 6)
    ));
    std::fs::create_dir_all(&roots).unwrap();
    let root = maker.root_file(&roots);
    let strict = TestServer::start_localhost(backend, |c| {
        c.passkeys.require_attestation = true;
        c.passkeys.attestation_roots = vec![root.clone()];
        c.passkeys.aaguid_allow = vec![YUBIKEY.into()];
    })
    .await;
    let (browser, _) = signed_in_with_app(&strict, "fin").await;
    let page = browser.open(&strict.url("/account/security/passkey")).await;
    let options = browser.passkey_options(page.body()).await;
    assert_eq!(options["publicKey"]["attestation"], "direct", "{options}");
    let refused = [
        (TestKey::new().model(YUBIKEY), "no attestation at all"),
        (
            Maker::new("Someone else").attest(TestKey::new().model(YUBIKEY)),
            "a maker not trusted here",
        ),
        (
            maker.attest(TestKey::new().model(GPM)),
            "a model the maker may not attest here",
        ),
    ];
    for (mut key, why) in refused {
        let landing = browser.add_passkey(&strict, &mut key, None).await;
        let body = landing.body();
        assert_eq!(shown_error(body), Some(990016), "{why}: {body}");
        assert!(
            body.contains("passkeys.require_attestation"),
            "{why}: {body}"
        );
    }
    let mut genuine = maker.attest(TestKey::new().model(YUBIKEY));
    let landing = browser.add_passkey(&strict, &mut genuine, None).await;
    assert!(
        landing.body().contains("Passkey added"),
        "{}",
        landing.body()
    );
    let stored = passkeys_of(&strict, "fin").await;
    assert!(
        matches!(
            &stored[0].secret,
            postern_core::credential::method::MethodSecret::Passkey {
                attested: true,
                aaguid: Some(a),
                ..
            } if a == YUBIKEY
        ),
        "{:?}",
        stored[0].secret
    );
    let (client, _) = strict
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (fresh, body, verifier) = first_page(&strict, &client).await;
    let landing = fresh.use_passkey(&strict, &body, &mut genuine, None).await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&strict, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));
    strict.stop().await;
    let _ = std::fs::remove_dir_all(&roots);
}

async fn the_registration_interrupt_offers_a_passkey(backend: Backend) {
    let server = TestServer::start_localhost(backend, |c| {
        c.policy.mfa = postern_core::policy::MfaPolicy::Required;
    })
    .await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("gus").await;
    let browser = Browser::new(&server);
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let landing = browser.sign_in(&url, "gus", PASSWORD).await;
    let (flow_url, body) = landing.page();
    assert!(body.contains("Create a passkey on this device"), "{body}");
    let page = browser.open(&format!("{flow_url}?setup=passkey")).await;
    let mut key = TestKey::new();
    let landing = browser
        .use_passkey(&server, page.body(), &mut key, Some("Laptop"))
        .await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]), "{claims}");
    let entry = last_signin(&server, "gus").await;
    assert!(
        steps_text(&entry).contains("passkey 'Laptop' registered"),
        "{}",
        steps_text(&entry)
    );
    server.stop().await;
}

async fn wrong_answers_count_in_the_second_step_lockout(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (browser, _) = signed_in_with_app(&server, "hal").await;
    let mut key = TestKey::new();
    browser.add_passkey(&server, &mut key, None).await;
    let threshold = server.config.lockout.second_factor_threshold;

    // Without a password, junk sent in the passkey's name locks nothing (anyone who knows a
    // credential id could send it): the owner still signs in.
    for _ in 0..threshold + 1 {
        key.forge_signature = true;
        let (fresh, body, _) = first_page(&server, &client).await;
        let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
        assert_eq!(shown_error(landing.body()), Some(990015));
    }
    let (fresh, body, _) = first_page(&server, &client).await;
    fresh
        .use_passkey(&server, &body, &mut key, None)
        .await
        .app_url();

    // After the password, every bad answer counts.
    let passkey_id = passkeys_of(&server, "hal").await[0].id.clone();
    let prompt = |browser: Browser| {
        let (server, client, passkey_id) = (&server, &client, &passkey_id);
        async move {
            let (url, _, _, _) = authorize_url(server, client, &[]);
            let landing = browser.sign_in(&url, "hal", PASSWORD).await;
            let flow_url = landing.page().0.to_owned();
            let page = browser
                .open(&format!("{flow_url}?method={passkey_id}"))
                .await;
            (browser, page.body().to_owned())
        }
    };
    let mut locked = false;
    for _ in 0..threshold + 1 {
        key.forge_signature = true;
        let (b, body) = prompt(Browser::new(&server)).await;
        if !body.contains("Use your passkey") {
            continue;
        }
        let landing = b.use_passkey(&server, &body, &mut key, None).await;
        if shown_error(landing.body()) == Some(990008) {
            locked = true;
            break;
        }
    }
    assert!(
        locked,
        "bad passkey answers after the password lock the second step"
    );
    let (fresh, body, _) = first_page(&server, &client).await;
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    assert_eq!(
        shown_error(landing.body()),
        Some(990008),
        "locked: a right answer without a password waits too"
    );
    server.stop().await;
}

/// A passkey named after its model is renamed by its owner ("editable"); a blank name, another
/// user's method and recovery codes change nothing.
async fn a_passkey_is_renamed(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (browser, _) = signed_in_with_app(&server, "rae").await;
    let landing = browser
        .add_passkey(&server, &mut TestKey::new().model(YUBIKEY), None)
        .await;
    assert!(
        landing.body().contains("Rename it below"),
        "{}",
        landing.body()
    );
    let passkey = passkeys_of(&server, "rae").await.remove(0);
    let model = passkey.name.clone();
    assert!(model.contains("YubiKey"), "named after its model: {model}");
    assert!(
        landing
            .body()
            .contains(&format!("aria-label=\"Rename {model}\"")),
        "{}",
        landing.body()
    );
    let csrf = hidden(landing.body(), "csrf").unwrap();
    let rename = async |method: &str, name: &str| {
        browser
            .submit(
                &server.url("/account/security/rename"),
                &[("csrf", &csrf), ("method", method), ("name", name)],
            )
            .await
    };

    let renamed = rename(&passkey.id, "  Keyring key\u{7}  ").await;
    assert!(
        renamed.body().contains("Method renamed"),
        "{}",
        renamed.body()
    );
    assert!(
        renamed.body().contains("<strong>Keyring key</strong>"),
        "{}",
        renamed.body()
    );
    assert_eq!(passkeys_of(&server, "rae").await[0].name, "Keyring key");

    let blank = rename(&passkey.id, "   ").await;
    assert!(
        blank.body().contains("Give the method a name"),
        "{}",
        blank.body()
    );
    assert_eq!(passkeys_of(&server, "rae").await[0].name, "Keyring key");

    // Another user's passkey is not this user's to rename.
    let (other, _) = signed_in_with_app(&server, "sol").await;
    other.add_passkey(&server, &mut TestKey::new(), None).await;
    let theirs = passkeys_of(&server, "sol").await.remove(0);
    rename(&theirs.id, "Mine now").await;
    assert_eq!(passkeys_of(&server, "sol").await[0].name, theirs.name);

    let codes = browser.create_recovery_codes(&server).await;
    assert_eq!(codes.len(), 10);
    let user = server
        .store()
        .find_user_by_username("rae")
        .await
        .unwrap()
        .unwrap();
    let recovery = server
        .store()
        .list_methods(&user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.kind() == MethodKind::RecoveryCodes)
        .unwrap();
    let refused = rename(&recovery.id, "Spare codes").await;
    assert!(
        refused.body().contains("Recovery codes cannot be renamed"),
        "{}",
        refused.body()
    );
    assert_eq!(
        server
            .store()
            .find_method(&user.id, &recovery.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        recovery.name
    );
    server.stop().await;
}

crate::on_both_backends!(
    the_soft_passkey_registers_and_is_the_second_step,
    passwordless_from_the_first_page,
    refusals_explain_themselves,
    registration_rules,
    policy_refusals_name_the_rule,
    the_registration_interrupt_offers_a_passkey,
    wrong_answers_count_in_the_second_step_lockout,
    a_passkey_is_renamed,
);

/// The helpdesk sees passkeys among the methods (API, `postern admin`'s data, the diagnosis) and
/// reads a cloned passkey's sign-in in plain words, from the request id on the user's page.
async fn the_helpdesk_sees_passkeys_and_reads_why(backend: Backend) {
    let server = TestServer::start_localhost(backend, |_| {}).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (browser, _) = signed_in_with_app(&server, "ivy").await;
    let mut key = TestKey::new().model(YUBIKEY);
    browser.add_passkey(&server, &mut key, None).await;
    let (token, _) =
        create_admin_token(&server, "desk", postern_core::admin::Role::Helpdesk, None).await;
    let http = reqwest::Client::new();
    let methods: Value = http
        .get(server.url("/admin/v1/users/ivy/authentication/methods"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let passkey = methods
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "passkey")
        .expect("a passkey among the methods");
    assert_eq!(passkey["name"], "YubiKey 5 NFC");
    assert_eq!(passkey["model"], "YubiKey 5 NFC");
    assert_eq!(passkey["aaguid"], YUBIKEY);
    assert_eq!(passkey["synced"], false);

    let (fresh, body, _) = first_page(&server, &client).await;
    fresh
        .use_passkey(&server, &body, &mut key, None)
        .await
        .app_url();
    key.counter = 0;
    let (fresh, body, _) = first_page(&server, &client).await;
    let landing = fresh.use_passkey(&server, &body, &mut key, None).await;
    let Landing::Page { request_id, .. } = &landing else {
        panic!("a page");
    };
    let diagnosis: Value = http
        .get(server.url(&format!("/admin/v1/signins/{request_id}/diagnosis")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cause = diagnosis["cause"].to_string();
    assert!(
        cause.contains("possible cloned authenticator"),
        "{diagnosis}"
    );
    assert!(
        diagnosis
            .to_string()
            .contains("Treat the passkey as compromised"),
        "{diagnosis}"
    );
    server.stop().await;
}

crate::on_both_backends!(the_helpdesk_sees_passkeys_and_reads_why);
