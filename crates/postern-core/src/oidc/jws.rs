//! JSON Web Signatures for ID tokens and access tokens (RS256, ES256, EdDSA) and their JWKs.
//!
//! Keys are generated with aws-lc-rs (never the `rsa` crate, see RUSTSEC-2023-0071) and stored by
//! the server as PKCS#8, sealed with the master key. The `kid` is derived from the public key, so
//! the same key always has the same id on every node.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    UnparsedPublicKey,
};
use data_encoding::BASE64URL_NOPAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A JWS signing algorithm.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its id.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// Key material could not be generated or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// Why a token failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    UnknownKey,
    BadSignature,
}

impl SigningKey {
    /// Generates a new key (RSA 2048, P-256 or Ed25519).
    pub fn generate(alg: SigningAlg) -> Result<SigningKey, KeyError> {
        let err = |what: &str| KeyError(format!("cannot generate {alg} key: {what}"));
        let pair = match alg {
            SigningAlg::RS256 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| err("rsa"))?)
            }
            SigningAlg::ES256 => Pair::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| err("p-256"))?,
            ),
            SigningAlg::EdDSA => Pair::Ed(Ed25519KeyPair::generate().map_err(|_| err("ed25519"))?),
        };
        Ok(Self::with_pair(alg, pair))
    }

    /// Reads a key from PKCS#8 DER.
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<SigningKey, KeyError> {
        let err =
            |e: aws_lc_rs::error::KeyRejected| KeyError(format!("cannot read {alg} key: {e}"));
        let pair = match alg {
            SigningAlg::RS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(err)?),
            SigningAlg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(err)?,
            ),
            SigningAlg::EdDSA => {
                Pair::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(err)?)
            }
        };
        Ok(Self::with_pair(alg, pair))
    }

    fn with_pair(alg: SigningAlg, pair: Pair) -> SigningKey {
        let public = public_bytes(&pair);
        let digest = crate::secret::sha256(&public);
        let kid = format!(
            "{}-{}",
            alg.as_str().to_lowercase(),
            B64.encode(&digest[..12])
        );
        SigningKey { kid, alg, pair }
    }

    /// The private key as PKCS#8 DER (for sealing and storing).
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        let err = |_| KeyError(format!("cannot export {} key", self.alg));
        Ok(match &self.pair {
            Pair::Rsa(k) => k.as_der().map_err(err)?.as_ref().to_vec(),
            Pair::Ec(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
            Pair::Ed(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// Signs `claims` as a compact JWS. `typ` is `JWT` for ID tokens, `at+jwt` for access tokens.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        let header = json!({ "alg": self.alg.as_str(), "kid": self.kid, "typ": typ });
        let mut out = B64.encode(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&B64.encode(claims.to_string().as_bytes()));
        let sig = self.sign_bytes(out.as_bytes());
        out.push('.');
        out.push_str(&B64.encode(&sig));
        out
    }

    fn sign_bytes(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        // Signing with a valid in-memory key fails only on allocation failure.
        #[allow(clippy::expect_used)]
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .expect("RSA signing failed");
                sig
            }
            Pair::Ec(k) => k
                .sign(&rng, msg)
                .expect("ECDSA signing failed")
                .as_ref()
                .to_vec(),
            Pair::Ed(k) => k.sign(msg).as_ref().to_vec(),
        }
    }

    /// The public JWK (`kty`, `kid`, `alg`, `use=sig` and the key parameters).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = Map::new();
        match &self.pair {
            Pair::Rsa(k) => {
                let pk = k.public_key();
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert(
                    "n".into(),
                    B64.encode(pk.modulus().big_endian_without_leading_zero())
                        .into(),
                );
                jwk.insert(
                    "e".into(),
                    B64.encode(pk.exponent().big_endian_without_leading_zero())
                        .into(),
                );
            }
            Pair::Ec(k) => {
                let point = k.public_key().as_ref();
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), "P-256".into());
                jwk.insert("x".into(), B64.encode(&point[1..33]).into());
                jwk.insert("y".into(), B64.encode(&point[33..65]).into());
            }
            Pair::Ed(k) => {
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert("x".into(), B64.encode(k.public_key().as_ref()).into());
            }
        }
        jwk.insert("kid".into(), self.kid.clone().into());
        jwk.insert("alg".into(), self.alg.as_str().into());
        jwk.insert("use".into(), "sig".into());
        Value::Object(jwk)
    }

    /// Verifies a signature made by this key.
    fn verify_bytes(&self, msg: &[u8], sig: &[u8]) -> bool {
        let public = public_bytes(&self.pair);
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlg::EdDSA => &signature::ED25519,
        };
        UnparsedPublicKey::new(alg, public).verify(msg, sig).is_ok()
    }
}

fn public_bytes(pair: &Pair) -> Vec<u8> {
    match pair {
        Pair::Rsa(k) => k.public_key().as_ref().to_vec(),
        Pair::Ec(k) => k.public_key().as_ref().to_vec(),
        Pair::Ed(k) => k.public_key().as_ref().to_vec(),
    }
}

/// The decoded parts of a compact JWS, before verification.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub header: Value,
    pub claims: Value,
}

/// A compact JWS split and decoded, before its signature is checked.
struct Parts<'t> {
    header: Value,
    claims: Value,
    signature: Vec<u8>,
    /// `header.payload`, the bytes the signature covers.
    signed: &'t [u8],
    kid: String,
    alg: String,
}

fn split(token: &str) -> Result<Parts<'_>, VerifyError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let decode_json = |part: &str| -> Result<Value, VerifyError> {
        let bytes = B64
            .decode(part.as_bytes())
            .map_err(|_| VerifyError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)
    };
    let header = decode_json(h)?;
    let claims = decode_json(c)?;
    if !claims.is_object() {
        return Err(VerifyError::Malformed);
    }
    let signature = B64
        .decode(s.as_bytes())
        .map_err(|_| VerifyError::Malformed)?;
    let field = |name: &str| {
        header
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(VerifyError::Malformed)
    };
    let (kid, alg) = (field("kid")?, field("alg")?);
    let signed = &token.as_bytes()[..h.len() + 1 + c.len()];
    Ok(Parts {
        header,
        claims,
        signature,
        signed,
        kid,
        alg,
    })
}

/// Verifies a compact JWS against `keys` (matched by `kid` and `alg`) and returns its claims.
/// Expiry and audience are the caller's to check.
pub fn verify<'a>(
    token: &str,
    keys: impl IntoIterator<Item = &'a SigningKey>,
) -> Result<Decoded, VerifyError> {
    let p = split(token)?;
    let key = keys
        .into_iter()
        .find(|k| k.kid == p.kid && k.alg.as_str() == p.alg)
        .ok_or(VerifyError::UnknownKey)?;
    if !key.verify_bytes(p.signed, &p.signature) {
        return Err(VerifyError::BadSignature);
    }
    Ok(Decoded {
        header: p.header,
        claims: p.claims,
    })
}

/// Verifies a compact JWS against a published JWK Set (`{"keys": [...]}`), as a relying party
/// does: the key is chosen by `kid` and must match the header's `alg`.
pub fn verify_with_jwks(token: &str, jwks: &Value) -> Result<Decoded, VerifyError> {
    let p = split(token)?;
    let (kid, alg) = (p.kid.as_str(), p.alg.as_str());
    let jwk = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|keys| {
            keys.iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
        })
        .ok_or(VerifyError::UnknownKey)?;
    let field = |name: &str| -> Result<Vec<u8>, VerifyError> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or(VerifyError::Malformed)?;
        B64.decode(text.as_bytes())
            .map_err(|_| VerifyError::Malformed)
    };
    let (signed, sig) = (p.signed, p.signature.as_slice());
    let ok = match (alg, jwk.get("kty").and_then(Value::as_str)) {
        ("RS256", Some("RSA")) => signature::RsaPublicKeyComponents {
            n: field("n")?,
            e: field("e")?,
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, sig)
        .is_ok(),
        ("ES256", Some("EC")) => {
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(signed, sig)
                .is_ok()
        }
        ("EdDSA", Some("OKP")) => UnparsedPublicKey::new(&signature::ED25519, field("x")?)
            .verify(signed, sig)
            .is_ok(),
        _ => return Err(VerifyError::UnknownKey),
    };
    if !ok {
        return Err(VerifyError::BadSignature);
    }
    Ok(Decoded {
        header: p.header,
        claims: p.claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_every_alg_and_round_trip_pkcs8() {
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = key.sign("JWT", &json!({ "sub": "u1" }));
            let decoded = verify(&token, [&key]).unwrap();
            assert_eq!(decoded.claims["sub"], "u1");
            assert_eq!(decoded.header["alg"], alg.as_str());

            let again = SigningKey::from_pkcs8(alg, &key.to_pkcs8().unwrap()).unwrap();
            assert_eq!(again.kid(), key.kid(), "kid is derived from the public key");
            assert!(verify(&token, [&again]).is_ok());

            let mut tampered = token.clone();
            tampered.replace_range(token.len() - 3.., "AAA");
            assert!(verify(&tampered, [&key]).is_err());
            let jwk = key.public_jwk();
            let set = json!({ "keys": [jwk.clone()] });
            assert_eq!(verify_with_jwks(&token, &set).unwrap().claims["sub"], "u1");
            assert_eq!(
                verify_with_jwks(&tampered, &set).unwrap_err(),
                VerifyError::BadSignature
            );
            assert_eq!(jwk["kid"], key.kid());
            assert_eq!(jwk["use"], "sig");
        }
    }

    #[test]
    fn unknown_key_and_garbage() {
        let a = SigningKey::generate(SigningAlg::ES256).unwrap();
        let b = SigningKey::generate(SigningAlg::ES256).unwrap();
        let token = a.sign("JWT", &json!({}));
        assert_eq!(verify(&token, [&b]).unwrap_err(), VerifyError::UnknownKey);
        assert_eq!(verify("a.b", [&a]).unwrap_err(), VerifyError::Malformed);
        assert_eq!(verify("a.b.c.d", [&a]).unwrap_err(), VerifyError::Malformed);
    }
}
