//! Push approvals over HTTP on SQLite and PostgreSQL, with a device built from the wire contract:
//! approve with the right number, a wrong number, deny and report, a timeout with its cause, an
//! app that was offline, a server restart while a request is pending, replayed, forged, tampered
//! and stale requests, a removed device, and the fatigue limits.

use crate::common::*;
use postern_core::client::{Client, ClientKind};
use postern_core::clock::Clock;
use postern_core::oidc::jws::SigningAlg;
use time::Duration;

/// A user with a Postern Authenticator (and so push as the default method).
async fn user_with_device(server: &TestServer, name: &str) -> (TestDevice, AuthenticatorApp) {
    server.create_user(name).await;
    let setup = Browser::new(server);
    setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let device = setup.add_push_device(server, "Pixel 7").await;
    server.advance(STEP);
    device
}

/// Signs in up to the push waiting page; returns its body.
async fn waiting(
    server: &TestServer,
    browser: &Browser,
    client: &Client,
    name: &str,
) -> (String, String) {
    let (url, verifier, _, _) = authorize_url(server, client, &[]);
    let landing = browser.sign_in(&url, name, PASSWORD).await;
    let body = landing.body().to_owned();
    assert!(body.contains("Approve sign-in request"), "{body}");
    (body, verifier)
}

/// The waiting page's own address (its "Check again" link).
fn page_url(server: &TestServer, body: &str) -> String {
    let link = links(body)
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    server.url(&link)
}

async fn approve_with_the_right_number(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, _) = user_with_device(&server, "ada").await;
    let browser = Browser::new(&server);
    let (body, verifier) = waiting(&server, &browser, &client, "ada").await;
    let number = match_number(&body);
    assert!((10..=99).contains(&number));
    assert!(body.contains("Enter this number in your Postern Authenticator"));

    // The app fetches it (never the number) and approves with it.
    let pending = device.pending(&server).await;
    assert_eq!(pending.len(), 1);
    let p = &pending[0];
    assert_eq!(p["username"], "ada");
    assert_eq!(p["app"], client.name.as_str());
    assert!(p.get("number").is_none());
    assert!(
        p.as_object()
            .unwrap()
            .values()
            .all(|v| v != &serde_json::json!(number)),
        "the number is only in the browser"
    );
    let again = browser.open(&page_url(&server, &body)).await;
    assert!(
        unescape(again.body()).contains("Delivered to 'Pixel 7'"),
        "{}",
        again.body()
    );
    let (status, res) = device
        .answer(
            &server,
            p["id"].as_str().unwrap(),
            true,
            Some(number),
            false,
        )
        .await;
    assert_eq!((status, res["outcome"].as_str()), (200, Some("approved")));

    let done = browser.open(&page_url(&server, &body)).await;
    let code = query_param(done.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "swk", "mfa"]));
    let text = steps_text(&last_signin(&server, "ada").await);
    for words in [
        "push request",
        "fetched the request",
        "approved on 'Pixel 7'",
        "push approved on 'Pixel 7'",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    // Single use: the same approval again is a replay or already answered.
    let (status, res) = device
        .answer(
            &server,
            p["id"].as_str().unwrap(),
            true,
            Some(number),
            false,
        )
        .await;
    assert_eq!(
        (status, res["outcome"].as_str()),
        (200, Some("already_answered"))
    );
    server.stop().await;
}

async fn wrong_number_deny_and_report(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, app) = user_with_device(&server, "bo").await;

    let browser = Browser::new(&server);
    let (body, _) = waiting(&server, &browser, &client, "bo").await;
    let number = match_number(&body);
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = if number == 99 { 98 } else { number + 1 };
    let (_, res) = device.answer(&server, &id, true, Some(wrong), false).await;
    assert_eq!(res["outcome"], "wrong_number");
    let failed = browser.open(&page_url(&server, &body)).await;
    let page = failed.body();
    assert_eq!(shown_code(page).as_deref(), Some("500121"));
    assert!(
        page.contains("wrong number entered on &#39;Pixel 7&#39;"),
        "{page}"
    );
    assert!(page.contains("Send another request"));
    assert!(page.contains("Use a code from my authenticator app"));

    // Another request from the failure page, denied.
    let retry = browser
        .submit(
            &server.url(&attr(page, "action").unwrap()),
            &[("csrf", &hidden(page, "csrf").unwrap())],
        )
        .await;
    let body = retry.body().to_owned();
    match_number(&body);
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, res) = device.answer(&server, &id, false, None, true).await;
    assert_eq!(res["outcome"], "denied");
    let failed = browser.open(&page_url(&server, &body)).await;
    assert!(
        failed.body().contains("reported as not the user"),
        "{}",
        failed.body()
    );
    let entry = last_signin(&server, "bo").await;
    assert!(steps_text(&entry).contains("reported as fraud"));

    // Reported: push is blocked; the next sign-in asks for the app's code, which still works.
    let next = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let prompt = next.sign_in(&url, "bo", PASSWORD).await;
    assert!(
        prompt.body().contains("Push requests are turned off"),
        "{}",
        prompt.body()
    );
    next.submit_code(prompt.body(), &app.code(&server, Duration::ZERO), false)
        .await
        .app_url();

    // Security info says so, and turns push back on (the session proved the app's code).
    let page = next.open(&server.url("/account/security")).await;
    assert!(
        page.body().contains("Push requests are turned off since"),
        "{}",
        page.body()
    );
    let csrf = hidden(page.body(), "csrf").unwrap();
    let on = next
        .submit(
            &server.url("/account/security/push-unblock"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(on.body().contains("Push requests are turned back on"));
    let again = Browser::new(&server);
    waiting(&server, &again, &client, "bo").await;
    server.stop().await;
}

async fn a_timeout_says_why_and_opens_other_doors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (_device, app) = user_with_device(&server, "cy").await;
    let browser = Browser::new(&server);
    let (body, _) = waiting(&server, &browser, &client, "cy").await;
    assert!(
        unescape(&body).contains("Sent — your device hasn't picked it up yet"),
        "{body}"
    );
    server.advance(Duration::seconds(61));
    let failed = browser.open(&page_url(&server, &body)).await;
    let page = failed.body().to_owned();
    assert_eq!(shown_code(&page).as_deref(), Some("500121"));
    assert!(
        page.contains("not delivered within 60 s: &#39;Pixel 7&#39; has not connected since"),
        "{page}"
    );
    let entry = last_signin(&server, "cy").await;
    assert_eq!(entry.error_code.map(|c| c.code()), Some(500121));
    // The app's code, without retyping the password.
    let code_link = links(&page)
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    let prompt = browser.open(&server.url(&code_link)).await;
    browser
        .submit_code(prompt.body(), &app.code(&server, Duration::ZERO), false)
        .await
        .app_url();
    server.stop().await;
}

async fn an_offline_app_fetches_on_connect_even_after_a_restart(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, _) = user_with_device(&server, "dee").await;
    let browser = Browser::new(&server);
    let (body, _) = waiting(&server, &browser, &client, "dee").await;
    let number = match_number(&body);
    // The server restarts while the request is pending: it lives in the store.
    server.restart().await;
    // Nothing was connected when it was sent; the app comes online and pulls.
    let pending = device.pending(&server).await;
    assert_eq!(pending.len(), 1);
    let id = pending[0]["id"].as_str().unwrap();
    let shown = device
        .request(
            &server,
            reqwest::Method::POST,
            &format!("/api/authenticator/v1/challenges/{id}/shown"),
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 204);
    let again = browser.open(&page_url(&server, &body)).await;
    assert!(
        unescape(again.body()).contains("Opened on 'Pixel 7'"),
        "{}",
        again.body()
    );
    let (_, res) = device.answer(&server, id, true, Some(number), false).await;
    assert_eq!(res["outcome"], "approved");
    browser.open(&page_url(&server, &body)).await.app_url();
    server.stop().await;
}

async fn forged_replayed_tampered_and_stale_requests_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, _) = user_with_device(&server, "eve").await;
    // Another user's device.
    let (other, _) = user_with_device(&server, "mal").await;
    let browser = Browser::new(&server);
    let (body, _) = waiting(&server, &browser, &client, "eve").await;
    let number = match_number(&body);
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/authenticator/v1/challenges/{id}/answer");
    let approve =
        serde_json::to_vec(&serde_json::json!({"decision": "approve", "number": number})).unwrap();

    // Signed by another user's device: not its request.
    let (status, _) = other.answer(&server, &id, true, Some(number), false).await;
    assert_eq!(status, 404);
    // Tampered: signed for one body, sent with another.
    let deny = serde_json::to_vec(&serde_json::json!({"decision": "deny"})).unwrap();
    let signed = device
        .request(&server, reqwest::Method::POST, &path, &deny)
        .build()
        .unwrap();
    let mut tampered = signed.try_clone().unwrap();
    *tampered.body_mut() = Some(approve.clone().into());
    let res = device.http.execute(tampered).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "bad_signature"
    );
    // Too old.
    let old = postern_core::clock::to_millis(server.clock.now() - Duration::seconds(90));
    let res = device
        .request_at(&server, reqwest::Method::POST, &path, &approve, old)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "clock_skew"
    );
    // Replayed: the same signed request twice.
    let first = device
        .request(&server, reqwest::Method::POST, &path, &approve)
        .build()
        .unwrap();
    let copy = first.try_clone().unwrap();
    assert_eq!(device.http.execute(first).await.unwrap().status(), 200);
    let res = device.http.execute(copy).await.unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "replayed"
    );

    // A removed device is no longer registered.
    let user = server
        .store()
        .find_user_by_username("eve")
        .await
        .unwrap()
        .unwrap();
    server
        .store()
        .delete_method(
            &user.id,
            &device.id,
            postern_core::policy::MfaPolicy::WhenRegistered,
        )
        .await
        .unwrap();
    let res = device
        .request(
            &server,
            reqwest::Method::GET,
            "/api/authenticator/v1/device",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "unknown_device"
    );
    server.stop().await;
}

async fn fatigue_limits_push(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (_device, _) = user_with_device(&server, "fay").await;
    // Two ignored pushes in a row: the next sign-in starts with a code.
    for _ in 0..2 {
        let b = Browser::new(&server);
        let (body, _) = waiting(&server, &b, &client, "fay").await;
        server.advance(Duration::seconds(61));
        let failed = b.open(&page_url(&server, &body)).await;
        assert_eq!(shown_code(failed.body()).as_deref(), Some("500121"));
    }
    let b = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let prompt = b.sign_in(&url, "fay", PASSWORD).await;
    assert!(
        prompt.body().contains("we ask for a code"),
        "{}",
        prompt.body()
    );
    // A third push on request, then the limit: 3 per 5 minutes.
    let third = b
        .choose_another_way(&server, prompt.body(), "Approve a request")
        .await;
    assert!(
        third.body().contains("Approve sign-in request"),
        "{}",
        third.body()
    );
    let c = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let prompt = c.sign_in(&url, "fay", PASSWORD).await;
    let fourth = c
        .choose_another_way(&server, prompt.body(), "Approve a request")
        .await;
    assert!(
        fourth
            .body()
            .contains("3 push requests in the last 5 minutes"),
        "{}",
        fourth.body()
    );
    server.stop().await;
}

/// Reads an event stream until `needle` appears (or fails after 10 s).
async fn read_until(res: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("the event arrives in time")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

async fn a_connected_app_is_woken_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, _) = user_with_device(&server, "gil").await;
    let mut stream = device
        .request(
            &server,
            reqwest::Method::GET,
            "/api/authenticator/v1/events",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let browser = Browser::new(&server);
    let (body, _) = waiting(&server, &browser, &client, "gil").await;
    let seen = read_until(&mut stream, "event: challenge").await;
    assert!(seen.contains("\"username\":\"gil\""), "{seen}");
    assert!(!seen.contains("\"number\""), "never the number");
    let again = browser.open(&page_url(&server, &body)).await;
    assert!(
        unescape(again.body()).contains("Delivered to 'Pixel 7'"),
        "{}",
        again.body()
    );
    let text = steps_text(&last_signin(&server, "gil").await);
    assert!(text.contains("woken over its open connection"), "{text}");
    // Answered elsewhere: the app is told to stop showing it.
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    device.answer(&server, &id, false, None, false).await;
    read_until(&mut stream, "event: resolved").await;
    server.stop().await;
}

async fn review_findings_stay_fixed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, app) = user_with_device(&server, "hal").await;

    // A report ends every other request still waiting.
    let (a, b) = (Browser::new(&server), Browser::new(&server));
    waiting(&server, &a, &client, "hal").await;
    waiting(&server, &b, &client, "hal").await;
    let pending = device.pending(&server).await;
    assert_eq!(pending.len(), 2);
    let first = pending[0]["id"].as_str().unwrap().to_owned();
    let second = pending[1]["id"].as_str().unwrap().to_owned();
    device.answer(&server, &first, false, None, true).await;
    assert!(device.pending(&server).await.is_empty());
    let (_, res) = device.answer(&server, &second, true, Some(50), false).await;
    assert_eq!(res["outcome"], "already_answered");

    // Parallel sign-ins cannot send more than the limit (3 per 5 minutes).
    let user = server
        .store()
        .find_user_by_username("hal")
        .await
        .unwrap()
        .unwrap();
    server
        .store()
        .set_push_state(&user.id, &Default::default())
        .await
        .unwrap();
    server.advance(Duration::minutes(6));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let browser = Browser::new(&server);
            let (url, _, _, _) = authorize_url(&server, &client, &[]);
            tokio::spawn(async move {
                browser
                    .sign_in(&url, "hal", PASSWORD)
                    .await
                    .body()
                    .to_owned()
            })
        })
        .collect();
    let mut waiting_pages = 0;
    for t in tasks {
        if t.await.unwrap().contains("data-match-number") {
            waiting_pages += 1;
        }
    }
    assert_eq!(
        waiting_pages, 3,
        "at most 3 pushes in 5 minutes, however parallel"
    );

    // Removing the device removes its codes and ends its connection.
    let mut stream = device
        .request(
            &server,
            reqwest::Method::GET,
            "/api/authenticator/v1/events",
            b"",
        )
        .send()
        .await
        .unwrap();
    // (Pushes are at their limit now: the sign-in asks for the app's code.)
    let setup = Browser::new(&server);
    let prompt = setup
        .sign_in(&server.url("/account/signin"), "hal", PASSWORD)
        .await;
    assert!(prompt.body().contains("Enter code"), "{}", prompt.body());
    setup
        .submit_code(prompt.body(), &app.code(&server, Duration::ZERO), false)
        .await;
    let page = setup.open(&server.url("/account/security")).await;
    let csrf = hidden(page.body(), "csrf").unwrap();
    let removed = setup
        .submit(
            &server.url("/account/security/remove"),
            &[("csrf", &csrf), ("method", &device.id)],
        )
        .await;
    assert!(
        removed.body().contains("Method removed"),
        "{}",
        removed.body()
    );
    assert!(
        server
            .store()
            .list_methods(&user.id)
            .await
            .unwrap()
            .is_empty(),
        "the paired codes went too"
    );
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the removed device's stream ended");

    // An activation link made before "sign out everywhere" is dead after it.
    let page = setup.open(&server.url("/account/security/push")).await;
    let link = unescape(&attr(page.body(), "data-activation-url").unwrap());
    let page = setup.open(&server.url("/account/security")).await;
    let csrf = hidden(page.body(), "csrf").unwrap();
    setup
        .submit(
            &server.url("/account/security/sign-out-everywhere"),
            &[("csrf", &csrf)],
        )
        .await;
    let (base, code) = link.split_once("/authenticator/activate?code=").unwrap();
    let res = reqwest::Client::new()
        .post(format!("{base}/api/authenticator/v1/activate"))
        .json(&serde_json::json!({"code": code, "public_key": data_encoding::BASE64URL_NOPAD.encode(&[7u8; 32]), "device_name": "x", "app_version": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    server.stop().await;
}

/// The order of P-256 (big-endian).
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The other valid form of an ECDSA signature `r || s`: `r || (n - s)`.
fn twin(sig: &[u8]) -> Vec<u8> {
    let (r, s) = sig.split_at(32);
    let mut other = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        other[i] = (d + 256 * borrow) as u8;
    }
    [r, &other[..]].concat()
}

async fn a_p256_device_works_and_its_requests_are_single_use_under_either_signature(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    server.create_user("pia").await;
    let setup = Browser::new(&server);
    setup
        .sign_in(&server.url("/account/signin"), "pia", PASSWORD)
        .await;
    let url = setup.activation_url(&server).await;
    let (device, _) = TestDevice::activate_p256(&url, "Firefox on Android").await;
    server.advance(STEP);
    let browser = Browser::new(&server);
    let (body, _) = waiting(&server, &browser, &client, "pia").await;
    let number = match_number(&body);
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/authenticator/v1/challenges/{id}/answer");
    let approve =
        serde_json::to_vec(&serde_json::json!({"decision": "approve", "number": number})).unwrap();
    let ts = postern_core::clock::to_millis(server.clock.now());
    let sig = device.signature_at(&reqwest::Method::POST, &path, &approve, ts);
    let res = device
        .signed_with(&server, reqwest::Method::POST, &path, &approve, ts, &sig)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["outcome"],
        "approved"
    );
    // The same request under the signature's twin, which verifies as well: still a replay.
    let res = device
        .signed_with(
            &server,
            reqwest::Method::POST,
            &path,
            &approve,
            ts,
            &twin(&sig),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "replayed"
    );
    browser.open(&page_url(&server, &body)).await.app_url();
    server.stop().await;
}

/// Issue 11: one approved push, then one answered with a wrong number, is one unanswered push,
/// not two: the next sign-in still starts with a push; one more ignored makes two in a row.
async fn the_unanswered_streak_counts_each_push_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let (device, _) = user_with_device(&server, "una").await;
    let first = Browser::new(&server);
    let (body, _) = waiting(&server, &first, &client, "una").await;
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, res) = device
        .answer(&server, &id, true, Some(match_number(&body)), false)
        .await;
    assert_eq!(res["outcome"], "approved");
    first.open(&page_url(&server, &body)).await.app_url();

    let second = Browser::new(&server);
    let (body, _) = waiting(&server, &second, &client, "una").await;
    let id = device.pending(&server).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = (match_number(&body) + 1) % 100;
    let (_, res) = device.answer(&server, &id, true, Some(wrong), false).await;
    assert_eq!(res["outcome"], "wrong_number", "{res}");
    let failed = second.open(&page_url(&server, &body)).await;
    assert_eq!(shown_code(failed.body()).as_deref(), Some("500121"));
    // The page is looked at again (a reload, the event stream's end): still counted once.
    second.open(&page_url(&server, &body)).await;
    assert_eq!(
        server
            .store()
            .find_push_state(&device_user(&server, "una").await)
            .await
            .unwrap()
            .unanswered,
        1
    );

    // One unanswered push: the next sign-in starts with a push.
    let third = Browser::new(&server);
    let (body, _) = waiting(&server, &third, &client, "una").await;
    server.advance(Duration::seconds(61));
    let failed = third.open(&page_url(&server, &body)).await;
    assert_eq!(shown_code(failed.body()).as_deref(), Some("500121"));
    third.open(&page_url(&server, &body)).await;

    // Two in a row: now a code first.
    let fourth = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let prompt = fourth.sign_in(&url, "una", PASSWORD).await;
    assert!(
        prompt.body().contains("we ask for a code"),
        "{}",
        prompt.body()
    );
    server.stop().await;
}

async fn device_user(server: &TestServer, name: &str) -> String {
    server
        .store()
        .find_user_by_username(name)
        .await
        .unwrap()
        .unwrap()
        .id
}

crate::on_both_backends!(
    the_unanswered_streak_counts_each_push_once,
    a_p256_device_works_and_its_requests_are_single_use_under_either_signature,
    approve_with_the_right_number,
    wrong_number_deny_and_report,
    a_timeout_says_why_and_opens_other_doors,
    an_offline_app_fetches_on_connect_even_after_a_restart,
    forged_replayed_tampered_and_stale_requests_are_refused,
    fatigue_limits_push,
    a_connected_app_is_woken_at_once,
    review_findings_stay_fixed,
);
