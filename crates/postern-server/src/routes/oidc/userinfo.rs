//! `/userinfo`: the signed-in user's claims for a valid access token; and the access-token check
//! shared with introspection.

use crate::http::RequestId;
use crate::http::errors::{self, ErrorContext};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::oidc::claims::user_claims;
use postern_core::oidc::jws;
use serde_json::Value;

/// Verifies one of our access tokens: signature, type, issuer, expiry, revocation.
pub async fn verify_access_token(state: &AppState, token: &str) -> Result<Value, String> {
    let decoded = match jws::verify(token, state.keys.published().iter().map(|k| k.as_ref())) {
        // Perhaps another node rotated keys: reload (at most every 10 s, so forged key ids
        // cannot make every request reload) and retry.
        Err(jws::VerifyError::UnknownKey)
            if state
                .keys
                .loaded_at()
                .is_none_or(|t| state.clock.now() - t > time::Duration::seconds(10)) =>
        {
            let _ = state
                .keys
                .load(&state.store, &state.master, &*state.rng, &*state.clock)
                .await;
            jws::verify(token, state.keys.published().iter().map(|k| k.as_ref()))
        }
        other => other,
    }
    .map_err(|e| format!("the token failed verification ({e:?})"))?;
    if decoded.header.get("typ").and_then(Value::as_str) != Some("at+jwt") {
        return Err("the token is not an access token".into());
    }
    let claims = decoded.claims;
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer.as_str()) {
        return Err("the token was issued by someone else".into());
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= state.clock.now().unix_timestamp() {
        return Err("the token has expired".into());
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if state
        .store
        .is_access_token_revoked(jti)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err("the token was revoked".into());
    }
    Ok(claims)
}

pub async fn userinfo(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return errors::oauth_json(
            ErrorCode::InvalidToken,
            "send the access token as 'Authorization: Bearer …'",
            &ctx,
        );
    };
    let claims = match verify_access_token(&state, token).await {
        Ok(c) => c,
        Err(detail) => return errors::oauth_json(ErrorCode::InvalidToken, &detail, &ctx),
    };
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scope: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(' ')
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return errors::oauth_json(
            ErrorCode::InvalidToken,
            "the token was not issued for openid",
            &ctx,
        );
    }
    match state.store.find_user_by_id(sub).await {
        Ok(Some(user)) if !user.disabled => {
            let mut res = axum::Json(Value::Object(user_claims(&user, &scope))).into_response();
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            res
        }
        Ok(_) => errors::oauth_json(
            ErrorCode::InvalidToken,
            "the user no longer exists or is disabled",
            &ctx,
        ),
        Err(e) => errors::internal_json(&e, &ctx),
    }
}
