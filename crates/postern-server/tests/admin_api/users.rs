//! Accounts through the admin API: create, search and page, read, change, disable and enable,
//! roles and passwords; each change checked where it matters, at the sign-in pages. (The
//! helpdesk's rescues are in `rescues.rs`.)

use crate::common::{
    Browser, PASSWORD, TestServer, authorize_url, create_admin_token, query_param, shown_code,
};
use crate::{Api, audit_log, create_user, last_audit, signed_in, sso_works};
use postern_core::admin::Role;
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn admin_of(server: &TestServer) -> Api {
    let (secret, _) = create_admin_token(server, "users-admin", Role::Admin, None).await;
    Api::new(server, Some(&secret))
}

/// Whether `username` with `password` gets through the sign-in pages to `client` (and the page
/// shown otherwise).
async fn signs_in(
    server: &TestServer,
    client: &postern_core::client::Client,
    username: &str,
    password: &str,
) -> Result<(), String> {
    let browser = Browser::new(server);
    let (url, ..) = authorize_url(server, client, &[("prompt", "login")]);
    match browser.sign_in(&url, username, password).await {
        crate::common::Landing::App(to) if query_param(&to, "code").is_some() => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_validation_and_conflicts() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let made = admin
        .post(
            "/admin/v1/users",
            json!({ "username": " Ada.Lovelace ", "email": "ada@school.example", "name": "Ada", "password": PASSWORD }),
        )
        .await;
    let rid = made.request_id();
    let made = made.expect(201);
    assert_eq!(made["username"], "ada.lovelace", "normalised");
    assert_eq!(made["email"], "ada@school.example");
    assert_eq!(made["has_password"], true);
    assert_eq!(made["disabled"], false);
    assert_eq!(made["role"], Value::Null);
    assert_eq!(made["locked_until"], Value::Null);
    assert!(
        made.get("password_hash").is_none(),
        "never the hash: {made}"
    );
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.create");
    assert_eq!(entry["target_id"], made["id"]);
    assert_eq!(entry["target_name"], "ada.lovelace");
    assert_eq!(entry["request_id"], rid.as_str());
    assert_eq!(entry["actor"], "token 'users-admin'");
    assert_eq!(entry["actor_role"], "admin");

    let audit = audit_log(&admin).await;
    let refused = [
        (
            json!({ "username": "ADA.LOVELACE", "password": PASSWORD }),
            409,
            "conflict",
        ),
        (
            json!({ "username": "has space", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "username": "", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "username": "a/b", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "username": "x".repeat(65), "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "username": "bea", "email": "no-at-sign", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "username": "bea", "email": "two words@x.example" }),
            400,
            "invalid_request",
        ),
        (
            json!({ "username": "bea", "password": "short" }),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, key) in refused {
        let message = admin
            .post("/admin/v1/users", body.clone())
            .await
            .error(status, key);
        if status == 409 {
            assert!(message.contains("ada.lovelace"), "{message}");
        }
    }
    assert_eq!(
        audit_log(&admin).await,
        audit,
        "refused creations are not audited"
    );
    admin
        .get("/admin/v1/users/bea")
        .await
        .error(404, "not_found");
    let listed = admin.get("/admin/v1/users").await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // Without a password the account signs in with a temporary access pass.
    let bare = admin
        .post("/admin/v1/users", json!({ "username": "bea" }))
        .await
        .expect(201);
    assert_eq!(bare["has_password"], false);
    assert!(
        last_audit(&admin).await["detail"]
            .as_str()
            .unwrap()
            .contains("without a password")
    );
    server.stop().await;
}

/// Follows `next_cursor` from the first page; returns the usernames in order.
async fn all_pages(admin: &Api, search: &str, limit: Option<&str>) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = vec![("search", search.to_owned())];
        if let Some(l) = limit {
            q.push(("limit", l.to_owned()));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = admin.get_query("/admin/v1/users", &q).await.expect(200);
        pages += 1;
        assert!(pages < 100, "paging ends");
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return names,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_paging_and_lookup() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let expected: Vec<String> = (0..55).map(|i| format!("pg-{i:02}")).collect();
    for (i, name) in expected.iter().enumerate() {
        admin
            .post(
                "/admin/v1/users",
                json!({ "username": name, "name": format!("Paging Person {i:02}"), "email": format!("{name}@paging.example") }),
            )
            .await
            .expect(201);
    }
    create_user(&admin, "other").await;

    // The default page is 50; the cursor leads to the rest, without duplicates or gaps.
    let first = admin.get("/admin/v1/users?search=pg-").await.expect(200);
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert!(first["next_cursor"].is_string());
    assert_eq!(all_pages(&admin, "pg-", None).await, expected);
    for limit in ["1", "7", "55", "500"] {
        assert_eq!(
            all_pages(&admin, "pg-", Some(limit)).await,
            expected,
            "limit {limit}"
        );
    }
    let everyone = all_pages(&admin, "", Some("10")).await;
    assert_eq!(everyone.len(), 56);
    assert_eq!(
        everyone.iter().collect::<BTreeSet<_>>().len(),
        56,
        "no duplicates"
    );

    // Search covers username, email and name, in any case; LIKE wildcards are literal.
    assert_eq!(all_pages(&admin, "PAGING PERSON 07", None).await, ["pg-07"]);
    assert_eq!(all_pages(&admin, "pg-54@PAGING", None).await, ["pg-54"]);
    assert!(
        all_pages(&admin, "pg_", None).await.is_empty(),
        "_ is not a wildcard"
    );
    assert!(
        all_pages(&admin, "%", None).await.is_empty(),
        "% is not a wildcard"
    );

    for bad in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=ten",
        "cursor=not%20a%20cursor!",
        "cursor=%2F%2F%2F",
    ] {
        admin
            .get(&format!("/admin/v1/users?{bad}"))
            .await
            .error(400, "invalid_request");
    }
    let long = "s".repeat(201);
    admin
        .get_query("/admin/v1/users", &[("search", &long)])
        .await
        .error(400, "invalid_request");

    // One account by id, by username, by username in other case.
    let one = admin.get("/admin/v1/users/pg-07").await.expect(200);
    let id = one["id"].as_str().unwrap();
    assert_eq!(
        admin
            .get(&format!("/admin/v1/users/{id}"))
            .await
            .expect(200),
        one
    );
    assert_eq!(admin.get("/admin/v1/users/PG-07").await.expect(200), one);
    assert_eq!(one["name"], "Paging Person 07");
    let message = admin
        .get("/admin/v1/users/nobody")
        .await
        .error(404, "not_found");
    assert!(message.contains("nobody"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_disable_and_enable() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let user = create_user(&admin, "una").await;
    let path = format!("/admin/v1/users/{}", user["id"].as_str().unwrap());

    let changed = admin
        .patch(
            &path,
            json!({ "email": "una@new.example", "name": "  Una New  " }),
        )
        .await
        .expect(200);
    assert_eq!(changed["email"], "una@new.example");
    assert_eq!(changed["name"], "Una New");
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.update");
    let detail = entry["detail"].as_str().unwrap();
    assert!(
        detail.contains("una@new.example") && detail.contains("Una New"),
        "{detail}"
    );
    assert_eq!(admin.get(&path).await.expect(200), changed);

    // Absent fields stay; empty ones clear; nothing changed, nothing audited.
    let audit = audit_log(&admin).await;
    assert_eq!(admin.patch(&path, json!({})).await.expect(200), changed);
    assert_eq!(
        admin
            .patch(&path, json!({ "name": "Una New" }))
            .await
            .expect(200),
        changed
    );
    assert_eq!(audit_log(&admin).await, audit, "no change, no entry");
    admin
        .patch(&path, json!({ "email": "not an email" }))
        .await
        .error(400, "invalid_request");
    assert_eq!(admin.get(&path).await.expect(200), changed);
    assert_eq!(audit_log(&admin).await, audit);
    let cleared = admin.patch(&path, json!({ "email": "" })).await.expect(200);
    assert_eq!(cleared["email"], Value::Null);
    assert_eq!(cleared["name"], "Una New");

    // Disabling through PATCH ends the SSO session; the sign-in then says 50057.
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    browser.sign_in(&url, "una", PASSWORD).await.app_url();
    assert!(sso_works(&server, &browser, &client).await);
    let disabled = admin
        .patch(&path, json!({ "disabled": true }))
        .await
        .expect(200);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(last_audit(&admin).await["action"], "user.disable");
    assert!(
        !sso_works(&server, &browser, &client).await,
        "the session ended"
    );
    let (url, ..) = authorize_url(&server, &client, &[]);
    let page = browser.sign_in(&url, "una", PASSWORD).await;
    assert_eq!(shown_code(page.body()).as_deref(), Some("50057"));

    let enabled = admin
        .post_empty(&format!("{path}/enable"))
        .await
        .expect(200);
    assert_eq!(enabled["disabled"], false);
    assert_eq!(last_audit(&admin).await["action"], "user.enable");
    signs_in(&server, &client, "una", PASSWORD).await.unwrap();

    // The disable route, with a live session.
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    browser.sign_in(&url, "una", PASSWORD).await.app_url();
    let disabled = admin
        .post_empty(&format!("{path}/disable"))
        .await
        .expect(200);
    assert_eq!(disabled["disabled"], true);
    assert!(
        !sso_works(&server, &browser, &client).await,
        "the session ended"
    );
    let err = signs_in(&server, &client, "una", PASSWORD)
        .await
        .unwrap_err();
    assert!(err.contains("50057"), "{err}");
    admin
        .post_empty(&format!("{path}/enable"))
        .await
        .expect(200);
    signs_in(&server, &client, "una", PASSWORD).await.unwrap();
    admin
        .post_empty("/admin/v1/users/nobody/disable")
        .await
        .error(404, "not_found");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_passwords() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    create_user(&admin, "pat").await;
    for role in [
        json!("admin"),
        json!("helpdesk"),
        json!("reader"),
        Value::Null,
    ] {
        let answer = admin
            .put("/admin/v1/users/pat/role", json!({ "role": role }))
            .await
            .expect(200);
        assert_eq!(answer["role"], role);
        assert_eq!(
            admin.get("/admin/v1/users/pat").await.expect(200)["role"],
            role
        );
        let entry = last_audit(&admin).await;
        assert_eq!(entry["action"], "user.set_role");
        match role.as_str() {
            Some(r) => assert!(entry["detail"].as_str().unwrap().contains(r), "{entry}"),
            None => assert!(
                entry["detail"].as_str().unwrap().contains("removed"),
                "{entry}"
            ),
        }
    }
    let audit = audit_log(&admin).await;
    for bad in [
        json!({ "role": "root" }),
        json!({ "role": "Admin" }),
        json!({ "role": 1 }),
    ] {
        admin
            .put("/admin/v1/users/pat/role", bad)
            .await
            .error(400, "invalid_request");
    }
    admin
        .put("/admin/v1/users/nobody/role", json!({ "role": "reader" }))
        .await
        .error(404, "not_found");

    // A new password: the old one stops working, sessions end.
    let browser = signed_in(&server, "pat").await;
    assert!(sso_works(&server, &browser, &client).await);
    admin
        .put(
            "/admin/v1/users/pat/password",
            json!({ "password": "short" }),
        )
        .await
        .error(400, "invalid_request");
    admin
        .put("/admin/v1/users/pat/password", json!({}))
        .await
        .error(400, "invalid_request");
    assert_eq!(audit_log(&admin).await, audit, "refusals change nothing");
    signs_in(&server, &client, "pat", PASSWORD).await.unwrap();
    let answer = admin
        .put(
            "/admin/v1/users/pat/password",
            json!({ "password": "a brand new passphrase" }),
        )
        .await;
    assert!(!answer.text.contains("a brand new passphrase"));
    answer.expect(200);
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.set_password");
    assert!(
        !entry.to_string().contains("a brand new passphrase"),
        "{entry}"
    );
    assert!(
        !sso_works(&server, &browser, &client).await,
        "sessions ended"
    );
    signs_in(&server, &client, "pat", PASSWORD)
        .await
        .unwrap_err();
    signs_in(&server, &client, "pat", "a brand new passphrase")
        .await
        .unwrap();
    server.stop().await;
}

/// `PUT …/role` takes away a role only when told so (`"role": null`): an empty object is a
/// mistake, not a removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_role_needs_an_explicit_null() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    create_user(&admin, "ray").await;
    admin
        .put("/admin/v1/users/ray/role", json!({ "role": "admin" }))
        .await
        .expect(200);
    let audit = audit_log(&admin).await;
    let reply = admin.put("/admin/v1/users/ray/role", json!({})).await;
    let role = admin.get("/admin/v1/users/ray").await.expect(200)["role"].clone();
    assert_eq!(
        (reply.status, role),
        (400, json!("admin")),
        "an empty body removed the role: {}",
        reply.text
    );
    assert_eq!(audit_log(&admin).await, audit);
    server.stop().await;
}

/// What a creation answers is what later reads show: the times the POST returns are the stored
/// ones (to the millisecond), so a client can compare them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_answers_match_later_reads() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let admin = admin_of(&server).await;
    let mut problems = Vec::new();
    let user = create_user(&admin, "tim").await;
    let read = admin.get("/admin/v1/users/tim").await.expect(200);
    if user != read {
        problems.push(format!("user: POST {user}\n      GET  {read}"));
    }
    let client = admin
        .post(
            "/admin/v1/clients",
            json!({ "name": "Times", "redirect_uris": ["https://t.example/cb"] }),
        )
        .await
        .expect(201);
    let mut created = client.clone();
    created.as_object_mut().unwrap().remove("client_secret");
    let read = admin
        .get(&format!(
            "/admin/v1/clients/{}",
            client["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    if created != read {
        problems.push(format!("client: POST {created}\n        GET  {read}"));
    }
    let token = admin
        .post(
            "/admin/v1/tokens",
            json!({ "name": "times", "role": "reader", "expires_in_days": 1 }),
        )
        .await
        .expect(201);
    let listed = admin.get("/admin/v1/tokens").await.expect(200);
    let read = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token["id"])
        .unwrap();
    for field in ["created", "expires"] {
        if token[field] != read[field] {
            problems.push(format!(
                "token {field}: POST {} GET {}",
                token[field], read[field]
            ));
        }
    }
    let pass = admin
        .post_empty("/admin/v1/users/tim/authentication/temporary-access-pass")
        .await
        .expect(201);
    let read = admin
        .get("/admin/v1/users/tim/authentication/methods/temporary-access-pass")
        .await
        .expect(200);
    for field in ["created", "expires"] {
        if pass[field] != read[field] {
            problems.push(format!(
                "access pass {field}: POST {} GET {}",
                pass[field], read[field]
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "answers differ from what is stored:\n{}",
        problems.join("\n")
    );
    server.stop().await;
}
