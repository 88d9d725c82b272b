//! Shared by the store's integration tests: the both-backends harness and domain fixtures.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use postern_core::client::{Client, ClientKind};
use postern_core::clock::from_millis;
use postern_core::flow::{Flow, FlowState};
use postern_core::oidc::authorize::{AuthorizeRequest, Prompt};
use postern_core::oidc::jws::SigningAlg;
use postern_core::oidc::token::{AuthCode, RefreshToken};
use postern_core::session::SsoSession;
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep, StepResult};
use postern_core::user::User;
use postern_store::Store;
use postern_store::testing::{self, TestDatabase};
use time::{Duration, OffsetDateTime};

/// Runs `test` once per backend, each on a fresh database.
pub async fn on_both(test: impl AsyncFn(&Store, &TestDatabase)) {
    for backend in testing::backends() {
        println!("--- {backend:?}");
        let db = TestDatabase::create(backend).await;
        let store = Store::connect(&db.url)
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: connect: {e}"));
        assert_eq!(store.backend(), backend);
        test(&store, &db).await;
        store.close().await;
        db.drop_database().await;
    }
}

/// A fixed instant with whole milliseconds (what the store keeps).
pub fn t0() -> OffsetDateTime {
    from_millis(1_795_000_000_000)
}

pub fn user(id: &str, username: &str) -> User {
    User {
        id: id.into(),
        username: username.into(),
        email: Some(format!("{username}@school.example")),
        name: None,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        disabled: false,
        created: t0(),
    }
}

pub fn client(id: &str, name: &str) -> Client {
    Client {
        id: id.into(),
        name: name.into(),
        kind: ClientKind::Confidential,
        secret_hash: Some("secret-hash".into()),
        redirect_uris: vec![
            "https://hub.example/cb".into(),
            "http://127.0.0.1:8081/cb".into(),
        ],
        post_logout_redirect_uris: vec![],
        id_token_alg: SigningAlg::ES256,
        created: t0(),
    }
}

pub fn code(hash: &str, family: &str, expires: OffsetDateTime) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        family_id: family.into(),
        client_id: "hub".into(),
        redirect_uri: "https://hub.example/cb".into(),
        user_id: "u1".into(),
        scope: vec!["openid".into(), "profile".into()],
        nonce: Some("n-0S6".into()),
        code_challenge: None,
        auth_time: t0(),
        amr: vec!["pwd".into(), "mfa".into()],
        correlation_id: "corr-1".into(),
        expires,
        redeemed: false,
    }
}

pub fn refresh(hash: &str, family: &str, user_id: &str, expires: OffsetDateTime) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: "hub".into(),
        user_id: user_id.into(),
        scope: vec!["openid".into(), "offline_access".into()],
        auth_time: t0(),
        amr: vec!["pwd".into()],
        created: t0(),
        expires,
        used: false,
        revoked: false,
    }
}

pub fn flow(id: &str, expires: OffsetDateTime) -> Flow {
    Flow {
        id: id.into(),
        correlation_id: format!("corr-{id}"),
        browser_hash: "browser".into(),
        request: AuthorizeRequest {
            client_id: "hub".into(),
            redirect_uri: "https://hub.example/cb".into(),
            scope: vec!["openid".into()],
            state: Some("xyz".into()),
            nonce: None,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            prompt: Prompt::Default,
            max_age: Some(600),
            login_hint: None,
        },
        client_name: "Learning Hub".into(),
        state: FlowState::Password,
        csrf: "csrf".into(),
        created: OffsetDateTime::now_utc(),
        expires,
        version: 0,
    }
}

pub fn session(id_hash: &str, user_id: &str, expires: OffsetDateTime) -> SsoSession {
    SsoSession {
        id_hash: id_hash.into(),
        user_id: user_id.into(),
        auth_time: t0(),
        amr: vec!["pwd".into(), "otp".into()],
        created: t0(),
        expires,
    }
}

pub fn step(at: i64, request_id: &str, detail: &str) -> SignInStep {
    SignInStep {
        time: t0() + Duration::seconds(at),
        request_id: request_id.into(),
        method: "password".into(),
        result: StepResult::Failure,
        detail: detail.into(),
        reason: None,
    }
}

pub fn signin(correlation_id: &str, started: OffsetDateTime) -> SignInEntry {
    SignInEntry {
        correlation_id: correlation_id.into(),
        started,
        updated: started,
        user_id: None,
        username: Some("student".into()),
        client_id: Some("hub".into()),
        client_name: Some("Learning Hub".into()),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Firefox".into()),
        result: SignInResult::InProgress,
        error_code: None,
        failure_reason: None,
        request_ids: vec![],
        steps: vec![],
    }
}

/// Users and clients that codes, tokens and sessions refer to.
pub async fn seed(store: &Store) {
    store.create_user(&user("u1", "student")).await.unwrap();
    store.create_user(&user("u2", "teacher")).await.unwrap();
    store
        .create_client(&client("hub", "Learning Hub"))
        .await
        .unwrap();
}
