//! Security info (`/account/security`): a signed-in user's own second factors, recent sign-ins
//! and sessions. Every change is a same-origin form post with a session-bound anti-forgery token,
//! and needs the session to have passed a second factor (unless every method was added during
//! this very session); otherwise the user is asked to sign in again with one.

mod actions;

use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, csrf, forms};
use crate::pages::{self, MethodRow, SecurityPage, SignInRow};
use crate::signin::{self, ACCOUNT_CLIENT_ID};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::ErrorCode;
use postern_core::clock::iso8601;
use postern_core::credential::access_pass;
use postern_core::credential::method::{FEW_RECOVERY_CODES, Method, MethodKind, usable};
use postern_core::flow::FlowState;
use postern_core::oidc::authorize::{AuthorizeRequest, Prompt};
use postern_core::session::SsoSession;
use postern_core::user::User;
use postern_store::StoreError;

pub use actions::{
    add_passkey, add_push, add_totp, create_recovery_codes, forget_devices, passkey_options,
    remove_method, rename_method, set_default, sign_out_everywhere, start_passkey, start_totp,
    unblock_push,
};

/// A signed-in user on Security info.
pub(crate) struct Account {
    pub session: SsoSession,
    pub user: User,
}

impl Account {
    /// The anti-forgery token of this session's forms.
    pub fn csrf(&self, state: &AppState) -> String {
        csrf::bound_token(state, "account", &self.session.id_hash)
    }

    /// May this session change sign-in methods? Only if its sign-in proved a second factor
    /// (a remembered device is not enough), or for a user who has none yet (a first registration,
    /// after which the session counts as having proved it).
    pub fn may_change(&self, methods: &[Method]) -> bool {
        self.session.proved_second_factor() || methods.is_empty()
    }
}

/// The signed-in account, or the response that sends the browser to sign in.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<Account, Response>, StoreError> {
    Ok(match signin::current_session(state, headers).await? {
        Some((session, user)) => Ok(Account { session, user }),
        None => Err(signin::redirect("/account/signin")),
    })
}

/// `GET /account/signin[?fresh=1][&next=admin]`: a sign-in whose destination is Security info, or
/// the helpdesk pages with `next=admin` (`fresh` asks for the password and a second factor again,
/// for changes that need them).
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    // Each sign-in opens a flow and a log entry: throttled like /authorize.
    if !state.signin_limiter.allow(info.ip) {
        crate::metrics::Metrics::inc(&state.metrics.rate_limited);
        let ctx = ErrorContext::new(&state, &rid);
        return errors::page(&state, ErrorCode::RateLimited, None, &ctx);
    }
    let query = forms::query(query.as_deref()).unwrap_or_default();
    let fresh = query.get("fresh") == Some("1");
    // Where to land: Security info, or the helpdesk pages (`next=admin`); never a URL from the
    // request.
    let target = usize::from(query.get("next") == Some("admin"));
    let client = signin::account_client(&state);
    let request = AuthorizeRequest {
        client_id: ACCOUNT_CLIENT_ID.to_owned(),
        redirect_uri: client.redirect_uris[target].clone(),
        scope: vec!["openid".into()],
        state: None,
        nonce: None,
        code_challenge: None,
        prompt: if fresh {
            Prompt::Login
        } else {
            Prompt::Default
        },
        max_age: None,
        login_hint: None,
    };
    signin::begin(&state, request, &client, &headers, &rid, &info, None)
        .await
        .respond(&state)
}

/// Fixed notices after a change (`?notice=`), never request text.
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "totp-added" => "Authenticator app added. It's ready for your next sign-in.",
        "passkey-added" => {
            "Passkey added. Next time, sign in with it: no password or code needed. Rename it below if its name does not say which device it is."
        }
        "removed" => "Method removed.",
        "renamed" => "Method renamed.",
        "default" => "Default method changed.",
        "push-on" => "Push requests are turned back on.",
        "devices-forgotten" => {
            "Remembered devices revoked: every device will ask for the second step again."
        }
        "recovery" => {
            "You signed in with a recovery code. Set up a new authenticator app now (or check the one you have), so you are not stranded next time."
        }
        "access-pass" => {
            "You signed in with a temporary access pass. Add a sign-in method now: the pass stops working when it expires."
        }
        _ => return None,
    })
}

/// `GET /account/security`.
pub async fn security(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let query = forms::query(query.as_deref()).unwrap_or_default();
    let shown = async {
        let account = match signed_in(&state, &headers).await? {
            Ok(a) => a,
            Err(to_sign_in) => return Ok(to_sign_in),
        };
        let mut notice = query.get("notice").and_then(notice_text).map(str::to_owned);
        let continue_to = match query.get("continue") {
            Some(flow_id) => continue_link(&state, &account, flow_id).await?,
            None => None,
        };
        if continue_to.is_some() {
            let tap = account.session.amr.iter().any(|m| m == access_pass::AMR);
            let key = if tap { "access-pass" } else { "recovery" };
            notice = notice_text(key).map(str::to_owned);
        }
        render(&state, &account, notice, None, continue_to).await
    }
    .await;
    shown.unwrap_or_else(|e: StoreError| errors::internal(&state, &e, &ctx))
}

/// "Continue to {app}" after a recovery-code sign-in, if `flow_id` is that sign-in.
async fn continue_link(
    state: &AppState,
    account: &Account,
    flow_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    if flow_id.len() > 64 {
        return Ok(None);
    }
    Ok(match state.store.find_flow(flow_id).await? {
        Some(flow)
            if matches!(&flow.state, FlowState::Complete { user_id, continue_pending: true, .. } if *user_id == account.user.id)
                && !flow.is_expired(state.clock.now()) =>
        {
            Some((format!("/signin/{}/continue", flow.id), flow.client_name))
        }
        _ => None,
    })
}

/// The Security info page for `account`.
pub(crate) async fn render(
    state: &AppState,
    account: &Account,
    notice: Option<String>,
    refusal: Option<&str>,
    continue_to: Option<(String, String)>,
) -> Result<Response, StoreError> {
    let now = state.clock.now();
    let methods = state.store.list_methods(&account.user.id).await?;
    let mut rows: Vec<MethodRow> = methods.iter().map(method_row).collect();
    for (row, m) in rows.iter_mut().zip(&methods) {
        if let postern_core::credential::method::MethodSecret::Push { app_version, .. } = &m.secret
        {
            let seen = state.store.find_device_contact(&m.id).await?;
            let notified = state.store.list_web_push_subscriptions(&m.id).await?;
            row.detail = Some(format!(
                "App {app_version}; notifications {}; last contact {}",
                if notified.is_empty() { "off" } else { "on" },
                seen.map(iso8601).unwrap_or_else(|| "never".into())
            ));
        }
        if let postern_core::credential::method::MethodSecret::Passkey { aaguid, synced, .. } =
            &m.secret
        {
            let model = postern_core::credential::passkey::model_name(aaguid.as_deref());
            let kind = if *synced {
                "Synced passkey (on your other devices too)"
            } else {
                "Device-bound (stays on this device or key)"
            };
            row.detail = Some(match model {
                Some(model) if model != m.name => format!("{kind}; {model}"),
                _ => kind.to_owned(),
            });
        }
    }
    let remembered_count = state
        .store
        .count_remembered_devices(&account.user.id, now)
        .await?;
    let remembered = match remembered_count {
        0 => "No device is remembered: every sign-in asks for the second step.".to_owned(),
        1 => "1 device skips the second step (\"Don't ask again on this device\").".to_owned(),
        n => format!("{n} devices skip the second step (\"Don't ask again on this device\")."),
    };
    let signins = state
        .store
        .list_user_signins(&account.user.id, 10)
        .await?
        .into_iter()
        .map(|e| SignInRow {
            time: iso8601(e.started),
            app: e.client_name.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            result: match e.result {
                postern_core::signin_log::SignInResult::Success => "Success",
                postern_core::signin_log::SignInResult::Failure => "Failure",
                postern_core::signin_log::SignInResult::Interrupted => "Interrupted",
                postern_core::signin_log::SignInResult::InProgress => "In progress",
            }
            .to_owned(),
            error_code: e
                .error_code
                .map(|c| c.code().to_string())
                .unwrap_or_default(),
        })
        .collect();
    Ok(pages::render(&SecurityPage {
        org: state.config.organisation.clone(),
        username: account.user.username.clone(),
        passkeys: state.passkeys.available(),
        csrf: account.csrf(state),
        notice,
        error: None,
        refusal: refusal.map(str::to_owned),
        warnings: warnings(&methods),
        continue_to,
        has_recovery: methods
            .iter()
            .any(|m| m.kind() == MethodKind::RecoveryCodes),
        methods: rows,
        remembered,
        remembered_count,
        signins,
        push_blocked: state
            .store
            .find_push_state(&account.user.id)
            .await?
            .blocked
            .map(iso8601),
    }))
}

fn method_row(m: &Method) -> MethodRow {
    MethodRow {
        id: m.id.clone(),
        kind: m.kind().as_str(),
        name: m.name.clone(),
        label: m.kind().label(),
        added: iso8601(m.created),
        last_used: m.last_used.map(iso8601).unwrap_or_else(|| "Never".into()),
        is_default: m.is_default && m.kind().can_be_default(),
        can_be_default: m.kind().can_be_default(),
        can_be_renamed: m.kind().can_be_renamed(),
        remaining: (m.kind() == MethodKind::RecoveryCodes).then(|| m.secret.remaining_codes()),
        detail: None,
    }
}

/// What the user should fix, shown on every visit.
fn warnings(methods: &[Method]) -> Vec<String> {
    let mut out = vec![];
    match usable(methods).count() {
        0 => out.push("You have no second sign-in method that works. Add an authenticator app, so that a stolen password is not enough to get in.".to_owned()),
        1 => out.push("You have only one way to sign in: if you lose this device you will need the helpdesk. Add a second method (another authenticator app, or recovery codes).".to_owned()),
        _ => {}
    }
    for m in methods
        .iter()
        .filter(|m| m.kind() == MethodKind::RecoveryCodes)
    {
        let left = m.secret.remaining_codes();
        if left <= FEW_RECOVERY_CODES {
            out.push(format!(
                "Only {left} recovery code(s) left. Generate new ones (the old ones stop working)."
            ));
        }
    }
    out
}

/// The page that asks for a fresh sign-in before a change.
pub(crate) fn needs_fresh_sign_in(state: &AppState) -> Response {
    pages::render(&pages::MessagePage {
        org: state.config.organisation.clone(),
        title: "Sign in again to make changes".into(),
        paragraphs: vec![
            "Changing your sign-in methods needs a sign-in with your second step. Sign in again, then make the change.".into(),
        ],
        link: Some(("/account/signin?fresh=1".into(), "Sign in again".into())),
    })
}

/// Checks a Security info form: same origin, the session's token, and only `fields`.
pub(crate) fn check_form(
    state: &AppState,
    account: &Account,
    headers: &HeaderMap,
    body: &[u8],
    fields: &[&str],
    ctx: &ErrorContext,
) -> Result<postern_core::oidc::params::Params, Box<Response>> {
    if !csrf::same_origin(state, headers) {
        return Err(Box::new(errors::page(
            state,
            ErrorCode::CsrfRejected,
            None,
            ctx,
        )));
    }
    let params = forms::form(headers, body)
        .map_err(|(code, detail)| Box::new(errors::page(state, code, Some(detail), ctx)))?;
    if !csrf::token_matches(&account.csrf(state), params.get("csrf")) {
        return Err(Box::new(errors::page(
            state,
            ErrorCode::CsrfRejected,
            None,
            ctx,
        )));
    }
    if let Some(unknown) = params.unknown(fields) {
        let detail = format!(
            "the form field '{}' is not expected",
            unknown.chars().take(40).collect::<String>()
        );
        let refused = errors::page(state, ErrorCode::InvalidRequest, Some(detail), ctx);
        return Err(Box::new(refused));
    }
    Ok(params)
}
