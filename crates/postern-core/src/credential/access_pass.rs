//! Temporary access passes: a time-limited passcode the helpdesk issues so that a user who lost
//! every factor can sign in and register new ones (Entra's semantics).
//!
//! A pass has 50 bits of entropy (10 characters of Crockford's Base32, shown as `xxxxx-xxxxx`),
//! lives 10 minutes to 30 days (1 hour by default), is one-time or multi-use, and a user has at
//! most one. Only a keyed hash is stored (HMAC-SHA-256 with the server key and the user id), the
//! check is constant time, and it satisfies strong authentication on its own. Guessing is bounded
//! by the caller's lockout, counted before the check.

use crate::clock::iso8601;
use crate::random::Random;
use crate::secret::{ct_eq, hmac_sha256};
use crate::signin_log::StepReason;
use crate::softlock::FailureRecorded;
use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const MIN_LIFETIME: Duration = Duration::minutes(10);
pub const MAX_LIFETIME: Duration = Duration::days(30);
pub const DEFAULT_LIFETIME: Duration = Duration::hours(1);

/// Crockford's Base32 (no i, l, o, u), as for recovery codes.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const PASS_CHARS: usize = 10;
const _: () = assert!(PASS_CHARS >= 8 && PASS_CHARS * 5 >= 50);

/// The `amr` value of a sign-in with a temporary access pass (Entra has none; RFC 8176 neither).
pub const AMR: &str = "tap";

/// A stored pass (never the pass itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPass {
    pub id: String,
    pub user_id: String,
    #[serde(skip_serializing)]
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    /// Single use: spent by its first sign-in.
    pub once: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub used: Option<OffsetDateTime>,
    pub uses: u32,
    /// Who issued it ("token 'desk-1'").
    pub created_by: String,
}

/// Where a pass stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassState {
    Usable,
    Expired,
    /// A one-time pass that signed in once already.
    Used,
}

impl PassState {
    pub fn as_str(self) -> &'static str {
        match self {
            PassState::Usable => "usable",
            PassState::Expired => "expired",
            PassState::Used => "used",
        }
    }
}

impl AccessPass {
    pub fn state(&self, now: OffsetDateTime) -> PassState {
        if self.once && self.used.is_some() {
            PassState::Used
        } else if now >= self.expires {
            PassState::Expired
        } else {
            PassState::Usable
        }
    }
}

/// A lifetime outside 10 minutes … 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadLifetime;

impl std::fmt::Display for BadLifetime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a temporary access pass lives between 10 minutes and 30 days")
    }
}

impl std::error::Error for BadLifetime {}

pub fn check_lifetime(lifetime: Duration) -> Result<Duration, BadLifetime> {
    if (MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime) {
        Ok(lifetime)
    } else {
        Err(BadLifetime)
    }
}

/// Reads "90s", "10m", "1h", "30d", "2w" or a number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::seconds)
}

/// A new pass (to show once) and its hash (to store).
pub fn generate(rng: &dyn Random, key: &[u8], user_id: &str) -> (String, String) {
    let mut raw = [0u8; PASS_CHARS];
    rng.fill(&mut raw);
    let chars: String = raw
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    let pass = format!("{}-{}", &chars[..5], &chars[5..]);
    let hash = hash(key, user_id, &pass);
    (pass, hash)
}

/// Lower-case, no spaces or dashes, look-alikes folded (o → 0, i/l → 1).
pub fn normalize(typed: &str) -> String {
    super::recovery::normalize(typed)
}

/// The stored form of a pass.
pub fn hash(key: &[u8], user_id: &str, pass: &str) -> String {
    let mac = hmac_sha256(
        key,
        format!("access-pass\0{user_id}\0{}", normalize(pass)).as_bytes(),
    );
    data_encoding::BASE64URL_NOPAD.encode(&mac)
}

/// What a typed pass is, against the user's stored pass (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassCheck {
    /// The pass matches and may sign in.
    Accepted,
    /// It matches a pass that expired.
    Expired,
    /// It matches a one-time pass that was used.
    Used,
    /// Nothing matches (or the user has no pass).
    Wrong,
}

/// Checks a typed pass in constant time over the stored hash.
pub fn check(
    key: &[u8],
    user_id: &str,
    typed: &str,
    stored: Option<&AccessPass>,
    now: OffsetDateTime,
) -> PassCheck {
    let candidate = hash(key, user_id, typed);
    let Some(pass) = stored else {
        // Same work either way.
        let _ = ct_eq(candidate.as_bytes(), candidate.as_bytes());
        return PassCheck::Wrong;
    };
    if !ct_eq(candidate.as_bytes(), pass.hash.as_bytes()) {
        return PassCheck::Wrong;
    }
    match pass.state(now) {
        PassState::Usable => PassCheck::Accepted,
        PassState::Expired => PassCheck::Expired,
        PassState::Used => PassCheck::Used,
    }
}

/// A sign-in with a pass, refused: what the pages show (`code`), what the log keeps (`reason`,
/// `words`). The mapping lives here, next to the pass's rules; the sign-in page only reads and
/// spends stored passes.
/// What was wrong with a pass that is the user's or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not the user's pass (or they have none).
    Wrong,
    /// Theirs, expired at `at`.
    Expired { at: OffsetDateTime },
    /// Theirs, one-time and used (at `at`, unless another sign-in spent it a moment ago).
    Used { at: Option<OffsetDateTime> },
}

/// Why a pass did not sign the user in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The pass was checked and refused, with what the lockout made of the attempt (counted
    /// before the check).
    Checked {
        why: Refusal,
        recorded: FailureRecorded,
    },
    /// No account has this username (the user sees the same as a wrong pass).
    UnknownUser,
    /// Locked: the pass was not checked.
    Locked { until: OffsetDateTime },
    /// The pass is right, the account disabled.
    Disabled,
}

impl Refused {
    /// The error shown. Expired and used are told only to whoever typed the matching pass; a
    /// lock set by this very attempt wins over both.
    pub fn code(self) -> ErrorCode {
        match self {
            Refused::Locked { .. }
            | Refused::Checked {
                recorded: FailureRecorded::Locked { .. },
                ..
            } => ErrorCode::AccountLocked,
            Refused::Checked { why, .. } => match why {
                Refusal::Wrong => ErrorCode::WrongAccessPass,
                Refusal::Expired { .. } => ErrorCode::AccessPassExpired,
                Refusal::Used { .. } => ErrorCode::AccessPassUsed,
            },
            Refused::UnknownUser => ErrorCode::WrongAccessPass,
            Refused::Disabled => ErrorCode::AccountDisabled,
        }
    }

    /// The log's reason key.
    pub fn reason(self) -> StepReason {
        match self {
            Refused::Locked { .. }
            | Refused::Checked {
                recorded: FailureRecorded::Locked { .. },
                ..
            } => StepReason::AccountLocked,
            Refused::Checked { why, .. } => match why {
                Refusal::Wrong => StepReason::AccessPassWrong,
                Refusal::Expired { .. } => StepReason::AccessPassExpired,
                Refusal::Used { .. } => StepReason::AccessPassUsed,
            },
            Refused::UnknownUser => StepReason::UnknownUser,
            Refused::Disabled => StepReason::AccountDisabled,
        }
    }

    /// The end of the lock that refused this attempt, if one did.
    pub fn locked_until(self) -> Option<OffsetDateTime> {
        match self {
            Refused::Locked { until }
            | Refused::Checked {
                recorded: FailureRecorded::Locked { until },
                ..
            } => Some(until),
            _ => None,
        }
    }

    /// The sign-in log's words (never the pass).
    pub fn words(self) -> String {
        match self {
            Refused::Checked { why, recorded } => {
                let what = match why {
                    Refusal::Wrong => "wrong temporary access pass".to_owned(),
                    Refusal::Expired { at } => {
                        format!("temporary access pass expired at {}", iso8601(at))
                    }
                    Refusal::Used { at: Some(at) } => format!(
                        "one-time temporary access pass already used at {}",
                        iso8601(at)
                    ),
                    Refusal::Used { at: None } => {
                        "temporary access pass spent by another sign-in a moment ago".to_owned()
                    }
                };
                let lock = match recorded {
                    FailureRecorded::Counted { remaining } => {
                        format!(
                            "{remaining} more failure(s) lock temporary access passes for this account"
                        )
                    }
                    FailureRecorded::Repeated => {
                        "the same as a recent attempt (not counted again towards the lockout)"
                            .to_owned()
                    }
                    FailureRecorded::Locked { until } => format!(
                        "too many failures: temporary access passes are locked until {}",
                        iso8601(until)
                    ),
                };
                format!("{what}; {lock}")
            }
            Refused::UnknownUser => "no account has this username".into(),
            Refused::Locked { until } => format!(
                "temporary access passes locked until {} after repeated failures; the pass was not checked",
                iso8601(until)
            ),
            Refused::Disabled => {
                "temporary access pass correct, but the account is disabled".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::random::OsRandom;

    fn stored(hash: String, once: bool, now: OffsetDateTime) -> AccessPass {
        AccessPass {
            id: "p".into(),
            user_id: "u".into(),
            hash,
            created: now,
            expires: now + DEFAULT_LIFETIME,
            once,
            used: None,
            uses: 0,
            created_by: "t".into(),
        }
    }

    #[test]
    fn a_pass_is_checked_against_its_user_and_state() {
        let key = [7u8; 32];
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let (pass, h) = generate(&OsRandom, &key, "u");
        assert_eq!(pass.len(), 11);
        assert!(
            pass.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        let mut p = stored(h, true, now);
        assert_eq!(check(&key, "u", &pass, Some(&p), now), PassCheck::Accepted);
        // Typed in capitals, without the dash, with look-alikes.
        let typed = pass.replace('-', "").to_uppercase().replace('0', "O");
        assert_eq!(check(&key, "u", &typed, Some(&p), now), PassCheck::Accepted);
        // Another user's pass, another key, no pass.
        assert_eq!(check(&key, "v", &pass, Some(&p), now), PassCheck::Wrong);
        assert_eq!(check(&[8; 32], "u", &pass, Some(&p), now), PassCheck::Wrong);
        assert_eq!(check(&key, "u", &pass, None, now), PassCheck::Wrong);
        assert_eq!(
            check(&key, "u", &pass, Some(&p), p.expires),
            PassCheck::Expired
        );
        p.used = Some(now);
        assert_eq!(check(&key, "u", &pass, Some(&p), now), PassCheck::Used);
        p.once = false;
        assert_eq!(check(&key, "u", &pass, Some(&p), now), PassCheck::Accepted);
    }

    #[test]
    fn lifetimes() {
        assert_eq!(parse_duration("1h"), Some(Duration::hours(1)));
        assert_eq!(parse_duration("30d"), Some(Duration::days(30)));
        assert_eq!(parse_duration("10m"), Some(Duration::minutes(10)));
        assert_eq!(parse_duration("600"), Some(Duration::minutes(10)));
        assert_eq!(parse_duration("2w"), Some(Duration::days(14)));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1y"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
        assert!(check_lifetime(Duration::minutes(10)).is_ok());
        assert!(check_lifetime(Duration::days(30)).is_ok());
        assert!(check_lifetime(Duration::minutes(9)).is_err());
        assert!(check_lifetime(Duration::days(31)).is_err());
    }
}
