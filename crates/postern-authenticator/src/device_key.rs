//! The device's Ed25519 key and the signature headers of every authenticator API call.
//!
//! Owns key generation (PKCS#8, kept only in the vault) and the three `Postern-*` headers built
//! over `postern_proto::authenticator::signing_input`. No I/O: the time is a parameter.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use data_encoding::BASE64URL_NOPAD;
use postern_proto::authenticator::signing_input;
use zeroize::Zeroizing;

/// Why a device key could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device key: {0}")]
pub struct KeyError(String);

impl KeyError {
    pub(crate) fn from_message(message: &str) -> Self {
        Self(message.to_owned())
    }
}

/// A device's private key. Debug output never shows it.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public_key", &self.public_key_b64())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A fresh key from the system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| KeyError("could not generate an Ed25519 key".into()))?;
        Self::from_pkcs8(document.as_ref())
    }

    /// The key stored in the vault (PKCS#8 DER).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| KeyError(format!("the stored key is not a valid Ed25519 key ({e})")))?;
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
        })
    }

    /// PKCS#8 DER, to be kept in the vault.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The 32 raw public key bytes.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public key as the API carries it: base64url without padding.
    pub fn public_key_b64(&self) -> String {
        BASE64URL_NOPAD.encode(self.public_key())
    }

    /// Signs one request: the values of the `Postern-Device`, `Postern-Timestamp` and
    /// `Postern-Signature` headers.
    pub fn sign_request(
        &self,
        device_id: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp_ms: i64,
    ) -> SignedHeaders {
        let input = signing_input(
            method,
            path_and_query,
            &body_digest(body),
            timestamp_ms,
            device_id,
        );
        let signature = self.pair.sign(input.as_bytes());
        SignedHeaders {
            device: device_id.to_owned(),
            timestamp: timestamp_ms.to_string(),
            signature: BASE64URL_NOPAD.encode(signature.as_ref()),
        }
    }
}

/// base64url-no-pad of SHA-256 of a request body (an empty body for GET).
pub fn body_digest(body: &[u8]) -> String {
    BASE64URL_NOPAD.encode(digest::digest(&digest::SHA256, body).as_ref())
}

/// The header values of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub device: String,
    pub timestamp: String,
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};

    #[test]
    fn signing_input_has_the_contract_shape() {
        let input = signing_input(
            "POST",
            "/idp/api/authenticator/v1/challenges/c1/answer",
            &body_digest(b""),
            1_700_000_000_123,
            "dev-1",
        );
        assert_eq!(
            input,
            "POST\n/idp/api/authenticator/v1/challenges/c1/answer\n\
             47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU\n1700000000123\ndev-1"
        );
    }

    #[test]
    fn a_signature_verifies_with_the_public_key_and_nothing_else() {
        let key = DeviceKey::generate().unwrap();
        let body = br#"{"decision":"approve","number":42,"report":false}"#;
        let path = "/api/authenticator/v1/challenges/c1/answer";
        let headers = key.sign_request("dev-1", "POST", path, body, 1_700_000_000_000);
        assert_eq!(headers.device, "dev-1");
        assert_eq!(headers.timestamp, "1700000000000");

        let public = BASE64URL_NOPAD
            .decode(key.public_key_b64().as_bytes())
            .unwrap();
        assert_eq!(public.len(), 32);
        let signature = BASE64URL_NOPAD
            .decode(headers.signature.as_bytes())
            .unwrap();
        let verifier = UnparsedPublicKey::new(&ED25519, &public);
        let input = signing_input("POST", path, &body_digest(body), 1_700_000_000_000, "dev-1");
        verifier.verify(input.as_bytes(), &signature).unwrap();

        // Another body, time, path or device: refused.
        for tampered in [
            signing_input(
                "POST",
                path,
                &body_digest(b"{}"),
                1_700_000_000_000,
                "dev-1",
            ),
            signing_input("POST", path, &body_digest(body), 1_700_000_000_001, "dev-1"),
            signing_input(
                "POST",
                "/api/authenticator/v1/challenges/c2/answer",
                &body_digest(body),
                1_700_000_000_000,
                "dev-1",
            ),
            signing_input("POST", path, &body_digest(body), 1_700_000_000_000, "dev-2"),
        ] {
            assert!(verifier.verify(tampered.as_bytes(), &signature).is_err());
        }
    }

    #[test]
    fn the_pkcs8_round_trips_and_debug_hides_it() {
        let key = DeviceKey::generate().unwrap();
        let again = DeviceKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert!(DeviceKey::from_pkcs8(b"not a key").is_err());
        assert!(format!("{key:?}").contains(&key.public_key_b64()));
    }
}
