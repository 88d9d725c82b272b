//! `POST /admin/users/{id}/{action}`: the helpdesk's changes to an account, one
//! `crate::admin` call each. The form must be same-origin with the session's token, the role must
//! allow the action (before anything else happens), and a destructive action first answers with a
//! page asking to confirm (the same form again with `confirm=yes`). A change ends with a redirect
//! back to the page it came from — the sign-in being fixed, else the account — with a notice; a
//! new temporary access pass is shown on a page of its own, once.

use super::views::{AccessPassPage, ConfirmPage};
use super::{Desk, Stop, answer, check_form, enter, origin, signin_href, user_href};
use crate::admin::methods::{self, NewAccessPass};
use crate::admin::{AdminError, Origin, users};
use crate::http::errors::ErrorContext;
use crate::http::{ClientInfo, RequestId};
use crate::pages;
use crate::signin;
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use postern_core::admin::{Help, Manage};
use postern_core::clock::iso8601;
use postern_core::diagnosis::FixAction;
use postern_core::oidc::params::Params;

/// What a helpdesk form can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Unlock,
    RevokeSessions,
    RequireReregister,
    RemoveMethod,
    CreateAccessPass,
    DeleteAccessPass,
    Enable,
}

impl From<FixAction> for Action {
    fn from(a: FixAction) -> Self {
        match a {
            FixAction::Unlock => Action::Unlock,
            FixAction::Enable => Action::Enable,
            FixAction::CreateAccessPass => Action::CreateAccessPass,
            FixAction::RequireReregister => Action::RequireReregister,
            FixAction::RevokeSessions => Action::RevokeSessions,
        }
    }
}

impl Action {
    const ALL: [Action; 7] = [
        Action::Unlock,
        Action::RevokeSessions,
        Action::RequireReregister,
        Action::RemoveMethod,
        Action::CreateAccessPass,
        Action::DeleteAccessPass,
        Action::Enable,
    ];

    /// The last segment of the action's URL.
    pub fn path(self) -> &'static str {
        match self {
            Action::Unlock => "unlock",
            Action::RevokeSessions => "revoke-sessions",
            Action::RequireReregister => "require-reregister",
            Action::RemoveMethod => "remove-method",
            Action::CreateAccessPass => "access-pass",
            Action::DeleteAccessPass => "delete-access-pass",
            Action::Enable => "enable",
        }
    }

    fn parse(path: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.path() == path)
    }

    /// The words of its button.
    pub fn label(self) -> &'static str {
        match self {
            Action::Unlock => "Unlock",
            Action::RevokeSessions => "Revoke sessions",
            Action::RequireReregister => "Require re-registration",
            Action::RemoveMethod => "Remove",
            Action::CreateAccessPass => "Issue temporary access pass",
            Action::DeleteAccessPass => "Delete temporary access pass",
            Action::Enable => "Enable the account",
        }
    }

    /// Whether it takes something away from the user (and so asks to confirm first).
    pub fn destructive(self) -> bool {
        matches!(
            self,
            Action::RevokeSessions
                | Action::RequireReregister
                | Action::RemoveMethod
                | Action::DeleteAccessPass
        )
    }

    /// The proof its operation needs, or the 403.
    fn check(self, desk: &Desk) -> Result<(), Stop> {
        match self {
            Action::Enable => desk.may::<Manage>().map(drop),
            _ => desk.may::<Help>().map(drop),
        }
    }

    /// Whether the viewer's role allows it (to show its button).
    pub fn allowed(self, desk: &Desk) -> bool {
        match self {
            Action::Enable => desk.allows::<Manage>(),
            _ => desk.allows::<Help>(),
        }
    }

    /// The fields its form sends.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Action::RemoveMethod => &["csrf", "signin", "confirm", "method"],
            Action::CreateAccessPass => &["csrf", "signin", "lifetime", "once"],
            _ => &["csrf", "signin", "confirm"],
        }
    }

    /// The notice shown after it (a key of `super::notice_text`).
    fn notice(self) -> &'static str {
        match self {
            Action::Unlock => "unlocked",
            Action::RevokeSessions => "sessions-revoked",
            Action::RequireReregister => "reregister",
            Action::RemoveMethod => "method-removed",
            Action::DeleteAccessPass => "pass-deleted",
            Action::Enable => "enabled",
            Action::CreateAccessPass => "",
        }
    }
}

/// `POST /admin/users/{id}/{action}`.
pub async fn act(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = ErrorContext::new(&state, &rid);
    let done = async {
        let desk = enter(&state, &headers).await?;
        let Some(action) = Action::parse(&action) else {
            return Err(AdminError::NotFound("there is no such helpdesk action".into()).into());
        };
        let params = check_form(&state, &desk, &headers, &body, action.fields(), &ctx)?;
        action.check(&desk)?;
        let signin: Option<String> = params
            .get("signin")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(100).collect());
        let back = match &signin {
            Some(s) => signin_href(s),
            None => user_href(&id),
        };
        if action.destructive() && params.get("confirm") != Some("yes") {
            return confirm(&state, &desk, action, &id, &params, signin, &back).await;
        }
        let origin = origin(&rid, &info, signin.as_deref());
        if action == Action::CreateAccessPass {
            return create_access_pass(&state, &desk, &origin, &id, &params, &back).await;
        }
        perform(&state, &desk, action, &origin, &id, &params).await?;
        Ok(signin::redirect(&format!(
            "{back}?notice={}",
            action.notice()
        )))
    }
    .await;
    answer(&state, done, &ctx)
}

/// Runs an action that answers with a redirect.
async fn perform(
    state: &AppState,
    desk: &Desk,
    action: Action,
    origin: &Origin,
    id: &str,
    params: &Params,
) -> Result<(), Stop> {
    match action {
        Action::Unlock => {
            users::unlock(state, &desk.may::<Help>()?, origin, id).await?;
        }
        Action::RevokeSessions => {
            users::revoke_sessions(state, &desk.may::<Help>()?, origin, id).await?;
        }
        Action::RequireReregister => {
            users::require_reregister(state, &desk.may::<Help>()?, origin, id).await?;
        }
        Action::RemoveMethod => {
            let method = method_field(params)?;
            methods::delete(state, &desk.may::<Help>()?, origin, id, method).await?;
        }
        Action::DeleteAccessPass => {
            methods::remove_access_pass(state, &desk.may::<Help>()?, origin, id).await?;
        }
        Action::Enable => {
            users::set_disabled(state, &desk.may::<Manage>()?, origin, id, false).await?;
        }
        Action::CreateAccessPass => {
            return Err(AdminError::Invalid("a pass is issued by its own form".into()).into());
        }
    }
    Ok(())
}

fn method_field(params: &Params) -> Result<&str, Stop> {
    params
        .get("method")
        .filter(|m| !m.is_empty() && m.len() <= 200)
        .ok_or_else(|| AdminError::Invalid("choose the method to remove".into()).into())
}

/// Issues a temporary access pass and shows it, this once.
async fn create_access_pass(
    state: &AppState,
    desk: &Desk,
    origin: &Origin,
    id: &str,
    params: &Params,
    back: &str,
) -> Result<Response, Stop> {
    let lifetime_minutes =
        match params.get("lifetime") {
            None | Some("") => None,
            Some(m) => Some(m.parse::<i64>().map_err(|_| {
                AdminError::Invalid("the lifetime must be a number of minutes".into())
            })?),
        };
    let once = match params.get("once") {
        None => false,
        Some("yes") => true,
        Some(_) => {
            return Err(AdminError::Invalid("'once' must be yes or absent".into()).into());
        }
    };
    let request = NewAccessPass {
        lifetime_minutes,
        once,
    };
    let issued =
        methods::create_access_pass(state, &desk.may::<Help>()?, origin, id, request).await?;
    // `pages::render` marks the page `Cache-Control: no-store`: the pass is in no cache.
    Ok(pages::render(&AccessPassPage {
        org: state.config.organisation.clone(),
        me: desk.label(),
        pass: issued.pass,
        username: issued.username,
        expires: iso8601(issued.expires),
        once: issued.once,
        back: back.to_owned(),
    }))
}

/// The page that says what a destructive action will do, with its "Yes, …" button.
async fn confirm(
    state: &AppState,
    desk: &Desk,
    action: Action,
    id: &str,
    params: &Params,
    signin: Option<String>,
    back: &str,
) -> Result<Response, Stop> {
    let proof = desk.read()?;
    let user = users::get(state, &proof, id).await?;
    let name = &user.username;
    let mut hidden = vec![];
    if let Some(s) = signin {
        hidden.push(("signin".to_owned(), s));
    }
    let (title, what, yes) = match action {
        Action::RevokeSessions => (
            format!("Revoke {name}'s sessions?"),
            format!(
                "{name} is signed out everywhere: every browser session and app sign-in ends, refresh tokens stop working, remembered devices ask for the second step again, and unused authenticator activation links stop working. Their sign-in methods stay."
            ),
            "Yes, revoke sessions",
        ),
        Action::RequireReregister => (
            format!("Require {name} to register again?"),
            format!(
                "Every second sign-in method of {name} is removed (authenticator apps, devices, recovery codes), their sessions end and remembered devices are forgotten. Their next sign-in asks them to register a new method. This cannot be undone."
            ),
            "Yes, require re-registration",
        ),
        Action::RemoveMethod => {
            let method = method_field(params)?;
            let m = methods::get(state, &proof, &user.id, method).await?;
            hidden.push(("method".to_owned(), m.id.clone()));
            (
                format!("Remove '{}' from {name}?", m.name),
                format!(
                    "{name} can no longer sign in with '{}'. An authenticator device is signed out and its offline codes stop working. This cannot be undone.",
                    m.name
                ),
                "Yes, remove it",
            )
        }
        Action::DeleteAccessPass => (
            format!("Delete {name}'s temporary access pass?"),
            "The pass stops working at once.".to_owned(),
            "Yes, delete the pass",
        ),
        Action::Unlock | Action::CreateAccessPass | Action::Enable => {
            return Err(AdminError::Invalid("this action needs no confirmation".into()).into());
        }
    };
    Ok(pages::render(&ConfirmPage {
        org: state.config.organisation.clone(),
        me: desk.label(),
        title,
        paragraphs: vec![what],
        action: format!("{}/{}", user_href(id), action.path()),
        csrf: desk.csrf(state),
        hidden,
        yes: yes.to_owned(),
        cancel: back.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_own_path() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.path()), Some(a));
            assert!(a.fields().contains(&"csrf"));
            if a != Action::CreateAccessPass {
                assert!(super::super::notice_text(a.notice()).is_some(), "{a:?}");
            }
        }
        assert_eq!(Action::parse("set-role"), None);
    }
}
