//! The words and codes of the credential steps: what a password or second-factor outcome means
//! for the flow, the user and the sign-in log. Only [`super::Flow::advance`] reads them.

use super::{CodeRefusal, FlowState, PasswordOutcome, SecondFactorOutcome};
use crate::credential::method::MethodKind;
use crate::policy::AfterPassword;
use crate::signin_log::StepResult;
use crate::softlock::FailureRecorded;
use postern_proto::ErrorCode;
use time::OffsetDateTime;

/// The result of a credential step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Stay on the same page with this error.
    Retry { code: ErrorCode },
    /// Move the flow to a new state.
    Advance(FlowState),
    /// Stop for something the user must do first (e.g. register a second factor); the flow moves
    /// to `next`, where that happens.
    Interrupt { code: ErrorCode, next: FlowState },
}

/// One password step: the flow's next state and the sign-in log line (result + plain words).
pub(super) fn password_step(
    outcome: &PasswordOutcome,
    now: OffsetDateTime,
) -> (Step, StepResult, String) {
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
                        continue_pending: false,
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
                        next: FlowState::RegisterSecondFactor {
                            user_id: user_id.clone(),
                            amr,
                        },
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

/// Adds a method's `amr` values to those already earned (`mfa` once two factors are in).
pub fn amr_with(amr: &[String], kind: MethodKind) -> Vec<String> {
    amr_plus(amr, kind.amr())
}

/// `amr` with `value` and `mfa` added (each once).
pub fn amr_plus(amr: &[String], value: &str) -> Vec<String> {
    let mut out = amr.to_vec();
    for v in [value, "mfa"] {
        if !out.iter().any(|m| m == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// One second-factor step of `user_id` (who already earned `amr`) with the method called
/// `method_name`: the flow's next state and the sign-in log line.
pub(super) fn second_factor_step(
    user_id: &str,
    amr: &[String],
    method_name: &str,
    outcome: &SecondFactorOutcome,
    now: OffsetDateTime,
) -> (Step, StepResult, String) {
    let at = |t: OffsetDateTime| crate::clock::iso8601(t);
    let lock_words = |recorded: &Option<FailureRecorded>| match recorded {
        Some(FailureRecorded::Counted { remaining }) => {
            format!("; {remaining} more wrong code(s) lock the second step")
        }
        Some(FailureRecorded::Repeated) => {
            "; the same wrong code as a recent attempt (not counted again)".into()
        }
        Some(FailureRecorded::Locked { until }) => format!(
            "; too many wrong codes: the second step is locked until {}",
            at(*until)
        ),
        None => String::new(),
    };
    match outcome {
        SecondFactorOutcome::Accepted {
            kind,
            drift,
            remaining,
        } => {
            let detail = match kind {
                MethodKind::Totp if *drift != 0 => format!(
                    "code from '{method_name}' accepted (device clock off by {drift} step(s); allowed for next time)"
                ),
                MethodKind::Totp => format!("code from '{method_name}' accepted"),
                MethodKind::Push => {
                    format!("push approved on '{method_name}' with the matching number")
                }
                MethodKind::Passkey => format!("passkey '{method_name}' accepted"),
                MethodKind::RecoveryCodes => {
                    format!("recovery code accepted and used up; {remaining} left")
                }
            };
            (
                Step::Advance(FlowState::Complete {
                    user_id: user_id.to_owned(),
                    amr: amr_with(amr, *kind),
                    auth_time_ms: crate::clock::to_millis(now),
                    continue_pending: false,
                }),
                StepResult::Success,
                detail,
            )
        }
        SecondFactorOutcome::Refused {
            kind,
            why,
            recorded,
        } => {
            let locked = matches!(recorded, Some(FailureRecorded::Locked { .. }));
            let code = match (why, locked) {
                (_, true) => ErrorCode::SecondFactorLocked,
                (CodeRefusal::Replay, _) => ErrorCode::VerificationCodeReused,
                _ => ErrorCode::WrongVerificationCode,
            };
            let what = match (kind, why) {
                (MethodKind::Totp, CodeRefusal::Wrong) => {
                    format!("wrong code from '{method_name}'")
                }
                (MethodKind::Totp, CodeRefusal::Replay) => format!(
                    "code from '{method_name}' refused: code from a time step already used (replay)"
                ),
                (MethodKind::Totp, CodeRefusal::ClockOff { off_by }) => format!(
                    "code from '{method_name}' off by {off_by} steps ({} s): check the device clock; counted as a wrong code",
                    off_by * 30
                ),
                (MethodKind::Push, _) => {
                    format!("push answered on '{method_name}' with a wrong number")
                }
                (MethodKind::Passkey, _) => format!("passkey '{method_name}' refused"),
                (MethodKind::RecoveryCodes, CodeRefusal::Replay) => {
                    "recovery code already used".to_owned()
                }
                (MethodKind::RecoveryCodes, _) => "wrong recovery code".to_owned(),
            };
            (
                Step::Retry { code },
                StepResult::Failure,
                format!("{what}{}", lock_words(recorded)),
            )
        }
        SecondFactorOutcome::Locked { until } => (
            Step::Retry {
                code: ErrorCode::SecondFactorLocked,
            },
            StepResult::Failure,
            format!(
                "second step locked until {} after repeated wrong codes; the code was not checked",
                at(*until)
            ),
        ),
    }
}
