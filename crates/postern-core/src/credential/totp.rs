//! TOTP (RFC 6238) codes from any authenticator app: generation, verification with a ±1 step
//! window around the credential's observed clock drift, refusal of a time step already used
//! (RFC 6238 §5.2), and the standard `otpauth://` Key URI that authenticator apps scan.
//!
//! Pure functions: the caller passes the secret (decrypted from the store), the current time and
//! the credential's state (last accepted step, drift), and stores what the check returns.

use crate::secret::ct_eq;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};

/// The HMAC of a TOTP credential. SHA-1 is the default every authenticator app supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TotpAlgorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            TotpAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            TotpAlgorithm::Sha256 => hmac::HMAC_SHA256,
            TotpAlgorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// Code parameters (the defaults match Google Authenticator, Microsoft Authenticator, Aegis and
/// 1Password: SHA-1, 6 digits, 30 seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpParams {
    pub algorithm: TotpAlgorithm,
    pub digits: u32,
    pub period: u64,
}

impl TotpParams {
    /// 6 to 8 digits (RFC 4226), a period of 15 to 300 seconds.
    pub fn is_valid(&self) -> bool {
        (6..=8).contains(&self.digits) && (15..=300).contains(&self.period)
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

/// Bytes of a new secret (160 bits, RFC 4226's recommendation; pyotp and others refuse < 128).
pub const SECRET_BYTES: usize = 20;

/// How far (in steps) a device clock may drift before codes stop being accepted.
pub const MAX_DRIFT_STEPS: i64 = 4;

/// How far (in steps) a refused code is searched for, to tell the user their clock is off.
const DIAGNOSTIC_STEPS: i64 = 20;

/// What a credential remembers between checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TotpState {
    /// The last accepted time step: it and earlier steps are never accepted again.
    pub last_step: Option<i64>,
    /// The device's observed offset in steps (its code's step minus ours).
    pub drift: i64,
}

/// The result of checking a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// Accepted; store the new state.
    Accepted(TotpState),
    /// The code belongs to a time step already used.
    Replay,
    /// The code is right for a time `off_by` steps away from now: the device clock is off.
    /// Show it to the user as a wrong code and count it as a failure: the offset is for the
    /// sign-in log (telling a guesser that a code will be valid later would help them).
    ClockOff { off_by: i64 },
    /// Not a code of this credential.
    Wrong,
}

/// The current time step.
pub fn step_at(unix_seconds: i64, params: &TotpParams) -> i64 {
    unix_seconds.div_euclid(params.period.max(1) as i64)
}

/// The code for a time step (RFC 4226 dynamic truncation).
pub fn code_at_step(secret: &[u8], params: &TotpParams, step: i64) -> String {
    let key = hmac::Key::new(params.algorithm.hmac(), secret);
    let tag = hmac::sign(&key, &(step as u64).to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    let modulus = 10u64.pow(params.digits.min(9));
    format!(
        "{:0width$}",
        u64::from(binary) % modulus,
        width = params.digits as usize
    )
}

/// The code at a Unix time.
pub fn code_at(secret: &[u8], params: &TotpParams, unix_seconds: i64) -> String {
    code_at_step(secret, params, step_at(unix_seconds, params))
}

/// Checks `code` at `unix_seconds` for a credential in `state`.
///
/// Accepted: one step either side of ours, or of the step the device's observed drift predicts
/// (so a device whose clock was fixed still works), never further than [`MAX_DRIFT_STEPS`] from
/// ours, and never a step at or before the last accepted one. Every candidate — and, for a refused
/// code, every step of the clock diagnosis — is compared in constant time, with no early return.
pub fn verify(
    secret: &[u8],
    params: &TotpParams,
    code: &str,
    unix_seconds: i64,
    state: &TotpState,
) -> TotpCheck {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if !params.is_valid()
        || code.len() != params.digits as usize
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return TotpCheck::Wrong;
    }
    let now = step_at(unix_seconds, params);
    let expected = now + state.drift.clamp(-MAX_DRIFT_STEPS, MAX_DRIFT_STEPS);
    let in_window = |step: i64| {
        (step - now).abs() <= 1
            || ((step - expected).abs() <= 1 && (step - now).abs() <= MAX_DRIFT_STEPS)
    };
    let mut matched = None;
    for step in (now.min(expected) - 1)..=(now.max(expected) + 1) {
        if in_window(step)
            && ct_eq(
                code_at_step(secret, params, step).as_bytes(),
                code.as_bytes(),
            )
        {
            matched = Some(step);
        }
    }
    if let Some(step) = matched {
        if state.last_step.is_some_and(|last| step <= last) {
            return TotpCheck::Replay;
        }
        return TotpCheck::Accepted(TotpState {
            last_step: Some(step),
            drift: step - now,
        });
    }
    let mut off = None;
    for off_by in (-DIAGNOSTIC_STEPS..=DIAGNOSTIC_STEPS).filter(|d| !in_window(now + d)) {
        if ct_eq(
            code_at_step(secret, params, now + off_by).as_bytes(),
            code.as_bytes(),
        ) && off.is_none()
        {
            off = Some(off_by);
        }
    }
    match off {
        Some(off_by) => TotpCheck::ClockOff { off_by },
        None => TotpCheck::Wrong,
    }
}

/// The secret as authenticator apps type it: Base32 without padding.
pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The Key URI (`otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=…&digits=…&period=…`)
/// that Google Authenticator, Microsoft Authenticator, Aegis and 1Password scan.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8], params: &TotpParams) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        encode_component(issuer),
        encode_component(account),
        secret_base32(secret),
        encode_component(issuer),
        params.algorithm.as_str(),
        params.digits,
        params.period
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_SEED: &[u8] = b"12345678901234567890";
    const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 appendix B, all three algorithms, 8 digits.
    #[test]
    fn rfc6238_appendix_b() {
        let vectors: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in vectors {
            let p = |algorithm| TotpParams {
                algorithm,
                digits: 8,
                period: 30,
            };
            assert_eq!(
                code_at(SHA1_SEED, &p(TotpAlgorithm::Sha1), t),
                sha1,
                "SHA1 at {t}"
            );
            assert_eq!(
                code_at(SHA256_SEED, &p(TotpAlgorithm::Sha256), t),
                sha256,
                "SHA256 at {t}"
            );
            assert_eq!(
                code_at(SHA512_SEED, &p(TotpAlgorithm::Sha512), t),
                sha512,
                "SHA512 at {t}"
            );
        }
    }

    #[test]
    fn window_replay_and_drift() {
        let p = TotpParams::default();
        let t = 1_800_000_000;
        let now = step_at(t, &p);
        let fresh = TotpState::default();
        // ±1 step accepted; the drift is recorded.
        let earlier = code_at_step(SHA1_SEED, &p, now - 1);
        let TotpCheck::Accepted(state) = verify(SHA1_SEED, &p, &earlier, t, &fresh) else {
            panic!()
        };
        assert_eq!(
            state,
            TotpState {
                last_step: Some(now - 1),
                drift: -1
            }
        );
        // The same step again is a replay, and so is any earlier step.
        assert_eq!(
            verify(SHA1_SEED, &p, &earlier, t, &state),
            TotpCheck::Replay
        );
        assert_eq!(
            verify(
                SHA1_SEED,
                &p,
                &code_at_step(SHA1_SEED, &p, now - 2),
                t,
                &state
            ),
            TotpCheck::Replay
        );
        // Two steps off: refused, with the reason.
        let off = code_at_step(SHA1_SEED, &p, now + 2);
        assert_eq!(
            verify(SHA1_SEED, &p, &off, t, &fresh),
            TotpCheck::ClockOff { off_by: 2 }
        );
        // A device known to run 2 steps ahead is followed.
        let ahead = TotpState {
            last_step: None,
            drift: 2,
        };
        assert!(matches!(
            verify(SHA1_SEED, &p, &off, t, &ahead),
            TotpCheck::Accepted(_)
        ));
        // A device whose clock was fixed since (it sends the current code) still works, and so
        // does one a step either side of it.
        for step in [now - 1, now, now + 1] {
            let code = code_at_step(SHA1_SEED, &p, step);
            assert!(
                matches!(
                    verify(SHA1_SEED, &p, &code, t, &ahead),
                    TotpCheck::Accepted(_)
                ),
                "step {step} with a learned drift of +2"
            );
        }
        // A late code (drift -1) then a device slightly ahead.
        let late = TotpState {
            last_step: Some(now - 1),
            drift: -1,
        };
        let next = code_at_step(SHA1_SEED, &p, now + 1);
        assert!(matches!(
            verify(SHA1_SEED, &p, &next, t, &late),
            TotpCheck::Accepted(_)
        ));
        // Outside both windows: diagnosed relative to now.
        let behind = code_at_step(SHA1_SEED, &p, now - 3);
        assert_eq!(
            verify(SHA1_SEED, &p, &behind, t, &ahead),
            TotpCheck::ClockOff { off_by: -3 }
        );
        // But never beyond the maximum drift.
        let far = code_at_step(SHA1_SEED, &p, now + MAX_DRIFT_STEPS + 1);
        let drifting = TotpState {
            last_step: None,
            drift: MAX_DRIFT_STEPS + 3,
        };
        assert!(!matches!(
            verify(SHA1_SEED, &p, &far, t, &drifting),
            TotpCheck::Accepted(_)
        ));
    }

    #[test]
    fn malformed_codes_are_wrong() {
        let p = TotpParams::default();
        let s = TotpState::default();
        for code in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(
                verify(SHA1_SEED, &p, code, 1_800_000_000, &s),
                TotpCheck::Wrong,
                "{code}"
            );
        }
        let code = code_at(SHA1_SEED, &p, 1_800_000_000);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matches!(
            verify(SHA1_SEED, &p, &spaced, 1_800_000_000, &s),
            TotpCheck::Accepted(_)
        ));
    }

    #[test]
    fn key_uri() {
        let uri = otpauth_uri(
            "Northfield School",
            "student@northfield",
            b"12345678901234567890",
            &TotpParams::default(),
        );
        assert_eq!(
            uri,
            "otpauth://totp/Northfield%20School:student%40northfield?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Northfield%20School&algorithm=SHA1&digits=6&period=30"
        );
    }
}
