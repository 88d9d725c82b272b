//! Push approvals with number matching: the challenge a sign-in stores for the user's devices,
//! its delivery tracking, the rules for an answer, and the cause of a failure in plain words.
//!
//! A push is only a wake-up call: the challenge lives in the store, the app fetches what is
//! pending whenever it connects, and every step of the delivery is recorded so that the browser
//! and the helpdesk can tell what happened. Pure functions over data; time and randomness are
//! passed in.

use crate::random::Random;
use crate::signin_log::{StepReason, StepResult};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// At most this many push requests per user in [`FATIGUE_WINDOW`]; then only code methods.
pub const FATIGUE_LIMIT: usize = 3;
pub const FATIGUE_WINDOW: Duration = Duration::minutes(5);
/// After this many ignored or denied pushes in a row, the next sign-in starts with a code.
pub const UNANSWERED_BEFORE_CODE_FIRST: u32 = 2;
/// A device not heard from for this long is named on the waiting page before the user waits.
pub const STALE_DEVICE: Duration = Duration::hours(24);

/// Why push is off for a user who reported a request as not theirs.
pub const BLOCKED: &str = "Push requests are turned off for your account because one was reported as not you. Use a code instead, and check Security info.";

/// The user's push standing, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushStanding {
    /// Blocked after a fraud report.
    pub blocked: bool,
    /// Pushes in a row that went unanswered or were denied.
    pub unanswered: i64,
}

/// Why a sign-in should start with a code rather than a push, if it should: push is blocked, or
/// the last pushes in a row were ignored or denied.
pub fn code_first(standing: PushStanding) -> Option<&'static str> {
    if standing.blocked {
        Some(BLOCKED)
    } else if standing.unanswered >= i64::from(UNANSWERED_BEFORE_CODE_FIRST) {
        Some(
            "Your last push requests were not approved, so this time we ask for a code. A push is still under \"Sign in another way\".",
        )
    } else {
        None
    }
}

/// The words when the user reached [`FATIGUE_LIMIT`].
pub fn fatigue_words() -> String {
    format!(
        "{FATIGUE_LIMIT} push requests in the last 5 minutes is the most we send. Use a code instead."
    )
}

/// Whether another push may be sent to a user with `standing` who had `recent` requests in the
/// last [`FATIGUE_WINDOW`]; if not, why, in words for the page.
pub fn refusal(standing: PushStanding, recent: usize) -> Option<String> {
    if standing.blocked {
        Some(BLOCKED.into())
    } else if recent >= FATIGUE_LIMIT {
        Some(fatigue_words())
    } else {
        None
    }
}

/// Why push is not offered while the second step is locked.
pub fn locked_words(until: OffsetDateTime) -> String {
    format!(
        "Too many failed attempts: the second step is paused until {} (UTC).",
        crate::clock::iso8601(until)
    )
}

/// One device a challenge was sent to, and how far the delivery got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub device_id: String,
    pub device_name: String,
    /// When the device was last heard from, as known when the challenge was made.
    pub last_seen_ms: Option<i64>,
    /// Woken over an open connection.
    pub woke_ms: Option<i64>,
    /// The app fetched it (pending list or event stream).
    pub fetched_ms: Option<i64>,
    /// The app showed it to the user.
    pub shown_ms: Option<i64>,
    /// The device's Web Push subscriptions when the challenge was made (0: no notification is
    /// sent; the app hears of it over its open connection or when it next fetches).
    #[serde(default)]
    pub web_push_subscriptions: u32,
    /// What the push service answered to the wake-up notification, once it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_push: Option<WebPushResult>,
}

/// The push service's answer to one device's wake-up notification (RFC 8030).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushResult {
    /// Accepted for delivery (which still may come late, or never: the request waits anyway).
    pub accepted: bool,
    /// The answer in words: "push service accepted (201)", "push service unreachable: …".
    pub words: String,
    pub at_ms: i64,
}

impl Delivery {
    /// A delivery that has not started, for a device with `web_push_subscriptions`.
    pub fn new(
        device_id: &str,
        device_name: &str,
        last_seen_ms: Option<i64>,
        web_push_subscriptions: u32,
    ) -> Delivery {
        Delivery {
            device_id: device_id.to_owned(),
            device_name: device_name.to_owned(),
            last_seen_ms,
            woke_ms: None,
            fetched_ms: None,
            shown_ms: None,
            web_push_subscriptions,
            web_push: None,
        }
    }

    /// What became of the notification, for the waiting page ("a notification went to …").
    fn notification_note(&self) -> Option<String> {
        match &self.web_push {
            Some(r) if r.accepted => Some(format!(
                "A notification went to '{}': tap it, or open the Postern Authenticator.",
                self.device_name
            )),
            Some(r) => Some(format!(
                "The notification to '{}' could not be sent ({}): open the Postern Authenticator on it, the request is waiting there.",
                self.device_name, r.words
            )),
            None if self.web_push_subscriptions > 0 => {
                Some(format!("Sending a notification to '{}'…", self.device_name))
            }
            None => None,
        }
    }
}

/// How a challenge was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Approved,
    Denied,
    /// Denied with "I didn't try to sign in".
    Reported,
    WrongNumber,
}

/// The answer, once there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub device_id: String,
    pub resolution: Resolution,
    pub at_ms: i64,
}

/// A push challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    pub user_id: String,
    pub flow_id: String,
    pub correlation_id: String,
    /// The application the user is signing in to.
    pub app_name: String,
    pub ip: String,
    /// The two-digit number shown in the browser and typed into the app.
    pub number: u32,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
    pub deliveries: Vec<Delivery>,
    pub answer: Option<Answer>,
    /// Whether the failure was already written to the sign-in log.
    #[serde(default)]
    pub failure_logged: bool,
    /// Bumped on every write (answers are written over the version read: single use).
    #[serde(skip)]
    pub version: i64,
}

/// Where a challenge stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Resolved(Resolution),
    Expired,
}

impl Challenge {
    pub fn status(&self, now: OffsetDateTime) -> Status {
        match &self.answer {
            Some(a) => Status::Resolved(a.resolution),
            None if now >= self.expires => Status::Expired,
            None => Status::Pending,
        }
    }

    pub fn delivery_mut(&mut self, device_id: &str) -> Option<&mut Delivery> {
        self.deliveries
            .iter_mut()
            .find(|d| d.device_id == device_id)
    }

    /// What the waiting page says right now.
    pub fn progress(&self, now: OffsetDateTime) -> String {
        let shown = self.deliveries.iter().find(|d| d.shown_ms.is_some());
        let fetched = self.deliveries.iter().find(|d| d.fetched_ms.is_some());
        if let Some(d) = shown {
            return format!("Opened on '{}'. Enter the number there.", d.device_name);
        }
        if let Some(d) = fetched {
            return format!(
                "Delivered to '{}'. Open the Postern Authenticator.",
                d.device_name
            );
        }
        let mut text = "Sent — your device hasn't picked it up yet.".to_owned();
        for d in &self.deliveries {
            if let Some(note) = d.notification_note() {
                text.push(' ');
                text.push_str(&note);
            }
            if let Some(note) = stale_note(d, now) {
                text.push(' ');
                text.push_str(&note);
            }
        }
        text
    }

    /// Why the push did not sign the user in, as the log's stable key (see [`Challenge::cause`]
    /// for the words).
    pub fn failure_reason(&self, now: OffsetDateTime) -> Option<StepReason> {
        match self.status(now) {
            Status::Pending | Status::Resolved(Resolution::Approved) => None,
            Status::Resolved(Resolution::Denied) => Some(StepReason::PushDenied),
            Status::Resolved(Resolution::Reported) => Some(StepReason::PushReported),
            Status::Resolved(Resolution::WrongNumber) => Some(StepReason::PushWrongNumber),
            Status::Expired if self.deliveries.iter().any(|d| d.fetched_ms.is_some()) => {
                Some(StepReason::PushNotAnswered)
            }
            Status::Expired => Some(StepReason::PushNotDelivered),
        }
    }

    /// Why the push did not sign the user in, in plain words from the tracked steps.
    pub fn cause(&self, now: OffsetDateTime) -> Option<String> {
        let name = |id: &str| {
            self.deliveries
                .iter()
                .find(|d| d.device_id == id)
                .map(|d| d.device_name.clone())
                .unwrap_or_else(|| "a device".into())
        };
        match self.status(now) {
            Status::Pending | Status::Resolved(Resolution::Approved) => None,
            Status::Resolved(Resolution::Denied) => Some(format!(
                "denied on '{}'",
                name(&self.answer.as_ref()?.device_id)
            )),
            Status::Resolved(Resolution::Reported) => Some(format!(
                "denied on '{}' and reported as not the user (push is blocked for this account)",
                name(&self.answer.as_ref()?.device_id)
            )),
            Status::Resolved(Resolution::WrongNumber) => Some(format!(
                "wrong number entered on '{}'",
                name(&self.answer.as_ref()?.device_id)
            )),
            Status::Expired => {
                let secs = (self.expires - self.created).whole_seconds();
                Some(
                    if let Some(d) = self.deliveries.iter().find(|d| d.shown_ms.is_some()) {
                        format!(
                            "opened on '{}' but not answered within {secs} s",
                            d.device_name
                        )
                    } else if let Some(d) = self.deliveries.iter().find(|d| d.fetched_ms.is_some())
                    {
                        format!(
                            "delivered to '{}' but not opened within {secs} s",
                            d.device_name
                        )
                    } else {
                        let who: Vec<String> = self
                            .deliveries
                            .iter()
                            .map(|d| {
                                let seen = match d.last_seen_ms {
                                    Some(ms) => format!(
                                        "'{}' has not connected since {}",
                                        d.device_name,
                                        crate::clock::iso8601(crate::clock::from_millis(ms))
                                    ),
                                    None => format!("'{}' has never connected", d.device_name),
                                };
                                match &d.web_push {
                                    Some(r) => format!("{seen} (its notification: {})", r.words),
                                    None => seen,
                                }
                            })
                            .collect();
                        format!("not delivered within {secs} s: {}", who.join("; "))
                    },
                )
            }
        }
    }
}

/// "'Pixel 7' has not connected since …" for a device not heard from for a long time.
pub fn stale_note(d: &Delivery, now: OffsetDateTime) -> Option<String> {
    match d.last_seen_ms.map(crate::clock::from_millis) {
        None => Some(format!(
            "'{}' has never connected: open the Postern Authenticator on it, or choose another way.",
            d.device_name
        )),
        Some(seen) if now - seen > STALE_DEVICE => Some(format!(
            "'{}' has not connected since {}: open the app on it, or choose another way.",
            d.device_name,
            crate::clock::iso8601(seen)
        )),
        Some(_) => None,
    }
}

/// A number from 10 to 99, uniformly.
pub fn new_number(rng: &dyn Random) -> u32 {
    loop {
        let mut b = [0u8; 1];
        rng.fill(&mut b);
        // 180 = 2 × 90: rejection keeps it uniform.
        if b[0] < 180 {
            return 10 + u32::from(b[0]) % 90;
        }
    }
}

/// What an answer from a device does to a pending challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerCheck {
    /// Record this resolution.
    Resolve(Resolution),
    Expired,
    AlreadyAnswered,
    /// The device is not one the challenge was sent to.
    NotTargeted,
}

/// What a device answered to a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approve, with the number the user typed (none typed is a wrong number).
    Approve { number: Option<u32> },
    /// Deny: the user does not want this sign-in.
    Deny,
    /// "I didn't try to sign in": a denial that blocks push and flags the sign-in.
    Report,
}

impl Decision {
    /// The decision of a wire answer (`decision`, `number`, `report`); `report` only counts with
    /// a denial, and a number only with an approval.
    pub fn from_wire(
        decision: postern_proto::authenticator::Decision,
        number: Option<u32>,
        report: bool,
    ) -> Decision {
        use postern_proto::authenticator::Decision as Wire;
        match decision {
            Wire::Approve => Decision::Approve { number },
            Wire::Deny if report => Decision::Report,
            Wire::Deny => Decision::Deny,
        }
    }
}

/// What a device's answer means for the sign-in log: the step's result, its words and reason,
/// and whether it ends the sign-in as reported fraud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerStep {
    pub result: StepResult,
    pub words: String,
    pub reason: Option<StepReason>,
    pub reported: bool,
}

/// The log step of `decision` from the device named `device`, which came out as `outcome`.
pub fn answer_step(
    outcome: postern_proto::authenticator::AnswerOutcome,
    decision: Decision,
    device: &str,
) -> AnswerStep {
    use postern_proto::authenticator::AnswerOutcome as Out;
    let step = |result, words: String, reason| AnswerStep {
        result,
        words,
        reason,
        reported: false,
    };
    match outcome {
        Out::Approved => step(
            StepResult::Success,
            format!("approved on '{device}' with the matching number"),
            None,
        ),
        Out::Denied if decision == Decision::Report => AnswerStep {
            reported: true,
            ..step(
                StepResult::Failure,
                format!(
                    "denied on '{device}' and reported as fraud: \"I didn't try to sign in\" (push is now blocked for this user)"
                ),
                Some(StepReason::PushReported),
            )
        },
        Out::Denied => step(
            StepResult::Failure,
            format!("denied on '{device}'"),
            Some(StepReason::PushDenied),
        ),
        Out::WrongNumber => step(
            StepResult::Failure,
            format!("wrong number entered on '{device}' (counted as a failed attempt)"),
            Some(StepReason::PushWrongNumber),
        ),
        Out::Expired => step(
            StepResult::Info,
            format!("'{device}' answered after the request expired"),
            None,
        ),
        Out::AlreadyAnswered => step(
            StepResult::Info,
            format!("'{device}' answered a request already answered"),
            None,
        ),
    }
}

/// Checks `decision` from `device_id` at `now`.
pub fn check_answer(
    c: &Challenge,
    device_id: &str,
    decision: Decision,
    now: OffsetDateTime,
) -> AnswerCheck {
    if !c.deliveries.iter().any(|d| d.device_id == device_id) {
        return AnswerCheck::NotTargeted;
    }
    match c.status(now) {
        Status::Resolved(_) => return AnswerCheck::AlreadyAnswered,
        Status::Expired => return AnswerCheck::Expired,
        Status::Pending => {}
    }
    let number = match decision {
        Decision::Deny => return AnswerCheck::Resolve(Resolution::Denied),
        Decision::Report => return AnswerCheck::Resolve(Resolution::Reported),
        Decision::Approve { number } => number,
    };
    let matches = number.is_some_and(|n| {
        crate::secret::ct_eq(n.to_string().as_bytes(), c.number.to_string().as_bytes())
    });
    AnswerCheck::Resolve(if matches {
        Resolution::Approved
    } else {
        Resolution::WrongNumber
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn challenge(now: OffsetDateTime) -> Challenge {
        Challenge {
            id: "c".into(),
            user_id: "u".into(),
            flow_id: "f".into(),
            correlation_id: "k".into(),
            app_name: "Hub".into(),
            ip: "10.0.0.1".into(),
            number: 42,
            created: now,
            expires: now + Duration::seconds(60),
            deliveries: vec![Delivery::new(
                "d",
                "Pixel 7",
                Some(crate::clock::to_millis(now - Duration::days(3))),
                0,
            )],
            answer: None,
            failure_logged: false,
            version: 1,
        }
    }

    #[test]
    fn numbers_are_two_digits() {
        for _ in 0..1000 {
            assert!((10..=99).contains(&new_number(&OsRandom)));
        }
    }

    fn approve(number: Option<u32>) -> Decision {
        Decision::Approve { number }
    }

    #[test]
    fn wire_answers_become_decisions() {
        use postern_proto::authenticator::Decision as Wire;
        assert_eq!(
            Decision::from_wire(Wire::Approve, Some(7), true),
            approve(Some(7))
        );
        assert_eq!(
            Decision::from_wire(Wire::Deny, Some(7), false),
            Decision::Deny
        );
        assert_eq!(
            Decision::from_wire(Wire::Deny, None, true),
            Decision::Report
        );
    }

    #[test]
    fn answers_and_causes() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20000);
        let c = challenge(now);
        assert_eq!(
            check_answer(&c, "x", approve(Some(42)), now),
            AnswerCheck::NotTargeted
        );
        assert_eq!(
            check_answer(&c, "d", approve(Some(42)), now),
            AnswerCheck::Resolve(Resolution::Approved)
        );
        assert_eq!(
            check_answer(&c, "d", approve(Some(24)), now),
            AnswerCheck::Resolve(Resolution::WrongNumber)
        );
        assert_eq!(
            check_answer(&c, "d", approve(None), now),
            AnswerCheck::Resolve(Resolution::WrongNumber)
        );
        assert_eq!(
            check_answer(&c, "d", Decision::Report, now),
            AnswerCheck::Resolve(Resolution::Reported)
        );
        assert_eq!(
            check_answer(&c, "d", Decision::Deny, now),
            AnswerCheck::Resolve(Resolution::Denied)
        );
        let later = now + Duration::seconds(61);
        assert_eq!(
            check_answer(&c, "d", approve(Some(42)), later),
            AnswerCheck::Expired
        );
        assert!(c.progress(now).contains("has not connected since"));
        let cause = c.cause(later).unwrap();
        assert!(
            cause.starts_with("not delivered within 60 s: 'Pixel 7' has not connected since"),
            "{cause}"
        );

        let mut opened = c.clone();
        opened.deliveries[0].fetched_ms = Some(1);
        opened.deliveries[0].shown_ms = Some(2);
        assert_eq!(
            opened.cause(later).unwrap(),
            "opened on 'Pixel 7' but not answered within 60 s"
        );
        assert!(opened.progress(now).starts_with("Opened on 'Pixel 7'"));
        let mut notified = c.clone();
        notified.deliveries[0].web_push_subscriptions = 1;
        assert!(
            notified
                .progress(now)
                .contains("Sending a notification to 'Pixel 7'")
        );
        notified.deliveries[0].web_push = Some(WebPushResult {
            accepted: true,
            words: "push service accepted (201)".into(),
            at_ms: 1,
        });
        assert!(
            notified
                .progress(now)
                .contains("A notification went to 'Pixel 7'")
        );
        assert!(
            notified
                .cause(later)
                .unwrap()
                .ends_with("(its notification: push service accepted (201))")
        );
        notified.deliveries[0].web_push = Some(WebPushResult {
            accepted: false,
            words: "push service unreachable: timed out after 10 s".into(),
            at_ms: 1,
        });
        assert!(notified.progress(now).contains(
            "could not be sent (push service unreachable: timed out after 10 s): open the Postern Authenticator"
        ));

        let mut denied = c.clone();
        denied.answer = Some(Answer {
            device_id: "d".into(),
            resolution: Resolution::Denied,
            at_ms: 0,
        });
        assert_eq!(denied.cause(now).unwrap(), "denied on 'Pixel 7'");
        assert_eq!(
            check_answer(&denied, "d", approve(Some(42)), now),
            AnswerCheck::AlreadyAnswered
        );
    }
}
