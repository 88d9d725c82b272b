//! Codes, refresh tokens, families, access-token revocation and purging, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use postern_core::oidc::token::AuthCode;
use postern_store::StoreError;
use time::{Duration, OffsetDateTime};

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
