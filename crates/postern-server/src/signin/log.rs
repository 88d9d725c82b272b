//! Writing the sign-in log: one entry per flow, a step per thing that happened. Only words and
//! identifiers go in — never a password, code or token. Each request writes what it adds in one
//! call (one transaction): sign-ins are the hot path, and the log must not slow them down.

use crate::http::ClientInfo;
use crate::state::AppState;
use postern_core::ErrorCode;
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep, StepReason, StepResult};
use postern_store::{SignInUpdate, StoreError};

/// One step: what was checked, how it went, and the plain words for a helpdesk.
pub struct Step<'a> {
    pub method: &'a str,
    pub result: StepResult,
    pub detail: String,
    /// The stable key a diagnosis reads.
    pub reason: Option<StepReason>,
}

impl<'a> Step<'a> {
    pub fn new(method: &'a str, result: StepResult, detail: impl Into<String>) -> Self {
        Step {
            method,
            result,
            detail: detail.into(),
            reason: None,
        }
    }

    /// With the reason key of a failure or interruption.
    pub fn because(mut self, reason: Option<StepReason>) -> Self {
        self.reason = reason;
        self
    }
}

impl From<postern_core::flow::LogLine> for Step<'static> {
    fn from(line: postern_core::flow::LogLine) -> Self {
        Step {
            method: line.method,
            result: line.result,
            detail: line.words,
            reason: line.reason,
        }
    }
}

/// The entry's summary after a request.
#[derive(Default)]
pub struct Summary<'a> {
    pub user_id: Option<&'a str>,
    pub username: Option<&'a str>,
    pub result: Option<SignInResult>,
    pub error: Option<(ErrorCode, String)>,
}

impl Summary<'_> {
    pub fn result(result: SignInResult) -> Self {
        Summary {
            result: Some(result),
            ..Summary::default()
        }
    }

    pub fn failure(code: ErrorCode, reason: impl Into<String>) -> Self {
        Summary {
            result: Some(SignInResult::Failure),
            error: Some((code, reason.into())),
            ..Summary::default()
        }
    }
}

/// Who and where an entry is about.
pub struct Origin<'a> {
    pub client_id: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub info: &'a ClientInfo,
}

fn to_step(state: &AppState, request_id: &str, s: Step<'_>) -> SignInStep {
    SignInStep {
        time: state.clock.now(),
        request_id: request_id.to_owned(),
        method: s.method.to_owned(),
        result: s.result,
        detail: s.detail,
        reason: s.reason,
    }
}

/// Opens the entry of a new sign-in with its first step and summary.
pub async fn open(
    state: &AppState,
    correlation_id: &str,
    request_id: &str,
    origin: Origin<'_>,
    step: Step<'_>,
    summary: Summary<'_>,
) -> Result<(), StoreError> {
    let now = state.clock.now();
    let (error_code, failure_reason) = match summary.error {
        Some((code, reason)) => (Some(code), Some(reason)),
        None => (None, None),
    };
    state
        .store
        .create_signin(&SignInEntry {
            correlation_id: correlation_id.to_owned(),
            started: now,
            updated: now,
            user_id: summary.user_id.map(str::to_owned),
            username: summary.username.map(str::to_owned),
            client_id: origin
                .client_id
                .map(|c| c.chars().filter(|c| !c.is_control()).take(200).collect()),
            client_name: origin.client_name.map(str::to_owned),
            ip: Some(origin.info.ip.to_string()),
            user_agent: origin.info.user_agent.clone(),
            result: summary.result.unwrap_or(SignInResult::InProgress),
            error_code,
            failure_reason,
            request_ids: vec![request_id.to_owned()],
            steps: vec![to_step(state, request_id, step)],
        })
        .await
}

/// A request's steps and summary, converted for the store: written alone with [`record`], or
/// inside the transaction that ends a sign-in or a grant.
pub struct Prepared {
    steps: Vec<SignInStep>,
    update: Option<SignInUpdate>,
}

impl Prepared {
    pub fn record<'a>(&'a self, correlation_id: &'a str) -> postern_store::SignInRecord<'a> {
        postern_store::SignInRecord {
            correlation_id,
            steps: &self.steps,
            update: self.update.as_ref(),
        }
    }
}

/// Converts steps and a summary for the store.
pub fn prepare(
    state: &AppState,
    request_id: &str,
    steps: Vec<Step<'_>>,
    summary: Option<Summary<'_>>,
) -> Prepared {
    let steps: Vec<SignInStep> = steps
        .into_iter()
        .map(|s| to_step(state, request_id, s))
        .collect();
    let update = summary.map(|s| {
        let (error_code, failure_reason) = match s.error {
            Some((code, reason)) => (Some(code), Some(reason)),
            None => (None, None),
        };
        SignInUpdate {
            updated: state.clock.now(),
            user_id: s.user_id.map(str::to_owned),
            username: s.username.map(str::to_owned),
            result: s.result.unwrap_or(SignInResult::InProgress),
            error_code,
            failure_reason,
        }
    });
    Prepared { steps, update }
}

/// Appends this request's steps and, if given, the new summary.
pub async fn record(
    state: &AppState,
    correlation_id: &str,
    request_id: &str,
    steps: Vec<Step<'_>>,
    summary: Option<Summary<'_>>,
) -> Result<(), StoreError> {
    let prepared = prepare(state, request_id, steps, summary);
    let rec = prepared.record(correlation_id);
    state
        .store
        .record_signin(correlation_id, rec.steps, rec.update)
        .await
}
