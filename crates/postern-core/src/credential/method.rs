//! A user's second-factor methods as one list: what kinds exist, which one is asked for first,
//! and which may be removed.
//!
//! Each method keeps its secret material in [`MethodSecret`] (a TOTP seed sealed with the master
//! key, recovery-code hashes); the store keeps it as JSON with a version number, so a code is
//! accepted at most once even when two nodes check it at the same moment.

use crate::credential::totp::{TotpParams, TotpState};
use crate::policy::MfaPolicy;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The kinds of second factor, in the system-preferred order (most phishing-resistant and most
/// convenient first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// A passkey or security key (WebAuthn), bound to Postern's origin: cannot be phished.
    Passkey,
    /// Approval in the Postern Authenticator with number matching (a device-bound key).
    Push,
    /// A 6-digit code from any authenticator app (RFC 6238).
    Totp,
    /// One of ten single-use codes, for emergencies.
    RecoveryCodes,
}

impl MethodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Passkey => "passkey",
            MethodKind::Push => "push",
            MethodKind::Totp => "totp",
            MethodKind::RecoveryCodes => "recovery_codes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passkey" => Some(MethodKind::Passkey),
            "push" => Some(MethodKind::Push),
            "totp" => Some(MethodKind::Totp),
            "recovery_codes" => Some(MethodKind::RecoveryCodes),
            _ => None,
        }
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            MethodKind::Passkey => "Passkey or security key",
            MethodKind::Push => "Postern Authenticator (push)",
            MethodKind::Totp => "Authenticator app (code)",
            MethodKind::RecoveryCodes => "Recovery codes",
        }
    }

    /// Recovery codes are a backup: never the method asked for first.
    pub fn can_be_default(self) -> bool {
        !matches!(self, MethodKind::RecoveryCodes)
    }

    /// Whether its owner may rename it: recovery codes are one set with a fixed name.
    pub fn can_be_renamed(self) -> bool {
        !matches!(self, MethodKind::RecoveryCodes)
    }

    /// The `amr` value (RFC 8176 where one exists) a successful use adds (a passkey's depends on
    /// whether it is synced: `credential::passkey::amr`).
    pub fn amr(self) -> &'static str {
        match self {
            MethodKind::Passkey => "hwk",
            MethodKind::Push => "swk",
            MethodKind::Totp => "otp",
            MethodKind::RecoveryCodes => "rec",
        }
    }
}

/// One recovery code's stored form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodeSlot {
    /// Keyed hash (see `credential::recovery::hash`).
    pub hash: String,
    /// When it was used (milliseconds since the epoch); used codes never work again.
    pub used_ms: Option<i64>,
}

/// A method's secret material and the state its checks keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MethodSecret {
    /// A registered Postern Authenticator; the method id is the device id.
    Push {
        /// The device's public key, base64url (see `key_algorithm`).
        public_key: String,
        /// Ed25519 (the CLI; devices registered before P-256 existed) or P-256 (a browser
        /// without Ed25519 in WebCrypto).
        #[serde(default)]
        key_algorithm: postern_proto::authenticator::KeyAlgorithm,
        app_version: String,
    },
    Totp {
        /// The seed, sealed with the master key (base64url), context `totp-seed:<method id>`.
        sealed_seed: String,
        params: TotpParams,
        state: TotpState,
        /// The Postern Authenticator whose offline codes these are: removing the device removes
        /// them too (a removed device must not keep a way in).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paired_device: Option<String>,
    },
    RecoveryCodes {
        codes: Vec<RecoveryCodeSlot>,
    },
    /// A passkey or security key. The credential (public key, counter, flags) is the WebAuthn
    /// library's own serialisation, read and written only by the server's WebAuthn edge.
    Passkey {
        /// The credential id, base64url (also the method row's `credential_id`, unique).
        credential_id: String,
        /// The WebAuthn library's credential as JSON.
        credential: String,
        /// The model's AAGUID when the authenticator gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aaguid: Option<String>,
        /// Backup eligible: synced between devices (else device-bound).
        synced: bool,
        /// It presented an attestation statement at registration.
        #[serde(default)]
        attested: bool,
    },
}

impl MethodSecret {
    pub fn kind(&self) -> MethodKind {
        match self {
            MethodSecret::Push { .. } => MethodKind::Push,
            MethodSecret::Totp { .. } => MethodKind::Totp,
            MethodSecret::RecoveryCodes { .. } => MethodKind::RecoveryCodes,
            MethodSecret::Passkey { .. } => MethodKind::Passkey,
        }
    }

    /// Unused recovery codes (0 for other kinds).
    pub fn remaining_codes(&self) -> usize {
        match self {
            MethodSecret::RecoveryCodes { codes } => {
                codes.iter().filter(|c| c.used_ms.is_none()).count()
            }
            MethodSecret::Totp { .. }
            | MethodSecret::Push { .. }
            | MethodSecret::Passkey { .. } => 0,
        }
    }
}

/// The sealing context of a TOTP seed: a seed cannot be moved to another method's row.
pub fn totp_seal_context(method_id: &str) -> String {
    format!("totp-seed:{method_id}")
}

/// A registered second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub id: String,
    pub user_id: String,
    /// The user's own name for it ("Phone", "Aegis on tablet").
    pub name: String,
    pub created: OffsetDateTime,
    pub last_used: Option<OffsetDateTime>,
    /// Chosen by the user as the method asked for first.
    pub is_default: bool,
    pub secret: MethodSecret,
    /// Bumped on every write; writes are accepted only over the version read.
    pub version: i64,
}

impl Method {
    pub fn kind(&self) -> MethodKind {
        self.secret.kind()
    }
}

/// When recovery codes count as "few left" (the Security info page warns).
pub const FEW_RECOVERY_CODES: usize = 3;

/// The method asked for first after the password: the user's chosen default if it may be one,
/// else the first in system-preferred order, then oldest.
pub fn default_method(methods: &[Method]) -> Option<&Method> {
    methods
        .iter()
        .filter(|m| m.is_default && m.kind().can_be_default())
        .chain(usable(methods).min_by_key(|m| (m.kind(), m.created)))
        .next()
}

/// Methods that can still be used to sign in (a recovery-code set with codes left, any app).
pub fn usable(methods: &[Method]) -> impl Iterator<Item = &Method> {
    methods
        .iter()
        .filter(|m| m.kind() != MethodKind::RecoveryCodes || m.secret.remaining_codes() > 0)
}

/// Why a method may not be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveRefused {
    /// It is the user's last way to sign in while policy requires a second factor.
    LastMethod,
    /// It is the last authenticator (recovery codes alone are not a way to sign in day to day).
    LastAuthenticator,
}

impl RemoveRefused {
    pub fn message(self) -> &'static str {
        match self {
            RemoveRefused::LastMethod => {
                "You can't remove your last sign-in method: your organisation requires a second step at every sign-in. Add another method first."
            }
            RemoveRefused::LastAuthenticator => {
                "You can't remove your only authenticator app: your organisation requires a second step at every sign-in, and recovery codes are only for emergencies. Add another authenticator app first."
            }
        }
    }
}

/// The methods that go when `id` is removed: it, and the codes paired with it (a device's).
pub fn removal_set(methods: &[Method], id: &str) -> Vec<String> {
    let mut ids = vec![id.to_owned()];
    ids.extend(methods.iter().filter_map(|m| match &m.secret {
        MethodSecret::Totp {
            paired_device: Some(d),
            ..
        } if d == id => Some(m.id.clone()),
        _ => None,
    }));
    ids
}

/// May `id` be removed from `methods` under `policy`?
pub fn can_remove(methods: &[Method], id: &str, policy: MfaPolicy) -> Result<(), RemoveRefused> {
    if policy != MfaPolicy::Required {
        return Ok(());
    }
    let Some(target) = methods.iter().find(|m| m.id == id) else {
        return Ok(());
    };
    let going = removal_set(methods, id);
    let others: Vec<&Method> = methods.iter().filter(|m| !going.contains(&m.id)).collect();
    if others.is_empty() {
        return Err(RemoveRefused::LastMethod);
    }
    if target.kind().can_be_default() && !others.iter().any(|m| m.kind().can_be_default()) {
        return Err(RemoveRefused::LastAuthenticator);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn method(id: &str, secret: MethodSecret, age_days: i64, is_default: bool) -> Method {
        Method {
            id: id.into(),
            user_id: "u".into(),
            name: id.into(),
            created: OffsetDateTime::UNIX_EPOCH + Duration::days(100 - age_days),
            last_used: None,
            is_default,
            secret,
            version: 1,
        }
    }

    fn totp() -> MethodSecret {
        MethodSecret::Totp {
            sealed_seed: String::new(),
            params: TotpParams::default(),
            state: TotpState::default(),
            paired_device: None,
        }
    }

    fn recovery(left: usize) -> MethodSecret {
        MethodSecret::RecoveryCodes {
            codes: (0..10)
                .map(|i| RecoveryCodeSlot {
                    hash: i.to_string(),
                    used_ms: (i >= left).then_some(1),
                })
                .collect(),
        }
    }

    #[test]
    fn default_is_chosen_then_preferred_then_oldest() {
        let methods = vec![
            method("rc", recovery(10), 50, false),
            method("new-app", totp(), 1, false),
            method("old-app", totp(), 20, false),
        ];
        assert_eq!(
            default_method(&methods).map(|m| m.id.as_str()),
            Some("old-app")
        );

        let mut chosen = methods.clone();
        chosen[1].is_default = true;
        assert_eq!(
            default_method(&chosen).map(|m| m.id.as_str()),
            Some("new-app")
        );

        let only_codes = vec![method("rc", recovery(2), 5, true)];
        assert_eq!(
            default_method(&only_codes).map(|m| m.id.as_str()),
            Some("rc")
        );
        let used_up = vec![method("rc", recovery(0), 5, false)];
        assert!(default_method(&used_up).is_none());
    }

    #[test]
    fn removal_keeps_a_way_in_when_required() {
        let both = vec![
            method("app", totp(), 5, true),
            method("rc", recovery(10), 5, false),
        ];
        assert_eq!(
            can_remove(&both, "app", MfaPolicy::Required),
            Err(RemoveRefused::LastAuthenticator)
        );
        assert_eq!(can_remove(&both, "rc", MfaPolicy::Required), Ok(()));
        assert_eq!(can_remove(&both, "app", MfaPolicy::WhenRegistered), Ok(()));

        let one = vec![method("app", totp(), 5, true)];
        assert_eq!(
            can_remove(&one, "app", MfaPolicy::Required),
            Err(RemoveRefused::LastMethod)
        );
        let two_apps = vec![method("a", totp(), 5, true), method("b", totp(), 5, false)];
        assert_eq!(can_remove(&two_apps, "a", MfaPolicy::Required), Ok(()));
    }
}
