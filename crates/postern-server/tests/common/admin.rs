//! Admin API tokens, made in the store (the bootstrap) or through the API.

use super::*;

// Admin API tokens.

/// Makes an admin API token of `role` directly in the store (the bootstrap: the first token of a
/// deployment comes from `postern admin token create` on the server); returns the bearer secret
/// (`pat_…`) and the stored token. `expires_in: None` never expires.
pub async fn create_admin_token(
    server: &TestServer,
    name: &str,
    role: postern_core::admin::Role,
    expires_in: Option<time::Duration>,
) -> (String, postern_core::admin::AdminToken) {
    let secret = format!(
        "{}{}",
        postern_core::admin::TOKEN_PREFIX,
        random::token(&OsRandom, 32)
    );
    let now = server.clock.now();
    let token = postern_core::admin::AdminToken {
        id: random::uuid(&OsRandom),
        name: name.to_owned(),
        role,
        created: now,
        expires: expires_in.map(|d| now + d),
        revoked: None,
        last_used: None,
        created_by: "test set-up".into(),
    };
    server
        .store()
        .create_admin_token(&token, &hash_token(&secret))
        .await
        .unwrap();
    (secret, token)
}

/// Makes a token through `POST /admin/v1/tokens` with an admin token's bearer secret, as every
/// token after the first is made; returns the new bearer secret and the API's answer.
pub async fn create_admin_token_via_api(
    server: &TestServer,
    admin_secret: &str,
    name: &str,
    role: postern_core::admin::Role,
) -> (String, Value) {
    let res = reqwest::Client::new()
        .post(server.url("/admin/v1/tokens"))
        .bearer_auth(admin_secret)
        .json(&serde_json::json!({ "name": name, "role": role }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "token creation refused");
    let body: Value = res.json().await.unwrap();
    let secret = body["token"]
        .as_str()
        .expect("the token, shown once")
        .to_owned();
    (secret, body)
}
