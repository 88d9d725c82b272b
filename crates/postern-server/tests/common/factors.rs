//! Second factors as a user meets them: authenticator apps, recovery codes, the sign-in log.

use super::*;

/// The `otpauth://` URI an enrollment page carries in its `data-otpauth-uri` attribute.
pub fn otpauth_uri(body: &str) -> String {
    unescape(&attr(body, "data-otpauth-uri").expect("a data-otpauth-uri attribute"))
}

/// An authenticator app, as an independent implementation (the `totp-rs` crate) set up from the
/// `otpauth://` URI exactly as a phone app would scan it.
pub struct AuthenticatorApp(pub totp_rs::Totp);

impl AuthenticatorApp {
    pub fn scan(uri: &str) -> AuthenticatorApp {
        AuthenticatorApp(totp_rs::Totp::from_url(uri).expect("a standard otpauth URI"))
    }

    /// The code the app shows at the server's current time (plus `offset`).
    pub fn code(&self, server: &TestServer, offset: time::Duration) -> String {
        let now = (server.clock.now() + offset).unix_timestamp() as u64;
        self.0.generate(now).to_string()
    }
}

/// The values of every `data-recovery-code` element.
pub fn recovery_codes(body: &str) -> Vec<String> {
    body.split("<code data-recovery-code>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</code>").map(|(code, _)| code.to_owned()))
        .collect()
}

impl Browser {
    /// Adds an authenticator app from Security info (the browser must be signed in); returns it.
    pub async fn add_authenticator(&self, server: &TestServer) -> AuthenticatorApp {
        let page = self.open(&server.url("/account/security/totp")).await;
        let body = page.body();
        assert!(body.contains("Secret key"), "{body}");
        let app = AuthenticatorApp::scan(&otpauth_uri(body));
        let landing = self
            .submit(
                &server.url("/account/security/totp"),
                &[
                    ("csrf", &hidden(body, "csrf").unwrap()),
                    ("enrollment", &hidden(body, "enrollment").unwrap()),
                    ("name", "Phone"),
                    ("code", &app.code(server, time::Duration::ZERO)),
                ],
            )
            .await;
        assert!(
            landing.body().contains("Authenticator app added"),
            "{}",
            landing.body()
        );
        app
    }

    /// Makes a new set of recovery codes from Security info; returns them.
    pub async fn create_recovery_codes(&self, server: &TestServer) -> Vec<String> {
        let page = self.open(&server.url("/account/security")).await;
        let csrf = hidden(page.body(), "csrf").unwrap();
        let landing = self
            .submit(
                &server.url("/account/security/recovery-codes"),
                &[("csrf", &csrf)],
            )
            .await;
        let codes = recovery_codes(landing.body());
        assert_eq!(codes.len(), 10, "{}", landing.body());
        codes
    }

    /// Answers a second-factor prompt page with `code`.
    pub async fn submit_code(&self, body: &str, code: &str, remember: bool) -> Landing {
        let action = format!("{}{}", self.issuer, attr(body, "action").expect("a form"));
        let mut form = vec![
            ("csrf", hidden(body, "csrf").expect("a csrf field")),
            ("method", hidden(body, "method").expect("a method field")),
            ("code", code.to_owned()),
        ];
        if remember {
            form.push(("remember", "yes".to_owned()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.submit(&action, &form).await
    }
}

// Second factors.

/// One TOTP time step.
pub const STEP: time::Duration = time::Duration::seconds(30);

/// Redeems a public client's code and returns the claims of the ID token it gets.
pub async fn signed_in_claims(
    server: &TestServer,
    client: &Client,
    code: &str,
    verifier: &str,
) -> Value {
    let tokens: Value = redeem(server, client, None, code, verifier)
        .await
        .json()
        .await
        .unwrap();
    id_token_claims(&tokens)
}

/// The claims of an ID token (its signature is checked by the OIDC tests).
pub fn id_token_claims(tokens: &Value) -> Value {
    let jwt = tokens["id_token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .unwrap(),
    )
    .unwrap()
}

/// A user with an authenticator app added through Security info (after a password-only sign-in
/// under `when_registered`), and a fresh browser.
pub async fn user_with_app(server: &TestServer, name: &str) -> AuthenticatorApp {
    server.create_user(name).await;
    let setup = Browser::new(server);
    let landing = setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    assert!(
        landing.body().contains("Security info"),
        "{}",
        landing.body()
    );
    let app = setup.add_authenticator(server).await;
    // The enrollment code's time step is used up; sign-ins use the next codes.
    server.advance(STEP);
    app
}

/// The most recent sign-in log entry of `username`.
pub async fn last_signin(server: &TestServer, username: &str) -> SignInEntry {
    server
        .store()
        .list_signins(50)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.username.as_deref() == Some(username))
        .expect("a sign-in log entry")
}

/// The words of every step of an entry, one per line.
pub fn steps_text(entry: &SignInEntry) -> String {
    entry
        .steps
        .iter()
        .map(|s| format!("{} {} {}", s.method, s.result.as_str(), s.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The id of the user's recovery-code set.
pub async fn recovery_method_id(server: &TestServer, username: &str) -> String {
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
        .find(|m| m.kind() == postern_core::credential::method::MethodKind::RecoveryCodes)
        .unwrap()
        .id
}

/// Signs `username` in to `client` up to the second-factor prompt; returns its body and the
/// PKCE verifier.
pub async fn prompt_for(
    server: &TestServer,
    browser: &Browser,
    client: &postern_core::client::Client,
    username: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (url, verifier, _, _) = authorize_url(server, client, extra);
    let landing = browser.sign_in(&url, username, PASSWORD).await;
    let body = landing.body().to_owned();
    assert!(
        body.contains("name=\"method\""),
        "expected a second-factor prompt: {body}"
    );
    (body, verifier)
}
