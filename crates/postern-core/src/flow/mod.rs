//! The sign-in flow: one state machine per sign-in, spanning its HTTP requests and carrying the
//! correlation id.
//!
//! `Password` → (`SecondFactor` | `RegisterSecondFactor` →) `Complete`. The edges check a secret
//! (a password, a code, a push answer, a pass…) and hand what they found to [`Flow::advance`] as
//! an [`Event`]; the [`Transition`] it returns says everything that follows: the next state, the
//! sign-in log's lines in words with their reasons, the entry's summary, and what the edge does
//! next ([`Then`]: show the page again with an error code, show the next page, offer a code
//! instead of push, or finish with this `Authentication` and destination). No edge builds an
//! `Authentication` or picks an error code of its own.
//!
//! Beside it: [`start`] decides what an authorization request meets (the single sign-on session,
//! `prompt=none`, a new sign-in) and [`choice`] which method the second step asks for.

mod advance;
pub mod choice;
pub mod start;
mod words;

pub use crate::credential::code::CodeRefusal;
pub use advance::{
    Event, LogLine, PasskeyOutcome, PushSettlement, Registration, Summary, Then, Transition,
};
pub use words::{amr_plus, amr_with};

use crate::credential::method::MethodKind;
use crate::oidc::authorize::AuthorizeRequest;
use crate::policy::AfterPassword;
use crate::signin_log::StepReason;
use crate::softlock::FailureRecorded;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The client id of Postern's own Security info pages when they need a sign-in. It is not a
/// stored client: a sign-in for it ends on `/account/security` with a session and no code.
pub const ACCOUNT_CLIENT_ID: &str = "postern-account";

/// Where a sign-in goes once complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Back to the application with an authorization code (or to Security info, for its own
    /// sign-ins).
    App,
    /// To Security info first (after a recovery code or an access pass: register a new method),
    /// with a link on to the application.
    SecurityInfo,
}

/// Whether this browser may skip the second step ("Don't ask again on this device").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// Yes: remembered for the user until then.
    Until(OffsetDateTime),
    /// Remembered, but the application asks for a fresh second factor (`prompt=login`,
    /// `max_age`).
    NotForThisRequest,
    No,
}

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
    /// Bumped by the store on every move: a flow moves only from the version it was read at
    /// (`Store::move_flow`), so two tabs or nodes never both move it.
    #[serde(skip)]
    pub version: i64,
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

#[cfg(test)]
mod tests;
