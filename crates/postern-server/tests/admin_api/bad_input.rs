//! Input the admin API must refuse, with its JSON error body, changing nothing: malformed JSON,
//! wrong content types, unknown fields (no mass assignment), wrong types, huge strings, paths that
//! are not UTF-8, invalid times, odd `Authorization` headers.

use crate::common::{Backend, TestServer, create_admin_token};
use crate::{Api, Reply, audit_log, create_user};
use postern_core::admin::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// Everything a refused request could have changed.
async fn state(admin: &Api, user_path: &str, client_path: &str) -> Value {
    let mut tokens = admin.get("/admin/v1/tokens").await.expect(200);
    for t in tokens.as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("last_used");
    }
    json!({
        "audit": audit_log(admin).await,
        "users": admin.get("/admin/v1/users?limit=500").await.expect(200),
        "methods": admin.get(&format!("{user_path}/authentication/methods")).await.expect(200),
        "clients": admin.get("/admin/v1/clients").await.expect(200),
        "client": admin.get(client_path).await.expect(200),
        "tokens": tokens,
    })
}

/// Whether `reply` is the JSON error `status`/`key` naming its request.
fn refused(reply: &Reply, status: u16, key: &str) -> bool {
    reply.status == status
        && reply.json["error"] == key
        && reply.json["request_id"].as_str() == Some(reply.request_id().as_str())
        && reply.json["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
}

/// A request with a raw body and content type.
async fn raw(
    admin: &Api,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let mut req = admin.request(method, path).body(body.to_vec());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    Api::send(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_input_changes_nothing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (secret, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&secret));
    let user = create_user(&admin, "bad").await;
    let user_path = format!("/admin/v1/users/{}", user["id"].as_str().unwrap());
    let client = admin
        .post(
            "/admin/v1/clients",
            json!({ "name": "App", "redirect_uris": ["https://app.example/cb"] }),
        )
        .await
        .expect(201);
    let client_path = format!("/admin/v1/clients/{}", client["id"].as_str().unwrap());
    let before = state(&admin, &user_path, &client_path).await;
    let json_ct = Some("application/json");
    let huge = "x".repeat(10 * 1024);
    let tap = format!("{user_path}/authentication/temporary-access-pass");
    // Request heads are capped at 8 KiB (app.rs): long strings in URLs are 4 KiB.
    let long = "q".repeat(4 * 1024);

    // Bodies: malformed, wrong type, unknown fields, wrong field types, huge strings.
    let bodies: Vec<(Method, String, Option<&str>, Vec<u8>)> = vec![
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            b"{\"username\": \"eve\"".to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            b"not json at all".to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            b"null".to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            b"".to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            b"{\"username\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            Some("text/plain"),
            br#"{"username": "eve"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            Some("application/x-www-form-urlencoded"),
            b"username=eve".to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            None,
            br#"{"username": "eve"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            br#"{"username": "eve", "role": "admin"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            br#"{"username": "eve", "disabled": false}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            br#"{"username": 5}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            json!({ "username": huge }).to_string().into_bytes(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            json!({ "username": "eve", "email": format!("{huge}@x.example") })
                .to_string()
                .into_bytes(),
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json_ct,
            json!({ "username": "eve", "password": huge })
                .to_string()
                .into_bytes(),
        ),
        (
            Method::PATCH,
            user_path.clone(),
            json_ct,
            br#"{"username": "renamed"}"#.to_vec(),
        ),
        (
            Method::PATCH,
            user_path.clone(),
            json_ct,
            br#"{"disabled": "yes"}"#.to_vec(),
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some("text/plain"),
            br#"{"name": "X"}"#.to_vec(),
        ),
        (Method::PATCH, user_path.clone(), json_ct, b"{".to_vec()),
        (
            Method::PUT,
            format!("{user_path}/role"),
            json_ct,
            br#"{"role": "admin", "by": "me"}"#.to_vec(),
        ),
        (
            Method::PUT,
            format!("{user_path}/role"),
            json_ct,
            b"".to_vec(),
        ),
        (
            Method::PUT,
            format!("{user_path}/password"),
            json_ct,
            br#"{"password": "long enough", "x": 1}"#.to_vec(),
        ),
        (
            Method::PUT,
            format!("{user_path}/password"),
            json_ct,
            br#"{"password": null}"#.to_vec(),
        ),
        (
            Method::PUT,
            format!("{user_path}/authentication/default-method"),
            json_ct,
            br#"{"method_id": 1}"#.to_vec(),
        ),
        (
            Method::POST,
            tap.clone(),
            json_ct,
            br#"{"pass": "chosen-by-me"}"#.to_vec(),
        ),
        (
            Method::POST,
            tap.clone(),
            json_ct,
            br#"{"lifetime_minutes": 1e3}"#.to_vec(),
        ),
        (
            Method::POST,
            tap.clone(),
            Some("text/plain"),
            br#"{"once": true}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/clients".into(),
            json_ct,
            json!({ "name": huge, "redirect_uris": ["https://x.example/cb"] })
                .to_string()
                .into_bytes(),
        ),
        (
            Method::POST,
            "/admin/v1/clients".into(),
            json_ct,
            br#"{"name": "X", "redirect_uris": ["https://x.example/cb"], "secret": "mine"}"#
                .to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/clients".into(),
            json_ct,
            br#"{"name": "X", "redirect_uris": "https://x.example/cb"}"#.to_vec(),
        ),
        (
            Method::PATCH,
            client_path.clone(),
            json_ct,
            br#"{"name": "Renamed"}"#.to_vec(),
        ),
        (
            Method::PATCH,
            client_path.clone(),
            json_ct,
            br#"{"kind": "public"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/tokens".into(),
            json_ct,
            br#"{"name": "x", "role": "admin", "token": "pat_mine"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/admin/v1/tokens".into(),
            json_ct,
            json!({ "name": huge, "role": "reader" })
                .to_string()
                .into_bytes(),
        ),
        (
            Method::POST,
            "/admin/v1/tokens".into(),
            json_ct,
            br#"{"name": "x", "role": "reader", "expires_in_days": "30"}"#.to_vec(),
        ),
    ];
    let mut problems = Vec::new();
    for (method, path, ct, body) in bodies {
        let what = format!(
            "{method} {path} {ct:?} {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(80)
                .collect::<String>()
        );
        let reply = raw(&admin, method, &path, ct, &body).await;
        if !refused(&reply, 400, "invalid_request") {
            problems.push(format!("{what}: {} {}", reply.status, reply.text));
        }
    }

    // Queries: invalid times, limits, cursors, huge filters.
    for (path, q) in [
        ("/admin/v1/signins", vec![("from", "29/11/2026")]),
        ("/admin/v1/signins", vec![("to", "2026-11-29 08:00")]),
        ("/admin/v1/signins", vec![("from", "2026-11-29T08:00:00")]),
        ("/admin/v1/signins", vec![("user", long.as_str())]),
        ("/admin/v1/signins", vec![("limit", "1.5")]),
        ("/admin/v1/signins/export", vec![("since", "")]),
        ("/admin/v1/signins/export", vec![("since", "-1")]),
        ("/admin/v1/audit", vec![("from", "now")]),
        ("/admin/v1/audit", vec![("to", "2026-11-29T25:00:00Z")]),
        ("/admin/v1/audit", vec![("target", long.as_str())]),
        ("/admin/v1/audit", vec![("cursor", "MTIzOmFiYw==")]),
        ("/admin/v1/users", vec![("search", long.as_str())]),
        ("/admin/v1/users", vec![("limit", "99999999999999999999")]),
    ] {
        let reply = admin.get_query(path, &q).await;
        if !refused(&reply, 400, "invalid_request") {
            problems.push(format!("{path} {q:?}: {} {}", reply.status, reply.text));
        }
    }
    assert!(
        problems.is_empty(),
        "accepted or refused badly:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        state(&admin, &user_path, &client_path).await,
        before,
        "nothing changed"
    );
    server.stop().await;
}

/// Huge path segments: 404 with the JSON body; a head over the cap is refused; odd
/// `Authorization` headers get 401 with the challenge. Nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_paths_and_odd_authorization_headers() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (secret, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&secret));
    let user = create_user(&admin, "odd").await;
    let user_path = format!("/admin/v1/users/{}", user["id"].as_str().unwrap());
    let client = admin
        .post(
            "/admin/v1/clients",
            json!({ "name": "App", "redirect_uris": ["https://app.example/cb"] }),
        )
        .await
        .expect(201);
    let client_path = format!("/admin/v1/clients/{}", client["id"].as_str().unwrap());
    let before = state(&admin, &user_path, &client_path).await;
    // Request heads are capped at 8 KiB (app.rs): a long segment is 4 KiB; a longer head is
    // refused before routing.
    let huge = "u".repeat(4 * 1024);

    for (method, path) in [
        (Method::GET, format!("/admin/v1/users/{huge}")),
        (Method::POST, format!("/admin/v1/users/{huge}/disable")),
        (Method::DELETE, format!("/admin/v1/clients/{huge}")),
        (Method::GET, format!("/admin/v1/signins/{huge}")),
        (Method::DELETE, format!("/admin/v1/tokens/{huge}")),
    ] {
        let reply = admin.call(method.clone(), &path, None).await;
        assert_eq!(
            reply.status,
            404,
            "{method} /…{}: {}",
            &path[path.len() - 20..],
            reply.text
        );
        reply.error(404, "not_found");
    }
    let oversized = admin
        .request(
            Method::POST,
            &format!("/admin/v1/users/{}/disable", "u".repeat(10 * 1024)),
        )
        .send()
        .await;
    if let Ok(res) = oversized {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    assert_eq!(
        state(&admin, &user_path, &client_path).await,
        before,
        "nothing changed"
    );

    // Authorization headers that are not a bearer token: 401, with the challenge.
    for header in [
        "Basic cm9vdDpyb290".to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Token {secret}"),
        format!("Bearer {secret}x"),
        format!("Bearer {}", &secret[4..]),
        format!("Bearer {}", "pat_".repeat(100)),
    ] {
        let reply = Api::send(
            reqwest::Client::new()
                .get(server.url("/admin/v1/me"))
                .header("authorization", &header),
        )
        .await;
        reply.error(401, "unauthorized");
        assert!(
            reply.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let lower = Api::send(
        reqwest::Client::new()
            .get(server.url("/admin/v1/me"))
            .header("authorization", format!("bearer {secret}")),
    )
    .await;
    assert_eq!(
        lower.status, 200,
        "the scheme is case-insensitive: {}",
        lower.text
    );
    server.stop().await;
}

/// The account and application every test below acts on, and an admin.
async fn set_up(server: &TestServer) -> (Api, String, String) {
    let (secret, _) = create_admin_token(server, "root", Role::Admin, None).await;
    let admin = Api::new(server, Some(&secret));
    let user = create_user(&admin, "someone").await;
    let user_path = format!("/admin/v1/users/{}", user["id"].as_str().unwrap());
    let client = admin
        .post(
            "/admin/v1/clients",
            json!({ "name": "App", "redirect_uris": ["https://app.example/cb"] }),
        )
        .await
        .expect(201);
    let client_path = format!("/admin/v1/clients/{}", client["id"].as_str().unwrap());
    (admin, user_path, client_path)
}

/// A path segment that is not UTF-8 is refused like any other bad input: 400 with the JSON body
/// (not the framework's plain-text rejection), nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_path_segments_get_json_errors() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (admin, user_path, client_path) = set_up(&server).await;
    let before = state(&admin, &user_path, &client_path).await;
    let mut problems = Vec::new();
    for (method, path) in [
        (Method::GET, "/admin/v1/users/%FF".to_owned()),
        (Method::POST, "/admin/v1/users/%C3%28/disable".to_owned()),
        (Method::DELETE, "/admin/v1/clients/%FF%FE".to_owned()),
        (Method::GET, "/admin/v1/signins/%80".to_owned()),
        (Method::DELETE, "/admin/v1/tokens/%FF".to_owned()),
        (
            Method::DELETE,
            format!("{user_path}/authentication/methods/%FF"),
        ),
    ] {
        let reply = admin.call(method.clone(), &path, None).await;
        if !refused(&reply, 400, "invalid_request") {
            let ct = reply.headers.get("content-type").cloned();
            problems.push(format!(
                "{method} {path}: {} {ct:?} {}",
                reply.status, reply.text
            ));
        }
    }
    assert_eq!(
        state(&admin, &user_path, &client_path).await,
        before,
        "nothing changed"
    );
    assert!(
        problems.is_empty(),
        "not a JSON 400:\n{}",
        problems.join("\n")
    );
    server.stop().await;
}

/// A body must be a JSON object: serde would otherwise read an array positionally as the struct
/// (`["eve"]` as `{"username": "eve"}`), around the field names `deny_unknown_fields` guards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_arrays_are_not_objects() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (admin, user_path, client_path) = set_up(&server).await;
    let before = state(&admin, &user_path, &client_path).await;
    let mut problems = Vec::new();
    for (method, path, body) in [
        (Method::POST, "/admin/v1/users".to_owned(), json!(["eve"])),
        (
            Method::POST,
            "/admin/v1/users".to_owned(),
            json!(["mallory", null, null, "a long enough password"]),
        ),
        (
            Method::POST,
            "/admin/v1/tokens".to_owned(),
            json!(["sneaky", "admin"]),
        ),
        (
            Method::POST,
            "/admin/v1/clients".to_owned(),
            json!(["Positional", ["https://x.example/cb"]]),
        ),
        (Method::PUT, format!("{user_path}/role"), json!(["admin"])),
        (Method::PATCH, user_path.clone(), json!([null, "Renamed"])),
        (
            Method::PATCH,
            client_path.clone(),
            json!([["https://y.example/cb"]]),
        ),
        (
            Method::POST,
            format!("{user_path}/authentication/temporary-access-pass"),
            json!([60, true]),
        ),
    ] {
        let reply = admin.call(method.clone(), &path, Some(&body)).await;
        if !refused(&reply, 400, "invalid_request") {
            problems.push(format!(
                "{method} {path} {body}: {} {}",
                reply.status, reply.text
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "arrays accepted as objects:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        state(&admin, &user_path, &client_path).await,
        before,
        "nothing changed"
    );
    server.stop().await;
}

/// Every answer under `/admin/v1` that is not a success has the JSON error body, including the
/// ones the framework gives: an unknown path, a method the route does not take, a body over the
/// size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_refusals_are_json_too() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (admin, user_path, client_path) = set_up(&server).await;
    let before = state(&admin, &user_path, &client_path).await;
    let mut problems = Vec::new();
    let big = json!({ "username": "x".repeat(70 * 1024) });
    for (method, path, body, status, key) in [
        (
            Method::GET,
            "/admin/v1/nope".to_owned(),
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/admin/v1/users/".to_owned(),
            None,
            404,
            "not_found",
        ),
        (
            Method::PUT,
            "/admin/v1/users".to_owned(),
            None,
            405,
            "method_not_allowed",
        ),
        (
            Method::DELETE,
            user_path.clone(),
            None,
            405,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/admin/v1/users".to_owned(),
            Some(big),
            413,
            "payload_too_large",
        ),
    ] {
        let reply = admin.call(method.clone(), &path, body.as_ref()).await;
        let json = reply
            .headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        let named = reply.json["request_id"].as_str() == Some(reply.request_id().as_str());
        if reply.status != status || !json || !named || !reply.json["error"].is_string() {
            let ct = reply.headers.get("content-type").cloned();
            problems.push(format!(
                "{method} {path}: {} {ct:?} x-request-id {:?} {} (expected {status}, JSON such as {key})",
                reply.status,
                reply.request_id(),
                reply
                    .text
                    .chars()
                    .filter(|c| *c != '\n')
                    .take(40)
                    .collect::<String>()
            ));
        }
    }
    assert_eq!(
        state(&admin, &user_path, &client_path).await,
        before,
        "nothing changed"
    );
    assert!(
        problems.is_empty(),
        "not the API's error body:\n{}",
        problems.join("\n")
    );
    server.stop().await;
}
