//! Passwordless sign-ins with a passkey, end to end: the users and their keys, and one sign-in.
//!
//! The keys are `TestKey`s (`crates/postern-server/tests/common/test_key.rs`, shared with the
//! integration tests): software authenticators written from the WebAuthn and CTAP2 texts alone,
//! independent of the server's WebAuthn library, that verify the user and store a discoverable
//! credential. A key's signature counter must only go up, so each browser has its own user and
//! key: parallel sign-ins never contend for one passkey row.
//!
//! Every key is registered through the pages while the server runs, as a person would: the user
//! (seeded without a method, like `totp`'s enrolled user) signs in at Security info with the
//! password, adds an authenticator app (changing sign-in methods needs a session that proved a
//! second factor), opens `/account/security/passkey`, posts its form's `csrf` to the form's
//! `data-passkey-options` for the creation options, and posts the key's new credential to the
//! form's action.
//!
//! A sign-in: `GET /authorize` (PKCE) → `GET /signin/{flow}` (its `data-passkey="passwordless"`
//! form) → `POST` the options URL with `csrf` (JSON with a challenge) → the key signs it → `POST`
//! `csrf` and `credential` to the form's action → 303 to the application with a code → `POST
//! /token`. It counts only if the ID token's `amr` is `["hwk","mfa"]`: no password, two factors.

use crate::browser::{self, App};
use crate::test_key::TestKey;
use serde_json::Value;
use std::sync::Mutex;

/// The server's WebAuthn relying party as a browser derives it from the page's origin.
pub struct Rp {
    pub origin: String,
    pub id: String,
}

impl Rp {
    pub fn of(issuer: &str) -> Result<Rp, String> {
        let url = url::Url::parse(issuer).map_err(|e| format!("issuer '{issuer}': {e}"))?;
        Ok(Rp {
            origin: url.origin().ascii_serialization(),
            id: url.host_str().unwrap_or_default().to_owned(),
        })
    }
}

/// What the pages' script does first: posts the form's `csrf` to its options URL; the JSON.
async fn options(
    http: &reqwest::Client,
    issuer: &str,
    url: &str,
    csrf: &str,
    cookie: Option<&str>,
) -> Result<Value, String> {
    let mut req = http
        .post(format!("{issuer}{url}"))
        .header("origin", issuer)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", csrf)]);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res = req
        .send()
        .await
        .map_err(|e| browser::sent("passkey options", e))?;
    if res.status() != 200 {
        return Err(browser::unexpected("passkey options", res).await);
    }
    res.json()
        .await
        .map_err(|e| browser::sent("passkey options", e))
}

/// Adds an authenticator app and then a passkey on `key` for `username` at Security info.
pub async fn register(
    issuer: &str,
    rp: &Rp,
    username: &str,
    password: &str,
    key: &mut TestKey,
) -> Result<(), String> {
    let (http, _app) = crate::totp::enroll_and_stay(issuer, username, password).await?;
    let res = http
        .get(format!("{issuer}/account/security/passkey"))
        .send()
        .await
        .map_err(|e| browser::sent("add a passkey", e))?;
    let body = res.text().await.unwrap_or_default();
    let form = browser::passkey_form(&body, "register").ok_or("add a passkey: no passkey form")?;
    let csrf = browser::between(&body, "name=\"csrf\" value=\"", "\"")
        .ok_or("add a passkey: no csrf")?
        .to_owned();
    let creation = options(&http, issuer, &form.options, &csrf, None).await?;
    let credential = key.register(&rp.origin, &rp.id, &creation);
    let res = http
        .post(format!("{issuer}{}", form.action))
        .header("origin", issuer)
        .form(&[
            ("csrf", csrf.as_str()),
            ("credential", credential.as_str()),
            ("name", "Bench key"),
        ])
        .send()
        .await
        .map_err(|e| browser::sent("new passkey", e))?;
    if res.url().query() != Some("notice=passkey-added") {
        return Err(browser::unexpected("new passkey", res).await);
    }
    Ok(())
}

/// The `amr` of the ID token in a token response.
fn amr_of(tokens: &str) -> Result<Vec<String>, String> {
    let tokens: Value = serde_json::from_str(tokens).map_err(|e| format!("token response: {e}"))?;
    let payload = tokens["id_token"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .ok_or("token response: no ID token")?;
    let claims: Value = data_encoding::BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or("ID token: payload is not base64url JSON")?;
    Ok(claims["amr"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// One complete sign-in with `key` from the first page, without a password.
pub async fn sign_in(
    http: &reqwest::Client,
    app: &App,
    rp: &Rp,
    key: &Mutex<TestKey>,
) -> Result<(), String> {
    let started = browser::start(http, app).await?;
    let form = started
        .passwordless
        .as_ref()
        .ok_or("sign-in page: no passwordless passkey form")?;
    let request = options(
        http,
        &app.issuer,
        &form.options,
        &started.csrf,
        Some(&started.cookie),
    )
    .await?;
    let credential = key
        .lock()
        .map_err(|_| "a key's lock was poisoned")?
        .sign(&rp.origin, &rp.id, &request);
    let res = http
        .post(format!("{}{}", app.issuer, form.action))
        .header("origin", &app.origin)
        .header("cookie", &started.cookie)
        .form(&[
            ("csrf", started.csrf.as_str()),
            ("credential", credential.as_str()),
        ])
        .send()
        .await
        .map_err(|e| browser::sent("passkey", e))?;
    let Some(code) = browser::code_in(app, &browser::location(&res)) else {
        return Err(browser::unexpected("passkey", res).await);
    };
    let tokens = browser::redeem_for_tokens(http, app, &code, &started.verifier).await?;
    let amr = amr_of(&tokens)?;
    if amr != ["hwk", "mfa"] {
        return Err(format!("ID token: amr {amr:?}, not [\"hwk\", \"mfa\"]"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_amr_of_an_id_token() {
        let payload = data_encoding::BASE64URL_NOPAD.encode(br#"{"sub":"u","amr":["hwk","mfa"]}"#);
        let tokens = format!(r#"{{"id_token":"e30.{payload}.sig","token_type":"Bearer"}}"#);
        assert_eq!(amr_of(&tokens).unwrap(), ["hwk", "mfa"]);
    }

    #[test]
    fn finds_the_passwordless_form() {
        let body = r#"<form method="post" action="&#x2f;signin&#x2f;F">
<input type="hidden" name="csrf" value="C"></form>
<form method="post" action="&#x2f;signin&#x2f;F&#x2f;passkey" data-passkey="passwordless" data-passkey-options="&#x2f;signin&#x2f;F&#x2f;passkey&#x2f;options">"#;
        let form = browser::passkey_form(body, "passwordless").unwrap();
        assert_eq!(form.action, "/signin/F/passkey");
        assert_eq!(form.options, "/signin/F/passkey/options");
        assert!(browser::passkey_form(body, "register").is_none());
    }
}
