//! The admin API (`/admin/v1`) over HTTP against the real server: every route for every role and
//! for callers without a valid token (`role_matrix`), each endpoint's behaviour (accounts, methods
//! and temporary access passes, applications and tokens, the sign-in and audit logs), refused
//! input, and `postern admin` in remote and local mode. A refused request changes nothing: the
//! audit log and the resource are read back with an admin token after each one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "admin_api/bad_input.rs"]
mod bad_input;
#[path = "admin_api/cli.rs"]
mod cli;
#[path = "admin_api/clients_and_tokens.rs"]
mod clients_and_tokens;
#[path = "admin_api/methods.rs"]
mod methods;
#[path = "admin_api/rescues.rs"]
mod rescues;
#[path = "admin_api/role_matrix.rs"]
mod role_matrix;
#[path = "admin_api/signins_and_audit.rs"]
mod signins_and_audit;
#[path = "admin_api/users.rs"]
mod users;

use common::{Browser, Landing, PASSWORD, TestServer, authorize_url, query_param};
use postern_core::client::Client;
use reqwest::Method;
use serde_json::{Value, json};

/// An admin API caller with one bearer token, or none.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    bearer: Option<String>,
}

/// One answer: status, headers, and the body as text and as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// The JSON of an answer that must have `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self.json
    }

    /// The `x-request-id` of the answer (empty when it has none).
    pub fn request_id(&self) -> String {
        self.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Checks an error answer: `status`, the JSON body `{"error", "message", "request_id"}` with
    /// this `error` and the response's request id; returns the message.
    #[track_caller]
    pub fn error(&self, status: u16, key: &str) -> String {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "an error is JSON, not {content_type:?}: {}",
            self.text
        );
        assert_eq!(self.json["error"], key, "{}", self.text);
        assert_eq!(
            self.json["request_id"].as_str(),
            Some(self.request_id().as_str()),
            "the body names the request: {}",
            self.text
        );
        let message = self.json["message"].as_str().unwrap_or("").to_owned();
        assert!(
            !message.is_empty(),
            "an error explains itself: {}",
            self.text
        );
        message
    }
}

impl Api {
    pub fn new(server: &TestServer, bearer: Option<&str>) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.issuer().to_owned(),
            bearer: bearer.map(str::to_owned),
        }
    }

    /// A request to `path` (under the server) with this caller's token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.bearer {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub async fn send(req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    /// A call with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        Api::send(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    /// A GET with query parameters (encoded by reqwest).
    pub async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        Api::send(self.request(Method::GET, path).query(query)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&body)).await
    }

    /// A POST without a body.
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.call(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }
}

/// The whole audit log, newest first, read page by page with `admin`.
pub async fn audit_log(admin: &Api) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "500".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = admin.get_query("/admin/v1/audit", &query).await.expect(200);
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return all,
        }
    }
}

/// The newest audit entry (there must be one).
pub async fn last_audit(admin: &Api) -> Value {
    admin.get("/admin/v1/audit?limit=1").await.expect(200)["items"][0].clone()
}

/// Creates an account with the standard password through the API.
pub async fn create_user(admin: &Api, username: &str) -> Value {
    admin
        .post(
            "/admin/v1/users",
            json!({
                "username": username,
                "email": format!("{username}@school.example"),
                "name": format!("{username} Example"),
                "password": PASSWORD,
            }),
        )
        .await
        .expect(201)
}

/// A browser signed in to Security info as `username` (password only: `when_registered`).
pub async fn signed_in(server: &TestServer, username: &str) -> Browser {
    let browser = Browser::new(server);
    let landing = browser
        .sign_in(&server.url("/account/signin"), username, PASSWORD)
        .await;
    assert!(
        landing.body().contains("Security info"),
        "{}",
        landing.body()
    );
    browser
}

/// Whether the browser's SSO session still signs in to `client` without asking (`prompt=none`).
pub async fn sso_works(server: &TestServer, browser: &Browser, client: &Client) -> bool {
    let (url, ..) = authorize_url(server, client, &[("prompt", "none")]);
    match browser.open(&url).await {
        Landing::App(to) => query_param(&to, "code").is_some(),
        Landing::Page { .. } => false,
    }
}

/// The request id of a sign-in page's answer.
pub fn page_request_id(landing: &Landing) -> String {
    match landing {
        Landing::Page { request_id, .. } => request_id.clone(),
        other => panic!("expected a Postern page, got {other:?}"),
    }
}
