//! Passkeys in a sign-in: `POST /signin/{flow}/passkey/options` starts the flow's WebAuthn
//! ceremony (JSON for the page's script) and `POST /signin/{flow}/passkey` answers it with the
//! browser's credential as a form post, so every outcome is an ordinary page (with its error code
//! and ids) or the redirect on. What the ceremony is depends on where the flow stands: without a
//! password from the first page, the second step after it, or registering one at the interrupt.

use super::Answer;
use super::carry::{Carried, Who, carry, flow_page};
use super::open::{FlowForm, unexpected_field};
use super::ways::username_of;
use crate::http::errors::{self, ErrorContext};
use crate::pages::{self, ErrorView, PasskeyPage};
use crate::passkeys::{self, register, sign_in};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::credential::passkey::{self as rules, PasskeyRefusal, PolicyRefusal};
use postern_core::flow::{Event, Flow, FlowState, PasskeyOutcome, Registration};
use postern_store::StoreError;

/// `POST /signin/{flow}/passkey/options`: the options for the browser's WebAuthn call.
pub async fn options(State(state): State<AppState>, form: FlowForm) -> Response {
    let FlowForm {
        flow, params, ctx, ..
    } = form;
    if let Some(response) = unexpected_field(&state, &params, &["csrf"], &ctx) {
        return response;
    }
    if let Some(why) = state.passkeys.unavailable() {
        return errors::page(
            &state,
            ErrorCode::InvalidRequest,
            Some(format!("{why}.")),
            &ctx,
        );
    }
    let key = passkeys::flow_key(&flow.id);
    let started = async {
        Ok::<_, StoreError>(match &flow.state {
            FlowState::Password if state.passkeys.policy.passwordless => {
                Some(sign_in::start_passwordless(&state, &key).await?)
            }
            FlowState::SecondFactor { user_id, .. } => {
                let methods = state.store.list_methods(user_id).await?;
                sign_in::start_second_step(&state, &key, user_id, &methods).await?
            }
            FlowState::RegisterSecondFactor { user_id, .. } => {
                let user = state.store.find_user_by_id(user_id).await?;
                match user {
                    Some(user) => {
                        let methods = state.store.list_methods(user_id).await?;
                        Some(register::start(&state, &key, &user, &methods).await?)
                    }
                    None => None,
                }
            }
            _ => None,
        })
    };
    match started.await {
        Ok(Some(options)) => {
            let mut res = Json(options).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Ok(None) => errors::page(
            &state,
            ErrorCode::InvalidRequest,
            Some("No passkey can be used at this step of the sign-in.".into()),
            &ctx,
        ),
        Err(e) => errors::internal(&state, &e, &ctx),
    }
}

/// `POST /signin/{flow}/passkey`: the browser's answer to the flow's ceremony.
pub async fn submit(State(state): State<AppState>, form: FlowForm) -> Response {
    let FlowForm {
        flow,
        params,
        ctx,
        headers,
        ..
    } = form;
    if let Some(response) = unexpected_field(&state, &params, &["csrf", "credential", "name"], &ctx)
    {
        return response;
    }
    let answer = params.get("credential").unwrap_or_default();
    let answered = async {
        if answer.is_empty() || answer.len() > 64 * 1024 {
            let view = ctx.view(
                ErrorCode::MissingParameter,
                Some("The browser sent no passkey. Try again.".into()),
            );
            return again(&state, &flow, Some(view)).await;
        }
        match &flow.state {
            FlowState::Password => passwordless(&state, &flow, answer, &headers, &ctx).await,
            FlowState::SecondFactor { user_id, .. } => {
                second_step(&state, &flow, user_id, answer, &headers, &ctx).await
            }
            FlowState::RegisterSecondFactor { user_id, .. } => {
                let name = params.get("name").unwrap_or_default();
                registration(&state, &flow, user_id, answer, name, &headers, &ctx).await
            }
            FlowState::Complete { .. } => Ok(flow_page(&flow)),
        }
    };
    answered
        .await
        .unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

/// The page to show again with `error`: the one the flow's state shows a passkey on.
async fn again(state: &AppState, flow: &Flow, error: Option<ErrorView>) -> Answer {
    match &flow.state {
        FlowState::Password => {
            let hint = flow.request.login_hint.clone().unwrap_or_default();
            Ok(super::password::form_page(state, flow, &hint, None, error))
        }
        FlowState::SecondFactor { user_id, .. } => {
            let username = username_of(state, user_id).await?;
            Ok(prompt_page(state, flow, &username, error))
        }
        FlowState::RegisterSecondFactor { user_id, .. } => {
            let username = username_of(state, user_id).await?;
            Ok(register_page(state, flow, &username, error))
        }
        FlowState::Complete { .. } => Ok(flow_page(flow)),
    }
}

async fn passwordless(
    state: &AppState,
    flow: &Flow,
    answer: &str,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let key = passkeys::flow_key(&flow.id);
    let checked = if state.passkeys.passwordless() {
        sign_in::check(state, &key, None, answer).await?
    } else {
        sign_in::Checked {
            outcome: PasskeyOutcome::Refused {
                why: PasskeyRefusal::Policy(PolicyRefusal::PasswordlessOff),
                name: None,
                recorded: None,
            },
            owner: None,
        }
    };
    decide(state, flow, checked, headers, ctx).await
}

async fn second_step(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    answer: &str,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let key = passkeys::flow_key(&flow.id);
    let checked = sign_in::check(state, &key, Some(user_id), answer).await?;
    decide(state, flow, checked, headers, ctx).await
}

/// Hands what the passkey check found to the flow and carries out what it decided.
async fn decide(
    state: &AppState,
    flow: &Flow,
    checked: sign_in::Checked,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let username = match &checked.owner {
        Some(owner) => username_of(state, owner).await?,
        None => String::new(),
    };
    let who = Who {
        user_id: checked.owner.as_deref(),
        username: &username,
    };
    let t = flow.advance(Event::PasskeyChecked(checked.outcome), state.clock.now());
    match carry(state, headers, flow, t, who, ctx).await? {
        Carried::Retry(view) => again(state, flow, Some(view)).await,
        Carried::Done(res) => Ok(res),
        Carried::OfferCode(_) => Ok(flow_page(flow)),
    }
}

async fn registration(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    answer: &str,
    name: &str,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let Some(user) = state.store.find_user_by_id(user_id).await? else {
        return Ok(flow_page(flow));
    };
    let key = passkeys::flow_key(&flow.id);
    let registration = match register::finish(state, &key, &user, answer, name).await? {
        Ok(method) => {
            let synced = matches!(
                method.secret,
                postern_core::credential::method::MethodSecret::Passkey { synced: true, .. }
            );
            Registration::Added {
                kind: method.kind(),
                name: method.name,
                amr: rules::amr(synced),
            }
        }
        Err(refusal) => Registration::PasskeyRefused {
            code: refusal.code(),
            shown: refusal.shown(),
            words: refusal.words(),
        },
    };
    let t = flow.advance(Event::Registered(registration), state.clock.now());
    let who = Who {
        user_id: Some(user_id),
        username: &user.username,
    };
    match carry(state, headers, flow, t, who, ctx).await? {
        Carried::Retry(view) => Ok(register_page(state, flow, &user.username, Some(view))),
        Carried::Done(res) => Ok(res),
        Carried::OfferCode(_) => Ok(flow_page(flow)),
    }
}

/// The second step's passkey prompt.
pub(super) fn prompt_page(
    state: &AppState,
    flow: &Flow,
    username: &str,
    error: Option<ErrorView>,
) -> Response {
    pages::render(&PasskeyPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        username: username.to_owned(),
        heading: "Use your passkey".into(),
        instruction: "Use the passkey or security key you registered here: your browser asks for your fingerprint, face, PIN or screen lock.".into(),
        button: "Use passkey".into(),
        mode: "sign-in",
        action: format!("/signin/{}/passkey", flow.id),
        options_url: format!("/signin/{}/passkey/options", flow.id),
        csrf: flow.csrf.clone(),
        other_url: format!("/signin/{}/other", flow.id),
        other_label: "Sign in another way".into(),
        error,
    })
}

/// Registering a passkey at the registration interrupt (50079).
pub(super) fn register_page(
    state: &AppState,
    flow: &Flow,
    username: &str,
    error: Option<ErrorView>,
) -> Response {
    pages::render(&PasskeyPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        username: username.to_owned(),
        heading: "Add a passkey".into(),
        instruction: "Your organisation requires a second sign-in method. Create a passkey on this device (or use a security key): your browser asks for your fingerprint, face, PIN or screen lock.".into(),
        button: "Create a passkey".into(),
        mode: "register",
        action: format!("/signin/{}/passkey", flow.id),
        options_url: format!("/signin/{}/passkey/options", flow.id),
        csrf: flow.csrf.clone(),
        other_url: format!("/signin/{}", flow.id),
        other_label: "Set up an authenticator app instead".into(),
        error,
    })
}
