//! [`Flow::advance`]: from what an edge checked to everything that follows it.

use super::words::amr_plus;
use super::words::{Step, password_step, second_factor_step};
use super::{
    ACCOUNT_CLIENT_ID, Destination, Flow, FlowState, PasswordOutcome, Remembered,
    SecondFactorOutcome, amr_with,
};
use crate::clock::{iso8601, to_millis};
use crate::credential::access_pass::{self, AccessPass, Refused};
use crate::credential::method::MethodKind;
use crate::credential::passkey::{self, PasskeyRefusal};
use crate::credential::push as push_rules;
use crate::oidc::claims::Authentication;
use crate::policy::AfterPassword;
use crate::signin_log::{SignInResult, StepReason, StepResult};
use crate::softlock::FailureRecorded;
use postern_proto::ErrorCode;
use time::OffsetDateTime;

/// What an edge checked, for the flow to decide what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The password step. `remembered` says whether this browser may skip the second step; the
    /// edge reads it when the password was right and a second factor is due (else `No`).
    PasswordChecked {
        outcome: PasswordOutcome,
        remembered: Remembered,
    },
    /// A typed code for the method called `method_name`. `remember_days` is set when the user
    /// asked to remember this browser and the request allows it.
    CodeChecked {
        method_name: String,
        outcome: SecondFactorOutcome,
        remember_days: Option<i64>,
    },
    /// The flow's push request came back approved; whether the approval still counts.
    PushSettled(PushSettlement),
    /// A passkey answered the flow's WebAuthn request: as the second step, or alone from the
    /// first page (passwordless, where the passkey names the user).
    PasskeyChecked(PasskeyOutcome),
    /// A temporary access pass: the pass as it stood before this sign-in used it, or why it was
    /// refused. Past the password the edge checks it for the user who gave the password only.
    AccessPassChecked(Result<AccessPass, Refused>),
    /// The forced registration's result.
    Registered(Registration),
    /// While the flow waited at the forced registration, the user registered a method elsewhere.
    MethodAppeared,
    /// On from Security info to the application, with the session of the sign-in that went there.
    Continued { auth: Authentication },
}

/// An approved push, as it stands when the waiting page comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushSettlement {
    /// Approved on `device_name` with the matching number, and still valid.
    Approved { device_name: String },
    /// Approved, but push was blocked since (a fraud report wins over an approval).
    Blocked,
    /// Approved by a device that has been removed since.
    ApproverRemoved,
}

/// What the WebAuthn library and the policy made of a passkey's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyOutcome {
    /// Signature, counter and user verification checked: the passkey `name` of `user_id`.
    Accepted {
        user_id: String,
        name: String,
        synced: bool,
    },
    /// Refused, with what the second-factor lockout made of the attempt (when the answer named
    /// a user to count it for).
    Refused {
        why: PasskeyRefusal,
        name: Option<String>,
        recorded: Option<FailureRecorded>,
    },
    /// The second step is locked: the answer was not checked.
    Locked { until: OffsetDateTime },
}

/// What registering a method at the registration interrupt (50079) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Added (an app's first code, or a passkey's ceremony, proves it): the second factor of this
    /// sign-in. `amr` is what the new method adds.
    Added {
        kind: MethodKind,
        name: String,
        amr: &'static str,
    },
    /// A passkey that could not be registered: why, in the user's words and the helpdesk's.
    PasskeyRefused {
        code: ErrorCode,
        shown: String,
        words: String,
    },
    /// The code does not match the new app; `clock_off_by` steps when it matched another time.
    WrongCode { clock_off_by: Option<i64> },
    /// The setup page had expired.
    Stale,
}

/// One line of the sign-in log: what was checked, how it went, the words for the helpdesk and
/// the stable reason a diagnosis reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub method: &'static str,
    pub result: StepResult,
    pub words: String,
    pub reason: Option<StepReason>,
}

impl LogLine {
    pub fn new(method: &'static str, result: StepResult, words: impl Into<String>) -> Self {
        LogLine {
            method,
            result,
            words: words.into(),
            reason: None,
        }
    }

    pub fn because(mut self, reason: Option<StepReason>) -> Self {
        self.reason = reason;
        self
    }
}

/// The sign-in entry's summary after an event (who signed in is the edge's to add).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub result: SignInResult,
    /// The code and the helpdesk's words for a failure or an interruption.
    pub error: Option<(ErrorCode, String)>,
}

/// What the edge does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// Show the same page again with this error; `detail` is safe to show the user.
    Retry {
        code: ErrorCode,
        detail: Option<String>,
    },
    /// Show the flow's page for its (new) state.
    Show,
    /// Ask for a code instead of push, saying why.
    OfferCode { notice: String },
    /// Finish the sign-in: save the complete flow, start the session, go to `destination`;
    /// `remember` this browser for the user first if asked.
    Finish {
        auth: Authentication,
        destination: Destination,
        remember: bool,
    },
    /// Issue the application its code for a sign-in already complete (continued from Security
    /// info).
    IssueCode { auth: Authentication },
}

/// Everything an event leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state the flow moves to; `None` when it stays.
    pub next: Option<FlowState>,
    /// What the sign-in log gains, in order.
    pub log: Vec<LogLine>,
    /// The entry's new summary, if it changes (a finish writes its own).
    pub summary: Option<Summary>,
    pub then: Then,
}

impl Transition {
    /// Nothing happens: the event does not belong to the flow's state (a stale page, a second
    /// tab). The flow's own page says what is due.
    fn stay() -> Self {
        Transition {
            next: None,
            log: vec![],
            summary: None,
            then: Then::Show,
        }
    }

    /// The same page again with `code`, the log line and a failure summary in its words.
    fn retry(line: LogLine, code: ErrorCode, detail: Option<String>) -> Self {
        Transition {
            next: None,
            summary: Some(Summary {
                result: SignInResult::Failure,
                error: Some((code, line.words.clone())),
            }),
            log: vec![line],
            then: Then::Retry { code, detail },
        }
    }

    /// On to `next`'s page, the sign-in interrupted there with `code`.
    fn interrupt(next: FlowState, line: LogLine, code: ErrorCode, words: String) -> Self {
        Transition {
            next: Some(next),
            log: vec![line],
            summary: Some(Summary {
                result: SignInResult::Interrupted,
                error: Some((code, words)),
            }),
            then: Then::Show,
        }
    }

    /// The sign-in of `user_id` is complete with `amr`, proved at `now`.
    fn finish(
        user_id: &str,
        amr: Vec<String>,
        now: OffsetDateTime,
        destination: Destination,
        remember: bool,
        log: Vec<LogLine>,
    ) -> Self {
        Transition {
            next: Some(FlowState::Complete {
                user_id: user_id.to_owned(),
                amr: amr.clone(),
                auth_time_ms: to_millis(now),
                continue_pending: destination == Destination::SecurityInfo,
            }),
            log,
            summary: None,
            then: Then::Finish {
                auth: Authentication {
                    user_id: user_id.to_owned(),
                    auth_time: now,
                    amr,
                },
                destination,
                remember,
            },
        }
    }
}

/// "Try again after …" for a lock: the only detail of a refusal the user is shown.
fn try_after(until: OffsetDateTime) -> Option<String> {
    Some(format!("Try again after {}.", iso8601(until)))
}

impl Flow {
    /// What `event` leads to from the flow's current state, decided at `now`. The flow itself is
    /// not changed: the edge moves it to `next` in the store (over the version it read).
    pub fn advance(&self, event: Event, now: OffsetDateTime) -> Transition {
        match (&self.state, event) {
            (
                FlowState::Password,
                Event::PasswordChecked {
                    outcome,
                    remembered,
                },
            ) => after_password(&outcome, remembered, now),
            (
                FlowState::SecondFactor { user_id, amr },
                Event::CodeChecked {
                    method_name,
                    outcome,
                    remember_days,
                },
            ) => after_code(user_id, amr, &method_name, &outcome, remember_days, now),
            (FlowState::SecondFactor { user_id, amr }, Event::PushSettled(settled)) => {
                after_push(user_id, amr, settled, now)
            }
            (FlowState::Password, Event::PasskeyChecked(outcome)) => {
                after_passkey(None, &[], outcome, now)
            }
            (FlowState::SecondFactor { user_id, amr }, Event::PasskeyChecked(outcome)) => {
                after_passkey(Some(user_id), amr, outcome, now)
            }
            (FlowState::Password, Event::AccessPassChecked(checked)) => {
                after_access_pass(checked, now)
            }
            // Past the password, a pass proves only the user who gave the password.
            (
                FlowState::SecondFactor { user_id, .. }
                | FlowState::RegisterSecondFactor { user_id, .. },
                Event::AccessPassChecked(checked),
            ) => match checked {
                Ok(pass) if pass.user_id != *user_id => {
                    let line = LogLine::new(
                        "access_pass",
                        StepResult::Failure,
                        "temporary access pass of another account refused: past the password, a pass is checked for the user who gave it",
                    )
                    .because(Some(StepReason::AccessPassWrong));
                    Transition::retry(line, ErrorCode::WrongAccessPass, None)
                }
                checked => after_access_pass(checked, now),
            },
            (FlowState::RegisterSecondFactor { user_id, amr }, Event::Registered(registration)) => {
                after_registration(user_id, amr, registration, now)
            }
            (FlowState::RegisterSecondFactor { user_id, amr }, Event::MethodAppeared) => {
                Transition {
                    next: Some(FlowState::SecondFactor {
                        user_id: user_id.clone(),
                        amr: amr.clone(),
                    }),
                    ..Transition::stay()
                }
            }
            (
                FlowState::Complete {
                    user_id,
                    amr,
                    auth_time_ms,
                    continue_pending: true,
                },
                Event::Continued { auth },
            ) if auth.user_id == *user_id && to_millis(auth.auth_time) == *auth_time_ms => {
                Transition {
                    next: Some(FlowState::Complete {
                        user_id: user_id.clone(),
                        amr: amr.clone(),
                        auth_time_ms: *auth_time_ms,
                        continue_pending: false,
                    }),
                    log: vec![LogLine::new(
                        "authorize",
                        StepResult::Success,
                        format!(
                            "continued from Security info; authorization code issued to '{}'",
                            self.client_name
                        ),
                    )],
                    summary: None,
                    then: Then::IssueCode { auth },
                }
            }
            _ => Transition::stay(),
        }
    }

    /// The last line of a finished sign-in: the code issued, or the way on to Security info.
    pub fn completion_line(&self, destination: Destination) -> LogLine {
        if self.request.client_id == ACCOUNT_CLIENT_ID {
            LogLine::new("account", StepResult::Success, "signed in to Security info")
        } else if destination == Destination::App {
            LogLine::new(
                "authorize",
                StepResult::Success,
                format!("authorization code issued to '{}'", self.client_name),
            )
        } else {
            LogLine::new(
                "authorize",
                StepResult::Info,
                format!(
                    "signed in; sent to Security info to register a new method, with a link on to '{}'",
                    self.client_name
                ),
            )
        }
    }

    /// Whether finishing to `destination` issues the application a code now.
    pub fn issues_code(&self, destination: Destination) -> bool {
        self.request.client_id != ACCOUNT_CLIENT_ID && destination == Destination::App
    }
}

fn after_password(
    outcome: &PasswordOutcome,
    remembered: Remembered,
    now: OffsetDateTime,
) -> Transition {
    let (step, result, words) = password_step(outcome, now);
    let line = LogLine::new("password", result, words.clone()).because(outcome.reason());
    match step {
        Step::Retry { code } => {
            let detail = match outcome {
                PasswordOutcome::Wrong(FailureRecorded::Locked { until })
                | PasswordOutcome::Locked { until } => try_after(*until),
                _ => None,
            };
            Transition::retry(line, code, detail)
        }
        Step::Advance(FlowState::Complete { user_id, amr, .. }) => {
            Transition::finish(&user_id, amr, now, Destination::App, false, vec![line])
        }
        Step::Advance(next @ FlowState::SecondFactor { .. }) => match remembered {
            Remembered::Until(until) => {
                let FlowState::SecondFactor { user_id, mut amr } = next else {
                    unreachable!("matched above")
                };
                amr.push("mfa".into());
                let skipped = LogLine::new(
                    "remembered_device",
                    StepResult::Success,
                    format!(
                        "second factor not asked: the user asked to remember this browser (until {})",
                        iso8601(until)
                    ),
                );
                Transition::finish(
                    &user_id,
                    amr,
                    now,
                    Destination::App,
                    false,
                    vec![line, skipped],
                )
            }
            // 50076 when this browser is remembered but the application wants a fresh second
            // factor; 50074 otherwise.
            Remembered::NotForThisRequest => Transition::interrupt(
                next,
                line,
                ErrorCode::MfaRequiredByPolicy,
                format!(
                    "{words}; this browser is remembered, but the application asks for a fresh sign-in (prompt=login or max_age)"
                ),
            ),
            Remembered::No => {
                Transition::interrupt(next, line, ErrorCode::StrongAuthRequired, words)
            }
        },
        Step::Interrupt { code, next } => Transition::interrupt(next, line, code, words),
        // `password_step` goes nowhere else.
        Step::Advance(FlowState::Password | FlowState::RegisterSecondFactor { .. }) => {
            Transition::stay()
        }
    }
}

/// The log's method name for a code of `kind`.
fn code_method(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Passkey => "passkey",
        MethodKind::Push => "push",
        MethodKind::Totp => "totp",
        MethodKind::RecoveryCodes => "recovery_code",
    }
}

fn after_code(
    user_id: &str,
    amr: &[String],
    method_name: &str,
    outcome: &SecondFactorOutcome,
    remember_days: Option<i64>,
    now: OffsetDateTime,
) -> Transition {
    let (step, result, words) = second_factor_step(user_id, amr, method_name, outcome, now);
    let method = match outcome {
        SecondFactorOutcome::Accepted { kind, .. } | SecondFactorOutcome::Refused { kind, .. } => {
            code_method(*kind)
        }
        SecondFactorOutcome::Locked { .. } => "second_factor",
    };
    let line = LogLine::new(method, result, words).because(outcome.reason());
    match step {
        Step::Retry { code } => {
            let detail = match outcome {
                SecondFactorOutcome::Locked { until }
                | SecondFactorOutcome::Refused {
                    recorded: Some(FailureRecorded::Locked { until }),
                    ..
                } => try_after(*until),
                _ => None,
            };
            Transition::retry(line, code, detail)
        }
        Step::Advance(FlowState::Complete { user_id, amr, .. }) => {
            let mut log = vec![line];
            if let Some(days) = remember_days {
                log.push(LogLine::new(
                    "remembered_device",
                    StepResult::Info,
                    format!("the user asked not to be asked again on this browser for {days} days"),
                ));
            }
            // A recovery code is a sign the other methods are lost: Security info first.
            let destination = match outcome {
                SecondFactorOutcome::Accepted {
                    kind: MethodKind::RecoveryCodes,
                    ..
                } => Destination::SecurityInfo,
                _ => Destination::App,
            };
            Transition::finish(
                &user_id,
                amr,
                now,
                destination,
                remember_days.is_some(),
                log,
            )
        }
        Step::Advance(_) | Step::Interrupt { .. } => Transition::stay(),
    }
}

fn after_push(
    user_id: &str,
    amr: &[String],
    settled: PushSettlement,
    now: OffsetDateTime,
) -> Transition {
    let notice = match settled {
        PushSettlement::Approved { device_name } => {
            let line = LogLine::new(
                "push",
                StepResult::Success,
                format!("push approved on '{device_name}' with the matching number"),
            );
            return Transition::finish(
                user_id,
                amr_with(amr, MethodKind::Push),
                now,
                Destination::App,
                false,
                vec![line],
            );
        }
        PushSettlement::Blocked => push_rules::BLOCKED.to_owned(),
        PushSettlement::ApproverRemoved => {
            "The device that approved was removed from your account. Use another way.".to_owned()
        }
    };
    Transition {
        then: Then::OfferCode { notice },
        ..Transition::stay()
    }
}

fn after_access_pass(checked: Result<AccessPass, Refused>, now: OffsetDateTime) -> Transition {
    match checked {
        Ok(pass) => {
            let words = if pass.once {
                "temporary access pass accepted (one-time: now used)".to_owned()
            } else {
                format!(
                    "temporary access pass accepted (multi-use, expires {})",
                    iso8601(pass.expires)
                )
            };
            // On to Security info whatever the policy asks (never to the forced registration):
            // the user is there to add a method, with a link on to the application.
            Transition::finish(
                &pass.user_id,
                vec![access_pass::AMR.to_owned(), "mfa".to_owned()],
                now,
                Destination::SecurityInfo,
                false,
                vec![LogLine::new("access_pass", StepResult::Success, words)],
            )
        }
        Err(refused) => {
            let line = LogLine::new("access_pass", StepResult::Failure, refused.words())
                .because(Some(refused.reason()));
            Transition::retry(
                line,
                refused.code(),
                refused.locked_until().and_then(try_after),
            )
        }
    }
}

fn after_registration(
    user_id: &str,
    amr: &[String],
    registration: Registration,
    now: OffsetDateTime,
) -> Transition {
    let (method, code, shown, words) = match registration {
        Registration::Added {
            kind,
            name,
            amr: added,
        } => {
            let (method, words) = match kind {
                MethodKind::Passkey => (
                    "register_passkey",
                    format!(
                        "passkey '{name}' registered (its ceremony proves it); second factor satisfied"
                    ),
                ),
                _ => (
                    "register_totp",
                    format!(
                        "authenticator app '{name}' registered (its first code proves it); second factor satisfied"
                    ),
                ),
            };
            let line = LogLine::new(method, StepResult::Success, words);
            let amr = amr_plus(amr, added);
            return Transition::finish(user_id, amr, now, Destination::App, false, vec![line]);
        }
        Registration::PasskeyRefused { code, shown, words } => (
            "register_passkey",
            code,
            shown,
            format!("registering a passkey: {words}"),
        ),
        Registration::WrongCode { clock_off_by } => (
            "register_totp",
            ErrorCode::WrongVerificationCode,
            "Enter the code your app shows now for this account.".to_owned(),
            match clock_off_by {
                Some(off) => format!(
                    "registering an authenticator app: code off by {off} steps: check the device clock"
                ),
                None => "registering an authenticator app: wrong code".to_owned(),
            },
        ),
        Registration::Stale => (
            "register_totp",
            ErrorCode::FlowExpired,
            "That setup page had expired. Scan the new QR code below.".to_owned(),
            "registering an authenticator app: the setup page had expired".to_owned(),
        ),
    };
    // Still interrupted: there is no way past this page but registering.
    Transition {
        next: None,
        log: vec![LogLine::new(method, StepResult::Failure, words.clone())],
        summary: Some(Summary {
            result: SignInResult::Interrupted,
            error: Some((ErrorCode::MfaRegistrationRequired, words)),
        }),
        then: Then::Retry {
            code,
            detail: Some(shown),
        },
    }
}

/// A passkey's answer: alone from the first page (`user_id` is `None`: the passkey names the
/// user), or as the second step of `user_id`, who already earned `amr`.
fn after_passkey(
    user_id: Option<&str>,
    amr: &[String],
    outcome: PasskeyOutcome,
    now: OffsetDateTime,
) -> Transition {
    let (why, name, recorded) = match outcome {
        PasskeyOutcome::Accepted {
            user_id: owner,
            name,
            synced,
        } => {
            if user_id.is_some_and(|u| u != owner) {
                let line = LogLine::new(
                    "passkey",
                    StepResult::Failure,
                    format!("passkey '{name}' of another account refused"),
                )
                .because(Some(StepReason::PasskeyRemoved));
                return Transition::retry(line, ErrorCode::PasskeyFailed, None);
            }
            let key_amr = passkey::amr(synced);
            let kind = if synced { "synced" } else { "device-bound" };
            // User verification on the authenticator (PIN, biometrics) is the second factor of a
            // passkey alone: `mfa` either way.
            let words = match user_id {
                None => format!(
                    "passkey '{name}' ({kind}) accepted with user verification: signed in without a password"
                ),
                Some(_) => format!("passkey '{name}' ({kind}) accepted with user verification"),
            };
            let amr = amr_plus(amr, key_amr);
            let line = LogLine::new("passkey", StepResult::Success, words);
            return Transition::finish(&owner, amr, now, Destination::App, false, vec![line]);
        }
        PasskeyOutcome::Locked { until } => {
            let line = LogLine::new(
                "passkey",
                StepResult::Failure,
                format!(
                    "second step locked until {}: the passkey was not checked",
                    iso8601(until)
                ),
            )
            .because(Some(StepReason::SecondFactorLocked));
            return Transition::retry(line, ErrorCode::SecondFactorLocked, try_after(until));
        }
        PasskeyOutcome::Refused {
            why,
            name,
            recorded,
        } => (why, name, recorded),
    };
    let named = name.map(|n| format!("passkey '{n}': ")).unwrap_or_default();
    let mut words = format!("{named}{}", why.words());
    if let Some(FailureRecorded::Locked { until }) = recorded {
        words.push_str(&format!(
            "; the second step is now locked until {}",
            iso8601(until)
        ));
        let line = LogLine::new("passkey", StepResult::Failure, words)
            .because(Some(StepReason::SecondFactorLocked));
        return Transition::retry(line, ErrorCode::SecondFactorLocked, try_after(until));
    }
    let line = LogLine::new("passkey", StepResult::Failure, words).because(Some(why.reason()));
    Transition::retry(line, why.code(), Some(why.shown()))
}

impl PasswordOutcome {
    /// Whether a right password leads to a second factor, so the edge reads the remembered
    /// device.
    pub fn wants_second_factor(&self) -> bool {
        matches!(
            self,
            PasswordOutcome::Correct {
                after: AfterPassword::SecondFactor,
                ..
            }
        )
    }
}
