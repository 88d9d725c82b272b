//! Registering a passkey or security key: the options the browser's `navigator.credentials.create`
//! takes (the user's passkeys excluded, a discoverable credential preferred so it also signs in
//! without a password), and checking its answer — the library's checks, then the policy, then a
//! credential id no account has yet.

use super::{CEREMONY_LIFETIME, Passkeys, authenticator_of, user_handle};
use crate::methods::clean_name;
use crate::state::AppState;
use postern_core::ErrorCode;
use postern_core::credential::method::{Method, MethodKind, MethodSecret};
use postern_core::credential::passkey::{Authenticator, PolicyRefusal, default_name};
use postern_core::random;
use postern_core::user::User;
use postern_store::{Ceremony, StoreError};
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    AttestedPasskeyRegistration, CredentialID, PasskeyRegistration, RegisterPublicKeyCredential,
    WebauthnError,
};

const PURPOSE: &str = "register";
/// A registration that must chain to a trusted maker's root (`passkeys.require_attestation`).
const PURPOSE_ATTESTED: &str = "register_attested";

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No registration of this page was waiting (expired, already answered, another tab).
    Stale,
    /// The answer did not check out; what failed.
    Invalid(String),
    /// This authenticator already holds a passkey for an account here.
    AlreadyRegistered,
    Policy(PolicyRefusal),
}

impl Refusal {
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Policy(_) => ErrorCode::PasskeyNotAllowed,
            Refusal::Stale => ErrorCode::FlowExpired,
            Refusal::Invalid(_) | Refusal::AlreadyRegistered => ErrorCode::PasskeyFailed,
        }
    }

    /// For the user.
    pub fn shown(&self) -> String {
        match self {
            Refusal::Stale => "That passkey request had expired. Try again.".into(),
            Refusal::Invalid(_) => {
                "The passkey could not be added: its answer could not be checked. Try again.".into()
            }
            Refusal::AlreadyRegistered => {
                "This passkey or security key is already registered. Use it to sign in, or add another one.".into()
            }
            Refusal::Policy(p) => p.message().into(),
        }
    }

    /// For the sign-in log and the audit log.
    pub fn words(&self) -> String {
        match self {
            Refusal::Stale => {
                "no registration of this page was waiting (expired or already answered)".into()
            }
            Refusal::Invalid(what) => format!("the authenticator's answer was refused: {what}"),
            Refusal::AlreadyRegistered => {
                "this authenticator's credential is already registered (excluded)".into()
            }
            Refusal::Policy(p) => format!("refused by policy: {}", p.message()),
        }
    }
}

/// Whether `credential_id` is one of `user`'s passkeys (excluded from their registrations).
async fn registration_excludes(
    state: &AppState,
    user: &User,
    credential_id: &[u8],
) -> Result<bool, StoreError> {
    let methods = state.store.list_methods(&user.id).await?;
    Ok(registered_ids(&methods)
        .iter()
        .any(|id| id.as_slice() == credential_id))
}

/// The credential ids of a user's passkeys (excluded from a new registration).
fn registered_ids(methods: &[Method]) -> Vec<CredentialID> {
    // `CredentialID` is the library's name for the raw bytes.
    methods
        .iter()
        .filter_map(|m| match &m.secret {
            MethodSecret::Passkey { credential_id, .. } => data_encoding::BASE64URL_NOPAD
                .decode(credential_id.as_bytes())
                .ok(),
            _ => None,
        })
        .collect()
}

/// Starts a registration for `user` under the ceremony `key`: the options for the browser.
pub async fn start(
    state: &AppState,
    key: &str,
    user: &User,
    methods: &[Method],
) -> Result<Value, StoreError> {
    let passkeys: &Passkeys = &state.passkeys;
    let display = user.name.clone().unwrap_or_else(|| user.username.clone());
    let webauthn = passkeys.webauthn()?;
    let handle = user_handle(&user.id);
    let excluded = Some(registered_ids(methods));
    let failed = |e: WebauthnError| StoreError::Corrupt(format!("passkey registration: {e}"));
    let (options, purpose, registration) = match &passkeys.attestation {
        None => {
            let (options, state) = webauthn
                .start_passkey_registration(handle, &user.username, &display, excluded)
                .map_err(failed)?;
            (options, PURPOSE, serde_json::to_string(&state))
        }
        Some(roots) => {
            let (options, state) = webauthn
                .start_attested_passkey_registration(
                    handle,
                    &user.username,
                    &display,
                    excluded,
                    roots.clone(),
                    None,
                )
                .map_err(failed)?;
            (options, PURPOSE_ATTESTED, serde_json::to_string(&state))
        }
    };
    let registration = registration
        .map_err(|e| StoreError::Corrupt(format!("passkey registration state: {e}")))?;
    let mut options = serde_json::to_value(options)
        .map_err(|e| StoreError::Corrupt(format!("passkey registration options: {e}")))?;
    if let Some(public_key) = options.get_mut("publicKey") {
        // A discoverable credential where the authenticator can keep one, so the same passkey
        // also signs in from the first page; a security key without room still works as the
        // second step. (The library asks for "discouraged"; its checks do not depend on it.)
        public_key["authenticatorSelection"]["residentKey"] = json!("preferred");
        public_key["authenticatorSelection"]["requireResidentKey"] = json!(false);
        // An allow-list reads the model: ask the browser not to hide it (attested
        // registrations ask for attestation already).
        if !passkeys.policy.aaguid_allow.is_empty() && passkeys.attestation.is_none() {
            public_key["attestation"] = json!("direct");
        }
    }
    let ceremony = Ceremony {
        purpose: purpose.into(),
        user_id: Some(user.id.clone()),
        state: registration,
        expires: state.clock.now() + CEREMONY_LIFETIME,
    };
    state.store.put_ceremony(key, &ceremony).await?;
    Ok(options)
}

/// The attested credential data of a registration's attestation object: the model's AAGUID
/// (`None` for zeros) and the credential id. Only read here; the library checks it all.
fn attested_data(answer: &RegisterPublicKeyCredential) -> Option<(Option<String>, Vec<u8>)> {
    use serde_cbor_2::Value as Cbor;
    let Ok(Cbor::Map(object)) = serde_cbor_2::from_slice(&answer.response.attestation_object)
    else {
        return None;
    };
    let Some((_, Cbor::Bytes(b))) = object
        .into_iter()
        .find(|(k, _)| *k == Cbor::Text("authData".into()))
    else {
        return None;
    };
    // rpIdHash (32) · flags (1) · signCount (4) · AAGUID (16) · id length (2) · id …
    if b.len() < 55 || b[32] & 0x40 == 0 {
        return None;
    }
    let aaguid = postern_core::credential::passkey::normalize_aaguid(
        &data_encoding::HEXLOWER.encode(&b[37..53]),
    )
    .filter(|a| a != "00000000-0000-0000-0000-000000000000");
    let len = usize::from(u16::from_be_bytes([b[53], b[54]]));
    let id = b.get(55..55 + len)?.to_vec();
    Some((aaguid, id))
}

fn attested_purpose(purpose: &str) -> bool {
    purpose == PURPOSE_ATTESTED
}

/// What the policy looks at in a new credential. `attested`: its attestation chained to a
/// trusted root (only then are the model and the flags more than its own claims).
fn authenticator_in(aaguid: Option<String>, stored: &Value, attested: bool) -> Authenticator {
    Authenticator {
        aaguid,
        synced: stored["cred"]["backup_eligible"].as_bool().unwrap_or(false),
        attested,
    }
}

/// Checks the browser's answer to the registration `key` of `user` and adds the passkey, named
/// `name` (else after its model). The ceremony is used up whatever the answer.
pub async fn finish(
    state: &AppState,
    key: &str,
    user: &User,
    answer: &str,
    name: &str,
) -> Result<Result<Method, Refusal>, StoreError> {
    let now = state.clock.now();
    let Some(ceremony) = state.store.take_ceremony(key, now).await? else {
        return Ok(Err(Refusal::Stale));
    };
    if ceremony.user_id.as_deref() != Some(user.id.as_str()) {
        return Ok(Err(Refusal::Stale));
    }
    let answer: RegisterPublicKeyCredential = match serde_json::from_str(answer) {
        Ok(a) => a,
        Err(e) => {
            return Ok(Err(Refusal::Invalid(format!(
                "not a WebAuthn answer ({e})"
            ))));
        }
    };
    let (aaguid, attested_id) = attested_data(&answer).unwrap_or_default();
    let webauthn = state.passkeys.webauthn()?;
    // Both library types store the same credential: the sign-in reads either as a passkey.
    let finished = match ceremony.purpose.as_str() {
        PURPOSE => match serde_json::from_str::<PasskeyRegistration>(&ceremony.state) {
            Ok(reg) => webauthn
                .finish_passkey_registration(&answer, &reg)
                .map(|p| (serde_json::to_value(&p), p.cred_id().clone(), false)),
            Err(_) => return Ok(Err(Refusal::Stale)),
        },
        PURPOSE_ATTESTED => {
            match serde_json::from_str::<AttestedPasskeyRegistration>(&ceremony.state) {
                Ok(reg) => webauthn
                    .finish_attested_passkey_registration(&answer, &reg)
                    .map(|p| (serde_json::to_value(&p), p.cred_id().clone(), true)),
                Err(_) => return Ok(Err(Refusal::Stale)),
            }
        }
        _ => return Ok(Err(Refusal::Stale)),
    };
    let (stored, cred_id, attested) = match finished {
        Ok(p) => p,
        // The library's word for one of the user's own (excluded) credentials sent again.
        Err(WebauthnError::CredentialAlteredAlgFromRequest)
            if registration_excludes(state, user, &attested_id).await? =>
        {
            return Ok(Err(Refusal::AlreadyRegistered));
        }
        // A maker not among the trusted roots, or a model they may not attest.
        Err(
            WebauthnError::AttestationChainNotTrusted(_)
            | WebauthnError::AttestationNotVerifiable
            | WebauthnError::AttestationUntrustedAaguid
            | WebauthnError::AttestationFormatMissingAaguid
            | WebauthnError::MissingAttestationCaList,
        ) if attested_purpose(&ceremony.purpose) => {
            return Ok(Err(Refusal::Policy(PolicyRefusal::NotAttested)));
        }
        Err(e) => return Ok(Err(Refusal::Invalid(e.to_string()))),
    };
    let stored = stored.map_err(|e| StoreError::Corrupt(format!("passkey credential: {e}")))?;
    let authenticator = authenticator_in(aaguid, &stored, attested);
    if let Err(rule) = state.passkeys.policy.admits(&authenticator) {
        return Ok(Err(Refusal::Policy(rule)));
    }
    let credential_id = data_encoding::BASE64URL_NOPAD.encode(cred_id.as_slice());
    if state.store.find_passkey(&credential_id).await?.is_some() {
        return Ok(Err(Refusal::AlreadyRegistered));
    }
    let method = Method {
        id: random::uuid(&*state.rng),
        user_id: user.id.clone(),
        name: clean_name(name, default_name(authenticator.aaguid.as_deref())),
        created: now,
        last_used: None,
        is_default: false,
        secret: MethodSecret::Passkey {
            credential_id,
            credential: stored.to_string(),
            aaguid: authenticator.aaguid,
            synced: authenticator.synced,
            attested: authenticator.attested,
        },
        version: 1,
    };
    match state.store.create_method(&method).await {
        Ok(()) => Ok(Ok(method)),
        // Another request registered the same credential meanwhile.
        Err(StoreError::Conflict(_)) => Ok(Err(Refusal::AlreadyRegistered)),
        Err(e) => Err(e),
    }
}

/// Whether a registered passkey still passes the policy: a model blocked (or no longer allowed)
/// since, or synced passkeys turned off since. Attestation can only be asked for at registration.
pub fn still_admitted(state: &AppState, method: &Method) -> Result<(), PolicyRefusal> {
    match authenticator_of(method) {
        Some(a) if method.kind() == MethodKind::Passkey => {
            let a = Authenticator {
                attested: true,
                ..a
            };
            state.passkeys.policy.admits(&a)
        }
        _ => Ok(()),
    }
}
