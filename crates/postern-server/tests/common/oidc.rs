//! The application's side of OpenID Connect: authorization URLs with PKCE and redeeming codes.

use super::*;

/// An authorization URL for `client` with PKCE; returns (url, verifier, state, nonce).
pub fn authorize_url(
    server: &TestServer,
    client: &Client,
    extra: &[(&str, &str)],
) -> (String, String, String, String) {
    authorize_url_at(server.issuer(), client, extra)
}

/// [`authorize_url`] at `issuer` (for tests that talk to nodes they did not start themselves).
pub fn authorize_url_at(
    issuer: &str,
    client: &Client,
    extra: &[(&str, &str)],
) -> (String, String, String, String) {
    let verifier = random::token(&OsRandom, 32);
    let state = random::token(&OsRandom, 8);
    let nonce = random::token(&OsRandom, 8);
    let challenge = postern_core::oidc::pkce::challenge_s256(&verifier);
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &client.redirect_uris[0])
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    (
        format!("{issuer}/authorize?{}", q.finish()),
        verifier,
        state,
        nonce,
    )
}

/// Redeems a code with a confidential client's Basic credentials (or as a public client).
pub async fn redeem(
    server: &TestServer,
    client: &Client,
    secret: Option<&str>,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let http = reqwest::Client::new();
    let mut req = http.post(server.url("/token"));
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", client.redirect_uris[0].clone()),
        ("code_verifier", verifier.to_owned()),
    ];
    match secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => form.push(("client_id", client.id.clone())),
    }
    req.form(&form).send().await.unwrap()
}
