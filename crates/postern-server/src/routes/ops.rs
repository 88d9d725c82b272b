//! Operations and static pages: health, readiness, metrics, assets, error explanations, 404.

use crate::http::RequestId;
use crate::http::errors::{self, ErrorContext};
use crate::pages::{self, ExplainEntry, ExplainPage, MessagePage};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;

pub async fn home(State(state): State<AppState>) -> Response {
    pages::render(&MessagePage {
        org: state.config.organisation.clone(),
        title: "Postern".into(),
        paragraphs: vec![
            "This is the sign-in service. Open the application you want to use; it will send you here to sign in.".into(),
        ],
        link: Some(("/error".into(), "Sign-in error codes explained".into())),
    })
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers, signing keys are loaded and (on PostgreSQL) the node hears
/// other nodes' wake-ups.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let listening = state
        .cross_node_listening
        .load(std::sync::atomic::Ordering::Relaxed);
    match state.store.ping().await {
        Ok(()) if state.keys.loaded_at().is_none() => {
            (StatusCode::SERVICE_UNAVAILABLE, "signing keys not loaded").into_response()
        }
        Ok(()) if !listening => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not hearing other nodes' wake-ups (reconnecting to the database)",
        )
            .into_response(),
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

fn asset(body: &'static str, mime: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

pub async fn css() -> Response {
    asset(pages::CSS, "text/css; charset=utf-8")
}

pub async fn js() -> Response {
    asset(pages::JS, "text/javascript; charset=utf-8")
}

/// `/error?code=N` explains one code; `/error` lists them all.
pub async fn explain(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = crate::http::forms::query(query.as_deref()).unwrap_or_default();
    let codes: Vec<ErrorCode> = match params.get("code") {
        None => ErrorCode::ALL.to_vec(),
        Some(raw) => match raw
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(ErrorCode::from_code)
        {
            Some(code) => vec![code],
            None => {
                let ctx = ErrorContext::new(&state, &rid);
                return errors::page(
                    &state,
                    ErrorCode::NotFound,
                    Some("Postern has no error with this code.".into()),
                    &ctx,
                );
            }
        },
    };
    let single = codes.len() == 1;
    let entries = codes
        .into_iter()
        .map(|c| {
            let i = c.info();
            ExplainEntry {
                code: i.code,
                title: i.title.into(),
                user_action: i.user_action.into(),
                admin_action: i.admin_action.into(),
                oauth_error: i.oauth_error.into(),
            }
        })
        .collect();
    pages::render(&ExplainPage {
        org: state.config.organisation.clone(),
        entries,
        single,
    })
}

pub async fn not_found(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    errors::page(&state, ErrorCode::NotFound, None, &ctx)
}
