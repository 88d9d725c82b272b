//! `GET /admin/signins/{id}`: one sign-in's diagnosis — the cause in plain words, the fixes as
//! buttons (for a viewer whose role may apply them), the timeline, the push requests and the
//! user's methods now.

use super::actions::Action;
use super::views::{DiagnosisView, FixButton, FixRow, PassForm, SignInPage, lifetimes};
use super::{Desk, answer, enter, notice, query, user_href};
use crate::admin::signins;
use crate::http::RequestId;
use crate::http::errors::ErrorContext;
use crate::pages;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::diagnosis::{Fix, FixAction};

/// `GET /admin/signins/{id}` (`id`: the correlation id or any request id).
pub async fn show(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let shown = async {
        let desk = enter(&state, &headers).await?;
        let params = query(&state, raw.as_deref(), &ctx)?;
        let proof = desk.read()?;
        let d = signins::diagnosis(&state, &proof, &id).await?;
        let user = d.user_id.as_deref();
        let fixes = d.fixes.iter().map(|f| fix_row(&desk, user, f)).collect();
        let pass_form = match user {
            Some(uid) if desk.allows::<postern_core::admin::Help>() => Some(PassForm {
                action: format!("{}/{}", user_href(uid), Action::CreateAccessPass.path()),
                signin: Some(d.correlation_id.clone()),
                lifetimes: lifetimes(),
            }),
            _ => None,
        };
        Ok(pages::render(&SignInPage {
            org: state.config.organisation.clone(),
            me: desk.label(),
            csrf: desk.csrf(&state),
            notice: notice(&params),
            d: DiagnosisView::new(&d, fixes),
            pass_form,
        }))
    }
    .await;
    answer(&state, shown, &ctx)
}

/// A fix as this viewer sees it: a button when they may apply it to an account that exists.
fn fix_row(desk: &Desk, user_id: Option<&str>, fix: &Fix) -> FixRow {
    let mut row = FixRow {
        text: fix.text.clone(),
        button: None,
        pass_form: false,
        note: None,
    };
    let (Some(fix_action), Some(uid)) = (fix.action, user_id) else {
        return row;
    };
    let action = Action::from(fix_action);
    if !action.allowed(desk) {
        row.note = Some(match fix_action {
            FixAction::Enable => "Only an administrator can do this.",
            _ => "Your role can read but not change accounts: ask the helpdesk.",
        });
        return row;
    }
    if fix_action == FixAction::CreateAccessPass {
        row.pass_form = true;
        return row;
    }
    row.button = Some(FixButton {
        action: format!("{}/{}", user_href(uid), action.path()),
        label: action.label(),
        danger: action.destructive(),
    });
    row
}
