//! Second-factor methods on the server: enrolling them (sealing secrets, generating codes) and
//! verifying a code under the second-factor lockout. The rules (TOTP windows, recovery-code
//! matching, which method is the default) are in `postern_core::credential`; this is the edge
//! that reads and writes the store around them.

pub mod qr;
pub mod recovery;
pub mod totp;

use crate::lockout::{self, Kind};
use crate::state::AppState;
use postern_core::credential::method::{Method, MethodSecret};
use postern_core::credential::recovery::{self as rc, RecoveryCheck};
use postern_core::credential::totp::{self as otp, TotpCheck};
use postern_core::flow::{CodeRefusal, SecondFactorOutcome};
use postern_store::StoreError;

/// How often a method row contended by parallel checks is re-read.
const ATTEMPTS: usize = 20;

/// What a code matched, before it is written.
enum Matched {
    /// Accepted: the method with its new state (time step or recovery code used up).
    Yes {
        updated: Box<Method>,
        drift: i64,
    },
    No(CodeRefusal),
}

fn match_code(state: &AppState, method: &Method, typed: &str, now_s: i64) -> Matched {
    let now = state.clock.now();
    match &method.secret {
        // A push device is answered in the app, never with a typed code.
        MethodSecret::Push { .. } => Matched::No(CodeRefusal::Wrong),
        MethodSecret::Totp {
            params,
            state: check_state,
            ..
        } => {
            let Some(seed) = totp::open_seed(state, method) else {
                tracing::error!(method = %method.id, "a TOTP seed cannot be decrypted (wrong master key?)");
                return Matched::No(CodeRefusal::Wrong);
            };
            match otp::verify(&seed, params, typed, now_s, check_state) {
                TotpCheck::Accepted(next) => {
                    let mut updated = method.clone();
                    if let MethodSecret::Totp { state, .. } = &mut updated.secret {
                        *state = next;
                    }
                    updated.last_used = Some(now);
                    Matched::Yes {
                        updated: Box::new(updated),
                        drift: next.drift,
                    }
                }
                TotpCheck::Replay => Matched::No(CodeRefusal::Replay),
                TotpCheck::ClockOff { off_by } => Matched::No(CodeRefusal::ClockOff { off_by }),
                TotpCheck::Wrong => Matched::No(CodeRefusal::Wrong),
            }
        }
        MethodSecret::RecoveryCodes { codes } => {
            match rc::check(&state.mac_key, &method.user_id, typed, codes) {
                RecoveryCheck::Accepted { index } => {
                    let mut updated = method.clone();
                    if let MethodSecret::RecoveryCodes { codes } = &mut updated.secret {
                        codes[index].used_ms = Some(postern_core::clock::to_millis(now));
                    }
                    updated.last_used = Some(now);
                    Matched::Yes {
                        updated: Box::new(updated),
                        drift: 0,
                    }
                }
                RecoveryCheck::Used => Matched::No(CodeRefusal::Replay),
                RecoveryCheck::Wrong => Matched::No(CodeRefusal::Wrong),
            }
        }
    }
}

/// Checks a typed code against one of the user's methods.
///
/// The attempt is counted against the second-factor lockout *before* the code is checked (and the
/// count cleared on success): however many requests arrive at once, on however many nodes, no
/// more codes are checked than the lockout allows. A code that is accepted is written over the
/// version of the method that was read, so it is used at most once.
pub async fn verify_code(
    state: &AppState,
    method: Method,
    typed: &str,
) -> Result<SecondFactorOutcome, StoreError> {
    let kind = method.kind();
    let user_id = method.user_id.clone();
    let now_s = state.clock.now().unix_timestamp();
    // A guess is "the same guess" only for the same method (each is checked against its own
    // secret) and, for TOTP, within its time step.
    let scope = match &method.secret {
        MethodSecret::Totp { params, .. } => {
            format!("{}:{}", method.id, otp::step_at(now_s, params))
        }
        MethodSecret::RecoveryCodes { .. } | MethodSecret::Push { .. } => method.id.clone(),
    };
    let normalized: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let print = lockout::fingerprint(state, Kind::SecondFactor, &user_id, &scope, &normalized);
    let recorded = match lockout::count_attempt(state, &user_id, Kind::SecondFactor, &print).await?
    {
        Ok(recorded) => recorded,
        Err(until) => return Ok(SecondFactorOutcome::Locked { until }),
    };

    let mut method = method;
    for _ in 0..ATTEMPTS {
        match match_code(state, &method, typed, now_s) {
            Matched::No(why) => {
                return Ok(SecondFactorOutcome::Refused {
                    kind,
                    why,
                    recorded: Some(recorded),
                });
            }
            Matched::Yes { updated, drift } => {
                if state.store.update_method_use(&updated).await? {
                    // The code is proven: clear the counter even if other guesses locked it.
                    lockout::reset(state, &user_id, Kind::SecondFactor).await?;
                    return Ok(SecondFactorOutcome::Accepted {
                        kind,
                        drift,
                        remaining: updated.secret.remaining_codes(),
                    });
                }
                // Another request used this method meanwhile: check against what it wrote.
                match state.store.find_method(&user_id, &method.id).await? {
                    Some(fresh) => method = fresh,
                    None => {
                        return Ok(SecondFactorOutcome::Refused {
                            kind,
                            why: CodeRefusal::Wrong,
                            recorded: Some(recorded),
                        });
                    }
                }
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "method {} of user {user_id} (too contended)",
        method.id
    )))
}

/// A name given by a user or a device (a method's, a device's, an app version): trimmed, printable, at most 60 characters; `fallback` if empty.
pub fn clean_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect::<String>()
        .trim()
        .to_owned();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}
