//! The vault: one encrypted file holding every account, TOTP secret and device key.
//!
//! Owns opening (decrypt with the passphrase), saving (re-encrypt with a fresh salt and nonce,
//! write atomically, 0600) and the rule that a save never overwrites changes another command made
//! since this one read the file. `envelope` is the crypto, `storage` the disk; what is inside is
//! `account::VaultData`. The passphrase is obtained by the caller (see `passphrase`).

mod envelope;
mod storage;

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::account::VaultData;

pub use storage::file_mode;

/// A vault passphrase; zeroed when dropped, never printed.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(text: impl Into<String>) -> Self {
        Self(Zeroizing::new(text.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Argon2id cost. Stored in each file, so a vault opens whatever it was sealed with, and a save
/// keeps the cost the vault had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (RFC 9106's second recommendation, one lane): about a quarter of
    /// a second here, once per open and once per save.
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests of code that opens and saves vaults many times. Never for a
    /// real vault.
    pub const INSECURE_FOR_TESTS: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    /// Refuses parameters that would make opening a file an exhaustion attack (a file from
    /// elsewhere asking for 100 GiB).
    fn check_bounds(self) -> Result<(), VaultError> {
        if self.memory_kib > 4 * 1024 * 1024 || self.iterations > 64 || self.parallelism > 64 {
            return Err(VaultError::NotAVault(format!(
                "unreasonable Argon2id parameters (m={} KiB, t={}, p={})",
                self.memory_kib, self.iterations, self.parallelism
            )));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "no vault at {0}: add an account first (postern-authenticator add LINK, or add-totp URI), \
         or pass --vault PATH"
    )]
    NotFound(PathBuf),
    #[error("{0} already exists; nothing was written")]
    AlreadyExists(PathBuf),
    #[error("wrong passphrase (or the file was damaged); nothing was changed")]
    WrongPassphrase,
    #[error("not a Postern Authenticator vault: {0}")]
    NotAVault(String),
    #[error(
        "the vault was changed by another postern-authenticator command since it was opened; \
         nothing was written: run the command again"
    )]
    ChangedOnDisk,
    #[error("the vault's contents cannot be read: {0}")]
    Contents(String),
    #[error("{0}")]
    Crypto(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An open vault: its decrypted data and what is needed to save it again.
pub struct Vault {
    path: PathBuf,
    passphrase: Passphrase,
    kdf: KdfParams,
    /// SHA-256 of the file as this handle last read or wrote it (`None`: there was no file).
    seen: Option<Vec<u8>>,
    pub data: VaultData,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("kdf", &self.kdf)
            .field("accounts", &self.data.accounts.len())
            .finish_non_exhaustive()
    }
}

fn fingerprint(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
}

fn decode_data(plaintext: &[u8]) -> Result<VaultData, VaultError> {
    serde_json::from_slice(plaintext).map_err(|e| VaultError::Contents(e.to_string()))
}

fn encode_data(data: &VaultData) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    serde_json::to_vec(data)
        .map(Zeroizing::new)
        .map_err(|e| VaultError::Contents(e.to_string()))
}

impl Vault {
    /// Creates a new, empty vault file with the default (strong) key derivation.
    pub fn create(path: impl Into<PathBuf>, passphrase: Passphrase) -> Result<Self, VaultError> {
        Self::create_with_kdf(path, passphrase, KdfParams::default())
    }

    /// Creates a new, empty vault file with the given key derivation cost.
    pub fn create_with_kdf(
        path: impl Into<PathBuf>,
        passphrase: Passphrase,
        kdf: KdfParams,
    ) -> Result<Self, VaultError> {
        let path = path.into();
        let _lock = storage::VaultLock::acquire(&path)?;
        if storage::read(&path)?.is_some() {
            return Err(VaultError::AlreadyExists(path));
        }
        let mut vault = Self {
            path,
            passphrase,
            kdf,
            seen: None,
            data: VaultData::default(),
        };
        vault.save_locked()?;
        Ok(vault)
    }

    /// Opens and decrypts an existing vault.
    pub fn open(path: impl Into<PathBuf>, passphrase: Passphrase) -> Result<Self, VaultError> {
        let path = path.into();
        let bytes = storage::read(&path)?.ok_or_else(|| VaultError::NotFound(path.clone()))?;
        let (plaintext, kdf) = envelope::open(&bytes, &passphrase)?;
        Ok(Self {
            data: decode_data(&plaintext)?,
            seen: Some(fingerprint(&bytes)),
            path,
            passphrase,
            kdf,
        })
    }

    /// Saves the data: re-encrypted with a fresh salt and nonce, written atomically. Refused
    /// (`ChangedOnDisk`, nothing written) when another command changed the file since this
    /// handle read it; [`Vault::modify`] avoids that by holding the lock throughout.
    pub fn save(&mut self) -> Result<(), VaultError> {
        let _lock = storage::VaultLock::acquire(&self.path)?;
        self.save_locked()
    }

    fn save_locked(&mut self) -> Result<(), VaultError> {
        let current = storage::read(&self.path)?.map(|b| fingerprint(&b));
        if current != self.seen {
            return Err(VaultError::ChangedOnDisk);
        }
        let bytes = envelope::seal(&encode_data(&self.data)?, &self.passphrase, self.kdf)?;
        storage::write_atomically(&self.path, &bytes)?;
        self.seen = Some(fingerprint(&bytes));
        Ok(())
    }

    /// Read, change and write the vault under its lock, so concurrent commands (a running
    /// `listen` and an `add` in another terminal) never lose each other's changes. When `f`
    /// fails nothing is written. With `create` set, a missing vault starts empty with that cost.
    pub fn modify<T, E>(
        path: &Path,
        passphrase: &Passphrase,
        create: Option<KdfParams>,
        f: impl FnOnce(&mut VaultData) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<VaultError>,
    {
        let _lock = storage::VaultLock::acquire(path)?;
        let mut vault = match (storage::read(path)?, create) {
            (Some(_), _) => Self::open(path, passphrase.clone())?,
            (None, Some(kdf)) => Self {
                path: path.to_owned(),
                passphrase: passphrase.clone(),
                kdf,
                seen: None,
                data: VaultData::default(),
            },
            (None, None) => return Err(VaultError::NotFound(path.to_owned()).into()),
        };
        let result = f(&mut vault.data)?;
        vault.save_locked()?;
        Ok(result)
    }

    /// Writes this vault's data to a new file encrypted with `passphrase` (a backup that
    /// [`Vault::read_export`] reads). Refuses to replace an existing file unless `overwrite`.
    pub fn export_to(
        &self,
        dest: &Path,
        passphrase: &Passphrase,
        overwrite: bool,
    ) -> Result<(), VaultError> {
        if !overwrite && dest.exists() {
            return Err(VaultError::AlreadyExists(dest.to_owned()));
        }
        let bytes = envelope::seal(&encode_data(&self.data)?, passphrase, self.kdf)?;
        storage::write_atomically(dest, &bytes)
    }

    /// Decrypts an export (or another vault file) without changing it.
    pub fn read_export(path: &Path, passphrase: &Passphrase) -> Result<VaultData, VaultError> {
        let bytes = storage::read(path)?.ok_or_else(|| VaultError::NotFound(path.to_owned()))?;
        let (plaintext, _) = envelope::open(&bytes, passphrase)?;
        decode_data(&plaintext)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }
}

/// `$XDG_DATA_HOME/postern-authenticator/vault.json`, else
/// `~/.local/share/postern-authenticator/vault.json`.
pub fn default_path() -> Option<PathBuf> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local/share"))
        })?;
    Some(data_home.join("postern-authenticator").join("vault.json"))
}

#[cfg(test)]
mod tests;
