//! `/authorize`: validates the authorization request, then hands over to the sign-in service.
//! Errors before the client and redirect URI are established show a page and never redirect.

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, forms};
use crate::signin::{self, log};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::oidc::authorize::{self, AuthorizeError};
use postern_core::random;
use postern_core::signin_log::{StepReason, StepResult};

pub async fn authorize(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    if !state.signin_limiter.allow(info.ip) {
        crate::metrics::Metrics::inc(&state.metrics.rate_limited);
        return errors::page(&state, postern_core::ErrorCode::RateLimited, None, &ctx);
    }
    let params = match forms::query_or_form(&method, query.as_deref(), &headers, &body) {
        Ok(p) => p,
        Err((code, detail)) => return errors::page(&state, code, Some(detail), &ctx),
    };
    let client = match params.get("client_id") {
        Some(id) if id.len() <= 200 => match state.clients.find(&state.store, id).await {
            Ok(c) => c,
            Err(e) => return errors::internal(&state, &e, &ctx),
        },
        _ => None,
    };
    match authorize::validate(&params, |_| client.map(|c| c.as_ref().clone())) {
        Ok((request, client)) => {
            signin::begin(&state, request, &client, &headers, &rid, &info, None)
                .await
                .respond(&state)
        }
        Err(err) => {
            let correlation_id = random::uuid(&*state.rng);
            let ctx = ctx.within(&correlation_id);
            let (code, detail) = match &err {
                AuthorizeError::Page { code, detail }
                | AuthorizeError::Redirect { code, detail, .. } => (*code, detail.clone()),
            };
            let origin = log::Origin {
                client_id: params.get("client_id"),
                client_name: None,
                info: &info,
            };
            let reason = match code {
                ErrorCode::UnknownClient => Some(StepReason::UnknownClient),
                ErrorCode::RedirectUriMismatch => Some(StepReason::RedirectUriMismatch),
                _ => None,
            };
            let step =
                log::Step::new("authorize", StepResult::Failure, detail.clone()).because(reason);
            let summary = log::Summary::failure(code, detail);
            let logged = log::open(&state, &correlation_id, &rid.0, origin, step, summary).await;
            if let Err(e) = logged {
                return errors::internal(&state, &e, &ctx);
            }
            match err {
                AuthorizeError::Page { code, detail } => {
                    errors::page(&state, code, Some(detail), &ctx)
                }
                AuthorizeError::Redirect {
                    redirect_uri,
                    state: oauth_state,
                    code,
                    detail,
                } => signin::redirect(&signin::error_redirect(
                    &state,
                    &redirect_uri,
                    oauth_state.as_deref(),
                    code,
                    &detail,
                    &ctx,
                )),
            }
        }
    }
}
