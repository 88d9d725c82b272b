//! How `postern admin` reaches the admin API: over HTTP to a running server (`--server URL
//! --token-file F`), or in-process on the server's own store, where the caller is the local
//! operator (an admin: whoever can read the database and master key holds every secret anyway).
//! Either way every command is one or more admin API calls, authorised and audited by the server's
//! own code.

use crate::config::Config;
use crate::routes::admin_api::{LocalOperator, SIGNIN_HEADER};
use crate::state::AppState;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use postern_core::admin::{Actor, ActorKind, Role};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub enum Transport {
    Local {
        router: axum::Router,
        state: AppState,
    },
    Remote {
        base: String,
        token: String,
        http: reqwest::Client,
    },
}

pub struct Api {
    transport: Transport,
    /// The sign-in a change is made for (`--signin`), sent with every call.
    signin: Option<String>,
}

/// Who runs this command: the login name the environment gives and the real uid (which the
/// environment cannot change).
fn local_operator() -> String {
    use std::os::unix::fs::MetadataExt;
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    match std::fs::metadata("/proc/self") {
        Ok(m) => format!("{name}, uid {}", m.uid()),
        Err(_) => name,
    }
}

fn next_cursor(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-next-cursor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A path segment, percent-encoded.
pub fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs (absent values left out).
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

impl Api {
    /// The in-process API on the store the configuration points at.
    pub async fn local(config: Config, signin: Option<String>) -> Result<Api, String> {
        let clock: Arc<dyn postern_core::clock::Clock> = Arc::new(postern_core::clock::SystemClock);
        let state = crate::app::build_admin_state(config, clock)
            .await
            .map_err(|e| e.to_string())?;
        let router = crate::routes::router(state.clone());
        Ok(Api {
            transport: Transport::Local { router, state },
            signin,
        })
    }

    /// The API of a running server.
    pub fn remote(
        server: &str,
        token_file: &std::path::Path,
        signin: Option<String>,
    ) -> Result<Api, String> {
        let token = std::fs::read_to_string(token_file)
            .map_err(|e| format!("cannot read the token file {}: {e}", token_file.display()))?
            .trim()
            .to_owned();
        if token.is_empty() {
            return Err(format!("the token file {} is empty", token_file.display()));
        }
        let base = server.trim_end_matches('/').to_owned();
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|l| {
                base == *l
                    || base.starts_with(&format!("{l}:"))
                    || base.starts_with(&format!("{l}/"))
            });
        if !(base.starts_with("https://") || loopback) {
            return Err(format!(
                "--server must be an https:// URL (http:// only to this machine), not '{server}': the token would travel in clear"
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            transport: Transport::Remote { base, token, http },
            signin,
        })
    }

    pub async fn close(self) {
        if let Transport::Local { state, .. } = self.transport {
            state.store.close().await;
        }
    }

    /// One call: the JSON answer of a success (Null for 204), or the server's error in words.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let (status, bytes, _) = self.send(method, path, body).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        let rid = value["request_id"].as_str().unwrap_or("-");
        Err(format!("{message} ({}, request id {rid})", status.as_u16()))
    }

    /// A call whose answer is text (a page of the sign-in export), with the cursor of the next
    /// page (`x-next-cursor`).
    pub async fn text(&self, path: &str) -> Result<(String, Option<String>), String> {
        let (status, bytes, next) = self.send(Method::GET, path, None).await?;
        if !status.is_success() {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(value["message"]
                .as_str()
                .unwrap_or("the export failed")
                .to_owned());
        }
        Ok((String::from_utf8_lossy(&bytes).into_owned(), next))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Vec<u8>, Option<String>), String> {
        let body_bytes = body.map(|b| b.to_string());
        match &self.transport {
            Transport::Local { router, .. } => {
                let os_user = local_operator();
                let mut req = Request::builder().method(method).uri(path);
                if body_bytes.is_some() {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                }
                if let Some(s) = &self.signin {
                    req = req.header(SIGNIN_HEADER, s);
                }
                let mut req = req
                    .body(Body::from(body_bytes.unwrap_or_default()))
                    .map_err(|e| e.to_string())?;
                req.extensions_mut().insert(LocalOperator(Actor {
                    kind: ActorKind::Local { os_user },
                    role: Role::Admin,
                }));
                let res = router
                    .clone()
                    .oneshot(req)
                    .await
                    .map_err(|e| e.to_string())?;
                let status = res.status();
                let next = next_cursor(res.headers());
                let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((status, bytes.to_vec(), next))
            }
            Transport::Remote { base, token, http } => {
                let mut req = http
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(token);
                if let Some(b) = body_bytes {
                    req = req.header(header::CONTENT_TYPE, "application/json").body(b);
                }
                if let Some(s) = &self.signin {
                    req = req.header(SIGNIN_HEADER, s);
                }
                let res = req
                    .send()
                    .await
                    .map_err(|e| format!("cannot reach {base}: {e}"))?;
                let status =
                    StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                let next = next_cursor(res.headers());
                let bytes = res.bytes().await.map_err(|e| e.to_string())?;
                Ok((status, bytes.to_vec(), next))
            }
        }
    }
}
