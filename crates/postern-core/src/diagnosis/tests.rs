#![allow(clippy::unwrap_used)]

use super::*;
use crate::credential::push::{Answer, Delivery};

fn t(s: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(s)
}

fn step(method: &str, result: StepResult, detail: &str, reason: Option<StepReason>) -> SignInStep {
    SignInStep {
        time: t(1),
        request_id: "r1".into(),
        method: method.into(),
        result,
        detail: detail.into(),
        reason,
    }
}

fn entry(result: SignInResult, code: Option<ErrorCode>, steps: Vec<SignInStep>) -> SignInEntry {
    SignInEntry {
        correlation_id: "c1".into(),
        started: t(0),
        updated: t(2),
        user_id: Some("u1".into()),
        username: Some("student".into()),
        client_id: Some("hub".into()),
        client_name: Some("Learning hub".into()),
        ip: Some("10.0.0.1".into()),
        user_agent: None,
        result,
        error_code: code,
        failure_reason: None,
        request_ids: vec!["r1".into()],
        steps,
    }
}

fn push(method: MethodKind, name: &str, contact: Option<OffsetDateTime>) -> MethodNow {
    MethodNow {
        id: name.into(),
        kind: method,
        name: name.into(),
        last_used: None,
        last_contact: contact,
        codes_left: None,
        is_default: false,
        paired_with: None,
    }
}

fn challenge(last_seen: Option<i64>, fetched: bool, answer: Option<Resolution>) -> Challenge {
    Challenge {
        id: "p1".into(),
        user_id: "u1".into(),
        flow_id: "f1".into(),
        correlation_id: "c1".into(),
        app_name: "Learning hub".into(),
        ip: "10.0.0.1".into(),
        number: 42,
        created: t(0),
        expires: t(60),
        deliveries: vec![Delivery {
            fetched_ms: fetched.then(|| crate::clock::to_millis(t(2))),
            ..Delivery::new("d1", "Pixel 7", last_seen, 0)
        }],
        answer: answer.map(|resolution| Answer {
            device_id: "d1".into(),
            resolution,
            at_ms: crate::clock::to_millis(t(10)),
        }),
        failure_logged: true,
        version: 1,
    }
}

fn kind_of(e: &SignInEntry, c: &[Challenge], a: Option<&AccountNow>) -> CauseKind {
    diagnose(e, c, a, t(120)).cause.kind
}

#[test]
fn causes_come_from_recorded_reasons() {
    let account = AccountNow::default();
    for reason in StepReason::ALL {
        let e = entry(
            SignInResult::Failure,
            None,
            vec![step("x", StepResult::Failure, "words", Some(reason))],
        );
        assert_eq!(kind_of(&e, &[], Some(&account)), CauseKind::from(reason));
    }
    // A later informational step does not hide the failure.
    let e = entry(
        SignInResult::Failure,
        Some(ErrorCode::InvalidCredentials),
        vec![
            step(
                "password",
                StepResult::Failure,
                "wrong",
                Some(StepReason::WrongPassword),
            ),
            step("authorize", StepResult::Info, "restarted", None),
        ],
    );
    assert_eq!(kind_of(&e, &[], Some(&account)), CauseKind::WrongPassword);
}

#[test]
fn without_a_reason_the_code_or_the_push_decides_and_nothing_is_guessed() {
    let e = entry(
        SignInResult::Failure,
        Some(ErrorCode::AccountLocked),
        vec![],
    );
    assert_eq!(kind_of(&e, &[], None), CauseKind::AccountLocked);
    let e = entry(
        SignInResult::Failure,
        Some(ErrorCode::SecondFactorFailed),
        vec![],
    );
    let c = challenge(Some(crate::clock::to_millis(t(-3 * 86_400))), false, None);
    assert_eq!(kind_of(&e, &[c], None), CauseKind::PushNotDelivered);
    let mut e = entry(SignInResult::Failure, Some(ErrorCode::ServerError), vec![]);
    e.failure_reason = Some("the database was unreachable".into());
    let d = diagnose(&e, &[], None, t(120));
    assert_eq!(d.cause.kind, CauseKind::Other);
    assert!(d.cause.summary.contains("the database was unreachable"));
    let e = entry(SignInResult::InProgress, None, vec![]);
    assert_eq!(kind_of(&e, &[], None), CauseKind::InProgress);
    let e = entry(SignInResult::Success, None, vec![]);
    assert_eq!(kind_of(&e, &[], None), CauseKind::Success);
}

#[test]
fn a_push_not_delivered_names_the_device_and_its_last_contact() {
    let three_days = crate::clock::to_millis(t(-3 * 86_400));
    let c = challenge(Some(three_days), false, None);
    let e = entry(
        SignInResult::Failure,
        Some(ErrorCode::SecondFactorFailed),
        vec![step(
            "push",
            StepResult::Failure,
            "timed out",
            Some(StepReason::PushNotDelivered),
        )],
    );
    let account = AccountNow {
        methods: vec![push(MethodKind::Push, "Pixel 7", Some(t(-3 * 86_400)))],
        ..AccountNow::default()
    };
    let d = diagnose(&e, &[c], Some(&account), t(120));
    assert_eq!(d.cause.kind, CauseKind::PushNotDelivered);
    assert!(d.cause.summary.contains("sent at "), "{}", d.cause.summary);
    assert!(
        d.cause
            .summary
            .contains("not delivered: 'Pixel 7' has not connected since"),
        "{}",
        d.cause.summary
    );
    assert!(d.cause.summary.contains("(3 days before)"));
    assert!(d.cause.summary.contains("timed out after 60 s"));
    let actions: Vec<_> = d.fixes.iter().filter_map(|f| f.action).collect();
    assert!(actions.contains(&FixAction::CreateAccessPass));
    assert!(actions.contains(&FixAction::RequireReregister));
    assert!(d.warnings.iter().any(|w| w.contains("only one way in")));
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("has not connected for 3 days"))
    );
    assert_eq!(d.push_requests.len(), 1);
    assert_eq!(d.push_requests[0].devices[0].received, None);
}

#[test]
fn push_answers_are_told_apart() {
    let e = entry(
        SignInResult::Failure,
        Some(ErrorCode::SecondFactorFailed),
        vec![],
    );
    let recent = Some(crate::clock::to_millis(t(-5)));
    for (answer, fetched, kind, words) in [
        (
            None,
            true,
            CauseKind::PushNotAnswered,
            "nothing was answered",
        ),
        (
            Some(Resolution::Denied),
            true,
            CauseKind::PushDenied,
            "denied on 'Pixel 7'",
        ),
        (
            Some(Resolution::Reported),
            true,
            CauseKind::PushReported,
            "reported as not the user",
        ),
        (
            Some(Resolution::WrongNumber),
            true,
            CauseKind::PushWrongNumber,
            "wrong number",
        ),
    ] {
        let d = diagnose(&e, &[challenge(recent, fetched, answer)], None, t(120));
        assert_eq!(d.cause.kind, kind);
        assert!(d.cause.summary.contains(words), "{}", d.cause.summary);
    }
    // Another sign-in's challenge is not this one's.
    let mut other = challenge(recent, false, None);
    other.correlation_id = "c2".into();
    assert_eq!(diagnose(&e, &[other], None, t(120)).push_requests.len(), 0);
}

#[test]
fn locks_show_until_when_and_offer_unlock() {
    let e = entry(
        SignInResult::Failure,
        Some(ErrorCode::AccountLocked),
        vec![step(
            "password",
            StepResult::Failure,
            "locked",
            Some(StepReason::AccountLocked),
        )],
    );
    let account = AccountNow {
        locked_until: Some(t(600)),
        ..AccountNow::default()
    };
    let d = diagnose(&e, &[], Some(&account), t(120));
    assert!(
        d.cause.summary.contains("locked until"),
        "{}",
        d.cause.summary
    );
    assert_eq!(d.fixes[0].action, Some(FixAction::Unlock));
    let d = diagnose(&e, &[], Some(&AccountNow::default()), t(120));
    assert!(d.cause.summary.contains("has ended since"));
}

#[test]
fn spans() {
    assert_eq!(span(Duration::days(3)), "3 days");
    assert_eq!(span(Duration::hours(1)), "1 hour");
    assert_eq!(span(Duration::seconds(40)), "40 seconds");
}
