//! `GET /admin/audit`: the audit log, newest first, filtered by target and action, a page at a
//! time (the cursor of the admin API).

use super::views::{AuditPage, AuditRow};
use super::{Stop, answer, enter, query};
use crate::admin::AdminError;
use crate::admin::audit_log::{self, AuditFilter};
use crate::http::RequestId;
use crate::http::errors::ErrorContext;
use crate::pages;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// Entries per page.
const PAGE_SIZE: i64 = 50;

/// `/admin/audit` with the filters (and a cursor).
fn audit_href(target: &str, action: &str, cursor: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if !target.is_empty() {
        q.append_pair("target", target);
    }
    if !action.is_empty() {
        q.append_pair("action", action);
    }
    if let Some(c) = cursor {
        q.append_pair("cursor", c);
    }
    let q = q.finish();
    if q.is_empty() {
        "/admin/audit".to_owned()
    } else {
        format!("/admin/audit?{q}")
    }
}

/// `GET /admin/audit[?target=&action=&cursor=]`.
pub async fn show(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let shown = async {
        let desk = enter(&state, &headers).await?;
        let params = query(&state, raw.as_deref(), &ctx)?;
        let proof = desk.read()?;
        let text = |name| {
            params
                .get(name)
                .map(str::trim)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>()
        };
        let (target, action) = (text("target"), text("action"));
        let cursor = params.get("cursor").filter(|c| !c.is_empty());
        let filter = AuditFilter {
            target: Some(target.clone()),
            action: Some(action.clone()),
            limit: Some(PAGE_SIZE),
            cursor: cursor.map(str::to_owned),
            ..AuditFilter::default()
        };
        let (rows, next, error) = match audit_log::query(&state, &proof, filter).await {
            Ok(page) => (
                page.items.iter().map(AuditRow::from).collect(),
                page.next_cursor
                    .map(|c| audit_href(&target, &action, Some(&c))),
                None,
            ),
            Err(AdminError::Invalid(why)) => (vec![], None, Some(why)),
            Err(e) => return Err(Stop::from(e)),
        };
        let refused = error.is_some();
        let mut res = pages::render(&AuditPage {
            org: state.config.organisation.clone(),
            me: desk.label(),
            newest: cursor.map(|_| audit_href(&target, &action, None)),
            target,
            action,
            error,
            rows,
            next,
        });
        if refused {
            *res.status_mut() = StatusCode::BAD_REQUEST;
        }
        Ok(res)
    }
    .await;
    answer(&state, shown, &ctx)
}

#[cfg(test)]
mod tests {
    use super::audit_href;

    #[test]
    fn paging_keeps_the_filters() {
        assert_eq!(audit_href("", "", None), "/admin/audit");
        assert_eq!(
            audit_href("ada lovelace", "user.unlock", Some("MTI6YQ")),
            "/admin/audit?target=ada+lovelace&action=user.unlock&cursor=MTI6YQ"
        );
    }
}
