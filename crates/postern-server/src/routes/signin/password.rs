//! The password step: username and password under the password lockout. What follows (done, a
//! second factor, registering one first, or a remembered browser's skip) is `Flow::advance`'s.

use super::Answer;
use super::carry::{Carried, Who, carry, flow_page};
use crate::http::errors::ErrorContext;
use crate::lockout::{self, Kind};
use crate::pages::{self, SignInPage};
use crate::signin::remember::{self, Remembered};
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::credential::password::PasswordCheck;
use postern_core::flow::{Event, Flow, PasswordOutcome};
use postern_core::oidc::params::Params;
use postern_core::policy::after_password;
use postern_core::secret::SecretString;
use postern_core::user::{User, normalize_username};
use postern_store::StoreError;

pub(super) fn form_page(
    state: &AppState,
    flow: &Flow,
    username: &str,
    notice: Option<&str>,
    error: Option<pages::ErrorView>,
) -> Response {
    pages::render(&SignInPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        action: format!("/signin/{}", flow.id),
        csrf: flow.csrf.clone(),
        username: username.to_owned(),
        passwordless: state.passkeys.passwordless(),
        notice: notice.map(str::to_owned),
        error,
    })
}

/// `POST /signin/{flow}` in the password state.
pub(super) async fn submit(
    state: &AppState,
    flow: &Flow,
    params: &Params,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let typed = params.get("username").unwrap_or_default().to_owned();
    let password = SecretString::new(params.get("password").unwrap_or_default());
    if typed.is_empty() || password.expose().is_empty() {
        let view = ctx.view(
            ErrorCode::MissingParameter,
            Some("Enter both your username and your password.".into()),
        );
        return Ok(form_page(state, flow, &typed, None, Some(view)));
    }
    check_password(state, flow, &typed, password, headers, ctx).await
}

async fn check_password(
    state: &AppState,
    flow: &Flow,
    typed: &str,
    password: SecretString,
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Answer {
    let now = state.clock.now();
    let username = normalize_username(typed).ok();
    let user = match &username {
        Some(name) => state.store.find_user_by_username(name).await?,
        None => None,
    };
    let outcome = match &user {
        None => {
            // Same work as a real check, so timing does not reveal whether the account exists.
            state.verify_password(password, None).await;
            PasswordOutcome::UnknownUser
        }
        Some(user) => password_outcome(state, user, password).await?,
    };
    let remembered = match &outcome {
        PasswordOutcome::Correct { user_id, .. } if outcome.wants_second_factor() => {
            remember::status(state, headers, user_id, &flow.request).await?
        }
        _ => Remembered::No,
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
    let t = flow.advance(
        Event::PasswordChecked {
            outcome,
            remembered,
        },
        now,
    );
    Ok(match carry(state, headers, flow, t, who, ctx).await? {
        Carried::Retry(view) => form_page(state, flow, typed, None, Some(view)),
        Carried::Done(res) => res,
        Carried::OfferCode(_) => flow_page(flow),
    })
}

/// Checks a known user's password under the lockout rules.
///
/// The lock is read before the check and again after it: requests that queued for a password slot
/// while the account became locked learn nothing from their check (no result is revealed or
/// accepted), so a burst of parallel guesses gets no more tries than the threshold.
async fn password_outcome(
    state: &AppState,
    user: &User,
    password: SecretString,
) -> Result<PasswordOutcome, StoreError> {
    let (lock, _) = lockout::find(state, &user.id, Kind::Password).await?;
    if let Some(until) = lock.locked_until(state.clock.now()) {
        // Spend the same work as a check, so a lock is not told apart by timing; the password
        // itself is not checked.
        state.verify_password(password, None).await;
        return Ok(PasswordOutcome::Locked { until });
    }
    let fingerprint = lockout::fingerprint(state, Kind::Password, &user.id, "", password.expose());
    let check = state
        .verify_password(password.clone(), user.password_hash.clone())
        .await;
    let (lock, version) = lockout::find(state, &user.id, Kind::Password).await?;
    if let Some(until) = lock.locked_until(state.clock.now()) {
        return Ok(PasswordOutcome::Locked { until });
    }
    let PasswordCheck::Correct { needs_rehash } = check else {
        let recorded =
            lockout::record_failure(state, &user.id, Kind::Password, &fingerprint, lock, version)
                .await?;
        return Ok(PasswordOutcome::Wrong(recorded));
    };
    if user.disabled {
        return Ok(PasswordOutcome::Disabled);
    }
    // A success is ordered with concurrent failures (on any node): it is accepted only if the
    // lockout state it clears is still the one it read, so a lock set meanwhile wins.
    if let Some(until) = lockout::clear(state, &user.id, Kind::Password, lock, version).await? {
        return Ok(PasswordOutcome::Locked { until });
    }
    if needs_rehash
        && let (Some(old), Some(new)) = (&user.password_hash, state.hash_password(password).await)
    {
        // Only over the hash that was checked: an administrator's reset made meanwhile wins.
        state
            .store
            .replace_user_password(&user.id, old, &new)
            .await?;
    }
    // Every registered method counts, usable or not: a user whose recovery codes are used up is
    // stranded (the helpdesk's door), not offered to register afresh by whoever has the password.
    let methods = state.store.list_methods(&user.id).await?;
    let after = after_password(state.config.policy.mfa, true, methods.len());
    Ok(PasswordOutcome::Correct {
        user_id: user.id.clone(),
        after,
    })
}
