//! The admin API's OpenAPI document (`GET /admin/v1/openapi.json`) against the real server: it is
//! OpenAPI 3.x JSON; every operation it documents is routed (401 without a token, where a path
//! the router does not have answers 404 without one); with a token, an unknown id is a resource
//! that is missing (the JSON `not_found` error, a status the document lists), never a missing
//! route or method, and the document's examples are accepted; and its lists of codes, reasons,
//! roles and algorithms are the server's. `scripts/fuzz-admin-api` fuzzes the same document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer, create_admin_token};
use postern_core::admin::Role;
use postern_core::random::{OsRandom, uuid};
use reqwest::Method;
use serde_json::Value;

/// The document, as the server serves it.
async fn document(server: &TestServer) -> Value {
    let res = reqwest::get(server.url("/admin/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("openapi.json is not JSON: {e}"))
}

/// Follows a local `$ref` (`#/components/…`), once per level.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(doc, target)
        }
        None => v,
    }
}

/// One documented operation, made concrete: unknown ids in the path, required query parameters
/// and the body from the document's examples.
struct Operation {
    label: String,
    method: Method,
    url_path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    has_path_params: bool,
    public: bool,
    statuses: Vec<u16>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let global_security = doc["security"].as_array().is_some_and(|s| !s.is_empty());
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let params: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .chain(op["parameters"].as_array())
                .flatten()
                .map(|p| resolve(doc, p))
                .collect();
            let mut url_path = path.clone();
            let mut query = Vec::new();
            for p in &params {
                let name = p["name"].as_str().unwrap();
                match p["in"].as_str().unwrap() {
                    // A syntactically valid id that names nothing.
                    "path" => url_path = url_path.replace(&format!("{{{name}}}"), &uuid(&OsRandom)),
                    "query" if p["required"] == true => {
                        let example = p["example"].as_str().unwrap_or_else(|| {
                            panic!("{method} {path}: required `{name}` has no example")
                        });
                        query.push((name.to_owned(), example.to_owned()));
                    }
                    _ => {}
                }
            }
            let body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|_| {
                    let schema = resolve(
                        doc,
                        &op["requestBody"]["content"]["application/json"]["schema"],
                    );
                    schema["example"].clone()
                })
                .filter(|example| !example.is_null());
            let statuses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: no responses"))
                .keys()
                .map(|k| {
                    k.parse()
                        .unwrap_or_else(|_| panic!("{method} {path}: status {k}"))
                })
                .collect();
            let public = match op.get("security") {
                Some(s) => s.as_array().is_some_and(|s| s.is_empty()),
                None => !global_security,
            };
            out.push(Operation {
                label: format!("{} {path}", method.to_uppercase()),
                method: method.to_uppercase().parse().unwrap(),
                has_path_params: url_path != *path,
                url_path,
                query,
                body,
                public,
                statuses,
            });
        }
    }
    out
}

/// Sends one operation; returns the status and the body as JSON (Null when not JSON).
async fn call(server: &TestServer, op: &Operation, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(op.method.clone(), server.url(&op.url_path))
        .query(&op.query);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let Some(body) = &op.body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let json = res.json().await.unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_with_every_code_the_server_has() {
    let server = TestServer::start(Backend::Sqlite).await;
    let doc = document(&server).await;
    let version = doc["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(!doc["info"]["description"].as_str().unwrap_or("").is_empty());
    let schemes = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (schemes["type"].as_str(), schemes["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    for op in operations(&doc) {
        assert!(!op.statuses.is_empty(), "{}: no responses", op.label);
    }

    // The enumerations the document repeats are the server's own lists.
    let schemas = &doc["components"]["schemas"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let mut codes: Vec<u64> = postern_proto::ErrorCode::ALL
        .iter()
        .map(|c| u64::from(c.code()))
        .collect();
    codes.sort_unstable();
    let documented: Vec<u64> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(documented, codes, "ErrorCode");
    let reasons: Vec<String> = postern_core::signin_log::StepReason::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(
        strings(&schemas["SignInStep"]["properties"]["reason"]["enum"]),
        reasons,
        "StepReason"
    );
    // Every reason a step can carry is diagnosed as a documented cause.
    let kinds = strings(&schemas["Diagnosis"]["properties"]["cause"]["properties"]["kind"]["enum"]);
    for reason in postern_core::signin_log::StepReason::ALL {
        let kind = serde_json::to_value(postern_core::diagnosis::CauseKind::from(reason)).unwrap();
        let kind = kind.as_str().unwrap();
        assert!(
            kinds.iter().any(|k| k == kind),
            "cause kind {kind} is not documented"
        );
    }
    let roles: Vec<String> = Role::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    assert_eq!(strings(&schemas["Role"]["enum"]), roles, "Role");
    let algs: Vec<String> = postern_core::oidc::jws::SigningAlg::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(
        strings(&schemas["Client"]["properties"]["id_token_alg"]["enum"]),
        algs,
        "SigningAlg"
    );
    server.stop().await;
}

async fn every_documented_operation_is_routed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let doc = document(&server).await;
    let ops = operations(&doc);
    assert!(ops.len() > 30, "only {} operations documented", ops.len());

    // Without a token: 401 from the token check, so the route and method exist. A path the
    // router does not have answers 404 (a route, not a token, is missing).
    let unknown = reqwest::get(server.url("/admin/v1/no-such-operation"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404, "an unknown path under /admin/v1");
    for op in &ops {
        let (status, body) = call(&server, op, None).await;
        if op.public {
            assert_eq!(status, 200, "{} without a token", op.label);
            continue;
        }
        assert_eq!(status, 401, "{} without a token: {body}", op.label);
        assert_eq!(body["error"], "unauthorized", "{}: {body}", op.label);
        assert!(
            op.statuses.contains(&401),
            "{}: 401 is not documented",
            op.label
        );
    }

    // With an admin token: an unknown id is a missing resource, never a missing route or method;
    // without ids, the document's examples are accepted.
    let (secret, _) = create_admin_token(&server, "openapi-test", Role::Admin, None).await;
    for op in &ops {
        let (status, body) = call(&server, op, Some(&secret)).await;
        assert!(
            op.statuses.contains(&status),
            "{} answered {status}, which the document does not list: {body}",
            op.label
        );
        assert_ne!(status, 405, "{}: the method is not routed", op.label);
        if op.has_path_params {
            assert_eq!(status, 404, "{} with unknown ids: {body}", op.label);
            assert_eq!(body["error"], "not_found", "{}: {body}", op.label);
        } else {
            assert!(
                (200..300).contains(&status),
                "{} with the document's example: {status} {body}",
                op.label
            );
        }
    }
    server.stop().await;
}

crate::on_both_backends!(every_documented_operation_is_routed);
