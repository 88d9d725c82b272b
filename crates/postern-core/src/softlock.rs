//! Smart lockout for guessable secrets: passwords, second-factor codes and temporary access passes,
//! each kind with a counter of its own (so locking one never locks the door the helpdesk opens).
//!
//! After `threshold` failures the account is locked for `base_lock`, doubling with each further
//! lockout up to `max_lock`. The same wrong password repeated does not count twice: a keyed
//! fingerprint of the last few wrong guesses is kept (never the guess itself). A locked account is
//! refused without checking the password. The state is plain data, stored by the store so that it
//! holds across nodes.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Which counter a failure counts in: one per user and kind of secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Password,
    /// Every code-like second factor (authenticator codes, recovery codes, a push answered with
    /// a wrong number) shares one counter: switching method does not buy more guesses.
    SecondFactor,
    /// Temporary access passes: their own counter, so that someone who locks the password by
    /// guessing it does not also lock out the helpdesk's rescue.
    AccessPass,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::SecondFactor => "second_factor",
            SecretKind::AccessPass => "access_pass",
        }
    }

    /// The settings the kind locks by: passes as strictly as passwords (`lockout.*`), codes by
    /// their own (`second_factor_lockout.*`).
    pub fn policy<'a>(
        self,
        password: &'a LockoutPolicy,
        second_factor: &'a LockoutPolicy,
    ) -> &'a LockoutPolicy {
        match self {
            SecretKind::Password | SecretKind::AccessPass => password,
            SecretKind::SecondFactor => second_factor,
        }
    }
}

/// Lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub base_lock: Duration,
    pub max_lock: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 10,
            base_lock: Duration::seconds(60),
            max_lock: Duration::hours(1),
        }
    }
}

/// How many recent wrong-guess fingerprints are remembered.
const RECENT_FINGERPRINTS: usize = 3;

/// One account's lockout state for one kind of secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutState {
    /// Failures counted since the last success or lock expiry.
    pub failures: u32,
    /// Fingerprints of the last few wrong guesses (keyed hashes, never the guesses).
    pub recent: Vec<String>,
    /// Locked until this time (milliseconds since the epoch), if locked.
    pub locked_until_ms: Option<i64>,
    /// How many lockouts in a row (drives the growing lock time).
    pub lockouts: u32,
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureRecorded {
    /// Counted; `remaining` attempts before a lock.
    Counted { remaining: u32 },
    /// A repeat of a recent wrong guess: not counted.
    Repeated,
    /// This failure locked the account until the given time.
    Locked { until: OffsetDateTime },
}

impl LockoutState {
    /// The lock in force at `now`, if any.
    pub fn locked_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let until = crate::clock::from_millis(self.locked_until_ms?);
        (until > now).then_some(until)
    }

    /// Records a wrong guess with its fingerprint.
    pub fn record_failure(
        &mut self,
        policy: &LockoutPolicy,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> FailureRecorded {
        self.expire(now);
        if let Some(until) = self.locked_until(now) {
            // Already locked (a parallel guess got there first): not counted, still locked.
            return FailureRecorded::Locked { until };
        }
        if self.recent.iter().any(|f| f == fingerprint) {
            return FailureRecorded::Repeated;
        }
        self.recent.push(fingerprint.to_owned());
        if self.recent.len() > RECENT_FINGERPRINTS {
            self.recent.remove(0);
        }
        self.failures += 1;
        if self.failures >= policy.threshold {
            self.lockouts += 1;
            let factor = 1i64 << (self.lockouts - 1).min(20);
            let lock = (policy.base_lock * factor as f64).min(policy.max_lock);
            let until = now + lock;
            self.locked_until_ms = Some(crate::clock::to_millis(until));
            self.failures = 0;
            self.recent.clear();
            return FailureRecorded::Locked { until };
        }
        FailureRecorded::Counted {
            remaining: policy.threshold - self.failures,
        }
    }

    /// A success clears the counters and the lockout history.
    pub fn record_success(&mut self) {
        *self = LockoutState::default();
    }

    /// Clears an expired lock (keeping `lockouts`, so the next lock grows).
    fn expire(&mut self, now: OffsetDateTime) {
        if let Some(ms) = self.locked_until_ms
            && crate::clock::from_millis(ms) <= now
        {
            self.locked_until_ms = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_threshold_and_grows() {
        let policy = LockoutPolicy::default();
        let mut s = LockoutState::default();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20000);
        for i in 0..9 {
            assert_eq!(
                s.record_failure(&policy, &format!("f{i}"), t0),
                FailureRecorded::Counted { remaining: 9 - i }
            );
        }
        let FailureRecorded::Locked { until } = s.record_failure(&policy, "f9", t0) else {
            panic!("expected a lock")
        };
        assert_eq!(until - t0, Duration::seconds(60));
        assert_eq!(s.locked_until(t0 + Duration::seconds(59)), Some(until));
        assert_eq!(
            s.record_failure(&policy, "during-lock", t0 + Duration::seconds(1)),
            FailureRecorded::Locked { until },
            "a failure while locked is not counted and says locked"
        );
        assert_eq!(s.locked_until(t0 + Duration::seconds(61)), None);

        let t1 = t0 + Duration::seconds(61);
        for i in 0..9 {
            s.record_failure(&policy, &format!("g{i}"), t1);
        }
        let FailureRecorded::Locked { until } = s.record_failure(&policy, "g9", t1) else {
            panic!("expected a second lock")
        };
        assert_eq!(
            until - t1,
            Duration::seconds(120),
            "the second lock doubles"
        );
        s.record_success();
        assert_eq!(s, LockoutState::default());
    }

    #[test]
    fn repeated_wrong_password_counts_once() {
        let policy = LockoutPolicy::default();
        let mut s = LockoutState::default();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        assert!(matches!(
            s.record_failure(&policy, "same", t0),
            FailureRecorded::Counted { .. }
        ));
        for _ in 0..20 {
            assert_eq!(
                s.record_failure(&policy, "same", t0),
                FailureRecorded::Repeated
            );
        }
        assert_eq!(s.failures, 1);
    }
}
