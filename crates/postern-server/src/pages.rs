//! Server-rendered pages (askama templates in `templates/`, compiled into the binary and escaped
//! by default). Every page works without JavaScript; `postern.js` only adds the copy button.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The error block shown on error pages and inline on the sign-in form.
#[derive(Debug, Clone)]
pub struct ErrorView {
    pub code: u32,
    pub title: String,
    pub user_action: String,
    /// Extra words safe to show the user (never a hint whether a username exists).
    pub detail: Option<String>,
    pub request_id: String,
    pub correlation_id: String,
    pub timestamp: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub org: String,
    pub e: ErrorView,
}

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInPage {
    pub org: String,
    pub client_name: String,
    pub action: String,
    pub csrf: String,
    pub username: String,
    /// "Sign in with a passkey" and passkey autofill (policy `passkeys.passwordless`).
    pub passwordless: bool,
    pub notice: Option<String>,
    pub error: Option<ErrorView>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub org: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutConfirmPage {
    pub org: String,
    pub username: String,
    pub csrf: String,
    pub hidden: Vec<(String, String)>,
}

/// The second-factor prompt of a sign-in.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage {
    pub org: String,
    pub client_name: String,
    pub username: String,
    pub heading: String,
    pub instruction: String,
    pub inputmode: &'static str,
    pub action: String,
    pub csrf: String,
    pub method_id: String,
    pub remember_days: Option<i64>,
    pub other_url: String,
    pub notice: Option<String>,
    pub error: Option<ErrorView>,
}

/// A passkey ceremony's page: the second step, or registering one at the interrupt (50079).
/// The ceremony runs in `postern.js`; without JavaScript the page says so and links on.
#[derive(Template)]
#[template(path = "passkey.html")]
pub struct PasskeyPage {
    pub org: String,
    pub client_name: String,
    pub username: String,
    pub heading: String,
    pub instruction: String,
    pub button: String,
    /// `sign-in` or `register`.
    pub mode: &'static str,
    pub action: String,
    pub options_url: String,
    pub csrf: String,
    pub other_url: String,
    pub other_label: String,
    pub error: Option<ErrorView>,
}

/// One entry of "Sign in another way".
pub struct Choice {
    pub href: String,
    pub label: String,
    pub hint: Option<String>,
}

#[derive(Template)]
#[template(path = "other_ways.html")]
pub struct OtherWaysPage {
    pub org: String,
    pub client_name: String,
    pub username: String,
    pub correlation_id: String,
    pub choices: Vec<Choice>,
}

/// Waiting for a push approval.
#[derive(Template)]
#[template(path = "push_wait.html")]
pub struct PushWaitPage {
    pub org: String,
    pub client_name: String,
    pub username: String,
    pub number: u32,
    pub progress: String,
    pub expires: String,
    pub events_url: String,
    pub page_url: String,
    pub other_url: String,
    pub code_url: Option<String>,
    pub notice: Option<String>,
}

/// A push that did not sign the user in (500121), with every other way on.
#[derive(Template)]
#[template(path = "push_failed.html")]
pub struct PushFailedPage {
    pub org: String,
    pub client_name: String,
    pub username: String,
    pub cause: String,
    pub e: ErrorView,
    pub retry_url: String,
    pub retry_refused: Option<String>,
    pub csrf: String,
    pub choices: Vec<Choice>,
}

/// What an authenticator-app enrollment shows.
pub struct EnrollView {
    pub secret_key: String,
    pub uri: String,
    pub qr_svg: String,
    pub token: String,
}

impl From<crate::methods::totp::Enrollment> for EnrollView {
    fn from(e: crate::methods::totp::Enrollment) -> Self {
        // Groups of four are easier to type; apps ignore the spaces.
        let grouped = e
            .secret_key
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        EnrollView {
            secret_key: grouped,
            uri: e.uri,
            qr_svg: e.qr_svg,
            token: e.token,
        }
    }
}

/// Forced registration of a second factor during sign-in (50079).
#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub org: String,
    pub client_name: String,
    pub username: String,
    pub action: String,
    /// Registering the Postern Authenticator instead.
    pub authenticator_url: String,
    pub passkey_url: String,
    pub csrf: String,
    pub enroll: EnrollView,
    pub error: Option<ErrorView>,
}

/// Adding an authenticator app from Security info.
#[derive(Template)]
#[template(path = "totp_enroll.html")]
pub struct TotpEnrollPage {
    pub org: String,
    pub username: String,
    pub action: String,
    pub csrf: String,
    pub enroll: EnrollView,
    pub error: Option<ErrorView>,
}

/// Adding the Postern Authenticator from Security info: the activation link and its QR code.
#[derive(Template)]
#[template(path = "push_enroll.html")]
pub struct PushEnrollPage {
    pub org: String,
    pub username: String,
    pub url: String,
    pub qr_svg: String,
    pub expires: String,
    /// Why the web app cannot be offered at this address (no QR code then), if it cannot.
    pub web_app_unavailable: Option<String>,
    /// Where "Done" goes: Security info, or on with a sign-in (the registration interrupt).
    pub done_href: String,
    pub done_label: String,
}

/// New recovery codes, shown once.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub org: String,
    pub codes: Vec<String>,
    pub download_href: String,
    pub download_name: String,
}

/// A method row on Security info.
pub struct MethodRow {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub label: &'static str,
    pub added: String,
    pub last_used: String,
    pub is_default: bool,
    pub can_be_default: bool,
    pub can_be_renamed: bool,
    pub remaining: Option<usize>,
    /// More about it (a device's last contact and app version).
    pub detail: Option<String>,
}

/// A recent sign-in on Security info.
pub struct SignInRow {
    pub time: String,
    pub app: String,
    pub ip: String,
    pub result: String,
    pub error_code: String,
}

#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub org: String,
    pub username: String,
    /// Passkeys can be added on this server.
    pub passkeys: bool,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<ErrorView>,
    /// Why a change was refused (a rule, not a fault: no error ids).
    pub refusal: Option<String>,
    pub warnings: Vec<String>,
    pub continue_to: Option<(String, String)>,
    pub methods: Vec<MethodRow>,
    pub has_recovery: bool,
    pub remembered: String,
    pub remembered_count: i64,
    pub signins: Vec<SignInRow>,
    /// Push is turned off since then (a request was reported as not the user).
    pub push_blocked: Option<String>,
}

/// One catalogue entry, for `/error?code=N`.
pub struct ExplainEntry {
    pub code: u32,
    pub title: String,
    pub user_action: String,
    pub admin_action: String,
    pub oauth_error: String,
}

#[derive(Template)]
#[template(path = "explain.html")]
pub struct ExplainPage {
    pub org: String,
    pub entries: Vec<ExplainEntry>,
    pub single: bool,
}

/// Renders a template as an HTML response that is never cached.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(body) => {
            let mut res = Html(body).into_response();
            let h = res.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Postern could not render this page.",
            )
                .into_response()
        }
    }
}

/// The stylesheet and script, embedded in the binary.
pub const CSS: &str = include_str!("../assets/postern.css");
pub const JS: &str = include_str!("../assets/postern.js");
