//! A real browser (headless Chromium from Debian's packages) signs the demo student into the demo
//! learning hub, which verifies the ID token over HTTP and shows its claims; then signs out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::webdriver::Driver;
use common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_student_signs_in_to_the_learning_hub() {
    let server = TestServer::start(Backend::Sqlite).await;
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
    browser.wait_for_text("Welcome, Demo Student").await;
    assert!(browser.current_url().await.starts_with(&hub.url));
    let username_claim = browser.find("//td[@data-claim='preferred_username']").await;
    assert_eq!(browser.text(&username_claim).await, "student");
    let amr = browser.find("//td[@data-claim='amr']").await;
    assert_eq!(browser.text(&amr).await, "[\"pwd\"]");
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
