//! Passwords: Argon2id with at least OWASP's parameters (19 MiB, t=2, p=1), stored as PHC strings
//! and rehashed when the parameters change.
//!
//! Unknown usernames must cost the same as wrong passwords, so the verifier offers
//! [`PasswordHasher::verify_dummy`], which runs a full Argon2id verification against a hash of a
//! random password made at start-up.

use crate::random::Random;
use crate::secret::SecretString;
use argon2::password_hash::{PasswordHasher as _, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::Mutex;

/// Argon2id parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    /// The OWASP floor; weaker settings are refused at start.
    pub const MINIMUM: PasswordParams = PasswordParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    pub fn is_at_least_minimum(&self) -> bool {
        self.memory_kib >= Self::MINIMUM.memory_kib
            && self.iterations >= Self::MINIMUM.iterations
            && self.parallelism >= 1
    }
}

/// The result of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Correct; `needs_rehash` when the stored hash uses other parameters than today's.
    Correct {
        needs_rehash: bool,
    },
    Wrong,
}

/// Why a password cannot be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRejected {
    TooShort { minimum: usize },
    TooLong { maximum: usize },
}

impl std::fmt::Display for PasswordRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordRejected::TooShort { minimum } => {
                write!(f, "the password must have at least {minimum} characters")
            }
            PasswordRejected::TooLong { maximum } => {
                write!(f, "the password must have at most {maximum} characters")
            }
        }
    }
}

/// Minimum and maximum password lengths (characters). The maximum bounds hashing work.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a new password against the length rules.
pub fn validate_new_password(password: &str) -> Result<(), PasswordRejected> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordRejected::TooShort {
            minimum: MIN_PASSWORD_CHARS,
        });
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordRejected::TooLong {
            maximum: MAX_PASSWORD_CHARS,
        });
    }
    Ok(())
}

/// Argon2 working memory kept for reuse (each buffer is `memory_kib` KiB). Reusing it spares a
/// 19 MiB allocation, zeroing and page faults per verification; the algorithm overwrites every
/// block before reading it, so a reused buffer needs no clearing.
const POOLED_BUFFERS: usize = 4;

/// Limits on the parameters of a stored hash (1 GiB, 64 passes, 64 lanes).
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_LANES: u32 = 64;

/// Hashes and verifies passwords with one set of parameters.
pub struct PasswordHasher {
    params: PasswordParams,
    argon: Argon2<'static>,
    dummy_hash: String,
    memory: Mutex<Vec<Vec<Block>>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    /// Builds a hasher; `None` when the parameters are invalid for Argon2.
    pub fn new(params: PasswordParams, rng: &dyn Random) -> Option<Self> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .ok()?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut this = Self {
            params,
            argon,
            dummy_hash: String::new(),
            memory: Mutex::new(Vec::new()),
        };
        let dummy = crate::random::token(rng, 24);
        this.dummy_hash = this.hash(&SecretString::new(dummy), rng);
        Some(this)
    }

    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh 16-byte salt.
    pub fn hash(&self, password: &SecretString, rng: &dyn Random) -> String {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        // Hashing fails only for invalid parameters, which `new` has already ruled out.
        #[allow(clippy::expect_used)]
        self.argon
            .hash_password_with_salt(password.expose().as_bytes(), &salt)
            .expect("argon2 parameters were validated at construction")
            .to_string()
    }

    /// Verifies `password` against a stored Argon2id PHC string, in constant time. A malformed
    /// hash, or another algorithm, counts as wrong.
    pub fn verify(&self, password: &SecretString, phc: &str) -> PasswordCheck {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return PasswordCheck::Wrong;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return PasswordCheck::Wrong;
        };
        if parsed.algorithm.as_str() != "argon2id" {
            return PasswordCheck::Wrong;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return PasswordCheck::Wrong;
        };
        // Stored hashes come from our own database, but a corrupted or planted one must not make
        // the server allocate without bound (m_cost is in KiB).
        if params.m_cost() > MAX_MEMORY_KIB
            || params.t_cost() > MAX_ITERATIONS
            || params.p_cost() > MAX_LANES
        {
            return PasswordCheck::Wrong;
        }
        let version = match parsed.version.map(Version::try_from) {
            None => Version::V0x13,
            Some(Ok(v)) => v,
            Some(Err(_)) => return PasswordCheck::Wrong,
        };
        let blocks = params.block_count();
        let argon = Argon2::new(Algorithm::Argon2id, version, params);
        let mut out = vec![0u8; expected.len()];
        let computed = self.with_memory(blocks, |memory| {
            argon.hash_password_into_with_memory(
                password.expose().as_bytes(),
                salt,
                &mut out,
                memory,
            )
        });
        if computed.is_ok() && crate::secret::ct_eq(&out, expected.as_bytes()) {
            PasswordCheck::Correct {
                needs_rehash: !self.matches_params(&parsed),
            }
        } else {
            PasswordCheck::Wrong
        }
    }

    /// Runs `f` with a pooled Argon2 buffer of `blocks` blocks.
    fn with_memory<R>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        let mut buf = self
            .memory
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default();
        if buf.len() < blocks {
            buf.resize(blocks, Block::default());
        }
        let result = f(&mut buf[..blocks]);
        // Keep only buffers of today's size: an old, larger hash does not pin its memory.
        let ours = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            None,
        )
        .map(|p| p.block_count())
        .unwrap_or(0);
        if let Ok(mut pool) = self.memory.lock()
            && pool.len() < POOLED_BUFFERS
            && buf.len() <= ours
        {
            pool.push(buf);
        }
        result
    }

    /// Spends the same work as [`PasswordHasher::verify`] and always answers `Wrong`: used for
    /// unknown usernames and accounts without a password, so timing tells nothing.
    pub fn verify_dummy(&self, password: &SecretString) -> PasswordCheck {
        let _ = self.verify(password, &self.dummy_hash);
        PasswordCheck::Wrong
    }

    fn matches_params(&self, parsed: &PasswordHash) -> bool {
        let expected = format!(
            "m={},t={},p={}",
            self.params.memory_kib, self.params.iterations, self.params.parallelism
        );
        parsed.algorithm.as_str() == "argon2id" && parsed.params.to_string() == expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn cheap() -> PasswordParams {
        PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hash_verify_and_rehash() {
        let h = PasswordHasher::new(PasswordParams::default(), &OsRandom).unwrap();
        let pw = SecretString::new("correct horse battery staple");
        let phc = h.hash(&pw, &OsRandom);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            h.verify(&pw, &phc),
            PasswordCheck::Correct {
                needs_rehash: false
            }
        );
        assert_eq!(
            h.verify(&SecretString::new("wrong"), &phc),
            PasswordCheck::Wrong
        );
        assert_eq!(h.verify(&pw, "not a hash"), PasswordCheck::Wrong);

        let weak = PasswordHasher::new(cheap(), &OsRandom).unwrap();
        let old = weak.hash(&pw, &OsRandom);
        assert_eq!(
            h.verify(&pw, &old),
            PasswordCheck::Correct { needs_rehash: true }
        );
        assert_eq!(h.verify_dummy(&pw), PasswordCheck::Wrong);
    }

    /// The pooled-memory verifier agrees with the argon2 crate's own, including on a known vector.
    #[test]
    fn agrees_with_the_library() {
        use argon2::password_hash::PasswordVerifier as _;
        let h = PasswordHasher::new(cheap(), &OsRandom).unwrap();
        for word in ["a", "correct horse", "ünïcödé pässwörd"] {
            let phc = h.hash(&SecretString::new(word), &OsRandom);
            let parsed = PasswordHash::new(&phc).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(word.as_bytes(), &parsed)
                    .is_ok()
            );
            assert!(matches!(
                h.verify(&SecretString::new(word), &phc),
                PasswordCheck::Correct { .. }
            ));
            assert_eq!(
                h.verify(&SecretString::new("other"), &phc),
                PasswordCheck::Wrong
            );
        }
        // Reference hash of "password" (salt "somesalt", m=65536, t=2, p=1) from the phc-winner-argon2 README.
        let known = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert!(matches!(
            h.verify(&SecretString::new("password"), known),
            PasswordCheck::Correct { needs_rehash: true }
        ));
        assert_eq!(
            h.verify(&SecretString::new("passwore"), known),
            PasswordCheck::Wrong
        );
    }

    #[test]
    fn length_rules() {
        assert!(validate_new_password("short").is_err());
        assert!(validate_new_password("long enough").is_ok());
        assert!(validate_new_password(&"x".repeat(2000)).is_err());
        assert!(!cheap().is_at_least_minimum());
        assert!(PasswordParams::default().is_at_least_minimum());
    }
}
