//! Forced registration (code 50079): policy requires a second factor and the user has none, so
//! after the password they set up an authenticator app before the sign-in goes on. There is no
//! way past this page but registering; proving the new app's code completes the sign-in (the
//! code is the second factor of this sign-in, as in Entra's registration interrupt). The Postern
//! Authenticator is offered too: its activation moves the flow on to a push to the new device.

use super::Answer;
use crate::http::errors::ErrorContext;
use crate::methods::totp::{self, Finished};
use crate::pages::{self, RegisterPage};
use crate::signin::{self, Destination, log};
use crate::state::AppState;
use axum::http::HeaderMap;
use postern_core::ErrorCode;
use postern_core::credential::method::MethodKind;
use postern_core::flow::{Flow, amr_with};
use postern_core::oidc::claims::Authentication;
use postern_core::oidc::params::Params;
use postern_core::signin_log::{SignInResult, StepResult};
use postern_core::user::User;
use postern_store::StoreError;

async fn find_user(state: &AppState, user_id: &str) -> Result<User, StoreError> {
    state
        .store
        .find_user_by_id(user_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("the flow's user {user_id} is gone")))
}

/// If the user has registered a method since the password step (in another browser, say), this
/// flow registers nothing: it moves on to asking for a second factor like any other sign-in.
/// Otherwise whoever holds only the password could park a flow here and add their own app later.
async fn already_registered(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    amr: &[String],
) -> Result<Option<axum::response::Response>, StoreError> {
    if state.store.list_methods(user_id).await?.is_empty() {
        return Ok(None);
    }
    let next = postern_core::flow::FlowState::SecondFactor {
        user_id: user_id.to_owned(),
        amr: amr.to_vec(),
    };
    let moved = Flow {
        state: next,
        ..flow.clone()
    };
    state.store.replace_flow(flow, &moved).await?;
    Ok(Some(signin::redirect(&format!("/signin/{}", flow.id))))
}

/// The registration page: the enrollment of `resume` if still valid, else a fresh one.
pub(super) async fn page(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    amr: &[String],
    resume: Option<&str>,
    error: Option<pages::ErrorView>,
) -> Answer {
    if let Some(moved) = already_registered(state, flow, user_id, amr).await? {
        return Ok(moved);
    }
    let user = find_user(state, user_id).await?;
    let enroll = resume
        .and_then(|token| totp::resume(state, &user, token))
        .unwrap_or_else(|| totp::start(state, &user))
        .into();
    Ok(pages::render(&RegisterPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        username: user.username,
        action: format!("/signin/{}", flow.id),
        authenticator_url: format!("/signin/{}?setup=authenticator", flow.id),
        csrf: flow.csrf.clone(),
        enroll,
        error,
    }))
}

/// `GET /signin/{flow}?setup=authenticator`: registration with the Postern Authenticator instead
/// of a code app — an activation link as a QR code for the phone. Once the phone has activated,
/// the flow moves on by itself (`already_registered`) and asks the new device for a push, so the
/// sign-in completes only when the phone approves it by number.
pub(super) async fn authenticator_page(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    amr: &[String],
) -> Answer {
    if let Some(moved) = already_registered(state, flow, user_id, amr).await? {
        return Ok(moved);
    }
    let user = find_user(state, user_id).await?;
    let url = crate::push::new_activation(state, &user.id).await?;
    let expires = state.clock.now() + crate::push::ACTIVATION_LIFETIME;
    Ok(pages::render(&pages::PushEnrollPage {
        org: state.config.organisation.clone(),
        username: user.username,
        qr_svg: crate::methods::qr::svg(&url),
        url,
        expires: postern_core::clock::iso8601(expires),
        web_app_unavailable: crate::routes::web_authenticator::unavailable_reason(&state.issuer),
        done_href: format!("/signin/{}", flow.id),
        done_label: format!("I've added it: continue to {}", flow.client_name),
    }))
}

/// `POST /signin/{flow}` in the registration state: the code from the new app.
pub(super) async fn submit(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    amr: &[String],
    params: &Params,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    if let Some(moved) = already_registered(state, flow, user_id, amr).await? {
        return Ok(moved);
    }
    let user = find_user(state, user_id).await?;
    let token = params.get("enrollment").unwrap_or_default();
    let code = params.get("code").unwrap_or_default();
    let name = params.get("name").unwrap_or_default();
    let (view, detail) = match totp::finish(state, &user, token, code, name).await? {
        Finished::Added(method) => {
            let step = log::Step::new(
                "register_totp",
                StepResult::Success,
                format!(
                    "authenticator app '{}' registered (its first code proves it); second factor satisfied",
                    method.name
                ),
            );
            let auth = Authentication {
                user_id: user.id.clone(),
                amr: amr_with(amr, MethodKind::Totp),
                auth_time: state.clock.now(),
            };
            return signin::finish(
                state,
                headers,
                flow,
                auth,
                vec![step],
                &user.username,
                Destination::App,
                vec![],
                ctx,
            )
            .await;
        }
        // The same page posted twice at once: the other post finished this sign-in.
        Finished::AlreadyAdded => return Ok(signin::redirect(&format!("/signin/{}", flow.id))),
        Finished::WrongCode { clock_off_by } => (
            ctx.view(
                ErrorCode::WrongVerificationCode,
                Some("Enter the code your app shows now for this account.".into()),
            ),
            match clock_off_by {
                Some(off) => format!(
                    "registering an authenticator app: code off by {off} steps: check the device clock"
                ),
                None => "registering an authenticator app: wrong code".to_owned(),
            },
        ),
        Finished::Stale => (
            ctx.view(
                ErrorCode::FlowExpired,
                Some("That setup page had expired. Scan the new QR code below.".into()),
            ),
            "registering an authenticator app: the setup page had expired".to_owned(),
        ),
    };
    let step = log::Step::new("register_totp", StepResult::Failure, detail.clone());
    let summary = log::Summary {
        user_id: Some(&user.id),
        username: Some(&user.username),
        result: Some(SignInResult::Interrupted),
        error: Some((ErrorCode::MfaRegistrationRequired, detail)),
    };
    log::record(
        state,
        &flow.correlation_id,
        &ctx.request_id,
        vec![step],
        Some(summary),
    )
    .await?;
    page(state, flow, user_id, amr, Some(token), Some(view)).await
}
