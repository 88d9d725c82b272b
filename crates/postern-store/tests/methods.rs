//! Second-factor methods and remembered devices on both backends: a write over a stale version
//! is refused (a code is used once), two removals at once cannot take a user's last way in, a new
//! recovery-code set replaces the old one, and remembered devices expire and are revoked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{on_both, t0, user};
use postern_core::credential::method::{Method, MethodKind, MethodSecret, RecoveryCodeSlot};
use postern_core::credential::totp::{TotpParams, TotpState};
use postern_core::policy::MfaPolicy;
use postern_store::MethodRemoval;
use time::Duration;

fn totp(id: &str, user_id: &str, is_default: bool) -> Method {
    Method {
        id: id.into(),
        user_id: user_id.into(),
        name: format!("app {id}"),
        created: t0(),
        last_used: None,
        is_default,
        secret: MethodSecret::Totp {
            sealed_seed: "c2VhbGVk".into(),
            params: TotpParams::default(),
            state: TotpState::default(),
            paired_device: None,
        },
        version: 1,
    }
}

fn codes(id: &str, user_id: &str) -> Method {
    Method {
        id: id.into(),
        user_id: user_id.into(),
        name: "Recovery codes".into(),
        created: t0(),
        last_used: None,
        is_default: false,
        secret: MethodSecret::RecoveryCodes {
            codes: (0..10)
                .map(|i| RecoveryCodeSlot {
                    hash: format!("{id}-{i}"),
                    used_ms: None,
                })
                .collect(),
        },
        version: 1,
    }
}

#[tokio::test]
async fn a_code_is_used_once_and_methods_stay_with_their_user() {
    on_both(async |store, _| {
        store.create_user(&user("u1", "ana")).await.unwrap();
        store.create_user(&user("u2", "ben")).await.unwrap();
        store.create_method(&totp("m1", "u1", true)).await.unwrap();

        let read = store.find_method("u1", "m1").await.unwrap().unwrap();
        assert_eq!(read, totp("m1", "u1", true));
        let mut used = read.clone();
        if let MethodSecret::Totp { state, .. } = &mut used.secret {
            state.last_step = Some(42);
        }
        used.last_used = Some(t0() + Duration::seconds(5));
        assert!(store.update_method_use(&used).await.unwrap());
        // A second request that read the same version (the same code, at the same moment).
        assert!(
            !store.update_method_use(&used).await.unwrap(),
            "stale version refused"
        );
        let now = store.find_method("u1", "m1").await.unwrap().unwrap();
        assert_eq!(now.version, 2);
        assert_eq!(now.last_used, Some(t0() + Duration::seconds(5)));

        // Another user's id finds nothing and changes nothing.
        assert!(store.find_method("u2", "m1").await.unwrap().is_none());
        assert!(!store.set_default_method("u2", "m1").await.unwrap());
        assert_eq!(
            store
                .delete_method("u2", "m1", MfaPolicy::WhenRegistered)
                .await
                .unwrap(),
            MethodRemoval::NotFound
        );
        assert_eq!(store.list_methods("u1").await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn defaults_recovery_sets_and_removal_rules() {
    on_both(async |store, _| {
        store.create_user(&user("u1", "ana")).await.unwrap();
        store.create_method(&totp("a", "u1", true)).await.unwrap();
        store.create_method(&totp("b", "u1", false)).await.unwrap();
        assert!(store.set_default_method("u1", "b").await.unwrap());
        let methods = store.list_methods("u1").await.unwrap();
        let defaults: Vec<_> = methods
            .iter()
            .filter(|m| m.is_default)
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(defaults, ["b"]);
        assert!(!store.set_default_method("u1", "nope").await.unwrap());
        assert_eq!(
            store
                .list_methods("u1")
                .await
                .unwrap()
                .iter()
                .filter(|m| m.is_default)
                .count(),
            1,
            "a failed change leaves the default alone"
        );

        store.create_method(&codes("r1", "u1")).await.unwrap();
        store.create_method(&codes("r2", "u1")).await.unwrap();
        let sets: Vec<_> = store
            .list_methods("u1")
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind() == MethodKind::RecoveryCodes)
            .map(|m| m.id)
            .collect();
        assert_eq!(sets, ["r2"], "a new set replaces the old one");

        assert_eq!(
            store
                .delete_method("u1", "a", MfaPolicy::Required)
                .await
                .unwrap(),
            MethodRemoval::Removed
        );
        assert!(matches!(
            store
                .delete_method("u1", "b", MfaPolicy::Required)
                .await
                .unwrap(),
            MethodRemoval::Refused(_)
        ));
    })
    .await;
}

#[tokio::test]
async fn two_removals_at_once_keep_a_way_in() {
    on_both(async |store, _| {
        store.create_user(&user("u1", "ana")).await.unwrap();
        for round in 0..5 {
            let (a, b) = (format!("a{round}"), format!("b{round}"));
            store.create_method(&totp(&a, "u1", true)).await.unwrap();
            store.create_method(&totp(&b, "u1", false)).await.unwrap();
            let (x, y) = tokio::join!(
                store.delete_method("u1", &a, MfaPolicy::Required),
                store.delete_method("u1", &b, MfaPolicy::Required),
            );
            let removed = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|r| **r == MethodRemoval::Removed)
                .count();
            assert_eq!(
                removed, 1,
                "round {round}: exactly one of two removals may pass"
            );
            let left = store.list_methods("u1").await.unwrap();
            assert_eq!(left.len(), 1);
            // Clear for the next round.
            store
                .delete_method("u1", &left[0].id, MfaPolicy::WhenRegistered)
                .await
                .unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn remembered_devices_expire_and_are_revoked() {
    on_both(async |store, _| {
        store.create_user(&user("u1", "ana")).await.unwrap();
        store.create_user(&user("u2", "ben")).await.unwrap();
        let until = t0() + Duration::days(14);
        store
            .remember_device("h1", "u1", t0(), until)
            .await
            .unwrap();
        store
            .remember_device("h1", "u2", t0(), until)
            .await
            .unwrap();
        // Remembering again moves the expiry (no duplicate).
        store
            .remember_device("h1", "u1", t0(), until + Duration::days(1))
            .await
            .unwrap();
        assert_eq!(
            store
                .find_remembered_device("h1", "u1", t0())
                .await
                .unwrap(),
            Some(until + Duration::days(1))
        );
        assert_eq!(store.count_remembered_devices("u1", t0()).await.unwrap(), 1);
        assert!(
            store
                .find_remembered_device("h2", "u1", t0())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .find_remembered_device("h1", "u1", until + Duration::days(2))
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert_eq!(store.delete_remembered_devices("u1").await.unwrap(), 1);
        assert!(
            store
                .find_remembered_device("h1", "u1", t0())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .find_remembered_device("h1", "u2", t0())
                .await
                .unwrap()
                .is_some(),
            "others keep theirs"
        );
        store
            .purge_expired(until + Duration::days(1))
            .await
            .unwrap();
        assert_eq!(
            store.count_remembered_devices("u2", t0()).await.unwrap(),
            0,
            "purged"
        );
    })
    .await;
}
