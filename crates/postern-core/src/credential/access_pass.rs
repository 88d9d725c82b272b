//! Temporary access passes: a time-limited passcode the helpdesk issues so that a user who lost
//! every factor can sign in and register new ones (Entra's semantics).
//!
//! A pass has 50 bits of entropy (10 characters of Crockford's Base32, shown as `xxxxx-xxxxx`),
//! lives 10 minutes to 30 days (1 hour by default), is one-time or multi-use, and a user has at
//! most one. Only a keyed hash is stored (HMAC-SHA-256 with the server key and the user id), the
//! check is constant time, and it satisfies strong authentication on its own. Guessing is bounded
//! by the caller's lockout, counted before the check.

use crate::random::Random;
use crate::secret::{ct_eq, hmac_sha256};
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
