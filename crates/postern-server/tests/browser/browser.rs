//! A real browser (headless Chromium from Debian's packages) signs the demo student into the demo
//! learning hub under the demo's own policy (a second factor is required, so the student first
//! sets up an authenticator app from the QR page); the hub verifies the ID token over HTTP and
//! shows its claims; then signs out. Other users add an authenticator app and recovery codes on
//! Security info and sign in to an app with each. Codes come from an independent TOTP
//! implementation fed the `otpauth://` URI the page carries; the clock moves instead of sleeping.

use crate::common::webdriver::Driver;
use crate::common::{AuthenticatorApp, Backend, PASSWORD, TestDevice, TestServer, authorize_url};
use postern_core::client::{Client, ClientKind};
use postern_core::oidc::jws::SigningAlg;
use postern_core::policy::MfaPolicy;

/// One TOTP time step: a code's step is used up once accepted.
const STEP: time::Duration = time::Duration::seconds(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_student_signs_in_to_the_learning_hub() {
    // `postern serve --demo` runs with the default policy: a second factor is required.
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.policy.mfa = MfaPolicy::Required;
    })
    .await;
    let hub = postern_server::demo::start(server.issuer(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let seeded = postern_server::demo::seed(&server.server.state, &hub.url)
        .await
        .unwrap();
    // Seeding twice changes nothing.
    postern_server::demo::seed(&server.server.state, &hub.url)
        .await
        .unwrap();

    let browser = Driver::start().await;
    browser.goto(&hub.url).await;
    let sign_in = browser
        .find("//a[normalize-space()='Sign in with Postern']")
        .await;
    browser.click(&sign_in).await;
    browser.wait_for_text("to continue to Learning Hub").await;
    let username = browser.field_labelled("Username").await;
    browser.type_into(&username, &seeded.username).await;
    let password = browser.field_labelled("Password").await;
    browser.type_into(&password, "wrong password").await;
    browser
        .click(&browser.find("//button[normalize-space()='Sign in']").await)
        .await;
    browser
        .wait_for_text("Your username or password is incorrect")
        .await;
    browser.wait_for_text("Error Code").await;

    let password = browser.field_labelled("Password").await;
    browser.type_into(&password, &seeded.password).await;
    browser
        .click(&browser.find("//button[normalize-space()='Sign in']").await)
        .await;

    // The student has no second factor yet: forced registration (50079) before the hub.
    browser
        .wait_for_text("Set up a second sign-in method")
        .await;
    browser
        .find("//figure[contains(@class,'qr')]/*[local-name()='svg']")
        .await;
    browser.wait_for_text("Secret key").await;
    let app = scan_setup_link(&browser).await;
    browser
        .type_into(
            &browser.field_labelled("Code").await,
            &app.code(&server, time::Duration::ZERO),
        )
        .await;
    browser.click(&browser.button("Verify").await).await;

    browser.wait_for_text("Welcome, Demo Student").await;
    assert!(browser.current_url().await.starts_with(&hub.url));
    let username_claim = browser.find("//td[@data-claim='preferred_username']").await;
    assert_eq!(browser.text(&username_claim).await, "student");
    let amr = browser.find("//td[@data-claim='amr']").await;
    assert_eq!(browser.text(&amr).await, "[\"pwd\",\"otp\",\"mfa\"]");
    browser
        .screenshot(&std::env::temp_dir().join("postern-demo-signed-in.png"))
        .await;

    browser
        .click(&browser.find("//a[normalize-space()='Sign out']").await)
        .await;
    browser.wait_for_text("Sign in with Postern").await;
    assert!(
        browser.current_url().await.starts_with(&hub.url),
        "back at the hub after signing out"
    );

    browser.quit().await;
    hub.stop();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_never_seeds_a_real_installation() {
    let server = TestServer::start(Backend::Sqlite).await;
    server.create_user("real-person").await;
    let err = postern_server::demo::seed(&server.server.state, "http://127.0.0.1:9")
        .await
        .unwrap_err();
    assert!(err.contains("refuses"), "{err}");
    assert!(
        server
            .store()
            .find_user_by_username("student")
            .await
            .unwrap()
            .is_none()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_database_that_gained_real_users_is_not_seeded_again() {
    let server = TestServer::start(Backend::Sqlite).await;
    postern_server::demo::seed(&server.server.state, "http://127.0.0.1:9")
        .await
        .unwrap();
    postern_server::demo::seed(&server.server.state, "http://127.0.0.1:9")
        .await
        .unwrap();
    server.create_user("real-person").await;
    let err = postern_server::demo::seed(&server.server.state, "http://127.0.0.1:9")
        .await
        .unwrap_err();
    assert!(err.contains("refuses"), "{err}");
    server.stop().await;
}

/// Scans the setup link of an authenticator-app setup page, as a phone app would scan its QR code.
async fn scan_setup_link(browser: &Driver) -> AuthenticatorApp {
    let link = browser.find("//a[@data-otpauth-uri]").await;
    let uri = browser
        .attribute(&link, "data-otpauth-uri")
        .await
        .expect("the setup link carries its otpauth URI");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    AuthenticatorApp::scan(&uri)
}

/// Fills the sign-in page's username and password and presses "Sign in".
async fn enter_password(browser: &Driver, username: &str) {
    browser
        .type_into(&browser.field_labelled("Username").await, username)
        .await;
    browser
        .type_into(&browser.field_labelled("Password").await, PASSWORD)
        .await;
    browser.click(&browser.button("Sign in").await).await;
}

/// Opens `url` in a fresh browser session: Postern's cookies are forgotten first.
async fn open_fresh(browser: &Driver, server: &TestServer, url: &str) {
    browser.goto(&server.url("/healthz")).await;
    browser.delete_cookies().await;
    browser.goto(url).await;
}

/// Signs `username` in to Security info (password only, under `when_registered`), adds an
/// authenticator app called "Phone" from its QR page and creates recovery codes, reading them as
/// the user would; returns the app (its enrollment step already used) and the codes.
async fn add_app_and_recovery_codes(
    browser: &Driver,
    server: &TestServer,
    username: &str,
) -> (AuthenticatorApp, Vec<String>) {
    browser.goto(&server.url("/account/signin")).await;
    enter_password(browser, username).await;
    browser.wait_for_text("Security info").await;
    browser.wait_for_text("No second sign-in method yet.").await;

    browser
        .click(&browser.link("Add authenticator app").await)
        .await;
    browser.wait_for_text("Add an authenticator app").await;
    browser
        .find("//figure[contains(@class,'qr')]/*[local-name()='svg']")
        .await;
    browser.wait_for_text("Secret key").await;
    let app = scan_setup_link(browser).await;
    let name = browser.field_labelled("Name for this app").await;
    browser.clear(&name).await;
    browser.type_into(&name, "Phone").await;
    browser
        .type_into(
            &browser.field_labelled("Code").await,
            &app.code(server, time::Duration::ZERO),
        )
        .await;
    browser.click(&browser.button("Verify").await).await;
    browser.wait_for_text("Authenticator app added").await;
    browser.wait_for_text("Phone").await;

    browser
        .click(&browser.button("Create recovery codes").await)
        .await;
    browser.wait_for_text("Your recovery codes").await;
    let mut codes = Vec::new();
    for code in browser.find_all("//code[@data-recovery-code]").await {
        codes.push(browser.text(&code).await);
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(codes.iter().all(|c| !c.is_empty()), "{codes:?}");
    let download = browser.link("Download as a text file").await;
    let href = browser.attribute(&download, "href").await.unwrap();
    assert!(href.starts_with("data:text/plain"), "{href}");
    assert!(href.contains(&codes[0]), "the file holds the codes: {href}");

    browser
        .click(
            &browser
                .link("I've saved them — back to Security info")
                .await,
        )
        .await;
    browser.wait_for_text("10 of 10 codes left").await;
    // The enrollment code's time step is used up; sign-ins use the next codes.
    server.advance(STEP);
    (app, codes)
}

/// A server (policy `when_registered`), a public client and a user called `username`.
async fn server_with_client(username: &str) -> (TestServer, Client) {
    let server = TestServer::start(Backend::Sqlite).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user(username).await;
    (server, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_adds_an_authenticator_app_and_signs_in_with_its_code() {
    let (server, client) = server_with_client("ada").await;
    let browser = Driver::start().await;
    let (app, _) = add_app_and_recovery_codes(&browser, &server, "ada").await;

    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    open_fresh(&browser, &server, &url).await;
    browser
        .wait_for_text(&format!("to continue to {}", client.name))
        .await;
    enter_password(&browser, "ada").await;
    browser.wait_for_text("Enter code").await;
    browser
        .wait_for_text("Enter the 6-digit code shown in your authenticator app ('Phone').")
        .await;
    browser
        .type_into(
            &browser.field_labelled("Code").await,
            &app.code(&server, time::Duration::ZERO),
        )
        .await;
    browser.click(&browser.button("Verify").await).await;

    // Nothing listens at the client's redirect URI: the address bar shows where it was sent.
    let landed = browser.wait_for_url(&client.redirect_uris[0]).await;
    assert!(landed.contains("code="), "{landed}");

    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_in_with_a_recovery_code_and_continues_to_the_app() {
    let (server, client) = server_with_client("grace").await;
    let browser = Driver::start().await;
    let (_, codes) = add_app_and_recovery_codes(&browser, &server, "grace").await;

    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    open_fresh(&browser, &server, &url).await;
    enter_password(&browser, "grace").await;
    browser.wait_for_text("Enter code").await;
    browser
        .click(&browser.link("Sign in another way").await)
        .await;
    browser
        .wait_for_text("Use a code from my authenticator app ('Phone')")
        .await;
    browser
        .click(&browser.link("Use a recovery code").await)
        .await;
    browser.wait_for_text("Enter a recovery code").await;
    browser
        .type_into(&browser.field_labelled("Code").await, &codes[3])
        .await;
    browser.click(&browser.button("Verify").await).await;

    browser
        .wait_for_text("You signed in with a recovery code")
        .await;
    assert!(
        browser
            .current_url()
            .await
            .starts_with(&server.url("/account/security")),
        "on Security info"
    );
    browser.wait_for_text("9 of 10 codes left").await;
    browser
        .click(&browser.link(&format!("Continue to {}", client.name)).await)
        .await;
    let landed = browser.wait_for_url(&client.redirect_uris[0]).await;
    assert!(landed.contains("code="), "{landed}");

    browser.quit().await;
    server.stop().await;
}

/// A user with a Postern Authenticator (contract-built), added through Security info.
async fn user_with_push_device(server: &TestServer, name: &str) -> (TestDevice, AuthenticatorApp) {
    server.create_user(name).await;
    let setup = crate::common::Browser::new(server);
    setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let device = setup.add_push_device(server, "Pixel 7").await;
    server.advance(time::Duration::seconds(30));
    device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_page_moves_on_by_itself_and_a_timeout_offers_the_code() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, app) = user_with_push_device(&server, "pia").await;
    let browser = Driver::start().await;

    // Approved in the app: the waiting page follows by itself (server-sent events) to the app.
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    open_fresh(&browser, &server, &url).await;
    enter_password(&browser, "pia").await;
    browser
        .wait_for_text("Enter this number in your Postern Authenticator")
        .await;
    let shown = browser.find("//*[@data-match-number]").await;
    let number: u32 = browser.text(&shown).await.trim().parse().unwrap();
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.wait_for_text("Delivered to 'Pixel 7'").await;
    device.answer(&server, &id, true, Some(number), false).await;
    let landed = browser.wait_for_url("http://127.0.0.1:9/callback").await;
    assert!(landed.contains("code="), "{landed}");

    // Not answered in time: the page turns into 500121 with the cause, and the app's 6-digit
    // code finishes the sign-in without the password again.
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    open_fresh(&browser, &server, &url).await;
    enter_password(&browser, "pia").await;
    browser
        .wait_for_text("Enter this number in your Postern Authenticator")
        .await;
    server.advance(time::Duration::seconds(61));
    browser.wait_for_text("The request wasn't approved").await;
    browser.wait_for_text("500121").await;
    browser.wait_for_text("not delivered within 60 s").await;
    browser
        .click(
            &browser
                .link("Use a code from my authenticator app ('Pixel 7 (code)')")
                .await,
        )
        .await;
    browser.wait_for_text("Enter code").await;
    browser
        .type_into(
            &browser.field_labelled("Code").await,
            &app.code(&server, time::Duration::ZERO),
        )
        .await;
    browser.click(&browser.button("Verify").await).await;
    let landed = browser.wait_for_url("http://127.0.0.1:9/callback").await;
    assert!(landed.contains("code="), "{landed}");
    browser.quit().await;
    server.stop().await;
}
