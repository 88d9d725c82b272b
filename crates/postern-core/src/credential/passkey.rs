//! Passkeys and security keys (WebAuthn): the rules Postern applies around a ceremony — which
//! authenticators the organisation's policy admits, what a model is called, what a use adds to
//! `amr`, and why a use was refused, in words for the user and for the helpdesk.
//!
//! The ceremony itself (challenge, origin, RP id, type, flags, algorithm, signature, counter) is
//! checked by the `webauthn-rs` library at the server's edge; nothing here parses WebAuthn data
//! or touches the store.

use crate::signin_log::StepReason;
use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};

/// `passkeys.*`: which authenticators may be registered and how they may be used (modelled on
/// Entra's passkey profiles). User verification (PIN, biometrics, screen lock) is always required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasskeyPolicy {
    /// "Sign in with a passkey" on the first page, without a password.
    pub passwordless: bool,
    /// Passkeys synced between devices (iCloud Keychain, Google Password Manager, password
    /// managers). Off: only device-bound ones (security keys, passkeys that never leave a device).
    pub allow_synced: bool,
    /// Only authenticators whose attestation statement chains to one of `attestation_roots` and
    /// names a model of `aaguid_allow` (the registration is refused otherwise). This is what
    /// makes the model and "device-bound" trustworthy; without it they are the authenticator's
    /// own claims, and the AAGUID lists stop honest authenticators only.
    pub require_attestation: bool,
    /// The makers' attestation root certificates (PEM files, one certificate each), for
    /// `require_attestation`.
    pub attestation_roots: Vec<String>,
    /// When not empty, only these authenticator models (AAGUIDs) may be registered.
    pub aaguid_allow: Vec<String>,
    /// These models may not be registered (or used, if registered before the rule).
    pub aaguid_block: Vec<String>,
}

impl Default for PasskeyPolicy {
    fn default() -> Self {
        PasskeyPolicy {
            passwordless: true,
            allow_synced: true,
            require_attestation: false,
            attestation_roots: vec![],
            aaguid_allow: vec![],
            aaguid_block: vec![],
        }
    }
}

/// What a registration showed about the authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticator {
    /// The model's AAGUID, lowercase and hyphenated; `None` when the authenticator gave zeros.
    pub aaguid: Option<String>,
    /// Backup eligible: the private key may be synced to other devices.
    pub synced: bool,
    /// It presented an attestation statement (not `none`, not self-signed).
    pub attested: bool,
}

/// Why the policy refuses an authenticator. Each message names the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRefusal {
    Synced,
    NotAttested,
    NotAllowed,
    Blocked,
    PasswordlessOff,
}

impl PolicyRefusal {
    /// For the user (and the sign-in log).
    pub fn message(self) -> &'static str {
        match self {
            PolicyRefusal::Synced => {
                "Your organisation allows only device-bound passkeys: a security key, or a passkey that stays on this device. This one is synced to your other devices (rule: passkeys.allow_synced = false)."
            }
            PolicyRefusal::NotAttested => {
                "Your organisation allows only security keys and passkeys whose maker vouches for their model (rule: passkeys.require_attestation). This one's maker is not among those trusted here, or it did not say."
            }
            PolicyRefusal::NotAllowed => {
                "Your organisation allows only certain models of security key or passkey, and this one is not among them (rule: passkeys.aaguid_allow)."
            }
            PolicyRefusal::Blocked => {
                "Your organisation does not allow this model of security key or passkey (rule: passkeys.aaguid_block)."
            }
            PolicyRefusal::PasswordlessOff => {
                "Your organisation has turned off signing in with a passkey alone (rule: passkeys.passwordless = false). Sign in with your username and password; your passkey still works as the second step."
            }
        }
    }
}

impl PasskeyPolicy {
    /// The settings' own consistency, checked at start.
    pub fn validate(&self) -> Result<(), String> {
        for (list, name) in [
            (&self.aaguid_allow, "passkeys.aaguid_allow"),
            (&self.aaguid_block, "passkeys.aaguid_block"),
        ] {
            if let Some(bad) = list.iter().find(|a| normalize_aaguid(a).is_none()) {
                return Err(format!(
                    "{name}: '{bad}' is not an AAGUID (a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8)"
                ));
            }
        }
        if self.require_attestation
            && (self.attestation_roots.is_empty() || self.aaguid_allow.is_empty())
        {
            return Err("passkeys.require_attestation needs passkeys.attestation_roots (the makers' root certificates, PEM files) and passkeys.aaguid_allow (the models they may attest)".into());
        }
        if !self.require_attestation && !self.attestation_roots.is_empty() {
            return Err(
                "passkeys.attestation_roots is used only with passkeys.require_attestation = true"
                    .into(),
            );
        }
        if let Some(both) = self
            .aaguid_allow
            .iter()
            .find(|a| self.blocks(normalize_aaguid(a).as_deref()))
        {
            return Err(format!(
                "the AAGUID {both} is in both passkeys.aaguid_allow and passkeys.aaguid_block"
            ));
        }
        Ok(())
    }

    fn blocks(&self, aaguid: Option<&str>) -> bool {
        aaguid.is_some_and(|a| {
            self.aaguid_block
                .iter()
                .any(|b| normalize_aaguid(b).as_deref() == Some(a))
        })
    }

    /// May this authenticator be registered (or, for a registered one, still be used)?
    pub fn admits(&self, a: &Authenticator) -> Result<(), PolicyRefusal> {
        if self.blocks(a.aaguid.as_deref()) {
            return Err(PolicyRefusal::Blocked);
        }
        if !self.aaguid_allow.is_empty()
            && !self
                .aaguid_allow
                .iter()
                .any(|x| normalize_aaguid(x) == a.aaguid)
        {
            return Err(PolicyRefusal::NotAllowed);
        }
        if self.require_attestation && !a.attested {
            return Err(PolicyRefusal::NotAttested);
        }
        if !self.allow_synced && a.synced {
            return Err(PolicyRefusal::Synced);
        }
        Ok(())
    }
}

/// An AAGUID as lowercase hyphenated text; `None` if `s` is not one. All zeros is "no model".
pub fn normalize_aaguid(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Well-known authenticator models by AAGUID (from the makers' and the passkey providers'
/// published identifiers). Unknown ones are named "Passkey" until the user renames them.
const MODELS: &[(&str, &str)] = &[
    (
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
    ),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    (
        "dd4ec289-e01d-41c9-bb89-70fa845d4bf2",
        "iCloud Keychain (managed)",
    ),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 NFC"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 NFC"),
    (
        "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa",
        "Security Key NFC by Yubico",
    ),
    (
        "149a2021-8ef6-4133-96b8-81f8d5b7f1f5",
        "Security Key by Yubico",
    ),
];

/// The model's name, if it is a known one.
pub fn model_name(aaguid: Option<&str>) -> Option<&'static str> {
    let a = aaguid?;
    MODELS
        .iter()
        .find(|(id, _)| *id == a)
        .map(|(_, name)| *name)
}

/// The name a new passkey gets before the user picks one.
pub fn default_name(aaguid: Option<&str>) -> &'static str {
    model_name(aaguid).unwrap_or("Passkey")
}

/// The `amr` value (RFC 8176) a use adds: `swk` for a synced passkey (a software-protected key
/// that may live on several devices), `hwk` for a device-bound one.
pub fn amr(synced: bool) -> &'static str {
    if synced { "swk" } else { "hwk" }
}

/// Why a passkey did not prove a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyRefusal {
    /// No registered passkey has that credential: removed, or never registered here.
    Removed,
    /// The signature counter did not go up: the credential may have been copied.
    CounterWentBack,
    /// The authenticator did not verify the user (no PIN, biometrics or screen lock).
    NotVerified,
    /// The answer did not check out (signature, challenge, origin, RP id…); what failed.
    Invalid(String),
    /// No ceremony of this sign-in is waiting (expired, already answered, or from another page).
    Stale,
    /// The policy refuses it now.
    Policy(PolicyRefusal),
    /// The account is disabled.
    AccountDisabled,
}

impl PasskeyRefusal {
    /// The sign-in log's stable reason.
    pub fn reason(&self) -> StepReason {
        match self {
            PasskeyRefusal::Removed => StepReason::PasskeyRemoved,
            PasskeyRefusal::CounterWentBack => StepReason::PasskeyCounterWentBack,
            PasskeyRefusal::NotVerified => StepReason::PasskeyNotVerified,
            PasskeyRefusal::Invalid(_) | PasskeyRefusal::Stale => StepReason::PasskeyInvalid,
            PasskeyRefusal::Policy(_) => StepReason::PasskeyNotAllowed,
            PasskeyRefusal::AccountDisabled => StepReason::AccountDisabled,
        }
    }

    /// The code the page shows.
    pub fn code(&self) -> ErrorCode {
        match self {
            PasskeyRefusal::Policy(_) => ErrorCode::PasskeyNotAllowed,
            PasskeyRefusal::AccountDisabled => ErrorCode::AccountDisabled,
            _ => ErrorCode::PasskeyFailed,
        }
    }

    /// For the helpdesk (the sign-in log's words).
    pub fn words(&self) -> String {
        match self {
            PasskeyRefusal::Removed => {
                "this passkey was removed (or was never registered to this account)".into()
            }
            PasskeyRefusal::CounterWentBack => {
                "passkey signature counter went backwards: possible cloned authenticator".into()
            }
            PasskeyRefusal::NotVerified => {
                "user verification not performed (no PIN, biometrics or screen lock)".into()
            }
            PasskeyRefusal::Invalid(what) => format!("the passkey's answer was refused: {what}"),
            PasskeyRefusal::Stale => {
                "no passkey request of this sign-in was waiting (expired or already answered)"
                    .into()
            }
            PasskeyRefusal::Policy(p) => format!("refused by policy: {}", p.message()),
            PasskeyRefusal::AccountDisabled => "passkey right, but the account is disabled".into(),
        }
    }

    /// What the user is told (beside the code's own words).
    pub fn shown(&self) -> String {
        match self {
            PasskeyRefusal::Removed => {
                "That passkey is not registered to an account here any more. Use another passkey or sign in another way.".into()
            }
            PasskeyRefusal::CounterWentBack => {
                "That passkey was refused for your safety: it looks like a copy of one already used. Sign in another way and tell your helpdesk.".into()
            }
            PasskeyRefusal::NotVerified => {
                "Your passkey did not ask for your fingerprint, face, PIN or screen lock. Set one up on the device or security key and try again.".into()
            }
            PasskeyRefusal::Invalid(_) => {
                "The passkey's answer could not be checked. Try again, from this site's own address.".into()
            }
            PasskeyRefusal::Stale => "That passkey request had expired. Try again.".into(),
            PasskeyRefusal::Policy(p) => p.message().into(),
            PasskeyRefusal::AccountDisabled => {
                "This account is disabled. Contact your helpdesk.".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YUBIKEY: &str = "2fc0579f-8113-47ea-b116-bb5a8db9202a";
    const GPM: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";

    fn key(aaguid: &str, synced: bool, attested: bool) -> Authenticator {
        Authenticator {
            aaguid: normalize_aaguid(aaguid),
            synced,
            attested,
        }
    }

    #[test]
    fn the_policy_names_the_rule_it_applies() {
        let open = PasskeyPolicy::default();
        assert_eq!(open.admits(&key(GPM, true, false)), Ok(()));

        let device_bound = PasskeyPolicy {
            allow_synced: false,
            ..Default::default()
        };
        assert_eq!(
            device_bound.admits(&key(GPM, true, false)),
            Err(PolicyRefusal::Synced)
        );
        assert_eq!(device_bound.admits(&key(YUBIKEY, false, false)), Ok(()));

        let yubikeys = PasskeyPolicy {
            aaguid_allow: vec![YUBIKEY.to_uppercase()],
            require_attestation: true,
            attestation_roots: vec!["/etc/postern/yubico-root.pem".into()],
            ..Default::default()
        };
        assert_eq!(yubikeys.validate(), Ok(()));
        assert_eq!(
            yubikeys.admits(&key(GPM, true, true)),
            Err(PolicyRefusal::NotAllowed)
        );
        assert_eq!(
            yubikeys.admits(&key(YUBIKEY, false, false)),
            Err(PolicyRefusal::NotAttested)
        );
        assert_eq!(yubikeys.admits(&key(YUBIKEY, false, true)), Ok(()));

        let no_gpm = PasskeyPolicy {
            aaguid_block: vec![GPM.replace('-', "")],
            ..Default::default()
        };
        assert_eq!(
            no_gpm.admits(&key(GPM, true, false)),
            Err(PolicyRefusal::Blocked)
        );
        assert!(PolicyRefusal::Blocked.message().contains("aaguid_block"));
    }

    #[test]
    fn settings_are_checked_at_start() {
        let bad = PasskeyPolicy {
            aaguid_allow: vec!["yubikey".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("'yubikey'"));
        let both = PasskeyPolicy {
            aaguid_allow: vec![GPM.into()],
            aaguid_block: vec![GPM.to_uppercase()],
            ..Default::default()
        };
        assert!(both.validate().unwrap_err().contains("both"));
        let no_roots = PasskeyPolicy {
            require_attestation: true,
            aaguid_allow: vec![YUBIKEY.into()],
            ..Default::default()
        };
        assert!(
            no_roots
                .validate()
                .unwrap_err()
                .contains("attestation_roots")
        );
        assert_eq!(PasskeyPolicy::default().validate(), Ok(()));
    }

    #[test]
    fn models_and_amr() {
        assert_eq!(default_name(Some(GPM)), "Google Password Manager");
        assert_eq!(default_name(Some(YUBIKEY)), "YubiKey 5 NFC");
        assert_eq!(default_name(None), "Passkey");
        assert_eq!(amr(true), "swk");
        assert_eq!(amr(false), "hwk");
        assert_eq!(normalize_aaguid("not-a-uuid"), None);
    }
}
