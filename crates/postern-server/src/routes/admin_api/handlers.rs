//! One thin handler per admin API operation: permission, input, one call, JSON.

use super::{Caller, OPENAPI, json_body, optional_body};
use crate::admin::{self, AdminError, methods, signins, tokens, users};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::admin::{Help, Manage, Read, Role};
use postern_core::secret::SecretString;
use serde::Deserialize;

type Q<T> = Result<Query<T>, QueryRejection>;

/// The query string, or why it is refused (400).
fn query<T>(q: Q<T>) -> Result<T, AdminError> {
    q.map(|Query(v)| v)
        .map_err(|e| AdminError::Invalid(format!("invalid query: {}", e.body_text())))
}

macro_rules! may {
    ($caller:expr, $level:ty) => {
        match $caller.may::<$level>() {
            Ok(proof) => proof,
            Err(refused) => return $caller.refuse(refused),
        }
    };
}

macro_rules! input {
    ($caller:expr, $value:expr) => {
        match $value {
            Ok(v) => v,
            Err(e) => return $caller.refuse(e),
        }
    };
}

pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

pub async fn me(caller: Caller) -> Response {
    let _proof = may!(caller, Read);
    let body = serde_json::json!({ "actor": caller.actor.label(), "role": caller.actor.role, "kind": caller.actor.kind });
    caller.reply(StatusCode::OK, Ok(body))
}

#[derive(Debug, Deserialize)]
pub struct ListUsers {
    search: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    q: Q<ListUsers>,
) -> Response {
    let proof = may!(caller, Read);
    let q = input!(caller, query(q));
    let page = users::list(
        &state,
        &proof,
        q.search.as_deref(),
        q.limit,
        q.cursor.as_deref(),
    )
    .await;
    caller.reply(StatusCode::OK, page)
}

pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let new: users::NewUser = input!(caller, json_body(&headers, &body));
    let created = users::create(&state, &proof, &caller.origin, new).await;
    caller.reply(StatusCode::CREATED, created)
}

pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Read);
    caller.reply(StatusCode::OK, users::get(&state, &proof, &id).await)
}

pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let patch: users::UserPatch = input!(caller, optional_body(&headers, &body));
    caller.reply(
        StatusCode::OK,
        users::update(&state, &proof, &caller.origin, &id, patch).await,
    )
}

pub async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Manage);
    caller.reply(
        StatusCode::OK,
        users::set_disabled(&state, &proof, &caller.origin, &id, true).await,
    )
}

pub async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Manage);
    caller.reply(
        StatusCode::OK,
        users::set_disabled(&state, &proof, &caller.origin, &id, false).await,
    )
}

pub async fn unlock_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Help);
    caller.reply(
        StatusCode::OK,
        users::unlock(&state, &proof, &caller.origin, &id).await,
    )
}

pub async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Help);
    caller.reply(
        StatusCode::OK,
        users::revoke_sessions(&state, &proof, &caller.origin, &id).await,
    )
}

pub async fn require_reregister(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Help);
    caller.reply(
        StatusCode::OK,
        users::require_reregister(&state, &proof, &caller.origin, &id).await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `admin`, `helpdesk`, `reader`, or null to remove: required, so that `{}` removes nothing.
    role: serde_json::Value,
}

impl RoleBody {
    fn role(&self) -> Result<Option<Role>, AdminError> {
        match &self.role {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => Role::parse(s).map(Some).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "role must be admin, helpdesk, reader or null, not '{s}'"
                ))
            }),
            _ => Err(AdminError::Invalid(
                "role must be admin, helpdesk, reader or null".into(),
            )),
        }
    }
}

pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let b: RoleBody = input!(caller, json_body(&headers, &body));
    let role = input!(caller, b.role());
    caller.reply(
        StatusCode::OK,
        users::set_role(&state, &proof, &caller.origin, &id, role).await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    password: SecretString,
}

pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let b: PasswordBody = input!(caller, json_body(&headers, &body));
    caller.reply(
        StatusCode::OK,
        users::set_password(&state, &proof, &caller.origin, &id, b.password).await,
    )
}

pub async fn list_methods(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Read);
    caller.reply(StatusCode::OK, methods::list(&state, &proof, &id).await)
}

pub async fn get_method(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, method)): Path<(String, String)>,
) -> Response {
    let proof = may!(caller, Read);
    caller.reply(
        StatusCode::OK,
        methods::get(&state, &proof, &id, &method).await,
    )
}

pub async fn delete_method(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, method)): Path<(String, String)>,
) -> Response {
    let proof = may!(caller, Help);
    caller.done(methods::delete(&state, &proof, &caller.origin, &id, &method).await)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultBody {
    method_id: String,
}

pub async fn set_default_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Help);
    let b: DefaultBody = input!(caller, json_body(&headers, &body));
    caller.reply(
        StatusCode::OK,
        methods::set_default(&state, &proof, &caller.origin, &id, &b.method_id).await,
    )
}

pub async fn create_access_pass(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Help);
    let req: methods::NewAccessPass = input!(caller, optional_body(&headers, &body));
    caller.reply(
        StatusCode::CREATED,
        methods::create_access_pass(&state, &proof, &caller.origin, &id, req).await,
    )
}

pub async fn delete_access_pass(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Help);
    caller.done(methods::remove_access_pass(&state, &proof, &caller.origin, &id).await)
}

pub async fn list_clients(State(state): State<AppState>, caller: Caller) -> Response {
    let proof = may!(caller, Read);
    caller.reply(StatusCode::OK, admin::clients::list(&state, &proof).await)
}

pub async fn create_client(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let new: admin::clients::NewClient = input!(caller, json_body(&headers, &body));
    caller.reply(
        StatusCode::CREATED,
        admin::clients::create(&state, &proof, &caller.origin, new).await,
    )
}

pub async fn get_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Read);
    caller.reply(
        StatusCode::OK,
        admin::clients::get(&state, &proof, &id).await,
    )
}

pub async fn update_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let patch: admin::clients::ClientPatch = input!(caller, optional_body(&headers, &body));
    caller.reply(
        StatusCode::OK,
        admin::clients::update(&state, &proof, &caller.origin, &id, patch).await,
    )
}

pub async fn delete_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Manage);
    caller.done(admin::clients::delete(&state, &proof, &caller.origin, &id).await)
}

pub async fn rotate_client_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Manage);
    caller.reply(
        StatusCode::OK,
        admin::clients::rotate_secret(&state, &proof, &caller.origin, &id).await,
    )
}

pub async fn query_signins(
    State(state): State<AppState>,
    caller: Caller,
    q: Q<signins::SignInFilter>,
) -> Response {
    let proof = may!(caller, Read);
    let f = input!(caller, query(q));
    caller.reply(StatusCode::OK, signins::query(&state, &proof, f).await)
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    since: String,
    format: Option<String>,
    cursor: Option<String>,
}

pub async fn export_signins(
    State(state): State<AppState>,
    caller: Caller,
    q: Q<ExportQuery>,
) -> Response {
    let proof = may!(caller, Read);
    let q = input!(caller, query(q));
    if q.format.as_deref().is_some_and(|f| f != "jsonl") {
        return caller.refuse(AdminError::Invalid("format must be jsonl".into()));
    }
    let since = input!(caller, admin::parse_time("since", &q.since));
    match signins::export(&state, &proof, since, q.cursor.as_deref()).await {
        Ok((lines, next)) => {
            let mut res = (
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-ndjson"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                lines,
            )
                .into_response();
            // The next page, if any (`?cursor=`).
            if let Some(v) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
                res.headers_mut().insert("x-next-cursor", v);
            }
            res
        }
        Err(e) => caller.refuse(e),
    }
}

pub async fn get_signin(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Read);
    caller.reply(StatusCode::OK, signins::get(&state, &proof, &id).await)
}

pub async fn diagnose_signin(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Read);
    caller.reply(
        StatusCode::OK,
        signins::diagnosis(&state, &proof, &id).await,
    )
}

pub async fn query_audit(
    State(state): State<AppState>,
    caller: Caller,
    q: Q<admin::audit_log::AuditFilter>,
) -> Response {
    let proof = may!(caller, Read);
    let f = input!(caller, query(q));
    caller.reply(
        StatusCode::OK,
        admin::audit_log::query(&state, &proof, f).await,
    )
}

pub async fn list_tokens(State(state): State<AppState>, caller: Caller) -> Response {
    let proof = may!(caller, Manage);
    caller.reply(StatusCode::OK, tokens::list(&state, &proof).await)
}

pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proof = may!(caller, Manage);
    let new: tokens::NewToken = input!(caller, json_body(&headers, &body));
    caller.reply(
        StatusCode::CREATED,
        tokens::create(&state, &proof, &caller.origin, new).await,
    )
}

pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let proof = may!(caller, Manage);
    caller.reply(
        StatusCode::OK,
        tokens::revoke(&state, &proof, &caller.origin, &id).await,
    )
}
