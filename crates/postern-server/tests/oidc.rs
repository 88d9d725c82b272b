//! The OpenID Connect provider driven by an independent relying party (the `openidconnect`
//! crate) and by raw HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Browser, Landing, TestServer, authorize_url, query_param, redeem};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use postern_core::client::ClientKind;
use postern_core::oidc::jws::{SigningAlg, verify_with_jwks};
use serde_json::Value;

/// The relying party's HTTP client: reqwest underneath, no redirects followed.
async fn rp_http(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, RpError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(RpError::from)?;
    let (parts, body) = req.into_parts();
    let mut builder = http.request(parts.method, parts.uri.to_string()).body(body);
    for (k, v) in &parts.headers {
        builder = builder.header(k, v);
    }
    let res = builder.send().await?;
    let mut out = axum::http::Response::builder().status(res.status());
    for (k, v) in res.headers() {
        out = out.header(k, v);
    }
    let bytes = res.bytes().await?.to_vec();
    out.body(bytes).map_err(|e| RpError(e.to_string()))
}

#[derive(Debug)]
struct RpError(String);
impl std::fmt::Display for RpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for RpError {}
impl From<reqwest::Error> for RpError {
    fn from(e: reqwest::Error) -> Self {
        RpError(e.to_string())
    }
}

async fn jwks(server: &TestServer) -> Value {
    reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A full code flow with PKCE through the independent RP; the ID token is verified against the JWKS.
async fn code_flow_with_independent_rp(backend: Backend) {
    let server = TestServer::start(backend).await;
    let user = server.create_user("ada").await;
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let (client, secret) = server.create_client(ClientKind::Confidential, alg).await;
        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(server.issuer().to_owned()).unwrap(),
            &rp_http,
        )
        .await
        .expect("discovery");
        let rp = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.id.clone()),
            Some(ClientSecret::new(secret.unwrap())),
        )
        .set_redirect_uri(RedirectUrl::new(client.redirect_uris[0].clone()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let browser = Browser::new(&server);
        let landing = browser.sign_in(url.as_str(), "ada", common::PASSWORD).await;
        let back = landing.app_url();
        assert!(back.starts_with(&client.redirect_uris[0]));
        assert_eq!(
            query_param(back, "state").as_deref(),
            Some(csrf.secret().as_str())
        );
        assert_eq!(query_param(back, "iss").as_deref(), Some(server.issuer()));
        let code = query_param(back, "code").unwrap();

        let tokens = rp
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&rp_http)
            .await
            .expect("the code is redeemed");
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&rp.id_token_verifier(), &nonce)
            .expect("the ID token verifies against the JWKS");
        assert_eq!(
            claims.subject().as_str(),
            user.id,
            "sub is the stable id, not the username"
        );
        assert_eq!(
            claims.email().map(|e| e.as_str()),
            Some("ada@school.example")
        );
        assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("ada"));
        let amr: Vec<String> = claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        assert_eq!(amr, vec!["pwd"]);
        assert!(claims.auth_time().is_some());
        assert_eq!(
            claims.auth_context_ref().map(|a| a.as_str()),
            Some("urn:postern:acr:1fa")
        );

        // The access token is an RFC 9068 JWT that a resource server can check offline.
        let at = tokens.access_token().secret();
        let decoded = verify_with_jwks(at, &jwks(&server).await).unwrap();
        assert_eq!(decoded.header["typ"], "at+jwt");
        assert_eq!(decoded.header["alg"], "ES256");
        assert_eq!(decoded.claims["sub"], user.id.as_str());
        assert_eq!(decoded.claims["client_id"], client.id.as_str());

        let info: Value = reqwest::Client::new()
            .get(server.url("/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sub"], user.id.as_str());
        assert_eq!(info["email"], "ada@school.example");
        assert!(tokens.refresh_token().is_some());
    }
    server.stop().await;
}

/// EdDSA ID tokens, per client.
async fn eddsa_id_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("eve").await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::EdDSA)
        .await;
    let (url, verifier, _, nonce) = authorize_url(&server, &client, &[]);
    let landing = Browser::new(&server)
        .sign_in(&url, "eve", common::PASSWORD)
        .await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let body: Value = redeem(&server, &client, secret.as_deref(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id = verify_with_jwks(body["id_token"].as_str().unwrap(), &jwks(&server).await).unwrap();
    assert_eq!(id.header["alg"], "EdDSA");
    assert_eq!(id.claims["nonce"], nonce.as_str());
    assert_eq!(id.claims["aud"], client.id.as_str());
    server.stop().await;
}

async fn refresh_rotation_and_reuse_detection(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("rio").await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(server.issuer().to_owned()).unwrap(),
        &rp_http,
    )
    .await
    .unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uris[0].clone()).unwrap());
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let landing = Browser::new(&server)
        .sign_in(&url, "rio", common::PASSWORD)
        .await;
    let code = query_param(landing.app_url(), "code").unwrap();
    let first: Value = redeem(&server, &client, secret.as_deref(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let second = rp
        .exchange_refresh_token(&RefreshToken::new(r1.clone()))
        .unwrap()
        .request_async(&rp_http)
        .await
        .expect("rotation");
    let r2 = second.refresh_token().unwrap().secret().clone();
    assert_ne!(r1, r2, "a new refresh token every time");
    assert!(second.id_token().is_some());

    // The old token again: reuse. The whole family is revoked, including the new token.
    let reuse = rp
        .exchange_refresh_token(&RefreshToken::new(r1))
        .unwrap()
        .request_async(&rp_http)
        .await;
    let text = format!("{reuse:?}");
    assert!(
        text.contains("invalid_grant") && text.contains("50173"),
        "{text}"
    );
    let after = rp
        .exchange_refresh_token(&RefreshToken::new(r2))
        .unwrap()
        .request_async(&rp_http)
        .await;
    assert!(
        after.is_err(),
        "the rotated token is revoked with its family"
    );
    let res = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(second.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "access tokens of a revoked family stop working"
    );
    server.stop().await;
}

async fn code_is_single_use_and_bound(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("cy").await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (code, verifier) = browser.code_for(&server, &client, "cy", &[]).await;

    // Wrong verifier first: refused, and the code is not consumed.
    let res = redeem(&server, &client, secret.as_deref(), &code, &"x".repeat(43)).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_codes"][0], 501481);

    let ok: Value = redeem(&server, &client, secret.as_deref(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = ok["refresh_token"].as_str().unwrap().to_owned();
    let again = redeem(&server, &client, secret.as_deref(), &code, &verifier).await;
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 54005);
    for field in [
        "error",
        "error_description",
        "timestamp",
        "trace_id",
        "correlation_id",
    ] {
        assert!(
            body.get(field).is_some(),
            "OAuth errors carry {field}: {body}"
        );
    }
    // error_uri is a URI: absolute, at the issuer.
    assert_eq!(
        body["error_uri"],
        format!("{}/error?code=54005", server.issuer())
    );
    // What the first redemption issued is revoked.
    let res = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(&client.id, secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // An expired code: 70008 (the clock moves instead of the test sleeping).
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let code = query_param(browser.open(&url).await.app_url(), "code").unwrap();
    server.advance(time::Duration::seconds(61));
    let body: Value = redeem(&server, &client, secret.as_deref(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error_codes"][0], 70008);
    server.stop().await;
}

async fn public_clients_need_pkce_s256(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("pat").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let base = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        server.issuer(),
        client.id,
        url::form_urlencoded::byte_serialize(client.redirect_uris[0].as_bytes())
            .collect::<String>()
    );
    for extra in [
        "",
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain",
    ] {
        let landing = browser.open(&format!("{base}{extra}")).await;
        let back = landing.app_url();
        assert_eq!(
            query_param(back, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query_param(back, "state").as_deref(), Some("s1"));
        assert!(
            query_param(back, "error_description")
                .unwrap()
                .contains("90100")
        );
    }
    let (code, verifier) = browser.code_for(&server, &client, "pat", &[]).await;
    let res = redeem(&server, &client, None, &code, &verifier).await;
    assert_eq!(
        res.status(),
        200,
        "a public client redeems with PKCE and no secret"
    );
    server.stop().await;
}

async fn client_credentials(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;
    let secret = secret.unwrap();
    let http = reqwest::Client::new();
    let basic: Value = http
        .post(server.url("/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "reports.read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = verify_with_jwks(
        basic["access_token"].as_str().unwrap(),
        &jwks(&server).await,
    )
    .unwrap();
    assert_eq!(at.claims["sub"], client.id.as_str());
    assert_eq!(at.claims["scope"], "reports.read");
    assert!(basic.get("refresh_token").is_none() && basic.get("id_token").is_none());

    let post = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200, "client_secret_post works too");

    let wrong = http
        .post(server.url("/token"))
        .basic_auth(&client.id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);

    let both = http
        .post(server.url("/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        both.status(),
        400,
        "two authentication methods at once are refused"
    );

    let unknown = http
        .post(server.url("/token"))
        .basic_auth("no-such-client", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        401,
        "unknown clients look like wrong secrets"
    );
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let (public, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let res = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", public.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    server.stop().await;
}

async fn revocation_and_introspection(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("ivy").await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;
    let secret = secret.unwrap();
    let (code, verifier) = Browser::new(&server)
        .code_for(&server, &client, "ivy", &[])
        .await;
    let tokens: Value = redeem(&server, &client, Some(&secret), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let (at, rt) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );
    let http = reqwest::Client::new();
    let introspect = |token: String| {
        let http = http.clone();
        let (id, secret, url) = (client.id.clone(), secret.clone(), server.url("/introspect"));
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let active = introspect(at.to_owned()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], client.id.as_str());
    assert_eq!(introspect(rt.to_owned()).await["active"], true);
    assert_eq!(introspect("garbage".into()).await["active"], false);

    for token in [at, rt] {
        let res = http
            .post(server.url("/revoke"))
            .basic_auth(&client.id, Some(&secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(introspect(at.to_owned()).await["active"], false);
    assert_eq!(introspect(rt.to_owned()).await["active"], false);
    let res = http
        .get(server.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let refresh = http
        .post(server.url("/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
    // Unknown tokens are answered 200 (RFC 7009).
    let res = http
        .post(server.url("/revoke"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await;
}

async fn single_sign_on_prompt_and_max_age(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("sam").await;
    let (hub, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (mail, _) = server
        .create_client(ClientKind::Public, SigningAlg::ES256)
        .await;
    let browser = Browser::new(&server);

    let (url, ..) = authorize_url(&server, &hub, &[("prompt", "none")]);
    let back = browser.open(&url).await;
    assert_eq!(
        query_param(back.app_url(), "error").as_deref(),
        Some("login_required")
    );
    assert!(
        query_param(back.app_url(), "error_description")
            .unwrap()
            .contains("50058")
    );

    let (url, ..) = authorize_url(&server, &hub, &[]);
    browser
        .sign_in(&url, "sam", common::PASSWORD)
        .await
        .app_url();
    // The mail app is not asked again, even silently.
    let (url, ..) = authorize_url(&server, &mail, &[("prompt", "none")]);
    assert!(query_param(browser.open(&url).await.app_url(), "code").is_some());
    // prompt=login always asks.
    let (url, ..) = authorize_url(&server, &mail, &[("prompt", "login")]);
    let landing = browser.open(&url).await;
    assert!(landing.page().0.contains("/signin/"));
    assert!(
        landing.body().contains("value=\"sam\""),
        "the username is prefilled"
    );
    // max_age: a fresh sign-in once the session's authentication is older.
    server.advance(time::Duration::minutes(10));
    let (url, ..) = authorize_url(&server, &mail, &[("max_age", "60")]);
    assert!(browser.open(&url).await.page().0.contains("/signin/"));
    let (url, ..) = authorize_url(&server, &mail, &[("max_age", "60"), ("prompt", "none")]);
    assert_eq!(
        query_param(browser.open(&url).await.app_url(), "error").as_deref(),
        Some("login_required")
    );
    server.stop().await;
}

async fn rp_initiated_logout(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("lou").await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (code, verifier) = browser.code_for(&server, &client, "lou", &[]).await;
    let tokens: Value = redeem(&server, &client, secret.as_deref(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    // An access token is not an ID token hint.
    let with_access = format!(
        "{}/logout?id_token_hint={}",
        server.issuer(),
        tokens["access_token"].as_str().unwrap()
    );
    assert!(browser.open(&with_access).await.body().contains("90100"));

    // An unregistered post-logout address never redirects.
    let bad = format!(
        "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        server.issuer()
    );
    let landing = browser.open(&bad).await;
    assert!(landing.body().contains("990003"));

    let good = format!(
        "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
        server.issuer(),
        url::form_urlencoded::byte_serialize(client.post_logout_redirect_uris[0].as_bytes())
            .collect::<String>()
    );
    let back = browser.open(&good).await;
    assert!(
        back.app_url()
            .starts_with(&client.post_logout_redirect_uris[0])
    );
    assert_eq!(query_param(back.app_url(), "state").as_deref(), Some("bye"));
    let (url, ..) = authorize_url(&server, &client, &[("prompt", "none")]);
    assert_eq!(
        query_param(browser.open(&url).await.app_url(), "error").as_deref(),
        Some("login_required"),
        "the session ended"
    );

    // Without a hint the user confirms with a form.
    let (url, ..) = authorize_url(&server, &client, &[]);
    browser
        .sign_in(&url, "lou", common::PASSWORD)
        .await
        .app_url();
    let confirm = browser.open(&server.url("/logout")).await;
    assert!(confirm.body().contains("Sign out?"));
    let csrf = common::hidden(confirm.body(), "csrf").unwrap();
    let done = browser
        .submit(&server.url("/logout"), &[("csrf", &csrf)])
        .await;
    assert!(done.body().contains("You have signed out"));
    assert!(
        matches!(browser.open(&authorize_url(&server, &client, &[("prompt", "none")]).0).await, Landing::App(u) if u.contains("login_required"))
    );
    server.stop().await;
}

on_both_backends!(
    code_flow_with_independent_rp,
    eddsa_id_tokens,
    refresh_rotation_and_reuse_detection,
    code_is_single_use_and_bound,
    public_clients_need_pkce_s256,
    client_credentials,
    revocation_and_introspection,
    single_sign_on_prompt_and_max_age,
    rp_initiated_logout,
);

#[tokio::test]
async fn discovery_and_jwks_publish_every_algorithm() {
    let server = TestServer::start(Backend::Sqlite).await;
    let d: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], server.issuer());
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["end_session_endpoint"], server.url("/logout"));
    let keys = jwks(&server).await;
    let algs: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} in {algs:?}");
    }
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"].is_string() && k["use"] == "sig")
    );
    server.stop().await;
}
