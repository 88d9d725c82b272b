//! The Postern Authenticator web app in real browsers (Debian's headless Chromium): "the laptop"
//! signs in to an application, "the phone" (a 360-px touch screen with Chrome on Android's user
//! agent) runs the web app Postern serves. The phone registers from the QR code on Security info
//! (decoded from a screenshot, as a camera would), approves by number, denies and reports, finds a
//! request whose wake-up was lost by pulling to refresh, shows the offline code that finishes a
//! sign-in after a timeout (500121), is refused once removed, and is woken by Web Push. Every
//! screen of the phone is kept as a screenshot in `target/screenshots/`. The server's clock moves
//! instead of sleeping; the app follows the server's clock (it learns it from every answer).

use crate::common::cdp::Cdp;
use crate::common::push_service::PushService;
use crate::common::webdriver::Driver;
use crate::common::*;
use postern_core::client::{Client, ClientKind};
use postern_core::oidc::jws::SigningAlg;
use serde_json::{Value, json};
use std::path::PathBuf;
use time::Duration;

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keeps what the phone shows as `web-authenticator-{name}.png`.
async fn shot(phone: &Driver, name: &str) {
    phone
        .screenshot(&screenshots().join(format!("web-authenticator-{name}.png")))
        .await;
}

async fn fill(browser: &Driver, label: &str, text: &str) {
    let field = browser.field_labelled(label).await;
    browser.clear(&field).await;
    browser.type_into(&field, text).await;
}

async fn sign_in(browser: &Driver, url: &str, name: &str) {
    browser.goto(url).await;
    fill(browser, "Username", name).await;
    fill(browser, "Password", PASSWORD).await;
    browser.click(&browser.button("Sign in").await).await;
}

/// The laptop signs `name` in to Security info and opens "Add the Postern Authenticator"; the
/// phone scans the QR code and adds the account. Returns both browsers.
async fn registered_phone(server: &TestServer, name: &str) -> (Driver, Driver) {
    server.create_user(name).await;
    let laptop = Driver::start().await;
    sign_in(&laptop, &server.url("/account/signin"), name).await;
    laptop.wait_for_text("Security info").await;
    laptop
        .click(&laptop.link("Add the Postern Authenticator").await)
        .await;
    laptop.wait_for_text("Scan this QR code").await;
    let qr = laptop.find("//figure[contains(@class, 'qr')]").await;
    let link = crate::common::qr::decode_png(&laptop.element_screenshot(&qr).await).unwrap();
    assert!(
        link.starts_with(&server.url("/authenticator/activate?code=")),
        "{link}"
    );

    let phone = Driver::start_phone().await;
    phone.goto(&link).await;
    phone.wait_for_text("Add your account to this phone").await;
    let name_field = phone.field_labelled("Name of this device").await;
    let suggested = phone
        .execute("return arguments[0].value", vec![element(&name_field)])
        .await;
    assert_eq!(suggested, "Chrome on Android", "named from the user agent");
    phone.click(&phone.button("Add this account").await).await;
    phone
        .wait_for_text(&format!("Added {name} at Postern"))
        .await;
    // The code is out of the address bar (and the history): the link worked once.
    assert_eq!(phone.current_url().await, server.url("/authenticator/"));
    (laptop, phone)
}

fn element(id: &str) -> Value {
    json!({ "element-6066-11e4-a52e-4f735466cecf": id })
}

/// What the phone keeps in IndexedDB about its accounts.
async fn stored_accounts(phone: &Driver) -> Value {
    phone
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('postern-authenticator');
             open.onsuccess = () => {
               const all = open.result.transaction('accounts').objectStore('accounts').getAll();
               all.onsuccess = async () => done(await Promise.all(all.result.map(async (a) => ({
                 id: a.id, alg: a.alg, username: a.username,
                 privateExtractable: a.privateKey.extractable,
                 exported: await crypto.subtle.exportKey('pkcs8', a.privateKey).then(() => 'exported', (e) => e.name),
                 seedIsEncrypted: a.seed.sealed instanceof ArrayBuffer && !('secret' in a),
                 fields: Object.keys(a).sort(),
               }))));
             };",
            vec![],
        )
        .await
}

/// The laptop starts a sign-in to `client` and reaches the push waiting page; returns the number.
async fn laptop_waits(server: &TestServer, laptop: &Driver, client: &Client, name: &str) -> String {
    // A fresh browser for Postern (cookies are per host: be on Postern's to forget them).
    laptop.goto(&server.url("/error")).await;
    laptop.delete_cookies().await;
    let (url, _, _, _) = authorize_url(server, client, &[]);
    sign_in(laptop, &url, name).await;
    laptop
        .wait_for_text("Enter this number in your Postern Authenticator")
        .await;
    let number = laptop.find("//*[@data-match-number]").await;
    laptop.text(&number).await.trim().to_owned()
}

async fn public_client(server: &TestServer) -> Client {
    server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_registers_from_the_qr_code_and_approves_by_number() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = public_client(&server).await;
    let (laptop, phone) = registered_phone(&server, "sam").await;
    shot(&phone, "1-added").await;

    // The device key is WebCrypto's, non-extractable; the code seed is stored encrypted.
    let stored = stored_accounts(&phone).await;
    let account = &stored[0];
    assert_eq!(account["username"], "sam");
    assert_eq!(account["privateExtractable"], false);
    assert_eq!(account["exported"], "InvalidAccessError");
    assert_eq!(account["seedIsEncrypted"], true);
    assert!(["ed25519", "p256"].contains(&account["alg"].as_str().unwrap()));

    // The laptop signs in to the application; the request appears on the phone at once.
    let number = laptop_waits(&server, &laptop, &client, "sam").await;
    phone
        .wait_for_text(&format!("Sign-in request for {}", client.name))
        .await;
    phone.wait_for_text("requested").await;
    let page = phone.source().await;
    assert!(
        !page.contains(&format!(">{number}<")),
        "the app never learns the number"
    );
    shot(&phone, "2-request").await;
    fill(&phone, "Number shown on the sign-in page", &number).await;
    phone.click(&phone.button("Approve").await).await;
    phone.wait_for_text("Approved.").await;
    shot(&phone, "3-approved").await;
    let landed = laptop.wait_for_url("http://127.0.0.1:9/callback").await;
    assert!(landed.contains("code="), "{landed}");

    let text = steps_text(&last_signin(&server, "sam").await);
    for words in [
        "'Chrome on Android' received the request over its open connection",
        "the request was shown on 'Chrome on Android'",
        "approved on 'Chrome on Android' with the matching number",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    laptop.quit().await;
    phone.quit().await;
    server.stop().await;
}

/// The laptop waits for the sign-in to end on 500121 (the waiting page moves on by itself).
async fn laptop_sees_500121(laptop: &Driver) {
    laptop.wait_for_text("500121").await;
    laptop
        .wait_for_text("Other ways to finish signing in")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_report_and_a_lost_wake_up_found_by_pulling_to_refresh() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = public_client(&server).await;
    let (laptop, phone) = registered_phone(&server, "ana").await;

    // Deny: the laptop's sign-in ends on 500121 with the cause.
    laptop_waits(&server, &laptop, &client, "ana").await;
    phone.wait_for_text("Sign-in request for").await;
    phone.click(&phone.button("Deny").await).await;
    phone.wait_for_text("Denied. Nobody was signed in.").await;
    shot(&phone, "4-denied").await;
    laptop_sees_500121(&laptop).await;
    laptop.wait_for_text("denied on 'Chrome on Android'").await;

    // A wake-up that never arrives: the app's event stream hangs silently (as on a flaky
    // network); the request is created meanwhile; the student pulls down and finds it.
    let cdp = Cdp::connect(&phone).await;
    let page = cdp.page_session().await;
    cdp.hold_requests(&page, "*/api/authenticator/v1/events*")
        .await;
    phone.goto(&server.url("/authenticator/")).await;
    phone.wait_for_text("No sign-in request is waiting").await;
    let number = laptop_waits(&server, &laptop, &client, "ana").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !phone.source().await.contains("Sign-in request for"),
        "nothing reached the phone by itself"
    );
    shot(&phone, "5-nothing-arrived").await;
    cdp.swipe_down(&page, 180.0, 200.0, 450.0).await;
    phone.wait_for_text("Sign-in request for").await;
    shot(&phone, "6-found-by-pull-to-refresh").await;
    fill(&phone, "Number shown on the sign-in page", &number).await;
    phone.click(&phone.button("Approve").await).await;
    phone.wait_for_text("Approved.").await;
    laptop.wait_for_url("http://127.0.0.1:9/callback").await;
    let text = steps_text(&last_signin(&server, "ana").await);
    assert!(
        text.contains("'Chrome on Android' fetched the request"),
        "{text}"
    );

    // "I didn't try to sign in": push is blocked and the sign-in is flagged.
    phone.goto(&server.url("/authenticator/")).await;
    phone.wait_for_text("No sign-in request is waiting").await;
    laptop_waits(&server, &laptop, &client, "ana").await;
    cdp.swipe_down(&page, 180.0, 200.0, 450.0).await;
    phone.wait_for_text("Sign-in request for").await;
    phone
        .click(&phone.button("I didn't try to sign in").await)
        .await;
    phone.wait_for_text("Reported.").await;
    shot(&phone, "7-reported").await;
    // The waiting page moves on to the code prompt and says why push is gone.
    laptop
        .wait_for_text("Push requests are turned off for your account")
        .await;
    let text = steps_text(&last_signin(&server, "ana").await);
    assert!(text.contains("reported as fraud"), "{text}");
    laptop.quit().await;
    phone.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_code_finishes_a_sign_in_after_a_timeout() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = public_client(&server).await;
    let (laptop, phone) = registered_phone(&server, "ivo").await;
    laptop_waits(&server, &laptop, &client, "ivo").await;
    phone.wait_for_text("Sign-in request for").await;
    // Nobody answers: a minute later the laptop shows 500121 and the other doors.
    server.advance(Duration::seconds(61));
    laptop_sees_500121(&laptop).await;

    // The phone heard from the server on the way (its clock follows the server's), then goes
    // offline: the code is made on the phone alone.
    phone.click(&phone.button("Refresh").await).await;
    phone
        .wait_for_text("last heard from the server 0 seconds ago")
        .await;
    let cdp = Cdp::connect(&phone).await;
    let page = cdp.page_session().await;
    cdp.set_offline(&page, true).await;
    phone.click(&phone.button("Codes").await).await;
    phone.wait_for_text("New code in").await;
    let code = phone
        .find("//*[@id='codes']//p[contains(@class, 'code')]")
        .await;
    let code = phone.text(&code).await;
    assert!(
        code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );
    shot(&phone, "8-offline-code").await;

    let door = laptop
        .find("//a[starts-with(normalize-space(), 'Use a code from my authenticator app')]")
        .await;
    laptop.click(&door).await;
    fill(&laptop, "Code", &code).await;
    laptop.click(&laptop.button("Verify").await).await;
    let landed = laptop.wait_for_url("http://127.0.0.1:9/callback").await;
    assert!(landed.contains("code="), "{landed}");
    laptop.quit().await;
    phone.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_device_is_refused_and_says_so() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (laptop, phone) = registered_phone(&server, "zoe").await;
    // Changes on Security info need a second factor of this session: sign in again with the
    // phone's approval, then remove the phone.
    laptop.delete_cookies().await;
    sign_in(&laptop, &server.url("/account/signin"), "zoe").await;
    laptop
        .wait_for_text("Enter this number in your Postern Authenticator")
        .await;
    let number = laptop.find("//*[@data-match-number]").await;
    let number = laptop.text(&number).await;
    phone.wait_for_text("Sign-in request for").await;
    fill(&phone, "Number shown on the sign-in page", number.trim()).await;
    phone.click(&phone.button("Approve").await).await;
    laptop.wait_for_text("Security info").await;
    let remove = laptop
        .find("//tr[@data-method='push']//button[normalize-space()='Remove']")
        .await;
    laptop.click(&remove).await;
    laptop.wait_for_text("Method removed.").await;

    // The phone's stream ends at once; its next call is refused and it says why.
    phone.click(&phone.button("Accounts").await).await;
    phone
        .wait_for_text("This phone was removed from zoe's account at Postern. Add it again")
        .await;
    shot(&phone, "9-removed").await;
    assert!(phone.source().await.contains("Forget this account"));
    let device = stored_accounts(&phone).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        server
            .store()
            .find_method_by_id(&device)
            .await
            .unwrap()
            .is_none(),
        "gone on the server"
    );
    laptop.quit().await;
    phone.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_push_wakes_the_phone_with_a_notification() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.web_push.allow_loopback_endpoints = true;
    })
    .await;
    let client = public_client(&server).await;
    let service = PushService::start().await;
    let (laptop, phone) = registered_phone(&server, "max").await;

    // Chromium's own push service is Google's (not reachable here): the app is given a
    // subscription on the local push service, through its own signed request.
    let sub = service.subscription();
    let saved = phone
        .execute_async(
            "const done = arguments[arguments.length - 1];
             import(new URL('app.js', location.href).href)
               .then((app) => app.saveSubscription(arguments[0]))
               .then(() => done('saved'), (e) => done(String(e)));",
            vec![sub.to_json()],
        )
        .await;
    assert_eq!(saved, "saved");
    phone.click(&phone.button("Accounts").await).await;
    shot(&phone, "10-accounts").await;

    laptop_waits(&server, &laptop, &client, "max").await;
    let got = service
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let message = sub.decrypt(&got[0].body).unwrap();
    let data: Value = serde_json::from_slice(&message).unwrap();
    assert_eq!(data["app"], client.name.as_str());

    // The service worker turns the push into a visible notification. (Headless Chromium does
    // not list a notification a worker showed for a DevTools-delivered push, so the test
    // watches the worker's own call, which still goes through to the browser.)
    let cdp = Cdp::connect(&phone).await;
    let page = cdp.page_session().await;
    let origin = server.issuer().to_owned();
    cdp.grant_permissions(&origin, &["notifications"]).await;
    let registration = cdp
        .service_worker_registration(&page, &server.url("/authenticator/"))
        .await;
    let worker = cdp
        .worker_session(&server.url("/authenticator/sw.js"))
        .await;
    cdp.evaluate(
        &worker,
        "self.shown = [];
         const show = self.registration.showNotification.bind(self.registration);
         self.registration.showNotification = (title, options) =>
           show(title, options).then(() => { self.shown.push([title, options.body, Notification.permission]); });
         true",
    )
    .await;
    cdp.deliver_push(
        &page,
        &origin,
        &registration,
        std::str::from_utf8(&message).unwrap(),
    )
    .await;
    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = cdp.evaluate(&worker, "self.shown").await;
        if shown.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        shown,
        json!([[
            format!("Sign-in request for {}", client.name),
            "Open to approve",
            "granted"
        ]])
    );
    // The app, told by its worker, has fetched the request; the log says the wake-up went out.
    phone.click(&phone.button("Requests").await).await;
    phone.wait_for_text("Sign-in request for").await;
    shot(&phone, "11-woken").await;
    let text = steps_text(&last_signin(&server, "max").await);
    assert!(
        text.contains("notification to 'Chrome on Android': push service accepted (201)"),
        "{text}"
    );
    laptop.quit().await;
    phone.quit().await;
    server.stop().await;
}
