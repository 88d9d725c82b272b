//! Cookies: the single sign-on session and the browser binding of sign-in flows.
//!
//! Both are `HttpOnly; SameSite=Lax; Path=/`; with an https issuer they are also `Secure` and carry
//! the `__Host-` prefix, which browsers refuse to let a subdomain or plain-http page set.

use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "postern_session";
pub const BROWSER: &str = "postern_browser";

fn name(state: &AppState, base: &str) -> String {
    if state.secure_cookies() {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// Reads a cookie by its base name.
pub fn get(state: &AppState, headers: &HeaderMap, base: &str) -> Option<String> {
    let wanted = name(state, base);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// A `Set-Cookie` value. `max_age` None makes a browser-session cookie.
pub fn set(state: &AppState, base: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax",
        name(state, base)
    );
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.secure_cookies() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(state: &AppState, base: &str) -> HeaderValue {
    set(state, base, "", Some(0))
}
