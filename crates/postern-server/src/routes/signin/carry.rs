//! Carrying out what the flow decided: each sign-in handler checks its secret, asks
//! `Flow::advance` what follows, and hands the [`Transition`] here, which writes the log, moves
//! the flow (over the version read) or finishes the sign-in. What is left for the handler is only
//! which page it shows again with an error.

use crate::http::errors::ErrorContext;
use crate::metrics::Metrics;
use crate::pages::ErrorView;
use crate::signin::{self, log};
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::flow::{Flow, LogLine, Then, Transition};
use postern_core::signin_log::SignInResult;
use postern_store::StoreError;

/// Whom the sign-in entry is about (the username as the helpdesk should see it).
#[derive(Clone, Copy)]
pub(super) struct Who<'a> {
    pub user_id: Option<&'a str>,
    pub username: &'a str,
}

/// What the handler still does.
pub(super) enum Carried {
    /// Show its page again with this error.
    Retry(ErrorView),
    /// Ask for a code instead of push, with this notice.
    OfferCode(String),
    /// Send this.
    Done(Response),
}

/// The flow's page: what it shows depends on where the flow now stands.
pub(super) fn flow_page(flow: &Flow) -> Response {
    signin::redirect(&format!("/signin/{}", flow.id))
}

/// Writes what the log gains from `t`, moves the flow, finishes the sign-in if `t` says so.
pub(super) async fn carry(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    t: Transition,
    who: Who<'_>,
    ctx: &ErrorContext,
) -> Result<Carried, StoreError> {
    if matches!(t.then, Then::Finish { .. }) {
        let outcome = signin::finish(state, headers, flow, t, who.username, ctx).await?;
        return Ok(Carried::Done(outcome.respond(state, ctx)));
    }
    let failed = t
        .summary
        .as_ref()
        .is_some_and(|s| s.result == SignInResult::Failure);
    let summary = t.summary.map(|s| log::Summary {
        user_id: who.user_id,
        username: Some(who.username),
        result: Some(s.result),
        error: s.error,
    });
    if let Some(next) = &t.next
        && !state.store.move_flow(flow, next).await?
    {
        // Moved meanwhile (another tab or node): what was checked is logged, but the summary is
        // the move's that won; the flow's page shows where it stands now.
        record(state, flow, t.log, None, ctx).await?;
        return Ok(Carried::Done(flow_page(flow)));
    }
    record(state, flow, t.log, summary, ctx).await?;
    Ok(match t.then {
        Then::Retry { code, detail } => {
            if failed {
                Metrics::inc(&state.metrics.signin_failure);
            }
            Carried::Retry(ctx.view(code, detail))
        }
        Then::OfferCode { notice } => Carried::OfferCode(notice),
        // Not reached here: a finish went first, and issuing a code for a finished flow is the
        // way on from Security info, which has its own page.
        Then::Show | Then::Finish { .. } | Then::IssueCode { .. } => Carried::Done(flow_page(flow)),
    })
}

/// Appends `lines` and the summary to the sign-in's entry (nothing when both are empty).
pub(super) async fn record(
    state: &AppState,
    flow: &Flow,
    lines: Vec<LogLine>,
    summary: Option<log::Summary<'_>>,
    ctx: &ErrorContext,
) -> Result<(), StoreError> {
    if lines.is_empty() && summary.is_none() {
        return Ok(());
    }
    let steps = lines.into_iter().map(log::Step::from).collect();
    log::record(state, &flow.correlation_id, &ctx.request_id, steps, summary).await
}
