//! The demo learning hub: a relying party that knows Postern only through its public endpoints.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use postern_core::oidc::jws::verify_with_jwks;
use postern_core::oidc::params::Params;
use postern_core::oidc::pkce::challenge_s256;
use postern_core::random::{OsRandom, token};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const LOGIN_COOKIE: &str = "hub_login";
const SESSION_COOKIE: &str = "hub_session";

struct Pending {
    verifier: String,
    nonce: String,
    created: Instant,
}

struct SignedIn {
    claims: Value,
    id_token: String,
}

struct Hub {
    issuer: String,
    base: String,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, SignedIn>>,
}

#[derive(Template)]
#[template(path = "hub.html")]
struct HubPage {
    name: String,
    claims: Vec<(String, String)>,
    error: Option<(String, String)>,
    signed_in: bool,
}

/// The running demo hub.
pub struct DemoHub {
    pub url: String,
    shutdown: oneshot::Sender<()>,
}

impl DemoHub {
    pub fn stop(self) {
        let _ = self.shutdown.send(());
    }
}

/// Starts the hub on `listen`, signing in through the Postern at `issuer`.
pub async fn start(issuer: &str, listen: SocketAddr) -> Result<DemoHub, String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("demo.listen: cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let hub = Arc::new(Hub {
        issuer: issuer.trim_end_matches('/').to_owned(),
        base: base.clone(),
        http,
        pending: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .with_state(hub);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(DemoHub {
        url: base,
        shutdown: tx,
    })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn page(p: HubPage, status: StatusCode) -> Response {
    match p.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn redirect(to: &str, set_cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

async fn home(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let signed = cookie(&headers, SESSION_COOKIE).and_then(|sid| {
        let sessions = hub.sessions.lock().ok()?;
        sessions.get(&sid).map(|s| s.claims.clone())
    });
    match signed {
        Some(claims) => {
            let name = claims
                .get("name")
                .or_else(|| claims.get("preferred_username"))
                .and_then(Value::as_str)
                .unwrap_or("student")
                .to_owned();
            let rows = claims
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| v.to_string()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            page(
                HubPage {
                    name,
                    claims: rows,
                    error: None,
                    signed_in: true,
                },
                StatusCode::OK,
            )
        }
        None => page(
            HubPage {
                name: String::new(),
                claims: vec![],
                error: None,
                signed_in: false,
            },
            StatusCode::OK,
        ),
    }
}

async fn login(State(hub): State<Arc<Hub>>) -> Response {
    let state = token(&OsRandom, 16);
    let verifier = token(&OsRandom, 32);
    let nonce = token(&OsRandom, 16);
    let challenge = challenge_s256(&verifier);
    if let Ok(mut pending) = hub.pending.lock() {
        pending.retain(|_, p| p.created.elapsed() < Duration::from_secs(900));
        pending.insert(
            state.clone(),
            Pending {
                verifier,
                nonce: nonce.clone(),
                created: Instant::now(),
            },
        );
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", super::CLIENT_ID)
        .append_pair("redirect_uri", &format!("{}/callback", hub.base))
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let cookie = format!("{LOGIN_COOKIE}={state}; Path=/; HttpOnly; SameSite=Lax; Max-Age=900");
    redirect(&format!("{}/authorize?{query}", hub.issuer), Some(cookie))
}

async fn callback(
    State(hub): State<Arc<Hub>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let fail = |title: &str, text: String| {
        page(
            HubPage {
                name: String::new(),
                claims: vec![],
                error: Some((title.to_owned(), text)),
                signed_in: false,
            },
            StatusCode::BAD_REQUEST,
        )
    };
    if let Some(error) = params.get("error") {
        return fail(
            &format!("Postern said: {error}"),
            params
                .get("error_description")
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let state = params.get("state").unwrap_or_default();
    let bound = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| c == state);
    let pending = hub.pending.lock().ok().and_then(|mut p| p.remove(state));
    let (Some(pending), true) = (pending, bound) else {
        // An old or replayed callback (back button, second tab): start again cleanly.
        return redirect("/login", None);
    };
    let Some(code) = params.get("code") else {
        return fail("No code", "Postern sent no authorization code.".into());
    };
    match exchange(&hub, code, &pending).await {
        Ok((claims, id_token)) => {
            let sid = token(&OsRandom, 24);
            if let Ok(mut s) = hub.sessions.lock() {
                s.insert(sid.clone(), SignedIn { claims, id_token });
            }
            redirect(
                "/",
                Some(format!(
                    "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"
                )),
            )
        }
        Err(e) => fail("Sign-in failed", e),
    }
}

/// Redeems the code and verifies the ID token as any relying party must.
async fn exchange(hub: &Hub, code: &str, pending: &Pending) -> Result<(Value, String), String> {
    let redirect_uri = format!("{}/callback", hub.base);
    let res = hub
        .http
        .post(format!("{}/token", hub.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", super::CLIENT_ID),
            ("code_verifier", pending.verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("cannot reach Postern's token endpoint: {e}"))?;
    let status = res.status();
    let body: Value = res
        .json()
        .await
        .map_err(|e| format!("unreadable token response: {e}"))?;
    if !status.is_success() {
        return Err(body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("token request refused")
            .to_owned());
    }
    let id_token = body
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or("no id_token in the response")?
        .to_owned();
    let jwks: Value = hub
        .http
        .get(format!("{}/jwks", hub.issuer))
        .send()
        .await
        .map_err(|e| format!("cannot fetch the JWKS: {e}"))?
        .json()
        .await
        .map_err(|e| format!("unreadable JWKS: {e}"))?;
    let claims = verify_with_jwks(&id_token, &jwks)
        .map_err(|e| format!("the ID token signature is invalid ({e:?})"))?
        .claims;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if claims.get("iss").and_then(Value::as_str) != Some(hub.issuer.as_str()) {
        return Err("the ID token has the wrong issuer".into());
    }
    if claims.get("aud").and_then(Value::as_str) != Some(super::CLIENT_ID) {
        return Err("the ID token is for another application".into());
    }
    if claims.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now {
        return Err("the ID token has expired".into());
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
        return Err("the ID token's nonce does not match".into());
    }
    Ok((claims, id_token))
}

async fn logout(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let signed =
        cookie(&headers, SESSION_COOKIE).and_then(|sid| hub.sessions.lock().ok()?.remove(&sid));
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    match signed {
        Some(s) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("id_token_hint", &s.id_token)
                .append_pair("post_logout_redirect_uri", &format!("{}/", hub.base))
                .finish();
            redirect(&format!("{}/logout?{query}", hub.issuer), Some(clear))
        }
        None => redirect("/", Some(clear)),
    }
}
