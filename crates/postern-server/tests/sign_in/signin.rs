//! Password sign-in through the real pages: errors that explain themselves, smart lockout,
//! disabled accounts, stale browser state, anti-forgery, cookies and the sign-in log.

use crate::common::{
    Backend, Browser, Landing, SignInForm, TestServer, authorize_url, hidden, query_param,
};
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use postern_core::signin_log::SignInResult;
use std::sync::Arc;
use time::Duration;

fn error_code(body: &str) -> Option<String> {
    let key = "data-field=\"error-code\">";
    let start = body.find(key)? + key.len();
    Some(body[start..start + body[start..].find('<')?].to_owned())
}

fn field(body: &str, name: &str) -> String {
    let key = format!("data-field=\"{name}\">");
    let start = body.find(&key).unwrap() + key.len();
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

/// Wrong passwords and unknown usernames look the same; the log knows the difference.
async fn wrong_password_and_unknown_user(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("amy").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let wrong = browser.sign_in(&url, "amy", "not the password").await;
    let (url2, ..) = authorize_url(&server, &client, &[]);
    let unknown = browser.sign_in(&url2, "nobody", "not the password").await;
    let (wrong_body, unknown_body) = (wrong.body(), unknown.body());
    assert_eq!(error_code(wrong_body).as_deref(), Some("50126"));
    assert_eq!(error_code(unknown_body).as_deref(), Some("50126"));
    let message =
        |b: &str| b[b.find("<section class=\"error\"").unwrap()..b.find("<dl").unwrap()].to_owned();
    assert_eq!(
        message(wrong_body),
        message(unknown_body),
        "the same words for both"
    );
    for label in [
        "Error Code",
        "Request Id",
        "Correlation Id",
        "Timestamp",
        "Copy details",
        "/error?code=50126",
    ] {
        assert!(wrong_body.contains(label), "the error shows {label}");
    }
    let Landing::Page { request_id, .. } = &wrong else {
        panic!()
    };
    assert_eq!(
        &field(wrong_body, "request-id"),
        request_id,
        "the page shows this request's id"
    );
    let ts = field(wrong_body, "timestamp");
    assert!(ts.ends_with('Z') && ts.len() == 20, "UTC ISO 8601: {ts}");

    // The helpdesk finds the sign-in from either id, with the cause in words.
    let by_request = server
        .store()
        .find_signin(request_id)
        .await
        .unwrap()
        .expect("found by request id");
    let by_correlation = server
        .store()
        .find_signin(&field(wrong_body, "correlation-id"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_request.correlation_id, by_correlation.correlation_id);
    assert_eq!(by_request.result, SignInResult::Failure);
    assert_eq!(by_request.error_code.map(|c| c.code()), Some(50126));
    assert!(
        by_request
            .steps
            .iter()
            .any(|s| s.method == "password" && s.detail.contains("wrong password"))
    );
    let Landing::Page { request_id, .. } = &unknown else {
        panic!()
    };
    let entry = server
        .store()
        .find_signin(request_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        entry
            .steps
            .iter()
            .any(|s| s.detail.contains("no account has this username"))
    );
    let all = format!("{:?}", server.store().list_signins(50).await.unwrap());
    assert!(
        !all.contains("not the password"),
        "no password ever reaches the log"
    );
    server.stop().await;
}

async fn smart_lockout(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("lee").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let mut page = browser.open(&url).await;

    // The same wrong password again and again counts once.
    for _ in 0..12 {
        page = browser
            .submit_password(page.body(), "lee", "same-wrong")
            .await;
        assert_eq!(error_code(page.body()).as_deref(), Some("50126"));
    }
    for i in 0..9 {
        page = browser
            .submit_password(page.body(), "lee", &format!("wrong-{i}"))
            .await;
    }
    assert_eq!(
        error_code(page.body()).as_deref(),
        Some("50053"),
        "the 10th distinct failure locks"
    );
    page = browser
        .submit_password(page.body(), "lee", crate::common::PASSWORD)
        .await;
    assert_eq!(
        error_code(page.body()).as_deref(),
        Some("50053"),
        "locked: even the right password is refused"
    );
    let Landing::Page { request_id, .. } = &page else {
        panic!()
    };
    let entry = server
        .store()
        .find_signin(request_id)
        .await
        .unwrap()
        .unwrap();
    assert!(entry.steps.last().unwrap().detail.contains("not checked"));

    server.advance(Duration::seconds(61));
    let landing = browser
        .submit_password(page.body(), "lee", crate::common::PASSWORD)
        .await;
    assert!(
        query_param(landing.app_url(), "code").is_some(),
        "unlocked after the lock time"
    );
    server.stop().await;
}

/// A burst of parallel guesses gets no more answers than the threshold allows.
async fn parallel_guesses_do_not_beat_the_lockout(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("par").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let page = browser.open(&authorize_url(&server, &client, &[]).0).await;
    let form = Arc::new(SignInForm::of(&server, page.body()));
    let guesses: Vec<_> = (0..30)
        .map(|i| {
            let (http, form, origin) = (
                browser.http.clone(),
                form.clone(),
                server.issuer().to_owned(),
            );
            tokio::spawn(async move {
                let res = form
                    .post(&http, &origin, "par", &format!("guess-{i}"))
                    .await;
                (i, res.status().as_u16(), res.text().await.unwrap())
            })
        })
        .collect();
    let mut wrong_answers = 0;
    for g in guesses {
        let (i, status, body) = g.await.unwrap();
        match error_code(&body).as_deref() {
            Some("50126") => wrong_answers += 1,
            Some("50053") => {}
            other => panic!("guess {i}: unexpected answer {other:?} (status {status})"),
        }
    }
    assert!(
        wrong_answers <= 9,
        "{wrong_answers} guesses were answered; the lock allows 9 before it"
    );
    let page = browser
        .submit_password(page.body(), "par", crate::common::PASSWORD)
        .await;
    if let Landing::Page { body, .. } = &page {
        assert_eq!(error_code(body).as_deref(), Some("50053"));
    }
    server.stop().await;
}

async fn browsers_without_cookies_get_an_explanation_not_a_loop(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .unwrap();
    let res = http
        .get(authorize_url(&server, &client, &[]).0)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.url().as_str().contains("notice=other-window"),
        "one restart, then the explanation"
    );
    assert_eq!(
        error_code(&res.text().await.unwrap()).as_deref(),
        Some("990005")
    );
    server.stop().await;
}

/// Two tabs submitting the same sign-in at once: one completes it, the other is told so — with
/// the "already completed" page when both read the flow before either finished, or by a fresh
/// sign-in with the "finished" notice when the second arrived after the first had finished.
async fn a_flow_completes_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("two").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let page = browser.open(&authorize_url(&server, &client, &[]).0).await;
    let form = Arc::new(SignInForm::of(&server, page.body()));
    let tabs: Vec<_> = (0..2)
        .map(|_| {
            let (http, form, origin) = (
                browser.http.clone(),
                form.clone(),
                server.issuer().to_owned(),
            );
            tokio::spawn(async move {
                let res = form
                    .post(&http, &origin, "two", crate::common::PASSWORD)
                    .await;
                let location = res
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_owned());
                (res.status().as_u16(), location)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tabs {
        answers.push(t.await.unwrap());
    }
    let redirect = &client.redirect_uris[0];
    let completed = answers
        .iter()
        .filter(|(status, to)| {
            *status == 303
                && to
                    .as_deref()
                    .is_some_and(|to| to.starts_with(redirect.as_str()) && to.contains("code="))
        })
        .count();
    assert_eq!(
        completed, 1,
        "exactly one tab completes the sign-in: {answers:?}"
    );
    assert!(
        answers.iter().any(|(status, to)| *status == 400
            || (*status == 303
                && to
                    .as_deref()
                    .is_some_and(|to| to.contains("notice=finished")))),
        "the other is told it already finished: {answers:?}"
    );
    server.stop().await;
}

async fn disabled_accounts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let user = server.create_user("dan").await;
    server
        .store()
        .set_user_disabled(&user.id, true)
        .await
        .unwrap();
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let page = browser.sign_in(&url, "dan", crate::common::PASSWORD).await;
    assert_eq!(error_code(page.body()).as_deref(), Some("50057"));
    let page = browser
        .submit_password(page.body(), "dan", "wrong password")
        .await;
    assert_eq!(
        error_code(page.body()).as_deref(),
        Some("50126"),
        "disabled is only revealed with the right password"
    );
    server.stop().await;
}

/// Expired flows, other browsers, finished flows and the back button restart cleanly.
async fn stale_browser_state_restarts(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("tia").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let first = browser.open(&url).await;
    let (first_url, first_body) = first.page();
    let first_url = first_url.to_owned();

    server.advance(Duration::minutes(16));
    let again = browser.open(&first_url).await;
    assert!(again.page().0.contains("notice=expired"));
    assert!(again.body().contains("started again"));
    // Submitting the old, expired page also restarts instead of failing.
    let restarted = browser
        .submit_password(first_body, "tia", crate::common::PASSWORD)
        .await;
    assert!(restarted.page().0.contains("notice=expired"));

    // The link opened in another browser starts afresh there.
    let other = Browser::new(&server);
    let fresh_url = again.page().0.split('?').next().unwrap().to_owned();
    let elsewhere = other.open(&fresh_url).await;
    assert!(elsewhere.page().0.contains("notice=other-window"));

    // Sign in, then press back: the finished flow sends the user on, signed in.
    let done = browser
        .submit_password(again.body(), "tia", crate::common::PASSWORD)
        .await;
    assert!(query_param(done.app_url(), "code").is_some());
    let back = browser.open(&fresh_url).await;
    assert!(
        query_param(back.app_url(), "code").is_some(),
        "back button: a new code via the session"
    );

    let gone = browser.open(&server.url("/signin/unknown-flow")).await;
    assert_eq!(error_code(gone.body()).as_deref(), Some("50089"));
    server.stop().await;
}

async fn forms_refuse_cross_site_posts(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("cat").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let page = browser.open(&url).await;
    let action = format!(
        "{}{}",
        server.issuer(),
        crate::common::attr(page.body(), "action").unwrap()
    );
    let csrf = hidden(page.body(), "csrf").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "cat"),
        ("password", crate::common::PASSWORD),
    ];
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = browser
            .http
            .post(&action)
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{name}: {value}");
        assert!(res.text().await.unwrap().contains("990001"));
    }
    let res = browser
        .http
        .post(&action)
        .form(&[
            ("csrf", "forged"),
            ("username", "cat"),
            ("password", crate::common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Nothing was consumed: the real form still works.
    let ok = browser.submit(&action, &form).await;
    assert!(query_param(ok.app_url(), "code").is_some());
    server.stop().await;
}

async fn sessions_are_new_on_every_sign_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("kim").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let mut cookies = Vec::new();
    for _ in 0..2 {
        let (url, ..) = authorize_url(&server, &client, &[("prompt", "login")]);
        let res = http.get(&url).send().await.unwrap();
        let signin = format!(
            "{}{}",
            server.issuer(),
            res.headers()["location"].to_str().unwrap()
        );
        let body = http
            .get(&signin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden(&body, "csrf").unwrap();
        let res = http
            .post(&signin)
            .header("origin", server.issuer())
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "kim"),
                ("password", crate::common::PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("postern_session="))
            .expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(
            !cookie.contains("Secure"),
            "plain http issuer: no Secure flag"
        );
        cookies.push(cookie);
    }
    assert_ne!(cookies[0], cookies[1], "a new session id on every sign-in");
    server.stop().await;
}

async fn authorize_errors_never_redirect_to_unknown_places(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cases = [
        (
            "/authorize?client_id=nope&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code&scope=openid"
                .to_owned(),
            "700016",
        ),
        (
            format!(
                "/authorize?client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code&scope=openid",
                client.id
            ),
            "50011",
        ),
        (
            format!(
                "/authorize?client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback%2F&response_type=code&scope=openid",
                client.id
            ),
            "50011",
        ),
        (
            format!("/authorize?client_id={}&client_id=again", client.id),
            "90100",
        ),
    ];
    for (path, code) in cases {
        let res = http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert!(
            res.headers().get("location").is_none(),
            "no redirect for {path}"
        );
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        assert_eq!(error_code(&body).as_deref(), Some(code), "{path}");
        assert_eq!(field(&body, "request-id"), request_id);
        let entry = server.store().find_signin(&request_id).await.unwrap();
        if code != "90100" {
            assert_eq!(
                entry
                    .expect("logged")
                    .error_code
                    .map(|c| c.code().to_string())
                    .as_deref(),
                Some(code)
            );
        }
    }
    let explain = http
        .get(server.url("/error?code=50011"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(explain.contains("What an administrator can do"));
    server.stop().await;
}

crate::on_both_backends!(
    wrong_password_and_unknown_user,
    smart_lockout,
    parallel_guesses_do_not_beat_the_lockout,
    a_flow_completes_once,
    browsers_without_cookies_get_an_explanation_not_a_loop,
    disabled_accounts,
    stale_browser_state_restarts,
    forms_refuse_cross_site_posts,
    sessions_are_new_on_every_sign_in,
    authorize_errors_never_redirect_to_unknown_places,
);

#[tokio::test]
async fn sign_in_is_throttled_per_address() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.limits.signin_per_minute = 3).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let mut page = browser.open(&url).await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        page = browser
            .submit_password(page.body(), "x", "wrong password")
            .await;
        codes.push(error_code(page.body()));
        if codes.last().unwrap().as_deref() == Some("990002") {
            break;
        }
    }
    assert_eq!(
        codes.last().unwrap().as_deref(),
        Some("990002"),
        "{codes:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn sign_in_page_is_accessible_without_javascript() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let page = Browser::new(&server)
        .open(&authorize_url(&server, &client, &[]).0)
        .await;
    let body = page.body();
    assert!(body.contains("<label for=\"username\">Username</label>"));
    assert!(body.contains("<label for=\"password\">Password</label>"));
    assert!(body.contains("<button type=\"submit\">Sign in</button>"));
    assert!(
        body.contains("method=\"post\""),
        "a plain form post, no script needed"
    );
    assert!(
        !body.contains("http://cdn") && !body.contains("https://cdn"),
        "no external assets"
    );
    server.stop().await;
}
