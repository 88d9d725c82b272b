//! The sign-in pages. `GET /signin/{flow}` shows the page for the flow's state (password, second
//! factor, forced registration) and `POST /signin/{flow}` answers it; each state has its own file.
//!
//! Stale browser state never traps anyone: an expired flow, a flow from another browser, or one
//! that already finished (back button, second tab) restarts the sign-in with a short notice.

mod access_pass;
mod carry;
mod password;
mod push;
mod register;
mod second_factor;
mod ways;

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, csrf, forms};
use crate::metrics::Metrics;
use crate::signin::{self, Restart};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::flow::{Flow, FlowState};
use postern_core::oidc::params::Params;
use postern_core::secret::hash_token;
use postern_store::StoreError;

pub use access_pass::{show as access_pass_form, submit as access_pass_submit};
pub use push::{events as push_events, retry as push_retry};
pub use second_factor::{carry_on, other_ways};

/// What to do with a flow found by id.
enum Usable {
    Yes(Box<Flow>),
    Restart(Box<Flow>, Restart),
    Gone,
    /// The browser does not keep Postern's cookies: restarting would loop forever.
    NoCookies,
}

async fn load(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    restarted_for_cookie: bool,
) -> Result<Usable, StoreError> {
    if id.len() > 64 {
        return Ok(Usable::Gone);
    }
    let Some(flow) = state.store.find_flow(id).await? else {
        return Ok(Usable::Gone);
    };
    let now = state.clock.now();
    let Some(browser) = crate::http::cookies::get(state, headers, crate::http::cookies::BROWSER)
    else {
        // No binding cookie: a link opened in another browser (restart there, which sets one), or
        // a browser that drops cookies (it comes back without one after that restart).
        return Ok(if restarted_for_cookie {
            Usable::NoCookies
        } else {
            Usable::Restart(Box::new(flow), Restart::OtherWindow)
        });
    };
    Ok(if flow.is_expired(now) {
        Usable::Restart(Box::new(flow), Restart::Expired)
    } else if !postern_core::secret::ct_eq(
        flow.browser_hash.as_bytes(),
        hash_token(&browser).as_bytes(),
    ) {
        Usable::Restart(Box::new(flow), Restart::OtherWindow)
    } else if matches!(flow.state, FlowState::Complete { .. }) {
        Usable::Restart(Box::new(flow), Restart::Finished)
    } else {
        Usable::Yes(Box::new(flow))
    })
}

/// Starts the flow's authorization request again (the client must still exist).
async fn restart(
    state: &AppState,
    flow: Flow,
    why: Restart,
    headers: &HeaderMap,
    rid: &RequestId,
    info: &ClientInfo,
    ctx: &ErrorContext,
) -> Response {
    match signin::find_client(state, &flow.request.client_id).await {
        Ok(Some(client)) => {
            signin::begin(state, flow.request, &client, headers, rid, info, Some(why))
                .await
                .respond(state)
        }
        Ok(None) => errors::page(state, ErrorCode::UnknownClient, None, ctx),
        Err(e) => errors::internal(state, &e, ctx),
    }
}

pub(super) fn gone(state: &AppState, ctx: &ErrorContext) -> Response {
    errors::page(
        state,
        ErrorCode::FlowExpired,
        Some("This sign-in link is no longer valid. Go back to the application and choose Sign in again.".into()),
        ctx,
    )
}

/// The flow `id` if this browser may go on with it (and `ctx` then carries its correlation id);
/// otherwise the response to send: a restart, "no longer valid", or "cookies required".
pub(super) async fn open_flow(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    restarted_for_cookie: bool,
    rid: &RequestId,
    info: &ClientInfo,
    ctx: &mut ErrorContext,
) -> Result<Box<Flow>, Box<Response>> {
    let flow = match load(state, id, headers, restarted_for_cookie).await {
        Err(e) => return Err(Box::new(errors::internal(state, &e, ctx))),
        Ok(Usable::Gone) => return Err(Box::new(gone(state, ctx))),
        Ok(Usable::NoCookies) => {
            let page = errors::page(state, ErrorCode::CookiesRequired, None, ctx);
            return Err(Box::new(page));
        }
        Ok(Usable::Restart(flow, why)) => {
            ctx.correlation_id = Some(flow.correlation_id.clone());
            return Err(Box::new(
                restart(state, *flow, why, headers, rid, info, ctx).await,
            ));
        }
        Ok(Usable::Yes(flow)) => flow,
    };
    ctx.correlation_id = Some(flow.correlation_id.clone());
    Ok(flow)
}

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
        FlowState::RegisterSecondFactor { user_id, .. } => {
            register::page(&state, &flow, user_id, None, None).await
        }
        FlowState::Complete { .. } => return gone(&state, &ctx),
    };
    shown.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

/// The form fields each state's form may send.
fn expected_fields(state: &FlowState) -> &'static [&'static str] {
    match state {
        FlowState::Password => &["csrf", "username", "password"],
        FlowState::SecondFactor { .. } => &["csrf", "method", "code", "remember"],
        FlowState::RegisterSecondFactor { .. } => &["csrf", "enrollment", "code", "name"],
        FlowState::Complete { .. } => &["csrf"],
    }
}

/// The checks every sign-in form post passes before its handler looks at it: the rate limit, same
/// origin, a well-formed form, a flow this browser may go on with (`ctx` then carries its
/// correlation id) and the flow's anti-forgery token. The handler checks the fields it expects.
pub(super) async fn open_form(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    rid: &RequestId,
    info: &ClientInfo,
    ctx: &mut ErrorContext,
) -> Result<(Box<Flow>, Params), Box<Response>> {
    let refuse =
        |code, detail, ctx: &ErrorContext| Box::new(errors::page(state, code, detail, ctx));
    if !state.signin_limiter.allow(info.ip) {
        Metrics::inc(&state.metrics.rate_limited);
        return Err(refuse(ErrorCode::RateLimited, None, ctx));
    }
    if !csrf::same_origin(state, headers) {
        return Err(refuse(ErrorCode::CsrfRejected, None, ctx));
    }
    let params =
        forms::form(headers, body).map_err(|(code, detail)| refuse(code, Some(detail), ctx))?;
    let flow = open_flow(state, id, headers, false, rid, info, ctx).await?;
    if !csrf::token_matches(&flow.csrf, params.get("csrf")) {
        return Err(refuse(ErrorCode::CsrfRejected, None, ctx));
    }
    Ok((flow, params))
}

/// `POST /signin/{flow}`: the answer to the flow's current page.
pub async fn submit(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    let (flow, params) = match open_form(&state, &id, &headers, &body, &rid, &info, &mut ctx).await
    {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
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

/// A clear error for a field the page's form never sends (a stale page or a hand-made post).
fn unexpected_field(
    state: &AppState,
    params: &Params,
    expected: &[&str],
    ctx: &ErrorContext,
) -> Option<Response> {
    let unknown = params.unknown(expected)?;
    let detail = format!(
        "the form field '{}' is not expected on this page",
        unknown.chars().take(40).collect::<String>()
    );
    Some(errors::page(
        state,
        ErrorCode::InvalidRequest,
        Some(detail),
        ctx,
    ))
}

/// Results of the per-state handlers.
pub(super) type Answer = Result<Response, StoreError>;
