//! "Don't ask again on this device": a browser the user asked to remember skips the second step
//! for `policy.remember_device_days`.
//!
//! The browser keeps a random token in a cookie; the store keeps its hash per user with an expiry,
//! so the user (and the helpdesk) can revoke every remembered browser at once. It never stands in
//! for a second factor the application asks to be fresh (`prompt=login`, `max_age`).

use crate::http::cookies;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue};
use postern_core::oidc::authorize::AuthorizeRequest;
use postern_core::policy::remembered_device_allowed;

pub use postern_core::flow::Remembered;
use postern_core::secret::hash_token;
use postern_store::StoreError;
use time::Duration;

pub const COOKIE: &str = "postern_device";

/// Whether the choice is offered at all.
pub fn enabled(state: &AppState) -> bool {
    state.config.policy.remember_device_days > 0
}

/// Whether this browser is remembered for `user_id` and may skip the second step of `request`.
pub async fn status(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    request: &AuthorizeRequest,
) -> Result<Remembered, StoreError> {
    if !enabled(state) {
        return Ok(Remembered::No);
    }
    let Some(token) = cookies::get(state, headers, COOKIE) else {
        return Ok(Remembered::No);
    };
    let found = state
        .store
        .find_remembered_device(&hash_token(&token), user_id, state.clock.now())
        .await?;
    Ok(match found {
        None => Remembered::No,
        Some(_) if !remembered_device_allowed(request) => Remembered::NotForThisRequest,
        Some(until) => Remembered::Until(until),
    })
}

/// Whether to offer "Don't ask again on this device" for `request`.
pub fn offered(state: &AppState, request: &AuthorizeRequest) -> bool {
    enabled(state) && remembered_device_allowed(request)
}

/// Remembers this browser for `user_id`; returns the cookie to set. The token is always new: a
/// token the browser already held (planted, or read on a shared computer) never becomes one that
/// skips the second step.
pub async fn remember(state: &AppState, user_id: &str) -> Result<HeaderValue, StoreError> {
    let days = state.config.policy.remember_device_days;
    let token = postern_core::random::token(&*state.rng, 32);
    let now = state.clock.now();
    state
        .store
        .remember_device(
            &hash_token(&token),
            user_id,
            now,
            now + Duration::days(days),
        )
        .await?;
    Ok(cookies::set(state, COOKIE, &token, Some(days * 24 * 3600)))
}
