//! Web Push wake-ups over HTTP on SQLite and PostgreSQL, against a local RFC 8030 push service
//! that verifies the VAPID token and decrypts what Postern sent with its own code: a new push
//! request sends one encrypted notification per subscribed device (TTL = the time left, urgency
//! high, nothing secret inside); the push service's answer is a sign-in log step and changes what
//! the waiting page says; 404/410 removes the subscription; a hanging push service delays
//! nothing; bad subscriptions get a clear 400 and change nothing; removing the device removes
//! its subscriptions.

use crate::common::push_service::{Mode, PushService, decrypt_with, verify_vapid};
use crate::common::*;
use postern_core::client::{Client, ClientKind};
use postern_core::clock::Clock;
use postern_core::oidc::jws::SigningAlg;
use serde_json::{Value, json};
use std::time::{Duration as StdDuration, Instant};

async fn server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| {
        c.web_push.allow_loopback_endpoints = true;
        c.web_push.timeout_seconds = 1;
    })
    .await
}

/// A user with a device that registered `subscription` (the JSON of `PushSubscription`).
async fn subscribed(server: &TestServer, name: &str, subscription: &Value) -> TestDevice {
    server.create_user(name).await;
    let setup = Browser::new(server);
    setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let (device, _) = setup.add_push_device(server, "Pixel 7").await;
    let (status, body) = put_subscription(server, &device, subscription).await;
    assert_eq!(status, 204, "{body}");
    server.advance(STEP);
    device
}

async fn put_subscription(server: &TestServer, device: &TestDevice, sub: &Value) -> (u16, String) {
    let bytes = serde_json::to_vec(sub).unwrap();
    let res = device
        .request(
            server,
            reqwest::Method::PUT,
            "/api/authenticator/v1/web-push/subscription",
            &bytes,
        )
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn waiting(server: &TestServer, browser: &Browser, client: &Client, name: &str) -> String {
    let (url, _, _, _) = authorize_url(server, client, &[]);
    let landing = browser.sign_in(&url, name, PASSWORD).await;
    let body = landing.body().to_owned();
    assert!(body.contains("Approve sign-in request"), "{body}");
    body
}

/// Polls the sign-in log (real time: the send runs in the background) until it holds `words`.
async fn log_says(server: &TestServer, name: &str, words: &str) -> String {
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let text = steps_text(&last_signin(server, name).await);
        if text.contains(words) {
            return text;
        }
        assert!(Instant::now() < deadline, "'{words}' never logged: {text}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn a_push_request_sends_one_encrypted_notification(backend: Backend) {
    let server = server(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let service = PushService::start().await;
    let sub = service.subscription();
    let device = subscribed(&server, "ada", &sub.to_json()).await;

    // The waiting page: the number is in the browser, and the notification is on its way.
    let browser = Browser::new(&server);
    let body = waiting(&server, &browser, &client, "ada").await;
    let number = match_number(&body);
    let got = service.wait_for(1, StdDuration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "one notification per device and request");
    let sent = &got[0];
    assert_eq!(sent.id, sub.id);
    assert_eq!(sent.header("content-encoding"), "aes128gcm");
    assert_eq!(sent.header("urgency"), "high");
    let ttl: i64 = sent.header("ttl").parse().unwrap();
    assert!((55..=60).contains(&ttl), "TTL is the time left: {ttl}");
    let now = server.clock.now().unix_timestamp();
    let claims = verify_vapid(sent.header("authorization"), &service.base, now).unwrap();
    assert_eq!(claims["sub"], "mailto:postmaster@localhost");
    // The key it signs with is the one the app subscribes with.
    let info: Value = reqwest::get(server.url("/api/authenticator/v1/web-push"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(sent.header("authorization").ends_with(&format!(
        "k={}",
        info["application_server_key"].as_str().unwrap()
    )));

    let plain = sub.decrypt(&sent.body).unwrap();
    let message: Value = serde_json::from_slice(&plain).unwrap();
    let pending = device.pending(&server).await;
    // Exactly these fields: a wake-up call holds no number and nothing secret.
    assert_eq!(
        message,
        json!({ "type": "challenge", "device_id": device.id, "challenge_id": pending[0]["id"], "app": client.name })
    );

    let text = log_says(
        &server,
        "ada",
        "notification to 'Pixel 7': push service accepted (201)",
    )
    .await;
    assert!(
        !text.contains(&sub.auth) && !text.contains(&sub.p256dh),
        "{text}"
    );
    let again = browser.open(&page_url(&server, &body)).await;
    assert!(
        unescape(again.body()).contains("Delivered to 'Pixel 7'"),
        "the app fetched it: {}",
        again.body()
    );

    // Approving works as ever; no second notification was sent for the same request.
    let id = pending[0]["id"].as_str().unwrap();
    let (status, res) = device.answer(&server, id, true, Some(number), false).await;
    assert_eq!((status, res["outcome"].as_str()), (200, Some("approved")));
    assert_eq!(service.received().len(), 1);
    server.stop().await;
}

/// The waiting page's own address (its "Check again" link).
fn page_url(server: &TestServer, body: &str) -> String {
    let link = links(body)
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    server.url(&link)
}

async fn a_dead_subscription_is_removed(backend: Backend) {
    let server = server(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let service = PushService::start().await;
    service.set_mode(Mode::Gone);
    let sub = service.subscription();
    let device = subscribed(&server, "ben", &sub.to_json()).await;
    let browser = Browser::new(&server);
    let body = waiting(&server, &browser, &client, "ben").await;
    log_says(
        &server,
        "ben",
        "notification to 'Pixel 7': push service refused: 410 → subscription removed",
    )
    .await;
    assert!(
        server
            .store()
            .list_web_push_subscriptions(&device.id)
            .await
            .unwrap()
            .is_empty()
    );
    let page = browser.open(&page_url(&server, &body)).await;
    assert!(
        unescape(page.body()).contains("The notification to 'Pixel 7' could not be sent (push service refused: 410 → subscription removed): open the Postern Authenticator on it, the request is waiting there."),
        "{}",
        page.body()
    );
    // The request still waits on the server for the app.
    assert_eq!(device.pending(&server).await.len(), 1);

    // 404 too.
    service.set_mode(Mode::NotFound);
    let sub = service.subscription();
    assert_eq!(
        put_subscription(&server, &device, &sub.to_json()).await.0,
        204
    );
    server.advance(time::Duration::minutes(2));
    let other = Browser::new(&server);
    waiting(&server, &other, &client, "ben").await;
    log_says(
        &server,
        "ben",
        "push service refused: 404 → subscription removed",
    )
    .await;
    server.stop().await;
}

async fn a_hanging_push_service_delays_nothing(backend: Backend) {
    let server = server(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let service = PushService::start().await;
    service.set_mode(Mode::Hang);
    subscribed(&server, "cy", &service.subscription().to_json()).await;
    let browser = Browser::new(&server);
    let started = Instant::now();
    waiting(&server, &browser, &client, "cy").await;
    let page_time = started.elapsed();
    service.wait_for(1, StdDuration::from_secs(10)).await;
    // The page came back without waiting for the push service (its timeout is 1 s).
    assert!(page_time < StdDuration::from_millis(900), "{page_time:?}");
    let text = log_says(
        &server,
        "cy",
        "push service unreachable: timed out after 1 s",
    )
    .await;
    assert!(text.contains("notification to 'Pixel 7'"), "{text}");
    server.stop().await;
}

async fn bad_subscriptions_are_refused_and_change_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let service = PushService::start().await;
    server.create_user("dee").await;
    let setup = Browser::new(&server);
    setup
        .sign_in(&server.url("/account/signin"), "dee", PASSWORD)
        .await;
    let (device, _) = setup.add_push_device(&server, "Pixel 7").await;
    let local = service.subscription().to_json();
    let mut good = local.clone();
    good["endpoint"] = "https://fcm.googleapis.com/fcm/send/abc".into();
    let with = |endpoint: &str| {
        let mut s = good.clone();
        s["endpoint"] = endpoint.into();
        s
    };
    let mut bad_key = good.clone();
    bad_key["keys"]["p256dh"] = "BAAAAAAA".into();
    let mut bad_auth = good.clone();
    bad_auth["keys"]["auth"] = "AAAA".into();
    let cases = [
        (local, "must be an https:// URL"), // loopback is for tests only
        (
            with("https://127.0.0.1:9/push"),
            "is not a public internet address",
        ),
        (
            with("http://fcm.googleapis.com/x"),
            "must be an https:// URL",
        ),
        (
            with("https://10.0.0.8/push"),
            "is not a public internet address",
        ),
        (
            with("https://169.254.169.254/latest"),
            "is not a public internet address",
        ),
        (
            with(&format!("https://push.example/{}", "a".repeat(1100))),
            "longer than 1024",
        ),
        (with("https://u:p@push.example/x"), "user name or password"),
        (bad_key, "keys.p256dh must be a P-256 public key"),
        (bad_auth, "keys.auth must be 16 bytes"),
        (
            json!({ "endpoint": "https://push.example/x" }),
            "must be a push subscription",
        ),
        (json!("text"), "must be a push subscription"),
    ];
    for (sub, words) in cases {
        let (status, body) = put_subscription(&server, &device, &sub).await;
        assert_eq!(status, 400, "{sub}: {body}");
        assert!(body.contains(words), "{sub}: {body}");
    }
    assert!(
        server
            .store()
            .list_web_push_subscriptions(&device.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Unsigned, or signed by nobody: refused before anything is read.
    let res = reqwest::Client::new()
        .put(server.url("/api/authenticator/v1/web-push/subscription"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    server.stop().await;
}

async fn removing_the_device_removes_its_subscriptions(backend: Backend) {
    let server = server(backend).await;
    let service = PushService::start().await;
    server.create_user("eli").await;
    let setup = Browser::new(&server);
    let page = setup
        .sign_in(&server.url("/account/signin"), "eli", PASSWORD)
        .await;
    assert!(page.body().contains("Security info"));
    let (device, _) = setup.add_push_device(&server, "Pixel 7").await;
    for _ in 0..4 {
        let (status, _) =
            put_subscription(&server, &device, &service.subscription().to_json()).await;
        assert_eq!(status, 204);
    }
    let kept = server
        .store()
        .list_web_push_subscriptions(&device.id)
        .await
        .unwrap();
    assert_eq!(kept.len(), 3, "a device keeps at most three");
    let security = setup.open(&server.url("/account/security")).await;
    assert!(
        security.body().contains("notifications on"),
        "{}",
        security.body()
    );

    // "Turn off notifications" in the app.
    let res = device
        .request(
            &server,
            reqwest::Method::DELETE,
            "/api/authenticator/v1/web-push/subscription",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        server
            .store()
            .list_web_push_subscriptions(&device.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        put_subscription(&server, &device, &service.subscription().to_json())
            .await
            .0,
        204
    );

    // "Remove from this phone": the device leaves the account, its subscriptions with it, and
    // whatever it signs afterwards is refused.
    let res = device
        .request(
            &server,
            reqwest::Method::DELETE,
            "/api/authenticator/v1/device",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        server
            .store()
            .list_web_push_subscriptions(&device.id)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, body) =
        put_subscription(&server, &device, &service.subscription().to_json()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unknown_device"), "{body}");
    server.stop().await;
}

async fn the_last_way_in_is_not_removed_from_the_phone(backend: Backend) {
    let server = TestServer::start_with(backend, |c| {
        c.policy.mfa = postern_core::policy::MfaPolicy::Required;
    })
    .await;
    let (_browser, device, _codes) = common_device(&server, "fay").await;
    let res = device
        .request(
            &server,
            reqwest::Method::DELETE,
            "/api/authenticator/v1/device",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "last_method", "{body}");
    assert_eq!(device.pending(&server).await.len(), 0, "still registered");
    server.stop().await;
}

/// Under `mfa = required`: `name` registers an authenticator app on the forced page, then adds a
/// Postern Authenticator (its codes pair with it; the app's codes are the other way in). Removing
/// the app leaves the device as the only way in.
async fn common_device(server: &TestServer, name: &str) -> (Browser, TestDevice, AuthenticatorApp) {
    server.create_user(name).await;
    let browser = Browser::new(server);
    let page = browser
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let body = page.body().to_owned();
    assert!(body.contains("Set up a second sign-in method"), "{body}");
    assert!(
        body.contains("Use the Postern Authenticator on your phone"),
        "{body}"
    );
    // The interrupt's own door to the Postern Authenticator: its activation link.
    let link = links(&body)
        .into_iter()
        .find(|l| l.ends_with("?setup=authenticator"))
        .unwrap();
    let page = browser.open(&server.url(&link)).await;
    let url = unescape(&attr(page.body(), "data-activation-url").unwrap());
    let (device, codes) = TestDevice::activate(&url, "Pixel 7").await;
    // "I've added it": the sign-in moves on to a push to the new device.
    let done = links(page.body())
        .into_iter()
        .find(|l| l.starts_with("/signin/") && !l.contains('?'))
        .unwrap();
    let waiting = browser.open(&server.url(&done)).await;
    assert!(
        waiting.body().contains("Approve sign-in request"),
        "{}",
        waiting.body()
    );
    let number = match_number(waiting.body());
    let pending = device.pending(server).await;
    let (status, res) = device
        .answer(
            server,
            pending[0]["id"].as_str().unwrap(),
            true,
            Some(number),
            false,
        )
        .await;
    assert_eq!((status, res["outcome"].as_str()), (200, Some("approved")));
    let landed = browser.open(&page_url(server, waiting.body())).await;
    assert!(landed.body().contains("Security info"), "{}", landed.body());
    (browser, device, codes)
}

crate::on_both_backends!(
    a_push_request_sends_one_encrypted_notification,
    a_dead_subscription_is_removed,
    a_hanging_push_service_delays_nothing,
    bad_subscriptions_are_refused_and_change_nothing,
    removing_the_device_removes_its_subscriptions,
    the_last_way_in_is_not_removed_from_the_phone,
);

#[test]
fn the_test_push_service_decrypts_rfc_8291_appendix_a() {
    let b64 = |s: &str| data_encoding::BASE64URL_NOPAD.decode(s.as_bytes()).unwrap();
    let plain = decrypt_with(
        &b64("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"),
        &b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"),
        &b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
        &b64("BTBZMqHH6r4Tts7J_aSIgg"),
    )
    .unwrap();
    assert_eq!(plain, b"When I grow up, I want to be a watermelon");
}
