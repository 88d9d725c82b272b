//! Sign-in policy: when a second factor is needed, how long things live.

use serde::{Deserialize, Serialize};

/// `policy.mfa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Every sign-in needs a second factor once second factors exist in Postern.
    #[default]
    Required,
    /// A second factor is asked for only from users who have registered one.
    WhenRegistered,
}

/// What must happen after a correct password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPassword {
    /// Sign-in is complete.
    Complete,
    /// Ask for one of the user's second factors.
    SecondFactor,
    /// The user must register a second factor first (code 50079).
    RegisterSecondFactor,
}

/// Decides the step after the password.
///
/// `methods_available` says whether this Postern offers any second-factor method at all; until
/// one exists, `Required` has nothing to enforce. `registered` is how many second factors the user
/// has.
pub fn after_password(
    policy: MfaPolicy,
    methods_available: bool,
    registered: usize,
) -> AfterPassword {
    match (policy, methods_available, registered) {
        (_, _, n) if n > 0 => AfterPassword::SecondFactor,
        (MfaPolicy::Required, true, 0) => AfterPassword::RegisterSecondFactor,
        _ => AfterPassword::Complete,
    }
}

/// May a device the user asked to remember stand in for the second factor of this sign-in?
///
/// Never when the application asks for a fresh sign-in (`prompt=login`) or bounds the age of the
/// authentication (`max_age`): those ask for proof now, not a proof from days ago.
pub fn remembered_device_allowed(request: &crate::oidc::authorize::AuthorizeRequest) -> bool {
    request.prompt != crate::oidc::authorize::Prompt::Login && request.max_age.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        assert_eq!(
            after_password(MfaPolicy::Required, false, 0),
            AfterPassword::Complete
        );
        assert_eq!(
            after_password(MfaPolicy::Required, true, 0),
            AfterPassword::RegisterSecondFactor
        );
        assert_eq!(
            after_password(MfaPolicy::Required, true, 2),
            AfterPassword::SecondFactor
        );
        assert_eq!(
            after_password(MfaPolicy::WhenRegistered, true, 0),
            AfterPassword::Complete
        );
        assert_eq!(
            after_password(MfaPolicy::WhenRegistered, true, 1),
            AfterPassword::SecondFactor
        );
    }
}
