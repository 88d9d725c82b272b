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
