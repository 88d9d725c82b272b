//! The sign-in pages. `GET /signin/{flow}` shows the page for the flow's state (password, second
//! factor, forced registration) and `POST /signin/{flow}` answers it; each state has its own file.
//!
//! Stale browser state never traps anyone: an expired flow, a flow from another browser, or one
//! that already finished (back button, second tab) restarts the sign-in with a short notice.

mod access_pass;
mod carry;
pub mod open;
mod passkey;
mod password;
mod push;
mod register;
mod second_factor;
mod ways;

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, forms};
use crate::metrics::Metrics;
use crate::signin::Restart;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use open::{FlowForm, expected_fields, gone, open_flow, restart, unexpected_field};
use postern_core::ErrorCode;
use postern_core::flow::FlowState;
use postern_store::StoreError;

pub use access_pass::{show as access_pass_form, submit as access_pass_submit};
pub use passkey::{options as passkey_options, submit as passkey_submit};
pub use push::{events as push_events, retry as push_retry};
pub use second_factor::{carry_on, other_ways};

/// `GET /signin/{flow}`: the page for the flow's state.
pub async fn show(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    let query = forms::query(query.as_deref()).unwrap_or_default();
    let notice_key = query.get("notice").map(str::to_owned);
    let notice = notice_key.as_deref().and_then(Restart::notice);
    let restarted_for_cookie = notice_key.as_deref() == Some(Restart::OtherWindow.key());
    let found = open_flow(
        &state,
        &id,
        &headers,
        restarted_for_cookie,
        &rid,
        &info,
        &mut ctx,
    );
    let flow = match found.await {
        Ok(flow) => flow,
        Err(response) => return *response,
    };
    let shown = match &flow.state {
        FlowState::Password => {
            let hint = flow.request.login_hint.clone().unwrap_or_default();
            return password::form_page(&state, &flow, &hint, notice, None);
        }
        FlowState::SecondFactor { user_id, .. } => {
            let method = query.get("method");
            second_factor::prompt(&state, &flow, user_id, method, None, &headers, &ctx).await
        }
        FlowState::RegisterSecondFactor { user_id, .. }
            if query.get("setup") == Some("authenticator") =>
        {
            // Each view makes an activation link: throttled like the forms.
            if !state.signin_limiter.allow(info.ip) {
                Metrics::inc(&state.metrics.rate_limited);
                return errors::page(&state, ErrorCode::RateLimited, None, &ctx);
            }
            register::authenticator_page(&state, &flow, user_id).await
        }
        FlowState::RegisterSecondFactor { user_id, .. }
            if query.get("setup") == Some("passkey") =>
        {
            match ways::username_of(&state, user_id).await {
                Ok(username) => Ok(passkey::register_page(&state, &flow, &username, None)),
                Err(e) => Err(e),
            }
        }
        FlowState::RegisterSecondFactor { user_id, .. } => {
            register::page(&state, &flow, user_id, None, None).await
        }
        FlowState::Complete { .. } => return gone(&state, &ctx),
    };
    shown.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

/// `POST /signin/{flow}`: the answer to the flow's current page.
pub async fn submit(State(state): State<AppState>, form: FlowForm) -> Response {
    let FlowForm {
        flow,
        params,
        ctx,
        headers,
        rid,
        info,
    } = form;
    let expected = expected_fields(&flow.state);
    if let Some(response) = unexpected_field(&state, &params, expected, &ctx) {
        return response;
    }
    let answered = match &flow.state {
        FlowState::Password => password::submit(&state, &flow, &params, &headers, &ctx).await,
        FlowState::SecondFactor { user_id, .. } => {
            second_factor::submit(&state, &flow, user_id, &params, &headers, &ctx).await
        }
        FlowState::RegisterSecondFactor { user_id, .. } => {
            register::submit(&state, &flow, user_id, &params, &headers, &ctx).await
        }
        FlowState::Complete { .. } => {
            return restart(
                &state,
                *flow,
                Restart::Finished,
                &headers,
                &rid,
                &info,
                &ctx,
            )
            .await;
        }
    };
    answered.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

/// Results of the per-state handlers.
pub(super) type Answer = Result<Response, StoreError>;
