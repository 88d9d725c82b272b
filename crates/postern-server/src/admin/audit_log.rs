//! The audit log for the helpdesk: its query, by target, action and time, paged. (Entries are
//! written by `super::audit`, next to every change.)

use super::{AdminError, AdminResult, Page, cursor, page_of, page_size, parse_cursor, parse_time};
use crate::state::AppState;
use postern_core::admin::{Authorized, Read};
use postern_core::audit::AuditEntry;
use postern_core::clock::to_millis;
use postern_store::AuditQuery;
use serde::Deserialize;

/// The filters of `GET /admin/v1/audit`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    /// A user id or username, client id or token id.
    pub target: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn query(
    state: &AppState,
    _: &Authorized<Read>,
    f: AuditFilter,
) -> AdminResult<Page<AuditEntry>> {
    let limit = page_size(f.limit)?;
    let target_id = match super::filter_text("target", f.target)? {
        None => None,
        Some(t) => Some(match super::users::find(state, &t).await {
            Ok(u) => u.id,
            Err(AdminError::NotFound(_)) => t,
            Err(e) => return Err(e),
        }),
    };
    let q = AuditQuery {
        target_id,
        action: super::filter_text("action", f.action)?,
        from: super::filter_text("from", f.from)?
            .map(|t| parse_time("from", &t))
            .transpose()?,
        to: super::filter_text("to", f.to)?
            .map(|t| parse_time("to", &t))
            .transpose()?,
        before: f.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    let items = state.store.query_audit(&q).await?;
    Ok(page_of(items, limit, |e| cursor(to_millis(e.time), &e.id)))
}
