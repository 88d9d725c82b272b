//! The sign-in flow: one state machine per sign-in, spanning its HTTP requests and carrying the
//! correlation id.
//!
//! `Password` → (`SecondFactor` | `RegisterSecondFactor` →) `Complete`. Each credential step is a
//! function from the flow and what was checked to a [`Step`]: stay with an error, advance, or
//! interrupt. Every second factor (TOTP and recovery codes now; push and passkeys later) goes
//! through [`second_factor_step`], so each gets the same lockout, log words and `amr` rules.

use crate::credential::method::MethodKind;
use crate::oidc::authorize::AuthorizeRequest;
use crate::policy::AfterPassword;
use crate::signin_log::{StepReason, StepResult};
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
    /// The password was accepted; policy requires a second factor and the user has none: they
    /// must register one before the sign-in goes on (code 50079). There is no way past it.
    RegisterSecondFactor { user_id: String, amr: Vec<String> },
    /// Signed in; an authorization code may be issued.
    Complete {
        user_id: String,
        amr: Vec<String>,
        auth_time_ms: i64,
        /// The sign-in went to Security info first (after a recovery code); one code may still be
        /// issued to the application from there, once.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        continue_pending: bool,
    },
}

impl FlowState {
    pub fn name(&self) -> &'static str {
        match self {
            FlowState::Password => "password",
            FlowState::SecondFactor { .. } => "second_factor",
            FlowState::RegisterSecondFactor { .. } => "register_second_factor",
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

impl PasswordOutcome {
    /// The log's reason key for a refusal or interruption.
    pub fn reason(&self) -> Option<StepReason> {
        match self {
            PasswordOutcome::Correct {
                after: AfterPassword::RegisterSecondFactor,
                ..
            } => Some(StepReason::NoMethodRegistered),
            PasswordOutcome::Correct { .. } => None,
            PasswordOutcome::Wrong(FailureRecorded::Locked { .. })
            | PasswordOutcome::Locked { .. } => Some(StepReason::AccountLocked),
            PasswordOutcome::Wrong(_) => Some(StepReason::WrongPassword),
            PasswordOutcome::UnknownUser => Some(StepReason::UnknownUser),
            PasswordOutcome::Disabled => Some(StepReason::AccountDisabled),
        }
    }
}

/// The result of a credential step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Stay on the same page with this error.
    Retry { code: ErrorCode },
    /// Move the flow to a new state.
    Advance(FlowState),
    /// Stop for something the user must do first (e.g. register a second factor); the flow moves
    /// to `next`, where that happens.
    Interrupt { code: ErrorCode, next: FlowState },
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

/// Why a second-factor code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Not a code of this method.
    Wrong,
    /// Right, but its time step (or the recovery code) was already used.
    Replay,
    /// Right for a time `off_by` steps away: the device clock is off. Shown as a wrong code.
    ClockOff { off_by: i64 },
}

/// What checking a second factor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactorOutcome {
    /// Accepted. `drift` is the device's clock offset in steps (TOTP), `remaining` the recovery
    /// codes left.
    Accepted {
        kind: MethodKind,
        drift: i64,
        remaining: usize,
    },
    /// Refused; `recorded` is what the second-factor lockout made of the attempt (every attempt
    /// is counted before it is checked, replays included).
    Refused {
        kind: MethodKind,
        why: CodeRefusal,
        recorded: Option<FailureRecorded>,
    },
    /// The second step is locked: the code was not checked.
    Locked { until: OffsetDateTime },
}

impl SecondFactorOutcome {
    /// The log's reason key for a refusal.
    pub fn reason(&self) -> Option<StepReason> {
        match self {
            SecondFactorOutcome::Accepted { .. } => None,
            SecondFactorOutcome::Locked { .. }
            | SecondFactorOutcome::Refused {
                recorded: Some(FailureRecorded::Locked { .. }),
                ..
            } => Some(StepReason::SecondFactorLocked),
            SecondFactorOutcome::Refused { why, .. } => Some(match why {
                CodeRefusal::Wrong => StepReason::WrongCode,
                CodeRefusal::Replay => StepReason::CodeReused,
                CodeRefusal::ClockOff { .. } => StepReason::ClockDrift,
            }),
        }
    }
}

/// Adds a method's `amr` values to those already earned (`mfa` once two factors are in).
pub fn amr_with(amr: &[String], kind: MethodKind) -> Vec<String> {
    let mut out = amr.to_vec();
    for v in [kind.amr(), "mfa"] {
        if !out.iter().any(|m| m == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// One second-factor step of `user_id` (who already earned `amr`) with the method called
/// `method_name`: the flow's next state and the sign-in log line.
pub fn second_factor_step(
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
                next: FlowState::RegisterSecondFactor { .. },
            }
        ));
    }

    #[test]
    fn second_factor_steps() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let pwd = vec!["pwd".to_owned()];
        let accepted = SecondFactorOutcome::Accepted {
            kind: MethodKind::Totp,
            drift: -1,
            remaining: 0,
        };
        let (step, result, detail) = second_factor_step("u", &pwd, "Phone", &accepted, now);
        let Step::Advance(FlowState::Complete { amr, .. }) = step else {
            panic!("expected completion, got {step:?}");
        };
        assert_eq!(amr, ["pwd", "otp", "mfa"]);
        assert_eq!(result, StepResult::Success);
        assert!(detail.contains("off by -1"));

        let rec = SecondFactorOutcome::Accepted {
            kind: MethodKind::RecoveryCodes,
            drift: 0,
            remaining: 7,
        };
        let (step, _, detail) = second_factor_step("u", &pwd, "Recovery codes", &rec, now);
        assert!(
            matches!(step, Step::Advance(FlowState::Complete { ref amr, .. }) if amr == &["pwd", "rec", "mfa"])
        );
        assert!(detail.contains("7 left"));

        let refused = |why, recorded| SecondFactorOutcome::Refused {
            kind: MethodKind::Totp,
            why,
            recorded,
        };
        let (step, _, detail) = second_factor_step(
            "u",
            &pwd,
            "Phone",
            &refused(
                CodeRefusal::ClockOff { off_by: 2 },
                Some(FailureRecorded::Counted { remaining: 3 }),
            ),
            now,
        );
        assert_eq!(
            step,
            Step::Retry {
                code: ErrorCode::WrongVerificationCode
            }
        );
        assert!(detail.contains("off by 2 steps") && detail.contains("check the device clock"));
        let (step, _, detail) =
            second_factor_step("u", &pwd, "Phone", &refused(CodeRefusal::Replay, None), now);
        assert_eq!(
            step,
            Step::Retry {
                code: ErrorCode::VerificationCodeReused
            }
        );
        assert!(detail.contains("time step already used"));
        let (step, _, _) = second_factor_step(
            "u",
            &pwd,
            "Phone",
            &refused(
                CodeRefusal::Wrong,
                Some(FailureRecorded::Locked { until: now }),
            ),
            now,
        );
        assert_eq!(
            step,
            Step::Retry {
                code: ErrorCode::SecondFactorLocked
            }
        );
    }
}
