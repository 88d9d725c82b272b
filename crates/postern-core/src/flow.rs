//! The sign-in flow: one state machine per sign-in, spanning its HTTP requests and carrying the
//! correlation id.
//!
//! `Password` → (`SecondFactor` →) `Complete`. Each credential step is a function from the flow and
//! what was checked to a [`Step`]: stay with an error, advance, or interrupt. The next issues add
//! second-factor handlers that move `SecondFactor` to `Complete` without reshaping this.

use crate::oidc::authorize::AuthorizeRequest;
use crate::policy::AfterPassword;
use crate::signin_log::StepResult;
use crate::softlock::FailureRecorded;
use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// How long a sign-in page stays usable.
pub const FLOW_LIFETIME: Duration = Duration::minutes(15);

/// Where a sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FlowState {
    /// Waiting for username and password.
    Password,
    /// The password was accepted; a second factor is due.
    SecondFactor { user_id: String, amr: Vec<String> },
    /// Signed in; an authorization code may be issued.
    Complete {
        user_id: String,
        amr: Vec<String>,
        auth_time_ms: i64,
    },
}

impl FlowState {
    pub fn name(&self) -> &'static str {
        match self {
            FlowState::Password => "password",
            FlowState::SecondFactor { .. } => "second_factor",
            FlowState::Complete { .. } => "complete",
        }
    }
}

/// A sign-in in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    pub correlation_id: String,
    /// Hash of the browser cookie the flow is bound to.
    pub browser_hash: String,
    pub request: AuthorizeRequest,
    pub client_name: String,
    pub state: FlowState,
    /// Anti-forgery token echoed by the flow's forms.
    pub csrf: String,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
}

impl Flow {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires
    }
}

/// What checking a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// The password is right; `after` says what the policy wants next.
    Correct {
        user_id: String,
        after: AfterPassword,
    },
    /// Wrong password for a known account, with what the lockout made of it.
    Wrong(FailureRecorded),
    /// No account with that username (the user sees the same as `Wrong`).
    UnknownUser,
    /// Locked: the password was not checked.
    Locked { until: OffsetDateTime },
    /// Right password, disabled account.
    Disabled,
}

/// The result of a credential step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Stay on the same page with this error.
    Retry { code: ErrorCode },
    /// Move the flow to a new state.
    Advance(FlowState),
    /// Stop for something the user must do first (e.g. register a second factor).
    Interrupt { code: ErrorCode, user_id: String },
}

/// One password step: the flow's next state and the sign-in log line (result + plain words).
pub fn password_step(outcome: &PasswordOutcome, now: OffsetDateTime) -> (Step, StepResult, String) {
    let at = |t: OffsetDateTime| crate::clock::iso8601(t);
    match outcome {
        PasswordOutcome::Correct { user_id, after } => {
            let amr = vec!["pwd".to_owned()];
            match after {
                AfterPassword::Complete => (
                    Step::Advance(FlowState::Complete {
                        user_id: user_id.clone(),
                        amr,
                        auth_time_ms: crate::clock::to_millis(now),
                    }),
                    StepResult::Success,
                    "password correct; no second factor required by policy".into(),
                ),
                AfterPassword::SecondFactor => (
                    Step::Advance(FlowState::SecondFactor {
                        user_id: user_id.clone(),
                        amr,
                    }),
                    StepResult::Success,
                    "password correct; a second factor is required".into(),
                ),
                AfterPassword::RegisterSecondFactor => (
                    Step::Interrupt {
                        code: ErrorCode::MfaRegistrationRequired,
                        user_id: user_id.clone(),
                    },
                    StepResult::Success,
                    "password correct; the user must register a second factor (policy: required)"
                        .into(),
                ),
            }
        }
        PasswordOutcome::Wrong(FailureRecorded::Counted { remaining }) => (
            Step::Retry {
                code: ErrorCode::InvalidCredentials,
            },
            StepResult::Failure,
            format!("wrong password; {remaining} more failure(s) lock the account"),
        ),
        PasswordOutcome::Wrong(FailureRecorded::Repeated) => (
            Step::Retry {
                code: ErrorCode::InvalidCredentials,
            },
            StepResult::Failure,
            "wrong password, the same as a recent attempt (not counted again towards the lockout)"
                .into(),
        ),
        PasswordOutcome::Wrong(FailureRecorded::Locked { until }) => (
            Step::Retry {
                code: ErrorCode::AccountLocked,
            },
            StepResult::Failure,
            format!(
                "wrong password; too many failures: the account is locked until {}",
                at(*until)
            ),
        ),
        PasswordOutcome::UnknownUser => (
            Step::Retry {
                code: ErrorCode::InvalidCredentials,
            },
            StepResult::Failure,
            "no account has this username".into(),
        ),
        PasswordOutcome::Locked { until } => (
            Step::Retry {
                code: ErrorCode::AccountLocked,
            },
            StepResult::Failure,
            format!(
                "account locked until {} after repeated failures; the password was not checked",
                at(*until)
            ),
        ),
        PasswordOutcome::Disabled => (
            Step::Retry {
                code: ErrorCode::AccountDisabled,
            },
            StepResult::Failure,
            "password correct, but the account is disabled".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_steps() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let (step, result, _) = password_step(
            &PasswordOutcome::Correct {
                user_id: "u".into(),
                after: AfterPassword::Complete,
            },
            now,
        );
        assert!(matches!(step, Step::Advance(FlowState::Complete { .. })));
        assert_eq!(result, StepResult::Success);

        let (step, _, detail) = password_step(&PasswordOutcome::UnknownUser, now);
        assert_eq!(
            step,
            Step::Retry {
                code: ErrorCode::InvalidCredentials
            }
        );
        assert!(detail.contains("no account"));

        let (wrong, _, _) = password_step(
            &PasswordOutcome::Wrong(FailureRecorded::Counted { remaining: 3 }),
            now,
        );
        assert_eq!(
            wrong, step,
            "unknown users and wrong passwords look the same to the user"
        );

        let (step, _, detail) = password_step(&PasswordOutcome::Locked { until: now }, now);
        assert_eq!(
            step,
            Step::Retry {
                code: ErrorCode::AccountLocked
            }
        );
        assert!(detail.contains("not checked"));

        let (step, _, _) = password_step(
            &PasswordOutcome::Correct {
                user_id: "u".into(),
                after: AfterPassword::RegisterSecondFactor,
            },
            now,
        );
        assert!(matches!(
            step,
            Step::Interrupt {
                code: ErrorCode::MfaRegistrationRequired,
                ..
            }
        ));
    }
}
