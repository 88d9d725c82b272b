//! Signing in with a passkey: the options for `navigator.credentials.get` (the user's passkeys
//! as the second step; any discoverable one from the first page, where the passkey names the
//! user), and checking the answer under the second-factor lockout.

use super::register::still_admitted;
use super::{CEREMONY_LIFETIME, counter_of, credential_of, user_handle};
use crate::lockout::{self, Kind};
use crate::state::AppState;
use postern_core::credential::method::{Method, MethodKind, MethodSecret};
use postern_core::credential::passkey::{PasskeyRefusal, PolicyRefusal};
use postern_core::flow::PasskeyOutcome;
use postern_core::softlock::FailureRecorded;
use postern_store::{Ceremony, StoreError};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential, WebauthnError,
};

/// The ceremony of a second step (the user's own passkeys) or of a sign-in without a password.
const SECOND_STEP: &str = "authenticate";
const PASSWORDLESS: &str = "discover";

/// How often a passkey row contended by parallel sign-ins is re-read.
const ATTEMPTS: usize = 10;

fn options_json(options: impl serde::Serialize) -> Result<Value, StoreError> {
    serde_json::to_value(options).map_err(|e| StoreError::Corrupt(format!("passkey options: {e}")))
}

/// Starts the second step of `user_id` with their passkeys under the ceremony `key`; `None` if
/// they have none.
pub async fn start_second_step(
    state: &AppState,
    key: &str,
    user_id: &str,
    methods: &[Method],
) -> Result<Option<Value>, StoreError> {
    let passkeys: Vec<Passkey> = methods
        .iter()
        .filter(|m| m.kind() == MethodKind::Passkey)
        .filter_map(credential_of)
        .collect();
    if passkeys.is_empty() {
        return Ok(None);
    }
    let (options, auth) = state
        .passkeys
        .webauthn()?
        .start_passkey_authentication(&passkeys)
        .map_err(|e| StoreError::Corrupt(format!("passkey sign-in options: {e}")))?;
    let state_json = serde_json::to_string(&auth)
        .map_err(|e| StoreError::Corrupt(format!("passkey sign-in state: {e}")))?;
    save(state, key, SECOND_STEP, Some(user_id), state_json).await?;
    options_json(options).map(Some)
}

/// Starts a sign-in without a password under the ceremony `key`: any discoverable passkey of
/// this site. The page adds conditional mediation (autofill) itself when it asks for that.
pub async fn start_passwordless(state: &AppState, key: &str) -> Result<Value, StoreError> {
    let (options, auth) = state
        .passkeys
        .webauthn()?
        .start_discoverable_authentication()
        .map_err(|e| StoreError::Corrupt(format!("passkey sign-in options: {e}")))?;
    let state_json = serde_json::to_string(&auth)
        .map_err(|e| StoreError::Corrupt(format!("passkey sign-in state: {e}")))?;
    save(state, key, PASSWORDLESS, None, state_json).await?;
    let mut options = options_json(options)?;
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    Ok(options)
}

async fn save(
    state: &AppState,
    key: &str,
    purpose: &str,
    user_id: Option<&str>,
    state_json: String,
) -> Result<(), StoreError> {
    let ceremony = Ceremony {
        purpose: purpose.into(),
        user_id: user_id.map(str::to_owned),
        state: state_json,
        expires: state.clock.now() + CEREMONY_LIFETIME,
    };
    state.store.put_ceremony(key, &ceremony).await
}

/// What the library's refusal means for the user and the helpdesk.
fn refusal_of(e: &WebauthnError) -> PasskeyRefusal {
    match e {
        WebauthnError::CredentialPossibleCompromise => PasskeyRefusal::CounterWentBack,
        WebauthnError::UserNotVerified => PasskeyRefusal::NotVerified,
        WebauthnError::CredentialNotFound => PasskeyRefusal::Removed,
        other => PasskeyRefusal::Invalid(other.to_string()),
    }
}

/// The ceremony's state as the library keeps it.
enum Started {
    SecondStep(PasskeyAuthentication),
    Passwordless(DiscoverableAuthentication),
}

/// What checking an answer found, and whose passkey it was when it was one of this site's.
pub struct Checked {
    pub outcome: PasskeyOutcome,
    pub owner: Option<String>,
}

/// Checks the browser's answer to the ceremony `key`: for the second step of `expected` (the
/// user who gave the password), or without a password (`None`: the passkey names the user). The
/// ceremony is used up whatever the answer. A refusal counts in the owner's second-factor lockout.
pub async fn check(
    state: &AppState,
    key: &str,
    expected: Option<&str>,
    answer: &str,
) -> Result<Checked, StoreError> {
    let mut owner = expected.map(str::to_owned);
    let outcome = outcome(state, key, expected, answer, &mut owner).await?;
    Ok(Checked { outcome, owner })
}

async fn outcome(
    state: &AppState,
    key: &str,
    expected: Option<&str>,
    answer: &str,
    owner_out: &mut Option<String>,
) -> Result<PasskeyOutcome, StoreError> {
    let refused = |why| PasskeyOutcome::Refused {
        why,
        name: None,
        recorded: None,
    };
    let now = state.clock.now();
    let raw = answer;
    let answer: PublicKeyCredential = match serde_json::from_str(answer) {
        Ok(a) => a,
        Err(e) => {
            // The parser's words may quote what was sent: only where it failed is kept.
            return Ok(refused(PasskeyRefusal::Invalid(format!(
                "not a WebAuthn answer (line {}, column {})",
                e.line(),
                e.column()
            ))));
        }
    };
    let Some(ceremony) = state.store.take_ceremony(key, now).await? else {
        return Ok(refused(PasskeyRefusal::Stale));
    };
    let started = match (ceremony.purpose.as_str(), expected) {
        (SECOND_STEP, Some(user)) if ceremony.user_id.as_deref() == Some(user) => {
            serde_json::from_str(&ceremony.state).map(Started::SecondStep)
        }
        (PASSWORDLESS, None) => serde_json::from_str(&ceremony.state).map(Started::Passwordless),
        _ => return Ok(refused(PasskeyRefusal::Stale)),
    };
    let Ok(started) = started else {
        return Ok(refused(PasskeyRefusal::Stale));
    };
    let credential_id = data_encoding::BASE64URL_NOPAD.encode(answer.get_credential_id());
    let Some(method) = state.store.find_passkey(&credential_id).await? else {
        let recorded = match expected {
            Some(user) => Some(record(state, user, raw).await?),
            None => None,
        };
        return Ok(PasskeyOutcome::Refused {
            why: PasskeyRefusal::Removed,
            name: None,
            recorded,
        });
    };
    let owner = method.user_id.clone();
    if expected.is_none() {
        *owner_out = Some(owner.clone());
    }
    let name = method.name.clone();
    let refuse = |why, recorded| PasskeyOutcome::Refused {
        why,
        name: Some(name.clone()),
        recorded,
    };
    if let Some(user) = expected
        && user != owner
    {
        // Another account's passkey is not this user's way in; it counts against this user's
        // second step, not the other account's.
        let recorded = record(state, user, raw).await?;
        return Ok(refuse(PasskeyRefusal::Removed, Some(recorded)));
    }
    // The second step counts every refused answer against the user who gave the password.
    // Without a password anyone who knows a credential id could send junk in its name and lock
    // its owner out: there only what the key itself must have produced counts (a counter gone
    // back under a valid signature), and the lock is read once the signature checked out, so it
    // tells nothing to whoever has no key.
    let second_step = expected.is_some();
    if second_step {
        let (lock, _) = lockout::find(state, &owner, Kind::SecondFactor).await?;
        if let Some(until) = lock.locked_until(now) {
            return Ok(PasskeyOutcome::Locked { until });
        }
    }
    if let Err(rule) = still_admitted(state, &method) {
        return Ok(refuse(PasskeyRefusal::Policy(rule), None));
    }
    let Some(mut passkey) = credential_of(&method) else {
        return Err(StoreError::Corrupt(format!(
            "passkey {} has an unreadable credential",
            method.id
        )));
    };
    let webauthn = state.passkeys.webauthn()?;
    let result = match &started {
        Started::SecondStep(auth) => webauthn.finish_passkey_authentication(&answer, auth),
        Started::Passwordless(auth) => {
            // The passkey names its user: the handle must be its owner's.
            match webauthn.identify_discoverable_authentication(&answer) {
                Ok((handle, _)) if handle == user_handle(&owner) => {
                    webauthn.finish_discoverable_authentication_v2(&answer, auth.clone(), &passkey)
                }
                Ok(_) => Err(WebauthnError::InvalidUserUniqueId),
                Err(e) => Err(e),
            }
        }
    };
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            let why = refusal_of(&e);
            let recorded = if second_step || why == PasskeyRefusal::CounterWentBack {
                Some(record(state, &owner, raw).await?)
            } else {
                None
            };
            return Ok(refuse(why, recorded));
        }
    };
    if !second_step {
        let (lock, _) = lockout::find(state, &owner, Kind::SecondFactor).await?;
        if let Some(until) = lock.locked_until(now) {
            return Ok(PasskeyOutcome::Locked { until });
        }
        let user = state.store.find_user_by_id(&owner).await?;
        if user.is_none_or(|u| u.disabled) {
            return Ok(refuse(PasskeyRefusal::AccountDisabled, None));
        }
    }
    // A device-bound key may say it is backup eligible since (the library accepts that on the
    // second step): it is synced from now on, for the policy and for `amr`.
    let synced_now = result.backup_eligible()
        || matches!(method.secret, MethodSecret::Passkey { synced: true, .. });
    if synced_now && !state.passkeys.policy.allow_synced {
        return Ok(refuse(PasskeyRefusal::Policy(PolicyRefusal::Synced), None));
    }
    passkey.update_credential(&result);
    let counter = u64::from(result.counter());
    let synced = match save_use(state, method, &passkey, counter, synced_now).await? {
        Saved::Done { synced } => synced,
        Saved::Removed => return Ok(refuse(PasskeyRefusal::Removed, None)),
        Saved::CounterWentBack => {
            let recorded = record(state, &owner, raw).await?;
            return Ok(refuse(PasskeyRefusal::CounterWentBack, Some(recorded)));
        }
    };
    lockout::reset(state, &owner, Kind::SecondFactor).await?;
    Ok(PasskeyOutcome::Accepted {
        user_id: owner,
        name,
        synced,
    })
}

/// Counts a refused answer (`raw`, as the browser sent it) against `user_id`'s second step.
/// Each answer signs a fresh challenge, so each counts once.
async fn record(state: &AppState, user_id: &str, raw: &str) -> Result<FailureRecorded, StoreError> {
    let print = lockout::fingerprint(state, Kind::SecondFactor, user_id, "passkey", raw);
    let (lock, version) = lockout::find(state, user_id, Kind::SecondFactor).await?;
    lockout::record_failure(state, user_id, Kind::SecondFactor, &print, lock, version).await
}

/// What writing a passkey's use found.
enum Saved {
    Done {
        synced: bool,
    },
    /// Another sign-in with the same passkey wrote a counter at least as high first: a copy.
    CounterWentBack,
    /// Removed meanwhile.
    Removed,
}

/// Writes the passkey's new counter and last use over the version read (a sign-in with the same
/// passkey that wrote first is checked against what it wrote).
async fn save_use(
    state: &AppState,
    mut method: Method,
    passkey: &Passkey,
    counter: u64,
    synced_now: bool,
) -> Result<Saved, StoreError> {
    let fresh = serde_json::to_string(passkey)
        .map_err(|e| StoreError::Corrupt(format!("passkey credential: {e}")))?;
    for _ in 0..ATTEMPTS {
        let MethodSecret::Passkey {
            credential, synced, ..
        } = &mut method.secret
        else {
            return Ok(Saved::Removed);
        };
        let stored: Value = serde_json::from_str(credential).unwrap_or(Value::Null);
        if counter > 0 && counter <= counter_of(&stored) {
            return Ok(Saved::CounterWentBack);
        }
        *synced = synced_now;
        *credential = fresh.clone();
        method.last_used = Some(state.clock.now());
        if state.store.update_method_use(&method).await? {
            return Ok(Saved::Done { synced: synced_now });
        }
        match state.store.find_method(&method.user_id, &method.id).await? {
            Some(m) => method = m,
            None => return Ok(Saved::Removed),
        }
    }
    Err(StoreError::Conflict(format!(
        "passkey {} (too contended)",
        method.id
    )))
}
