//! The second step of a sign-in: the prompt for the user's default method, "Sign in another way"
//! (every registered method, without retyping the password), checking a code, and the way on to
//! the application after a recovery code sent the user to Security info first.

use super::ways::{choices, username_of};
use super::{Answer, gone, open_flow};
use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId};
use crate::methods;
use crate::metrics::Metrics;
use crate::pages::{self, OtherWaysPage, SecondFactorPage};
use crate::push;
use crate::signin::{self, Destination, log, remember};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::credential::method::{Method, MethodKind, default_method, usable};
use postern_core::flow::{Flow, FlowState, SecondFactorOutcome, Step, second_factor_step};
use postern_core::oidc::claims::Authentication;
use postern_core::oidc::params::Params;
use postern_core::signin_log::{SignInResult, StepResult};

/// The method to ask for: the one picked (if it is the user's and usable), else the default.
fn pick<'a>(methods: &'a [Method], picked: Option<&str>) -> Option<&'a Method> {
    picked
        .and_then(|id| usable(methods).find(|m| m.id == id))
        .or_else(|| default_method(methods))
}

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
    amr: &[String],
    picked: Option<&str>,
    error: Option<pages::ErrorView>,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let methods = state.store.list_methods(user_id).await?;
    let Some(mut method) = pick(&methods, picked) else {
        return Ok(stranded(state, ctx));
    };
    let mut notice = None;
    if method.kind() == MethodKind::Push
        && picked.is_none()
        && let Some(why) = push::code_first(state, user_id).await?
        && let Some(code) = first_code_method(&methods)
    {
        method = code;
        notice = Some(why.to_owned());
    }
    if method.kind() == MethodKind::Push {
        let device = method.clone();
        match super::push::prompt(state, flow, user_id, amr, &device, &methods, headers, ctx)
            .await?
        {
            super::push::Shown::Page(page) => return Ok(page),
            super::push::Shown::Refused(why) => match first_code_method(&methods) {
                Some(code) => {
                    method = code;
                    notice = Some(why);
                }
                None => return Ok(stranded(state, ctx)),
            },
        }
    }
    let username = username_of(state, user_id).await?;
    let (heading, instruction, inputmode) = match method.kind() {
        MethodKind::Push => return Ok(stranded(state, ctx)),
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

/// The first usable code method (app code before recovery code).
fn first_code_method(methods: &[Method]) -> Option<&Method> {
    usable(methods)
        .filter(|m| m.kind() != MethodKind::Push)
        .min_by_key(|m| (m.kind(), m.created))
}

/// `GET /signin/{flow}/other`: every way this user can finish signing in.
pub async fn other_ways(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    let flow = match open_flow(&state, &id, &headers, false, &rid, &info, &mut ctx).await {
        Ok(flow) => flow,
        Err(response) => return *response,
    };
    let FlowState::SecondFactor { user_id, .. } = &flow.state else {
        // Nothing to choose yet (or any more): the flow's own page says what is due.
        return signin::redirect(&format!("/signin/{}", flow.id));
    };
    let shown = async {
        let methods = state.store.list_methods(user_id).await?;
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
    amr: &[String],
    params: &Params,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let picked = params.get("method");
    let code = params.get("code").unwrap_or_default().trim();
    let methods = state.store.list_methods(user_id).await?;
    let Some(method) = pick(&methods, picked).cloned() else {
        return Ok(stranded(state, ctx));
    };
    if picked != Some(method.id.as_str()) {
        // The method on the page is gone (removed, or its codes used up meanwhile): ask again.
        return prompt(state, flow, user_id, amr, None, None, headers, ctx).await;
    }
    if code.is_empty() || code.len() > 64 {
        let view = ctx.view(ErrorCode::MissingParameter, Some("Enter the code.".into()));
        return prompt(state, flow, user_id, amr, picked, Some(view), headers, ctx).await;
    }
    let name = method.name.clone();
    let method_id = method.id.clone();
    let outcome = methods::verify_code(state, method, code).await?;
    let now = state.clock.now();
    let (step, result, detail) = second_factor_step(user_id, amr, &name, &outcome, now);
    let method_step = match &outcome {
        SecondFactorOutcome::Accepted { kind, .. } | SecondFactorOutcome::Refused { kind, .. } => {
            step_method(*kind)
        }
        SecondFactorOutcome::Locked { .. } => "second_factor",
    };
    let logged = log::Step::new(method_step, result, detail.clone()).because(outcome.reason());
    let username = username_of(state, user_id).await?;

    match step {
        Step::Retry { code } => {
            let summary = log::Summary {
                user_id: Some(user_id),
                username: Some(&username),
                result: Some(SignInResult::Failure),
                error: Some((code, detail)),
            };
            log::record(
                state,
                &flow.correlation_id,
                &ctx.request_id,
                vec![logged],
                Some(summary),
            )
            .await?;
            Metrics::inc(&state.metrics.signin_failure);
            let safe_detail = match outcome {
                SecondFactorOutcome::Locked { until }
                | SecondFactorOutcome::Refused {
                    recorded: Some(postern_core::softlock::FailureRecorded::Locked { until }),
                    ..
                } => Some(format!(
                    "Try again after {}.",
                    postern_core::clock::iso8601(until)
                )),
                _ => None,
            };
            let view = ctx.view(code, safe_detail);
            prompt(
                state,
                flow,
                user_id,
                amr,
                Some(&method_id),
                Some(view),
                headers,
                ctx,
            )
            .await
        }
        Step::Advance(FlowState::Complete {
            user_id,
            amr,
            auth_time_ms,
            ..
        }) => {
            let mut steps = vec![logged];
            let mut cookies = vec![];
            if params.get("remember") == Some("yes") && remember::offered(state, &flow.request) {
                cookies.push(remember::remember(state, &user_id).await?);
                steps.push(log::Step::new(
                    "remembered_device",
                    StepResult::Info,
                    format!(
                        "the user asked not to be asked again on this browser for {} days",
                        state.config.policy.remember_device_days
                    ),
                ));
            }
            let destination = match &outcome {
                SecondFactorOutcome::Accepted {
                    kind: MethodKind::RecoveryCodes,
                    ..
                } => Destination::SecurityInfo,
                _ => Destination::App,
            };
            let auth = Authentication {
                user_id,
                amr,
                auth_time: postern_core::clock::from_millis(auth_time_ms),
            };
            signin::finish(
                state,
                headers,
                flow,
                auth,
                steps,
                &username,
                destination,
                cookies,
                ctx,
            )
            .await
        }
        Step::Advance(_) | Step::Interrupt { .. } => Err(postern_store::StoreError::Corrupt(
            "unexpected state after a second factor".into(),
        )),
    }
}

/// The log's method name for a kind.
fn step_method(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Push => "push",
        MethodKind::Totp => "totp",
        MethodKind::RecoveryCodes => "recovery_code",
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
            amr,
            auth_time_ms,
            continue_pending: true,
        } = &flow.state
        else {
            return Ok(gone(&state, &ctx));
        };
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
        // Once: the flow is marked as continued only if nobody did so meanwhile.
        let continued = Flow {
            state: FlowState::Complete {
                user_id: user_id.clone(),
                amr: amr.clone(),
                auth_time_ms: *auth_time_ms,
                continue_pending: false,
            },
            ..flow.clone()
        };
        if !state.store.replace_flow(&flow, &continued).await? {
            return Ok(gone(&state, &ctx));
        }
        let auth = Authentication {
            user_id: session.user_id.clone(),
            amr: session.amr.clone(),
            auth_time: session.auth_time,
        };
        let url = signin::issue_code(&state, &flow.request, &auth, &flow.correlation_id).await?;
        let step = log::Step::new(
            "authorize",
            StepResult::Success,
            format!(
                "continued from Security info; authorization code issued to '{}'",
                flow.client_name
            ),
        );
        log::record(&state, &flow.correlation_id, &rid.0, vec![step], None).await?;
        Ok::<_, postern_store::StoreError>(signin::redirect(&url))
    }
    .await;
    answer.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}
