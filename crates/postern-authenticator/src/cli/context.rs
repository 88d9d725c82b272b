//! What every command shares: the vault's path, the passphrase (asked once per run), the API
//! client, and the one error type commands return.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use crate::account::{Account, VaultData};
use crate::client::{Client, ClientError};
use crate::passphrase::{self, ENV_PASSPHRASE, PassphraseError};
use crate::vault::{self, KdfParams, Passphrase, Vault, VaultError};

/// Why a command stopped: the message for stderr and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn new(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
        }
    }

    /// Exit 1 without another message (the command already said why).
    pub fn quiet() -> Self {
        Self {
            message: String::new(),
            code: 1,
        }
    }
}

impl From<VaultError> for Failure {
    fn from(e: VaultError) -> Self {
        Self::new(e)
    }
}
impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self::new(e)
    }
}
impl From<PassphraseError> for Failure {
    fn from(e: PassphraseError) -> Self {
        Self::new(e)
    }
}
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::new(e)
    }
}

pub struct Context {
    pub vault_path: PathBuf,
    passphrase_file: Option<PathBuf>,
    passphrase: Option<Passphrase>,
    pub client: Client,
}

impl Context {
    pub fn new(vault: Option<PathBuf>, passphrase_file: Option<PathBuf>) -> Result<Self, Failure> {
        let vault_path = vault.or_else(vault::default_path).ok_or_else(|| {
            Failure::new("no place for the vault: set HOME or XDG_DATA_HOME, or pass --vault PATH")
        })?;
        Ok(Self {
            vault_path,
            passphrase_file,
            passphrase: None,
            client: Client::new()?,
        })
    }

    pub fn vault_exists(&self) -> bool {
        self.vault_path.exists()
    }

    /// The passphrase given by --passphrase-file or the environment, if any.
    pub fn given_passphrase(&self) -> Result<Option<Passphrase>, Failure> {
        if let Some(file) = &self.passphrase_file {
            return Ok(Some(passphrase::from_file(file)?));
        }
        Ok(passphrase::from_env(ENV_PASSPHRASE))
    }

    /// The passphrase of the existing vault (asked at most once per run).
    pub fn passphrase(&mut self) -> Result<Passphrase, Failure> {
        if let Some(p) = &self.passphrase {
            return Ok(p.clone());
        }
        let p = match self.given_passphrase()? {
            Some(p) => p,
            None => passphrase::prompt(&format!("Passphrase for {}: ", self.vault_path.display()))?,
        };
        self.passphrase = Some(p.clone());
        Ok(p)
    }

    /// The passphrase for a vault about to be created (asked twice on a terminal).
    fn new_passphrase(&mut self) -> Result<Passphrase, Failure> {
        if let Some(p) = &self.passphrase {
            return Ok(p.clone());
        }
        let p = match self.given_passphrase()? {
            Some(p) if p.expose().is_empty() => {
                return Err(Failure::new(
                    "the passphrase is empty; an empty passphrase protects nothing",
                ));
            }
            Some(p) => p,
            None => {
                eprintln!(
                    "Creating a new vault at {}. Choose a passphrase: it encrypts your codes and \
                     device keys, and cannot be recovered.",
                    self.vault_path.display()
                );
                passphrase::prompt_new("the vault")?
            }
        };
        self.passphrase = Some(p.clone());
        Ok(p)
    }

    /// Opens the existing vault.
    pub fn open(&mut self) -> Result<Vault, Failure> {
        if !self.vault_exists() {
            return Err(VaultError::NotFound(self.vault_path.clone()).into());
        }
        let p = self.passphrase()?;
        Ok(Vault::open(&self.vault_path, p)?)
    }

    /// Checks the passphrase now (before anything irreversible happens elsewhere): opens the
    /// vault if it exists, or settles the new vault's passphrase.
    pub fn unlock_or_prepare(&mut self) -> Result<(), Failure> {
        if self.vault_exists() {
            self.open().map(drop)
        } else {
            self.new_passphrase().map(drop)
        }
    }

    /// Changes the vault under its lock; creates it first if `create` and it is missing.
    pub fn modify<T>(
        &mut self,
        create: bool,
        f: impl FnOnce(&mut VaultData) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let (p, kdf) = if self.vault_exists() {
            (self.passphrase()?, None)
        } else if create {
            (self.new_passphrase()?, Some(KdfParams::default()))
        } else {
            return Err(VaultError::NotFound(self.vault_path.clone()).into());
        };
        Vault::modify(&self.vault_path, &p, kdf, f)
    }

    /// Records when servers answered (for `doctor`), through the open handle when nothing
    /// changed the file meanwhile, else under the lock. A failure here is only worth a note.
    pub fn record_contacts(&mut self, vault: &mut Vault, contacts: &[(String, String, i64)]) {
        if contacts.is_empty() {
            return;
        }
        for (device, base, at) in contacts {
            vault.data.record_contact(device, base, *at);
        }
        let result = match vault.save() {
            Err(VaultError::ChangedOnDisk) => self.modify(false, |data| {
                for (device, base, at) in contacts {
                    data.record_contact(device, base, *at);
                }
                Ok(())
            }),
            other => other.map_err(Failure::from),
        };
        if let Err(e) = result {
            eprintln!(
                "note: could not record the contact time in the vault: {}",
                e.message
            );
        }
    }

    /// The push accounts to use: all of them, or the ones named.
    pub fn select_push(vault: &Vault, names: &[String]) -> Result<Vec<Account>, Failure> {
        if names.is_empty() {
            let all: Vec<Account> = vault.data.push_accounts().cloned().collect();
            if all.is_empty() {
                return Err(Failure::new(
                    "no push accounts in the vault: register this device with \
                     `postern-authenticator add LINK` (the link is in Security info)",
                ));
            }
            return Ok(all);
        }
        names
            .iter()
            .map(|name| {
                let account = vault
                    .data
                    .find(name)
                    .ok_or_else(|| unknown_account(&vault.data, name))?;
                if account.push.is_none() {
                    return Err(Failure::new(format!(
                        "'{}' only shows codes; it has no push registration",
                        account.name
                    )));
                }
                Ok(account.clone())
            })
            .collect()
    }
}

/// "No account X; the vault has: …".
pub fn unknown_account(data: &VaultData, name: &str) -> Failure {
    let names: Vec<String> = data
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}. {}", i + 1, a.name))
        .collect();
    if names.is_empty() {
        Failure::new(format!("no account '{name}': the vault is empty"))
    } else {
        Failure::new(format!(
            "no account '{name}'; the vault has: {}",
            names.join(", ")
        ))
    }
}

/// The contact record of an account the server just answered.
pub fn contact_of(account: &Account, at_ms: i64) -> Option<(String, String, i64)> {
    account
        .push
        .as_ref()
        .map(|p| (p.device_id.clone(), p.api_base.clone(), at_ms))
}

/// A path for messages.
pub fn show(path: &Path) -> String {
    path.display().to_string()
}
