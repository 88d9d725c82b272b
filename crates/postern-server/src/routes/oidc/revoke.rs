//! `/revoke` (RFC 7009): revokes a refresh token (and its whole family) or an access token.
//! Unknown tokens, and tokens of other clients, are answered 200 as the RFC requires.

use super::client_auth;
use super::userinfo::verify_access_token;
use crate::http::RequestId;
use crate::http::errors::{self, ErrorContext};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postern_core::secret::hash_token;
use serde_json::Value;

pub async fn revoke(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let request = match client_auth::token_request(&state, &headers, &body, &ctx).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let (client, token) = (&request.client, request.token.as_str());
    let now = state.clock.now();
    let result = async {
        if let Some(rt) = state.store.find_refresh_token(&hash_token(token)).await? {
            if rt.client_id == client.client.id {
                state.store.revoke_token_family(&rt.family_id, now).await?;
            }
            return Ok(());
        }
        if let Ok(claims) = verify_access_token(&state, token).await
            && claims.get("client_id").and_then(Value::as_str) == Some(client.client.id.as_str())
        {
            let jti = claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            let expires = time::OffsetDateTime::from_unix_timestamp(exp).unwrap_or(now);
            state.store.revoke_access_token(jti, expires).await?;
        }
        Ok::<_, postern_store::StoreError>(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => errors::internal_json(&e, &ctx),
    }
}
