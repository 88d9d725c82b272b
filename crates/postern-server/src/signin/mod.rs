//! The sign-in service: starting a sign-in from an authorization request (or answering it from
//! the single sign-on session), finishing one whose flow decided it is complete (the session, the
//! code, the log, in one transaction), and writing the sign-in log.
//!
//! The rules live in `postern_core::flow` (what each event leads to, how a request begins) and
//! `postern_core::oidc`. These functions return an [`Outcome`], never a rendered page: the
//! handler turns it into a response.

pub mod browser;
pub mod log;
pub mod remember;

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, cookies};
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::client::Client;
use postern_core::flow::start::{self, Begin};
use postern_core::flow::{FLOW_LIFETIME, Flow, FlowState, Then, Transition};
use postern_core::oidc::authorize::AuthorizeRequest;
use postern_core::oidc::claims::Authentication;
use postern_core::oidc::token::AuthCode;
use postern_core::random;
use postern_core::secret::hash_token;
use postern_core::session::SsoSession;
use postern_core::signin_log::{SignInResult, StepResult};
use postern_core::user::User;
use time::Duration;

pub use postern_core::flow::{ACCOUNT_CLIENT_ID, Destination};

/// What a sign-in request comes to, for the handler to send.
#[derive(Debug)]
pub enum Outcome {
    /// On to `location`, setting these cookies.
    Redirect {
        location: String,
        cookies: Vec<HeaderValue>,
    },
    /// Postern's error page with `code`; `detail` is safe to show.
    Refused {
        code: ErrorCode,
        detail: Option<String>,
    },
}

impl Outcome {
    pub fn to(location: impl Into<String>) -> Self {
        Outcome::Redirect {
            location: location.into(),
            cookies: vec![],
        }
    }

    pub fn respond(self, state: &AppState, ctx: &ErrorContext) -> Response {
        match self {
            Outcome::Redirect { location, cookies } => {
                let mut res = redirect(&location);
                for c in cookies {
                    res.headers_mut().append(header::SET_COOKIE, c);
                }
                res
            }
            Outcome::Refused { code, detail } => errors::page(state, code, detail, ctx),
        }
    }
}

/// A begun sign-in: its outcome, and the context (within the new sign-in, once there is one) its
/// error page shows.
pub struct Begun {
    pub ctx: ErrorContext,
    pub outcome: Result<Outcome, postern_store::StoreError>,
}

impl Begun {
    pub fn respond(self, state: &AppState) -> Response {
        match self.outcome {
            Ok(outcome) => outcome.respond(state, &self.ctx),
            Err(e) => errors::internal(state, &e, &self.ctx),
        }
    }
}

/// The built-in target of sign-ins to Security info.
pub fn account_client(state: &AppState) -> Client {
    Client {
        id: ACCOUNT_CLIENT_ID.to_owned(),
        name: "Security info".to_owned(),
        kind: postern_core::client::ClientKind::Public,
        secret_hash: None,
        // Security info, or the helpdesk pages (`/account/signin?next=admin`).
        redirect_uris: vec![state.url("/account/security"), state.url("/admin")],
        post_logout_redirect_uris: vec![],
        id_token_alg: postern_core::oidc::jws::SigningAlg::RS256,
        created: time::OffsetDateTime::UNIX_EPOCH,
    }
}

/// The client a flow signs in to: a stored one, or the built-in Security info target.
pub async fn find_client(
    state: &AppState,
    id: &str,
) -> Result<Option<Client>, postern_store::StoreError> {
    if id == ACCOUNT_CLIENT_ID {
        return Ok(Some(account_client(state)));
    }
    state.store.find_client(id).await
}

/// Finishes a flow that `t` (a [`Then::Finish`] of [`Flow::advance`]) completes: remembers the
/// browser if asked, moves the flow to its final state, starts the SSO session, issues the code
/// (unless the sign-in was for Security info or goes there first) and writes the log's lines,
/// the completion and the summary — in one transaction.
pub async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    t: Transition,
    username: &str,
    ctx: &ErrorContext,
) -> Result<Outcome, postern_store::StoreError> {
    let (
        Some(next),
        Then::Finish {
            auth,
            destination,
            remember,
        },
    ) = (t.next, t.then)
    else {
        return Err(postern_store::StoreError::Corrupt(
            "a sign-in was finished by a transition that does not finish it".into(),
        ));
    };
    let mut extra = vec![];
    if remember {
        extra.push(remember::remember(state, &auth.user_id).await?);
    }
    let mut steps: Vec<log::Step<'_>> = t.log.into_iter().map(log::Step::from).collect();
    steps.push(flow.completion_line(destination).into());
    let summary = log::Summary {
        user_id: Some(&auth.user_id),
        username: Some(username),
        result: Some(SignInResult::Success),
        error: None,
    };
    let prepared = log::prepare(state, &ctx.request_id, steps, Some(summary));
    let issue = flow.issues_code(destination);
    let Some((cookie, url)) =
        complete(state, headers, flow, &next, &auth, issue, &prepared).await?
    else {
        // Another tab (or node) finished this sign-in a moment ago.
        return Ok(Outcome::Refused {
            code: ErrorCode::FlowExpired,
            detail: Some(
                "This sign-in was just completed in another window. Go back to the application."
                    .into(),
            ),
        });
    };
    crate::metrics::Metrics::inc(&state.metrics.signin_success);
    let location = match (url, destination) {
        (Some(url), _) => url,
        (None, Destination::SecurityInfo) => format!("/account/security?continue={}", flow.id),
        // Postern's own pages: the built-in target the sign-in was for.
        (None, Destination::App) => flow.request.redirect_uri.clone(),
    };
    let mut cookies = vec![cookie];
    cookies.extend(extra);
    Ok(Outcome::Redirect { location, cookies })
}

/// Why a sign-in was restarted; shown as a short notice (fixed texts, never request input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Expired,
    OtherWindow,
    Finished,
}

impl Restart {
    pub fn key(self) -> &'static str {
        match self {
            Restart::Expired => "expired",
            Restart::OtherWindow => "other-window",
            Restart::Finished => "finished",
        }
    }

    /// The notice for a `?notice=` key.
    pub fn notice(key: &str) -> Option<&'static str> {
        Some(match key {
            "expired" => {
                "Your previous sign-in page had expired, so we started again. Nothing was lost."
            }
            "other-window" => {
                "This sign-in was started in another browser or after your cookies were cleared, so we started again here."
            }
            "finished" => "That sign-in had already finished, so we started a new one.",
            _ => return None,
        })
    }
}

/// The signed-in session of this browser, if valid and its user still enabled.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(SsoSession, User)>, postern_store::StoreError> {
    let Some(token) = cookies::get(state, headers, cookies::SESSION) else {
        return Ok(None);
    };
    let Some(session) = state.store.find_session(&hash_token(&token)).await? else {
        return Ok(None);
    };
    if !session.is_valid(state.clock.now()) {
        return Ok(None);
    }
    match state.store.find_user_by_id(&session.user_id).await? {
        Some(user) if !user.disabled => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// Whether a sign-in of `user_id` needs a second factor today (policy and registered methods).
pub async fn needs_second_factor(
    state: &AppState,
    user_id: &str,
) -> Result<bool, postern_store::StoreError> {
    let methods = state.store.list_methods(user_id).await?;
    let after = postern_core::policy::after_password(state.config.policy.mfa, true, methods.len());
    Ok(after != postern_core::policy::AfterPassword::Complete)
}

/// Starts (or, with a valid session, immediately completes) a sign-in for a validated request.
pub async fn begin(
    state: &AppState,
    request: AuthorizeRequest,
    client: &Client,
    headers: &HeaderMap,
    rid: &RequestId,
    info: &ClientInfo,
    restart: Option<Restart>,
) -> Begun {
    let correlation_id = random::uuid(&*state.rng);
    if !client.has_redirect_uri(&request.redirect_uri) {
        // A restarted flow carries the redirect URI it was started with; an administrator may
        // have removed it since.
        return Begun {
            ctx: ErrorContext::new(state, rid),
            outcome: Ok(Outcome::Refused {
                code: ErrorCode::RedirectUriMismatch,
                detail: None,
            }),
        };
    }
    let ctx = ErrorContext::new(state, rid).within(&correlation_id);
    let outcome = begin_within(state, request, client, headers, rid, info, restart, &ctx).await;
    Begun { ctx, outcome }
}

#[allow(clippy::too_many_arguments)]
async fn begin_within(
    state: &AppState,
    request: AuthorizeRequest,
    client: &Client,
    headers: &HeaderMap,
    rid: &RequestId,
    info: &ClientInfo,
    restart: Option<Restart>,
    ctx: &ErrorContext,
) -> Result<Outcome, postern_store::StoreError> {
    let now = state.clock.now();
    let correlation_id = ctx.correlation_id.clone().unwrap_or_default();
    let session = current_session(state, headers).await?;
    let needs_mfa = match &session {
        Some((_, user)) => needs_second_factor(state, &user.id).await?,
        None => false,
    };
    match start::begin(&request, session.as_ref().map(|(s, _)| s), needs_mfa, now) {
        Begin::Reuse { auth, line } => {
            if client.id == ACCOUNT_CLIENT_ID {
                return Ok(Outcome::to(request.redirect_uri));
            }
            let user = session.as_ref().map(|(_, u)| u);
            let url = issue_code(state, &request, &auth, &correlation_id).await?;
            let summary = log::Summary {
                user_id: Some(&auth.user_id),
                username: user.map(|u| u.username.as_str()),
                result: Some(SignInResult::Success),
                error: None,
            };
            let origin = origin(client, info);
            log::open(state, &correlation_id, &rid.0, origin, line.into(), summary).await?;
            crate::metrics::Metrics::inc(&state.metrics.signin_success);
            return Ok(Outcome::to(url));
        }
        Begin::LoginRequired { reason } => {
            let step = log::Step::new("authorize", StepResult::Failure, reason);
            let summary = log::Summary::failure(ErrorCode::LoginRequired, reason);
            let origin = origin(client, info);
            log::open(state, &correlation_id, &rid.0, origin, step, summary).await?;
            return Ok(Outcome::to(error_redirect(
                state,
                &request.redirect_uri,
                request.state.as_deref(),
                ErrorCode::LoginRequired,
                reason,
                ctx,
            )));
        }
        Begin::SignIn => {}
    }

    // A fresh sign-in: a flow bound to this browser.
    let (browser, set_browser) = browser::id(state, headers);
    let mut request = request;
    if request.login_hint.is_none()
        && let Some((_, user)) = &session
    {
        request.login_hint = Some(user.username.clone());
    }
    let flow = Flow {
        id: random::token(&*state.rng, 24),
        correlation_id: correlation_id.clone(),
        browser_hash: hash_token(&browser),
        request,
        client_name: client.name.clone(),
        state: FlowState::Password,
        csrf: random::token(&*state.rng, 24),
        created: now,
        expires: now + FLOW_LIFETIME,
        version: 0,
    };
    state.store.create_flow(&flow).await?;
    let detail = match restart {
        None => format!("sign-in started for '{}'", client.name),
        Some(r) => format!("sign-in restarted for '{}' ({})", client.name, r.key()),
    };
    let step = log::Step::new("authorize", StepResult::Info, detail);
    let origin = origin(client, info);
    log::open(
        state,
        &correlation_id,
        &rid.0,
        origin,
        step,
        log::Summary::default(),
    )
    .await?;
    let mut location = format!("/signin/{}", flow.id);
    if let Some(r) = restart {
        location.push_str(&format!("?notice={}", r.key()));
    }
    Ok(Outcome::Redirect {
        location,
        cookies: set_browser.into_iter().collect(),
    })
}

/// The log origin of a sign-in for `client`.
pub fn origin<'a>(client: &'a Client, info: &'a ClientInfo) -> log::Origin<'a> {
    log::Origin {
        client_id: Some(&client.id),
        client_name: Some(&client.name),
        info,
    }
}

/// A new authorization code for `request`: the code itself and the row that stores its hash.
fn new_code(
    state: &AppState,
    request: &AuthorizeRequest,
    auth: &Authentication,
    correlation_id: &str,
) -> (String, AuthCode) {
    let code = random::token(&*state.rng, 32);
    let row = AuthCode {
        code_hash: hash_token(&code),
        family_id: random::uuid(&*state.rng),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        user_id: auth.user_id.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: auth.auth_time,
        amr: auth.amr.clone(),
        correlation_id: correlation_id.to_owned(),
        expires: state.clock.now() + Duration::seconds(state.config.tokens.code_seconds),
        redeemed: false,
    };
    (code, row)
}

/// The redirect back to the application carrying `code` (with `state` and `iss`, RFC 9207).
fn code_redirect(state: &AppState, request: &AuthorizeRequest, code: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(s) = &request.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &state.issuer));
    append_query(&request.redirect_uri, &pairs)
}

/// Stores a new authorization code and returns the redirect URL that carries it.
pub async fn issue_code(
    state: &AppState,
    request: &AuthorizeRequest,
    auth: &Authentication,
    correlation_id: &str,
) -> Result<String, postern_store::StoreError> {
    let (code, row) = new_code(state, request, auth, correlation_id);
    state.store.create_auth_code(&row).await?;
    Ok(code_redirect(state, request, &code))
}

/// Ends a sign-in: the flow moves to its final state `next`, the browser gets a new single
/// sign-on session (replacing any previous one, so no session id survives a sign-in) and the
/// application a code (if `issue`), and the request's log steps are written — in one
/// transaction. Returns the session cookie and the redirect URL carrying the code.
///
/// `None` when the flow moved since it was read: another tab or node finished it first.
async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    next: &FlowState,
    auth: &Authentication,
    issue: bool,
    log: &log::Prepared,
) -> Result<Option<(HeaderValue, Option<String>)>, postern_store::StoreError> {
    let now = state.clock.now();
    let previous = cookies::get(state, headers, cookies::SESSION).map(|t| hash_token(&t));
    let token = random::token(&*state.rng, 32);
    let session = SsoSession {
        id_hash: hash_token(&token),
        user_id: auth.user_id.clone(),
        auth_time: auth.auth_time,
        amr: auth.amr.clone(),
        created: now,
        expires: now + Duration::hours(state.config.tokens.session_hours),
    };
    let code = issue.then(|| new_code(state, &flow.request, auth, &flow.correlation_id));
    let record = log.record(&flow.correlation_id);
    if !state
        .store
        .complete_sign_in(
            flow,
            next,
            previous.as_deref(),
            &session,
            code.as_ref().map(|(_, row)| row),
            &record,
        )
        .await?
    {
        return Ok(None);
    }
    Ok(Some((
        cookies::set(state, cookies::SESSION, &token, None),
        code.map(|(code, _)| code_redirect(state, &flow.request, &code)),
    )))
}

/// The URL that takes the browser back to the application with an OAuth error.
pub fn error_redirect(
    state: &AppState,
    redirect_uri: &str,
    oauth_state: Option<&str>,
    code: ErrorCode,
    detail: &str,
    ctx: &ErrorContext,
) -> String {
    let body = errors::oauth_body(code, detail, ctx);
    let description = body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut pairs = vec![
        ("error", code.info().oauth_error),
        ("error_description", description.as_str()),
    ];
    if let Some(s) = oauth_state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &state.issuer));
    append_query(redirect_uri, &pairs)
}

/// A 303 redirect that is never cached.
pub fn redirect(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Appends query parameters to a URI that may already have a query.
pub fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{encoded}")
}

/// Ends everything a user's browsers and apps hold: SSO sessions, refresh tokens, remembered
/// devices and unused activation links (the user's "sign out everywhere" and the helpdesk's
/// revocations). Returns how many sessions and refresh tokens ended.
pub async fn sign_out_everywhere(
    state: &AppState,
    user_id: &str,
) -> Result<(u64, u64), postern_store::StoreError> {
    let sessions = state.store.delete_user_sessions(user_id).await?;
    let tokens = state
        .store
        .revoke_user_tokens(user_id, state.clock.now())
        .await?;
    state.store.delete_remembered_devices(user_id).await?;
    state.store.delete_user_activations(user_id).await?;
    Ok((sessions, tokens))
}
