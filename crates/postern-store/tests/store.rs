//! The store's behaviour, checked identically on SQLite and PostgreSQL: every test runs once per
//! backend on a fresh database (see `common::on_both`). This file: schema and connection,
//! settings, accounts and lockout, clients, signing keys, flows and sessions; `tokens.rs` and
//! `signin_log.rs` hold the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use postern_core::client::{Client, ClientKind};
use postern_core::flow::{Flow, FlowState};
use postern_core::oidc::jws::SigningAlg;
use postern_core::softlock::LockoutState;
use postern_core::user::User;
use postern_store::{Store, StoreError, StoredKey};
use sqlx::Connection;
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    on_both(async |store, db| {
        assert_eq!(store.schema_version().await.unwrap(), 8);
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 8);
        store.ping().await.unwrap();

        // Connecting again to a migrated database changes nothing.
        let again = Store::connect(&db.url).await.unwrap();
        assert_eq!(again.schema_version().await.unwrap(), 8);
        again.close().await;

        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        sqlx::query("INSERT INTO schema_version (version, description, applied_ms) VALUES (999, 'future', 0)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        match Store::connect(&db.url).await {
            Err(StoreError::NewerSchema { found: 999, known: 8 }) => {}
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
            continue_pending: false,
        };
        assert!(store.move_flow(&f, &state).await.unwrap());
        let moved = store.find_flow("f1").await.unwrap().unwrap();
        assert_eq!(
            moved,
            Flow {
                state: state.clone(),
                version: f.version + 1,
                ..f.clone()
            }
        );
        // A move from the version read before is refused and changes nothing: of two tabs (or
        // nodes) that read the same flow, one moves it.
        assert!(!store.move_flow(&f, &FlowState::Password).await.unwrap());
        assert_eq!(store.find_flow("f1").await.unwrap(), Some(moved.clone()));
        let gone = Flow {
            id: "missing".into(),
            ..f.clone()
        };
        assert!(!store.move_flow(&gone, &FlowState::Password).await.unwrap());
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
