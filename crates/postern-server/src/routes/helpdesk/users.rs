//! `GET /admin/users/{id}`: one account as the helpdesk sees it — profile, role, locks, methods,
//! its temporary access pass (never the pass itself), recent sign-ins — with the buttons the
//! viewer's role allows.

use super::actions::Action;
use super::views::{MethodRow, PassForm, PassInfo, SignInRow, UserInfo, UserPage, lifetimes};
use super::{answer, enter, notice, query, user_href};
use crate::admin::methods::ACCESS_PASS_ID;
use crate::admin::signins::{self, SignInFilter};
use crate::admin::{methods, users};
use crate::http::RequestId;
use crate::http::errors::ErrorContext;
use crate::pages;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::admin::{Help, Manage};

/// How many recent sign-ins the page lists.
const RECENT_SIGNINS: i64 = 20;

/// `GET /admin/users/{id}` (`id`: a user id or username).
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
        let user = users::get(&state, &proof, &id).await?;
        let all = methods::list(&state, &proof, &user.id).await?;
        let pass = all
            .iter()
            .find(|m| m.id == ACCESS_PASS_ID)
            .and_then(PassInfo::of);
        let methods = all
            .iter()
            .filter(|m| m.id != ACCESS_PASS_ID)
            .map(MethodRow::from)
            .collect();
        let recent = signins::query(
            &state,
            &proof,
            SignInFilter {
                user: Some(user.id.clone()),
                limit: Some(RECENT_SIGNINS),
                ..SignInFilter::default()
            },
        )
        .await?;
        let base = user_href(&user.id);
        let can_help = desk.allows::<Help>();
        // A usable pass must be deleted before another is issued; an expired or used one is
        // replaced.
        let pass_form = (can_help && !pass.as_ref().is_some_and(|p| p.usable)).then(|| PassForm {
            action: format!("{base}/{}", Action::CreateAccessPass.path()),
            signin: None,
            lifetimes: lifetimes(),
        });
        Ok(pages::render(&UserPage {
            org: state.config.organisation.clone(),
            me: desk.label(),
            csrf: desk.csrf(&state),
            notice: notice(&params),
            can_help,
            can_manage: desk.allows::<Manage>(),
            base,
            u: UserInfo::from(&user),
            methods,
            pass,
            pass_form,
            signins: recent.items.iter().map(SignInRow::from).collect(),
        }))
    }
    .await;
    answer(&state, shown, &ctx)
}
