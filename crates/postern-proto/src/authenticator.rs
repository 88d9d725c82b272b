//! The Postern Authenticator's API: what the app and the server say to each other.
//!
//! Base path `{issuer}/api/authenticator/v1`. Activation is the only unsigned call (it carries the
//! single-use activation code from the QR/link). Every other request is signed with the device's
//! Ed25519 key, whose private half never leaves the app's vault:
//!
//! ```text
//! Postern-Device: <device id>
//! Postern-Timestamp: <unix milliseconds>
//! Postern-Signature: base64url(Ed25519(signing_input))
//! signing_input = METHOD "\n" PATH_AND_QUERY "\n" base64url(SHA-256(body)) "\n" TIMESTAMP "\n" DEVICE_ID
//! ```
//!
//! The server refuses a timestamp more than [`MAX_SKEW_MS`] from its clock, a signature it has
//! already seen (replay), and a device that was removed. An answer to a push is such a signed
//! request, so its signature covers the challenge id (in the path), the decision, the number and
//! the time.

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

/// `POST {API_PREFIX}/activate` (unsigned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateRequest {
    /// The `code` of the activation link.
    pub code: String,
    /// The device's Ed25519 public key, 32 bytes, base64url without padding.
    pub public_key: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub device_id: String,
    pub device_name: String,
    pub username: String,
    pub server_time_ms: i64,
}

/// Errors of the API: `{"error": "...", "message": "..."}` with a 4xx status. `error` is one of
/// `invalid_request`, `activation_invalid`, `unknown_device`, `bad_signature`, `clock_skew`,
/// `replayed`, `not_found`, `rate_limited`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    pub message: String,
}

/// Server-sent events on `GET {API_PREFIX}/events` (signed): `event: challenge` with a
/// [`PendingChallenge`] as data when a push arrives (after the pending ones at connect), and
/// `event: resolved` with `{"id": …}` when one is answered or expires; comments keep it alive.
pub const EVENT_CHALLENGE: &str = "challenge";
pub const EVENT_RESOLVED: &str = "resolved";
