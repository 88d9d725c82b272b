//! The sign-in log model: one entry per sign-in flow (keyed by its correlation id), each with the
//! ordered steps that happened and the request ids of the HTTP requests that took part.
//!
//! The log is for people who must explain a failure. It never holds a password, code or token:
//! steps describe what happened in words ("wrong password; 9 attempts left before a lock").

use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How a sign-in ended (so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInResult {
    InProgress,
    Success,
    Failure,
    /// Stopped for a user action (e.g. registering a second factor).
    Interrupted,
}

impl SignInResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInResult::InProgress => "in_progress",
            SignInResult::Success => "success",
            SignInResult::Failure => "failure",
            SignInResult::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_progress" => SignInResult::InProgress,
            "success" => SignInResult::Success,
            "failure" => SignInResult::Failure,
            "interrupted" => SignInResult::Interrupted,
            _ => return None,
        })
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Success,
    Failure,
    Info,
}

impl StepResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Success => "success",
            StepResult::Failure => "failure",
            StepResult::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => StepResult::Success,
            "failure" => StepResult::Failure,
            "info" => StepResult::Info,
            _ => return None,
        })
    }
}

/// One step of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInStep {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The request during which it happened.
    pub request_id: String,
    /// What was checked: "password", "sso_session", "authorize", "token", …
    pub method: String,
    pub result: StepResult,
    /// Plain words for a helpdesk.
    pub detail: String,
    /// Why a step failed (or what it stopped for), as a stable key: what a diagnosis reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StepReason>,
}

/// Why a step failed or stopped, for the diagnosis to read (the `detail` is for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepReason {
    UnknownUser,
    WrongPassword,
    AccountLocked,
    AccountDisabled,
    WrongCode,
    CodeReused,
    /// A code that would be right on a clock off by more than the window allows.
    ClockDrift,
    SecondFactorLocked,
    NoMethodRegistered,
    /// No method left that works (every registered one used up).
    NoUsableMethod,
    PushNotDelivered,
    PushNotAnswered,
    PushDenied,
    PushReported,
    PushWrongNumber,
    /// Push refused before sending: blocked after a report, or too many requests.
    PushRefused,
    AccessPassWrong,
    AccessPassExpired,
    AccessPassUsed,
    UnknownClient,
    RedirectUriMismatch,
    /// A passkey that is not (any more) registered.
    PasskeyRemoved,
    /// A passkey whose signature counter went backwards: possibly cloned.
    PasskeyCounterWentBack,
    /// A passkey used without user verification.
    PasskeyNotVerified,
    /// A passkey answer that did not check out (signature, challenge, origin…).
    PasskeyInvalid,
    /// A passkey the policy does not allow.
    PasskeyNotAllowed,
}

impl StepReason {
    pub const ALL: [StepReason; 26] = [
        StepReason::UnknownUser,
        StepReason::WrongPassword,
        StepReason::AccountLocked,
        StepReason::AccountDisabled,
        StepReason::WrongCode,
        StepReason::CodeReused,
        StepReason::ClockDrift,
        StepReason::SecondFactorLocked,
        StepReason::NoMethodRegistered,
        StepReason::NoUsableMethod,
        StepReason::PushNotDelivered,
        StepReason::PushNotAnswered,
        StepReason::PushDenied,
        StepReason::PushReported,
        StepReason::PushWrongNumber,
        StepReason::PushRefused,
        StepReason::AccessPassWrong,
        StepReason::AccessPassExpired,
        StepReason::AccessPassUsed,
        StepReason::UnknownClient,
        StepReason::RedirectUriMismatch,
        StepReason::PasskeyRemoved,
        StepReason::PasskeyCounterWentBack,
        StepReason::PasskeyNotVerified,
        StepReason::PasskeyInvalid,
        StepReason::PasskeyNotAllowed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepReason::UnknownUser => "unknown_user",
            StepReason::WrongPassword => "wrong_password",
            StepReason::AccountLocked => "account_locked",
            StepReason::AccountDisabled => "account_disabled",
            StepReason::WrongCode => "wrong_code",
            StepReason::CodeReused => "code_reused",
            StepReason::ClockDrift => "clock_drift",
            StepReason::SecondFactorLocked => "second_factor_locked",
            StepReason::NoMethodRegistered => "no_method_registered",
            StepReason::NoUsableMethod => "no_usable_method",
            StepReason::PushNotDelivered => "push_not_delivered",
            StepReason::PushNotAnswered => "push_not_answered",
            StepReason::PushDenied => "push_denied",
            StepReason::PushReported => "push_reported",
            StepReason::PushWrongNumber => "push_wrong_number",
            StepReason::PushRefused => "push_refused",
            StepReason::AccessPassWrong => "access_pass_wrong",
            StepReason::AccessPassExpired => "access_pass_expired",
            StepReason::AccessPassUsed => "access_pass_used",
            StepReason::UnknownClient => "unknown_client",
            StepReason::RedirectUriMismatch => "redirect_uri_mismatch",
            StepReason::PasskeyRemoved => "passkey_removed",
            StepReason::PasskeyCounterWentBack => "passkey_counter_went_back",
            StepReason::PasskeyNotVerified => "passkey_not_verified",
            StepReason::PasskeyInvalid => "passkey_invalid",
            StepReason::PasskeyNotAllowed => "passkey_not_allowed",
        }
    }

    /// A stored key this version does not know reads as no reason (a newer node wrote it).
    pub fn parse(s: &str) -> Option<StepReason> {
        StepReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A sign-in log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInEntry {
    pub correlation_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    pub user_id: Option<String>,
    /// The username as typed (normalised), even when no such account exists.
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub result: SignInResult,
    pub error_code: Option<ErrorCode>,
    pub failure_reason: Option<String>,
    pub request_ids: Vec<String>,
    pub steps: Vec<SignInStep>,
}
