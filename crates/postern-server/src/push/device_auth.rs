//! Authenticating a request from a Postern Authenticator: the device id, a timestamp within
//! ±60 s of the server's clock, a signature by the device's registered key (Ed25519 or ECDSA
//! P-256) over the
//! method, path, body digest, timestamp and device id, and a signature never seen before (a
//! replayed request is refused on every node: the store remembers signatures while they could
//! still be accepted).

use crate::state::AppState;
use aws_lc_rs::{digest, signature};
use axum::http::{HeaderMap, Method as HttpMethod, Uri};
use postern_core::credential::method::{Method, MethodSecret};
use postern_proto::authenticator::{
    HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIMESTAMP, KeyAlgorithm, MAX_SKEW_MS, signing_input,
};
use postern_store::StoreError;
use time::Duration;

/// Why a device request was refused: the API's `error` value and words for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub message: String,
    /// With `clock_skew`: the server's time, so the app can correct its own.
    pub server_time_ms: Option<i64>,
}

fn refuse(error: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        error,
        message: message.into(),
        server_time_ms: None,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The path the device signed: the issuer's own path prefix (behind a proxy) and the request's
/// path and query.
fn signed_path(state: &AppState, uri: &Uri) -> String {
    let prefix = url::Url::parse(&state.issuer)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{prefix}{pq}")
}

/// Whether `sig` is `key`'s signature of `msg` (Ed25519, or ECDSA P-256 SHA-256 in the fixed
/// `r || s` form WebCrypto makes).
fn verify(alg: KeyAlgorithm, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let scheme: &dyn signature::VerificationAlgorithm = match alg {
        KeyAlgorithm::Ed25519 => &signature::ED25519,
        KeyAlgorithm::P256 => &signature::ECDSA_P256_SHA256_FIXED,
    };
    signature::UnparsedPublicKey::new(scheme, key)
        .verify(msg, sig)
        .is_ok()
}

/// Whether `key` is a public key of `alg` a device may register: the right length, and for
/// P-256 a point on the curve (checked by agreeing a key with it).
pub fn valid_public_key(alg: KeyAlgorithm, key: &[u8]) -> bool {
    if key.len() != alg.public_key_len() {
        return false;
    }
    match alg {
        KeyAlgorithm::Ed25519 => true,
        KeyAlgorithm::P256 => {
            use aws_lc_rs::agreement;
            key[0] == 0x04
                && agreement::EphemeralPrivateKey::generate(
                    &agreement::ECDH_P256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                )
                .is_ok_and(|mine| {
                    agreement::agree_ephemeral(
                        mine,
                        agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, key),
                        (),
                        |_| Ok(()),
                    )
                    .is_ok()
                })
        }
    }
}

/// The registered push device that signed this request.
pub async fn authenticate(
    state: &AppState,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<Method, Refusal>, StoreError> {
    let (Some(device_id), Some(ts), Some(sig)) = (
        header(headers, HEADER_DEVICE),
        header(headers, HEADER_TIMESTAMP),
        header(headers, HEADER_SIGNATURE),
    ) else {
        return Ok(Err(refuse(
            "bad_signature",
            "the request is not signed (Postern-Device, Postern-Timestamp, Postern-Signature)",
        )));
    };
    let Ok(ts_ms) = ts.parse::<i64>() else {
        return Ok(Err(refuse(
            "bad_signature",
            "Postern-Timestamp must be unix milliseconds",
        )));
    };
    let now = state.clock.now();
    let skew = postern_core::clock::to_millis(now) - ts_ms;
    if skew.abs() > MAX_SKEW_MS {
        return Ok(Err(Refusal {
            server_time_ms: Some(postern_core::clock::to_millis(now)),
            ..refuse(
                "clock_skew",
                format!(
                    "this device's clock is {} s {} the server's; set it automatically and try again",
                    skew.abs() / 1000,
                    if skew > 0 { "behind" } else { "ahead of" }
                ),
            )
        }));
    }
    if device_id.len() > 64 {
        return Ok(Err(refuse("unknown_device", "unknown device")));
    }
    let device = match state.store.find_method_by_id(device_id).await? {
        Some(m) if matches!(m.secret, MethodSecret::Push { .. }) => m,
        _ => {
            return Ok(Err(refuse(
                "unknown_device",
                "this device is not registered (it was removed from the account); add it again from Security info",
            )));
        }
    };
    let MethodSecret::Push {
        public_key,
        key_algorithm,
        ..
    } = &device.secret
    else {
        return Ok(Err(refuse("unknown_device", "unknown device")));
    };
    let (Ok(key), Ok(sig_bytes)) = (
        data_encoding::BASE64URL_NOPAD.decode(public_key.as_bytes()),
        data_encoding::BASE64URL_NOPAD.decode(sig.as_bytes()),
    ) else {
        return Ok(Err(refuse(
            "bad_signature",
            "the signature is not base64url",
        )));
    };
    let body_digest =
        data_encoding::BASE64URL_NOPAD.encode(digest::digest(&digest::SHA256, body).as_ref());
    let input = signing_input(
        method.as_str(),
        &signed_path(state, uri),
        &body_digest,
        ts_ms,
        device_id,
    );
    let verified = verify(*key_algorithm, &key, input.as_bytes(), &sig_bytes);
    if !verified {
        return Ok(Err(refuse(
            "bad_signature",
            "the signature does not match this device's key and this request",
        )));
    }
    // Kept for as long as its timestamp could still be accepted. What is remembered is the
    // signed request itself, not its signature: an ECDSA signature (r, s) has a twin (r, n - s)
    // that verifies as well, so a remembered P-256 signature would let a captured request in
    // once more under its twin.
    let keep_until = now + Duration::milliseconds(2 * MAX_SKEW_MS);
    let request_hash = postern_core::secret::hash_token(&input);
    if !state
        .store
        .record_signature(&request_hash, keep_until)
        .await?
    {
        return Ok(Err(refuse(
            "replayed",
            "this exact request was already received",
        )));
    }
    let disabled = state
        .store
        .find_user_by_id(&device.user_id)
        .await?
        .is_none_or(|u| u.disabled);
    if disabled {
        return Ok(Err(refuse(
            "unknown_device",
            "the account this device belongs to is disabled",
        )));
    }
    state.store.touch_device(&device.id, now).await?;
    Ok(Ok(device))
}
