//! A user's sign-in methods and temporary access passes through the admin API: the list after the
//! user registered on Security info, one method, removal (the sign-in stops asking for it), the
//! default, and passes (lifetimes, one usable at a time, listed without the pass, deletion).

use crate::common::{
    Browser, STEP, TestServer, authorize_url, create_admin_token, hidden, prompt_for,
};
use crate::{Api, audit_log, create_user, last_audit, signed_in};
use postern_core::admin::Role;
use postern_core::client::ClientKind;
use postern_core::clock::{Clock, to_millis};
use postern_core::oidc::jws::SigningAlg;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

fn rfc3339(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("a time, not {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn by_type<'a>(methods: &'a Value, kind: &str) -> Vec<&'a Value> {
    methods
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_read_default_and_delete() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (secret, _) = create_admin_token(&server, "desk", Role::Helpdesk, None).await;
    let desk = Api::new(&server, Some(&secret));
    let (admin_secret, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&admin_secret));
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    create_user(&admin, "mia").await;
    assert_eq!(
        desk.get("/admin/v1/users/mia/authentication/methods")
            .await
            .expect(200),
        json!([]),
        "nothing registered yet"
    );

    let browser = signed_in(&server, "mia").await;
    let first_app = browser.add_authenticator(&server).await;
    server.advance(STEP);
    let second_app = browser.add_authenticator(&server).await;
    let codes = browser.create_recovery_codes(&server).await;
    server.advance(STEP);

    let list = desk.get("/admin/v1/users/mia/authentication/methods").await;
    let text = list.text.clone();
    let list = list.expect(200);
    let apps = by_type(&list, "totp");
    let sets = by_type(&list, "recovery_codes");
    assert_eq!(
        (apps.len(), sets.len(), list.as_array().unwrap().len()),
        (2, 1, 3),
        "{list}"
    );
    assert_eq!(apps[0]["name"], "Phone");
    assert_eq!(apps[0]["is_default"], true, "the first app is the default");
    assert_eq!(apps[1]["is_default"], false);
    assert_eq!(sets[0]["codes_left"], 10);
    assert_eq!(sets[0]["is_default"], false);
    assert!(apps[0].get("codes_left").is_none());
    for m in list.as_array().unwrap() {
        rfc3339(&m["created"]);
    }
    for secretish in ["seed", "secret", "hash"] {
        assert!(!text.contains(secretish), "no {secretish} in {text}");
    }
    assert!(
        !codes.iter().any(|c| text.contains(c.as_str())),
        "never a code"
    );
    let first_id = apps[0]["id"].as_str().unwrap().to_owned();
    let second_id = apps[1]["id"].as_str().unwrap().to_owned();
    let codes_id = sets[0]["id"].as_str().unwrap().to_owned();

    // One method.
    let one = desk
        .get(&format!(
            "/admin/v1/users/mia/authentication/methods/{first_id}"
        ))
        .await
        .expect(200);
    assert_eq!(&one, apps[0]);
    desk.get("/admin/v1/users/mia/authentication/methods/nope")
        .await
        .error(404, "not_found");
    desk.get(&format!(
        "/admin/v1/users/nobody/authentication/methods/{first_id}"
    ))
    .await
    .error(404, "not_found");

    // The default: recovery codes cannot be it; an app can, and the sign-in asks it first.
    let audit = audit_log(&admin).await;
    let default = "/admin/v1/users/mia/authentication/default-method";
    let message = desk
        .put(default, json!({ "method_id": codes_id }))
        .await
        .error(400, "invalid_request");
    assert!(message.contains("cannot be the default"), "{message}");
    desk.put(default, json!({ "method_id": "nope" }))
        .await
        .error(404, "not_found");
    desk.put(default, json!({}))
        .await
        .error(400, "invalid_request");
    assert_eq!(audit_log(&admin).await, audit, "refusals change nothing");
    let after = desk
        .put(default, json!({ "method_id": second_id }))
        .await
        .expect(200);
    let defaults: Vec<&Value> = after
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], second_id.as_str());
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "method.set_default");
    assert_eq!(entry["actor"], "token 'desk'");
    assert_eq!(entry["actor_role"], "helpdesk");
    let other = Browser::new(&server);
    let (prompt, _) = prompt_for(&server, &other, &client, "mia", &[]).await;
    assert_eq!(
        hidden(&prompt, "method").as_deref(),
        Some(second_id.as_str())
    );
    other
        .submit_code(&prompt, &second_app.code(&server, Duration::ZERO), false)
        .await
        .app_url();
    server.advance(STEP);

    // Removing the default app: gone from the list, and the sign-in no longer asks it.
    let path = format!("/admin/v1/users/mia/authentication/methods/{second_id}");
    let removed = desk.delete(&path).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert!(removed.text.is_empty());
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "method.delete");
    assert!(
        entry["detail"].as_str().unwrap().contains(&second_id),
        "{entry}"
    );
    desk.get(&path).await.error(404, "not_found");
    desk.delete(&path).await.error(404, "not_found");
    let list = desk
        .get("/admin/v1/users/mia/authentication/methods")
        .await
        .expect(200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&second_id));
    let other = Browser::new(&server);
    let (prompt, _) = prompt_for(&server, &other, &client, "mia", &[]).await;
    assert_eq!(
        hidden(&prompt, "method").as_deref(),
        Some(first_id.as_str())
    );
    assert!(
        !prompt.contains(&second_id),
        "the removed app is not offered"
    );
    let refused = other
        .submit_code(&prompt, &second_app.code(&server, Duration::ZERO), false)
        .await;
    assert!(
        refused.page().1.contains("name=\"code\""),
        "the removed app's code is refused"
    );
    other
        .submit_code(
            refused.body(),
            &first_app.code(&server, Duration::ZERO),
            false,
        )
        .await
        .app_url();

    // With every method removed the password alone signs in (policy when_registered).
    for id in [&first_id, &codes_id] {
        let r = desk
            .delete(&format!("/admin/v1/users/mia/authentication/methods/{id}"))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let last = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    last.sign_in(&url, "mia", crate::common::PASSWORD)
        .await
        .app_url();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_access_passes() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (secret, _) = create_admin_token(&server, "desk", Role::Helpdesk, None).await;
    let desk = Api::new(&server, Some(&secret));
    let (admin_secret, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&admin_secret));
    create_user(&admin, "taj").await;
    let path = "/admin/v1/users/taj/authentication/temporary-access-pass";

    // Lifetimes outside 10 minutes to 30 days are refused, and change nothing.
    let audit = audit_log(&admin).await;
    for minutes in [5, 9, 0, -1, 43_201, i64::MAX] {
        desk.post(path, json!({ "lifetime_minutes": minutes }))
            .await
            .error(400, "invalid_request");
    }
    desk.post(path, json!({ "lifetime_minutes": "60" }))
        .await
        .error(400, "invalid_request");
    assert_eq!(audit_log(&admin).await, audit);
    assert_eq!(
        desk.get("/admin/v1/users/taj/authentication/methods")
            .await
            .expect(200),
        json!([])
    );

    // The default: an hour, multi-use, the pass shown once.
    let issued = desk.post_empty(path).await;
    assert_eq!(
        issued.headers["cache-control"], "no-store",
        "a pass is not cached"
    );
    let issued = issued.expect(201);
    let pass = issued["pass"].as_str().expect("the pass").to_owned();
    assert!(pass.len() >= 8, "{pass}");
    assert_eq!(issued["username"], "taj");
    assert_eq!(issued["once"], false);
    let now = server.clock.now();
    let expires = rfc3339(&issued["expires"]);
    assert!(
        (expires - (now + Duration::minutes(60))).abs() < Duration::minutes(1),
        "{expires} is about an hour from {now}"
    );
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "access_pass.create");
    assert_eq!(entry["actor"], "token 'desk'");
    let bare = pass.replace('-', "");
    assert!(!entry.to_string().contains(&pass) && !entry.to_string().contains(&bare));

    // One usable pass at a time.
    let audit = audit_log(&admin).await;
    let message = desk.post_empty(path).await.error(409, "conflict");
    assert!(message.contains("already has"), "{message}");
    assert_eq!(audit_log(&admin).await, audit);

    // Listed as a method, with its state, never the pass.
    let list = desk.get("/admin/v1/users/taj/authentication/methods").await;
    assert!(
        !list.text.contains(&pass) && !list.text.contains(&bare),
        "{}",
        list.text
    );
    let list = list.expect(200);
    let passes = by_type(&list, "temporary_access_pass");
    assert_eq!(passes.len(), 1, "{list}");
    assert_eq!(passes[0]["state"], "usable");
    assert_eq!(passes[0]["once"], false);
    // Stored to the millisecond (the answer to the POST has more digits).
    assert_eq!(
        to_millis(rfc3339(&passes[0]["expires"])),
        to_millis(expires)
    );
    let id = passes[0]["id"].as_str().unwrap();
    let one = desk
        .get(&format!("/admin/v1/users/taj/authentication/methods/{id}"))
        .await
        .expect(200);
    assert_eq!(&one, passes[0]);

    // Deleted once; then there is none to delete.
    let deleted = desk.delete(path).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(last_audit(&admin).await["action"], "access_pass.delete");
    let audit = audit_log(&admin).await;
    desk.delete(path).await.error(404, "not_found");
    assert_eq!(audit_log(&admin).await, audit);
    assert_eq!(
        desk.get("/admin/v1/users/taj/authentication/methods")
            .await
            .expect(200),
        json!([])
    );

    // The bounds themselves are allowed; `once` is kept.
    for (minutes, once) in [(10, true), (43_200, false)] {
        let issued = desk
            .post(path, json!({ "lifetime_minutes": minutes, "once": once }))
            .await
            .expect(201);
        assert_eq!(issued["once"], once);
        let lifetime = rfc3339(&issued["expires"]) - server.clock.now();
        assert!(
            (lifetime - Duration::minutes(minutes)).abs() < Duration::minutes(1),
            "{lifetime}"
        );
        let r = desk.delete(path).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    // An expired pass does not block a new one.
    desk.post(path, json!({ "lifetime_minutes": 10 }))
        .await
        .expect(201);
    server.advance(Duration::minutes(11));
    let list = desk
        .get("/admin/v1/users/taj/authentication/methods")
        .await
        .expect(200);
    assert_eq!(
        by_type(&list, "temporary_access_pass")[0]["state"],
        "expired"
    );
    desk.post_empty(path).await.expect(201);

    // A disabled account gets none.
    create_user(&admin, "dee").await;
    admin
        .post_empty("/admin/v1/users/dee/disable")
        .await
        .expect(200);
    desk.post_empty("/admin/v1/users/dee/authentication/temporary-access-pass")
        .await
        .error(409, "conflict");
    desk.post_empty("/admin/v1/users/nobody/authentication/temporary-access-pass")
        .await
        .error(404, "not_found");
    server.stop().await;
}
