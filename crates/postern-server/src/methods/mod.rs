//! Second-factor methods on the server: enrolling them (sealing secrets, generating codes) and
//! verifying a code under the second-factor lockout. The rules (TOTP windows, recovery-code
//! matching, what a typed code matched, which method is the default) are in
//! `postern_core::credential`; this is the edge that reads and writes the store around them.

pub mod qr;
pub mod recovery;
pub mod totp;

use crate::lockout::{self, Kind};
use crate::state::AppState;
use postern_core::credential::code::{self, CodeMatch, CodeRefusal};
use postern_core::credential::method::{Method, MethodSecret};
use postern_core::flow::SecondFactorOutcome;
use postern_store::StoreError;

/// How often a method row contended by parallel checks is re-read.
const ATTEMPTS: usize = 20;

/// Matches `typed` against `method` (the rules are `postern_core::credential::code`'s), with the
/// method's TOTP seed opened with the master key.
fn match_code(
    state: &AppState,
    method: &Method,
    typed: &str,
    now: time::OffsetDateTime,
) -> CodeMatch {
    let seed = totp::open_seed(state, method);
    if seed.is_none() && matches!(method.secret, MethodSecret::Totp { .. }) {
        tracing::error!(method = %method.id, "a TOTP seed cannot be decrypted (wrong master key?)");
    }
    code::match_code(
        method,
        seed.as_deref().map(Vec::as_slice),
        &state.mac_key,
        typed,
        now,
    )
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
    // One time for the guess's identity and its check: across a step boundary a repeated guess
    // would otherwise be fingerprinted for one step and checked at the next.
    let now = state.clock.now();
    let (scope, normalized) = code::guess_identity(&method, typed, now);
    let print = lockout::fingerprint(state, Kind::SecondFactor, &user_id, &scope, &normalized);
    let recorded = match lockout::count_attempt(state, &user_id, Kind::SecondFactor, &print).await?
    {
        Ok(recorded) => recorded,
        Err(until) => return Ok(SecondFactorOutcome::Locked { until }),
    };

    let mut method = method;
    for _ in 0..ATTEMPTS {
        match match_code(state, &method, typed, now) {
            CodeMatch::Refused(why) => {
                return Ok(SecondFactorOutcome::Refused {
                    kind,
                    why,
                    recorded: Some(recorded),
                });
            }
            CodeMatch::Accepted { updated, drift } => {
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
