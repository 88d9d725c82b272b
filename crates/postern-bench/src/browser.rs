//! What a simulated browser does in a sign-in, one request at a time: the application's
//! authorization request, the sign-in pages (password, second factor, the passkey form's
//! attributes), and the application's code exchange. Each browser keeps one HTTP connection (as a real browser does) and a fresh
//! cookie jar per sign-in; redirects are followed by hand, as the pages ask.

use postern_core::random::{OsRandom, token};

/// The application signing users in (a public client with PKCE).
pub struct App {
    /// Where the browser sends its requests: the issuer, or one node of several.
    pub issuer: String,
    /// The `Origin` its pages' forms post with: the issuer's.
    pub origin: String,
    pub client_id: String,
    pub redirect: String,
}

/// A sign-in in progress: the flow's page and the browser's cookie.
pub struct Started {
    /// `http://…/signin/{flow}`.
    pub page: String,
    /// The browser-binding cookie, as a `Cookie` header value.
    pub cookie: String,
    /// The PKCE verifier the application keeps for the code exchange.
    pub verifier: String,
    /// The anti-forgery token of the page's form.
    pub csrf: String,
    /// The page's form for signing in with a passkey alone, when it has one.
    pub passwordless: Option<PasskeyForm>,
}

/// A `<form data-passkey=…>`: where the page's script asks for the WebAuthn options and where it
/// posts the authenticator's answer (both paths, HTML-unescaped).
pub struct PasskeyForm {
    pub action: String,
    pub options: String,
}

/// The second-factor page's form.
pub struct CodeForm {
    pub csrf: String,
    /// The method asked for (the page's hidden input).
    pub method: String,
}

/// `localhost` is the server at 127.0.0.1 (the port the URL's): never `::1`, where nothing listens.
pub fn localhost() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A browser with no redirect following and its own connection pool.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", localhost())
        .build()
        .unwrap()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let s = body.find(start)? + start.len();
    let e = body[s..].find(end)? + s;
    Some(&body[s..e])
}

/// The text of an HTML attribute value (the entities Postern's templates write).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find(';').filter(|&e| e <= 8) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..end];
        let c = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The page's `<form data-passkey="{mode}" …>`, as the pages' script finds it.
pub fn passkey_form(body: &str, mode: &str) -> Option<PasskeyForm> {
    let marker = body.find(&format!("data-passkey=\"{mode}\""))?;
    let tag_start = body[..marker].rfind("<form")?;
    let tag_end = marker + body[marker..].find('>')?;
    let tag = &body[tag_start..tag_end];
    let attr = |name: &str| between(tag, &format!(" {name}=\""), "\"").map(unescape);
    Some(PasskeyForm {
        action: attr("action")?,
        options: attr("data-passkey-options")?,
    })
}

/// The browser cookie Postern set, as a `Cookie` header value.
fn browser_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a response was not the one expected: the status, the redirect and the page's error code.
pub async fn unexpected(what: &str, res: reqwest::Response) -> String {
    let status = res.status();
    let to = location(&res);
    let body = res.text().await.unwrap_or_default();
    let code = between(&body, "data-field=\"error-code\">", "<").unwrap_or("-");
    format!("{what}: HTTP {status}, location '{to}', error code {code}")
}

pub fn sent(what: &str, e: reqwest::Error) -> String {
    format!("{what}: {e}")
}

/// The authorization code in a redirect to the application, if that is where it goes.
pub fn code_in(app: &App, to: &str) -> Option<String> {
    if !to.starts_with(&app.redirect) {
        return None;
    }
    url::Url::parse(to).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    })
}

/// `GET /authorize` (PKCE S256) → `GET /signin/{flow}`: the password page (and its passkey form
/// when passkeys are on).
pub async fn start(http: &reqwest::Client, app: &App) -> Result<Started, String> {
    let verifier = token(&OsRandom, 32);
    let challenge = postern_core::oidc::pkce::challenge_s256(&verifier);
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let res = http
        .get(format!("{}/authorize?{q}", app.issuer))
        .send()
        .await
        .map_err(|e| sent("authorize", e))?;
    let cookie = browser_cookie(&res);
    let page = format!("{}{}", app.issuer, location(&res));
    let res = http
        .get(&page)
        .header("cookie", &cookie)
        .send()
        .await
        .map_err(|e| sent("sign-in page", e))?;
    let body = res.text().await.unwrap_or_default();
    let csrf = between(&body, "name=\"csrf\" value=\"", "\"")
        .ok_or("sign-in page: no form")?
        .to_owned();
    Ok(Started {
        page,
        cookie,
        verifier,
        csrf,
        passwordless: passkey_form(&body, "passwordless"),
    })
}

/// `POST /signin/{flow}` with username and password; the redirect that answers it.
async fn post_password(
    http: &reqwest::Client,
    app: &App,
    started: &Started,
    username: &str,
    password: &str,
) -> Result<reqwest::Response, String> {
    http.post(&started.page)
        .header("origin", &app.origin)
        .header("cookie", &started.cookie)
        .form(&[
            ("csrf", started.csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .map_err(|e| sent("password", e))
}

/// The password for a user with no second factor: the authorization code it leads to.
pub async fn password_to_code(
    http: &reqwest::Client,
    app: &App,
    started: &Started,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let res = post_password(http, app, started, username, password).await?;
    match code_in(app, &location(&res)) {
        Some(code) => Ok(code),
        None => Err(unexpected("password", res).await),
    }
}

/// The password for a user with a second factor: the redirect to the flow's page, followed, and
/// the second-factor form on it.
pub async fn password_to_second_factor(
    http: &reqwest::Client,
    app: &App,
    started: &Started,
    username: &str,
    password: &str,
) -> Result<CodeForm, String> {
    let res = post_password(http, app, started, username, password).await?;
    let to = location(&res);
    if !started.page.ends_with(&to) || to.is_empty() {
        return Err(unexpected("password", res).await);
    }
    let res = http
        .get(&started.page)
        .header("cookie", &started.cookie)
        .send()
        .await
        .map_err(|e| sent("second-factor page", e))?;
    let body = res.text().await.unwrap_or_default();
    let field =
        |name: &str| between(&body, &format!("name=\"{name}\" value=\""), "\"").map(str::to_owned);
    match (
        field("csrf"),
        field("method"),
        body.contains("name=\"code\""),
    ) {
        (Some(csrf), Some(method), true) => Ok(CodeForm { csrf, method }),
        _ => Err("second-factor page: no code form".into()),
    }
}

/// The password for a user whose default second factor is push: the redirect to the flow's page,
/// followed. That request creates the challenge and wakes the user's devices; its page shows the
/// number to type (`data-match-number`), returned here.
pub async fn password_to_push(
    http: &reqwest::Client,
    app: &App,
    started: &Started,
    username: &str,
    password: &str,
) -> Result<u32, String> {
    let res = post_password(http, app, started, username, password).await?;
    let to = location(&res);
    if !started.page.ends_with(&to) || to.is_empty() {
        return Err(unexpected("password", res).await);
    }
    let res = http
        .get(&started.page)
        .header("cookie", &started.cookie)
        .send()
        .await
        .map_err(|e| sent("push waiting page", e))?;
    let body = res.text().await.unwrap_or_default();
    between(&body, "data-match-number=\"", "\"")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            let code = between(&body, "data-field=\"error-code\">", "<").unwrap_or("-");
            format!("push waiting page: no number to match (error code {code})")
        })
}

/// `POST /signin/{flow}` with the code: the authorization code it leads to.
pub async fn post_code(
    http: &reqwest::Client,
    app: &App,
    started: &Started,
    form: &CodeForm,
    code: &str,
) -> Result<String, String> {
    let res = http
        .post(&started.page)
        .header("origin", &app.origin)
        .header("cookie", &started.cookie)
        .form(&[
            ("csrf", form.csrf.as_str()),
            ("method", form.method.as_str()),
            ("code", code),
        ])
        .send()
        .await
        .map_err(|e| sent("code", e))?;
    match code_in(app, &location(&res)) {
        Some(code) => Ok(code),
        None => Err(unexpected("code", res).await),
    }
}

/// The application's `POST /token` (code + verifier): RS256 ID token, ES256 access token, refresh
/// token.
pub async fn redeem(
    http: &reqwest::Client,
    app: &App,
    code: &str,
    verifier: &str,
) -> Result<(), String> {
    redeem_for_tokens(http, app, code, verifier).await.map(drop)
}

/// [`redeem`], returning the token response's body.
pub async fn redeem_for_tokens(
    http: &reqwest::Client,
    app: &App,
    code: &str,
    verifier: &str,
) -> Result<String, String> {
    let res = http
        .post(format!("{}/token", app.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect.as_str()),
            ("client_id", app.client_id.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| sent("token", e))?;
    if !res.status().is_success() {
        return Err(unexpected("token", res).await);
    }
    res.text().await.map_err(|e| sent("token", e))
}

/// One complete password sign-in: authorize → sign-in page → password → code → token.
pub async fn password_sign_in(
    http: &reqwest::Client,
    app: &App,
    username: &str,
    password: &str,
) -> Result<(), String> {
    let started = start(http, app).await?;
    let code = password_to_code(http, app, &started, username, password).await?;
    redeem(http, app, &code, &started.verifier).await
}
