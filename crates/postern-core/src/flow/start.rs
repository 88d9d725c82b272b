//! What an authorization request meets: the browser's single sign-on session, `prompt=none`
//! without one, or a new sign-in.

use super::LogLine;
use crate::clock::iso8601;
use crate::oidc::authorize::{AuthorizeRequest, Prompt};
use crate::oidc::claims::Authentication;
use crate::session::SsoSession;
use crate::signin_log::StepResult;
use time::OffsetDateTime;

/// How a validated authorization request begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The session answers it: a code at once, no page.
    Reuse { auth: Authentication, line: LogLine },
    /// `prompt=none` and no session that may answer: back to the application with
    /// `login_required`, in these words.
    LoginRequired { reason: &'static str },
    /// A new sign-in flow.
    SignIn,
}

/// May an existing session answer `request` without a new sign-in? Not for `prompt=login`, not
/// past `max_age`, and — when a second factor is due — only if the session passed one (proved in
/// that sign-in, not through a remembered device, if the application bounds the age). A session
/// from before the user registered a factor, or before the policy required one, signs in again.
pub fn sso_satisfies(
    session: &SsoSession,
    request: &AuthorizeRequest,
    needs_mfa: bool,
    now: OffsetDateTime,
) -> bool {
    let fresh = request.prompt != Prompt::Login && session.satisfies_max_age(request.max_age, now);
    let strong = !needs_mfa
        || (session.has_mfa() && (request.max_age.is_none() || session.proved_second_factor()));
    fresh && strong
}

/// How `request` begins in a browser holding `session` (valid, its user enabled); `needs_mfa`
/// is whether a sign-in of that user needs a second factor today.
pub fn begin(
    request: &AuthorizeRequest,
    session: Option<&SsoSession>,
    needs_mfa: bool,
    now: OffsetDateTime,
) -> Begin {
    if let Some(session) = session.filter(|s| sso_satisfies(s, request, needs_mfa, now)) {
        let words = format!(
            "signed in by the existing single sign-on session (authenticated at {}); authorization code issued",
            iso8601(session.auth_time)
        );
        return Begin::Reuse {
            auth: session.authentication(),
            line: LogLine::new("sso_session", StepResult::Success, words),
        };
    }
    if request.prompt == Prompt::None {
        return Begin::LoginRequired {
            reason: if session.is_some() {
                "prompt=none, but the session's authentication is older than max_age"
            } else {
                "prompt=none, but this browser has no valid sign-in session"
            },
        };
    }
    Begin::SignIn
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn request(client_id: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: client_id.into(),
            redirect_uri: "https://hub.example/cb".into(),
            scope: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
        }
    }

    #[test]
    fn how_a_request_begins() {
        use crate::oidc::authorize::{AuthorizeRequest, Prompt};
        use crate::session::SsoSession;
        let session = |amr: &[&str]| SsoSession {
            id_hash: "h".into(),
            user_id: "u".into(),
            auth_time: NOW,
            amr: amr.iter().map(|s| s.to_string()).collect(),
            created: NOW,
            expires: NOW + time::Duration::hours(8),
        };
        let later = NOW + time::Duration::minutes(10);
        let plain = request("app");
        let strong = session(&["pwd", "otp", "mfa"]);
        let remembered = session(&["pwd", "mfa"]);
        let weak = session(&["pwd"]);
        let kind = |b: Begin| match b {
            Begin::Reuse { .. } => "reuse",
            Begin::LoginRequired { .. } => "login_required",
            Begin::SignIn => "sign_in",
        };
        assert_eq!(kind(begin(&plain, Some(&strong), true, later)), "reuse");
        assert_eq!(kind(begin(&plain, Some(&weak), false, later)), "reuse");
        assert_eq!(
            kind(begin(&plain, Some(&weak), true, later)),
            "sign_in",
            "a session from before a second factor was due signs in again"
        );
        assert_eq!(kind(begin(&plain, None, false, later)), "sign_in");
        let login = AuthorizeRequest {
            prompt: Prompt::Login,
            ..plain.clone()
        };
        assert_eq!(kind(begin(&login, Some(&strong), true, later)), "sign_in");
        let none = AuthorizeRequest {
            prompt: Prompt::None,
            ..plain.clone()
        };
        assert_eq!(kind(begin(&none, None, false, later)), "login_required");
        assert_eq!(kind(begin(&none, Some(&strong), true, later)), "reuse");
        let bounded = AuthorizeRequest {
            max_age: Some(60),
            ..plain.clone()
        };
        assert_eq!(
            kind(begin(&bounded, Some(&strong), true, later)),
            "sign_in",
            "past max_age"
        );
        let fresh = AuthorizeRequest {
            max_age: Some(3600),
            ..plain.clone()
        };
        assert_eq!(kind(begin(&fresh, Some(&strong), true, later)), "reuse");
        assert_eq!(
            kind(begin(&fresh, Some(&remembered), true, later)),
            "sign_in",
            "a bounded age wants a factor proved, not a remembered browser"
        );
        let bounded_none = AuthorizeRequest {
            max_age: Some(60),
            prompt: Prompt::None,
            ..plain
        };
        let Begin::LoginRequired { reason } = begin(&bounded_none, Some(&strong), true, later)
        else {
            panic!("prompt=none past max_age");
        };
        assert!(reason.contains("older than max_age"));
    }
}
