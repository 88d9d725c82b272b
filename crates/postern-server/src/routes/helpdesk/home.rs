//! The helpdesk's front door: `GET /admin` (the search box and the latest failed sign-ins) and
//! `GET /admin/search?q=` (a pasted id or username leads straight to its page).

use super::views::{HomePage, SignInRow, UserRow};
use super::{Desk, Stop, answer, enter, query, signin_href, user_href};
use crate::admin::signins::{self, SignInFilter};
use crate::admin::{AdminError, users};
use crate::http::RequestId;
use crate::http::errors::ErrorContext;
use crate::pages;
use crate::signin;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

/// How many failed sign-ins the home page lists.
const LATEST_FAILURES: i64 = 20;

/// How many accounts a search that matched nothing exactly suggests.
const SUGGESTIONS: i64 = 20;

/// `GET /admin`.
pub async fn home(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let shown = async {
        let desk = enter(&state, &headers).await?;
        render(&state, &desk, String::new(), None, vec![]).await
    }
    .await;
    answer(&state, shown, &ctx)
}

/// `GET /admin/search?q=`: a sign-in with that request or correlation id, else the account with
/// that username or id, else the home page saying nothing was found (with accounts whose name
/// contains it).
pub async fn search(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let shown = async {
        let desk = enter(&state, &headers).await?;
        let params = query(&state, raw.as_deref(), &ctx)?;
        let q = params.get("q").unwrap_or("").trim().to_owned();
        if q.is_empty() {
            return Ok(signin::redirect("/admin"));
        }
        let proof = desk.read()?;
        match signins::get(&state, &proof, &q).await {
            Ok(entry) => return Ok(signin::redirect(&signin_href(&entry.correlation_id))),
            Err(AdminError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        match users::get(&state, &proof, &q).await {
            Ok(user) => return Ok(signin::redirect(&user_href(&user.id))),
            Err(AdminError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let matches = match users::list(&state, &proof, Some(&q), Some(SUGGESTIONS), None).await {
            Ok(page) => page.items.iter().map(UserRow::from).collect(),
            // Too long to search for: nothing to suggest.
            Err(AdminError::Invalid(_)) => vec![],
            Err(e) => return Err(e.into()),
        };
        let shown_q: String = q.chars().take(200).collect();
        render(&state, &desk, shown_q.clone(), Some(shown_q), matches).await
    }
    .await;
    answer(&state, shown, &ctx)
}

async fn render(
    state: &AppState,
    desk: &Desk,
    q: String,
    not_found: Option<String>,
    matches: Vec<UserRow>,
) -> Result<Response, Stop> {
    let proof = desk.read()?;
    let failures = signins::query(
        state,
        &proof,
        SignInFilter {
            result: Some("failure".into()),
            limit: Some(LATEST_FAILURES),
            ..SignInFilter::default()
        },
    )
    .await?;
    Ok(pages::render(&HomePage {
        org: state.config.organisation.clone(),
        me: desk.label(),
        q,
        not_found,
        matches,
        failures: failures.items.iter().map(SignInRow::from).collect(),
    }))
}
