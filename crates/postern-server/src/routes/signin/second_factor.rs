//! The second step of a sign-in: the prompt for the user's default method, "Sign in another way"
//! (every registered method, without retyping the password), checking a code, and the way on to
//! the application after a recovery code sent the user to Security info first.

use super::Answer;
use super::carry::{Carried, Who, carry, flow_page};
use super::open::{OpenFlow, gone};
use super::ways::{choices, usable_here, username_of};
use crate::http::RequestId;
use crate::http::errors::{self, ErrorContext};
use crate::methods;
use crate::pages::{self, OtherWaysPage, SecondFactorPage};
use crate::push;
use crate::signin::{self, remember};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::credential::method::MethodKind;
use postern_core::flow::choice::{self, Ask};
use postern_core::flow::{Event, Flow, FlowState, Then};
use postern_core::oidc::params::Params;

/// The page when the user has no usable method left (every recovery code used, no app).
fn stranded(state: &AppState, ctx: &ErrorContext) -> Response {
    errors::page(
        state,
        ErrorCode::StrongAuthRequired,
        Some("You have no second sign-in method left that works here. Ask your helpdesk for a temporary access pass; give them the ids below.".into()),
        ctx,
    )
}

/// `GET /signin/{flow}` in the second-factor state (also re-shown with an error).
#[allow(clippy::too_many_arguments)]
pub(super) async fn prompt(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    picked: Option<&str>,
    error: Option<pages::ErrorView>,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let methods = usable_here(state, state.store.list_methods(user_id).await?);
    let standing = if choice::needs_standing(&methods, picked) {
        push::standing(state, user_id).await?
    } else {
        Default::default()
    };
    let refused;
    let asked = match choice::ask(&methods, picked, standing) {
        Ask::Push(device) => {
            match super::push::prompt(state, flow, user_id, device, &methods, headers, ctx).await? {
                super::push::Shown::Page(page) => return Ok(page),
                super::push::Shown::Refused(why) => {
                    refused = why;
                    choice::instead_of_push(&methods, &refused)
                }
            }
        }
        asked => asked,
    };
    let (method, notice) = match asked {
        Ask::Code { method, notice } => (method, notice.map(str::to_owned)),
        Ask::Passkey(_) => {
            let username = username_of(state, user_id).await?;
            return Ok(super::passkey::prompt_page(state, flow, &username, error));
        }
        Ask::Push(_) | Ask::Stranded => return Ok(stranded(state, ctx)),
    };
    let username = username_of(state, user_id).await?;
    let (heading, instruction, inputmode) = match method.kind() {
        MethodKind::Push | MethodKind::Passkey => return Ok(stranded(state, ctx)),
        MethodKind::Totp => (
            "Enter code",
            format!(
                "Enter the 6-digit code shown in your authenticator app ('{}').",
                method.name
            ),
            "numeric",
        ),
        MethodKind::RecoveryCodes => (
            "Enter a recovery code",
            format!(
                "Enter one of your recovery codes ({} left). Each code works once.",
                method.secret.remaining_codes()
            ),
            "text",
        ),
    };
    Ok(pages::render(&SecondFactorPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        username,
        heading: heading.into(),
        instruction,
        inputmode,
        action: format!("/signin/{}", flow.id),
        csrf: flow.csrf.clone(),
        method_id: method.id.clone(),
        remember_days: remember::offered(state, &flow.request)
            .then_some(state.config.policy.remember_device_days),
        other_url: format!("/signin/{}/other", flow.id),
        notice,
        error,
    }))
}

/// `GET /signin/{flow}/other`: every way this user can finish signing in.
pub async fn other_ways(State(state): State<AppState>, opened: OpenFlow) -> Response {
    let OpenFlow { flow, ctx, .. } = opened;
    let FlowState::SecondFactor { user_id, .. } = &flow.state else {
        // Nothing to choose yet (or any more): the flow's own page says what is due.
        return flow_page(&flow);
    };
    let shown = async {
        let methods = usable_here(&state, state.store.list_methods(user_id).await?);
        let choices = choices(&flow, &methods, None);
        if choices.is_empty() {
            return Ok(stranded(&state, &ctx));
        }
        Ok::<_, postern_store::StoreError>(pages::render(&OtherWaysPage {
            org: state.config.organisation.clone(),
            client_name: flow.client_name.clone(),
            username: username_of(&state, user_id).await?,
            correlation_id: flow.correlation_id.clone(),
            choices,
        }))
    }
    .await;
    shown.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

/// `POST /signin/{flow}` in the second-factor state: a code for one of the user's methods.
pub(super) async fn submit(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    params: &Params,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let picked = params.get("method");
    let code = params.get("code").unwrap_or_default().trim();
    let methods = state.store.list_methods(user_id).await?;
    let Some(method) = choice::pick(&methods, picked).cloned() else {
        return Ok(stranded(state, ctx));
    };
    if picked != Some(method.id.as_str()) {
        // The method on the page is gone (removed, or its codes used up meanwhile): ask again.
        return prompt(state, flow, user_id, None, None, headers, ctx).await;
    }
    if code.is_empty() || code.len() > 64 {
        let view = ctx.view(ErrorCode::MissingParameter, Some("Enter the code.".into()));
        return prompt(state, flow, user_id, picked, Some(view), headers, ctx).await;
    }
    let method_name = method.name.clone();
    let method_id = method.id.clone();
    let outcome = methods::verify_code(state, method, code).await?;
    let remember_days = (params.get("remember") == Some("yes")
        && remember::offered(state, &flow.request))
    .then_some(state.config.policy.remember_device_days);
    let event = Event::CodeChecked {
        method_name,
        outcome,
        remember_days,
    };
    let t = flow.advance(event, state.clock.now());
    let username = username_of(state, user_id).await?;
    let who = Who {
        user_id: Some(user_id),
        username: &username,
    };
    match carry(state, headers, flow, t, who, ctx).await? {
        Carried::Retry(view) => {
            prompt(
                state,
                flow,
                user_id,
                Some(&method_id),
                Some(view),
                headers,
                ctx,
            )
            .await
        }
        Carried::Done(res) => Ok(res),
        Carried::OfferCode(_) => Ok(flow_page(flow)),
    }
}

/// `GET /signin/{flow}/continue`: on from Security info to the application, after a sign-in that
/// went there first (recovery code). Needs the session that sign-in created, in the same browser.
pub async fn carry_on(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    let answer = async {
        if id.len() > 64 {
            return Ok(gone(&state, &ctx));
        }
        let Some(flow) = state.store.find_flow(&id).await? else {
            return Ok(gone(&state, &ctx));
        };
        ctx.correlation_id = Some(flow.correlation_id.clone());
        let same_browser =
            crate::http::cookies::get(&state, &headers, crate::http::cookies::BROWSER).is_some_and(
                |b| {
                    postern_core::secret::ct_eq(
                        flow.browser_hash.as_bytes(),
                        postern_core::secret::hash_token(&b).as_bytes(),
                    )
                },
            );
        let FlowState::Complete {
            user_id,
            auth_time_ms,
            continue_pending: true,
            ..
        } = &flow.state
        else {
            return Ok(gone(&state, &ctx));
        };
        // The session this sign-in created, in the browser it was made in.
        let session = signin::current_session(&state, &headers).await?;
        let Some((session, _)) = session.filter(|(s, _)| {
            &s.user_id == user_id && postern_core::clock::to_millis(s.auth_time) == *auth_time_ms
        }) else {
            return Ok(gone(&state, &ctx));
        };
        if !same_browser || flow.is_expired(state.clock.now()) {
            return Ok(gone(&state, &ctx));
        }
        if flow.request.client_id == signin::ACCOUNT_CLIENT_ID {
            return Ok(signin::redirect("/account/security"));
        }
        let auth = session.authentication();
        let t = flow.advance(Event::Continued { auth }, state.clock.now());
        let (Some(next), Then::IssueCode { auth }) = (&t.next, &t.then) else {
            return Ok(gone(&state, &ctx));
        };
        // Once: the flow moves on only if nobody did so meanwhile.
        if !state.store.move_flow(&flow, next).await? {
            return Ok(gone(&state, &ctx));
        }
        let url = signin::issue_code(&state, &flow.request, auth, &flow.correlation_id).await?;
        super::carry::record(&state, &flow, t.log, None, &ctx).await?;
        Ok::<_, postern_store::StoreError>(signin::redirect(&url))
    }
    .await;
    answer.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}
