//! Signing in with a temporary access pass through the real pages: a user who lost every method
//! gets in, lands on Security info to add one and goes on to the application; one-time, multi-use
//! and expired passes; wrong passes count towards the password lockout; unknown users, disabled
//! accounts, cross-site posts and the sign-in log.

use crate::common::{
    Backend, Browser, Landing, PASSWORD, SignInForm, TestServer, authorize_url, last_signin, links,
    query_param, shown_code, signed_in_claims, steps_text,
};
use postern_core::client::{Client, ClientKind};
use postern_core::clock::Clock;
use postern_core::credential::access_pass::{self, AccessPass, DEFAULT_LIFETIME};
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;
use postern_core::random::{self, OsRandom};
use postern_core::signin_log::{SignInEntry, StepReason};
use time::Duration;

/// Issues a pass to `username` as the helpdesk would; returns the pass to type.
async fn issue_pass(server: &TestServer, username: &str, once: bool, lifetime: Duration) -> String {
    let user = server
        .store()
        .find_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    let (pass, hash) = access_pass::generate(&OsRandom, &server.server.state.mac_key, &user.id);
    let now = server.clock.now();
    let stored = AccessPass {
        id: random::uuid(&OsRandom),
        user_id: user.id,
        hash,
        created: now,
        expires: now + lifetime,
        once,
        used: None,
        uses: 0,
        created_by: "token 'desk-1'".into(),
    };
    server
        .store()
        .create_access_pass(&stored, now)
        .await
        .unwrap();
    pass
}

/// Starts a sign-in to `client` and follows the password page's link to the pass page; returns
/// its body and the PKCE verifier.
async fn pass_page(server: &TestServer, browser: &Browser, client: &Client) -> (String, String) {
    let (url, verifier, _, _) = authorize_url(server, client, &[]);
    let password_page = browser.open(&url).await;
    let link = links(password_page.body())
        .into_iter()
        .find(|l| l.ends_with("/access-pass"))
        .expect("the password page links to the pass page");
    let page = browser.open(&server.url(&link)).await;
    let body = page.body().to_owned();
    assert!(
        body.contains("Temporary Access Pass"),
        "expected the pass page: {body}"
    );
    (body, verifier)
}

/// Fills the pass form found in `body`.
async fn submit_pass(
    server: &TestServer,
    browser: &Browser,
    body: &str,
    username: &str,
    pass: &str,
) -> Landing {
    let form = SignInForm::of(server, body);
    browser
        .submit(
            &form.action,
            &[
                ("csrf", form.csrf.as_str()),
                ("username", username),
                ("access_pass", pass),
            ],
        )
        .await
}

/// The reason key of the last `access_pass` step of an entry.
fn pass_reason(entry: &SignInEntry) -> Option<StepReason> {
    entry
        .steps
        .iter()
        .rev()
        .find(|s| s.method == "access_pass")
        .expect("an access_pass step")
        .reason
}

/// The error block's words (title and what to do), without the ids that differ per request.
fn error_words(body: &str) -> String {
    body[body.find("<section class=\"error\"").unwrap()..body.find("<dl").unwrap()].to_owned()
}

/// A user with no method at all, under `policy.mfa = required`: the one-time pass signs them in
/// to Security info (not the forced registration), they go on to the application with `tap` in
/// `amr`, and add an authenticator app. The pass works once.
async fn one_time_pass_signs_in_to_security_info(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.policy.mfa = MfaPolicy::Required).await;
    server.create_user("tia").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let pass = issue_pass(&server, "tia", true, DEFAULT_LIFETIME).await;

    let browser = Browser::new(&server);
    let (body, verifier) = pass_page(&server, &browser, &client).await;
    for text in [
        "<label for=\"username\">Username</label>",
        "<label for=\"access_pass\">Temporary Access Pass</label>",
        "<button type=\"submit\">Sign in</button>",
        "Sign in with a password instead",
    ] {
        assert!(body.contains(text), "the pass page shows {text}: {body}");
    }
    let back = links(&body)
        .into_iter()
        .find(|l| l.starts_with("/signin/") && !l.contains("/access-pass"))
        .expect("a link back to the password page");
    assert!(
        browser
            .open(&server.url(&back))
            .await
            .body()
            .contains("name=\"password\""),
        "the link back shows the password form"
    );

    // Typed in capitals without the dash: still the pass.
    let typed = pass.replace('-', "").to_uppercase();
    let landing = submit_pass(&server, &browser, &body, "Tia", &typed).await;
    let (url, page) = landing.page();
    assert!(url.contains("/account/security"), "{url}: {page}");
    assert!(
        shown_code(page).is_none(),
        "no 50079 or other error: {page}"
    );
    assert!(
        page.contains(
            "You signed in with a temporary access pass. Add a sign-in method now: the pass stops working when it expires."
        ),
        "{page}"
    );
    assert!(
        page.contains(&format!("Continue to {}", client.name)),
        "{page}"
    );

    let continue_href = links(page)
        .into_iter()
        .find(|h| h.ends_with("/continue"))
        .expect("a Continue link");
    let at_app = browser.open(&server.url(&continue_href)).await;
    let code = query_param(at_app.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["tap", "mfa"]));

    // The session may add a method (the pass proved more than a password).
    browser.add_authenticator(&server).await;
    let security = browser.open(&server.url("/account/security")).await;
    assert!(security.body().contains("data-method=\"totp\""));

    let entry = last_signin(&server, "tia").await;
    let text = steps_text(&entry);
    assert!(
        text.contains("access_pass success temporary access pass accepted (one-time: now used)"),
        "{text}"
    );
    assert!(text.contains("sent to Security info"), "{text}");

    // Once only.
    let again = Browser::new(&server);
    let (body, _) = pass_page(&server, &again, &client).await;
    let refused = submit_pass(&server, &again, &body, "tia", &pass).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990012"));
    assert!(
        refused.body().contains("already used"),
        "{}",
        refused.body()
    );
    assert!(
        refused.body().contains("value=\"tia\""),
        "the username is kept: {}",
        refused.body()
    );
    let entry = last_signin(&server, "tia").await;
    assert_eq!(pass_reason(&entry), Some(StepReason::AccessPassUsed));

    // The pass itself reaches no log, in any form.
    let all = format!("{:?}", server.store().list_signins(50).await.unwrap());
    for form in [pass.clone(), typed, pass.replace('-', "")] {
        assert!(!all.contains(&form), "the pass never reaches the log");
    }
    server.stop().await;
}

/// A multi-use pass signs in again and again until it expires; then it says so.
async fn multi_use_and_expired_passes(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("max").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let pass = issue_pass(&server, "max", false, Duration::hours(1)).await;

    for _ in 0..2 {
        let browser = Browser::new(&server);
        let (body, _) = pass_page(&server, &browser, &client).await;
        let landing = submit_pass(&server, &browser, &body, "max", &pass).await;
        assert!(
            landing.page().0.contains("/account/security"),
            "{}",
            landing.body()
        );
        let text = steps_text(&last_signin(&server, "max").await);
        assert!(
            text.contains("temporary access pass accepted (multi-use, expires "),
            "{text}"
        );
    }

    server.advance(Duration::hours(1));
    let browser = Browser::new(&server);
    let (body, _) = pass_page(&server, &browser, &client).await;
    let refused = submit_pass(&server, &browser, &body, "max", &pass).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990011"));
    assert!(
        refused.body().contains("ask the helpdesk for a new one"),
        "{}",
        refused.body()
    );
    let entry = last_signin(&server, "max").await;
    assert_eq!(pass_reason(&entry), Some(StepReason::AccessPassExpired));
    assert_eq!(entry.error_code.map(|c| c.code()), Some(990011));

    // An expired pass is only told to whoever holds it: a wrong one is just wrong.
    let refused = submit_pass(&server, &browser, refused.body(), "max", "aaaaa-aaaaa").await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990010"));
    server.stop().await;
}

/// Wrong passes and unknown usernames look the same; wrong passes count towards the password
/// lockout, which then refuses even the right pass (and the right password).
async fn wrong_passes_lock_the_account(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("lee").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let pass = issue_pass(&server, "lee", true, DEFAULT_LIFETIME).await;
    let browser = Browser::new(&server);
    let (body, _) = pass_page(&server, &browser, &client).await;

    let wrong = submit_pass(&server, &browser, &body, "lee", "wrong-0").await;
    assert_eq!(shown_code(wrong.body()).as_deref(), Some("990010"));
    let entry = last_signin(&server, "lee").await;
    assert_eq!(pass_reason(&entry), Some(StepReason::AccessPassWrong));
    assert!(
        steps_text(&entry)
            .contains(
                "wrong temporary access pass; 9 more failure(s) lock temporary access passes for this account"
            ),
        "{}",
        steps_text(&entry)
    );

    // An unknown username, in a sign-in of its own (a flow's log entry keeps the first user).
    let other = Browser::new(&server);
    let (other_body, _) = pass_page(&server, &other, &client).await;
    let unknown = submit_pass(&server, &other, &other_body, "nobody", &pass).await;
    assert_eq!(shown_code(unknown.body()).as_deref(), Some("990010"));
    assert_eq!(
        error_words(wrong.body()),
        error_words(unknown.body()),
        "the same words for a wrong pass and an unknown user"
    );
    let entry = last_signin(&server, "nobody").await;
    assert_eq!(pass_reason(&entry), Some(StepReason::UnknownUser));
    assert!(entry.user_id.is_none());

    let mut page = wrong;
    for i in 1..10 {
        page = submit_pass(&server, &browser, page.body(), "lee", &format!("wrong-{i}")).await;
    }
    assert_eq!(
        shown_code(page.body()).as_deref(),
        Some("50053"),
        "the 10th distinct failure locks"
    );
    page = submit_pass(&server, &browser, page.body(), "lee", &pass).await;
    assert_eq!(
        shown_code(page.body()).as_deref(),
        Some("50053"),
        "locked: even the right pass is refused"
    );
    let entry = last_signin(&server, "lee").await;
    assert_eq!(pass_reason(&entry), Some(StepReason::AccountLocked));
    assert!(entry.steps.last().unwrap().detail.contains("not checked"));

    // The passes have their own counter: the password still works.
    let (url, ..) = authorize_url(&server, &client, &[]);
    let password = Browser::new(&server).sign_in(&url, "lee", PASSWORD).await;
    assert!(query_param(password.app_url(), "code").is_some());

    // After the lock, the pass (never spent by the refused attempts) signs in.
    server.advance(Duration::seconds(61));
    let landing = submit_pass(&server, &browser, page.body(), "lee", &pass).await;
    assert!(
        landing.page().0.contains("/account/security"),
        "{}",
        landing.body()
    );

    // And the other way round: someone who locks the password by guessing it does not lock out
    // the helpdesk's rescue.
    server.create_user("mia").await;
    let mias = issue_pass(&server, "mia", true, DEFAULT_LIFETIME).await;
    let guesser = Browser::new(&server);
    let (url, ..) = authorize_url(&server, &client, &[]);
    let mut page = guesser.sign_in(&url, "mia", "guess number 0").await;
    for i in 1..10 {
        page = guesser
            .submit_password(page.body(), "mia", &format!("guess number {i}"))
            .await;
    }
    assert_eq!(shown_code(page.body()).as_deref(), Some("50053"));
    let rescued = Browser::new(&server);
    let (body, _) = pass_page(&server, &rescued, &client).await;
    let landing = submit_pass(&server, &rescued, &body, "mia", &mias).await;
    assert!(
        landing.page().0.contains("/account/security"),
        "{}",
        landing.body()
    );
    server.stop().await;
}

/// A disabled account is refused even with its pass (and told so only with the right pass); a
/// cross-site post is refused and spends nothing.
async fn disabled_accounts_and_cross_site_posts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let dan = server.create_user("dan").await;
    server.create_user("eve").await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let dans = issue_pass(&server, "dan", true, DEFAULT_LIFETIME).await;
    let eves = issue_pass(&server, "eve", true, DEFAULT_LIFETIME).await;
    server
        .store()
        .set_user_disabled(&dan.id, true)
        .await
        .unwrap();

    let browser = Browser::new(&server);
    let (body, _) = pass_page(&server, &browser, &client).await;
    let refused = submit_pass(&server, &browser, &body, "dan", &dans).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("50057"));
    assert_eq!(
        pass_reason(&last_signin(&server, "dan").await),
        Some(StepReason::AccountDisabled)
    );
    let refused = submit_pass(&server, &browser, refused.body(), "dan", "aaaaa-aaaaa").await;
    assert_eq!(
        shown_code(refused.body()).as_deref(),
        Some("990010"),
        "disabled is only revealed with the right pass"
    );

    // Missing fields get a clear error on the same page.
    let empty = submit_pass(&server, &browser, refused.body(), "eve", "").await;
    assert_eq!(shown_code(empty.body()).as_deref(), Some("900144"));
    assert!(empty.body().contains("Temporary Access Pass"));

    // A cross-site post (another site's form, with the right token even) is refused.
    let form = SignInForm::of(&server, empty.body());
    let res = browser
        .http
        .post(&form.action)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf", form.csrf.as_str()),
            ("username", "eve"),
            ("access_pass", eves.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        shown_code(&res.text().await.unwrap()).as_deref(),
        Some("990001")
    );
    // A wrong anti-forgery token too.
    let res = browser
        .http
        .post(&form.action)
        .header("origin", server.issuer())
        .form(&[
            ("csrf", "forged"),
            ("username", "eve"),
            ("access_pass", eves.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Neither spent the pass.
    let landing = submit_pass(&server, &browser, empty.body(), "eve", &eves).await;
    assert!(
        landing.page().0.contains("/account/security"),
        "{}",
        landing.body()
    );
    server.stop().await;
}

/// A push that timed out (the phone is lost): "Use a temporary access pass from the helpdesk"
/// on the 500121 page signs the same user in without the password again; the username is the
/// one who gave the password, whatever is typed, so another user's pass does not work there.
async fn the_second_step_offers_the_pass(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("kim").await;
    let setup = Browser::new(&server);
    setup
        .sign_in(&server.url("/account/signin"), "kim", PASSWORD)
        .await;
    setup.add_push_device(&server, "Lost phone").await;
    server.advance(crate::common::STEP);
    server.create_user("lee").await;
    let lees = issue_pass(&server, "lee", false, DEFAULT_LIFETIME).await;
    let kims = issue_pass(&server, "kim", true, DEFAULT_LIFETIME).await;

    let browser = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let waiting = browser.sign_in(&url, "kim", PASSWORD).await;
    server.advance(Duration::seconds(61));
    let again = links(waiting.body())
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    let failed = browser.open(&server.url(&again)).await;
    assert_eq!(shown_code(failed.body()).as_deref(), Some("500121"));
    let door = links(failed.body())
        .into_iter()
        .find(|l| l.ends_with("/access-pass"))
        .expect("the 500121 page offers the pass");
    let form = browser.open(&server.url(&door)).await;
    let body = form.body().to_owned();
    assert!(body.contains("value=\"kim\" readonly"), "{body}");
    let refused = submit_pass(&server, &browser, &body, "lee", &lees).await;
    assert_eq!(shown_code(refused.body()).as_deref(), Some("990010"));
    let landing = submit_pass(&server, &browser, refused.body(), "lee", &kims).await;
    assert!(
        landing.page().0.contains("/account/security"),
        "{}",
        landing.body()
    );
    assert_eq!(
        pass_reason(&last_signin(&server, "kim").await),
        None,
        "accepted"
    );
    server.stop().await;
}

crate::on_both_backends!(
    the_second_step_offers_the_pass,
    one_time_pass_signs_in_to_security_info,
    multi_use_and_expired_passes,
    wrong_passes_lock_the_account,
    disabled_accounts_and_cross_site_posts,
);
