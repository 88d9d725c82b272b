//! The Postern Authenticator as an installable web app, served under `/authenticator/` from files
//! embedded in the binary (`assets/authenticator/`: hand-written HTML, JavaScript and CSS, a web
//! app manifest, a service worker and icons — no build step, no CDN).
//!
//! The app is a client of the device API (`routes::authenticator`) like the CLI; nothing here
//! knows about accounts. Activation links (`/authenticator/activate?code=…`) open the same app
//! shell, which reads the code. The pages carry a strict Content-Security-Policy (scripts and
//! styles from this origin only, no inline script), and the service worker's file changes with
//! every change of the assets, so a new Postern updates the installed app.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::LazyLock;

const INDEX: &str = include_str!("../../assets/authenticator/index.html");
const APP_JS: &str = include_str!("../../assets/authenticator/app.js");
const APP_CSS: &str = include_str!("../../assets/authenticator/app.css");
const SERVICE_WORKER: &str = include_str!("../../assets/authenticator/sw.js");
const MANIFEST: &str = include_str!("../../assets/authenticator/manifest.webmanifest");
const ICON_SVG: &str = include_str!("../../assets/authenticator/icon.svg");
const ICON_192: &[u8] = include_bytes!("../../assets/authenticator/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../../assets/authenticator/icon-512.png");

/// What the app's pages may load: this origin's scripts, styles, images, manifest and worker;
/// no inline script, no framing, no forms posted anywhere (the app posts with `fetch`).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The app shell: the files the service worker keeps for offline use (the size budget of
/// `BENCHMARKS.md` counts these).
pub const SHELL: [(&str, &str); 5] = [
    ("index.html", INDEX),
    ("app.js", APP_JS),
    ("app.css", APP_CSS),
    ("sw.js", SERVICE_WORKER),
    ("manifest.webmanifest", MANIFEST),
];

/// A digest of every asset: the service worker's cache name, so any change installs anew.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut all: Vec<u8> = Vec::new();
    for (_, text) in SHELL {
        all.extend_from_slice(text.as_bytes());
    }
    for bytes in [ICON_SVG.as_bytes(), ICON_192, ICON_512] {
        all.extend_from_slice(bytes);
    }
    let digest = postern_core::secret::sha256(&all);
    data_encoding::HEXLOWER.encode(&digest[..6])
});

static WORKER: LazyLock<String> = LazyLock::new(|| SERVICE_WORKER.replace("__VERSION__", &VERSION));

fn file(body: impl IntoResponse, mime: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Always revalidated: the service worker keeps the offline copy, the network the fresh one.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

/// `GET /authenticator`: the app lives under the slash (relative paths, the worker's scope).
pub async fn bare() -> Redirect {
    // Relative, so that an issuer with a path prefix keeps it.
    Redirect::permanent("authenticator/")
}

/// `GET /authenticator/` and `GET /authenticator/activate?code=…`: the app shell.
pub async fn shell() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

pub async fn script() -> Response {
    file(APP_JS, "text/javascript; charset=utf-8")
}

pub async fn style() -> Response {
    file(APP_CSS, "text/css; charset=utf-8")
}

pub async fn worker() -> Response {
    file(WORKER.as_str(), "text/javascript; charset=utf-8")
}

pub async fn manifest() -> Response {
    file(MANIFEST, "application/manifest+json")
}

pub async fn icon_svg() -> Response {
    file(ICON_SVG, "image/svg+xml")
}

pub async fn icon_192() -> Response {
    file(ICON_192, "image/png")
}

pub async fn icon_512() -> Response {
    file(ICON_512, "image/png")
}

/// Why the web app cannot run for users of `issuer`, if it cannot: browsers give WebCrypto,
/// service workers and Web Push only to secure contexts — `https://`, or `http://` on this very
/// machine (localhost, 127.0.0.0/8, ::1).
pub fn unavailable_reason(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    if url.scheme() == "https" {
        return None;
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback {
        return None;
    }
    Some(format!(
        "Postern is served at {issuer}, without HTTPS. Phones run the Postern Authenticator web app only from an https:// address with a certificate they trust. Ask your IT team to give Postern a certificate (the tls settings, or a reverse proxy with issuer = https://…); until then use the command-line authenticator or an authenticator app's codes."
    ))
}

/// Unknown files under the app's path.
pub async fn missing() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such file in the Postern Authenticator",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_shell_stays_small() {
        let total: usize = SHELL.iter().map(|(_, text)| text.len()).sum();
        assert!(
            total < 60 * 1024,
            "the app shell is {total} bytes, over its 60 KB budget (BENCHMARKS.md)"
        );
    }

    #[test]
    fn no_inline_script_or_style_in_the_shell() {
        // The CSP forbids them; the page would break silently.
        assert!(!INDEX.contains("<script>") && !INDEX.contains(" style="));
        for handler in ["onclick=", "onload=", "onsubmit=", "javascript:"] {
            assert!(!INDEX.contains(handler), "{handler}");
        }
        assert!(WORKER.contains(&*VERSION) && !WORKER.contains("__VERSION__"));
    }

    #[test]
    fn secure_contexts_only() {
        for ok in [
            "https://id.school.example",
            "http://localhost:8080",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://app.localhost",
        ] {
            assert_eq!(unavailable_reason(ok), None, "{ok}");
        }
        for bad in ["http://10.0.0.5:8080", "http://id.school.example"] {
            assert!(
                unavailable_reason(bad).is_some_and(|r| r.contains("https://")),
                "{bad}"
            );
        }
    }
}
