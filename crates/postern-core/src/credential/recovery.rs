//! Recovery codes: ten single-use codes a user prints or saves, for when every device is lost.
//!
//! Each code has 60 bits of entropy (12 characters of a 32-letter alphabet without look-alikes,
//! shown as `xxxx-xxxx-xxxx`). Only a keyed hash is stored (HMAC-SHA-256 with a server key and the
//! user id), so a stolen database does not yield usable codes; checks are constant time.

use crate::random::Random;
use crate::secret::{ct_eq, hmac_sha256};

/// How many codes a set has.
pub const CODES_PER_SET: usize = 10;

/// Crockford's Base32 alphabet: no i, l, o or u; what people type as o, i or l reads as 0 or 1.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CODE_CHARS: usize = 12;
// Each character carries 5 bits: the issue asks for at least 50 bits per code.
const _: () = assert!(CODE_CHARS * 5 >= 50);

/// A new set of codes (to show once) and their hashes (to store).
pub fn generate(rng: &dyn Random, key: &[u8], user_id: &str) -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..CODES_PER_SET).map(|_| new_code(rng)).collect();
    let hashes = codes.iter().map(|c| hash(key, user_id, c)).collect();
    (codes, hashes)
}

fn new_code(rng: &dyn Random) -> String {
    let mut raw = [0u8; CODE_CHARS];
    rng.fill(&mut raw);
    let chars: String = raw
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// Lower-case, without spaces or dashes, look-alikes folded (o → 0, i/l → 1): what people type is
/// compared as the canonical code.
pub fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect()
}

/// The stored form of a code.
pub fn hash(key: &[u8], user_id: &str, code: &str) -> String {
    let mac = hmac_sha256(
        key,
        format!("recovery-code\0{user_id}\0{}", normalize(code)).as_bytes(),
    );
    data_encoding::BASE64URL_NOPAD.encode(&mac)
}

/// The index of the unused code `typed` matches, if any. Every stored hash is compared, in
/// constant time, whatever matches first.
pub fn find(key: &[u8], user_id: &str, typed: &str, unused_hashes: &[String]) -> Option<usize> {
    let candidate = hash(key, user_id, typed);
    let mut found = None;
    for (i, stored) in unused_hashes.iter().enumerate() {
        if ct_eq(candidate.as_bytes(), stored.as_bytes()) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// What a typed recovery code matched among a stored set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryCheck {
    /// An unused code: mark slot `index` used.
    Accepted {
        index: usize,
    },
    /// A code of this set that was already used.
    Used,
    Wrong,
}

/// Checks `typed` against every slot of a set (used or not, each compared in constant time).
pub fn check(
    key: &[u8],
    user_id: &str,
    typed: &str,
    slots: &[crate::credential::method::RecoveryCodeSlot],
) -> RecoveryCheck {
    let candidate = hash(key, user_id, typed);
    let mut found = RecoveryCheck::Wrong;
    for (index, slot) in slots.iter().enumerate() {
        if ct_eq(candidate.as_bytes(), slot.hash.as_bytes()) && found == RecoveryCheck::Wrong {
            found = match slot.used_ms {
                None => RecoveryCheck::Accepted { index },
                Some(_) => RecoveryCheck::Used,
            };
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use std::collections::HashSet;

    #[test]
    fn codes_are_distinct_well_formed_and_single_match() {
        let key = [9u8; 32];
        let (codes, hashes) = generate(&OsRandom, &key, "u1");
        assert_eq!(codes.len(), CODES_PER_SET);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), CODES_PER_SET);
        for (i, code) in codes.iter().enumerate() {
            assert_eq!(code.len(), 14);
            assert!(
                code.chars()
                    .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
            );
            assert_eq!(find(&key, "u1", code, &hashes), Some(i));
            assert_eq!(
                find(&key, "u1", &code.to_uppercase().replace('-', " "), &hashes),
                Some(i)
            );
            assert_eq!(find(&key, "u2", code, &hashes), None, "bound to the user");
            assert_eq!(
                find(&[8u8; 32], "u1", code, &hashes),
                None,
                "bound to the server key"
            );
        }
        assert_eq!(find(&key, "u1", "aaaa-bbbb-cccc", &hashes), None);
        let with_zero = codes.iter().position(|c| c.contains('0'));
        if let Some(i) = with_zero {
            assert_eq!(
                find(&key, "u1", &codes[i].replace('0', "O"), &hashes),
                Some(i),
                "O reads as 0"
            );
        }
        assert!(
            !hashes
                .iter()
                .any(|h| codes.iter().any(|c| h.contains(c.as_str())))
        );
    }

    #[test]
    fn entropy_is_at_least_fifty_bits() {
        assert_eq!(ALPHABET.len(), 32);
        assert_eq!(
            ALPHABET.iter().collect::<HashSet<_>>().len(),
            32,
            "no repeated letters"
        );
    }
}
