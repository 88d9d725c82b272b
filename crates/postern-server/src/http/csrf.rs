//! Anti-forgery: every state-changing form post must come from Postern's own pages.
//!
//! Two independent checks. The browser's own word: `Sec-Fetch-Site` must be `same-origin` (or
//! `none`), and `Origin`, when sent, must be the issuer's origin. And a token in the form that is
//! bound to server-side state (the flow's token, or an HMAC of the session), compared in constant
//! time.

use crate::state::AppState;
use axum::http::{HeaderMap, header};
use postern_core::secret::{ct_eq, hmac_sha256};

/// Does the request come from our own origin, as far as the browser tells?
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == state.issuer_origin(),
        None => true,
    }
}

/// Compares a submitted token with the expected one.
pub fn token_matches(expected: &str, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| ct_eq(expected.as_bytes(), s.as_bytes()))
}

/// A token bound to a purpose and a server-side value (e.g. a session id hash).
pub fn bound_token(state: &AppState, purpose: &str, bound_to: &str) -> String {
    let mac = hmac_sha256(&state.mac_key, format!("{purpose}\0{bound_to}").as_bytes());
    data_encoding::BASE64URL_NOPAD.encode(&mac)
}
