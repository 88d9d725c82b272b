//! Forced registration (code 50079): policy requires a second factor and the user has none, so
//! after the password they set up an authenticator app before the sign-in goes on. There is no
//! way past this page but registering; proving the new app's code completes the sign-in (the
//! code is the second factor of this sign-in, as in Entra's registration interrupt). The Postern
//! Authenticator is offered too: its activation moves the flow on to a push to the new device.

use super::Answer;
use super::carry::{Carried, Who, carry, flow_page};
use crate::http::errors::ErrorContext;
use crate::methods::totp::{self, Finished};
use crate::pages::{self, RegisterPage};
use crate::state::AppState;
use axum::http::HeaderMap;
use postern_core::flow::{Event, Flow, Registration};
use postern_core::oidc::params::Params;
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
) -> Result<Option<axum::response::Response>, StoreError> {
    if state.store.list_methods(user_id).await?.is_empty() {
        return Ok(None);
    }
    let t = flow.advance(Event::MethodAppeared, state.clock.now());
    if let Some(next) = &t.next {
        // Moved meanwhile: the flow's page shows where it stands.
        state.store.move_flow(flow, next).await?;
    }
    Ok(Some(flow_page(flow)))
}

/// The registration page: the enrollment of `resume` if still valid, else a fresh one.
pub(super) async fn page(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    resume: Option<&str>,
    error: Option<pages::ErrorView>,
) -> Answer {
    if let Some(moved) = already_registered(state, flow, user_id).await? {
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
        passkey_url: format!("/signin/{}?setup=passkey", flow.id),
        csrf: flow.csrf.clone(),
        enroll,
        error,
    }))
}

/// `GET /signin/{flow}?setup=authenticator`: registration with the Postern Authenticator instead
/// of a code app — an activation link as a QR code for the phone. Once the phone has activated,
/// the flow moves on by itself (`already_registered`) and asks the new device for a push, so the
/// sign-in completes only when the phone approves it by number.
pub(super) async fn authenticator_page(state: &AppState, flow: &Flow, user_id: &str) -> Answer {
    if let Some(moved) = already_registered(state, flow, user_id).await? {
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
    params: &Params,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    if let Some(moved) = already_registered(state, flow, user_id).await? {
        return Ok(moved);
    }
    let user = find_user(state, user_id).await?;
    let token = params.get("enrollment").unwrap_or_default();
    let code = params.get("code").unwrap_or_default();
    let name = params.get("name").unwrap_or_default();
    let registration = match totp::finish(state, &user, token, code, name).await? {
        Finished::Added(method) => Registration::Added {
            kind: method.kind(),
            amr: method.kind().amr(),
            name: method.name,
        },
        // The same page posted twice at once: the other post finished this sign-in.
        Finished::AlreadyAdded => return Ok(flow_page(flow)),
        Finished::WrongCode { clock_off_by } => Registration::WrongCode { clock_off_by },
        Finished::Stale => Registration::Stale,
    };
    let t = flow.advance(Event::Registered(registration), state.clock.now());
    let who = Who {
        user_id: Some(&user.id),
        username: &user.username,
    };
    match carry(state, headers, flow, t, who, ctx).await? {
        Carried::Retry(view) => page(state, flow, user_id, Some(token), Some(view)).await,
        Carried::Done(res) => Ok(res),
        Carried::OfferCode(_) => Ok(flow_page(flow)),
    }
}
