//! The table of transitions, as plain data: for each state and event, the next state, what the
//! edge does, the log's lines (method, result, reason) and the summary. Every refusal is a row.

use super::*;
use crate::clock::to_millis;
use crate::credential::access_pass::{AccessPass, Refusal, Refused};
use crate::credential::passkey::{PasskeyRefusal, PolicyRefusal};
use crate::oidc::claims::Authentication;
use crate::signin_log::{SignInResult, StepResult};
use crate::softlock::FailureRecorded;
use postern_proto::ErrorCode;
use time::OffsetDateTime;

const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

/// What the edge is told to do, reduced to what a row asserts.
#[derive(Debug, PartialEq, Eq)]
enum Does {
    Retry(ErrorCode),
    Show,
    OfferCode,
    Finish(Destination, &'static [&'static str], bool),
    IssueCode,
}

struct Row {
    name: &'static str,
    from: FlowState,
    event: Event,
    next: Option<&'static str>,
    does: Does,
    log: &'static [(&'static str, StepResult, Option<StepReason>)],
    summary: Option<(SignInResult, Option<ErrorCode>)>,
}

fn pwd() -> Vec<String> {
    vec!["pwd".to_owned()]
}

fn second_factor() -> FlowState {
    FlowState::SecondFactor {
        user_id: "u".into(),
        amr: pwd(),
    }
}

fn register() -> FlowState {
    FlowState::RegisterSecondFactor {
        user_id: "u".into(),
        amr: pwd(),
    }
}

fn complete(continue_pending: bool) -> FlowState {
    FlowState::Complete {
        user_id: "u".into(),
        amr: vec!["tap".into(), "mfa".into()],
        auth_time_ms: to_millis(NOW),
        continue_pending,
    }
}

fn password(outcome: PasswordOutcome, remembered: Remembered) -> Event {
    Event::PasswordChecked {
        outcome,
        remembered,
    }
}

fn right_password(after: AfterPassword) -> PasswordOutcome {
    PasswordOutcome::Correct {
        user_id: "u".into(),
        after,
    }
}

fn passkey_accepted(user_id: &str, synced: bool) -> Event {
    Event::PasskeyChecked(PasskeyOutcome::Accepted {
        user_id: user_id.into(),
        name: "Laptop".into(),
        synced,
    })
}

fn passkey_refused(why: PasskeyRefusal, recorded: Option<FailureRecorded>) -> Event {
    Event::PasskeyChecked(PasskeyOutcome::Refused {
        why,
        name: Some("Laptop".into()),
        recorded,
    })
}

fn code(outcome: SecondFactorOutcome, remember_days: Option<i64>) -> Event {
    Event::CodeChecked {
        method_name: "Phone".into(),
        outcome,
        remember_days,
    }
}

fn accepted(kind: MethodKind) -> SecondFactorOutcome {
    SecondFactorOutcome::Accepted {
        kind,
        drift: 0,
        remaining: 7,
    }
}

fn refused(why: CodeRefusal, recorded: FailureRecorded) -> SecondFactorOutcome {
    SecondFactorOutcome::Refused {
        kind: MethodKind::Totp,
        why,
        recorded: Some(recorded),
    }
}

fn pass(once: bool) -> AccessPass {
    AccessPass {
        id: "p".into(),
        user_id: "u".into(),
        hash: String::new(),
        created: NOW,
        expires: NOW + time::Duration::hours(1),
        once,
        used: None,
        uses: 0,
        created_by: "t".into(),
    }
}

fn session_auth(user_id: &str) -> Authentication {
    Authentication {
        user_id: user_id.into(),
        auth_time: NOW,
        amr: vec!["tap".into(), "mfa".into()],
    }
}

const COUNTED: FailureRecorded = FailureRecorded::Counted { remaining: 3 };
const LOCKED: FailureRecorded = FailureRecorded::Locked { until: NOW };

fn rows() -> Vec<Row> {
    use Does::*;
    use SignInResult::{Failure, Interrupted};
    use StepResult::{Failure as fail, Info, Success};
    vec![
        // The password step.
        Row {
            name: "right password, no second factor required",
            from: FlowState::Password,
            event: password(right_password(AfterPassword::Complete), Remembered::No),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd"], false),
            log: &[("password", Success, None)],
            summary: None,
        },
        Row {
            name: "right password, a second factor is due (50074)",
            from: FlowState::Password,
            event: password(right_password(AfterPassword::SecondFactor), Remembered::No),
            next: Some("second_factor"),
            does: Show,
            log: &[("password", Success, None)],
            summary: Some((Interrupted, Some(ErrorCode::StrongAuthRequired))),
        },
        Row {
            name: "right password in a remembered browser: the second step is skipped",
            from: FlowState::Password,
            event: password(
                right_password(AfterPassword::SecondFactor),
                Remembered::Until(NOW),
            ),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "mfa"], false),
            log: &[
                ("password", Success, None),
                ("remembered_device", Success, None),
            ],
            summary: None,
        },
        Row {
            name: "remembered browser, but the application wants a fresh factor (50076)",
            from: FlowState::Password,
            event: password(
                right_password(AfterPassword::SecondFactor),
                Remembered::NotForThisRequest,
            ),
            next: Some("second_factor"),
            does: Show,
            log: &[("password", Success, None)],
            summary: Some((Interrupted, Some(ErrorCode::MfaRequiredByPolicy))),
        },
        Row {
            name: "right password, no method but one is required (50079)",
            from: FlowState::Password,
            event: password(
                right_password(AfterPassword::RegisterSecondFactor),
                Remembered::No,
            ),
            next: Some("register_second_factor"),
            does: Show,
            log: &[("password", Success, Some(StepReason::NoMethodRegistered))],
            summary: Some((Interrupted, Some(ErrorCode::MfaRegistrationRequired))),
        },
        Row {
            name: "wrong password, counted",
            from: FlowState::Password,
            event: password(PasswordOutcome::Wrong(COUNTED), Remembered::No),
            next: None,
            does: Retry(ErrorCode::InvalidCredentials),
            log: &[("password", fail, Some(StepReason::WrongPassword))],
            summary: Some((Failure, Some(ErrorCode::InvalidCredentials))),
        },
        Row {
            name: "wrong password, repeated",
            from: FlowState::Password,
            event: password(
                PasswordOutcome::Wrong(FailureRecorded::Repeated),
                Remembered::No,
            ),
            next: None,
            does: Retry(ErrorCode::InvalidCredentials),
            log: &[("password", fail, Some(StepReason::WrongPassword))],
            summary: Some((Failure, Some(ErrorCode::InvalidCredentials))),
        },
        Row {
            name: "wrong password that locks the account",
            from: FlowState::Password,
            event: password(PasswordOutcome::Wrong(LOCKED), Remembered::No),
            next: None,
            does: Retry(ErrorCode::AccountLocked),
            log: &[("password", fail, Some(StepReason::AccountLocked))],
            summary: Some((Failure, Some(ErrorCode::AccountLocked))),
        },
        Row {
            name: "unknown user looks like a wrong password",
            from: FlowState::Password,
            event: password(PasswordOutcome::UnknownUser, Remembered::No),
            next: None,
            does: Retry(ErrorCode::InvalidCredentials),
            log: &[("password", fail, Some(StepReason::UnknownUser))],
            summary: Some((Failure, Some(ErrorCode::InvalidCredentials))),
        },
        Row {
            name: "locked account: the password is not checked",
            from: FlowState::Password,
            event: password(PasswordOutcome::Locked { until: NOW }, Remembered::No),
            next: None,
            does: Retry(ErrorCode::AccountLocked),
            log: &[("password", fail, Some(StepReason::AccountLocked))],
            summary: Some((Failure, Some(ErrorCode::AccountLocked))),
        },
        Row {
            name: "disabled account",
            from: FlowState::Password,
            event: password(PasswordOutcome::Disabled, Remembered::No),
            next: None,
            does: Retry(ErrorCode::AccountDisabled),
            log: &[("password", fail, Some(StepReason::AccountDisabled))],
            summary: Some((Failure, Some(ErrorCode::AccountDisabled))),
        },
        // Codes at the second step.
        Row {
            name: "app code accepted",
            from: second_factor(),
            event: code(accepted(MethodKind::Totp), None),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "otp", "mfa"], false),
            log: &[("totp", Success, None)],
            summary: None,
        },
        Row {
            name: "app code accepted, remember this browser",
            from: second_factor(),
            event: code(accepted(MethodKind::Totp), Some(30)),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "otp", "mfa"], true),
            log: &[("totp", Success, None), ("remembered_device", Info, None)],
            summary: None,
        },
        Row {
            name: "recovery code accepted: Security info first",
            from: second_factor(),
            event: code(accepted(MethodKind::RecoveryCodes), None),
            next: Some("complete"),
            does: Finish(Destination::SecurityInfo, &["pwd", "rec", "mfa"], false),
            log: &[("recovery_code", Success, None)],
            summary: None,
        },
        Row {
            name: "wrong app code",
            from: second_factor(),
            event: code(refused(CodeRefusal::Wrong, COUNTED), None),
            next: None,
            does: Retry(ErrorCode::WrongVerificationCode),
            log: &[("totp", fail, Some(StepReason::WrongCode))],
            summary: Some((Failure, Some(ErrorCode::WrongVerificationCode))),
        },
        Row {
            name: "replayed app code",
            from: second_factor(),
            event: code(refused(CodeRefusal::Replay, COUNTED), None),
            next: None,
            does: Retry(ErrorCode::VerificationCodeReused),
            log: &[("totp", fail, Some(StepReason::CodeReused))],
            summary: Some((Failure, Some(ErrorCode::VerificationCodeReused))),
        },
        Row {
            name: "app code from a clock that is off",
            from: second_factor(),
            event: code(refused(CodeRefusal::ClockOff { off_by: 2 }, COUNTED), None),
            next: None,
            does: Retry(ErrorCode::WrongVerificationCode),
            log: &[("totp", fail, Some(StepReason::ClockDrift))],
            summary: Some((Failure, Some(ErrorCode::WrongVerificationCode))),
        },
        Row {
            name: "wrong code that locks the second step",
            from: second_factor(),
            event: code(refused(CodeRefusal::Wrong, LOCKED), None),
            next: None,
            does: Retry(ErrorCode::SecondFactorLocked),
            log: &[("totp", fail, Some(StepReason::SecondFactorLocked))],
            summary: Some((Failure, Some(ErrorCode::SecondFactorLocked))),
        },
        Row {
            name: "locked second step: the code is not checked",
            from: second_factor(),
            event: code(SecondFactorOutcome::Locked { until: NOW }, Some(30)),
            next: None,
            does: Retry(ErrorCode::SecondFactorLocked),
            log: &[("second_factor", fail, Some(StepReason::SecondFactorLocked))],
            summary: Some((Failure, Some(ErrorCode::SecondFactorLocked))),
        },
        Row {
            name: "recovery code already used",
            from: second_factor(),
            event: code(
                SecondFactorOutcome::Refused {
                    kind: MethodKind::RecoveryCodes,
                    why: CodeRefusal::Replay,
                    recorded: None,
                },
                None,
            ),
            next: None,
            does: Retry(ErrorCode::VerificationCodeReused),
            log: &[("recovery_code", fail, Some(StepReason::CodeReused))],
            summary: Some((Failure, Some(ErrorCode::VerificationCodeReused))),
        },
        // Push.
        Row {
            name: "push approved",
            from: second_factor(),
            event: Event::PushSettled(PushSettlement::Approved {
                device_name: "Pixel".into(),
            }),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "swk", "mfa"], false),
            log: &[("push", Success, None)],
            summary: None,
        },
        Row {
            name: "push approved, then blocked by a report",
            from: second_factor(),
            event: Event::PushSettled(PushSettlement::Blocked),
            next: None,
            does: OfferCode,
            log: &[],
            summary: None,
        },
        Row {
            name: "push approved by a device removed since",
            from: second_factor(),
            event: Event::PushSettled(PushSettlement::ApproverRemoved),
            next: None,
            does: OfferCode,
            log: &[],
            summary: None,
        },
        // Temporary access passes.
        Row {
            name: "access pass at the first step",
            from: FlowState::Password,
            event: Event::AccessPassChecked(Ok(pass(true))),
            next: Some("complete"),
            does: Finish(Destination::SecurityInfo, &["tap", "mfa"], false),
            log: &[("access_pass", Success, None)],
            summary: None,
        },
        Row {
            name: "access pass at the second step",
            from: second_factor(),
            event: Event::AccessPassChecked(Ok(pass(false))),
            next: Some("complete"),
            does: Finish(Destination::SecurityInfo, &["tap", "mfa"], false),
            log: &[("access_pass", Success, None)],
            summary: None,
        },
        Row {
            name: "another account's pass past the password",
            from: second_factor(),
            event: Event::AccessPassChecked(Ok(AccessPass {
                user_id: "someone-else".into(),
                ..pass(true)
            })),
            next: None,
            does: Retry(ErrorCode::WrongAccessPass),
            log: &[("access_pass", fail, Some(StepReason::AccessPassWrong))],
            summary: Some((Failure, Some(ErrorCode::WrongAccessPass))),
        },
        Row {
            name: "access pass at the registration interrupt",
            from: register(),
            event: Event::AccessPassChecked(Ok(pass(true))),
            next: Some("complete"),
            does: Finish(Destination::SecurityInfo, &["tap", "mfa"], false),
            log: &[("access_pass", Success, None)],
            summary: None,
        },
        Row {
            name: "wrong access pass",
            from: FlowState::Password,
            event: Event::AccessPassChecked(Err(Refused::Checked {
                why: Refusal::Wrong,
                recorded: COUNTED,
            })),
            next: None,
            does: Retry(ErrorCode::WrongAccessPass),
            log: &[("access_pass", fail, Some(StepReason::AccessPassWrong))],
            summary: Some((Failure, Some(ErrorCode::WrongAccessPass))),
        },
        Row {
            name: "expired access pass",
            from: FlowState::Password,
            event: Event::AccessPassChecked(Err(Refused::Checked {
                why: Refusal::Expired { at: NOW },
                recorded: COUNTED,
            })),
            next: None,
            does: Retry(ErrorCode::AccessPassExpired),
            log: &[("access_pass", fail, Some(StepReason::AccessPassExpired))],
            summary: Some((Failure, Some(ErrorCode::AccessPassExpired))),
        },
        Row {
            name: "used access pass",
            from: second_factor(),
            event: Event::AccessPassChecked(Err(Refused::Checked {
                why: Refusal::Used { at: None },
                recorded: COUNTED,
            })),
            next: None,
            does: Retry(ErrorCode::AccessPassUsed),
            log: &[("access_pass", fail, Some(StepReason::AccessPassUsed))],
            summary: Some((Failure, Some(ErrorCode::AccessPassUsed))),
        },
        Row {
            name: "access pass for an unknown user",
            from: FlowState::Password,
            event: Event::AccessPassChecked(Err(Refused::UnknownUser)),
            next: None,
            does: Retry(ErrorCode::WrongAccessPass),
            log: &[("access_pass", fail, Some(StepReason::UnknownUser))],
            summary: Some((Failure, Some(ErrorCode::WrongAccessPass))),
        },
        Row {
            name: "access passes locked",
            from: FlowState::Password,
            event: Event::AccessPassChecked(Err(Refused::Locked { until: NOW })),
            next: None,
            does: Retry(ErrorCode::AccountLocked),
            log: &[("access_pass", fail, Some(StepReason::AccountLocked))],
            summary: Some((Failure, Some(ErrorCode::AccountLocked))),
        },
        Row {
            name: "access pass of a disabled account",
            from: FlowState::Password,
            event: Event::AccessPassChecked(Err(Refused::Disabled)),
            next: None,
            does: Retry(ErrorCode::AccountDisabled),
            log: &[("access_pass", fail, Some(StepReason::AccountDisabled))],
            summary: Some((Failure, Some(ErrorCode::AccountDisabled))),
        },
        // The registration interrupt.
        Row {
            name: "app registered at the interrupt",
            from: register(),
            event: Event::Registered(Registration::Added {
                kind: MethodKind::Totp,
                name: "Phone".into(),
                amr: "otp",
            }),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "otp", "mfa"], false),
            log: &[("register_totp", Success, None)],
            summary: None,
        },
        Row {
            name: "passkey registered at the interrupt",
            from: register(),
            event: Event::Registered(Registration::Added {
                kind: MethodKind::Passkey,
                name: "Laptop".into(),
                amr: "hwk",
            }),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "hwk", "mfa"], false),
            log: &[("register_passkey", Success, None)],
            summary: None,
        },
        Row {
            name: "passkey refused at the interrupt",
            from: register(),
            event: Event::Registered(Registration::PasskeyRefused {
                code: ErrorCode::PasskeyNotAllowed,
                shown: "rule".into(),
                words: "refused by policy".into(),
            }),
            next: None,
            does: Retry(ErrorCode::PasskeyNotAllowed),
            log: &[("register_passkey", fail, None)],
            summary: Some((Interrupted, Some(ErrorCode::MfaRegistrationRequired))),
        },
        // Passkeys: alone from the first page, or as the second step.
        Row {
            name: "passwordless: a device-bound passkey is two factors",
            from: FlowState::Password,
            event: passkey_accepted("u", false),
            next: Some("complete"),
            does: Finish(Destination::App, &["hwk", "mfa"], false),
            log: &[("passkey", Success, None)],
            summary: None,
        },
        Row {
            name: "passwordless: a synced passkey says swk",
            from: FlowState::Password,
            event: passkey_accepted("u", true),
            next: Some("complete"),
            does: Finish(Destination::App, &["swk", "mfa"], false),
            log: &[("passkey", Success, None)],
            summary: None,
        },
        Row {
            name: "second step: the user's passkey",
            from: second_factor(),
            event: passkey_accepted("u", false),
            next: Some("complete"),
            does: Finish(Destination::App, &["pwd", "hwk", "mfa"], false),
            log: &[("passkey", Success, None)],
            summary: None,
        },
        Row {
            name: "second step: another account's passkey",
            from: second_factor(),
            event: passkey_accepted("someone-else", false),
            next: None,
            does: Retry(ErrorCode::PasskeyFailed),
            log: &[("passkey", fail, Some(StepReason::PasskeyRemoved))],
            summary: Some((Failure, Some(ErrorCode::PasskeyFailed))),
        },
        Row {
            name: "a cloned passkey",
            from: second_factor(),
            event: passkey_refused(PasskeyRefusal::CounterWentBack, None),
            next: None,
            does: Retry(ErrorCode::PasskeyFailed),
            log: &[("passkey", fail, Some(StepReason::PasskeyCounterWentBack))],
            summary: Some((Failure, Some(ErrorCode::PasskeyFailed))),
        },
        Row {
            name: "a passkey without user verification",
            from: FlowState::Password,
            event: passkey_refused(PasskeyRefusal::NotVerified, None),
            next: None,
            does: Retry(ErrorCode::PasskeyFailed),
            log: &[("passkey", fail, Some(StepReason::PasskeyNotVerified))],
            summary: Some((Failure, Some(ErrorCode::PasskeyFailed))),
        },
        Row {
            name: "a passkey the policy refuses",
            from: FlowState::Password,
            event: passkey_refused(PasskeyRefusal::Policy(PolicyRefusal::PasswordlessOff), None),
            next: None,
            does: Retry(ErrorCode::PasskeyNotAllowed),
            log: &[("passkey", fail, Some(StepReason::PasskeyNotAllowed))],
            summary: Some((Failure, Some(ErrorCode::PasskeyNotAllowed))),
        },
        Row {
            name: "the bad answer that locks the second step",
            from: second_factor(),
            event: passkey_refused(
                PasskeyRefusal::Invalid("signature".into()),
                Some(FailureRecorded::Locked { until: NOW }),
            ),
            next: None,
            does: Retry(ErrorCode::SecondFactorLocked),
            log: &[("passkey", fail, Some(StepReason::SecondFactorLocked))],
            summary: Some((Failure, Some(ErrorCode::SecondFactorLocked))),
        },
        Row {
            name: "a passkey while the second step is locked",
            from: second_factor(),
            event: Event::PasskeyChecked(PasskeyOutcome::Locked { until: NOW }),
            next: None,
            does: Retry(ErrorCode::SecondFactorLocked),
            log: &[("passkey", fail, Some(StepReason::SecondFactorLocked))],
            summary: Some((Failure, Some(ErrorCode::SecondFactorLocked))),
        },
        Row {
            name: "a passkey at the forced registration is not a way past it",
            from: register(),
            event: passkey_accepted("u", false),
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
        Row {
            name: "wrong code for the new app",
            from: register(),
            event: Event::Registered(Registration::WrongCode { clock_off_by: None }),
            next: None,
            does: Retry(ErrorCode::WrongVerificationCode),
            log: &[("register_totp", fail, None)],
            summary: Some((Interrupted, Some(ErrorCode::MfaRegistrationRequired))),
        },
        Row {
            name: "the setup page expired",
            from: register(),
            event: Event::Registered(Registration::Stale),
            next: None,
            does: Retry(ErrorCode::FlowExpired),
            log: &[("register_totp", fail, None)],
            summary: Some((Interrupted, Some(ErrorCode::MfaRegistrationRequired))),
        },
        Row {
            name: "a method registered elsewhere meanwhile: ask for it",
            from: register(),
            event: Event::MethodAppeared,
            next: Some("second_factor"),
            does: Show,
            log: &[],
            summary: None,
        },
        // On from Security info.
        Row {
            name: "continued from Security info",
            from: complete(true),
            event: Event::Continued {
                auth: session_auth("u"),
            },
            next: Some("complete"),
            does: IssueCode,
            log: &[("authorize", Success, None)],
            summary: None,
        },
        Row {
            name: "continued with another user's session",
            from: complete(true),
            event: Event::Continued {
                auth: session_auth("someone-else"),
            },
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
        Row {
            name: "continued twice",
            from: complete(false),
            event: Event::Continued {
                auth: session_auth("u"),
            },
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
        // Events from a stale page or another tab change nothing.
        Row {
            name: "a code posted to a flow still at the password",
            from: FlowState::Password,
            event: code(accepted(MethodKind::Totp), None),
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
        Row {
            name: "a password posted to a finished flow",
            from: complete(false),
            event: password(right_password(AfterPassword::Complete), Remembered::No),
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
        Row {
            name: "an access pass for a finished flow",
            from: complete(false),
            event: Event::AccessPassChecked(Ok(pass(true))),
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
        Row {
            name: "a push settled for a flow at the registration",
            from: register(),
            event: Event::PushSettled(PushSettlement::Approved {
                device_name: "Pixel".into(),
            }),
            next: None,
            does: Show,
            log: &[],
            summary: None,
        },
    ]
}

fn request(client_id: &str) -> crate::oidc::authorize::AuthorizeRequest {
    crate::oidc::authorize::AuthorizeRequest {
        client_id: client_id.into(),
        redirect_uri: "https://hub.example/cb".into(),
        scope: vec!["openid".into()],
        state: None,
        nonce: None,
        code_challenge: None,
        prompt: crate::oidc::authorize::Prompt::default(),
        max_age: None,
        login_hint: None,
    }
}

fn flow_in(state: FlowState) -> Flow {
    Flow {
        id: "f".into(),
        correlation_id: "c".into(),
        browser_hash: "b".into(),
        request: request("app"),
        client_name: "Hub".into(),
        state,
        csrf: "x".into(),
        created: NOW,
        expires: NOW + FLOW_LIFETIME,
        version: 0,
    }
}

fn does(then: &Then) -> Does {
    match then {
        Then::Retry { code, .. } => Does::Retry(*code),
        Then::Show => Does::Show,
        Then::OfferCode { .. } => Does::OfferCode,
        Then::Finish {
            auth,
            destination,
            remember,
        } => {
            let amr: Vec<&str> = auth.amr.iter().map(String::as_str).collect();
            let known: &[&[&str]] = &[
                &["pwd"],
                &["pwd", "mfa"],
                &["pwd", "otp", "mfa"],
                &["pwd", "rec", "mfa"],
                &["pwd", "swk", "mfa"],
                &["pwd", "hwk", "mfa"],
                &["hwk", "mfa"],
                &["swk", "mfa"],
                &["tap", "mfa"],
            ];
            let amr = known
                .iter()
                .find(|k| **k == amr.as_slice())
                .unwrap_or_else(|| panic!("unexpected amr {amr:?}"));
            Does::Finish(*destination, amr, *remember)
        }
        Then::IssueCode { .. } => Does::IssueCode,
    }
}

#[test]
fn the_transition_table() {
    for row in rows() {
        let flow = flow_in(row.from.clone());
        let t = flow.advance(row.event.clone(), NOW);
        let name = row.name;
        assert_eq!(
            t.next.as_ref().map(FlowState::name),
            row.next,
            "{name}: next"
        );
        assert_eq!(does(&t.then), row.does, "{name}: then");
        let log: Vec<_> = t
            .log
            .iter()
            .map(|l| (l.method, l.result, l.reason))
            .collect();
        assert_eq!(log, row.log, "{name}: log");
        for line in &t.log {
            assert!(!line.words.is_empty(), "{name}: every line has words");
        }
        let summary = t
            .summary
            .as_ref()
            .map(|s| (s.result, s.error.as_ref().map(|e| e.0)));
        assert_eq!(summary, row.summary, "{name}: summary");
        // A finish completes the flow with the same user, amr and time it hands the edge.
        if let Then::Finish {
            auth, destination, ..
        } = &t.then
        {
            assert_eq!(
                t.next,
                Some(FlowState::Complete {
                    user_id: auth.user_id.clone(),
                    amr: auth.amr.clone(),
                    auth_time_ms: to_millis(auth.auth_time),
                    continue_pending: *destination == Destination::SecurityInfo,
                }),
                "{name}: the finished state"
            );
        }
        // A refusal changes nothing but the log.
        if matches!(t.then, Then::Retry { .. }) {
            assert_eq!(t.next, None, "{name}: a retry stays");
        }
    }
}

#[test]
fn what_the_user_is_shown_of_a_lock() {
    let flow = flow_in(FlowState::Password);
    let t = flow.advance(
        password(PasswordOutcome::Locked { until: NOW }, Remembered::No),
        NOW,
    );
    let Then::Retry { detail, .. } = t.then else {
        panic!("a lock is a retry");
    };
    assert_eq!(
        detail.as_deref(),
        Some("Try again after 1970-01-01T00:00:00Z.")
    );
    // The words for the helpdesk say the password was not checked; the user sees none of them.
    assert!(t.log[0].words.contains("not checked"));

    // A wrong password says nothing but the code: not which part was wrong, nor the count.
    let t = flow.advance(password(PasswordOutcome::UnknownUser, Remembered::No), NOW);
    assert_eq!(
        t.then,
        Then::Retry {
            code: ErrorCode::InvalidCredentials,
            detail: None
        }
    );
}

#[test]
fn the_words_of_a_code_step() {
    let flow = flow_in(second_factor());
    let t = flow.advance(
        code(
            SecondFactorOutcome::Accepted {
                kind: MethodKind::Totp,
                drift: -1,
                remaining: 0,
            },
            None,
        ),
        NOW,
    );
    assert!(t.log[0].words.contains("off by -1"), "{:?}", t.log[0]);
    let t = flow.advance(
        code(refused(CodeRefusal::ClockOff { off_by: 2 }, COUNTED), None),
        NOW,
    );
    let words = &t.log[0].words;
    assert!(words.contains("off by 2 steps") && words.contains("check the device clock"));
    assert!(words.contains("3 more wrong code(s)"), "{words}");
    let t = flow.advance(code(accepted(MethodKind::RecoveryCodes), None), NOW);
    assert!(t.log[0].words.contains("7 left"));
}

#[test]
fn completion_lines() {
    let flow = flow_in(FlowState::Password);
    let line = flow.completion_line(Destination::App);
    assert_eq!(line.words, "authorization code issued to 'Hub'");
    assert!(flow.issues_code(Destination::App));
    assert!(!flow.issues_code(Destination::SecurityInfo));
    let mut account = flow_in(FlowState::Password);
    account.request.client_id = ACCOUNT_CLIENT_ID.into();
    assert_eq!(account.completion_line(Destination::App).method, "account");
    assert!(!account.issues_code(Destination::App));
}
