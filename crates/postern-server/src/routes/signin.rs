//! The sign-in pages: `GET /signin/{flow}` shows the form, `POST /signin/{flow}` checks the
//! password and moves the flow on.
//!
//! Stale browser state never traps anyone: an expired flow, a flow from another browser, or one
//! that already finished (back button, second tab) restarts the sign-in with a short notice.

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, csrf, forms};
use crate::metrics::Metrics;
use crate::pages::{self, SignInPage};
use crate::signin::{self, Restart, log};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::credential::password::PasswordCheck;
use postern_core::flow::{Flow, FlowState, PasswordOutcome, Step, password_step};
use postern_core::oidc::claims::Authentication;
use postern_core::policy::after_password;
use postern_core::secret::{SecretString, hash_token, hmac_sha256};
use postern_core::signin_log::{SignInResult, StepResult};
use postern_core::softlock::{FailureRecorded, LockoutState};
use postern_core::user::{User, normalize_username};
use postern_store::StoreError;

/// Second-factor methods Postern offers today (none yet; the next issues add them).
const SECOND_FACTORS_AVAILABLE: bool = false;
const LOCKOUT_KIND: &str = "password";

/// What to do with a flow found by id.
enum Usable {
    Yes(Box<Flow>),
    Restart(Box<Flow>, Restart),
    Gone,
    /// The browser does not keep Postern's cookies: restarting would loop forever.
    NoCookies,
}

async fn load(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    restarted_for_cookie: bool,
) -> Result<Usable, StoreError> {
    if id.len() > 64 {
        return Ok(Usable::Gone);
    }
    let Some(flow) = state.store.find_flow(id).await? else {
        return Ok(Usable::Gone);
    };
    let now = state.clock.now();
    let Some(browser) = crate::http::cookies::get(state, headers, crate::http::cookies::BROWSER)
    else {
        // No binding cookie: a link opened in another browser (restart there, which sets one), or
        // a browser that drops cookies (it comes back without one after that restart).
        return Ok(if restarted_for_cookie {
            Usable::NoCookies
        } else {
            Usable::Restart(Box::new(flow), Restart::OtherWindow)
        });
    };
    Ok(if flow.is_expired(now) {
        Usable::Restart(Box::new(flow), Restart::Expired)
    } else if !postern_core::secret::ct_eq(
        flow.browser_hash.as_bytes(),
        hash_token(&browser).as_bytes(),
    ) {
        Usable::Restart(Box::new(flow), Restart::OtherWindow)
    } else if matches!(flow.state, FlowState::Complete { .. }) {
        Usable::Restart(Box::new(flow), Restart::Finished)
    } else {
        Usable::Yes(Box::new(flow))
    })
}

/// Starts the flow's authorization request again (the client must still exist).
async fn restart(
    state: &AppState,
    flow: Flow,
    why: Restart,
    headers: &HeaderMap,
    rid: &RequestId,
    info: &ClientInfo,
    ctx: &ErrorContext,
) -> Response {
    match state.store.find_client(&flow.request.client_id).await {
        Ok(Some(client)) => {
            signin::begin(state, flow.request, &client, headers, rid, info, Some(why)).await
        }
        Ok(None) => errors::page(state, ErrorCode::UnknownClient, None, ctx),
        Err(e) => errors::internal(state, &e, ctx),
    }
}

fn gone(state: &AppState, ctx: &ErrorContext) -> Response {
    errors::page(
        state,
        ErrorCode::FlowExpired,
        Some("This sign-in link is no longer valid. Go back to the application and choose Sign in again.".into()),
        ctx,
    )
}

fn form_page(
    state: &AppState,
    flow: &Flow,
    username: &str,
    notice: Option<&str>,
    error: Option<pages::ErrorView>,
) -> Response {
    pages::render(&SignInPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        action: format!("/signin/{}", flow.id),
        csrf: flow.csrf.clone(),
        username: username.to_owned(),
        notice: notice.map(str::to_owned),
        error,
    })
}

/// `GET /signin/{flow}`.
pub async fn show(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    let notice_key = forms::query(query.as_deref())
        .ok()
        .and_then(|p| p.get("notice").map(str::to_owned));
    let notice = notice_key.as_deref().and_then(Restart::notice);
    let restarted_for_cookie = notice_key.as_deref() == Some(Restart::OtherWindow.key());
    match load(&state, &id, &headers, restarted_for_cookie).await {
        Err(e) => errors::internal(&state, &e, &ctx),
        Ok(Usable::Gone) => gone(&state, &ctx),
        Ok(Usable::NoCookies) => errors::page(&state, ErrorCode::CookiesRequired, None, &ctx),
        Ok(Usable::Restart(flow, why)) => {
            ctx.correlation_id = Some(flow.correlation_id.clone());
            restart(&state, *flow, why, &headers, &rid, &info, &ctx).await
        }
        Ok(Usable::Yes(flow)) => {
            let hint = flow.request.login_hint.clone().unwrap_or_default();
            form_page(&state, &flow, &hint, notice, None)
        }
    }
}

/// `POST /signin/{flow}`: username and password.
pub async fn submit(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    if !state.signin_limiter.allow(info.ip) {
        Metrics::inc(&state.metrics.rate_limited);
        return errors::page(&state, ErrorCode::RateLimited, None, &ctx);
    }
    if !csrf::same_origin(&state, &headers) {
        return errors::page(&state, ErrorCode::CsrfRejected, None, &ctx);
    }
    let params = match forms::form(&headers, &body) {
        Ok(p) => p,
        Err((code, detail)) => return errors::page(&state, code, Some(detail), &ctx),
    };
    if let Some(unknown) = params.unknown(&["csrf", "username", "password"]) {
        let detail = format!(
            "the form field '{}' is not expected",
            unknown.chars().take(40).collect::<String>()
        );
        return errors::page(&state, ErrorCode::InvalidRequest, Some(detail), &ctx);
    }
    let flow = match load(&state, &id, &headers, false).await {
        Err(e) => return errors::internal(&state, &e, &ctx),
        Ok(Usable::Gone) => return gone(&state, &ctx),
        Ok(Usable::NoCookies) => {
            return errors::page(&state, ErrorCode::CookiesRequired, None, &ctx);
        }
        Ok(Usable::Restart(flow, why)) => {
            ctx.correlation_id = Some(flow.correlation_id.clone());
            return restart(&state, *flow, why, &headers, &rid, &info, &ctx).await;
        }
        Ok(Usable::Yes(flow)) => flow,
    };
    ctx.correlation_id = Some(flow.correlation_id.clone());
    if !csrf::token_matches(&flow.csrf, params.get("csrf")) {
        return errors::page(&state, ErrorCode::CsrfRejected, None, &ctx);
    }
    if flow.state != FlowState::Password {
        return restart(
            &state,
            *flow,
            Restart::Finished,
            &headers,
            &rid,
            &info,
            &ctx,
        )
        .await;
    }
    let typed = params.get("username").unwrap_or_default().to_owned();
    let password = SecretString::new(params.get("password").unwrap_or_default());
    if typed.is_empty() || password.expose().is_empty() {
        let view = ctx.view(
            ErrorCode::MissingParameter,
            Some("Enter both your username and your password.".into()),
        );
        return form_page(&state, &flow, &typed, None, Some(view));
    }
    match check_password(&state, &flow, &typed, password, &headers, &rid, &ctx).await {
        Ok(res) => res,
        Err(e) => errors::internal(&state, &e, &ctx),
    }
}

#[allow(clippy::too_many_arguments)]
async fn check_password(
    state: &AppState,
    flow: &Flow,
    typed: &str,
    password: SecretString,
    headers: &HeaderMap,
    rid: &RequestId,
    ctx: &ErrorContext,
) -> Result<Response, StoreError> {
    let now = state.clock.now();
    let username = normalize_username(typed).ok();
    let user = match &username {
        Some(name) => state.store.find_user_by_username(name).await?,
        None => None,
    };
    let outcome = match &user {
        None => {
            // Same work as a real check, so timing does not reveal whether the account exists.
            state.verify_password(password, None).await;
            PasswordOutcome::UnknownUser
        }
        Some(user) => password_outcome(state, user, password).await?,
    };
    let (step, result, detail) = password_step(&outcome, now);
    let password_step = log::Step::new("password", result, detail.clone());
    let user_id = user.as_ref().map(|u| u.id.as_str());
    let shown_name: String = username
        .as_deref()
        .unwrap_or(typed)
        .chars()
        .take(64)
        .collect();
    let summary = |result, error| log::Summary {
        user_id,
        username: Some(&shown_name),
        result: Some(result),
        error,
    };

    match step {
        Step::Retry { code } => {
            let summary = summary(SignInResult::Failure, Some((code, detail)));
            log::record(
                state,
                &flow.correlation_id,
                &rid.0,
                vec![password_step],
                Some(summary),
            )
            .await?;
            Metrics::inc(&state.metrics.signin_failure);
            let safe_detail = match &outcome {
                PasswordOutcome::Wrong(FailureRecorded::Locked { until })
                | PasswordOutcome::Locked { until } => Some(format!(
                    "Try again after {}.",
                    postern_core::clock::iso8601(*until)
                )),
                _ => None,
            };
            Ok(form_page(
                state,
                flow,
                typed,
                None,
                Some(ctx.view(code, safe_detail)),
            ))
        }
        Step::Advance(FlowState::Complete {
            user_id,
            amr,
            auth_time_ms,
        }) => {
            let auth = Authentication {
                user_id,
                amr,
                auth_time: postern_core::clock::from_millis(auth_time_ms),
            };
            let complete = FlowState::Complete {
                user_id: auth.user_id.clone(),
                amr: auth.amr.clone(),
                auth_time_ms,
            };
            let finished = Flow {
                state: complete.clone(),
                ..flow.clone()
            };
            let issued = log::Step::new(
                "authorize",
                StepResult::Success,
                format!("authorization code issued to '{}'", flow.client_name),
            );
            let summary = log::Summary {
                user_id: Some(&auth.user_id),
                ..summary(SignInResult::Success, None)
            };
            let prepared = log::prepare(state, &rid.0, vec![password_step, issued], Some(summary));
            let Some((cookie, url)) =
                signin::complete(state, headers, flow, &finished, &auth, &prepared).await?
            else {
                // Another tab (or node) finished this sign-in a moment ago.
                let detail = "This sign-in was just completed in another window. Go back to the application.";
                return Ok(errors::page(
                    state,
                    ErrorCode::FlowExpired,
                    Some(detail.into()),
                    ctx,
                ));
            };
            Metrics::inc(&state.metrics.signin_success);
            let mut res = signin::redirect(&url);
            res.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(res)
        }
        // Second-factor steps arrive with the next issues; the flow already records the state.
        Step::Advance(_) | Step::Interrupt { .. } => {
            let code = match step {
                Step::Advance(next) => {
                    state.store.update_flow_state(&flow.id, &next).await?;
                    ErrorCode::StrongAuthRequired
                }
                Step::Interrupt { code, .. } => code,
                Step::Retry { code } => code, // answered by the first arm
            };
            let summary = summary(SignInResult::Interrupted, Some((code, detail)));
            log::record(
                state,
                &flow.correlation_id,
                &rid.0,
                vec![password_step],
                Some(summary),
            )
            .await?;
            Ok(errors::page(state, code, None, ctx))
        }
    }
}

/// Checks a known user's password under the lockout rules.
///
/// The lock is read before the check and again after it: requests that queued for a password slot
/// while the account became locked learn nothing from their check (no result is revealed or
/// accepted), so a burst of parallel guesses gets no more tries than the threshold.
async fn password_outcome(
    state: &AppState,
    user: &User,
    password: SecretString,
) -> Result<PasswordOutcome, StoreError> {
    let (lock, _) = state.store.find_lockout(&user.id, LOCKOUT_KIND).await?;
    if let Some(until) = lock.locked_until(state.clock.now()) {
        // Spend the same work as a check, so a lock is not told apart by timing; the password
        // itself is not checked.
        state.verify_password(password, None).await;
        return Ok(PasswordOutcome::Locked { until });
    }
    let fingerprint = fingerprint(state, &user.id, &password);
    let check = state
        .verify_password(password.clone(), user.password_hash.clone())
        .await;
    let (lock, version) = state.store.find_lockout(&user.id, LOCKOUT_KIND).await?;
    if let Some(until) = lock.locked_until(state.clock.now()) {
        return Ok(PasswordOutcome::Locked { until });
    }
    let PasswordCheck::Correct { needs_rehash } = check else {
        let recorded = record_failure(state, &user.id, &fingerprint, lock, version).await?;
        return Ok(PasswordOutcome::Wrong(recorded));
    };
    if user.disabled {
        return Ok(PasswordOutcome::Disabled);
    }
    // A success is ordered with concurrent failures (on any node): it is accepted only if the
    // lockout state it clears is still the one it read, so a lock set meanwhile wins.
    let (mut lock, mut version) = (lock, version);
    let mut settled = false;
    for _ in 0..100 {
        if let Some(until) = lock.locked_until(state.clock.now()) {
            return Ok(PasswordOutcome::Locked { until });
        }
        if state
            .store
            .update_lockout(&user.id, LOCKOUT_KIND, &LockoutState::default(), version)
            .await?
        {
            settled = true;
            break;
        }
        (lock, version) = state.store.find_lockout(&user.id, LOCKOUT_KIND).await?;
    }
    if !settled {
        return Err(StoreError::Conflict(format!(
            "lockout counter of user {} (too contended)",
            user.id
        )));
    }
    if needs_rehash
        && let (Some(old), Some(new)) = (&user.password_hash, state.hash_password(password).await)
    {
        // Only over the hash that was checked: an administrator's reset made meanwhile wins.
        state
            .store
            .replace_user_password(&user.id, old, &new)
            .await?;
    }
    let after = after_password(state.config.policy.mfa, SECOND_FACTORS_AVAILABLE, 0);
    Ok(PasswordOutcome::Correct {
        user_id: user.id.clone(),
        after,
    })
}

/// Records a failure with optimistic concurrency (other requests and nodes may be counting too):
/// every failure is counted, however contended.
async fn record_failure(
    state: &AppState,
    user_id: &str,
    fingerprint: &str,
    mut lock: LockoutState,
    mut version: i64,
) -> Result<FailureRecorded, StoreError> {
    for _ in 0..100 {
        let recorded = lock.record_failure(&state.lockout, fingerprint, state.clock.now());
        if recorded == FailureRecorded::Repeated
            || state
                .store
                .update_lockout(user_id, LOCKOUT_KIND, &lock, version)
                .await?
        {
            return Ok(recorded);
        }
        (lock, version) = state.store.find_lockout(user_id, LOCKOUT_KIND).await?;
        tokio::task::yield_now().await;
    }
    Err(StoreError::Conflict(format!(
        "lockout counter of user {user_id} (too contended)"
    )))
}

/// A keyed fingerprint of a wrong guess: recognises a repeat without storing the guess.
fn fingerprint(state: &AppState, user_id: &str, password: &SecretString) -> String {
    let mac = hmac_sha256(
        &state.mac_key,
        format!("password\0{user_id}\0{}", password.expose()).as_bytes(),
    );
    data_encoding::BASE64URL_NOPAD.encode(&mac[..12])
}
