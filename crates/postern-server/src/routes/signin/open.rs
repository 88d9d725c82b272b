//! Opening a sign-in flow for a request, before any handler looks at it: the flow bound to this
//! browser (else a restart with a notice, "no longer valid", or "cookies required"), and for a
//! form post the rate limit, same origin, a well-formed form and the flow's anti-forgery token.
//! The extractors [`OpenFlow`] and [`FlowForm`] carry the flow with the error context of the
//! sign-in, so a handler starts from a flow it may go on with.

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, csrf, forms};
use crate::metrics::Metrics;
use crate::signin::{self, Restart};
use crate::state::AppState;
use axum::RequestExt;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::flow::{Flow, FlowState};
use postern_core::oidc::params::Params;
use postern_core::secret::hash_token;
use postern_store::StoreError;

/// The request's id, caller and flow id (from the path).
fn request_of(
    parts: &Parts,
    flow_id: Result<Path<String>, impl IntoResponse>,
) -> Result<(RequestId, ClientInfo, String), Box<Response>> {
    let rid = parts.extensions.get::<RequestId>().cloned();
    let info = parts.extensions.get::<ClientInfo>().cloned();
    match (rid, info, flow_id) {
        (Some(rid), Some(info), Ok(Path(id))) => Ok((rid, info, id)),
        (_, _, Err(rejection)) => Err(Box::new(rejection.into_response())),
        // The request-id middleware runs on every route: a handler without it is a wiring bug.
        _ => Err(Box::new(StatusCode::INTERNAL_SERVER_ERROR.into_response())),
    }
}

/// A sign-in page's flow, opened for this browser ([`open_flow`]): the extractor of the pages a
/// browser GETs while a sign-in goes on.
pub struct OpenFlow {
    pub flow: Box<Flow>,
    /// Within the flow's sign-in.
    pub ctx: ErrorContext,
    pub headers: HeaderMap,
}

impl FromRequestParts<AppState> for OpenFlow {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let path = Path::<String>::from_request_parts(parts, state).await;
        let (rid, info, id) = request_of(parts, path).map_err(|r| *r)?;
        let mut ctx = ErrorContext::new(state, &rid);
        let headers = parts.headers.clone();
        let flow = open_flow(state, &id, &headers, false, &rid, &info, &mut ctx)
            .await
            .map_err(|r| *r)?;
        Ok(OpenFlow { flow, ctx, headers })
    }
}

/// A sign-in form post that passed every check before its handler ([`open_form`]): the flow,
/// the form's fields, and the sign-in's error context.
pub struct FlowForm {
    pub flow: Box<Flow>,
    pub params: Params,
    pub ctx: ErrorContext,
    pub headers: HeaderMap,
    pub rid: RequestId,
    pub info: ClientInfo,
}

impl FromRequest<AppState> for FlowForm {
    type Rejection = Response;

    async fn from_request(mut req: Request, state: &AppState) -> Result<Self, Response> {
        let path = req.extract_parts_with_state::<Path<String>, _>(state).await;
        let (parts, body) = req.into_parts();
        let (rid, info, id) = request_of(&parts, path).map_err(|r| *r)?;
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut ctx = ErrorContext::new(state, &rid);
        let (flow, params) = open_form(state, &id, &headers, &body, &rid, &info, &mut ctx)
            .await
            .map_err(|r| *r)?;
        Ok(FlowForm {
            flow,
            params,
            ctx,
            headers,
            rid,
            info,
        })
    }
}

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
pub(super) async fn restart(
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

/// The form fields each state's form may send.
pub(super) fn expected_fields(state: &FlowState) -> &'static [&'static str] {
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

/// A clear error for a field the page's form never sends (a stale page or a hand-made post).
pub(super) fn unexpected_field(
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
