//! Passkeys and security keys on the server: the WebAuthn ceremonies around
//! `postern_core::credential::passkey`'s rules.
//!
//! The library is `webauthn-rs` 0.6 (kanidm's, maintained, no OpenSSL): it checks the challenge,
//! origin, RP id, type, flags (user presence and verification), algorithm, signature and the
//! signature counter. Its passkey profile always requires user verification, so a passkey is two
//! factors on its own. The RP id is the issuer's host and the only origin is the issuer's.
//!
//! A ceremony's state is stored (`Store::put_ceremony`), keyed by the sign-in flow or the Security
//! info session it belongs to; finishing takes it out of the store, so it is single-use, short-lived
//! and any node can finish what another started. Nothing here decides what a sign-in does next:
//! [`sign_in::check`] returns a `PasskeyOutcome` for `Flow::advance`.

pub mod register;
pub mod sign_in;

use postern_core::credential::method::{Method, MethodSecret};
use postern_core::credential::passkey::{Authenticator, PasskeyPolicy};
use serde_json::Value;
use time::Duration;
use webauthn_rs::prelude::{
    AttestationCaList, AttestationCaListBuilder, Passkey, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// How long a browser has to answer a ceremony (the browser's own timeout is the same).
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(5);

/// The WebAuthn relying party and the organisation's passkey policy.
pub struct Passkeys {
    /// `None` when the issuer cannot be a relying party (see [`Passkeys::unavailable`]).
    rp: Option<Webauthn>,
    unavailable: Option<String>,
    /// The makers' roots and the models each may attest (`passkeys.require_attestation`).
    attestation: Option<AttestationCaList>,
    pub policy: PasskeyPolicy,
}

/// The trusted attestation roots: each file's certificate may attest each allowed model.
fn attestation_roots(policy: &PasskeyPolicy) -> Result<Option<AttestationCaList>, String> {
    if !policy.require_attestation {
        return Ok(None);
    }
    let mut list = AttestationCaListBuilder::new();
    for file in &policy.attestation_roots {
        let pem = std::fs::read(file)
            .map_err(|e| format!("passkeys.attestation_roots: cannot read '{file}': {e}"))?;
        for aaguid in &policy.aaguid_allow {
            let id = Uuid::parse_str(aaguid)
                .map_err(|e| format!("passkeys.aaguid_allow: '{aaguid}': {e}"))?;
            let name = postern_core::credential::passkey::model_name(Some(aaguid))
                .unwrap_or("allowed model");
            list.insert_device_pem(&pem, id, name.to_owned(), Default::default())
                .map_err(|e| {
                    format!("passkeys.attestation_roots: '{file}' is not a PEM certificate: {e:?}")
                })?;
        }
    }
    Ok(Some(list.build()))
}

impl Passkeys {
    /// The relying party of a server at `issuer`: RP id its host, origin its origin. An issuer
    /// whose host is an IP address cannot have passkeys (WebAuthn RP ids are domain names):
    /// Postern runs without them and says why.
    pub fn new(issuer: &str, organisation: &str, policy: PasskeyPolicy) -> Result<Self, String> {
        let origin = Url::parse(issuer).map_err(|e| format!("issuer '{issuer}': {e}"))?;
        if matches!(
            origin.host(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) | None
        ) {
            let why = format!(
                "passkeys are off: the issuer '{issuer}' is an IP address, and WebAuthn needs a domain name (use http://localhost:PORT for a local test, or the server's DNS name)"
            );
            return Ok(Passkeys {
                rp: None,
                unavailable: Some(why),
                attestation: None,
                policy,
            });
        }
        let rp_id = origin.host_str().unwrap_or_default().to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| {
                b.rp_name(organisation)
                    .timeout(std::time::Duration::from_secs(
                        CEREMONY_LIFETIME.whole_seconds().unsigned_abs(),
                    ))
                    .build()
            })
            .map_err(|e| format!("passkeys cannot be set up for issuer '{issuer}': {e}"))?;
        Ok(Passkeys {
            rp: Some(webauthn),
            unavailable: None,
            attestation: attestation_roots(&policy)?,
            policy,
        })
    }

    /// Why passkeys cannot be used on this server, if they cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    pub fn available(&self) -> bool {
        self.rp.is_some()
    }

    /// "Sign in with a passkey" on the first page.
    pub fn passwordless(&self) -> bool {
        self.available() && self.policy.passwordless
    }

    /// The relying party, or the store error a ceremony started anyway reports.
    fn webauthn(&self) -> Result<&Webauthn, postern_store::StoreError> {
        self.rp.as_ref().ok_or_else(|| {
            postern_store::StoreError::Corrupt(self.unavailable.clone().unwrap_or_default())
        })
    }
}

/// The WebAuthn user handle of a user: the user id when it is a UUID (every id Postern makes),
/// else a hash of it. It names the user in a passwordless sign-in, and is checked against the
/// owner of the credential.
pub fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let digest = postern_core::secret::sha256(user_id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    })
}

/// The stored credential of a passkey method, as the library reads it.
fn credential_of(method: &Method) -> Option<Passkey> {
    match &method.secret {
        MethodSecret::Passkey { credential, .. } => serde_json::from_str(credential).ok(),
        _ => None,
    }
}

/// What the policy looks at in a registered passkey.
fn authenticator_of(method: &Method) -> Option<Authenticator> {
    match &method.secret {
        MethodSecret::Passkey {
            aaguid,
            synced,
            attested,
            ..
        } => Some(Authenticator {
            aaguid: aaguid.clone(),
            synced: *synced,
            attested: *attested,
        }),
        _ => None,
    }
}

/// The signature counter the library keeps in a stored credential (0: the authenticator keeps
/// none, as synced passkeys do).
fn counter_of(credential: &Value) -> u64 {
    credential
        .pointer("/cred/counter")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Ceremony keys: one ceremony per sign-in flow, one per Security info session.
pub fn flow_key(flow_id: &str) -> String {
    format!("flow:{flow_id}")
}

pub fn session_key(session_hash: &str) -> String {
    format!("session:{session_hash}")
}
