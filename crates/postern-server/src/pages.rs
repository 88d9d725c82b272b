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
