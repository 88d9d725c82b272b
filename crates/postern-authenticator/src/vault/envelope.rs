//! The encrypted form of a vault (and of an export, which is the same format): a small JSON
//! envelope carrying the Argon2id parameters and salt, the AEAD nonce and the ciphertext.
//!
//! Every seal derives a new key from a fresh random salt and uses a fresh random nonce, so a
//! (key, nonce) pair is never reused. The envelope's header is the AEAD's associated data:
//! changing a parameter makes the file undecryptable rather than silently weaker. No file I/O.

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KdfParams, Passphrase, VaultError};

const FORMAT: &str = "postern-authenticator-vault";
const VERSION: u32 = 1;
const KDF_ARGON2ID: &str = "argon2id";
const CIPHER: &str = "chacha20-poly1305";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    kdf: KdfHeader,
    cipher: CipherHeader,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct KdfHeader {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct CipherHeader {
    algorithm: String,
    nonce: String,
}

impl Envelope {
    fn associated_data(&self) -> String {
        format!(
            "{}/{}/{}/m={},t={},p={}/{}/{}/{}",
            self.format,
            self.version,
            self.kdf.algorithm,
            self.kdf.memory_kib,
            self.kdf.iterations,
            self.kdf.parallelism,
            self.kdf.salt,
            self.cipher.algorithm,
            self.cipher.nonce
        )
    }
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| VaultError::Crypto("the system's random source failed".into()))?;
    Ok(bytes)
}

fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8],
    kdf: KdfParams,
) -> Result<LessSafeKey, VaultError> {
    let params = argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .map_err(|e| VaultError::Crypto(format!("Argon2id parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.expose().as_bytes(), salt, key.as_mut())
        .map_err(|e| VaultError::Crypto(format!("Argon2id: {e}")))?;
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, key.as_ref())
        .map_err(|_| VaultError::Crypto("ChaCha20-Poly1305 key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts `plaintext` under a key derived from `passphrase`; returns the file's bytes.
pub(super) fn seal(
    plaintext: &[u8],
    passphrase: &Passphrase,
    kdf: KdfParams,
) -> Result<Vec<u8>, VaultError> {
    let salt = random::<SALT_LEN>()?;
    let nonce = random::<NONCE_LEN>()?;
    let mut envelope = Envelope {
        format: FORMAT.into(),
        version: VERSION,
        kdf: KdfHeader {
            algorithm: KDF_ARGON2ID.into(),
            memory_kib: kdf.memory_kib,
            iterations: kdf.iterations,
            parallelism: kdf.parallelism,
            salt: BASE64URL_NOPAD.encode(&salt),
        },
        cipher: CipherHeader {
            algorithm: CIPHER.into(),
            nonce: BASE64URL_NOPAD.encode(&nonce),
        },
        ciphertext: String::new(),
    };
    let key = derive_key(passphrase, &salt, kdf)?;
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(envelope.associated_data().as_bytes()),
        &mut in_out,
    )
    .map_err(|_| VaultError::Crypto("encryption failed".into()))?;
    envelope.ciphertext = BASE64URL_NOPAD.encode(&in_out);
    let mut bytes = serde_json::to_vec_pretty(&envelope)
        .map_err(|e| VaultError::Crypto(format!("encoding the envelope: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Decrypts a file's bytes; returns the plaintext and the parameters it was sealed with.
pub(super) fn open(
    bytes: &[u8],
    passphrase: &Passphrase,
) -> Result<(Zeroizing<Vec<u8>>, KdfParams), VaultError> {
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| VaultError::NotAVault(format!("not a vault envelope ({e})")))?;
    if envelope.format != FORMAT {
        return Err(VaultError::NotAVault(format!(
            "format is '{}', not '{FORMAT}'",
            envelope.format
        )));
    }
    if envelope.version != VERSION {
        return Err(VaultError::NotAVault(format!(
            "vault format version {} is not supported by this app (it reads version {VERSION}); \
             update the Postern Authenticator",
            envelope.version
        )));
    }
    if envelope.kdf.algorithm != KDF_ARGON2ID || envelope.cipher.algorithm != CIPHER {
        return Err(VaultError::NotAVault(format!(
            "unsupported algorithms {} / {}",
            envelope.kdf.algorithm, envelope.cipher.algorithm
        )));
    }
    let kdf = KdfParams {
        memory_kib: envelope.kdf.memory_kib,
        iterations: envelope.kdf.iterations,
        parallelism: envelope.kdf.parallelism,
    };
    kdf.check_bounds()?;
    let decode = |field: &str, text: &str| {
        BASE64URL_NOPAD
            .decode(text.as_bytes())
            .map_err(|_| VaultError::NotAVault(format!("{field} is not base64url")))
    };
    let salt = decode("salt", &envelope.kdf.salt)?;
    let nonce: [u8; NONCE_LEN] = decode("nonce", &envelope.cipher.nonce)?
        .try_into()
        .map_err(|_| VaultError::NotAVault("the nonce is not 12 bytes".into()))?;
    let mut in_out = Zeroizing::new(decode("ciphertext", &envelope.ciphertext)?);
    let key = derive_key(passphrase, &salt, kdf)?;
    let plaintext_len = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(envelope.associated_data().as_bytes()),
            in_out.as_mut_slice(),
        )
        .map_err(|_| VaultError::WrongPassphrase)?
        .len();
    in_out.truncate(plaintext_len);
    Ok((in_out, kdf))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn seal_open_round_trip_with_fresh_salt_and_nonce() {
        let pass = Passphrase::new("correct horse");
        let a = seal(b"secret data", &pass, FAST).unwrap();
        let b = seal(b"secret data", &pass, FAST).unwrap();
        assert_ne!(a, b, "every seal uses a fresh salt and nonce");
        let (plain, kdf) = open(&a, &pass).unwrap();
        assert_eq!(plain.as_slice(), b"secret data");
        assert_eq!(kdf, FAST);
        assert!(!String::from_utf8_lossy(&a).contains("secret data"));
    }

    #[test]
    fn wrong_passphrase_and_tampered_header_are_refused() {
        let pass = Passphrase::new("correct horse");
        let sealed = seal(b"secret data", &pass, FAST).unwrap();
        assert!(matches!(
            open(&sealed, &Passphrase::new("wrong")),
            Err(VaultError::WrongPassphrase)
        ));
        let tampered = String::from_utf8(sealed)
            .unwrap()
            .replace("\"iterations\": 1", "\"iterations\": 2");
        assert!(matches!(
            open(tampered.as_bytes(), &pass),
            Err(VaultError::WrongPassphrase)
        ));
        assert!(matches!(open(b"{}", &pass), Err(VaultError::NotAVault(_))));
    }
}
