//! Bad input gets a clear 4xx error, changes nothing and leaks nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Browser, TestServer, authorize_url, redeem};
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use serde_json::Value;

async fn token_endpoint_refuses_bad_input(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("bo").await;
    let (client, secret) = server
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;
    let secret = secret.unwrap();
    let (code, verifier) = Browser::new(&server)
        .code_for(&server, &client, "bo", &[])
        .await;
    let http = reqwest::Client::new();
    let token = server.url("/token");
    let good = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}",
        url::form_urlencoded::byte_serialize(client.redirect_uris[0].as_bytes())
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "application/json",
            serde_json::json!({ "grant_type": "authorization_code", "code": code })
                .to_string()
                .into_bytes(),
            "content type",
        ),
        (
            "application/x-www-form-urlencoded",
            format!("{good}&code={code}").into_bytes(),
            "more than once",
        ),
        (
            "application/x-www-form-urlencoded",
            [good.as_bytes(), b"&x=%FF%FE"].concat(),
            "UTF-8",
        ),
        (
            "application/x-www-form-urlencoded",
            format!("{good}&y=%G1").into_bytes(),
            "URL encoding",
        ),
        (
            "application/x-www-form-urlencoded",
            good.replace("authorization_code", "password").into_bytes(),
            "not supported",
        ),
        (
            "application/x-www-form-urlencoded",
            good.replace("grant_type=authorization_code&", "")
                .into_bytes(),
            "grant_type is missing",
        ),
    ];
    for (ct, body, expect) in cases {
        let res = http
            .post(&token)
            .basic_auth(&client.id, Some(&secret))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{expect}");
        let trace = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = res.json().await.unwrap();
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(expect), "{expect}: {description}");
        assert_eq!(body["trace_id"], trace.as_str());
        assert!(
            body["error_codes"][0].is_u64()
                && body["timestamp"].is_string()
                && body["correlation_id"].is_string()
        );
        assert!(
            !description.contains(&secret) && !description.contains(&code),
            "nothing secret echoed"
        );
    }
    let huge = vec![b'a'; 100 * 1024];
    let res = http
        .post(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "oversized bodies are refused");

    // None of that consumed the code.
    let res = redeem(&server, &client, Some(&secret), &code, &verifier).await;
    assert_eq!(res.status(), 200, "bad requests changed nothing");
    server.stop().await;
}

async fn sign_in_form_refuses_bad_input(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let page = browser.open(&authorize_url(&server, &client, &[]).0).await;
    let action = format!(
        "{}{}",
        server.issuer(),
        common::attr(page.body(), "action").unwrap()
    );
    let csrf = common::hidden(page.body(), "csrf").unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("text/plain", format!("csrf={csrf}&username=a&password=b")),
        (
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&username=a&username=b&password=b"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&username=a&password=b&admin=1"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&username=%FF&password=b"),
        ),
    ];
    for (ct, body) in cases {
        let res = browser
            .http
            .post(&action)
            .header("origin", server.issuer())
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{ct} {body}");
        assert!(res.text().await.unwrap().contains("90100"));
    }
    server.stop().await;
}

on_both_backends!(
    token_endpoint_refuses_bad_input,
    sign_in_form_refuses_bad_input
);

#[tokio::test]
async fn unknown_paths_and_userinfo_without_token() {
    let server = TestServer::start(Backend::Sqlite).await;
    let res = reqwest::get(server.url("/nope")).await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("990004"));
    let res = reqwest::get(server.url("/userinfo")).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let res = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            reqwest::get(server.url(path)).await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("postern_http_responses_total{class=\"4xx\"}"));
    server.stop().await;
}
