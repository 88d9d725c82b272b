//! `postern admin` as the real binary: against a running server with `--server` and
//! `--token-file` (its token's role decides, the server's code authorises and audits), and on the
//! server's own store without them, as the local operator.

use crate::common::{
    Browser, PASSWORD, SignInForm, TestServer, authorize_url, create_admin_token,
    create_admin_token_via_api, links,
};
use crate::{Api, create_user, last_audit, page_request_id, signed_in};
use postern_core::admin::Role;
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A private directory for token files and the CLI's own (unused) data directory.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "postern-admin-cli-{}",
        postern_core::random::token(&postern_core::random::OsRandom, 9)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `postern --data-dir DATA admin ARGS…` with `env`.
async fn postern(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_postern"));
    cmd.arg("--data-dir").arg(data_dir).arg("admin").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The remote-mode arguments for a token file, then `args`.
fn remote<'a>(server: &'a str, token_file: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--server", server, "--token-file", token_file];
    all.extend_from_slice(args);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_mode_with_a_helpdesk_token() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (root, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&root));
    let (desk_secret, _) =
        create_admin_token_via_api(&server, &root, "desk-1", Role::Helpdesk).await;
    let dir = temp_dir();
    let token_file = dir.join("desk-1.token");
    std::fs::write(&token_file, format!("{desk_secret}\n")).unwrap();
    let token_file = token_file.to_str().unwrap().to_owned();
    let url = server.issuer().to_owned();
    let data = dir.join("unused-data");
    let (client, _) = server
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;

    // The user registered an app and recovery codes; the helpdesk lists them.
    create_user(&admin, "cleo").await;
    let browser = signed_in(&server, "cleo").await;
    browser.add_authenticator(&server).await;
    browser.create_recovery_codes(&server).await;
    let out = postern(
        &data,
        &remote(&url, &token_file, &["--json", "user", "methods", "cleo"]),
        &[],
    )
    .await;
    let methods: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let api_view = admin
        .get("/admin/v1/users/cleo/authentication/methods")
        .await
        .expect(200);
    assert_eq!(methods, api_view, "the CLI prints the API's JSON");
    let kinds: Vec<&str> = methods
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["totp", "recovery_codes"]);
    let human = stdout(
        &postern(
            &data,
            &remote(&url, &token_file, &["user", "methods", "cleo"]),
            &[],
        )
        .await,
    );
    assert!(
        human.contains("totp") && human.contains("10 of 10 codes left"),
        "{human}"
    );

    // A wrong password, diagnosed by its request id.
    let (auth, ..) = authorize_url(&server, &client, &[]);
    let page = Browser::new(&server)
        .sign_in(&auth, "cleo", "not the password")
        .await;
    let rid = page_request_id(&page);
    let out = stdout(
        &postern(
            &data,
            &remote(&url, &token_file, &["signins", "diagnose", &rid]),
            &[],
        )
        .await,
    );
    assert!(out.contains("Cause (wrong_password)"), "{out}");
    assert!(out.contains(&rid) && out.contains("cleo"), "{out}");

    // Locked by wrong passwords, unlocked from the command line (for that sign-in).
    let lock_browser = Browser::new(&server);
    let mut page = lock_browser
        .open(&authorize_url(&server, &client, &[]).0)
        .await;
    for i in 0..10 {
        page = lock_browser
            .submit_password(page.body(), "cleo", &format!("wrong-{i}"))
            .await;
    }
    assert!(admin.get("/admin/v1/users/cleo").await.expect(200)["locked_until"].is_string());
    let out = stdout(
        &postern(
            &data,
            &remote(
                &url,
                &token_file,
                &["--signin", &rid, "user", "unlock", "cleo"],
            ),
            &[],
        )
        .await,
    );
    assert!(out.contains("cleo: unlocked"), "{out}");
    assert!(admin.get("/admin/v1/users/cleo").await.expect(200)["locked_until"].is_null());
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.unlock");
    assert_eq!(entry["actor"], "token 'desk-1'");
    assert_eq!(entry["actor_role"], "helpdesk");
    let correlation = admin
        .get(&format!("/admin/v1/signins/{rid}"))
        .await
        .expect(200)["correlation_id"]
        .clone();
    assert_eq!(entry["correlation_id"], correlation);
    // The password is accepted again: on to her second factor.
    let landing = lock_browser
        .submit_password(page.body(), "cleo", PASSWORD)
        .await;
    assert!(
        landing.body().contains("name=\"method\""),
        "the second-factor prompt after the unlock: {landing:?}"
    );

    // A one-time pass, printed once, that signs in on the pass page.
    let out = stdout(
        &postern(
            &data,
            &remote(
                &url,
                &token_file,
                &["tap", "create", "cleo", "--once", "--json"],
            ),
            &[],
        )
        .await,
    );
    let issued: Value = serde_json::from_str(&out).unwrap();
    let pass = issued["pass"].as_str().expect("the pass").to_owned();
    assert_eq!(issued["once"], true);
    assert_eq!(last_audit(&admin).await["action"], "access_pass.create");
    let visitor = Browser::new(&server);
    let password_page = visitor.open(&authorize_url(&server, &client, &[]).0).await;
    let link = links(password_page.body())
        .into_iter()
        .find(|l| l.ends_with("/access-pass"));
    if let Some(link) = link {
        let pass_page = visitor.open(&server.url(&link)).await;
        let form = SignInForm::of(&server, pass_page.body());
        let landing = visitor
            .submit(
                &form.action,
                &[
                    ("csrf", form.csrf.as_str()),
                    ("username", "cleo"),
                    ("access_pass", pass.as_str()),
                ],
            )
            .await;
        let (at, body) = landing.page();
        assert!(at.contains("/account/security"), "{at}: {body}");
        let methods = admin
            .get("/admin/v1/users/cleo/authentication/methods")
            .await
            .expect(200);
        let used = methods
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == "temporary_access_pass")
            .unwrap();
        assert_eq!(used["state"], "used", "{methods}");
    }

    // The helpdesk may not make tokens: a clear refusal naming the role, nothing made.
    let tokens = admin.get("/admin/v1/tokens").await.expect(200);
    let out = postern(
        &data,
        &remote(
            &url,
            &token_file,
            &["token", "create", "--name", "mine", "--role", "admin"],
        ),
        &[],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("helpdesk") && err.contains("403"), "{err}");
    assert!(out.stdout.is_empty());
    let mut after = admin.get("/admin/v1/tokens").await.expect(200);
    let strip = |v: &mut Value| {
        for t in v.as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("last_used");
        }
    };
    let mut before = tokens;
    strip(&mut before);
    strip(&mut after);
    assert_eq!(after, before);

    // A missing or empty token file, a bad server URL: plain errors.
    let empty = dir.join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    for (server_arg, file) in [
        (
            url.as_str(),
            dir.join("missing.token").to_str().unwrap().to_owned(),
        ),
        (url.as_str(), empty.to_str().unwrap().to_owned()),
        ("id.school.example", token_file.clone()),
    ] {
        let out = postern(
            &data,
            &remote(server_arg, &file, &["user", "show", "cleo"]),
            &[],
        )
        .await;
        assert!(!out.status.success());
        assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_is_audited_as_the_local_operator() {
    let server = TestServer::start(crate::common::Backend::Sqlite).await;
    let (root, _) = create_admin_token(&server, "root", Role::Admin, None).await;
    let admin = Api::new(&server, Some(&root));
    create_user(&admin, "lin").await;
    let db = server.config.database_url.clone().unwrap();
    let env = [
        ("POSTERN_DATABASE_URL", db.as_str()),
        ("USER", "ops-tester"),
        ("LOGNAME", "ops-tester"),
    ];
    let data = server.data_dir().to_owned();

    let out = stdout(&postern(&data, &["user", "unlock", "lin"], &env).await);
    assert!(out.contains("lin: unlocked"), "{out}");
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "user.unlock");
    assert_eq!(entry["target_name"], "lin");
    assert!(
        entry["actor"]
            .as_str()
            .unwrap()
            .starts_with("local operator 'ops-tester, uid "),
        "{entry}"
    );
    assert_eq!(entry["actor_role"], "admin");
    assert_eq!(entry["actor_id"], "");

    let out = stdout(
        &postern(
            &data,
            &["--json", "tap", "create", "lin", "--lifetime", "30m"],
            &env,
        )
        .await,
    );
    let issued: Value = serde_json::from_str(&out).unwrap();
    assert!(issued["pass"].is_string());
    let entry = last_audit(&admin).await;
    assert_eq!(entry["action"], "access_pass.create");
    assert!(
        entry["actor"]
            .as_str()
            .unwrap()
            .starts_with("local operator 'ops-tester, uid "),
        "{entry}"
    );

    // The local operator is an admin: it makes tokens, which then work remotely.
    let out = stdout(
        &postern(
            &data,
            &[
                "--json", "token", "create", "--name", "boot", "--role", "reader",
            ],
            &env,
        )
        .await,
    );
    let token: Value = serde_json::from_str(&out).unwrap();
    assert!(
        token["created_by"]
            .as_str()
            .unwrap()
            .starts_with("local operator 'ops-tester, uid "),
        "{token}"
    );
    let me = Api::new(&server, token["token"].as_str())
        .get("/admin/v1/me")
        .await
        .expect(200);
    assert_eq!(me["role"], "reader");
    assert_eq!(last_audit(&admin).await["action"], "token.create");
    server.stop().await;
}
