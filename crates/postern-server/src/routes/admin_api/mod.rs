//! The admin API, `/admin/v1`: JSON over HTTP, described by `/admin/v1/openapi.json`.
//!
//! Every call but the description carries a bearer token (`postern admin token create`); its role
//! decides what the call may do (`postern_core::admin`). Handlers only translate: typed input in,
//! one `crate::admin` operation, JSON out. Errors are `{"error", "message", "request_id"}` with
//! 400, 401, 403, 404 or 409; a rejected request changes nothing.

mod handlers;

use crate::admin::{AdminError, Origin};
use crate::http::{ClientInfo, RequestId};
use crate::state::AppState;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use postern_core::admin::{Actor, Authorized, Permission};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The header naming the sign-in (request or correlation id) a change is made for; it goes into
/// the audit log.
pub const SIGNIN_HEADER: &str = "x-postern-signin";

/// An actor placed on a request by `postern admin` running on the server's own store; never set
/// from the network (request extensions are in-process only).
#[derive(Debug, Clone)]
pub struct LocalOperator(pub Actor);

/// The authenticated caller of an admin API request.
pub struct Caller {
    pub actor: Actor,
    pub origin: Origin,
    request_id: String,
}

impl Caller {
    /// The proof of permission `P`, or the refusal (403).
    pub fn may<P: Permission>(&self) -> Result<Authorized<P>, AdminError> {
        Ok(self.actor.authorize::<P>()?)
    }

    /// The JSON answer to an operation's result.
    pub fn reply<T: Serialize>(
        &self,
        status: StatusCode,
        result: Result<T, AdminError>,
    ) -> Response {
        match result {
            Ok(value) => (status, no_store(), axum::Json(value)).into_response(),
            Err(e) => error_response(&e, &self.request_id),
        }
    }

    /// 204 for an operation that returns nothing.
    pub fn done(&self, result: Result<(), AdminError>) -> Response {
        match result {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => error_response(&e, &self.request_id),
        }
    }

    /// An error answer for input the handler refused before any operation.
    pub fn refuse(&self, e: AdminError) -> Response {
        error_response(&e, &self.request_id)
    }
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

fn status_of(e: &AdminError) -> StatusCode {
    match e {
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::Forbidden(_) | AdminError::Refused(_) => StatusCode::FORBIDDEN,
        AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
        AdminError::Conflict(_) => StatusCode::CONFLICT,
        AdminError::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        AdminError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error body. A store failure is logged with the request id and not described; the
/// database not answering is said as such (503: most likely not carried out; check, then retry).
pub fn error_response(e: &AdminError, request_id: &str) -> Response {
    let message = match e {
        AdminError::Store(inner) if inner.is_unavailable() => {
            tracing::warn!(request_id, error = %inner, "admin API: database unavailable");
            "the database is not answering, so the request was most likely not carried out; check, then try again in a few seconds"
                .to_owned()
        }
        AdminError::Store(inner) => {
            tracing::error!(request_id, error = %inner, "admin API: internal error");
            "an internal error occurred; the server log has the details under this request id"
                .to_owned()
        }
        other => other.to_string(),
    };
    (
        status_of(e),
        no_store(),
        axum::Json(json!({ "error": e.key(), "message": message, "request_id": request_id })),
    )
        .into_response()
}

fn unauthorized(request_id: &str, why: &str) -> Response {
    let mut res = (
        StatusCode::UNAUTHORIZED,
        no_store(),
        axum::Json(json!({ "error": "unauthorized", "message": why, "request_id": request_id })),
    )
        .into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"postern-admin\""),
    );
    res
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let origin = Origin {
            ip: parts
                .extensions
                .get::<ClientInfo>()
                .map(|i| i.ip.to_string()),
            request_id: Some(request_id.clone()),
            // Cleaned where it is recorded (`crate::admin::audit`).
            signin: parts
                .headers
                .get(SIGNIN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        if let Some(LocalOperator(actor)) = parts.extensions.get::<LocalOperator>() {
            return Ok(Caller {
                actor: actor.clone(),
                origin,
                request_id,
            });
        }
        let presented = bearer(&parts.headers).ok_or_else(|| {
            unauthorized(
                &request_id,
                "a bearer token is required (postern admin token create)",
            )
        })?;
        match crate::admin::tokens::authenticate(state, presented).await {
            Ok(Some(actor)) => Ok(Caller {
                actor,
                origin,
                request_id,
            }),
            Ok(None) => Err(unauthorized(
                &request_id,
                "the bearer token is unknown, expired or revoked",
            )),
            Err(e) => Err(error_response(&e, &request_id)),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A body that may be left out: empty reads as the type's default.
pub fn optional_body<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json_body(headers, body)
}

/// A JSON body: `application/json`, an object of the expected shape.
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AdminError::Invalid("a JSON body is required".into()));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(AdminError::Invalid(
            "the body must be JSON (Content-Type: application/json)".into(),
        ));
    }
    // An object, never an array: serde would read an array by position into the struct.
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AdminError::Invalid(format!("invalid body: {e}")))?;
    if !value.is_object() {
        return Err(AdminError::Invalid("the body must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| AdminError::Invalid(format!("invalid body: {e}")))
}

/// Answers the framework's own refusals under `/admin/v1` (a path segment that is not UTF-8, a
/// method the route does not have, a body over the size limit) with the API's JSON error body.
async fn json_errors(rid: RequestId, res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let (key, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such operation in the admin API".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this operation does not take that method (see /admin/v1/openapi.json)".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the body is too large".to_owned()),
        s if s.is_server_error() => (
            "server_error",
            "an internal error occurred; the server log has the details under this request id"
                .to_owned(),
        ),
        _ if text.is_empty() => ("invalid_request", "the request is not valid".to_owned()),
        _ => ("invalid_request", text),
    };
    let mut out = (
        status,
        no_store(),
        axum::Json(json!({ "error": key, "message": message, "request_id": rid.0 })),
    )
        .into_response();
    for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// `/admin/v1/…` that names no operation.
async fn no_such_operation(axum::Extension(rid): axum::Extension<RequestId>) -> Response {
    error_response(
        &AdminError::NotFound(
            "no such operation in the admin API (see /admin/v1/openapi.json)".into(),
        ),
        &rid.0,
    )
}

/// The routes under `/admin/v1`.
pub fn router() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/admin/v1/openapi.json", get(h::openapi))
        .route("/admin/v1/me", get(h::me))
        .route("/admin/v1/users", get(h::list_users).post(h::create_user))
        .route(
            "/admin/v1/users/{id}",
            get(h::get_user).patch(h::update_user),
        )
        .route("/admin/v1/users/{id}/disable", post(h::disable_user))
        .route("/admin/v1/users/{id}/enable", post(h::enable_user))
        .route("/admin/v1/users/{id}/unlock", post(h::unlock_user))
        .route(
            "/admin/v1/users/{id}/revoke-sessions",
            post(h::revoke_sessions),
        )
        .route(
            "/admin/v1/users/{id}/require-reregister",
            post(h::require_reregister),
        )
        .route("/admin/v1/users/{id}/role", put(h::set_role))
        .route("/admin/v1/users/{id}/password", put(h::set_password))
        .route(
            "/admin/v1/users/{id}/authentication/methods",
            get(h::list_methods),
        )
        .route(
            "/admin/v1/users/{id}/authentication/methods/{method}",
            get(h::get_method).delete(h::delete_method),
        )
        .route(
            "/admin/v1/users/{id}/authentication/default-method",
            put(h::set_default_method),
        )
        .route(
            "/admin/v1/users/{id}/authentication/temporary-access-pass",
            post(h::create_access_pass).delete(h::delete_access_pass),
        )
        .route(
            "/admin/v1/clients",
            get(h::list_clients).post(h::create_client),
        )
        .route(
            "/admin/v1/clients/{id}",
            get(h::get_client)
                .patch(h::update_client)
                .delete(h::delete_client),
        )
        .route(
            "/admin/v1/clients/{id}/rotate-secret",
            post(h::rotate_client_secret),
        )
        .route("/admin/v1/signins", get(h::query_signins))
        .route("/admin/v1/signins/export", get(h::export_signins))
        .route("/admin/v1/signins/{id}", get(h::get_signin))
        .route("/admin/v1/signins/{id}/diagnosis", get(h::diagnose_signin))
        .route("/admin/v1/audit", get(h::query_audit))
        .route(
            "/admin/v1/tokens",
            get(h::list_tokens).post(h::create_token),
        )
        .route(
            "/admin/v1/tokens/{id}",
            axum::routing::delete(h::revoke_token),
        )
        .route("/admin/v1/{*rest}", axum::routing::any(no_such_operation))
        .route("/admin/v1", axum::routing::any(no_such_operation))
}

/// Middleware around the whole router (inside the request id, outside the body-size limit):
/// every refusal under `/admin/v1` answers with the API's JSON error body.
pub async fn json_refusals(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/admin/v1");
    let rid = req.extensions().get::<RequestId>().cloned();
    let res = next.run(req).await;
    match (api, rid) {
        (true, Some(rid)) => json_errors(rid, res).await,
        _ => res,
    }
}
