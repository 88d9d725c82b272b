//! Every step a push adds to the sign-in log is written here: sent, notified, fetched, received,
//! shown, answered, failed. What a resolution means (an answer's words and reason, the cause of a
//! failure) is decided in `postern_core::credential::push`; this module only writes it.
//!
//! Steps that follow a change already stored (an answer written, a delivery recorded) return
//! their error like the rest; a caller that must not undo what is stored uses [`warn_unwritten`],
//! so a log that cannot be written is said in the server log, never hidden.

use crate::signin::log::{self, Step, Summary};
use crate::state::AppState;
use postern_core::ErrorCode;
use postern_core::credential::push::{AnswerStep, Challenge};
use postern_core::signin_log::{SignInResult, StepReason, StepResult};
use postern_store::StoreError;

async fn write(
    state: &AppState,
    c: &Challenge,
    request_id: &str,
    step: Step<'_>,
    summary: Option<Summary<'_>>,
) -> Result<(), StoreError> {
    log::record(state, &c.correlation_id, request_id, vec![step], summary).await
}

/// Sent: to which devices, woken over an open connection or waiting for them to connect.
pub async fn sent(state: &AppState, c: &Challenge, request_id: &str) -> Result<(), StoreError> {
    let names: Vec<String> = c
        .deliveries
        .iter()
        .map(|d| {
            let woke = if d.woke_ms.is_some() {
                "woken over its open connection"
            } else {
                "not connected now; it fetches the request when it connects"
            };
            format!("'{}' ({woke})", d.device_name)
        })
        .collect();
    let words = format!(
        "push request {} sent to {}; expires {}",
        c.id,
        names.join(", "),
        postern_core::clock::iso8601(c.expires)
    );
    delivery(state, c, request_id, words).await
}

/// A step of the delivery, in `words`.
async fn delivery(
    state: &AppState,
    c: &Challenge,
    request_id: &str,
    words: String,
) -> Result<(), StoreError> {
    write(
        state,
        c,
        request_id,
        Step::new("push", StepResult::Info, words),
        None,
    )
    .await
}

/// The Web Push service's answer for one device.
pub async fn notified(
    state: &AppState,
    c: &Challenge,
    device_name: &str,
    words: &str,
) -> Result<(), StoreError> {
    let words = format!("notification to '{device_name}': {words}");
    delivery(state, c, "", words).await
}

/// The app fetched the request (on connect, or pull to refresh).
pub async fn fetched(
    state: &AppState,
    c: &Challenge,
    device_name: &str,
    request_id: &str,
) -> Result<(), StoreError> {
    let words = format!("'{device_name}' fetched the request");
    delivery(state, c, request_id, words).await
}

/// The app received the request over its open connection.
pub async fn received(
    state: &AppState,
    c: &Challenge,
    device_name: &str,
    request_id: &str,
) -> Result<(), StoreError> {
    let words = format!("'{device_name}' received the request over its open connection");
    delivery(state, c, request_id, words).await
}

/// The app showed the request to the user.
pub async fn shown(
    state: &AppState,
    c: &Challenge,
    device_name: &str,
    request_id: &str,
) -> Result<(), StoreError> {
    let words = format!("the request was shown on '{device_name}'");
    delivery(state, c, request_id, words).await
}

/// The answer, in the words `postern_core::credential::push::answer_step` gave it; a fraud
/// report also ends the sign-in's summary as a failure.
pub async fn answered(
    state: &AppState,
    c: &Challenge,
    answered: AnswerStep,
    request_id: &str,
) -> Result<(), StoreError> {
    let summary = answered.reported.then(|| Summary {
        user_id: Some(&c.user_id),
        username: None,
        result: Some(SignInResult::Failure),
        error: Some((
            ErrorCode::SecondFactorFailed,
            "reported as fraud by the user (\"I didn't try to sign in\")".to_owned(),
        )),
    });
    let step = Step::new("push", answered.result, answered.words).because(answered.reason);
    write(state, c, request_id, step, summary).await
}

/// The push failed (denied, reported, a wrong number, expired): the cause and the sign-in's
/// summary (500121).
pub async fn failed(
    state: &AppState,
    c: &Challenge,
    cause: &str,
    reason: Option<StepReason>,
    username: &str,
    request_id: &str,
) -> Result<(), StoreError> {
    let step = Step::new("push", StepResult::Failure, cause).because(reason);
    let summary = Summary {
        user_id: Some(&c.user_id),
        username: Some(username),
        result: Some(SignInResult::Failure),
        error: Some((ErrorCode::SecondFactorFailed, cause.to_owned())),
    };
    write(state, c, request_id, step, Some(summary)).await
}

/// Says in the server log that a step of `c` could not be written (`what`), where what it
/// describes is stored already and must stand.
pub fn warn_unwritten(written: Result<(), StoreError>, what: &str, c: &Challenge) {
    if let Err(e) = written {
        tracing::warn!(error = %e, challenge = %c.id, "push {what}: the sign-in log step could not be written");
    }
}
