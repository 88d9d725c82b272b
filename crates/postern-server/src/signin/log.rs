//! Writing the sign-in log: one entry per flow, a step per thing that happened. Only words and
//! identifiers go in — never a password, code or token.

use crate::http::ClientInfo;
use crate::state::AppState;
use postern_core::ErrorCode;
use postern_core::client::Client;
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep, StepResult};
use postern_core::user::User;
use postern_store::{SignInUpdate, StoreError};

/// Opens the log entry of a new flow.
pub async fn open(
    state: &AppState,
    correlation_id: &str,
    client: &Client,
    info: &ClientInfo,
    request_id: &str,
    user: Option<&User>,
) -> Result<(), StoreError> {
    open_raw(
        state,
        correlation_id,
        Some(&client.id),
        Some(&client.name),
        info,
        request_id,
        user,
    )
    .await
}

/// Opens an entry when the client may be unknown (a refused authorization request).
pub async fn open_raw(
    state: &AppState,
    correlation_id: &str,
    client_id: Option<&str>,
    client_name: Option<&str>,
    info: &ClientInfo,
    request_id: &str,
    user: Option<&User>,
) -> Result<(), StoreError> {
    let now = state.clock.now();
    state
        .store
        .create_signin(&SignInEntry {
            correlation_id: correlation_id.to_owned(),
            started: now,
            updated: now,
            user_id: user.map(|u| u.id.clone()),
            username: user.map(|u| u.username.clone()),
            client_id: client_id.map(|c| c.chars().take(200).collect()),
            client_name: client_name.map(str::to_owned),
            ip: Some(info.ip.to_string()),
            user_agent: info.user_agent.clone(),
            result: SignInResult::InProgress,
            error_code: None,
            failure_reason: None,
            request_ids: vec![request_id.to_owned()],
            steps: vec![],
        })
        .await
}

/// Appends a step.
pub async fn step(
    state: &AppState,
    correlation_id: &str,
    request_id: &str,
    method: &str,
    result: StepResult,
    detail: String,
) -> Result<(), StoreError> {
    state
        .store
        .append_signin_step(
            correlation_id,
            &SignInStep {
                time: state.clock.now(),
                request_id: request_id.to_owned(),
                method: method.to_owned(),
                result,
                detail,
            },
        )
        .await
}

/// Sets the entry's result.
pub async fn finish(
    state: &AppState,
    correlation_id: &str,
    result: SignInResult,
    error_code: Option<ErrorCode>,
    failure_reason: Option<String>,
) -> Result<(), StoreError> {
    state
        .store
        .update_signin(
            correlation_id,
            &SignInUpdate {
                updated: state.clock.now(),
                user_id: None,
                username: None,
                result,
                error_code,
                failure_reason,
            },
        )
        .await
}

/// Records who the sign-in is for (once the username is known).
pub async fn identify(
    state: &AppState,
    correlation_id: &str,
    user_id: Option<&str>,
    username: Option<&str>,
    result: SignInResult,
    error_code: Option<ErrorCode>,
    failure_reason: Option<String>,
) -> Result<(), StoreError> {
    state
        .store
        .update_signin(
            correlation_id,
            &SignInUpdate {
                updated: state.clock.now(),
                user_id: user_id.map(str::to_owned),
                username: username.map(str::to_owned),
                result,
                error_code,
                failure_reason,
            },
        )
        .await
}
