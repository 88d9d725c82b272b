//! The Postern Authenticator's API: what the app and the server say to each other.
//!
//! Base path `{issuer}/api/authenticator/v1`. Activation is the only unsigned call (it carries the
//! single-use activation code from the QR/link). Every other request is signed with the device's
//! key — Ed25519, or ECDSA P-256 with SHA-256 for browsers whose WebCrypto has no Ed25519 (see
//! [`KeyAlgorithm`]) — whose private half never leaves the app (the CLI's vault, or the web
//! app's non-extractable WebCrypto key):
//!
//! ```text
//! Postern-Device: <device id>
//! Postern-Timestamp: <unix milliseconds>
//! Postern-Signature: base64url(signature over signing_input)
//! signing_input = METHOD "\n" PATH_AND_QUERY "\n" base64url(SHA-256(body)) "\n" TIMESTAMP "\n" DEVICE_ID
//! ```
//!
//! The server refuses a timestamp more than [`MAX_SKEW_MS`] from its clock (the refusal carries
//! the server's time, so an app with a wrong clock can correct itself), a signature it has already
//! seen (replay), and a device that was removed. An answer to a push is such a signed request, so
//! its signature covers the challenge id (in the path), the decision, the number and the time.
//!
//! Web Push (RFC 8030/8291/8292) is only a wake-up call on top: an app may register a browser push
//! subscription for its device ([`WebPushSubscription`]); the server then sends an encrypted
//! notification for each new request, holding nothing secret (never the number). What is pending
//! is always fetched from `pending` or `events`.

use serde::{Deserialize, Serialize};

/// Path prefix of the API under the issuer.
pub const API_PREFIX: &str = "/api/authenticator/v1";
/// Path (under the issuer) of activation links: `{issuer}/authenticator/activate?code=…`.
pub const ACTIVATION_PATH: &str = "/authenticator/activate";

pub const HEADER_DEVICE: &str = "postern-device";
pub const HEADER_TIMESTAMP: &str = "postern-timestamp";
pub const HEADER_SIGNATURE: &str = "postern-signature";

/// How far a request's timestamp may be from the server's clock.
pub const MAX_SKEW_MS: i64 = 60_000;

/// The bytes a device signs for one request.
pub fn signing_input(
    method: &str,
    path_and_query: &str,
    body_sha256_b64url: &str,
    timestamp_ms: i64,
    device_id: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{body_sha256_b64url}\n{timestamp_ms}\n{device_id}")
}

/// The device key's algorithm, as its signatures are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// Ed25519 (RFC 8032): a 32-byte public key, 64-byte signatures. The CLI's, and the web app's
    /// where WebCrypto has it.
    #[default]
    Ed25519,
    /// ECDSA over P-256 with SHA-256: the public key as the 65-byte uncompressed point, signatures
    /// as the 64-byte `r || s` that WebCrypto produces (IEEE P1363, not DER).
    P256,
}

impl KeyAlgorithm {
    /// The length of a valid public key.
    pub fn public_key_len(self) -> usize {
        match self {
            KeyAlgorithm::Ed25519 => 32,
            KeyAlgorithm::P256 => 65,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::P256 => "p256",
        }
    }
}

/// `POST {API_PREFIX}/activate` (unsigned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateRequest {
    /// The `code` of the activation link.
    pub code: String,
    /// The device's public key, base64url without padding (32 bytes for Ed25519, the 65-byte
    /// uncompressed point for P-256).
    pub public_key: String,
    /// Absent means Ed25519 (what every app sent before P-256 was accepted).
    #[serde(default)]
    pub key_algorithm: KeyAlgorithm,
    /// Shown to the user and the helpdesk ("Pixel 7", "Ada's laptop").
    pub device_name: String,
    pub app_version: String,
}

/// The account the device now belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The server's issuer URL (the API lives under it).
    pub issuer: String,
    pub organisation: String,
    pub username: String,
}

/// The answer to a successful activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateResponse {
    pub device_id: String,
    pub account: AccountInfo,
    /// An `otpauth://totp/…` URI: the same app shows 6-digit codes for this account, offline.
    pub totp_uri: String,
    pub server_time_ms: i64,
}

/// A push request waiting for an answer, as the app sees it. Never the number: only the
/// browser shows it, and the user types it into the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChallenge {
    pub id: String,
    /// The application the user is signing in to.
    pub app: String,
    /// The address the sign-in comes from.
    pub ip: String,
    pub username: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339.
    pub expires: String,
}

/// `GET {API_PREFIX}/pending`: what is waiting now (also sent first on every event stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingList {
    pub challenges: Vec<PendingChallenge>,
    pub server_time_ms: i64,
}

/// The app's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

/// `POST {API_PREFIX}/challenges/{id}/answer` (signed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRequest {
    pub decision: Decision,
    /// The number the user typed (required to approve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// With a denial: "I didn't try to sign in" (blocks push for the user, flags the sign-in).
    #[serde(default)]
    pub report: bool,
}

/// What an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerOutcome {
    Approved,
    Denied,
    /// The number did not match (counts as a failed attempt; the request is over).
    WrongNumber,
    Expired,
    /// Answered already (by this or another device).
    AlreadyAnswered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerResponse {
    pub outcome: AnswerOutcome,
}

/// `GET {API_PREFIX}/device` (signed): is this registration still valid; the server's clock.
/// `DELETE` on the same path removes this device from its account (the app's "Remove from this
/// phone"): 204, or 409 `last_method` when it is the account's only way in while the policy
/// requires a second factor (the same rule as Security info).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub device_id: String,
    pub device_name: String,
    pub username: String,
    pub server_time_ms: i64,
}

/// Errors of the API: `{"error": "...", "message": "..."}` with a 4xx status. `error` is one of
/// `invalid_request`, `activation_invalid`, `unknown_device`, `bad_signature`, `clock_skew`,
/// `replayed`, `not_found`, `rate_limited`, `last_method`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    pub message: String,
    /// With `clock_skew`: the server's clock (unix ms), so the app can sign with corrected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time_ms: Option<i64>,
}

/// `GET {API_PREFIX}/web-push` (unsigned): what a browser needs to subscribe to Web Push for this
/// server — the VAPID public key (RFC 8292), the uncompressed P-256 point in base64url, given to
/// `PushManager.subscribe` as `applicationServerKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushInfo {
    pub application_server_key: String,
}

/// The keys of a browser push subscription (RFC 8291), base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushKeys {
    /// The subscription's P-256 public key (65-byte uncompressed point).
    pub p256dh: String,
    /// The 16-byte authentication secret.
    pub auth: String,
}

/// `PUT {API_PREFIX}/web-push/subscription` (signed): a browser push subscription for this
/// device, in the shape of `PushSubscription.toJSON()`. The endpoint must be an `https://` URL on
/// a public address; a device keeps at most [`MAX_WEB_PUSH_SUBSCRIPTIONS`] (the oldest goes).
/// `DELETE` on the same path removes the device's subscriptions. Both answer 204.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebPushSubscription {
    pub endpoint: String,
    pub keys: WebPushKeys,
    #[serde(
        default,
        rename = "expirationTime",
        skip_serializing_if = "Option::is_none"
    )]
    /// When the browser will end it (ms since the epoch), if it says; not used by the server.
    pub expiration_time: Option<f64>,
}

/// Subscriptions kept per device (a browser that re-subscribes replaces its old endpoint).
pub const MAX_WEB_PUSH_SUBSCRIPTIONS: usize = 3;

/// The decrypted body of a Web Push message: a wake-up call, nothing secret (never the number).
/// The app fetches the request itself (`pending`), signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushMessage {
    /// `challenge`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The device the request is for (the app may hold several accounts).
    pub device_id: String,
    /// The push request's id.
    pub challenge_id: String,
    /// The application the sign-in is for, for the notification's text.
    pub app: String,
}

/// Server-sent events on `GET {API_PREFIX}/events` (signed): `event: challenge` with a
/// [`PendingChallenge`] as data when a push arrives (after the pending ones at connect), and
/// `event: resolved` with `{"id": …}` when one is answered or expires; comments keep it alive.
pub const EVENT_CHALLENGE: &str = "challenge";
pub const EVENT_RESOLVED: &str = "resolved";
