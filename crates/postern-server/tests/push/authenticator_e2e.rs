//! The real Postern Authenticator against the real server: the library activates from the link on
//! Security info, listens, and approves with the number the browser shows; the binary (`add`,
//! `pending --json`, `approve`, `deny --report`, `doctor`) does the same from a vault on disk.

use crate::common::*;
use postern_authenticator::client::Client;
use postern_authenticator::listen::{ListenEvent, ListenOptions, listen};
use postern_core::client::ClientKind;
use postern_core::clock::Clock;
use postern_core::oidc::jws::SigningAlg;
use postern_proto::authenticator::{AnswerOutcome, Decision};
use std::sync::Arc;

async fn activation_link(server: &TestServer, name: &str) -> String {
    server.create_user(name).await;
    let setup = Browser::new(server);
    setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    let page = setup.open(&server.url("/account/security/push")).await;
    unescape(&attr(page.body(), "data-activation-url").expect("an activation link"))
}

async fn the_library_listens_and_approves(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let link = activation_link(&server, "ada").await;
    let clock = server.clock.clone();
    let app = Client::with_clock(Arc::new(move || {
        postern_core::clock::to_millis(clock.now())
    }))
    .unwrap();
    let account = app.activate(&link, "Laptop").await.unwrap();
    // The link works once.
    assert!(app.activate(&link, "Laptop").await.is_err());

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = {
        let (app, account) = (app.clone(), account.clone());
        tokio::spawn(async move {
            listen(&app, vec![account], ListenOptions::default(), move |e| {
                let _ = tx.send(e);
            })
            .await
        })
    };
    loop {
        if let ListenEvent::Connected { .. } = rx.recv().await.unwrap() {
            break;
        }
    }

    let browser = Browser::new(&server);
    let (url, verifier, _, _) = authorize_url(&server, &client, &[]);
    let page = browser.sign_in(&url, "ada", PASSWORD).await;
    let number = match_number(page.body());
    let challenge = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            ListenEvent::Challenge { challenge, .. } => break challenge,
            _ => continue,
        }
    };
    assert_eq!(challenge.username, "ada");
    app.shown(&account, &challenge.id).await.unwrap();
    let outcome = app
        .answer(
            &account,
            &challenge.id,
            Decision::Approve,
            Some(number),
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome, AnswerOutcome::Approved);
    let page_link = links(page.body())
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    let done = browser.open(&server.url(&page_link)).await;
    let code = query_param(done.app_url(), "code").unwrap();
    let claims = signed_in_claims(&server, &client, &code, &verifier).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "swk", "mfa"]));
    let text = steps_text(&last_signin(&server, "ada").await);
    assert!(
        text.contains("received the request over its open connection"),
        "{text}"
    );
    assert!(text.contains("shown on 'Laptop'"), "{text}");
    listener.abort();
    server.stop().await;
}

async fn an_offline_library_pulls_and_reports(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let link = activation_link(&server, "bo").await;
    let clock = server.clock.clone();
    let app = Client::with_clock(Arc::new(move || {
        postern_core::clock::to_millis(clock.now())
    }))
    .unwrap();
    let account = app.activate(&link, "Phone").await.unwrap();
    assert_eq!(app.device_status(&account).await.unwrap().username, "bo");

    // The request is made while the app is not connected; pull-to-refresh finds it.
    let browser = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let page = browser.sign_in(&url, "bo", PASSWORD).await;
    let pending = app.pending(&account).await.unwrap();
    assert_eq!(pending.challenges.len(), 1);
    let id = pending.challenges[0].id.clone();
    let outcome = app
        .answer(&account, &id, Decision::Deny, None, true)
        .await
        .unwrap();
    assert_eq!(outcome, AnswerOutcome::Denied);
    let page_link = links(page.body())
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap();
    let failed = browser.open(&server.url(&page_link)).await;
    assert_eq!(shown_code(failed.body()).as_deref(), Some("500121"));
    assert!(steps_text(&last_signin(&server, "bo").await).contains("reported as fraud"));

    // Removed on Security info: the app is told its registration is gone.
    let user = server
        .store()
        .find_user_by_username("bo")
        .await
        .unwrap()
        .unwrap();
    let device_id = account.push.as_ref().unwrap().device_id.clone();
    server
        .store()
        .delete_method(
            &user.id,
            &device_id,
            postern_core::policy::MfaPolicy::WhenRegistered,
        )
        .await
        .unwrap();
    assert!(
        app.device_status(&account)
            .await
            .unwrap_err()
            .is_unknown_device()
    );
    server.stop().await;
}

crate::on_both_backends!(
    the_library_listens_and_approves,
    an_offline_library_pulls_and_reports
);
