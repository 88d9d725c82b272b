//! What the vault holds: accounts, each with TOTP codes, a push registration, or both.
//!
//! Plain data and the rules over it (unique names, finding by name or number, merging an
//! import). No I/O and no crypto: `vault` encrypts and stores it, `client` talks to servers.

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::device_key::{DeviceKey, KeyError};
use crate::totp::Totp;

/// One account in the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Unique in the vault; what `list` shows and `remove` takes ("Postern School:ada").
    pub name: String,
    /// Codes shown by `codes` (for a Postern account: the seed its server gave at activation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Totp>,
    /// Set when this device answers push requests for the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushDevice>,
    /// Unix milliseconds.
    pub added_ms: i64,
}

impl Account {
    /// An account that only shows codes.
    pub fn from_totp(totp: Totp, now_ms: i64) -> Self {
        let name = if totp.issuer.is_empty() {
            totp.account_name.clone()
        } else {
            format!("{}:{}", totp.issuer, totp.account_name)
        };
        Self {
            name,
            totp: Some(totp),
            push: None,
            added_ms: now_ms,
        }
    }

    /// The name of a Postern account as `list` shows it.
    pub fn push_name(push: &PushDevice) -> String {
        if push.organisation.is_empty() {
            push.username.clone()
        } else {
            format!("{}:{}", push.organisation, push.username)
        }
    }
}

/// This device's registration with a Postern server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDevice {
    /// Where the API is reached: the issuer part of the activation link, no trailing slash
    /// (`https://id.example.org` or `https://example.org/idp`).
    pub api_base: String,
    /// The issuer as the server names itself.
    pub issuer: String,
    pub organisation: String,
    pub username: String,
    pub device_id: String,
    pub device_name: String,
    /// The Ed25519 private key, PKCS#8 DER, base64url without padding.
    private_key: String,
    /// Unix milliseconds.
    pub registered_ms: i64,
    /// The last time the server answered this device (unix milliseconds); `doctor` reports it.
    #[serde(default)]
    pub last_contact_ms: Option<i64>,
}

impl std::fmt::Debug for PushDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushDevice")
            .field("api_base", &self.api_base)
            .field("issuer", &self.issuer)
            .field("organisation", &self.organisation)
            .field("username", &self.username)
            .field("device_id", &self.device_id)
            .field("device_name", &self.device_name)
            .field("private_key", &"<redacted>")
            .field("registered_ms", &self.registered_ms)
            .field("last_contact_ms", &self.last_contact_ms)
            .finish()
    }
}

/// The parts of a registration that come from the server's activation answer.
#[derive(Debug, Clone)]
pub struct Registration {
    pub api_base: String,
    pub issuer: String,
    pub organisation: String,
    pub username: String,
    pub device_id: String,
    pub device_name: String,
}

impl PushDevice {
    pub fn new(registration: Registration, key: &DeviceKey, now_ms: i64) -> Self {
        let Registration {
            api_base,
            issuer,
            organisation,
            username,
            device_id,
            device_name,
        } = registration;
        Self {
            api_base,
            issuer,
            organisation,
            username,
            device_id,
            device_name,
            private_key: BASE64URL_NOPAD.encode(key.pkcs8()),
            registered_ms: now_ms,
            last_contact_ms: Some(now_ms),
        }
    }

    /// The device key kept for this registration.
    pub fn key(&self) -> Result<DeviceKey, KeyError> {
        let der = Zeroizing::new(
            BASE64URL_NOPAD
                .decode(self.private_key.as_bytes())
                .map_err(|_| KeyError::from_message("the stored key is not base64url"))?,
        );
        DeviceKey::from_pkcs8(&der)
    }
}

/// The decrypted contents of a vault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultData {
    pub accounts: Vec<Account>,
}

impl VaultData {
    /// Adds an account under a name no other account has (" (2)", " (3)", … appended when
    /// needed); returns that name.
    pub fn add(&mut self, mut account: Account) -> String {
        let base = if account.name.trim().is_empty() {
            "account".to_owned()
        } else {
            account.name.trim().to_owned()
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.accounts.iter().any(|a| a.name == name) {
            name = format!("{base} ({n})");
            n += 1;
        }
        account.name = name.clone();
        self.accounts.push(account);
        name
    }

    /// Finds an account by exact name, then case-insensitive name, then its number in `list`
    /// (from 1).
    pub fn position(&self, name_or_number: &str) -> Option<usize> {
        let wanted = name_or_number.trim();
        self.accounts
            .iter()
            .position(|a| a.name == wanted)
            .or_else(|| {
                self.accounts
                    .iter()
                    .position(|a| a.name.eq_ignore_ascii_case(wanted))
            })
            .or_else(|| match wanted.parse::<usize>() {
                Ok(n) if (1..=self.accounts.len()).contains(&n) => Some(n - 1),
                _ => None,
            })
    }

    pub fn find(&self, name_or_number: &str) -> Option<&Account> {
        self.position(name_or_number).map(|i| &self.accounts[i])
    }

    pub fn remove(&mut self, name_or_number: &str) -> Option<Account> {
        self.position(name_or_number)
            .map(|i| self.accounts.remove(i))
    }

    /// The accounts that answer push requests.
    pub fn push_accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().filter(|a| a.push.is_some())
    }

    /// Records that the server answered a device at `when_ms`.
    pub fn record_contact(&mut self, device_id: &str, api_base: &str, when_ms: i64) {
        for account in &mut self.accounts {
            if let Some(push) = account.push.as_mut()
                && push.device_id == device_id
                && push.api_base == api_base
            {
                push.last_contact_ms = Some(push.last_contact_ms.unwrap_or(0).max(when_ms));
            }
        }
    }

    /// Merges an export into this vault. An account already here (the same push registration,
    /// or the same TOTP secret) is skipped; the others are added, renamed if their name is taken.
    /// Returns (added names, skipped names).
    pub fn merge(&mut self, other: VaultData) -> (Vec<String>, Vec<String>) {
        let mut added = Vec::new();
        let mut skipped = Vec::new();
        for account in other.accounts {
            let duplicate = self.accounts.iter().any(|mine| {
                let same_push = match (&mine.push, &account.push) {
                    (Some(a), Some(b)) => a.device_id == b.device_id && a.api_base == b.api_base,
                    _ => false,
                };
                let same_totp = mine.push.is_none()
                    && account.push.is_none()
                    && mine.totp.is_some()
                    && mine.totp == account.totp;
                same_push || same_totp
            });
            if duplicate {
                skipped.push(account.name);
            } else {
                added.push(self.add(account));
            }
        }
        (added, skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totp::TotpAlgorithm;

    fn totp_account(issuer: &str, name: &str) -> Account {
        let totp = Totp::new(
            b"12345678901234567890",
            TotpAlgorithm::Sha1,
            6,
            30,
            issuer,
            name,
        )
        .unwrap();
        Account::from_totp(totp, 0)
    }

    #[test]
    fn names_stay_unique_and_can_be_found_by_number() {
        let mut data = VaultData::default();
        assert_eq!(data.add(totp_account("GitHub", "ada")), "GitHub:ada");
        assert_eq!(data.add(totp_account("GitHub", "ada")), "GitHub:ada (2)");
        assert_eq!(data.add(totp_account("", "bob")), "bob");
        assert_eq!(data.position("github:ADA"), Some(0));
        assert_eq!(data.position("2"), Some(1));
        assert_eq!(data.position("4"), None);
        assert_eq!(data.remove("bob").map(|a| a.name), Some("bob".into()));
        assert_eq!(data.accounts.len(), 2);
    }

    #[test]
    fn merge_skips_what_is_already_there() {
        let mut mine = VaultData::default();
        mine.add(totp_account("GitHub", "ada"));
        let mut other = VaultData::default();
        other.add(totp_account("GitHub", "ada"));
        other.add(totp_account("GitLab", "ada"));
        let (added, skipped) = mine.merge(other);
        assert_eq!(added, vec!["GitLab:ada".to_owned()]);
        assert_eq!(skipped, vec!["GitHub:ada".to_owned()]);
    }
}
