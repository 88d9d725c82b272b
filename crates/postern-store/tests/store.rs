//! The store's behaviour, checked identically on SQLite and PostgreSQL: every test runs once per
//! backend on a fresh database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use postern_core::client::{Client, ClientKind};
use postern_core::clock::from_millis;
use postern_core::flow::{Flow, FlowState};
use postern_core::oidc::authorize::{AuthorizeRequest, Prompt};
use postern_core::oidc::jws::SigningAlg;
use postern_core::oidc::token::{AuthCode, RefreshToken};
use postern_core::session::SsoSession;
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep, StepResult};
use postern_core::softlock::LockoutState;
use postern_core::user::User;
use postern_proto::ErrorCode;
use postern_store::testing::{self, TestDatabase};
use postern_store::{SignInUpdate, Store, StoreError, StoredKey};
use sqlx::Connection;
use time::{Duration, OffsetDateTime};

/// Runs `test` once per backend, each on a fresh database.
async fn on_both(test: impl AsyncFn(&Store, &TestDatabase)) {
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
fn t0() -> OffsetDateTime {
    from_millis(1_795_000_000_000)
}

fn user(id: &str, username: &str) -> User {
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

fn client(id: &str, name: &str) -> Client {
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

fn code(hash: &str, family: &str, expires: OffsetDateTime) -> AuthCode {
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

fn refresh(hash: &str, family: &str, user_id: &str, expires: OffsetDateTime) -> RefreshToken {
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

fn flow(id: &str, expires: OffsetDateTime) -> Flow {
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
    }
}

fn session(id_hash: &str, user_id: &str, expires: OffsetDateTime) -> SsoSession {
    SsoSession {
        id_hash: id_hash.into(),
        user_id: user_id.into(),
        auth_time: t0(),
        amr: vec!["pwd".into(), "otp".into()],
        created: t0(),
        expires,
    }
}

fn step(at: i64, request_id: &str, detail: &str) -> SignInStep {
    SignInStep {
        time: t0() + Duration::seconds(at),
        request_id: request_id.into(),
        method: "password".into(),
        result: StepResult::Failure,
        detail: detail.into(),
    }
}

fn signin(correlation_id: &str, started: OffsetDateTime) -> SignInEntry {
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
async fn seed(store: &Store) {
    store.create_user(&user("u1", "student")).await.unwrap();
    store.create_user(&user("u2", "teacher")).await.unwrap();
    store
        .create_client(&client("hub", "Learning Hub"))
        .await
        .unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    on_both(async |store, db| {
        assert_eq!(store.schema_version().await.unwrap(), 1);
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 1);
        store.ping().await.unwrap();

        // Connecting again to a migrated database changes nothing.
        let again = Store::connect(&db.url).await.unwrap();
        assert_eq!(again.schema_version().await.unwrap(), 1);
        again.close().await;

        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        sqlx::query("INSERT INTO schema_version (version, description, applied_ms) VALUES (999, 'future', 0)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        match Store::connect(&db.url).await {
            Err(StoreError::NewerSchema { found: 999, known: 1 }) => {}
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        assert!(matches!(store.migrate().await, Err(StoreError::NewerSchema { .. })));
    })
    .await;
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_showing_passwords() {
    match Store::connect("mysql://admin:hunter2@db/postern").await {
        Err(StoreError::UnsupportedUrl(shown)) => assert!(!shown.contains("hunter2"), "{shown}"),
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
}

#[tokio::test]
async fn open_sqlite_creates_the_file() {
    let dir = std::env::temp_dir().join(format!("postern-open-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a dir? #1.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    store.set_setting("k", "v").await.unwrap();
    store.close().await;
    assert!(path.exists());
    let store = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(store.find_setting("k").await.unwrap().as_deref(), Some("v"));
    store.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn settings_upsert() {
    on_both(async |store, _| {
        assert_eq!(store.find_setting("issuer").await.unwrap(), None);
        store
            .set_setting("issuer", "https://a.example")
            .await
            .unwrap();
        store
            .set_setting("issuer", "https://b.example")
            .await
            .unwrap();
        assert_eq!(
            store.find_setting("issuer").await.unwrap().as_deref(),
            Some("https://b.example")
        );
    })
    .await;
}

#[tokio::test]
async fn users_create_find_list_and_update() {
    on_both(async |store, _| {
        let zed = User {
            name: Some("Zed Ü".into()),
            password_hash: None,
            ..user("id-z", "zed")
        };
        store.create_user(&zed).await.unwrap();
        store.create_user(&user("id-a", "amy")).await.unwrap();

        assert_eq!(
            store.find_user_by_id("id-z").await.unwrap(),
            Some(zed.clone())
        );
        assert_eq!(
            store.find_user_by_username("zed").await.unwrap(),
            Some(zed.clone())
        );
        assert_eq!(store.find_user_by_username("nobody").await.unwrap(), None);

        match store.create_user(&user("id-other", "zed")).await {
            Err(StoreError::Conflict(what)) => assert_eq!(what, "user 'zed'"),
            other => panic!("expected a conflict, got {other:?}"),
        }

        let names: Vec<_> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["amy", "zed"]);

        assert!(store.set_user_disabled("id-a", true).await.unwrap());
        assert!(
            store.set_user_disabled("id-a", true).await.unwrap(),
            "unchanged but existing"
        );
        assert!(!store.set_user_disabled("missing", true).await.unwrap());
        assert!(
            store
                .find_user_by_id("id-a")
                .await
                .unwrap()
                .unwrap()
                .disabled
        );

        assert!(
            store
                .set_user_password("id-z", "$argon2id$new")
                .await
                .unwrap()
        );
        assert!(
            !store
                .set_user_password("missing", "$argon2id$new")
                .await
                .unwrap()
        );
        let hash = store
            .find_user_by_id("id-z")
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        assert_eq!(hash.as_deref(), Some("$argon2id$new"));
    })
    .await;
}

#[tokio::test]
async fn lockout_uses_optimistic_versions() {
    on_both(async |store, _| {
        seed(store).await;
        let (state, version) = store.find_lockout("u1", "password").await.unwrap();
        assert_eq!((state, version), (LockoutState::default(), 0));

        let first = LockoutState {
            failures: 1,
            recent: vec!["fp1".into()],
            ..Default::default()
        };
        assert!(
            store
                .update_lockout("u1", "password", &first, 0)
                .await
                .unwrap()
        );
        assert!(
            !store
                .update_lockout("u1", "password", &first, 0)
                .await
                .unwrap(),
            "a concurrent first insert loses"
        );

        let (state, version) = store.find_lockout("u1", "password").await.unwrap();
        assert_eq!((&state, version), (&first, 1));

        let second = LockoutState {
            failures: 2,
            locked_until_ms: Some(1_795_000_060_000),
            lockouts: 1,
            ..first
        };
        assert!(
            store
                .update_lockout("u1", "password", &second, 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .update_lockout("u1", "password", &second, 1)
                .await
                .unwrap(),
            "stale version"
        );
        assert_eq!(
            store.find_lockout("u1", "password").await.unwrap(),
            (second, 2)
        );

        // Kinds and users are independent.
        assert_eq!(store.find_lockout("u1", "totp").await.unwrap().1, 0);
        assert_eq!(store.find_lockout("u2", "password").await.unwrap().1, 0);
    })
    .await;
}

#[tokio::test]
async fn clients_round_trip() {
    on_both(async |store, _| {
        let hub = client("hub", "Learning Hub");
        let spa = Client {
            kind: ClientKind::Public,
            secret_hash: None,
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            id_token_alg: SigningAlg::EdDSA,
            ..client("spa", "App")
        };
        store.create_client(&hub).await.unwrap();
        store.create_client(&spa).await.unwrap();
        assert!(matches!(
            store.create_client(&hub).await,
            Err(StoreError::Conflict(_))
        ));

        assert_eq!(store.find_client("hub").await.unwrap(), Some(hub.clone()));
        assert_eq!(store.find_client("spa").await.unwrap(), Some(spa.clone()));
        assert_eq!(store.find_client("nope").await.unwrap(), None);
        assert_eq!(
            store.list_clients().await.unwrap(),
            vec![spa.clone(), hub.clone()],
            "by name"
        );

        assert!(store.update_client_secret("hub", "new-hash").await.unwrap());
        assert!(!store.update_client_secret("nope", "x").await.unwrap());
        let redirects = vec!["https://hub.example/new".to_owned()];
        let logout = vec![
            "https://hub.example/out".to_owned(),
            "https://hub.example/out2".to_owned(),
        ];
        assert!(
            store
                .update_client_redirects("hub", &redirects, &logout)
                .await
                .unwrap()
        );
        let updated = store.find_client("hub").await.unwrap().unwrap();
        assert_eq!(updated.secret_hash.as_deref(), Some("new-hash"));
        assert_eq!(updated.redirect_uris, redirects);
        assert_eq!(updated.post_logout_redirect_uris, logout);

        assert!(store.delete_client("spa").await.unwrap());
        assert!(!store.delete_client("spa").await.unwrap());
        assert_eq!(store.find_client("spa").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn signing_keys_retire_and_expire() {
    on_both(async |store, _| {
        let key = |kid: &str, alg, minutes| StoredKey {
            kid: kid.into(),
            alg,
            sealed_pkcs8: vec![0, 1, 2, 0xff, 0x00, 0x7f, kid.len() as u8],
            created: t0() + Duration::minutes(minutes),
            retired: None,
            publish_until: None,
        };
        let old_rs = key("rs-old", SigningAlg::RS256, 0);
        let new_rs = key("rs-new", SigningAlg::RS256, 2);
        let es = key("es", SigningAlg::ES256, 1);
        for k in [&new_rs, &old_rs, &es] {
            store.create_signing_key(k).await.unwrap();
        }
        assert!(matches!(
            store.create_signing_key(&es).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.list_signing_keys().await.unwrap(),
            vec![old_rs.clone(), es.clone(), new_rs.clone()]
        );

        let retired = t0() + Duration::hours(1);
        let until = t0() + Duration::days(2);
        assert_eq!(
            store
                .retire_signing_keys(SigningAlg::RS256, "rs-new", retired, until)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .retire_signing_keys(SigningAlg::RS256, "rs-new", retired, until)
                .await
                .unwrap(),
            0
        );
        let keys = store.list_signing_keys().await.unwrap();
        assert_eq!(
            keys[0],
            StoredKey {
                retired: Some(retired),
                publish_until: Some(until),
                ..old_rs
            }
        );
        assert_eq!(keys[1], es, "other algorithms untouched");
        assert_eq!(keys[2], new_rs, "the kept key untouched");

        assert_eq!(
            store.delete_unpublished_keys(until).await.unwrap(),
            0,
            "still published at publish_until"
        );
        assert_eq!(
            store
                .delete_unpublished_keys(until + Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
        let kids: Vec<_> = store
            .list_signing_keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(kids, ["es", "rs-new"]);
    })
    .await;
}

#[tokio::test]
async fn flows_round_trip() {
    on_both(async |store, _| {
        let f = flow("f1", OffsetDateTime::now_utc() + Duration::minutes(15));
        store.create_flow(&f).await.unwrap();
        assert!(matches!(
            store.create_flow(&f).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.find_flow("f1").await.unwrap(), Some(f.clone()));

        let state = FlowState::Complete {
            user_id: "u1".into(),
            amr: vec!["pwd".into()],
            auth_time_ms: 1_795_000_000_000,
        };
        store.update_flow_state("f1", &state).await.unwrap();
        assert_eq!(
            store.find_flow("f1").await.unwrap(),
            Some(Flow { state, ..f })
        );
        store
            .update_flow_state("missing", &FlowState::Password)
            .await
            .unwrap();
        assert_eq!(store.find_flow("missing").await.unwrap(), None);

        store.delete_flow("f1").await.unwrap();
        assert_eq!(store.find_flow("f1").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn sessions_round_trip() {
    on_both(async |store, _| {
        seed(store).await;
        let later = t0() + Duration::hours(8);
        let s1 = session("h1", "u1", later);
        store.create_session(&s1).await.unwrap();
        store
            .create_session(&session("h2", "u1", later))
            .await
            .unwrap();
        store
            .create_session(&session("h3", "u2", later))
            .await
            .unwrap();
        assert_eq!(store.find_session("h1").await.unwrap(), Some(s1));
        assert_eq!(store.find_session("nope").await.unwrap(), None);

        store.delete_session("h1").await.unwrap();
        assert_eq!(store.find_session("h1").await.unwrap(), None);
        assert_eq!(store.delete_user_sessions("u1").await.unwrap(), 1);
        assert_eq!(store.find_session("h2").await.unwrap(), None);
        assert!(
            store.find_session("h3").await.unwrap().is_some(),
            "other users keep theirs"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_codes_are_single_use_even_under_races() {
    on_both(async |store, _| {
        seed(store).await;
        let c = code("c1", "fam1", t0() + Duration::minutes(1));
        store.create_auth_code(&c).await.unwrap();
        assert!(matches!(
            store.create_auth_code(&c).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.find_auth_code("c1").await.unwrap(), Some(c.clone()));
        assert!(store.redeem_auth_code("c1").await.unwrap());
        assert!(!store.redeem_auth_code("c1").await.unwrap());
        assert!(store.find_auth_code("c1").await.unwrap().unwrap().redeemed);
        assert!(!store.redeem_auth_code("unknown").await.unwrap());

        for i in 0..10 {
            let hash = format!("race{i}");
            store
                .create_auth_code(&code(&hash, &format!("fam-race{i}"), t0()))
                .await
                .unwrap();
            let (a, b) = tokio::join!(store.redeem_auth_code(&hash), store.redeem_auth_code(&hash));
            assert_eq!(
                u8::from(a.unwrap()) + u8::from(b.unwrap()),
                1,
                "exactly one winner"
            );
        }

        // A code of a revoked family cannot be redeemed.
        store
            .create_auth_code(&code("c2", "fam2", t0()))
            .await
            .unwrap();
        store.revoke_token_family("fam2", t0()).await.unwrap();
        assert!(!store.redeem_auth_code("c2").await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_once_and_families_revoke() {
    on_both(async |store, _| {
        seed(store).await;
        let exp = t0() + Duration::days(30);
        let t1 = refresh("t1", "fam", "u1", exp);
        store.create_refresh_token(&t1).await.unwrap();
        assert_eq!(
            store.find_refresh_token("t1").await.unwrap(),
            Some(t1.clone())
        );
        assert_eq!(store.find_refresh_token("nope").await.unwrap(), None);

        assert!(
            store
                .rotate_refresh_token("t1", &refresh("t2", "fam", "u1", exp))
                .await
                .unwrap()
        );
        assert!(
            !store
                .rotate_refresh_token("t1", &refresh("t3", "fam", "u1", exp))
                .await
                .unwrap(),
            "second rotation"
        );
        assert_eq!(
            store.find_refresh_token("t3").await.unwrap(),
            None,
            "nothing inserted"
        );
        assert!(store.find_refresh_token("t1").await.unwrap().unwrap().used);

        // Two concurrent rotations of the same token: one winner, one new token.
        let (t4a, t4b) = (
            refresh("t4a", "fam", "u1", exp),
            refresh("t4b", "fam", "u1", exp),
        );
        let (a, b) = tokio::join!(
            store.rotate_refresh_token("t2", &t4a),
            store.rotate_refresh_token("t2", &t4b)
        );
        assert_eq!(u8::from(a.unwrap()) + u8::from(b.unwrap()), 1);
        let t4 = if store.find_refresh_token("t4a").await.unwrap().is_some() {
            "t4a"
        } else {
            "t4b"
        };

        store
            .record_access_token("jti-fam", "fam", exp)
            .await
            .unwrap();
        store
            .record_access_token("jti-other", "other", exp)
            .await
            .unwrap();
        assert!(!store.is_access_token_revoked("jti-fam").await.unwrap());

        store.revoke_token_family("fam", t0()).await.unwrap();
        store.revoke_token_family("fam", t0()).await.unwrap();
        for hash in ["t1", "t2", t4] {
            assert!(
                store
                    .find_refresh_token(hash)
                    .await
                    .unwrap()
                    .unwrap()
                    .revoked,
                "{hash}"
            );
        }
        assert!(
            !store
                .rotate_refresh_token(t4, &refresh("t5", "fam", "u1", exp))
                .await
                .unwrap()
        );
        assert!(store.is_access_token_revoked("jti-fam").await.unwrap());
        assert!(!store.is_access_token_revoked("jti-other").await.unwrap());
        assert!(!store.is_access_token_revoked("jti-unknown").await.unwrap());

        // A token issued into a family after its revocation is revoked too.
        store
            .create_refresh_token(&refresh("late", "fam", "u1", exp))
            .await
            .unwrap();
        assert!(
            store
                .find_refresh_token("late")
                .await
                .unwrap()
                .unwrap()
                .revoked
        );

        store.revoke_access_token("jti-other", exp).await.unwrap();
        store.revoke_access_token("jti-other", exp).await.unwrap();
        assert!(store.is_access_token_revoked("jti-other").await.unwrap());

        // Revoking a user's tokens: the families of their refresh tokens and codes.
        store
            .create_refresh_token(&refresh("u2-a", "fam-u2-a", "u2", exp))
            .await
            .unwrap();
        store
            .create_refresh_token(&refresh("u2-b", "fam-u2-b", "u2", exp))
            .await
            .unwrap();
        store
            .create_refresh_token(&refresh("u2-b2", "fam-u2-b", "u2", exp))
            .await
            .unwrap();
        store
            .create_auth_code(&AuthCode {
                user_id: "u2".into(),
                ..code("u2-code", "fam-u2-c", exp)
            })
            .await
            .unwrap();
        store
            .record_access_token("jti-u2", "fam-u2-c", exp)
            .await
            .unwrap();
        assert_eq!(store.revoke_user_tokens("u2", t0()).await.unwrap(), 3);
        assert_eq!(
            store.revoke_user_tokens("u2", t0()).await.unwrap(),
            0,
            "already revoked"
        );
        assert!(
            store
                .find_refresh_token("u2-b2")
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
        assert!(store.is_access_token_revoked("jti-u2").await.unwrap());
        assert!(!store.redeem_auth_code("u2-code").await.unwrap());
        assert!(store.find_refresh_token("t4a").await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_log_finds_by_either_id_with_ordered_steps() {
    on_both(async |store, _| {
        let mut first = signin("corr-a", t0());
        first.request_ids = vec!["req-1".into()];
        first.steps = vec![step(0, "req-1", "authorize: client Learning Hub")];
        store.create_signin(&first).await.unwrap();
        assert!(matches!(
            store.create_signin(&first).await,
            Err(StoreError::Conflict(_))
        ));
        store
            .create_signin(&signin("corr-b", t0() + Duration::minutes(5)))
            .await
            .unwrap();
        store
            .create_signin(&signin("corr-c", t0() + Duration::minutes(1)))
            .await
            .unwrap();

        store
            .append_signin_step(
                "corr-a",
                &step(5, "req-2", "wrong password; 9 attempts left"),
            )
            .await
            .unwrap();
        store.add_signin_request("corr-a", "req-2").await.unwrap();
        store
            .append_signin_step("corr-a", &step(9, "req-3", "password correct"))
            .await
            .unwrap();
        store.add_signin_request("corr-a", "req-1").await.unwrap();
        store
            .update_signin(
                "corr-a",
                &SignInUpdate {
                    updated: t0() + Duration::seconds(9),
                    user_id: Some("u1".into()),
                    username: None,
                    result: SignInResult::Failure,
                    error_code: Some(ErrorCode::InvalidCredentials),
                    failure_reason: Some("the push timed out".into()),
                },
            )
            .await
            .unwrap();

        let by_correlation = store.find_signin("corr-a").await.unwrap().unwrap();
        assert_eq!(by_correlation.request_ids, ["req-1", "req-2", "req-3"]);
        let details: Vec<_> = by_correlation
            .steps
            .iter()
            .map(|s| s.detail.as_str())
            .collect();
        assert_eq!(
            details,
            [
                "authorize: client Learning Hub",
                "wrong password; 9 attempts left",
                "password correct"
            ]
        );
        assert_eq!(
            by_correlation.steps[1],
            step(5, "req-2", "wrong password; 9 attempts left")
        );
        assert_eq!(by_correlation.user_id.as_deref(), Some("u1"));
        assert_eq!(
            by_correlation.username.as_deref(),
            Some("student"),
            "None keeps the username"
        );
        assert_eq!(by_correlation.result, SignInResult::Failure);
        assert_eq!(
            by_correlation.error_code,
            Some(ErrorCode::InvalidCredentials)
        );
        assert_eq!(by_correlation.updated, t0() + Duration::seconds(9));
        assert_eq!(by_correlation.started, t0());

        assert_eq!(
            store.find_signin("req-3").await.unwrap(),
            Some(by_correlation.clone())
        );
        assert_eq!(
            store.find_signin("req-1").await.unwrap(),
            Some(by_correlation.clone())
        );
        assert_eq!(store.find_signin("nothing").await.unwrap(), None);

        let listed = store.list_signins(10).await.unwrap();
        let ids: Vec<_> = listed.iter().map(|e| e.correlation_id.as_str()).collect();
        assert_eq!(ids, ["corr-b", "corr-c", "corr-a"], "newest first");
        assert_eq!(listed[2], by_correlation, "steps and request ids filled");
        assert_eq!(store.list_signins(2).await.unwrap().len(), 2);
        assert!(store.list_signins(0).await.unwrap().is_empty());

        // Concurrent appends (as from two nodes) all land, with distinct numbers.
        let append = |n: i64| {
            let s = step(n, &format!("par-{n}"), &format!("parallel {n}"));
            async move { store.append_signin_step("corr-b", &s).await }
        };
        let (r1, r2, r3, r4) = tokio::join!(append(1), append(2), append(3), append(4));
        for r in [r1, r2, r3, r4] {
            r.unwrap();
        }
        let b = store.find_signin("corr-b").await.unwrap().unwrap();
        assert_eq!(b.steps.len(), 4);
        assert_eq!(b.request_ids.len(), 4);
    })
    .await;
}

#[tokio::test]
async fn purge_deletes_what_expired() {
    on_both(async |store, _| {
        seed(store).await;
        let now = OffsetDateTime::now_utc();
        let long_ago = now - Duration::days(2);
        let recently = now - Duration::hours(1);
        let later = now + Duration::hours(1);

        store.create_flow(&flow("old", long_ago)).await.unwrap();
        store.create_flow(&flow("recent", recently)).await.unwrap();
        store
            .create_auth_code(&code("old", "f-old", long_ago))
            .await
            .unwrap();
        store
            .create_auth_code(&code("recent", "f-recent", recently))
            .await
            .unwrap();
        store
            .create_session(&session("expired", "u1", recently))
            .await
            .unwrap();
        store
            .create_session(&session("live", "u1", later))
            .await
            .unwrap();
        store
            .create_refresh_token(&refresh("old", "f-old", "u1", long_ago))
            .await
            .unwrap();
        store
            .create_refresh_token(&refresh("live", "f-live", "u1", later))
            .await
            .unwrap();
        store
            .revoke_access_token("rev-old", recently)
            .await
            .unwrap();
        store.revoke_access_token("rev-live", later).await.unwrap();
        store
            .record_access_token("at-old", "f-old", recently)
            .await
            .unwrap();
        store
            .record_access_token("at-live", "f-live", later)
            .await
            .unwrap();
        store.revoke_token_family("f-old", long_ago).await.unwrap();
        store.revoke_token_family("f-live", long_ago).await.unwrap();

        // flow, code, session, refresh token, revoked jti, access token, family f-old
        assert_eq!(store.purge_expired(now).await.unwrap(), 7);
        assert_eq!(store.purge_expired(now).await.unwrap(), 0);

        assert_eq!(store.find_flow("old").await.unwrap(), None);
        assert!(
            store.find_flow("recent").await.unwrap().is_some(),
            "kept a day past expiry"
        );
        assert_eq!(store.find_auth_code("old").await.unwrap(), None);
        assert!(store.find_auth_code("recent").await.unwrap().is_some());
        assert_eq!(store.find_session("expired").await.unwrap(), None);
        assert!(store.find_session("live").await.unwrap().is_some());
        assert_eq!(store.find_refresh_token("old").await.unwrap(), None);
        let live = store.find_refresh_token("live").await.unwrap().unwrap();
        assert!(live.revoked, "its family is still remembered as revoked");
        assert!(!store.is_access_token_revoked("rev-old").await.unwrap());
        assert!(store.is_access_token_revoked("rev-live").await.unwrap());
        assert!(store.is_access_token_revoked("at-live").await.unwrap());
    })
    .await;
}
