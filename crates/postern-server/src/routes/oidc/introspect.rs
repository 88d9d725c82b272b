//! `/introspect` (RFC 7662): is this token active, and what does it carry? Only confidential
//! clients may ask; refresh tokens are answered only to the client they belong to.

use super::client_auth;
use super::userinfo::verify_access_token;
use crate::http::RequestId;
use crate::http::errors::{self, ErrorContext};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::oidc::token::RefreshDecision;
use postern_core::secret::hash_token;
use serde_json::{Value, json};

pub async fn introspect(
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
    if !request.client.confidential {
        return errors::oauth_json(
            ErrorCode::InvalidClientSecret,
            "introspection needs a confidential client",
            &ctx,
        );
    }
    let (client, token) = (&request.client, request.token.as_str());
    let inactive = || axum::Json(json!({ "active": false })).into_response();
    match state.store.find_refresh_token(&hash_token(token)).await {
        Err(e) => return errors::internal_json(&e, &ctx),
        Ok(Some(rt)) => {
            if rt.client_id != client.client.id
                || rt.decide(&client.client.id, state.clock.now()) != RefreshDecision::Rotate
            {
                return inactive();
            }
            return axum::Json(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": rt.client_id,
                "sub": rt.user_id,
                "scope": rt.scope.join(" "),
                "exp": rt.expires.unix_timestamp(),
                "iat": rt.created.unix_timestamp(),
                "iss": state.issuer,
            }))
            .into_response();
        }
        Ok(None) => {}
    }
    match verify_access_token(&state, token).await {
        Ok(Value::Object(mut claims)) => {
            claims.insert("active".into(), true.into());
            claims.insert("token_type".into(), "Bearer".into());
            axum::Json(Value::Object(claims)).into_response()
        }
        _ => inactive(),
    }
}
