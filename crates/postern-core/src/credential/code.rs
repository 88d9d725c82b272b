//! A typed code against one of the user's methods: an app's TOTP code or a recovery code. What
//! it matched (and the method's new state, written over the version read so a code is used at
//! most once), and what makes two guesses "the same guess" for the lockout.

use crate::clock::to_millis;
use crate::credential::method::{Method, MethodSecret};
use crate::credential::recovery::{self, RecoveryCheck};
use crate::credential::totp::{self, TotpCheck};
use time::OffsetDateTime;

/// Why a second-factor code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Not a code of this method.
    Wrong,
    /// Right, but its time step (or the recovery code) was already used.
    Replay,
    /// Right for a time `off_by` steps away: the device clock is off. Shown as a wrong code.
    ClockOff { off_by: i64 },
}

/// What a typed code matched, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeMatch {
    /// Accepted: the method with its new state (the time step, or the recovery code used up) and
    /// the device clock's offset in steps.
    Accepted {
        updated: Box<Method>,
        drift: i64,
    },
    Refused(CodeRefusal),
}

/// Matches `typed` against `method` at `now`. `seed` is the method's opened TOTP seed (`None`
/// when it cannot be opened: refused as wrong); `mac_key` keys the recovery-code hashes.
pub fn match_code(
    method: &Method,
    seed: Option<&[u8]>,
    mac_key: &[u8],
    typed: &str,
    now: OffsetDateTime,
) -> CodeMatch {
    let accepted = |secret: MethodSecret, drift| CodeMatch::Accepted {
        updated: Box::new(Method {
            secret,
            last_used: Some(now),
            ..method.clone()
        }),
        drift,
    };
    match &method.secret {
        // A push device is answered in the app and a passkey in the browser, never with a typed
        // code.
        MethodSecret::Push { .. } | MethodSecret::Passkey { .. } => {
            CodeMatch::Refused(CodeRefusal::Wrong)
        }
        MethodSecret::Totp { params, state, .. } => {
            let Some(seed) = seed else {
                return CodeMatch::Refused(CodeRefusal::Wrong);
            };
            match totp::verify(seed, params, typed, now.unix_timestamp(), state) {
                TotpCheck::Accepted(next) => {
                    let mut secret = method.secret.clone();
                    if let MethodSecret::Totp { state, .. } = &mut secret {
                        *state = next;
                    }
                    accepted(secret, next.drift)
                }
                TotpCheck::Replay => CodeMatch::Refused(CodeRefusal::Replay),
                TotpCheck::ClockOff { off_by } => {
                    CodeMatch::Refused(CodeRefusal::ClockOff { off_by })
                }
                TotpCheck::Wrong => CodeMatch::Refused(CodeRefusal::Wrong),
            }
        }
        MethodSecret::RecoveryCodes { codes } => {
            match recovery::check(mac_key, &method.user_id, typed, codes) {
                RecoveryCheck::Accepted { index } => {
                    let mut codes = codes.clone();
                    codes[index].used_ms = Some(to_millis(now));
                    accepted(MethodSecret::RecoveryCodes { codes }, 0)
                }
                RecoveryCheck::Used => CodeMatch::Refused(CodeRefusal::Replay),
                RecoveryCheck::Wrong => CodeMatch::Refused(CodeRefusal::Wrong),
            }
        }
    }
}

/// What a guess is compared with for the lockout's "the same guess again" (not counted twice):
/// the same method (each is checked against its own secret) and, for TOTP, the same time step;
/// and the guess without separators.
pub fn guess_identity(method: &Method, typed: &str, now: OffsetDateTime) -> (String, String) {
    let scope = match &method.secret {
        MethodSecret::Totp { params, .. } => {
            format!(
                "{}:{}",
                method.id,
                totp::step_at(now.unix_timestamp(), params)
            )
        }
        MethodSecret::RecoveryCodes { .. }
        | MethodSecret::Push { .. }
        | MethodSecret::Passkey { .. } => method.id.clone(),
    };
    let normalized = typed.chars().filter(char::is_ascii_alphanumeric).collect();
    (scope, normalized)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::credential::method::RecoveryCodeSlot;
    use crate::credential::totp::{TotpParams, TotpState};

    fn method(secret: MethodSecret) -> Method {
        Method {
            id: "m".into(),
            user_id: "u".into(),
            name: "Phone".into(),
            created: OffsetDateTime::UNIX_EPOCH,
            last_used: None,
            is_default: false,
            secret,
            version: 3,
        }
    }

    #[test]
    fn an_rfc_6238_code_is_accepted_once() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits).
        let seed = b"12345678901234567890";
        let params = TotpParams {
            digits: 8,
            ..TotpParams::default()
        };
        let m = method(MethodSecret::Totp {
            sealed_seed: String::new(),
            params,
            state: TotpState::default(),
            paired_device: None,
        });
        let at = OffsetDateTime::from_unix_timestamp(59).unwrap();
        let CodeMatch::Accepted { updated, drift } =
            match_code(&m, Some(seed), b"k", "94287082", at)
        else {
            panic!("the RFC's code is accepted");
        };
        assert_eq!(drift, 0);
        assert_eq!(updated.last_used, Some(at));
        assert_eq!(updated.version, 3, "the version is the store's to bump");
        assert_eq!(
            match_code(&updated, Some(seed), b"k", "94287082", at),
            CodeMatch::Refused(CodeRefusal::Replay)
        );
        assert_eq!(
            match_code(&m, None, b"k", "94287082", at),
            CodeMatch::Refused(CodeRefusal::Wrong),
            "a seed that cannot be opened accepts nothing"
        );
        let (scope, guess) = guess_identity(&m, "9428 7082", at);
        assert_eq!((scope.as_str(), guess.as_str()), ("m:1", "94287082"));
    }

    #[test]
    fn a_recovery_code_is_used_up() {
        let key = b"mac key";
        let codes = vec![RecoveryCodeSlot {
            hash: recovery::hash(key, "u", "abcd-efgh"),
            used_ms: None,
        }];
        let m = method(MethodSecret::RecoveryCodes { codes });
        let now = OffsetDateTime::UNIX_EPOCH;
        let CodeMatch::Accepted { updated, .. } = match_code(&m, None, key, "abcd-efgh", now)
        else {
            panic!("the code is accepted");
        };
        assert_eq!(updated.secret.remaining_codes(), 0);
        assert_eq!(
            match_code(&updated, None, key, "abcd-efgh", now),
            CodeMatch::Refused(CodeRefusal::Replay)
        );
        assert_eq!(
            match_code(&m, None, key, "zzzz-zzzz", now),
            CodeMatch::Refused(CodeRefusal::Wrong)
        );
    }
}
