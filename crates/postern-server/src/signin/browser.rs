//! The browser binding of sign-in flows: a random id in a long-lived cookie. A flow started in one
//! browser cannot be completed from another (a link sent to a victim starts afresh in theirs).

use crate::http::cookies;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue};

/// This browser's id, and the cookie to set when it is new.
pub fn id(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookies::get(state, headers, cookies::BROWSER) {
        Some(id) => (id, None),
        None => {
            let id = postern_core::random::token(&*state.rng, 24);
            let cookie = cookies::set(state, cookies::BROWSER, &id, Some(400 * 24 * 3600));
            (id, Some(cookie))
        }
    }
}
