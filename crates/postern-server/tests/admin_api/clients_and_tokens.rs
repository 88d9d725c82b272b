//! Applications and admin tokens through the admin API: register, read, change redirect URIs,
//! rotate the secret (the new one works at `/token`, the old one no longer does), delete; tokens
//! shown once, listed without the secret, revoked.

use crate::common::{
    Browser, TestServer, authorize_url, create_admin_token, create_admin_token_via_api,
};
use crate::{Api, audit_log, create_user, last_audit};
use postern_core::admin::Role;
use serde_json::{Value, json};

/// The status of a `client_credentials` request with Basic credentials.
async fn client_credentials(server: &TestServer, id: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_secret_rotation() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (secret, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&secret));

    let made = admin
        .post(
            "/admin/v1/clients",
            json!({
                "name": "Mail",
                "redirect_uris": ["http://127.0.0.1:9/callback"],
                "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
                "id_token_alg": "ES256",
            }),
        )
        .await;
    assert_eq!(
        made.headers["cache-control"], "no-store",
        "a secret is not cached"
    );
    let made = made.expect(201);
    let id = made["id"].as_str().unwrap().to_owned();
    let first = made["client_secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert!(first.len() >= 43, "a high-entropy secret");
    assert_eq!(made["kind"], "confidential");
    assert_eq!(made["id_token_alg"], "ES256");
    assert!(made.get("secret_hash").is_none());
    let entry = last_audit(&admin).await;
    assert_eq!(
        (entry["action"].as_str(), entry["target_id"].as_str()),
        (Some("client.create"), Some(id.as_str()))
    );
    assert!(!entry.to_string().contains(&first));
    assert_eq!(client_credentials(&server, &id, &first).await, 200);

    // Read: the list and one, never the secret.
    let path = format!("/admin/v1/clients/{id}");
    let one = admin.get(&path).await;
    assert!(
        !one.text.contains(&first) && !one.text.contains("secret"),
        "{}",
        one.text
    );
    let one = one.expect(200);
    assert_eq!(one["name"], "Mail");
    assert_eq!(one["redirect_uris"], json!(["http://127.0.0.1:9/callback"]));
    let list = admin.get("/admin/v1/clients").await;
    assert!(!list.text.contains(&first));
    assert!(list.expect(200).as_array().unwrap().contains(&one));
    admin
        .get("/admin/v1/clients/nope")
        .await
        .error(404, "not_found");

    // Rotation: the new secret works, the old one no longer does, for both grants.
    let rotated = admin
        .post_empty(&format!("{path}/rotate-secret"))
        .await
        .expect(200);
    let second = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(rotated["id"], id.as_str());
    assert_eq!(last_audit(&admin).await["action"], "client.rotate_secret");
    assert_eq!(client_credentials(&server, &id, &second).await, 200);
    assert_eq!(
        client_credentials(&server, &id, &first).await,
        401,
        "the old secret is dead"
    );
    create_user(&admin, "cal").await;
    let client: postern_core::client::Client =
        serde_json::from_value(admin.get(&path).await.expect(200)).unwrap();
    for (secret, works) in [(&second, true), (&first, false)] {
        let (code, verifier) = Browser::new(&server)
            .code_for(&server, &client, "cal", &[])
            .await;
        let res = crate::common::redeem(&server, &client, Some(secret), &code, &verifier).await;
        assert_eq!(
            res.status().is_success(),
            works,
            "code flow with the {} secret",
            if works { "new" } else { "old" }
        );
    }

    // Redirect URIs: replaced, validated, absent lists stay.
    let audit = audit_log(&admin).await;
    for bad in [
        json!({ "redirect_uris": [] }),
        json!({ "redirect_uris": ["https://x.example/#frag"] }),
        json!({ "redirect_uris": ["/relative"] }),
        json!({ "post_logout_redirect_uris": ["not a uri"] }),
        json!({ "redirect_uris": vec!["https://x.example/cb"; 21] }),
    ] {
        admin.patch(&path, bad).await.error(400, "invalid_request");
    }
    assert_eq!(audit_log(&admin).await, audit);
    assert_eq!(
        admin.get(&path).await.expect(200),
        serde_json::to_value(&client).unwrap()
    );
    let patched = admin
        .patch(
            &path,
            json!({ "redirect_uris": ["http://127.0.0.1:9/cb2"] }),
        )
        .await
        .expect(200);
    assert_eq!(patched["redirect_uris"], json!(["http://127.0.0.1:9/cb2"]));
    assert_eq!(
        patched["post_logout_redirect_uris"],
        json!(["http://127.0.0.1:9/bye"])
    );
    assert_eq!(last_audit(&admin).await["action"], "client.update");
    let (url, ..) = authorize_url(&server, &client, &[]);
    let refused = Browser::new(&server).open(&url).await;
    assert!(
        refused.page().1.to_lowercase().contains("redirect"),
        "the old redirect URI is refused at once"
    );

    // Registration is validated.
    for bad in [
        json!({ "name": "X", "redirect_uris": ["https://x.example/#frag"] }),
        json!({ "name": "X", "redirect_uris": [] }),
        json!({ "name": "X", "redirect_uris": ["relative/path"] }),
        json!({ "name": "", "redirect_uris": ["https://x.example/cb"] }),
        json!({ "name": "X", "redirect_uris": ["https://x.example/cb"], "id_token_alg": "HS256" }),
        json!({ "name": "X" }),
    ] {
        admin
            .post("/admin/v1/clients", bad)
            .await
            .error(400, "invalid_request");
    }

    // A public client has no secret to rotate.
    let public = admin
        .post(
            "/admin/v1/clients",
            json!({ "name": "App", "redirect_uris": ["com.example.app:/cb"], "public": true }),
        )
        .await
        .expect(201);
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(public["kind"], "public");
    let audit = audit_log(&admin).await;
    admin
        .post_empty(&format!(
            "/admin/v1/clients/{}/rotate-secret",
            public["id"].as_str().unwrap()
        ))
        .await
        .error(400, "invalid_request");
    assert_eq!(audit_log(&admin).await, audit);

    // Deleted: gone, its secret opens nothing.
    let deleted = admin.delete(&path).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(last_audit(&admin).await["action"], "client.delete");
    admin.get(&path).await.error(404, "not_found");
    admin.delete(&path).await.error(404, "not_found");
    admin
        .post_empty(&format!("{path}/rotate-secret"))
        .await
        .error(404, "not_found");
    assert_eq!(client_credentials(&server, &id, &second).await, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_shown_once_listed_revoked() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (root, root_token) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&root));

    // Bootstrap: the stored admin token makes the others through the API.
    let (desk_secret, desk) =
        create_admin_token_via_api(&server, &root, "desk-1", Role::Helpdesk).await;
    assert!(desk_secret.starts_with("pat_"), "{desk_secret}");
    assert!(desk_secret.len() >= 40);
    assert_eq!(desk["role"], "helpdesk");
    assert_eq!(desk["name"], "desk-1");
    assert_eq!(desk["expires"], Value::Null);
    assert_eq!(desk["revoked"], Value::Null);
    assert_eq!(desk["created_by"], "token 'root'");
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "token.create");
    assert_eq!(entry["target_id"], desk["id"]);
    assert!(!entry.to_string().contains(&desk_secret));
    let desk_api = Api::new(&server, Some(&desk_secret));
    let me = desk_api.get("/admin/v1/me").await.expect(200);
    assert_eq!(
        (me["role"].as_str(), me["actor"].as_str()),
        (Some("helpdesk"), Some("token 'desk-1'"))
    );

    let expiring = admin
        .post(
            "/admin/v1/tokens",
            json!({ "name": "script", "role": "reader", "expires_in_days": 30 }),
        )
        .await;
    assert_eq!(
        expiring.headers["cache-control"], "no-store",
        "a token is not cached"
    );
    let expiring = expiring.expect(201);
    let expires = time::OffsetDateTime::parse(
        expiring["expires"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let now = postern_core::clock::Clock::now(&*server.clock);
    assert!((expires - now - time::Duration::days(30)).abs() < time::Duration::minutes(1));
    let audit = audit_log(&admin).await;
    for bad in [
        json!({ "name": "x", "role": "root" }),
        json!({ "name": "", "role": "reader" }),
        json!({ "name": "x".repeat(101), "role": "reader" }),
        json!({ "name": "x", "role": "reader", "expires_in_days": 0 }),
        json!({ "name": "x", "role": "reader", "expires_in_days": 3651 }),
        json!({ "role": "reader" }),
    ] {
        admin
            .post("/admin/v1/tokens", bad)
            .await
            .error(400, "invalid_request");
    }
    assert_eq!(audit_log(&admin).await, audit);

    // The list: every token, never a secret or its hash.
    let list = admin.get("/admin/v1/tokens").await;
    for s in [
        root.as_str(),
        desk_secret.as_str(),
        expiring["token"].as_str().unwrap(),
    ] {
        assert!(!list.text.contains(s), "{}", list.text);
    }
    assert!(
        !list.text.contains("hash") && !list.text.contains("\"token\""),
        "{}",
        list.text
    );
    let list = list.expect(200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for id in [
        root_token.id.as_str(),
        desk["id"].as_str().unwrap(),
        expiring["id"].as_str().unwrap(),
    ] {
        assert!(ids.contains(&id), "{list}");
    }

    // Revoked by id: 401 from then on, listed as revoked; a second revocation is a conflict.
    let path = format!("/admin/v1/tokens/{}", desk["id"].as_str().unwrap());
    let revoked = admin.delete(&path).await.expect(200);
    assert!(revoked["revoked"].is_string(), "{revoked}");
    assert_eq!(last_audit(&admin).await["action"], "token.revoke");
    desk_api
        .get("/admin/v1/me")
        .await
        .error(401, "unauthorized");
    desk_api
        .get("/admin/v1/users")
        .await
        .error(401, "unauthorized");
    admin.delete(&path).await.error(409, "conflict");
    admin
        .delete("/admin/v1/tokens/nope")
        .await
        .error(404, "not_found");

    // By name, for people.
    let script = Api::new(&server, expiring["token"].as_str());
    script.get("/admin/v1/me").await.expect(200);
    admin.delete("/admin/v1/tokens/script").await.expect(200);
    script.get("/admin/v1/me").await.error(401, "unauthorized");
    server.stop().await;
}
