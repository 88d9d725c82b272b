//! The two faces of an error: OAuth JSON (as Entra shapes it: `error`, `error_description`,
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`) and Postern's HTML error page. Both
//! read the catalogue; nothing here decides a text of its own.

use crate::pages::{self, ErrorView};
use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::clock::iso8601;
use serde_json::json;
use time::OffsetDateTime;

/// Where an error happened: shown to users so the helpdesk can find it.
#[derive(Debug, Clone)]
pub struct ErrorContext {
    pub request_id: String,
    /// The issuer, for absolute links in error answers (`error_uri`).
    pub issuer: String,
    pub correlation_id: Option<String>,
    pub timestamp: OffsetDateTime,
}

impl ErrorContext {
    /// The context of a request that is not (yet) part of a sign-in.
    pub fn new(state: &AppState, rid: &crate::http::RequestId) -> Self {
        ErrorContext {
            request_id: rid.0.clone(),
            issuer: state.issuer.clone(),
            correlation_id: None,
            timestamp: state.clock.now(),
        }
    }

    /// The same, within the sign-in `correlation_id`.
    pub fn within(self, correlation_id: &str) -> Self {
        ErrorContext {
            correlation_id: Some(correlation_id.to_owned()),
            ..self
        }
    }

    /// Marks a response that shows this context's ids so that the request id, as the user sees
    /// it, finds the sign-in in the log (the request may have written no step of its own).
    pub fn shown(&self, mut res: Response) -> Response {
        if let Some(correlation_id) = &self.correlation_id {
            res.extensions_mut()
                .insert(ShownInSignIn(correlation_id.clone()));
        }
        res
    }

    pub fn view(&self, code: ErrorCode, detail: Option<String>) -> ErrorView {
        let info = code.info();
        ErrorView {
            code: info.code,
            title: info.title.to_owned(),
            user_action: info.user_action.to_owned(),
            detail,
            request_id: self.request_id.clone(),
            correlation_id: self
                .correlation_id
                .clone()
                .unwrap_or_else(|| self.request_id.clone()),
            timestamp: iso8601(self.timestamp),
        }
    }
}

/// On a response that showed the user a request id within the sign-in it names; the request-id
/// middleware records the link.
#[derive(Debug, Clone)]
pub struct ShownInSignIn(pub String);

fn status(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.info().http_status).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The OAuth error body.
pub fn oauth_body(code: ErrorCode, detail: &str, ctx: &ErrorContext) -> serde_json::Value {
    let info = code.info();
    let correlation = ctx
        .correlation_id
        .clone()
        .unwrap_or_else(|| ctx.request_id.clone());
    let ts = iso8601(ctx.timestamp);
    json!({
        "error": info.oauth_error,
        "error_description": format!(
            "POSTERN{}: {}: {detail}. Trace ID: {} Correlation ID: {correlation} Timestamp: {ts}",
            info.code, info.title, ctx.request_id
        ),
        "error_codes": [info.code],
        "timestamp": ts,
        "trace_id": ctx.request_id,
        "correlation_id": correlation,
        // RFC 6749 §5.2: a URI, so absolute (the certification suite refuses a bare path).
        "error_uri": format!("{}/error?code={}", ctx.issuer.trim_end_matches('/'), info.code),
    })
}

/// An OAuth JSON error response (token, userinfo, revocation, introspection).
pub fn oauth_json(code: ErrorCode, detail: &str, ctx: &ErrorContext) -> Response {
    let mut res = (status(code), axum::Json(oauth_body(code, detail, ctx))).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if code == ErrorCode::InvalidClientSecret {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"postern\""),
        );
    }
    if code == ErrorCode::InvalidToken {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    res
}

/// Postern's error page, ready to send: the one type by which a page refuses a request. It
/// carries the code, the detail safe to show and the ids the helpdesk needs.
#[derive(Debug)]
pub struct PageError {
    org: String,
    status: StatusCode,
    view: ErrorView,
    correlation_id: Option<String>,
}

impl PageError {
    /// `detail` is shown to the user: pass only what is safe to show.
    pub fn new(
        state: &AppState,
        code: ErrorCode,
        detail: Option<String>,
        ctx: &ErrorContext,
    ) -> Self {
        PageError {
            org: state.config.organisation.clone(),
            status: status(code),
            view: ctx.view(code, detail),
            correlation_id: ctx.correlation_id.clone(),
        }
    }

    /// A failure of ours (the store, a bug): logged with the request id, shown as 50000 — or as
    /// 990017 (503) when the database was not there for it, which is no fault of the request.
    pub fn internal<E: std::fmt::Display + 'static>(
        state: &AppState,
        err: &E,
        ctx: &ErrorContext,
    ) -> Self {
        let code = failure_code(err);
        if code == ErrorCode::DatabaseUnavailable {
            tracing::warn!(request_id = %ctx.request_id, error = %err, "database unavailable");
        } else {
            tracing::error!(request_id = %ctx.request_id, error = %err, "internal error");
        }
        PageError::new(state, code, None, ctx)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut res = pages::render(&pages::ErrorPage {
            org: self.org,
            e: self.view,
        });
        *res.status_mut() = self.status;
        if let Some(correlation_id) = self.correlation_id {
            res.extensions_mut().insert(ShownInSignIn(correlation_id));
        }
        res
    }
}

/// Postern's error page as a response (see [`PageError`]).
pub fn page(
    state: &AppState,
    code: ErrorCode,
    detail: Option<String>,
    ctx: &ErrorContext,
) -> Response {
    PageError::new(state, code, detail, ctx).into_response()
}

/// What a failure of ours is shown as: 990017 when the store could not reach its database,
/// else 50000.
pub fn failure_code<E: std::fmt::Display + 'static>(err: &E) -> ErrorCode {
    let any: &dyn std::any::Any = err;
    let unavailable = any
        .downcast_ref::<postern_store::StoreError>()
        .is_some_and(postern_store::StoreError::is_unavailable);
    if unavailable {
        ErrorCode::DatabaseUnavailable
    } else {
        ErrorCode::ServerError
    }
}

/// A failure of ours as a response (see [`PageError::internal`]).
pub fn internal<E: std::fmt::Display + 'static>(
    state: &AppState,
    err: &E,
    ctx: &ErrorContext,
) -> Response {
    PageError::internal(state, err, ctx).into_response()
}

/// A store failure as a JSON endpoint's refusal `(code, detail)`: 990017 when the database could
/// not be reached, else 50000; the detail is for the server log only (see [`refusal_json`]).
pub fn store_refusal(e: &postern_store::StoreError) -> (ErrorCode, String) {
    (failure_code(e), e.to_string())
}

/// A JSON endpoint's refusal: our own failures (50000, 990017) are logged with `detail` and
/// answered without it; the others carry it to the client.
pub fn refusal_json(code: ErrorCode, detail: &str, ctx: &ErrorContext) -> Response {
    match code {
        ErrorCode::ServerError | ErrorCode::DatabaseUnavailable => failure_json(code, &detail, ctx),
        _ => oauth_json(code, detail, ctx),
    }
}

/// Same as [`internal`] for JSON endpoints.
pub fn internal_json<E: std::fmt::Display + 'static>(err: &E, ctx: &ErrorContext) -> Response {
    failure_json(failure_code(err), err, ctx)
}

fn failure_json<E: std::fmt::Display + ?Sized>(
    code: ErrorCode,
    err: &E,
    ctx: &ErrorContext,
) -> Response {
    if code == ErrorCode::DatabaseUnavailable {
        tracing::warn!(request_id = %ctx.request_id, error = %err, "database unavailable");
        return oauth_json(
            code,
            "the database is not answering; try again in a few seconds",
            ctx,
        );
    }
    tracing::error!(request_id = %ctx.request_id, error = %err, "internal error");
    oauth_json(ErrorCode::ServerError, "an internal error occurred", ctx)
}
