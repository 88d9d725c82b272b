//! Cross-node wake-ups on PostgreSQL: two stores on one database play two nodes. A change notifies
//! the other node when it commits (never when rolled back), a node skips its own notices, and a
//! listener whose connection is killed comes back and says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use postern_core::credential::method::{Method, MethodSecret};
use postern_core::credential::push::{Answer, Challenge, Delivery, Resolution};
use postern_core::policy::MfaPolicy;
use postern_store::testing::TestDatabase;
use postern_store::{Backend, Listener, Notice, Store};
use sqlx::Connection;
use std::time::Duration as StdDuration;
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
            key_algorithm: Default::default(),
            app_version: "test".into(),
        },
        version: 0,
    }
}

fn challenge(id: &str, user_id: &str, devices: &[&str]) -> Challenge {
    Challenge {
        id: id.into(),
        user_id: user_id.into(),
        flow_id: format!("flow-{id}"),
        correlation_id: format!("corr-{id}"),
        app_name: "Hub".into(),
        ip: "192.0.2.1".into(),
        number: 42,
        created: t0(),
        expires: t0() + Duration::seconds(60),
        deliveries: devices
            .iter()
            .map(|d| Delivery::new(d, "phone", None, 0))
            .collect(),
        answer: None,
        failure_logged: false,
        version: 1,
    }
}

async fn next(listener: &mut Listener) -> Notice {
    tokio::time::timeout(StdDuration::from_secs(5), listener.next())
        .await
        .expect("a notice within 5 s")
        .unwrap()
}

#[tokio::test]
async fn changes_reach_the_other_node_when_they_commit() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let a = Store::connect(&db.url).await.unwrap();
    let b = Store::connect(&db.url).await.unwrap();
    assert_ne!(a.node(), b.node());
    let mut on_a = a.listen().await.unwrap().expect("PostgreSQL listens");
    let mut on_b = b.listen().await.unwrap().unwrap();
    a.create_user(&user("u1", "ana")).await.unwrap();
    a.create_method(&device("d1", "u1")).await.unwrap();
    a.create_method(&device("d2", "u1")).await.unwrap();

    // A challenge made on A is news for B, with its devices; A skips its own notice.
    let mut c = challenge("c1", "u1", &["d1", "d2"]);
    a.create_challenge_limited(&c, t0() - Duration::minutes(5), 3)
        .await
        .unwrap();
    assert_eq!(
        next(&mut on_b).await,
        Notice::ChallengeNew {
            id: "c1".into(),
            devices: vec!["d1".into(), "d2".into()]
        }
    );

    // Answered on B: A hears that it changed and was answered (and this is A's first notice: its
    // own INSERT was skipped).
    c.answer = Some(Answer {
        device_id: "d1".into(),
        resolution: Resolution::Approved,
        at_ms: 1,
    });
    assert!(b.update_challenge(&c).await.unwrap());
    assert_eq!(
        next(&mut on_a).await,
        Notice::ChallengeChanged {
            id: "c1".into(),
            devices: vec!["d1".into(), "d2".into()],
            answered: true
        }
    );
    // A later write is a change, not a second answer.
    c.version += 1;
    c.failure_logged = true;
    assert!(b.update_challenge(&c).await.unwrap());
    match next(&mut on_a).await {
        Notice::ChallengeChanged { answered, .. } => assert!(!answered),
        other => panic!("{other:?}"),
    }

    // A write rolled back says nothing (the next notice A hears is the removal below).
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "BEGIN",
        "UPDATE push_challenges SET version = version + 1 WHERE id = 'c1'",
        "ROLLBACK",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    // A refused removal (the last way in) changes nothing and says nothing; the removal that
    // commits is heard.
    a.delete_method("u1", "d2", MfaPolicy::Required)
        .await
        .unwrap();
    assert_eq!(
        next(&mut on_b).await,
        Notice::DeviceRemoved { id: "d2".into() }
    );
    assert!(matches!(
        b.delete_method("u1", "d1", MfaPolicy::Required)
            .await
            .unwrap(),
        postern_store::MethodRemoval::Refused(_)
    ));
    // Removing the user removes its devices: the cascade notifies too. Had the refused removal
    // sent anything, it would arrive first.
    b.delete_user_methods("u1").await.unwrap();
    assert_eq!(
        next(&mut on_a).await,
        Notice::DeviceRemoved { id: "d1".into() }
    );

    a.close().await;
    b.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn a_listener_whose_connection_dies_comes_back_and_says_so() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let a = Store::connect(&db.url).await.unwrap();
    let b = Store::connect(&db.url).await.unwrap();
    let mut on_b = b.listen().await.unwrap().unwrap();
    // What an administrator or a failover does to the listening connection.
    let mut killer = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let killed = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut killer)
    .await
    .unwrap();
    assert_eq!(killed.len(), 1, "the listener's connection was found");
    killer.close().await.unwrap();
    // Whether sqlx notices the dead connection first or the reconnect fails first, the listener
    // ends up listening again and says so.
    let mut came_back = false;
    for _ in 0..5 {
        match tokio::time::timeout(StdDuration::from_secs(10), on_b.next())
            .await
            .expect("an answer within 10 s")
        {
            Ok(Notice::Reconnected) => {
                came_back = true;
                break;
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => tokio::time::sleep(StdDuration::from_millis(100)).await,
        }
    }
    assert!(came_back);
    a.create_user(&user("u1", "ana")).await.unwrap();
    a.create_challenge_limited(&challenge("c1", "u1", &[]), t0() - Duration::minutes(5), 3)
        .await
        .unwrap();
    assert!(matches!(next(&mut on_b).await, Notice::ChallengeNew { .. }));
    for s in [a, b] {
        s.close().await;
    }
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_has_no_listener() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    assert!(store.listen().await.unwrap().is_none());
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn a_challenge_for_more_devices_than_a_notice_holds_still_names_them_all() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let a = Store::connect(&db.url).await.unwrap();
    let b = Store::connect(&db.url).await.unwrap();
    let mut on_b = b.listen().await.unwrap().unwrap();
    a.create_user(&user("u1", "ana")).await.unwrap();
    // 250 device ids of 36 characters: ~10 KB, past pg_notify's 8,000 bytes.
    let ids: Vec<String> = (0..250)
        .map(|i| format!("{i:08}-0000-4000-8000-000000000000"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    a.create_challenge_limited(
        &challenge("c1", "u1", &refs),
        t0() - Duration::minutes(5),
        3,
    )
    .await
    .expect("a large challenge is written (the notice is shortened, not refused)");
    match next(&mut on_b).await {
        Notice::ChallengeNew { id, devices } => {
            assert_eq!(id, "c1");
            assert_eq!(devices, ids, "read from the challenge itself");
        }
        other => panic!("{other:?}"),
    }
    a.close().await;
    b.close().await;
    db.drop_database().await;
}
