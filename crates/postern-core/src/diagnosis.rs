//! Diagnosis of one sign-in: its timeline, the cause of its failure in plain words, and the fixes
//! a helpdesk can apply, derived only from what was recorded — the log entry with its steps'
//! reason keys, the push challenges of that sign-in, and the account as it is now. Nothing is
//! guessed: without a recorded reason the cause says what the log says and no more.

use crate::clock::{from_millis, iso8601};
use crate::credential::access_pass::PassState;
use crate::credential::method::MethodKind;
use crate::credential::push::{Challenge, Resolution};
use crate::signin_log::{SignInEntry, SignInResult, SignInStep, StepReason, StepResult};
use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The account as it is now, for the fixes and warnings.
#[derive(Debug, Clone, Default)]
pub struct AccountNow {
    pub disabled: bool,
    pub locked_until: Option<OffsetDateTime>,
    pub second_factor_locked_until: Option<OffsetDateTime>,
    pub push_blocked: bool,
    pub access_pass: Option<PassState>,
    pub methods: Vec<MethodNow>,
}

/// One of the user's current methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodNow {
    pub id: String,
    pub kind: MethodKind,
    pub name: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    /// Authenticator devices: when the app last reached the server.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_contact: Option<OffsetDateTime>,
    /// Recovery codes: how many are left.
    pub codes_left: Option<usize>,
    pub is_default: bool,
    /// An authenticator app's codes that come from a Postern Authenticator device (the same
    /// phone): not a second way in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_with: Option<String>,
}

/// What went wrong (or right), as a stable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    Success,
    InProgress,
    UnknownUser,
    WrongPassword,
    AccountLocked,
    AccountDisabled,
    PushNotDelivered,
    PushNotAnswered,
    PushDenied,
    PushReported,
    PushWrongNumber,
    PushRefused,
    CodeReused,
    ClockDrift,
    WrongCode,
    SecondFactorLocked,
    NoMethodRegistered,
    NoUsableMethod,
    AccessPassWrong,
    AccessPassExpired,
    AccessPassUsed,
    UnknownClient,
    RedirectUriMismatch,
    PasskeyRemoved,
    PasskeyCounterWentBack,
    PasskeyNotVerified,
    PasskeyInvalid,
    PasskeyNotAllowed,
    /// A failure with no recorded reason this version knows: the log's words stand.
    Other,
}

impl From<StepReason> for CauseKind {
    fn from(r: StepReason) -> Self {
        match r {
            StepReason::UnknownUser => CauseKind::UnknownUser,
            StepReason::WrongPassword => CauseKind::WrongPassword,
            StepReason::AccountLocked => CauseKind::AccountLocked,
            StepReason::AccountDisabled => CauseKind::AccountDisabled,
            StepReason::WrongCode => CauseKind::WrongCode,
            StepReason::CodeReused => CauseKind::CodeReused,
            StepReason::ClockDrift => CauseKind::ClockDrift,
            StepReason::SecondFactorLocked => CauseKind::SecondFactorLocked,
            StepReason::NoMethodRegistered => CauseKind::NoMethodRegistered,
            StepReason::NoUsableMethod => CauseKind::NoUsableMethod,
            StepReason::PushNotDelivered => CauseKind::PushNotDelivered,
            StepReason::PushNotAnswered => CauseKind::PushNotAnswered,
            StepReason::PushDenied => CauseKind::PushDenied,
            StepReason::PushReported => CauseKind::PushReported,
            StepReason::PushWrongNumber => CauseKind::PushWrongNumber,
            StepReason::PushRefused => CauseKind::PushRefused,
            StepReason::AccessPassWrong => CauseKind::AccessPassWrong,
            StepReason::AccessPassExpired => CauseKind::AccessPassExpired,
            StepReason::AccessPassUsed => CauseKind::AccessPassUsed,
            StepReason::UnknownClient => CauseKind::UnknownClient,
            StepReason::RedirectUriMismatch => CauseKind::RedirectUriMismatch,
            StepReason::PasskeyRemoved => CauseKind::PasskeyRemoved,
            StepReason::PasskeyCounterWentBack => CauseKind::PasskeyCounterWentBack,
            StepReason::PasskeyNotVerified => CauseKind::PasskeyNotVerified,
            StepReason::PasskeyInvalid => CauseKind::PasskeyInvalid,
            StepReason::PasskeyNotAllowed => CauseKind::PasskeyNotAllowed,
        }
    }
}

/// A one-click fix on the helpdesk pages (and an admin API call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixAction {
    Unlock,
    Enable,
    CreateAccessPass,
    RequireReregister,
    RevokeSessions,
}

/// A suggested fix: a one-click action, or advice in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<FixAction>,
    pub text: String,
}

impl Fix {
    fn action(action: FixAction, text: impl Into<String>) -> Fix {
        Fix {
            action: Some(action),
            text: text.into(),
        }
    }

    fn advice(text: impl Into<String>) -> Fix {
        Fix {
            action: None,
            text: text.into(),
        }
    }
}

/// The cause of a sign-in's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub kind: CauseKind,
    /// Plain words, with times and device names from the record.
    pub summary: String,
}

/// Everything a helpdesk sees for one sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub correlation_id: String,
    pub request_ids: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub ip: Option<String>,
    pub result: SignInResult,
    pub error_code: Option<ErrorCode>,
    pub cause: Cause,
    pub fixes: Vec<Fix>,
    /// Every step, in order.
    pub timeline: Vec<SignInStep>,
    /// The push requests of this sign-in, with their delivery tracking.
    pub push_requests: Vec<PushRequest>,
    /// The user's methods now.
    pub methods: Vec<MethodNow>,
    pub warnings: Vec<String>,
}

/// One push request of the sign-in, as tracked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    pub number: u32,
    pub devices: Vec<PushDelivery>,
    pub answer: Option<Resolution>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered: Option<OffsetDateTime>,
}

/// How far a push got on one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDelivery {
    pub device: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_contact_before: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub woken: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub received: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub shown: Option<OffsetDateTime>,
    /// What the Web Push service answered to the wake-up notification ("push service accepted
    /// (201)"); absent when none was sent.
    pub notification: Option<String>,
}

fn time_of(ms: Option<i64>) -> Option<OffsetDateTime> {
    ms.map(from_millis)
}

fn push_request(c: &Challenge) -> PushRequest {
    PushRequest {
        id: c.id.clone(),
        sent: c.created,
        expires: c.expires,
        number: c.number,
        devices: c
            .deliveries
            .iter()
            .map(|d| PushDelivery {
                device: d.device_name.clone(),
                last_contact_before: time_of(d.last_seen_ms),
                woken: time_of(d.woke_ms),
                received: time_of(d.fetched_ms),
                shown: time_of(d.shown_ms),
                notification: d.web_push.as_ref().map(|r| r.words.clone()),
            })
            .collect(),
        answer: c.answer.as_ref().map(|a| a.resolution),
        answered: c.answer.as_ref().map(|a| from_millis(a.at_ms)),
    }
}

/// "3 days", "5 hours", "12 minutes", "40 seconds".
pub fn span(d: Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if d.whole_days() >= 1 {
        plural(d.whole_days(), "day")
    } else if d.whole_hours() >= 1 {
        plural(d.whole_hours(), "hour")
    } else if d.whole_minutes() >= 1 {
        plural(d.whole_minutes(), "minute")
    } else {
        plural(d.whole_seconds().max(0), "second")
    }
}

/// The deciding step: the last failure with a reason, else the last step with a reason (an
/// interruption such as "no method registered").
fn deciding_step(entry: &SignInEntry) -> Option<&SignInStep> {
    let with_reason = || entry.steps.iter().rev().filter(|s| s.reason.is_some());
    with_reason()
        .find(|s| s.result == StepResult::Failure)
        .or_else(|| with_reason().next())
}

/// The reason a recorded error code stands for, when no step carries one (entries written
/// before steps had reasons, and failures outside a step).
fn reason_of_code(code: ErrorCode) -> Option<StepReason> {
    Some(match code {
        ErrorCode::AccountLocked => StepReason::AccountLocked,
        ErrorCode::AccountDisabled => StepReason::AccountDisabled,
        ErrorCode::WrongVerificationCode => StepReason::WrongCode,
        ErrorCode::VerificationCodeReused => StepReason::CodeReused,
        ErrorCode::SecondFactorLocked => StepReason::SecondFactorLocked,
        ErrorCode::MfaRegistrationRequired => StepReason::NoMethodRegistered,
        ErrorCode::UnknownClient => StepReason::UnknownClient,
        ErrorCode::RedirectUriMismatch => StepReason::RedirectUriMismatch,
        _ => return None,
    })
}

/// The diagnosis of `entry`, with the push `challenges` of that sign-in (any order) and the
/// account `now` (None when the username matched no account).
pub fn diagnose(
    entry: &SignInEntry,
    challenges: &[Challenge],
    account: Option<&AccountNow>,
    now: OffsetDateTime,
) -> Diagnosis {
    let mut challenges: Vec<&Challenge> = challenges
        .iter()
        .filter(|c| c.correlation_id == entry.correlation_id)
        .collect();
    challenges.sort_by_key(|c| c.created);
    let last_push = challenges.last().copied();
    let step = deciding_step(entry);
    let reason = match entry.result {
        SignInResult::Success => None,
        _ => step
            .and_then(|s| s.reason)
            .or_else(|| entry.error_code.and_then(reason_of_code))
            // A push that ended badly says why by itself.
            .or_else(|| last_push.and_then(|c| c.failure_reason(now))),
    };
    let username = entry.username.as_deref().unwrap_or("(no username)");
    let kind = match (entry.result, reason) {
        (SignInResult::Success, _) => CauseKind::Success,
        (_, Some(r)) => r.into(),
        (SignInResult::InProgress, None) => CauseKind::InProgress,
        (_, None) => CauseKind::Other,
    };
    let summary = summary(kind, entry, step, last_push, account, username, now);
    let fixes = fixes(kind, account, last_push, now);
    let methods = account.map(|a| a.methods.clone()).unwrap_or_default();
    let warnings = account.map(|a| warnings(a, now)).unwrap_or_default();
    Diagnosis {
        correlation_id: entry.correlation_id.clone(),
        request_ids: entry.request_ids.clone(),
        started: entry.started,
        user_id: entry.user_id.clone(),
        username: entry.username.clone(),
        client_id: entry.client_id.clone(),
        client_name: entry.client_name.clone(),
        ip: entry.ip.clone(),
        result: entry.result,
        error_code: entry.error_code,
        cause: Cause { kind, summary },
        fixes,
        timeline: entry.steps.clone(),
        push_requests: challenges.into_iter().map(push_request).collect(),
        methods,
        warnings,
    }
}

fn summary(
    kind: CauseKind,
    entry: &SignInEntry,
    step: Option<&SignInStep>,
    push: Option<&Challenge>,
    account: Option<&AccountNow>,
    username: &str,
    now: OffsetDateTime,
) -> String {
    let app = entry.client_name.as_deref().unwrap_or("the application");
    let detail = step
        .map(|s| s.detail.clone())
        .or_else(|| entry.failure_reason.clone())
        .unwrap_or_default();
    match kind {
        CauseKind::Success => {
            let how: Vec<&str> = entry
                .steps
                .iter()
                .filter(|s| s.result == StepResult::Success)
                .map(|s| s.method.as_str())
                .collect();
            format!(
                "'{username}' signed in to {app} at {} ({}).",
                iso8601(entry.updated),
                how.join(", ")
            )
        }
        CauseKind::InProgress => match push {
            Some(c) => format!(
                "Not finished: waiting for the push request sent at {} ({}).",
                iso8601(c.created),
                c.progress(now)
            ),
            None => format!(
                "Not finished: the last step was '{}'.",
                entry.steps.last().map(|s| s.detail.as_str()).unwrap_or("-")
            ),
        },
        CauseKind::UnknownUser => format!(
            "There is no account named '{username}': a typing mistake, or the user signs in with another name."
        ),
        CauseKind::WrongPassword => format!("Wrong password for '{username}'. {detail}"),
        CauseKind::AccountLocked => {
            let until = account
                .and_then(|a| a.locked_until)
                .filter(|u| *u > now)
                .map(|u| format!(" It is locked until {}.", iso8601(u)))
                .unwrap_or_else(|| " The lock has ended since.".into());
            format!("The account was locked after too many wrong passwords.{until} {detail}")
        }
        CauseKind::AccountDisabled => {
            "The account is disabled: every sign-in is refused until an admin enables it.".into()
        }
        CauseKind::PushNotDelivered
        | CauseKind::PushNotAnswered
        | CauseKind::PushDenied
        | CauseKind::PushReported
        | CauseKind::PushWrongNumber => match push {
            Some(c) => push_summary(c, now),
            None => detail,
        },
        CauseKind::PushRefused => format!("No push was sent: {detail}"),
        CauseKind::CodeReused => {
            format!("The code was right but had already been used (each code works once). {detail}")
        }
        CauseKind::ClockDrift => {
            format!("The code came from a device whose clock is wrong: {detail}")
        }
        CauseKind::WrongCode => format!("A wrong code was entered. {detail}"),
        CauseKind::SecondFactorLocked => {
            let until = account
                .and_then(|a| a.second_factor_locked_until)
                .filter(|u| *u > now)
                .map(|u| format!(" It is locked until {}.", iso8601(u)))
                .unwrap_or_else(|| " The lock has ended since.".into());
            format!(
                "Too many failed attempts (wrong codes or refused passkeys) locked the second step.{until}"
            )
        }
        CauseKind::NoMethodRegistered => {
            "The user has no second sign-in method yet and was asked to register one.".into()
        }
        CauseKind::NoUsableMethod => {
            "Every method the user registered is used up (for example all recovery codes).".into()
        }
        CauseKind::AccessPassWrong => {
            format!("A wrong temporary access pass was entered. {detail}")
        }
        CauseKind::AccessPassExpired => "The temporary access pass had expired.".into(),
        CauseKind::AccessPassUsed => {
            "The one-time temporary access pass had already been used.".into()
        }
        CauseKind::UnknownClient => format!(
            "The application is not registered (client id '{}'): {detail}",
            entry.client_id.as_deref().unwrap_or("-")
        ),
        CauseKind::RedirectUriMismatch => format!(
            "The application '{app}' sent a redirect URI that is not registered for it: {detail}"
        ),
        CauseKind::PasskeyRemoved => format!(
            "A passkey that is not registered to this account was used: {detail}. It was removed, or it belongs to another account or site."
        ),
        CauseKind::PasskeyCounterWentBack => format!(
            "The passkey's signature counter went backwards: possible cloned authenticator. {detail}"
        ),
        CauseKind::PasskeyNotVerified => format!(
            "The passkey was used without user verification (no PIN, fingerprint, face or screen lock): {detail}"
        ),
        CauseKind::PasskeyInvalid => format!("The passkey's answer was refused: {detail}"),
        CauseKind::PasskeyNotAllowed => format!("The passkey policy refused it: {detail}"),
        CauseKind::Other => match &entry.failure_reason {
            Some(r) => format!("The sign-in failed: {r}"),
            None => "The sign-in failed; the steps below say what happened.".into(),
        },
    }
}

/// "The push was sent at 08:14:02 to 'Pixel 7'; 'Pixel 7' has not connected since …; nothing was
/// answered; it timed out after 60 s."
fn push_summary(c: &Challenge, now: OffsetDateTime) -> String {
    let names: Vec<String> = c
        .deliveries
        .iter()
        .map(|d| format!("'{}'", d.device_name))
        .collect();
    let mut text = format!(
        "The push was sent at {} to {}",
        iso8601(c.created),
        names.join(", ")
    );
    let secs = (c.expires - c.created).whole_seconds();
    match (c.answer.as_ref(), c.failure_reason(now)) {
        (Some(a), _) => {
            let device = c
                .deliveries
                .iter()
                .find(|d| d.device_id == a.device_id)
                .map(|d| d.device_name.as_str())
                .unwrap_or("a device");
            let at = iso8601(from_millis(a.at_ms));
            text.push_str(&match a.resolution {
                Resolution::Approved => format!("; approved on '{device}' at {at}."),
                Resolution::Denied => format!("; denied on '{device}' at {at}."),
                Resolution::Reported => format!(
                    "; denied on '{device}' at {at} and reported as not the user: push is blocked for this account."
                ),
                Resolution::WrongNumber => format!(
                    "; the wrong number was entered on '{device}' at {at} (the number must match the browser's)."
                ),
            });
        }
        (None, Some(StepReason::PushNotAnswered)) => {
            for d in &c.deliveries {
                if let Some(shown) = d.shown_ms {
                    text.push_str(&format!(
                        "; '{}' opened it at {}",
                        d.device_name,
                        iso8601(from_millis(shown))
                    ));
                } else if let Some(got) = d.fetched_ms {
                    text.push_str(&format!(
                        "; '{}' received it at {}",
                        d.device_name,
                        iso8601(from_millis(got))
                    ));
                }
            }
            text.push_str(&format!(
                "; nothing was answered; it timed out after {secs} s."
            ));
        }
        (None, Some(_)) => {
            for d in &c.deliveries {
                text.push_str(&match d.last_seen_ms.map(from_millis) {
                    Some(seen) => format!(
                        "; not delivered: '{}' has not connected since {} ({} before)",
                        d.device_name,
                        iso8601(seen),
                        span(c.created - seen)
                    ),
                    None => format!("; not delivered: '{}' has never connected", d.device_name),
                });
            }
            text.push_str(&format!(
                "; nothing was answered; it timed out after {secs} s."
            ));
        }
        (None, None) => text.push_str("; still waiting."),
    }
    text
}

fn fixes(
    kind: CauseKind,
    account: Option<&AccountNow>,
    push: Option<&Challenge>,
    now: OffsetDateTime,
) -> Vec<Fix> {
    let Some(account) = account else {
        return match kind {
            CauseKind::UnknownClient | CauseKind::RedirectUriMismatch => app_fixes(kind),
            _ => vec![Fix::advice(
                "Check the username with the user; search for them by name or email.",
            )],
        };
    };
    let locked = account.locked_until.is_some_and(|u| u > now)
        || account.second_factor_locked_until.is_some_and(|u| u > now)
        || account.push_blocked;
    let pass = Fix::action(
        FixAction::CreateAccessPass,
        "If the user has lost every way in: issue a temporary access pass (one-time) and have them register a new method.",
    );
    let mut out = match kind {
        CauseKind::Success | CauseKind::InProgress => vec![],
        CauseKind::UnknownUser => vec![],
        CauseKind::WrongPassword => vec![Fix::advice(
            "If the user forgot the password, an admin sets a new one (postern admin user set-password).",
        )],
        CauseKind::AccountLocked | CauseKind::SecondFactorLocked => vec![Fix::action(
            FixAction::Unlock,
            "Unlock the account once you know it was the user.",
        )],
        CauseKind::AccountDisabled => vec![Fix::action(
            FixAction::Enable,
            "Enable the account if it should sign in again (admins only).",
        )],
        CauseKind::PushNotDelivered => {
            let mut v = vec![Fix::advice(
                "Ask the user to open the Postern Authenticator and pull to refresh: it fetches waiting requests. Then sign in again.",
            )];
            v.push(Fix::advice(
                "On the sign-in page, 'Sign in another way' offers the app's 6-digit code, which works offline.",
            ));
            if push.is_some_and(|c| {
                c.deliveries.iter().all(|d| {
                    d.last_seen_ms
                        .is_none_or(|s| c.created - from_millis(s) > Duration::days(1))
                })
            }) {
                v.push(pass.clone());
                v.push(Fix::action(
                    FixAction::RequireReregister,
                    "If the device is lost: require re-registration so the old device's approvals stop working.",
                ));
            }
            v
        }
        CauseKind::PushNotAnswered => vec![Fix::advice(
            "The app received the request but nobody answered: ask the user to approve it in the app within the time shown, or use a code.",
        )],
        CauseKind::PushDenied => vec![Fix::advice(
            "The request was denied on the device: ask the user whether it was them.",
        )],
        CauseKind::PushReported => vec![
            Fix::action(
                FixAction::RevokeSessions,
                "The user said it was not them: end their sessions and have them change the password.",
            ),
            Fix::action(
                FixAction::Unlock,
                "Once the password is changed, unlock to allow push again.",
            ),
        ],
        CauseKind::PushWrongNumber => vec![Fix::advice(
            "Explain number matching: type the number the browser shows into the app.",
        )],
        CauseKind::PushRefused => vec![Fix::action(
            FixAction::Unlock,
            "Allow push again if it was blocked after a report the user did not mean.",
        )],
        CauseKind::CodeReused => vec![Fix::advice(
            "Each code works once: wait for the next one (every 30 seconds).",
        )],
        CauseKind::ClockDrift => vec![Fix::advice(
            "Ask the user to set the device's date and time to automatic.",
        )],
        CauseKind::WrongCode => vec![Fix::advice(
            "Check that the code comes from the right account in the app (the one named after this organisation).",
        )],
        CauseKind::NoMethodRegistered | CauseKind::NoUsableMethod => vec![pass.clone()],
        CauseKind::AccessPassWrong => vec![Fix::advice(
            "Check the pass with the user (letters and digits, the dash is optional), or issue a new one.",
        )],
        CauseKind::AccessPassExpired | CauseKind::AccessPassUsed => vec![pass.clone()],
        CauseKind::UnknownClient | CauseKind::RedirectUriMismatch => app_fixes(kind),
        CauseKind::PasskeyRemoved => vec![Fix::advice(
            "Ask the user to use another method, or to register the passkey again on Security info.",
        )],
        CauseKind::PasskeyCounterWentBack => vec![
            Fix::advice(
                "Treat the passkey as compromised: remove it from the user's methods and have them register a new one.",
            ),
            pass.clone(),
        ],
        CauseKind::PasskeyNotVerified => vec![Fix::advice(
            "Ask the user to set a PIN on the security key, or a screen lock on the device, then try again.",
        )],
        CauseKind::PasskeyInvalid => vec![Fix::advice(
            "Ask the user to sign in from Postern's own address (not a copy of the page) and try again, or use another method.",
        )],
        CauseKind::PasskeyNotAllowed => vec![Fix::advice(
            "The passkeys.* settings refused this authenticator: tell the user which kinds are allowed, or change the policy.",
        )],
        CauseKind::Other => vec![],
    };
    if locked && !out.iter().any(|f| f.action == Some(FixAction::Unlock)) {
        out.push(Fix::action(
            FixAction::Unlock,
            "The account is locked now (password, codes or push): unlock it.",
        ));
    }
    if account.disabled && kind != CauseKind::AccountDisabled {
        out.push(Fix::action(
            FixAction::Enable,
            "The account is disabled now.",
        ));
    }
    out
}

fn app_fixes(kind: CauseKind) -> Vec<Fix> {
    vec![Fix::advice(match kind {
        CauseKind::UnknownClient => {
            "The application's client id is not registered: check its configuration, or register it (postern admin client create)."
        }
        _ => {
            "Register the exact redirect URI the application sends (postern admin client …), or fix the application's configuration."
        }
    })]
}

fn warnings(account: &AccountNow, now: OffsetDateTime) -> Vec<String> {
    let mut out = vec![];
    // A device's own offline codes are the same phone, not another way in.
    let ways = account
        .methods
        .iter()
        .filter(|m| m.paired_with.is_none())
        .count();
    if ways == 0 {
        out.push("The user has no second sign-in method.".into());
    } else if ways == 1 {
        out.push(
            "The user has only one way in: if it is lost they need the helpdesk again. Suggest a second method (recovery codes or another app)."
                .into(),
        );
    }
    for m in &account.methods {
        if m.kind == MethodKind::Push {
            match m.last_contact {
                None => out.push(format!("'{}' has never connected.", m.name)),
                Some(seen) if now - seen > crate::credential::push::STALE_DEVICE => {
                    out.push(format!(
                        "'{}' has not connected for {} (since {}).",
                        m.name,
                        span(now - seen),
                        iso8601(seen)
                    ))
                }
                Some(_) => {}
            }
        }
        if m.codes_left.is_some_and(|n| n <= 3) {
            out.push(format!(
                "Only {} recovery codes left.",
                m.codes_left.unwrap_or(0)
            ));
        }
    }
    if account.access_pass == Some(PassState::Usable) {
        out.push("A temporary access pass is active for this user.".into());
    }
    out
}

#[cfg(test)]
mod tests;
