//! Encryption at rest with the server's master key (AES-256-GCM).
//!
//! Signing keys today, TOTP seeds and device secrets later: anything the server must read back but
//! must not store in the clear is sealed here. The master key lives in the data directory (mode
//! 0600) or comes from configuration; every node of a PostgreSQL deployment needs the same one.

use crate::random::Random;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// The 256-bit master key.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Sealed data could not be opened: wrong master key, or the data was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenError;

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot decrypt: wrong master key or altered data")
    }
}

impl std::error::Error for OpenError {}

impl MasterKey {
    pub const LEN: usize = 32;

    /// Builds the key from 32 bytes; any other length is refused.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        UnboundKey::new(&AES_256_GCM, bytes)
            .ok()
            .map(|k| Self(LessSafeKey::new(k)))
    }

    /// Encrypts `plain`; `context` binds the ciphertext to its purpose (e.g. "signing-key:<kid>").
    pub fn seal(&self, rng: &dyn Random, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let mut buf = plain.to_vec();
        // Sealing only fails for inputs larger than GCM allows (64 GiB); nothing here is that big.
        #[allow(clippy::expect_used)]
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// Decrypts what [`MasterKey::seal`] produced with the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
        let mut buf = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn seal_open_and_tamper() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal(&OsRandom, "ctx", b"secret seed");
        assert_eq!(key.open("ctx", &sealed).unwrap(), b"secret seed");
        assert_eq!(key.open("other", &sealed), Err(OpenError));
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert_eq!(key.open("ctx", &bad), Err(OpenError));
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(other.open("ctx", &sealed), Err(OpenError));
        assert!(MasterKey::from_bytes(&[1u8; 16]).is_none());
    }
}
