//! Web Push subscriptions on both backends: a device keeps a bounded number (the newest), a
//! browser subscribing again replaces its own row, answers are recorded, and removing the device
//! removes its subscriptions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{on_both, t0, user};
use postern_core::credential::method::{Method, MethodSecret};
use postern_core::policy::MfaPolicy;
use postern_proto::authenticator::KeyAlgorithm;
use postern_store::{MethodRemoval, WebPushSubscriptionRecord};
use time::Duration;

fn device(id: &str, user_id: &str) -> Method {
    Method {
        id: id.into(),
        user_id: user_id.into(),
        name: format!("phone {id}"),
        created: t0(),
        last_used: None,
        is_default: true,
        secret: MethodSecret::Push {
            public_key: "a2V5".into(),
            key_algorithm: KeyAlgorithm::P256,
            app_version: "web 0.1.0".into(),
        },
        version: 1,
    }
}

fn subscription(
    id: &str,
    device_id: &str,
    endpoint: &str,
    minute: i64,
) -> WebPushSubscriptionRecord {
    WebPushSubscriptionRecord {
        id: id.into(),
        device_id: device_id.into(),
        endpoint: endpoint.into(),
        p256dh: "BPublic".into(),
        sealed_auth: "sealed".into(),
        created: t0() + Duration::minutes(minute),
        last_sent: None,
        last_result: None,
    }
}

#[tokio::test]
async fn a_device_keeps_its_newest_subscriptions() {
    on_both(async |store, _| {
        store.create_user(&user("u1", "ana")).await.unwrap();
        store.create_method(&device("d1", "u1")).await.unwrap();
        store.create_method(&device("d2", "u1")).await.unwrap();
        for i in 0..5 {
            let endpoint = format!("https://push.example/{i}");
            store
                .save_web_push_subscription(&subscription(&format!("s{i}"), "d1", &endpoint, i), 3)
                .await
                .unwrap();
        }
        store
            .save_web_push_subscription(
                &subscription("other", "d2", "https://push.example/0", 0),
                3,
            )
            .await
            .unwrap();
        let kept: Vec<String> = store
            .list_web_push_subscriptions("d1")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(kept, ["s4", "s3", "s2"], "the newest three, newest first");

        // The same browser subscribing again replaces its row instead of adding one.
        store
            .save_web_push_subscription(&subscription("s5", "d1", "https://push.example/3", 9), 3)
            .await
            .unwrap();
        let kept: Vec<String> = store
            .list_web_push_subscriptions("d1")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(kept, ["s5", "s4", "s2"]);

        store
            .record_web_push_result(
                "s5",
                t0() + Duration::minutes(10),
                "push service accepted (201)",
            )
            .await
            .unwrap();
        let s5 = store
            .list_web_push_subscriptions("d1")
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            s5.last_result.as_deref(),
            Some("push service accepted (201)")
        );
        assert_eq!(s5.last_sent, Some(t0() + Duration::minutes(10)));

        assert!(store.delete_web_push_subscription("s4").await.unwrap());
        assert!(!store.delete_web_push_subscription("s4").await.unwrap());
        assert_eq!(
            store.list_web_push_subscriptions("d1").await.unwrap().len(),
            2
        );

        // Removing the device removes its subscriptions, and only its own.
        assert_eq!(
            store
                .delete_method("u1", "d1", MfaPolicy::WhenRegistered)
                .await
                .unwrap(),
            MethodRemoval::Removed
        );
        assert!(
            store
                .list_web_push_subscriptions("d1")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.list_web_push_subscriptions("d2").await.unwrap().len(),
            1
        );
        assert_eq!(
            store
                .delete_device_web_push_subscriptions("d2")
                .await
                .unwrap(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_setting_is_created_once() {
    on_both(async |store, _| {
        assert!(
            store
                .create_setting("web_push.vapid", "first")
                .await
                .unwrap()
        );
        assert!(
            !store
                .create_setting("web_push.vapid", "second")
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .find_setting("web_push.vapid")
                .await
                .unwrap()
                .as_deref(),
            Some("first")
        );
    })
    .await;
}
