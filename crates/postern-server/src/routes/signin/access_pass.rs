//! Signing in with a temporary access pass, the helpdesk's door for a user who lost every method:
//! `GET /signin/{flow}/access-pass` shows the form (username and pass) and its `POST` checks the
//! pass under its own lockout (not the password's: guessing the password never locks out the
//! rescue). A pass proves the user on its own, so the sign-in ends on Security info (where they
//! add a method, with a link on to the application) whatever the policy asks.
//!
//! The pass's rules (lifetime, one-time use, the constant-time check, what a refusal shows and
//! logs) live in `postern_core::credential::access_pass`, and what an accepted or refused pass
//! leads to in `Flow::advance`; this file only reads and spends stored passes. The pass itself never reaches a log, a step or a page.

use super::Answer;
use super::carry::{Carried, Who, carry, flow_page};
use super::open::{FlowForm, OpenFlow, unexpected_field};
use crate::http::errors::{self, ErrorContext};
use crate::lockout::{self, Kind};
use crate::pages::{self, ErrorView};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::credential::access_pass::{self, AccessPass, PassCheck, Refusal, Refused};
use postern_core::flow::{Event, Flow, FlowState};
use postern_core::oidc::params::Params;
use postern_core::secret::SecretString;
use postern_core::user::{User, normalize_username};
use postern_store::StoreError;
use time::OffsetDateTime;

/// The fields the form sends.
const FIELDS: &[&str] = &["csrf", "username", "access_pass"];

/// The keyed fingerprints of wrong passes are their own: a pass never counts as a repeat of a
/// password guess.
const FINGERPRINT_SCOPE: &str = "access_pass";

#[derive(Template)]
#[template(path = "access_pass.html")]
struct AccessPassPage {
    org: String,
    client_name: String,
    action: String,
    csrf: String,
    username: String,
    password_url: String,
    /// Past the password step: the pass is for the user who gave the password.
    fixed: bool,
    error: Option<ErrorView>,
}

fn form_page(state: &AppState, flow: &Flow, username: &str, error: Option<ErrorView>) -> Response {
    pages::render(&AccessPassPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        action: format!("/signin/{}/access-pass", flow.id),
        csrf: flow.csrf.clone(),
        username: username.to_owned(),
        password_url: format!("/signin/{}", flow.id),
        fixed: flow.state != FlowState::Password,
        error,
    })
}

/// `GET /signin/{flow}/access-pass`: the form, while the flow waits for the first step.
pub async fn show(State(state): State<AppState>, opened: OpenFlow) -> Response {
    let OpenFlow { flow, ctx, .. } = opened;
    let username = match flow_user(&state, &flow).await {
        Ok(Some(Some(name))) => name,
        Ok(Some(None)) => flow.request.login_hint.clone().unwrap_or_default(),
        // Signed in already: the flow's own page says what is next.
        Ok(None) => return flow_page(&flow),
        Err(e) => return errors::internal(&state, &e, &ctx),
    };
    form_page(&state, &flow, &username, None)
}

/// Whom the pass may sign in: anyone at the first step (`Some(None)`); at the second step (a
/// push that timed out, a lost phone) only the user who gave the password (`Some(Some(name))`);
/// nobody once signed in (`None`).
async fn flow_user(state: &AppState, flow: &Flow) -> Result<Option<Option<String>>, StoreError> {
    match &flow.state {
        FlowState::Password => Ok(Some(None)),
        FlowState::SecondFactor { user_id, .. }
        | FlowState::RegisterSecondFactor { user_id, .. } => Ok(state
            .store
            .find_user_by_id(user_id)
            .await?
            .map(|u| Some(u.username))),
        FlowState::Complete { .. } => Ok(None),
    }
}

/// `POST /signin/{flow}/access-pass`: username and pass.
pub async fn submit(State(state): State<AppState>, form: FlowForm) -> Response {
    let FlowForm {
        flow,
        params,
        ctx,
        headers,
        ..
    } = form;
    let fixed = match flow_user(&state, &flow).await {
        Ok(Some(fixed)) => fixed,
        Ok(None) => return flow_page(&flow),
        Err(e) => return errors::internal(&state, &e, &ctx),
    };
    if let Some(response) = unexpected_field(&state, &params, FIELDS, &ctx) {
        return response;
    }
    // Past the password, the pass is checked for the user who gave it, whatever was typed.
    let answered = sign_in(&state, &flow, &params, fixed.as_deref(), &headers, &ctx).await;
    answered.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

async fn sign_in(
    state: &AppState,
    flow: &Flow,
    params: &Params,
    fixed_username: Option<&str>,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let typed = fixed_username.unwrap_or(params.get("username").unwrap_or_default());
    let pass = SecretString::new(params.get("access_pass").unwrap_or_default());
    if typed.trim().is_empty() || pass.expose().trim().is_empty() {
        let view = ctx.view(
            ErrorCode::MissingParameter,
            Some("Enter both your username and your temporary access pass.".into()),
        );
        return Ok(form_page(state, flow, typed, Some(view)));
    }
    let now = state.clock.now();
    let username = normalize_username(typed).ok();
    let user = match &username {
        Some(name) => state.store.find_user_by_username(name).await?,
        None => None,
    };
    let checked = match &user {
        Some(user) => check_pass(state, user, &pass, now).await?,
        None => {
            unknown_user_work(state, &pass, now).await?;
            Err(Refused::UnknownUser)
        }
    };
    let shown_name: String = username
        .as_deref()
        .unwrap_or(typed)
        .chars()
        // Shown to the helpdesk: no control characters (a terminal would obey them).
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let who = Who {
        user_id: user.as_ref().map(|u| u.id.as_str()),
        username: &shown_name,
    };
    let t = flow.advance(Event::AccessPassChecked(checked), now);
    Ok(match carry(state, headers, flow, t, who, ctx).await? {
        Carried::Retry(view) => form_page(state, flow, typed, Some(view)),
        Carried::Done(res) => res,
        Carried::OfferCode(_) => flow_page(flow),
    })
}

/// Checks a known user's pass; the pass as it stood before this sign-in used it, if accepted.
///
/// The attempt is counted in the passes' own lockout before the pass is looked at, so parallel
/// guesses get no more tries than the threshold; a pass proven right resets the counter.
async fn check_pass(
    state: &AppState,
    user: &User,
    pass: &SecretString,
    now: OffsetDateTime,
) -> Result<Result<AccessPass, Refused>, StoreError> {
    let normalized = access_pass::normalize(pass.expose());
    let print = lockout::fingerprint(
        state,
        Kind::AccessPass,
        &user.id,
        FINGERPRINT_SCOPE,
        &normalized,
    );
    let recorded = match lockout::count_attempt(state, &user.id, Kind::AccessPass, &print).await? {
        Ok(recorded) => recorded,
        Err(until) => return Ok(Err(Refused::Locked { until })),
    };
    let refused = |why| Ok(Err(Refused::Checked { why, recorded }));
    let stored = state.store.find_access_pass(&user.id).await?;
    let check = access_pass::check(
        &state.mac_key,
        &user.id,
        pass.expose(),
        stored.as_ref(),
        now,
    );
    let Some(stored) = stored.filter(|_| check != PassCheck::Wrong) else {
        return refused(Refusal::Wrong);
    };
    // The pass is theirs: the user may learn what else stands in the way.
    if user.disabled {
        return Ok(Err(Refused::Disabled));
    }
    match check {
        PassCheck::Expired => return refused(Refusal::Expired { at: stored.expires }),
        PassCheck::Used => return refused(Refusal::Used { at: stored.used }),
        PassCheck::Accepted | PassCheck::Wrong => {}
    }
    // Used only if still usable: of two sign-ins racing with a one-time pass, one gets in.
    if !state.store.use_access_pass(&stored.id, now).await? {
        return refused(Refusal::Used { at: None });
    }
    lockout::reset(state, &user.id, Kind::AccessPass).await?;
    Ok(Ok(stored))
}

/// The work of a known user's check, for a username that has no account (the lockout and pass
/// reads and the keyed hash), so that timing does not tell the two apart.
async fn unknown_user_work(
    state: &AppState,
    pass: &SecretString,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    lockout::find(state, "", Kind::AccessPass).await?;
    let stored = state.store.find_access_pass("").await?;
    access_pass::check(&state.mac_key, "", pass.expose(), stored.as_ref(), now);
    Ok(())
}
