//! The helpdesk pages, `/admin`: server-rendered forms over the same administrative operations as
//! the admin API (`crate::admin`), for people whose account holds a role (`postern admin user
//! grant`). A helpdesk agent pastes a request or correlation id from a user's error page, reads
//! what happened and why, and fixes it with one button.
//!
//! Who may enter is decided here and only here ([`enter`]): a signed-in session whose user has a
//! role and whose sign-in proved a second factor itself. Each operation then takes the proof of
//! its own permission (`Read` to look, `Help` to change), so a reader's forged form changes
//! nothing. Every form post is same-origin with a session-bound token; destructive actions ask
//! for a confirmation first. This module never changes an account itself: it translates forms
//! to `crate::admin` calls and their results to pages.

mod actions;
mod audit;
mod home;
mod signins;
mod users;
mod views;

use crate::admin::{AdminError, Origin};
use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, csrf, forms};
use crate::pages;
use crate::signin;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use postern_core::ErrorCode;
use postern_core::admin::{Actor, ActorKind, Authorized, Permission, Read, Role};
use postern_core::oidc::params::Params;
use postern_core::session::SsoSession;
use postern_store::StoreError;

/// The purpose the anti-forgery tokens of these pages are bound to.
const CSRF_PURPOSE: &str = "admin";

/// Where a browser without a session signs in (it comes back to `/admin` afterwards).
const SIGN_IN: &str = "/account/signin?next=admin";

/// A sign-in that asks for the password and a second factor again.
const FRESH_SIGN_IN: &str = "/account/signin?fresh=1&next=admin";

/// The routes under `/admin` (the JSON API under `/admin/v1` is `admin_api`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home::home))
        .route("/admin/search", get(home::search))
        .route("/admin/signins/{id}", get(signins::show))
        .route("/admin/users/{id}", get(users::show))
        .route("/admin/users/{id}/{action}", post(actions::act))
        .route("/admin/audit", get(audit::show))
}

/// A person let in to the helpdesk pages.
pub(crate) struct Desk {
    pub actor: Actor,
    session: SsoSession,
}

impl Desk {
    /// The anti-forgery token of this session's forms.
    pub fn csrf(&self, state: &AppState) -> String {
        csrf::bound_token(state, CSRF_PURPOSE, &self.session.id_hash)
    }

    /// The proof of permission `P`, or the refusal (a 403 page).
    pub fn may<P: Permission>(&self) -> Result<Authorized<P>, Stop> {
        self.actor
            .authorize::<P>()
            .map_err(|e| Stop::Admin(AdminError::Forbidden(e)))
    }

    /// Whether the role allows `P` (to show or hide buttons; the operation checks again).
    pub fn allows<P: Permission>(&self) -> bool {
        P::allows(self.actor.role)
    }

    /// Every page needs `Read`.
    pub fn read(&self) -> Result<Authorized<Read>, Stop> {
        self.may::<Read>()
    }

    /// "alice (helpdesk)": who is signed in, for the page header.
    pub fn label(&self) -> String {
        match &self.actor.kind {
            ActorKind::User { username, .. } => format!("{username} ({})", self.actor.role),
            _ => self.actor.label(),
        }
    }
}

/// Why a page is not shown as asked.
pub(crate) enum Stop {
    /// A response of its own: the way to sign in, a refusal, a confirmation.
    Answer(Box<Response>),
    /// An operation refused or failed.
    Admin(AdminError),
}

impl Stop {
    pub fn answer(res: Response) -> Stop {
        Stop::Answer(Box::new(res))
    }
}

impl From<AdminError> for Stop {
    fn from(e: AdminError) -> Self {
        Stop::Admin(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Admin(AdminError::Store(e))
    }
}

/// Lets in a signed-in person with a role whose sign-in proved a second factor; anyone else gets
/// the way to sign in or a refusal.
pub(crate) async fn enter(state: &AppState, headers: &HeaderMap) -> Result<Desk, Stop> {
    let Some((session, user)) = signin::current_session(state, headers).await? else {
        return Err(Stop::answer(signin::redirect(SIGN_IN)));
    };
    let Some(role) = state.store.find_user_role(&user.id).await? else {
        return Err(Stop::answer(no_role(state)));
    };
    if !session.proved_second_factor() {
        return Err(Stop::answer(needs_second_factor(state, role)));
    }
    Ok(Desk {
        actor: Actor {
            kind: ActorKind::User {
                user_id: user.id,
                username: user.username,
            },
            role,
        },
        session,
    })
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// 403 for a signed-in person without a role.
fn no_role(state: &AppState) -> Response {
    let page = pages::MessagePage {
        org: state.config.organisation.clone(),
        title: "Not for this account".into(),
        paragraphs: vec![
            "The helpdesk pages are for accounts with an administrative role (admin, helpdesk or reader). Yours has none.".into(),
            "If you should have access, ask an administrator to grant you a role.".into(),
        ],
        link: Some(("/account/security".into(), "Go to your Security info".into())),
    };
    with_status(pages::render(&page), StatusCode::FORBIDDEN)
}

/// 403 for a role holder whose session did not prove a second factor.
fn needs_second_factor(state: &AppState, role: Role) -> Response {
    let page = pages::MessagePage {
        org: state.config.organisation.clone(),
        title: "Sign in with a second factor".into(),
        paragraphs: vec![
            format!(
                "Your account has the {role} role, but the helpdesk pages need a sign-in that proved a second factor (an authenticator app, a code…): a password alone, or a remembered device, is not enough."
            ),
            "Sign in again with your second factor, then come back to /admin. If you have no second factor yet, add one in Security info first.".into(),
        ],
        link: Some((FRESH_SIGN_IN.into(), "Sign in again".into())),
    };
    with_status(pages::render(&page), StatusCode::FORBIDDEN)
}

/// The answer to a stopped page.
pub(crate) fn stopped(state: &AppState, stop: Stop, ctx: &ErrorContext) -> Response {
    let e = match stop {
        Stop::Answer(res) => return *res,
        Stop::Admin(e) => e,
    };
    let (status, title) = match &e {
        AdminError::Store(inner) => return errors::internal(state, inner, ctx),
        AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        AdminError::Forbidden(_) | AdminError::Refused(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        AdminError::Invalid(_) => (StatusCode::BAD_REQUEST, "That did not work"),
        AdminError::Conflict(_) => (StatusCode::CONFLICT, "That did not work"),
    };
    let text = sentence(&e.to_string());
    let page = views::MessagePage {
        org: state.config.organisation.clone(),
        title: title.into(),
        paragraphs: vec![text],
        request_id: ctx.request_id.clone(),
    };
    with_status(pages::render(&page), status)
}

/// "no user 'x'" → "No user 'x'.".
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Runs a page: the response, or what stopped it.
pub(crate) fn answer(
    state: &AppState,
    result: Result<Response, Stop>,
    ctx: &ErrorContext,
) -> Response {
    result.unwrap_or_else(|stop| stopped(state, stop, ctx))
}

/// The query string's parameters (duplicates and bad encoding are refused).
pub(crate) fn query(
    state: &AppState,
    raw: Option<&str>,
    ctx: &ErrorContext,
) -> Result<Params, Stop> {
    forms::query(raw)
        .map_err(|(code, detail)| Stop::answer(errors::page(state, code, Some(detail), ctx)))
}

/// Checks a form post: same origin, the session's token, only `fields`.
pub(crate) fn check_form(
    state: &AppState,
    desk: &Desk,
    headers: &HeaderMap,
    body: &[u8],
    fields: &[&str],
    ctx: &ErrorContext,
) -> Result<Params, Stop> {
    let refuse = |code, detail| Stop::answer(errors::page(state, code, detail, ctx));
    if !csrf::same_origin(state, headers) {
        return Err(refuse(ErrorCode::CsrfRejected, None));
    }
    let params = forms::form(headers, body).map_err(|(code, detail)| refuse(code, Some(detail)))?;
    if !csrf::token_matches(&desk.csrf(state), params.get("csrf")) {
        return Err(refuse(ErrorCode::CsrfRejected, None));
    }
    if let Some(unknown) = params.unknown(fields) {
        let detail = format!(
            "the form field '{}' is not expected",
            unknown.chars().take(40).collect::<String>()
        );
        return Err(refuse(ErrorCode::InvalidRequest, Some(detail)));
    }
    Ok(params)
}

/// Where a change comes from, for the audit log.
pub(crate) fn origin(rid: &RequestId, info: &ClientInfo, signin: Option<&str>) -> Origin {
    Origin {
        ip: Some(info.ip.to_string()),
        request_id: Some(rid.0.clone()),
        signin: signin.map(str::to_owned),
    }
}

/// A path segment: ids are percent-encoded so that they cannot change the path.
pub(crate) fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page of one user.
pub(crate) fn user_href(id: &str) -> String {
    format!("/admin/users/{}", segment(id))
}

/// The diagnosis page of one sign-in.
pub(crate) fn signin_href(id: &str) -> String {
    format!("/admin/signins/{}", segment(id))
}

/// Fixed notices after a change (`?notice=`), never request text.
pub(crate) fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "unlocked" => "Unlocked.",
        "sessions-revoked" => "Sessions revoked.",
        "reregister" => {
            "Re-registration required: every method was removed and the sessions ended. The user registers a new method at the next sign-in."
        }
        "method-removed" => "Method removed.",
        "pass-deleted" => "Temporary access pass deleted.",
        "enabled" => "Account enabled.",
        _ => return None,
    })
}

/// The notice a page was redirected to, if it is one of ours.
pub(crate) fn notice(params: &Params) -> Option<String> {
    params
        .get("notice")
        .and_then(notice_text)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_leave_their_place() {
        assert_eq!(segment("6f1c-ab_9x~"), "6f1c-ab_9x~");
        assert_eq!(segment("../x?y#z"), "%2E%2E%2Fx%3Fy%23z");
        assert_eq!(segment("a b"), "a%20b");
        assert_eq!(user_href("é"), "/admin/users/%C3%A9");
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(sentence("no user 'x'"), "No user 'x'.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert_eq!(notice_text("unlocked"), Some("Unlocked."));
        assert_eq!(notice_text("<script>"), None);
    }
}
