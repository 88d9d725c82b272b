//! The helpdesk pages (`/admin`) through a browser, on SQLite and PostgreSQL: a helpdesk agent
//! signs in with a second factor, pastes the request id from a student's error page, reads the
//! cause and fixes it (unlock, temporary access pass, re-registration after a confirmation);
//! every change is in the audit log with the sign-in it fixed. Readers see no buttons and their
//! forged posts change nothing; accounts without a role, sessions without a proven second factor
//! and cross-site posts are refused.

use crate::common::*;
use postern_core::admin::Role;
use postern_core::client::{Client, ClientKind};
use postern_core::clock::Clock;
use postern_core::oidc::jws::SigningAlg;
use postern_store::AuditQuery;
use time::Duration;

/// Grants (or takes away) a role, as `postern admin user grant` does.
async fn grant(server: &TestServer, username: &str, role: Option<Role>) {
    let user = server
        .store()
        .find_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    server
        .store()
        .set_user_role(&user.id, role, server.clock.now())
        .await
        .unwrap();
}

/// A person with an authenticator app and `role`, signed in to `/admin` with the app's code.
async fn desk(server: &TestServer, name: &str, role: Role) -> Browser {
    let app = user_with_app(server, name).await;
    grant(server, name, Some(role)).await;
    let browser = Browser::new(server);
    // No session yet: /admin sends the browser to sign in.
    let landing = browser.open(&server.url("/admin")).await;
    let (url, body) = landing.page();
    assert!(url.contains("/signin/"), "expected the sign-in page: {url}");
    let prompt = browser.submit_password(body, name, PASSWORD).await;
    assert!(
        prompt.body().contains("name=\"method\""),
        "{}",
        prompt.body()
    );
    let code = app.code(server, Duration::ZERO);
    // Signed in, the browser comes back to /admin.
    let home = browser.submit_code(prompt.body(), &code, false).await;
    assert!(home.page().0.ends_with("/admin"), "{}", home.page().0);
    let body = home.body();
    assert!(
        body.contains("<label for=\"q\">Request id, correlation id or username</label>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("Signed in as {name} ({role})")),
        "{body}"
    );
    browser
}

/// The request id an error page shows.
fn shown_request_id(body: &str) -> String {
    let key = "data-field=\"request-id\">";
    let start = body.find(key).expect("an error page with a request id") + key.len();
    body[start..].split('<').next().unwrap().to_owned()
}

/// A form of `body` whose submit button says `label`: its action and hidden fields.
fn form_with_button(body: &str, label: &str) -> (String, Vec<(String, String)>) {
    let button = format!(">{label}</button>");
    let form = body
        .split("<form")
        .skip(1)
        .map(|f| f.split("</form>").next().unwrap())
        .find(|f| f.contains(&button))
        .unwrap_or_else(|| panic!("no form with the button '{label}': {body}"));
    let action = unescape(&attr(form, "action").unwrap());
    let hidden = form
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|i| {
            (
                unescape(&attr(i, "name").unwrap()),
                unescape(&attr(i, "value").unwrap()),
            )
        })
        .collect();
    (action, hidden)
}

/// Posts a form of `body` as the browser would (same origin), with `extra` fields.
async fn press(
    server: &TestServer,
    browser: &Browser,
    body: &str,
    label: &str,
    extra: &[(&str, &str)],
) -> Landing {
    let (action, hidden) = form_with_button(body, label);
    let mut fields: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend_from_slice(extra);
    browser.submit(&server.url(&action), &fields).await
}

/// Posts a form with chosen browser headers (for forged and cross-site posts).
async fn post_raw(
    server: &TestServer,
    browser: &Browser,
    action: &str,
    fields: &[(String, String)],
    origin: &str,
    site: &str,
) -> reqwest::Response {
    browser
        .http
        .post(server.url(action))
        .header("origin", origin)
        .header("sec-fetch-site", site)
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Enters five wrong codes for `username`: the second step locks (990008). Returns the request
/// id the locked page shows.
async fn lock_second_step(
    server: &TestServer,
    client: &Client,
    username: &str,
    app: &AuthenticatorApp,
) -> String {
    let browser = Browser::new(server);
    let (mut body, _) = prompt_for(server, &browser, client, username, &[]).await;
    let right: u32 = app.code(server, Duration::ZERO).parse().unwrap();
    for i in 0..5 {
        let wrong = format!("{:06}", (right + 1 + i) % 1_000_000);
        body = browser
            .submit_code(&body, &wrong, false)
            .await
            .body()
            .to_owned();
    }
    assert_eq!(shown_code(&body).as_deref(), Some("990008"), "{body}");
    shown_request_id(&body)
}

async fn audit_count(server: &TestServer) -> usize {
    server
        .store()
        .query_audit(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .len()
}

async fn method_count(server: &TestServer, username: &str) -> usize {
    let user = server
        .store()
        .find_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    server.store().list_methods(&user.id).await.unwrap().len()
}

async fn second_step_locked(server: &TestServer, username: &str) -> bool {
    let user = server
        .store()
        .find_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    postern_server::admin::users::view(&server.server.state, &user)
        .await
        .unwrap()
        .second_factor_locked_until
        .is_some()
}

async fn paste_an_id_see_the_cause_and_unlock(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let helpdesk = desk(&server, "hd", Role::Helpdesk).await;
    let app = user_with_app(&server, "stu").await;

    // A wrong password (50126): its request id leads to the diagnosis.
    let student = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let refused = student.sign_in(&url, "stu", "not the password").await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("50126"));
    let rid = shown_request_id(refused.body());
    let found = helpdesk
        .open(&server.url(&format!("/admin/search?q=%20{rid}%20")))
        .await;
    let (page_url, body) = found.page();
    let correlation_id = last_signin(&server, "stu").await.correlation_id;
    assert!(
        page_url.ends_with(&format!("/admin/signins/{correlation_id}")),
        "{page_url}"
    );
    let text = unescape(body);
    assert!(text.contains("data-cause=\"wrong_password\""), "{text}");
    assert!(text.contains("Wrong password for 'stu'"), "{text}");
    assert!(text.contains("50126"));
    assert!(text.contains("<th scope=\"col\">Method</th>"), "a timeline");
    assert!(!text.contains(">Unlock</button>"), "nothing to unlock yet");

    // Five wrong codes lock the second step (990008).
    let rid = lock_second_step(&server, &client, "stu", &app).await;
    let home = helpdesk.open(&server.url("/admin")).await;
    let correlation_id = last_signin(&server, "stu").await.correlation_id;
    assert!(
        links(home.body()).contains(&format!("/admin/signins/{correlation_id}")),
        "the home page lists the latest failures: {}",
        home.body()
    );
    let diagnosis = helpdesk
        .open(&server.url(&format!("/admin/search?q={rid}")))
        .await;
    let body = diagnosis.body().to_owned();
    let text = unescape(&body);
    assert!(
        text.contains(
            "Too many failed attempts (wrong codes or refused passkeys) locked the second step"
        ),
        "{text}"
    );
    assert!(text.contains("990008"));
    assert!(text.contains("Phone"), "the user's methods now");
    assert!(second_step_locked(&server, "stu").await);

    // One click: unlocked, back on the diagnosis with a notice.
    let unlocked = press(&server, &helpdesk, &body, "Unlock", &[]).await;
    let (url, body) = unlocked.page();
    assert!(
        url.ends_with(&format!("/admin/signins/{correlation_id}?notice=unlocked")),
        "{url}"
    );
    assert!(body.contains("Unlocked."), "{body}");
    assert!(!second_step_locked(&server, "stu").await);
    let again = Browser::new(&server);
    let (body, _) = prompt_for(&server, &again, &client, "stu", &[]).await;
    again
        .submit_code(&body, &app.code(&server, Duration::ZERO), false)
        .await
        .app_url();

    // The audit log has it, with the sign-in it fixed.
    let audit = helpdesk.open(&server.url("/admin/audit")).await;
    let body = audit.body();
    assert!(body.contains("data-action=\"user.unlock\""), "{body}");
    assert!(
        body.contains(&format!("data-correlation-id=\"{correlation_id}\"")),
        "{body}"
    );
    assert!(unescape(body).contains("user 'hd'"));
    let filtered = helpdesk
        .open(&server.url("/admin/audit?target=stu&action=user.unlock"))
        .await;
    assert!(filtered.body().contains("data-action=\"user.unlock\""));
    let none = helpdesk
        .open(&server.url("/admin/audit?action=user.require_reregister"))
        .await;
    assert!(none.body().contains("No entries"));

    // A username finds the account; anything else finds nothing.
    let user = helpdesk.open(&server.url("/admin/search?q=stu")).await;
    assert!(user.page().0.contains("/admin/users/"), "{}", user.page().0);
    assert!(user.body().contains("<h1>stu</h1>"));
    let nothing = helpdesk.open(&server.url("/admin/search?q=st")).await;
    let text = unescape(nothing.body());
    assert!(text.contains("Nothing found for “st”"), "{text}");
    assert!(text.contains(">stu</a>"), "accounts that contain it");
    server.stop().await;
}

/// Signs `username` in to `client` with a temporary access pass; returns where it lands.
async fn sign_in_with_pass(
    server: &TestServer,
    client: &Client,
    username: &str,
    pass: &str,
) -> Landing {
    let student = Browser::new(server);
    let (url, _, _, _) = authorize_url(server, client, &[]);
    let password_page = student.open(&url).await;
    let link = links(password_page.body())
        .into_iter()
        .find(|l| l.ends_with("/access-pass"))
        .expect("the sign-in page offers the pass");
    let form_page = student.open(&server.url(&link)).await;
    let form = SignInForm::of(server, form_page.body());
    student
        .submit(
            &form.action,
            &[
                ("csrf", &form.csrf),
                ("username", username),
                ("access_pass", pass),
            ],
        )
        .await
}

/// Issues a pass with the form of `body`; returns the pass the page shows once.
async fn issue_pass(
    server: &TestServer,
    browser: &Browser,
    body: &str,
    minutes: &str,
) -> (String, String) {
    assert!(
        body.contains("<label for=\"lifetime\">Lifetime</label>"),
        "{body}"
    );
    assert!(body.contains("<option value=\"60\" selected>1 hour</option>"));
    assert!(body.contains("<label for=\"once\">One-time use</label>"));
    let (action, mut fields) = form_with_button(body, "Issue temporary access pass");
    fields.push(("lifetime".into(), minutes.into()));
    fields.push(("once".into(), "yes".into()));
    let res = post_raw(
        server,
        browser,
        &action,
        &fields,
        server.issuer(),
        "same-origin",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let shown = res.text().await.unwrap();
    assert!(
        shown.contains("Give it to the user now; it cannot be shown again."),
        "{shown}"
    );
    assert!(shown.contains("one-time"));
    let pass = shown
        .split("data-access-pass>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(pass.len(), 11, "{pass}");
    (pass, shown)
}

async fn access_pass_is_shown_once_and_lets_the_student_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let helpdesk = desk(&server, "hd", Role::Helpdesk).await;
    server.create_user("lost").await;

    // A 10-minute pass from the account page.
    let page = helpdesk.open(&server.url("/admin/users/lost")).await;
    let (first, _) = issue_pass(&server, &helpdesk, page.body(), "10").await;

    // Afterwards the account shows the pass's state, never the pass.
    let page = helpdesk.open(&server.url("/admin/users/lost")).await;
    let body = page.body();
    assert!(body.contains("data-field=\"pass-state\">usable"), "{body}");
    assert!(!body.contains(&first));
    assert!(
        !body.contains(">Issue temporary access pass</button>"),
        "one usable pass at a time"
    );

    // Too late: the student's error leads to a diagnosis that offers a new pass.
    server.advance(Duration::minutes(11));
    let expired = sign_in_with_pass(&server, &client, "lost", &first).await;
    assert_eq!(shown_code(expired.body()).as_deref(), Some("990011"));
    let rid = shown_request_id(expired.body());
    let diagnosis = helpdesk
        .open(&server.url(&format!("/admin/search?q={rid}")))
        .await;
    let body = diagnosis.body().to_owned();
    assert!(
        body.contains("data-cause=\"access_pass_expired\""),
        "{body}"
    );
    let correlation_id = last_signin(&server, "lost").await.correlation_id;
    let (pass, shown) = issue_pass(&server, &helpdesk, &body, "60").await;
    assert!(
        links(&shown).contains(&format!("/admin/signins/{correlation_id}")),
        "back to the sign-in being fixed: {shown}"
    );

    // The student signs in with it, once.
    let landing = sign_in_with_pass(&server, &client, "lost", &pass).await;
    assert!(
        landing.page().0.contains("/account/security"),
        "{:?}",
        landing
    );
    let page = helpdesk.open(&server.url("/admin/users/lost")).await;
    assert!(page.body().contains("data-field=\"pass-state\">used"));
    let audit = helpdesk
        .open(&server.url("/admin/audit?action=access_pass.create"))
        .await;
    assert!(
        audit
            .body()
            .contains(&format!("data-correlation-id=\"{correlation_id}\"")),
        "{}",
        audit.body()
    );

    // Deleting the pass asks first.
    let asked = press(
        &server,
        &helpdesk,
        page.body(),
        "Delete temporary access pass",
        &[],
    )
    .await;
    assert!(asked.body().contains("The pass stops working at once."));
    let deleted = press(
        &server,
        &helpdesk,
        asked.body(),
        "Yes, delete the pass",
        &[],
    )
    .await;
    assert!(deleted.body().contains("Temporary access pass deleted."));
    assert!(
        deleted
            .body()
            .contains("<h2>Temporary access pass</h2>\n<p>None.</p>")
    );
    server.stop().await;
}

async fn require_reregistration_asks_first(backend: Backend) {
    let server = TestServer::start(backend).await;
    let helpdesk = desk(&server, "hd", Role::Helpdesk).await;
    user_with_app(&server, "re").await;
    let page = helpdesk.open(&server.url("/admin/users/re")).await;
    assert!(page.body().contains("aria-label=\"Remove Phone\""));

    let asked = press(
        &server,
        &helpdesk,
        page.body(),
        "Require re-registration",
        &[],
    )
    .await;
    let body = asked.body().to_owned();
    assert!(body.contains("Require re to register again?"), "{body}");
    assert!(body.contains("This cannot be undone."));
    assert!(body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(method_count(&server, "re").await, 1, "nothing yet");
    assert_eq!(audit_count(&server).await, 0);

    let done = press(
        &server,
        &helpdesk,
        &body,
        "Yes, require re-registration",
        &[],
    )
    .await;
    let (url, body) = done.page();
    assert!(url.contains("?notice=reregister"), "{url}");
    assert!(body.contains("Re-registration required"), "{body}");
    assert!(body.contains("No second sign-in method."));
    assert_eq!(method_count(&server, "re").await, 0);
    assert_eq!(audit_count(&server).await, 1);
    server.stop().await;
}

async fn readers_see_no_buttons_and_forged_posts_change_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let browser = desk(&server, "rd", Role::Helpdesk).await;
    let app = user_with_app(&server, "stu").await;
    lock_second_step(&server, &client, "stu", &app).await;
    let correlation_id = last_signin(&server, "stu").await.correlation_id;

    // While a helpdesk agent, the browser got the forms and their session-bound token.
    let page = browser.open(&server.url("/admin/users/stu")).await;
    let unlock = form_with_button(page.body(), "Unlock");
    let mut reregister = form_with_button(page.body(), "Require re-registration");
    reregister.1.push(("confirm".into(), "yes".into()));

    // A cross-site post is refused, whatever its token.
    for (origin, site) in [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", "same-origin"),
        (server.issuer(), "cross-site"),
    ] {
        let res = post_raw(&server, &browser, &unlock.0, &unlock.1, origin, site).await;
        assert_eq!(res.status(), 403, "{origin} {site}");
        assert!(res.text().await.unwrap().contains("990001"));
    }
    // So is a post without the token.
    let res = post_raw(
        &server,
        &browser,
        &unlock.0,
        &[],
        server.issuer(),
        "same-origin",
    )
    .await;
    assert_eq!(res.status(), 403);

    // Now a reader: the data, no buttons.
    grant(&server, "rd", Some(Role::Reader)).await;
    let page = browser.open(&server.url("/admin/users/stu")).await;
    let body = page.body();
    assert!(body.contains("data-lock=\"second-factor\""), "{body}");
    assert!(body.contains("Phone"));
    assert!(!body.contains("method=\"post\""), "{body}");
    let diagnosis = browser
        .open(&server.url(&format!("/admin/signins/{correlation_id}")))
        .await;
    let body = diagnosis.body();
    assert!(body.contains("Too many failed attempts"), "{body}");
    assert!(!body.contains("method=\"post\""), "{body}");
    assert!(body.contains("Your role can read but not change accounts"));

    // Forged posts with a valid token: 403, nothing changed.
    for (action, fields) in [&unlock, &reregister] {
        let res = post_raw(
            &server,
            &browser,
            action,
            fields,
            server.issuer(),
            "same-origin",
        )
        .await;
        assert_eq!(res.status(), 403, "{action}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("needs the helpdesk permission"),
            "{action}"
        );
    }
    assert!(second_step_locked(&server, "stu").await);
    assert_eq!(method_count(&server, "stu").await, 1);
    assert_eq!(audit_count(&server).await, 0);
    server.stop().await;
}

async fn no_role_or_no_second_factor_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;

    // No session: off to sign in.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anonymous
        .get(server.url("/admin/users/anyone"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account/signin?next=admin");

    // A signed-in account without a role: 403, even with a second factor.
    let app = user_with_app(&server, "plain").await;
    let browser = Browser::new(&server);
    let landing = browser.open(&server.url("/admin")).await;
    let prompt = browser
        .submit_password(landing.body(), "plain", PASSWORD)
        .await;
    browser
        .submit_code(prompt.body(), &app.code(&server, Duration::ZERO), false)
        .await;
    for path in ["/admin", "/admin/audit", "/admin/users/plain"] {
        let refused = browser.open(&server.url(path)).await;
        let Landing::Page { status, body, .. } = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!(*status, 403, "{path}");
        assert!(body.contains("Not for this account"), "{body}");
    }

    // A role holder whose sign-in proved no second factor (password only): 403, sign in again.
    server.create_user("weak").await;
    grant(&server, "weak", Some(Role::Admin)).await;
    let browser = Browser::new(&server);
    let landing = browser.open(&server.url("/admin")).await;
    let signed_in = browser
        .submit_password(landing.body(), "weak", PASSWORD)
        .await;
    // Back at /admin after the sign-in, which proved no second factor: refused.
    let refused = signed_in;
    let Landing::Page { status, body, .. } = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(*status, 403);
    assert!(body.contains("Sign in with a second factor"), "{body}");
    assert!(links(body).contains(&"/account/signin?fresh=1&next=admin".to_owned()));
    assert!(!body.contains("Request id, correlation id or username"));
    let res = post_raw(
        &server,
        &browser,
        "/admin/users/weak/unlock",
        &[],
        server.issuer(),
        "same-origin",
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(audit_count(&server).await, 0);
    server.stop().await;
}

/// A user with a Postern Authenticator ("Pixel 7").
async fn device_user(server: &TestServer, name: &str) {
    server.create_user(name).await;
    let setup = Browser::new(server);
    setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    setup.add_push_device(server, "Pixel 7").await;
    server.advance(STEP);
}

async fn a_lost_phone_is_fixed_from_the_diagnosis(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;

    // The push goes to a phone that has not connected for three days; it times out (500121).
    device_user(&server, "cy").await;
    server.advance(Duration::days(3));
    let student = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let waiting = student.sign_in(&url, "cy", PASSWORD).await;
    assert!(waiting.body().contains("Approve sign-in request"));
    server.advance(Duration::seconds(61));
    let again = links(waiting.body())
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    let failed = student.open(&server.url(&again)).await;
    assert_eq!(shown_code(failed.body()).as_deref(), Some("500121"));
    let rid = shown_request_id(failed.body());

    let helpdesk = desk(&server, "hd", Role::Helpdesk).await;
    let diagnosis = helpdesk
        .open(&server.url(&format!("/admin/search?q={rid}")))
        .await;
    let body = diagnosis.body().to_owned();
    let text = unescape(&body);
    assert!(text.contains("data-cause=\"push_not_delivered\""), "{text}");
    assert!(
        text.contains("not delivered: 'Pixel 7' has not connected since"),
        "{text}"
    );
    assert!(text.contains("<th scope=\"col\">Received</th>"), "{text}");
    assert!(text.contains("<td>Pixel 7</td>"), "the push request's row");
    assert!(text.contains("not answered"));
    assert!(text.contains("'Pixel 7' has not connected for 3 days"));
    assert!(
        text.contains("<label for=\"lifetime\">Lifetime</label>"),
        "the pass fix comes with its form"
    );
    let correlation_id = last_signin(&server, "cy").await.correlation_id;

    // Re-registration from the fix: asked first, then done, back on the diagnosis.
    let asked = press(&server, &helpdesk, &body, "Require re-registration", &[]).await;
    assert!(asked.body().contains("Require cy to register again?"));
    assert_eq!(
        method_count(&server, "cy").await,
        2,
        "the device and its codes"
    );
    let done = press(
        &server,
        &helpdesk,
        asked.body(),
        "Yes, require re-registration",
        &[],
    )
    .await;
    let (url, body) = done.page();
    assert!(
        url.ends_with(&format!(
            "/admin/signins/{correlation_id}?notice=reregister"
        )),
        "{url}"
    );
    assert!(body.contains("Re-registration required"), "{body}");
    assert!(body.contains("No second sign-in method."));
    assert_eq!(method_count(&server, "cy").await, 0);
    let audit = helpdesk.open(&server.url("/admin/audit?target=cy")).await;
    assert!(
        audit
            .body()
            .contains("data-action=\"user.require_reregister\"")
    );
    assert!(
        audit
            .body()
            .contains(&format!("data-correlation-id=\"{correlation_id}\""))
    );
    server.stop().await;
}

crate::on_both_backends!(
    paste_an_id_see_the_cause_and_unlock,
    access_pass_is_shown_once_and_lets_the_student_in,
    require_reregistration_asks_first,
    readers_see_no_buttons_and_forged_posts_change_nothing,
    no_role_or_no_second_factor_is_refused,
    a_lost_phone_is_fixed_from_the_diagnosis,
);
