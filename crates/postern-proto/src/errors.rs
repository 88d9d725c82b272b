//! The error catalogue: one entry per stable code.
//!
//! Codes follow Microsoft Entra's AADSTS numbers where the meaning is the same, so that people who
//! know those numbers (and search engines) find the right explanation. Codes that exist only in
//! Postern start with `99`. Each entry carries the HTTP status, the OAuth 2.0 `error` value, a title,
//! what the user can do and what an administrator can do. Nothing else in Postern decides these
//! texts: pages, OAuth error responses and `postern errors show` all read them from here.

use serde::{Deserialize, Serialize};

/// A stable error code. The numeric value is the code shown to users and applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
pub enum ErrorCode {
    /// Internal failure of the sign-in service.
    ServerError,
    /// Malformed request (bad parameter, wrong content type, duplicated parameter, invalid UTF-8).
    InvalidRequest,
    /// A required parameter is missing.
    MissingParameter,
    /// The redirect URI does not exactly match one registered for the application.
    RedirectUriMismatch,
    /// Invalid username or password.
    InvalidCredentials,
    /// The account is locked after too many failed sign-ins.
    AccountLocked,
    /// The account is disabled.
    AccountDisabled,
    /// `prompt=none` was asked but nobody is signed in (or a fresh sign-in is needed).
    LoginRequired,
    /// A second factor is required and was not satisfied.
    StrongAuthRequired,
    /// Policy requires a second factor for this sign-in.
    MfaRequiredByPolicy,
    /// The user must register a second factor before continuing.
    MfaRegistrationRequired,
    /// The second-factor step failed (for example, the push approval timed out).
    SecondFactorFailed,
    /// The sign-in flow expired or was already finished.
    FlowExpired,
    /// The application (client id) is unknown.
    UnknownClient,
    /// The client secret is wrong, or client authentication is missing.
    InvalidClientSecret,
    /// The authorization code was already redeemed.
    CodeAlreadyRedeemed,
    /// The authorization code or refresh token has expired.
    CodeExpired,
    /// The code or token is unknown, revoked, or issued to another application.
    InvalidGrant,
    /// A refresh token was reused; the whole token family is revoked.
    RefreshTokenReused,
    /// The PKCE code verifier does not match the code challenge.
    PkceMismatch,
    /// The application asked for a grant type it may not use.
    UnsupportedGrantType,
    /// The application asked for a response type other than `code`.
    UnsupportedResponseType,
    /// The requested scope is invalid.
    InvalidScope,
    /// The access token is missing, invalid or expired.
    InvalidToken,
    /// The form was not sent from a Postern page (cross-site request refused).
    CsrfRejected,
    /// Too many requests from this address; slow down.
    RateLimited,
    /// The post-logout redirect URI is not registered for the application.
    PostLogoutRedirectUriMismatch,
    /// The page or resource does not exist.
    NotFound,
    /// The browser does not keep Postern's cookies, which sign-in needs.
    CookiesRequired,
    /// A second-factor code (authenticator app or recovery code) was not correct.
    WrongVerificationCode,
    /// A second-factor code was correct but already used.
    VerificationCodeReused,
    /// Too many wrong second-factor codes: the second step is locked for a while.
    SecondFactorLocked,
    /// The page needs a signed-in session.
    SignInRequired,
    /// The temporary access pass is not the user's (or the user has none).
    WrongAccessPass,
    /// The temporary access pass matched but has expired.
    AccessPassExpired,
    /// The one-time temporary access pass matched but was already used.
    AccessPassUsed,
    /// A `request` parameter (a request object, OIDC Core §6) was sent; Postern takes none.
    RequestNotSupported,
    /// A `request_uri` parameter was sent; Postern takes none.
    RequestUriNotSupported,
    /// A passkey or security key did not prove the sign-in (removed, cloned, not verified, or
    /// its answer did not check out).
    PasskeyFailed,
    /// The organisation's passkey policy does not allow this passkey or security key.
    PasskeyNotAllowed,
    /// The database did not answer in time (restarting, unreachable, overloaded): nothing was
    /// changed, and the request can be retried.
    DatabaseUnavailable,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorInfo {
    pub code: u32,
    pub http_status: u16,
    pub oauth_error: &'static str,
    pub title: &'static str,
    pub user_action: &'static str,
    pub admin_action: &'static str,
}

impl ErrorCode {
    /// Every code, in catalogue order.
    pub const ALL: [ErrorCode; 41] = [
        ErrorCode::ServerError,
        ErrorCode::InvalidRequest,
        ErrorCode::MissingParameter,
        ErrorCode::RedirectUriMismatch,
        ErrorCode::InvalidCredentials,
        ErrorCode::AccountLocked,
        ErrorCode::AccountDisabled,
        ErrorCode::LoginRequired,
        ErrorCode::StrongAuthRequired,
        ErrorCode::MfaRequiredByPolicy,
        ErrorCode::MfaRegistrationRequired,
        ErrorCode::SecondFactorFailed,
        ErrorCode::FlowExpired,
        ErrorCode::UnknownClient,
        ErrorCode::InvalidClientSecret,
        ErrorCode::CodeAlreadyRedeemed,
        ErrorCode::CodeExpired,
        ErrorCode::InvalidGrant,
        ErrorCode::RefreshTokenReused,
        ErrorCode::PkceMismatch,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::InvalidScope,
        ErrorCode::InvalidToken,
        ErrorCode::CsrfRejected,
        ErrorCode::RateLimited,
        ErrorCode::PostLogoutRedirectUriMismatch,
        ErrorCode::NotFound,
        ErrorCode::CookiesRequired,
        ErrorCode::WrongVerificationCode,
        ErrorCode::VerificationCodeReused,
        ErrorCode::SecondFactorLocked,
        ErrorCode::SignInRequired,
        ErrorCode::WrongAccessPass,
        ErrorCode::AccessPassExpired,
        ErrorCode::AccessPassUsed,
        ErrorCode::RequestNotSupported,
        ErrorCode::RequestUriNotSupported,
        ErrorCode::PasskeyFailed,
        ErrorCode::PasskeyNotAllowed,
        ErrorCode::DatabaseUnavailable,
    ];

    /// The numeric code shown to people and applications.
    pub fn code(self) -> u32 {
        self.info().code
    }

    /// Finds the entry for a numeric code.
    pub fn from_code(code: u32) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The catalogue entry.
    pub fn info(self) -> ErrorInfo {
        use ErrorCode::*;
        let (code, http_status, oauth_error, title, user_action, admin_action) = match self {
            ServerError => (
                50000,
                500,
                "server_error",
                "There was a problem with the sign-in service",
                "Try again in a minute. If it keeps happening, give the helpdesk the Request Id and Correlation Id shown on this page.",
                "Look up the request id in the server log (`postern admin signins show ID` and the tracing output); the log line carries the cause.",
            ),
            InvalidRequest => (
                90100,
                400,
                "invalid_request",
                "The request is malformed",
                "Go back to the application and start the sign-in again.",
                "The application sent a malformed request (a bad, duplicated or unreadable parameter, or the wrong content type). The error description names it.",
            ),
            MissingParameter => (
                900144,
                400,
                "invalid_request",
                "A required parameter is missing",
                "Go back to the application and start the sign-in again.",
                "The application omitted a required parameter; the error description names it. Fix the application's OpenID Connect configuration.",
            ),
            RedirectUriMismatch => (
                50011,
                400,
                "invalid_request",
                "The application's reply address is not registered",
                "The application is misconfigured; tell its owner or the helpdesk. Signing in again will not help.",
                "The redirect_uri sent does not exactly match one registered for the client. Compare it with `postern admin client list` and add it with the client's exact string.",
            ),
            InvalidCredentials => (
                50126,
                400,
                "invalid_grant",
                "Your username or password is incorrect",
                "Check your username and password (Caps Lock?) and try again. After too many attempts the account is locked for a while.",
                "The username is unknown or the password is wrong; Postern does not say which, by design. Reset the password with `postern admin user set-password` if the user has forgotten it.",
            ),
            AccountLocked => (
                50053,
                400,
                "invalid_grant",
                "Your account is temporarily locked",
                "Too many sign-in attempts failed. Wait for the time shown and try again with the right password.",
                "Smart lockout locked the account after repeated failures; it unlocks by itself. Check the sign-in log for the addresses the attempts came from.",
            ),
            AccountDisabled => (
                50057,
                400,
                "invalid_grant",
                "Your account is disabled",
                "Contact your helpdesk: an administrator has disabled this account.",
                "The account is disabled. Re-enable it with `postern admin user enable USERNAME` if that is intended.",
            ),
            LoginRequired => (
                50058,
                400,
                "login_required",
                "You need to sign in",
                "Sign in to the application again.",
                "The application asked for a silent sign-in (prompt=none) but the browser has no valid Postern session, or max_age asks for a fresher one.",
            ),
            StrongAuthRequired => (
                50074,
                400,
                "interaction_required",
                "Strong authentication is required",
                "Complete the second step of sign-in, or choose \"Sign in another way\".",
                "The user did not satisfy the second factor. The sign-in log steps say which method was tried and what happened.",
            ),
            MfaRequiredByPolicy => (
                50076,
                400,
                "interaction_required",
                "This sign-in needs a second factor",
                "Complete the second step of sign-in with one of your methods.",
                "Policy requires multi-factor authentication for this sign-in.",
            ),
            MfaRegistrationRequired => (
                50079,
                400,
                "interaction_required",
                "You need to set up a second sign-in method",
                "Follow the steps to register a second factor; you cannot skip this.",
                "Policy requires a second factor and the user has none registered yet.",
            ),
            SecondFactorFailed => (
                500121,
                400,
                "interaction_required",
                "The second sign-in step did not complete",
                "Choose another way to sign in: a code from your authenticator app, a recovery code, or ask the helpdesk for a temporary access pass.",
                "Open the sign-in's diagnosis with its correlation id: it says whether the request reached the device, was shown, or was answered.",
            ),
            FlowExpired => (
                50089,
                400,
                "invalid_request",
                "This sign-in page has expired",
                "Start again from the application; nothing was lost.",
                "The sign-in flow expired or had already finished (old tab, back button). Postern restarts it when it still knows the application's request.",
            ),
            UnknownClient => (
                700016,
                400,
                "unauthorized_client",
                "The application was not found",
                "The application is misconfigured; tell its owner or the helpdesk.",
                "No client with this client_id is registered. Check `postern admin client list`.",
            ),
            InvalidClientSecret => (
                7000215,
                401,
                "invalid_client",
                "The application's credentials are invalid",
                "Nothing to do on your side; tell the application's owner.",
                "Client authentication failed: a wrong or missing client secret, or more than one authentication method used. Rotate the secret if it was lost.",
            ),
            CodeAlreadyRedeemed => (
                54005,
                400,
                "invalid_grant",
                "The authorization code was already redeemed",
                "Sign in to the application again.",
                "The code was presented twice. Postern revoked the tokens issued for its first use, in case it was stolen. Check the application does not retry token requests.",
            ),
            CodeExpired => (
                70008,
                400,
                "invalid_grant",
                "The authorization code or refresh token has expired",
                "Sign in to the application again.",
                "The code or token is past its lifetime. Codes live 60 seconds; redeem them at once.",
            ),
            InvalidGrant => (
                70000,
                400,
                "invalid_grant",
                "The grant is invalid",
                "Sign in to the application again.",
                "The code or token is unknown, revoked, or was issued to another client or redirect URI.",
            ),
            RefreshTokenReused => (
                50173,
                400,
                "invalid_grant",
                "The refresh token was already used",
                "Sign in to the application again.",
                "A rotated refresh token was presented again, which suggests it was copied. Postern revoked every token of that family. Investigate the client if it repeats.",
            ),
            PkceMismatch => (
                501481,
                400,
                "invalid_grant",
                "The code verifier does not match the code challenge",
                "Sign in to the application again.",
                "PKCE failed: the code_verifier is missing or does not match the code_challenge of the authorization request.",
            ),
            UnsupportedGrantType => (
                70003,
                400,
                "unsupported_grant_type",
                "The application asked for an unsupported grant type",
                "Nothing to do on your side; tell the application's owner.",
                "Supported grant types: authorization_code, refresh_token, and client_credentials for confidential clients.",
            ),
            UnsupportedResponseType => (
                700054,
                400,
                "unsupported_response_type",
                "The application asked for an unsupported response type",
                "Nothing to do on your side; tell the application's owner.",
                "Postern supports response_type=code only (use the code flow with PKCE).",
            ),
            InvalidScope => (
                70011,
                400,
                "invalid_scope",
                "The application asked for an invalid scope",
                "Nothing to do on your side; tell the application's owner.",
                "The scope parameter is malformed, or `openid` is missing from a sign-in request.",
            ),
            InvalidToken => (
                500133,
                401,
                "invalid_token",
                "The access token is invalid or expired",
                "Sign in to the application again.",
                "The bearer token failed verification (signature, issuer, expiry) or was revoked.",
            ),
            CsrfRejected => (
                990001,
                403,
                "invalid_request",
                "The form was not sent from this sign-in page",
                "Go back to the application and sign in again from its own sign-in button.",
                "A cross-site form post or a form with a wrong or missing anti-forgery token was refused. Check a reverse proxy is not rewriting the Host or Origin headers.",
            ),
            RateLimited => (
                990002,
                429,
                "temporarily_unavailable",
                "Too many requests",
                "Wait a minute and try again.",
                "Per-address throttling refused the request. Raise the `limits` settings if many people share one address (a school NAT).",
            ),
            PostLogoutRedirectUriMismatch => (
                990003,
                400,
                "invalid_request",
                "The application's sign-out address is not registered",
                "You are signed out of Postern; close the window or go back to the application.",
                "The post_logout_redirect_uri does not exactly match one registered for the client.",
            ),
            CookiesRequired => (
                990005,
                400,
                "invalid_request",
                "Your browser is not keeping cookies for this site",
                "Allow cookies for this sign-in site (or leave private mode that blocks them), then start again from the application.",
                "The browser sent no Postern cookie on the sign-in page. Sign-in needs one short-lived cookie to bind the sign-in to the browser; check browser policies or a proxy stripping Cookie headers.",
            ),
            WrongVerificationCode => (
                990006,
                400,
                "access_denied",
                "That code didn't work",
                "Enter the current code from your authenticator app (it changes every 30 seconds), or one of your unused recovery codes. If app codes keep failing, check that your device sets its clock automatically, or choose \"Sign in another way\".",
                "The code did not match. The sign-in log step says whether it was simply wrong or right for another time (the device clock is off, and by how much).",
            ),
            VerificationCodeReused => (
                990007,
                400,
                "access_denied",
                "That code was already used",
                "Each code works once. Wait for the next code to appear in your authenticator app and enter it.",
                "A code from a time step (or a recovery code) that was already accepted was entered again; it was refused to stop replay.",
            ),
            SecondFactorLocked => (
                990008,
                400,
                "access_denied",
                "Too many failed attempts",
                "The second sign-in step is paused for a while after several wrong codes or refused passkeys. Try again after the time shown, or ask your helpdesk for a temporary access pass.",
                "Smart lockout of the second factor (separate from the password lockout) after repeated wrong codes or refused passkey answers; it unlocks by itself. The sign-in log shows each failed attempt and why it was refused.",
            ),
            SignInRequired => (
                990009,
                401,
                "login_required",
                "Sign in to continue",
                "Sign in again to manage your security info.",
                "The page needs a valid Postern session; the browser has none, or it expired or was signed out.",
            ),
            WrongAccessPass => (
                990010,
                400,
                "invalid_grant",
                "Your username or temporary access pass is incorrect",
                "Check the username and the pass the helpdesk gave you (dashes and capitals do not matter) and try again. After too many attempts the account is locked for a while.",
                "The username is unknown, the user has no pass, or the pass typed is not theirs; Postern does not say which, by design. Each attempt counts towards the lockout of temporary access passes (their own, separate from the password's). Issue a new pass if the user lost theirs.",
            ),
            AccessPassExpired => (
                990011,
                400,
                "invalid_grant",
                "Your temporary access pass has expired",
                "The pass was right but its time is up: ask the helpdesk for a new one.",
                "The pass matched but is past its lifetime. Issue a new one (an expired pass is replaced).",
            ),
            AccessPassUsed => (
                990012,
                400,
                "invalid_grant",
                "Your temporary access pass was already used",
                "This pass works only once and has signed in already. Ask the helpdesk for a new one, or sign in with a method you added.",
                "The one-time pass matched but had already signed in once. If the user did not use it, someone else may have: check the sign-in log, then issue a new pass (a multi-use one if they need several sign-ins).",
            ),
            RequestNotSupported => (
                990013,
                400,
                "request_not_supported",
                "The application sent a request object, which Postern does not accept",
                "Nothing to do on your side; tell the application's owner.",
                "The application passed its authorization request as a signed request object (`request`). Postern's discovery document says `request_parameter_supported: false`: send the parameters in the query string.",
            ),
            RequestUriNotSupported => (
                990014,
                400,
                "request_uri_not_supported",
                "The application sent a request_uri, which Postern does not accept",
                "Nothing to do on your side; tell the application's owner.",
                "The application passed its authorization request by reference (`request_uri`). Postern's discovery document says `request_uri_parameter_supported: false`: send the parameters in the query string.",
            ),
            PasskeyFailed => (
                990015,
                400,
                "access_denied",
                "That passkey didn't work",
                "Try again with the passkey or security key you registered here, and unlock it with your fingerprint, face, PIN or screen lock when asked. If it keeps failing, choose \"Sign in another way\".",
                "The WebAuthn answer was refused. The sign-in log step says why: the passkey was removed, its signature counter went backwards (possible cloned authenticator), user verification was not performed, or the signature, challenge or origin did not check out.",
            ),
            PasskeyNotAllowed => (
                990016,
                400,
                "access_denied",
                "Your organisation doesn't allow this passkey",
                "Use another kind of passkey or security key (the message above says which rule it broke), or ask your helpdesk which ones are allowed.",
                "The passkey policy (`passkeys.*` settings: synced passkeys, attestation, AAGUID allow and block lists, passwordless) refused this authenticator; the message names the rule.",
            ),
            DatabaseUnavailable => (
                990017,
                503,
                "temporarily_unavailable",
                "The sign-in service is busy for a moment",
                "Nothing was lost. Wait a few seconds and try again (reload the page). If it lasts, give the helpdesk the Request Id shown on this page.",
                "A database call failed for want of the database (no connection within `database.acquire_timeout_ms`, a statement past `database.statement_timeout_ms`, PostgreSQL restarting or unreachable). The transaction was rolled back (only a connection lost during its very commit leaves the outcome open: check before repeating an admin change); `/readyz` is red until the database answers again, and the node recovers by itself.",
            ),
            NotFound => (
                990004,
                404,
                "invalid_request",
                "Page not found",
                "Check the address, or go back to the application.",
                "No route matches the request path.",
            ),
        };
        ErrorInfo {
            code,
            http_status,
            oauth_error,
            title,
            user_action,
            admin_action,
        }
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> u32 {
        code.code()
    }
}

impl TryFrom<u32> for ErrorCode {
    type Error = String;

    fn try_from(code: u32) -> Result<Self, String> {
        ErrorCode::from_code(code).ok_or_else(|| format!("unknown error code {code}"))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "duplicate code {}", code.code());
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
            let info = code.info();
            assert!(!info.title.is_empty() && !info.user_action.is_empty());
            assert!((400..600).contains(&info.http_status));
        }
    }

    #[test]
    fn entra_numbers_are_kept() {
        assert_eq!(ErrorCode::InvalidCredentials.code(), 50126);
        assert_eq!(ErrorCode::AccountLocked.code(), 50053);
        assert_eq!(ErrorCode::AccountDisabled.code(), 50057);
        assert_eq!(ErrorCode::RedirectUriMismatch.code(), 50011);
        assert_eq!(ErrorCode::UnknownClient.code(), 700016);
        assert_eq!(ErrorCode::CodeAlreadyRedeemed.code(), 54005);
        assert_eq!(ErrorCode::CodeExpired.code(), 70008);
        assert_eq!(ErrorCode::LoginRequired.code(), 50058);
        assert_eq!(ErrorCode::SecondFactorFailed.code(), 500121);
    }
}
