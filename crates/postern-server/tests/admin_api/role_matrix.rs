//! Every route and method of the admin router, called as admin, helpdesk and reader, without a
//! token, with a garbage, a revoked and an expired token, on SQLite and PostgreSQL. Allowed calls
//! succeed and each change adds exactly one audit entry naming the caller; refused ones answer
//! 401 (with `WWW-Authenticate: Bearer`) or 403 `forbidden` and change nothing.

use crate::common::{Backend, PASSWORD, TestServer, create_admin_token};
use crate::{Api, audit_log, create_user, signed_in};
use postern_core::admin::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The permission a route needs (`handlers.rs`); `Public` needs no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Public,
    Read,
    Help,
    Manage,
}

/// Who calls.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Role(Role),
    NoToken,
    Garbage,
    Revoked,
    Expired,
}

/// What a call must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success(u16),
    Forbidden,
    Unauthorized,
}

/// One call of the matrix: the route as the router names it, the concrete request, the level.
struct Call {
    method: Method,
    route: &'static str,
    path: String,
    body: Option<Value>,
    level: Level,
    ok: u16,
}

/// The resources one caller's calls act on, made fresh for each role.
struct Fixture {
    tag: String,
    user_id: String,
    username: String,
    totp_id: String,
    codes_id: String,
    client_id: String,
    token_id: String,
    signin_id: String,
}

/// A token the matrix calls with: its bearer secret, name and id.
struct Token {
    secret: String,
    name: String,
    id: String,
}

async fn fixture(server: &TestServer, admin: &Api, tag: &str) -> Fixture {
    let username = format!("{tag}-user");
    let user = create_user(admin, &username).await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let browser = signed_in(server, &username).await;
    browser.add_authenticator(server).await;
    browser.create_recovery_codes(server).await;
    let methods = admin
        .get(&format!("/admin/v1/users/{user_id}/authentication/methods"))
        .await
        .expect(200);
    let id_of = |kind: &str| {
        methods
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == kind)
            .unwrap_or_else(|| panic!("a {kind} method: {methods}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (totp_id, codes_id) = (id_of("totp"), id_of("recovery_codes"));
    let signins = admin
        .get(&format!("/admin/v1/signins?user={username}"))
        .await
        .expect(200);
    let correlation = signins["items"][0]["correlation_id"].as_str().unwrap();
    let signin = admin
        .get(&format!("/admin/v1/signins/{correlation}"))
        .await
        .expect(200);
    let signin_id = signin["request_ids"][0].as_str().unwrap().to_owned();
    let client = admin
        .post(
            "/admin/v1/clients",
            json!({ "name": format!("{tag} app"), "redirect_uris": ["https://app.example/cb"] }),
        )
        .await
        .expect(201);
    let token = admin
        .post(
            "/admin/v1/tokens",
            json!({ "name": format!("{tag}-script"), "role": "reader" }),
        )
        .await
        .expect(201);
    Fixture {
        tag: tag.to_owned(),
        user_id,
        username,
        totp_id,
        codes_id,
        client_id: client["id"].as_str().unwrap().to_owned(),
        token_id: token["id"].as_str().unwrap().to_owned(),
        signin_id,
    }
}

/// Every route, in an order where each call still finds what it acts on when the ones before
/// it succeeded (reads first, then changes; deletions last).
fn calls(f: &Fixture) -> Vec<Call> {
    let u = format!("/admin/v1/users/{}", f.user_id);
    let c = format!("/admin/v1/clients/{}", f.client_id);
    let s = format!("/admin/v1/signins/{}", f.signin_id);
    let since =
        postern_core::clock::iso8601(time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let call =
        |method: Method, route: &'static str, path: String, body: Option<Value>, level, ok| Call {
            method,
            route,
            path,
            body,
            level,
            ok,
        };
    use Level::*;
    vec![
        call(
            Method::GET,
            "/admin/v1/openapi.json",
            "/admin/v1/openapi.json".into(),
            None,
            Public,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/me",
            "/admin/v1/me".into(),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/users",
            format!("/admin/v1/users?search={}", f.tag),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/users/{id}",
            u.clone(),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/users/{id}/authentication/methods",
            format!("{u}/authentication/methods"),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/users/{id}/authentication/methods/{method}",
            format!("{u}/authentication/methods/{}", f.totp_id),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/clients",
            "/admin/v1/clients".into(),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/clients/{id}",
            c.clone(),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/signins",
            format!("/admin/v1/signins?user={}", f.username),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/signins/export",
            format!("/admin/v1/signins/export?since={since}"),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/signins/{id}",
            s.clone(),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/signins/{id}/diagnosis",
            format!("{s}/diagnosis"),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/audit",
            format!("/admin/v1/audit?target={}", f.username),
            None,
            Read,
            200,
        ),
        call(
            Method::GET,
            "/admin/v1/tokens",
            "/admin/v1/tokens".into(),
            None,
            Manage,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/users",
            "/admin/v1/users".into(),
            Some(json!({ "username": format!("{}-new", f.tag), "password": PASSWORD })),
            Manage,
            201,
        ),
        call(
            Method::PATCH,
            "/admin/v1/users/{id}",
            u.clone(),
            Some(json!({ "name": "Renamed" })),
            Manage,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/users/{id}/disable",
            format!("{u}/disable"),
            None,
            Manage,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/users/{id}/enable",
            format!("{u}/enable"),
            None,
            Manage,
            200,
        ),
        call(
            Method::PUT,
            "/admin/v1/users/{id}/role",
            format!("{u}/role"),
            Some(json!({ "role": "reader" })),
            Manage,
            200,
        ),
        call(
            Method::PUT,
            "/admin/v1/users/{id}/password",
            format!("{u}/password"),
            Some(json!({ "password": "another long password" })),
            Manage,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/users/{id}/unlock",
            format!("{u}/unlock"),
            None,
            Help,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/users/{id}/revoke-sessions",
            format!("{u}/revoke-sessions"),
            None,
            Help,
            200,
        ),
        call(
            Method::PUT,
            "/admin/v1/users/{id}/authentication/default-method",
            format!("{u}/authentication/default-method"),
            Some(json!({ "method_id": f.totp_id })),
            Help,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/users/{id}/authentication/temporary-access-pass",
            format!("{u}/authentication/temporary-access-pass"),
            None,
            Help,
            201,
        ),
        call(
            Method::DELETE,
            "/admin/v1/users/{id}/authentication/temporary-access-pass",
            format!("{u}/authentication/temporary-access-pass"),
            None,
            Help,
            204,
        ),
        call(
            Method::DELETE,
            "/admin/v1/users/{id}/authentication/methods/{method}",
            format!("{u}/authentication/methods/{}", f.codes_id),
            None,
            Help,
            204,
        ),
        call(
            Method::POST,
            "/admin/v1/users/{id}/require-reregister",
            format!("{u}/require-reregister"),
            None,
            Help,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/clients",
            "/admin/v1/clients".into(),
            Some(
                json!({ "name": format!("{} second app", f.tag), "redirect_uris": ["https://two.example/cb"] }),
            ),
            Manage,
            201,
        ),
        call(
            Method::PATCH,
            "/admin/v1/clients/{id}",
            c.clone(),
            Some(json!({ "redirect_uris": ["https://app.example/cb2"] })),
            Manage,
            200,
        ),
        call(
            Method::POST,
            "/admin/v1/clients/{id}/rotate-secret",
            format!("{c}/rotate-secret"),
            None,
            Manage,
            200,
        ),
        call(
            Method::DELETE,
            "/admin/v1/clients/{id}",
            c.clone(),
            None,
            Manage,
            204,
        ),
        call(
            Method::POST,
            "/admin/v1/tokens",
            "/admin/v1/tokens".into(),
            Some(json!({ "name": format!("{}-made", f.tag), "role": "helpdesk" })),
            Manage,
            201,
        ),
        call(
            Method::DELETE,
            "/admin/v1/tokens/{id}",
            format!("/admin/v1/tokens/{}", f.token_id),
            None,
            Manage,
            200,
        ),
    ]
}

/// Every (method, route) the admin router answers, read from its source: a route added there
/// without joining the matrix fails this test.
fn routes_in_router() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/routes/admin_api/mod.rs");
    let router = &source[source.find("pub fn router()").expect("the router function")..];
    let mut routes = BTreeSet::new();
    for chunk in router.split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("a quoted path");
        for m in ["get", "post", "put", "patch", "delete"] {
            if chunk.contains(&format!("{m}(h::")) {
                routes.insert((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

fn outcome(caller: Caller, call: &Call) -> Outcome {
    if call.level == Level::Public {
        return Outcome::Success(call.ok);
    }
    let role = match caller {
        Caller::Role(r) => r,
        _ => return Outcome::Unauthorized,
    };
    let allowed = match call.level {
        Level::Public | Level::Read => true,
        Level::Help => matches!(role, Role::Admin | Role::Helpdesk),
        Level::Manage => role == Role::Admin,
    };
    if allowed {
        Outcome::Success(call.ok)
    } else {
        Outcome::Forbidden
    }
}

/// What a refused call must leave as it was: the audit log, the accounts, the fixture's account
/// and methods, the applications and the tokens (without `last_used`, which authentication
/// itself updates).
async fn snapshot(admin: &Api, f: &Fixture) -> Value {
    let mut tokens = admin.get("/admin/v1/tokens").await.expect(200);
    for t in tokens.as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("last_used");
    }
    let client = admin
        .get(&format!("/admin/v1/clients/{}", f.client_id))
        .await;
    json!({
        "audit": audit_log(admin).await,
        "users": admin.get("/admin/v1/users?limit=500").await.expect(200),
        "user": admin.get(&format!("/admin/v1/users/{}", f.user_id)).await.expect(200),
        "methods": admin
            .get(&format!("/admin/v1/users/{}/authentication/methods", f.user_id))
            .await
            .expect(200),
        "clients": admin.get("/admin/v1/clients").await.expect(200),
        "client": [client.status, client.json],
        "tokens": tokens,
    })
}

/// Runs every call as `caller` against `f`, checking each outcome.
async fn run(admin: &Api, caller: Caller, token: Option<&Token>, f: &Fixture) {
    let api = Api::new_with(admin, token.map(|t| t.secret.as_str()));
    for call in calls(f) {
        let what = format!("{caller:?} {} {}", call.method, call.path);
        let expected = outcome(caller, &call);
        let before = match expected {
            Outcome::Success(_) => None,
            _ => Some(snapshot(admin, f).await),
        };
        let audit_before = audit_log(admin).await.len();
        let reply = api
            .call(call.method.clone(), &call.path, call.body.as_ref())
            .await;
        match expected {
            Outcome::Success(status) => {
                assert_eq!(reply.status, status, "{what}: {}", reply.text);
                let audit = audit_log(admin).await;
                if call.method == Method::GET {
                    assert_eq!(audit.len(), audit_before, "{what}: a read is not audited");
                    continue;
                }
                assert_eq!(
                    audit.len(),
                    audit_before + 1,
                    "{what}: one audit entry per change"
                );
                let (entry, token) = (&audit[0], token.unwrap());
                assert_eq!(entry["actor"], format!("token '{}'", token.name), "{what}");
                assert_eq!(entry["actor_id"], token.id.as_str(), "{what}");
                let Caller::Role(role) = caller else {
                    unreachable!()
                };
                assert_eq!(entry["actor_role"], role.as_str(), "{what}");
                assert_eq!(entry["ip"], "127.0.0.1", "{what}");
                assert_eq!(entry["request_id"], reply.request_id().as_str(), "{what}");
            }
            Outcome::Forbidden => {
                let message = reply.error(403, "forbidden");
                let Caller::Role(role) = caller else {
                    unreachable!()
                };
                assert!(message.contains(role.as_str()), "{what}: {message}");
            }
            Outcome::Unauthorized => {
                reply.error(401, "unauthorized");
                let challenge = reply
                    .headers
                    .get("www-authenticate")
                    .unwrap_or_else(|| panic!("{what}: a 401 names the scheme"))
                    .to_str()
                    .unwrap();
                assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
            }
        }
        if let Some(before) = before {
            assert_eq!(snapshot(admin, f).await, before, "{what} changed something");
        }
    }
}

impl Api {
    /// Another caller of the same server.
    fn new_with(other: &Api, bearer: Option<&str>) -> Api {
        let mut api = other.clone();
        api.bearer = bearer.map(str::to_owned);
        api
    }
}

async fn token_of(
    server: &TestServer,
    name: &str,
    role: Role,
    expires: Option<time::Duration>,
) -> Token {
    let (secret, t) = create_admin_token(server, name, role, expires).await;
    Token {
        secret,
        name: t.name,
        id: t.id,
    }
}

async fn every_route_for_every_caller(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin_token = token_of(&server, "matrix-admin", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&admin_token.secret));

    // The matrix is the router: nothing left out, nothing made up.
    let probe = fixture(&server, &admin, "probe").await;
    let listed: BTreeSet<(String, String)> = calls(&probe)
        .iter()
        .map(|c| (c.method.as_str().to_owned(), c.route.to_owned()))
        .collect();
    assert_eq!(
        listed,
        routes_in_router(),
        "the matrix covers every route and method"
    );

    // Callers without a valid token get 401 everywhere (but the description).
    let revoked = token_of(&server, "matrix-revoked", Role::Admin, None).await;
    let expired = token_of(
        &server,
        "matrix-expired",
        Role::Admin,
        Some(time::Duration::days(1)),
    )
    .await;
    for t in [&revoked, &expired] {
        let me = Api::new(&server, Some(&t.secret))
            .get("/admin/v1/me")
            .await
            .expect(200);
        assert_eq!(
            me["role"], "admin",
            "the token works until it is revoked or expires"
        );
    }
    admin
        .delete(&format!("/admin/v1/tokens/{}", revoked.id))
        .await
        .expect(200);
    let garbage = Token {
        secret: format!(
            "pat_{}",
            postern_core::random::token(&postern_core::random::OsRandom, 32)
        ),
        name: "garbage".into(),
        id: String::new(),
    };
    run(&admin, Caller::NoToken, None, &probe).await;
    run(&admin, Caller::Garbage, Some(&garbage), &probe).await;
    run(&admin, Caller::Revoked, Some(&revoked), &probe).await;

    // Each role on its own fresh resources.
    for role in Role::ALL {
        let token = match role {
            Role::Admin => token_of(&server, "matrix-admin", Role::Admin, None).await,
            _ => token_of(&server, &format!("matrix-{role}"), role, None).await,
        };
        let me = Api::new(&server, Some(&token.secret))
            .get("/admin/v1/me")
            .await
            .expect(200);
        assert_eq!(me["role"], role.as_str());
        assert_eq!(me["actor"], format!("token '{}'", token.name));
        let f = fixture(&server, &admin, role.as_str()).await;
        run(&admin, Caller::Role(role), Some(&token), &f).await;
    }

    // Past its expiry the token opens nothing.
    server.advance(time::Duration::days(1) + time::Duration::minutes(1));
    run(&admin, Caller::Expired, Some(&expired), &probe).await;
    server.stop().await;
}

crate::on_both_backends!(every_route_for_every_caller);

/// `/admin/v1/openapi.json` describes the API: without a token, as JSON, every route and method
/// of the router under its path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_lists_every_route() {
    let server = TestServer::start(Backend::Sqlite).await;
    let reply = Api::new(&server, None).get("/admin/v1/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "application/json");
    let doc = reply.json;
    assert!(doc.is_object(), "JSON: {}", reply.text);
    let missing: Vec<String> = routes_in_router()
        .into_iter()
        .filter(|(method, path)| doc["paths"][path.as_str()][method.to_lowercase()].is_null())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(missing.is_empty(), "not described: {missing:?}");
    server.stop().await;
}
