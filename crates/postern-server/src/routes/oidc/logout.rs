//! `/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and Postern's own sign-out.
//!
//! With a valid `id_token_hint` for the signed-in user the session ends at once; otherwise the user
//! confirms with a form (so a stray link cannot sign anyone out). `post_logout_redirect_uri` must
//! exactly match one registered for the client, or no redirect happens.

use crate::http::errors::{self, ErrorContext};
use crate::http::{RequestId, cookies, csrf, forms};
use crate::pages::{self, LogoutConfirmPage, MessagePage};
use crate::signin::{self, current_session};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::oidc::jws;
use postern_core::secret::hash_token;
use serde_json::Value;

pub async fn logout(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let params = match forms::query_or_form(&method, query.as_deref(), &headers, &body) {
        Ok(p) => p,
        Err((code, detail)) => return errors::page(&state, code, Some(detail), &ctx),
    };
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(t) => match jws::verify(t, state.keys.published().iter().map(|k| k.as_ref())) {
            // An ID token of ours (not an access token), for the client named, if one is.
            Ok(d)
                if d.claims.get("iss").and_then(Value::as_str) == Some(state.issuer.as_str())
                    && d.header.get("typ").and_then(Value::as_str) == Some("JWT")
                    && params
                        .get("client_id")
                        .is_none_or(|c| d.claims.get("aud").and_then(Value::as_str) == Some(c)) =>
            {
                Some(d.claims)
            }
            _ => {
                return errors::page(
                    &state,
                    ErrorCode::InvalidRequest,
                    Some("id_token_hint is not an ID token issued by this server".into()),
                    &ctx,
                );
            }
        },
    };
    let client_id = params.get("client_id").map(str::to_owned).or_else(|| {
        hint.as_ref()
            .and_then(|c| c.get("aud"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => match state.store.find_client(id).await {
                    Ok(c) => c,
                    Err(e) => return errors::internal(&state, &e, &ctx),
                },
                None => None,
            };
            let Some(client) = client else {
                return errors::page(
                    &state,
                    ErrorCode::InvalidRequest,
                    Some(
                        "post_logout_redirect_uri needs a known client_id or id_token_hint".into(),
                    ),
                    &ctx,
                );
            };
            if !client.has_post_logout_redirect_uri(uri) {
                return errors::page(
                    &state,
                    ErrorCode::PostLogoutRedirectUriMismatch,
                    Some(format!(
                        "'{}' is not a registered sign-out address of '{}'",
                        uri.chars().take(200).collect::<String>(),
                        client.name
                    )),
                    &ctx,
                );
            }
            let mut pairs = Vec::new();
            if let Some(s) = params.get("state") {
                pairs.push(("state", s));
            }
            Some(if pairs.is_empty() {
                uri.to_owned()
            } else {
                signin::append_query(uri, &pairs)
            })
        }
    };

    let session = match current_session(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return errors::internal(&state, &e, &ctx),
    };
    if let Some((session, user)) = &session {
        let hint_matches = hint
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(Value::as_str)
            == Some(user.id.as_str());
        let expected = csrf::bound_token(&state, "logout", &session.id_hash);
        let confirmed = method == Method::POST
            && csrf::same_origin(&state, &headers)
            && csrf::token_matches(&expected, params.get("csrf"));
        if method == Method::POST && !confirmed && !hint_matches {
            return errors::page(&state, ErrorCode::CsrfRejected, None, &ctx);
        }
        if !confirmed && !hint_matches {
            let hidden = ["post_logout_redirect_uri", "state", "client_id"]
                .iter()
                .filter_map(|k| params.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
                .chain(
                    client_id
                        .iter()
                        .filter(|_| params.get("client_id").is_none())
                        .map(|c| ("client_id".to_owned(), c.clone())),
                )
                .collect();
            return pages::render(&LogoutConfirmPage {
                org: state.config.organisation.clone(),
                username: user.username.clone(),
                csrf: expected,
                hidden,
            });
        }
        if let Err(e) = state.store.delete_session(&session.id_hash).await {
            return errors::internal(&state, &e, &ctx);
        }
        tracing::info!(user_id = %user.id, "signed out");
    } else if let Some(token) = cookies::get(&state, &headers, cookies::SESSION) {
        let _ = state.store.delete_session(&hash_token(&token)).await;
    }

    let mut res = match redirect {
        Some(url) => signin::redirect(&url),
        None => pages::render(&MessagePage {
            org: state.config.organisation.clone(),
            title: "You have signed out".into(),
            paragraphs: vec!["You are signed out of every application that uses this sign-in. You can close this window.".into()],
            link: None,
        }),
    };
    res.headers_mut()
        .append(header::SET_COOKIE, cookies::clear(&state, cookies::SESSION));
    res
}
