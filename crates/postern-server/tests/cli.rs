//! The real `postern` binary: admin commands, error explanations and configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Browser, TestServer, authorize_url, query_param};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn postern(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postern"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "postern-cli-{}",
        postern_core::random::token(&postern_core::random::OsRandom, 9)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn users_and_clients_from_the_command_line() {
    let dir = temp_dir();
    let created = json(&postern(
        &dir,
        &[
            "admin",
            "--json",
            "user",
            "create",
            "Zoe",
            "--email",
            "zoe@school.example",
            "--name",
            "Zoe Z",
            "--password-stdin",
        ],
        Some("a long password\n"),
        &[],
    ));
    assert_eq!(created["username"], "zoe");
    assert!(
        created.get("password_hash").is_none(),
        "the hash is never printed"
    );
    let again = postern(
        &dir,
        &["admin", "user", "create", "zoe", "--password-stdin"],
        Some("a long password\n"),
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let short = postern(
        &dir,
        &["admin", "user", "create", "yan", "--password-stdin"],
        Some("short\n"),
        &[],
    );
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    let no_stdin = postern(&dir, &["admin", "user", "create", "yan"], None, &[]);
    assert!(String::from_utf8_lossy(&no_stdin.stderr).contains("--password-stdin"));

    let list = json(&postern(
        &dir,
        &["admin", "--json", "user", "list"],
        None,
        &[],
    ));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        postern(&dir, &["admin", "user", "disable", "zoe"], None, &[])
            .status
            .success()
    );
    assert_eq!(
        json(&postern(
            &dir,
            &["admin", "--json", "user", "show", "zoe"],
            None,
            &[]
        ))["disabled"],
        true
    );
    assert!(
        postern(&dir, &["admin", "user", "enable", "zoe"], None, &[])
            .status
            .success()
    );
    assert!(
        postern(
            &dir,
            &["admin", "user", "set-password", "zoe", "--password-stdin"],
            Some("another long one\n"),
            &[]
        )
        .status
        .success()
    );

    let client = json(&postern(
        &dir,
        &[
            "admin",
            "--json",
            "client",
            "create",
            "--name",
            "Mail",
            "--redirect-uri",
            "https://mail.example/cb",
            "--redirect-uri",
            "https://mail.example/cb2",
        ],
        None,
        &[],
    ));
    let secret = client["client_secret"]
        .as_str()
        .expect("the secret is shown once");
    assert!(secret.len() >= 43, "high-entropy secret");
    let listed = postern(&dir, &["admin", "--json", "client", "list"], None, &[]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(secret),
        "never shown again"
    );
    assert_eq!(
        json(&listed)[0]["redirect_uris"].as_array().unwrap().len(),
        2
    );
    let public = json(&postern(
        &dir,
        &[
            "admin",
            "--json",
            "client",
            "create",
            "--name",
            "App",
            "--redirect-uri",
            "com.example.app:/cb",
            "--public",
        ],
        None,
        &[],
    ));
    assert!(public.get("client_secret").is_none());
    let bad = postern(
        &dir,
        &[
            "admin",
            "client",
            "create",
            "--name",
            "Bad",
            "--redirect-uri",
            "https://x.example/#frag",
        ],
        None,
        &[],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("fragment"));
    let id = client["id"].as_str().unwrap();
    assert!(
        postern(&dir, &["admin", "client", "delete", id], None, &[])
            .status
            .success()
    );
    assert!(
        !postern(&dir, &["admin", "client", "delete", id], None, &[])
            .status
            .success()
    );

    let keys = json(&postern(
        &dir,
        &["admin", "--json", "keys", "list"],
        None,
        &[],
    ));
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(0),
        "keys are made by the server's first start"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_explain_themselves() {
    let dir = temp_dir();
    let out = postern(&dir, &["errors", "show", "50126"], None, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Your username or password is incorrect") && text.contains("An admin can"),
        "{text}"
    );
    let out = json(&postern(
        &dir,
        &["errors", "--json", "show", "AADSTS500121"],
        None,
        &[],
    ));
    assert_eq!(out["code"], 500121);
    assert!(
        !postern(&dir, &["errors", "show", "12345"], None, &[])
            .status
            .success()
    );
    let help = postern(&dir, &["--help"], None, &[]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("postern serve --demo"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_settings_name_the_setting() {
    let dir = temp_dir();
    let cases = [
        ("POSTERN_DATABASE_URL", "mysql://nope", "database_url"),
        ("POSTERN_POLICY__MFA", "sometimes", "policy.mfa"),
        ("POSTERN_LISTEN", "not-an-address", "listen"),
        ("POSTERN_ISSUER", "ftp://x", "issuer"),
        ("POSTERN_PASSWORD__MEMORY_KIB", "1024", "password"),
    ];
    for (var, value, setting) in cases {
        let out = postern(&dir, &["serve"], None, &[(var, value)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(setting), "{var}={value}: {err}");
    }
    let out = postern(&dir, &["--config", "/nonexistent.toml", "serve"], None, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `signins show` finds a sign-in by a request id from the page, while the server runs; `keys
/// rotate` keeps the old key published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpdesk_lookup_and_key_rotation_while_running() {
    let server = TestServer::start(Backend::Sqlite).await;
    server.create_user("hal").await;
    let (client, _) = server
        .create_client(
            postern_core::client::ClientKind::Public,
            postern_core::oidc::jws::SigningAlg::RS256,
        )
        .await;
    let browser = Browser::new(&server);
    let page = browser
        .sign_in(
            &authorize_url(&server, &client, &[]).0,
            "hal",
            "wrong password!",
        )
        .await;
    let common::Landing::Page { request_id, .. } = &page else {
        panic!()
    };
    let dir = server.data_dir().to_owned();
    let db = server.config.database_url.clone().unwrap();
    let env = [("POSTERN_DATABASE_URL", db.as_str())];
    let out = postern(&dir, &["admin", "signins", "show", request_id], None, &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("50126") && text.contains("wrong password") && text.contains(request_id),
        "{text}"
    );
    let entry = json(&postern(
        &dir,
        &["admin", "--json", "signins", "show", request_id],
        None,
        &env,
    ));
    assert_eq!(entry["error_code"], 50126);

    let before: Value = reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rotated = json(&postern(
        &dir,
        &["admin", "--json", "keys", "rotate"],
        None,
        &env,
    ));
    assert_eq!(rotated["new_kids"].as_array().unwrap().len(), 3);
    server
        .server
        .state
        .keys
        .load(
            &server.server.state.store,
            &server.server.state.master,
            &*server.server.state.rng,
            &*server.server.state.clock,
        )
        .await
        .unwrap();
    let after: Value = reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(
        kids(&before).iter().all(|k| kids(&after).contains(k)),
        "old keys stay published"
    );
    assert_eq!(kids(&after).len(), 6);
    // New tokens are signed with the new key.
    let landing = browser
        .sign_in(
            &authorize_url(&server, &client, &[("prompt", "login")]).0,
            "hal",
            common::PASSWORD,
        )
        .await;
    assert!(query_param(landing.app_url(), "code").is_some());
    server.stop().await;
}

/// `postern serve` answers health checks and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_and_shuts_down_gracefully() {
    use std::io::{BufRead, BufReader};
    let parent = temp_dir();
    let dir = parent.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("POSTERN_LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("Postern is running at ")
        .expect("the first line names the URL")
        .to_owned();
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{url}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("# TYPE postern_http_responses_total counter"));
    let master = std::fs::metadata(dir.join("master.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        master.permissions().mode() & 0o777,
        0o600,
        "the master key is private"
    );
    let data_dir = std::fs::metadata(&dir).unwrap();
    assert_eq!(
        data_dir.permissions().mode() & 0o777,
        0o700,
        "the data directory is private"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(rest.iter().any(|l| l.contains("Shutting down")), "{rest:?}");
    let _ = std::fs::remove_dir_all(&parent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpdesk_fixes_second_factors_from_the_command_line() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.policy.mfa = postern_core::policy::MfaPolicy::Required;
    })
    .await;
    let (client, _) = server
        .create_client(
            postern_core::client::ClientKind::Public,
            postern_core::oidc::jws::SigningAlg::RS256,
        )
        .await;
    server.create_user("ivy").await;
    let dir = server.data_dir().to_owned();
    let db = server.config.database_url.clone().unwrap();
    let env = [("POSTERN_DATABASE_URL", db.as_str())];
    let none = postern(&dir, &["admin", "user", "methods", "ivy"], None, &env);
    assert!(String::from_utf8_lossy(&none.stdout).contains("no second factor registered"));

    // Ivy registers an app at her first sign-in, then locks her second step with wrong codes.
    let browser = Browser::new(&server);
    let page = browser
        .sign_in(
            &authorize_url(&server, &client, &[]).0,
            "ivy",
            common::PASSWORD,
        )
        .await;
    let body = page.body().to_owned();
    let app = common::AuthenticatorApp::scan(&common::otpauth_uri(&body));
    let form = [
        ("csrf", common::hidden(&body, "csrf").unwrap()),
        ("enrollment", common::hidden(&body, "enrollment").unwrap()),
        ("name", "Phone".to_owned()),
        ("code", app.code(&server, time::Duration::ZERO)),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser
        .submit(&server.url(&common::attr(&body, "action").unwrap()), &form)
        .await
        .app_url();
    let methods = json(&postern(
        &dir,
        &["admin", "--json", "user", "methods", "ivy"],
        None,
        &env,
    ));
    assert_eq!(methods[0]["type"], "totp");
    assert_eq!(methods[0]["name"], "Phone");
    assert_eq!(methods[0]["is_default"], true);
    let text = postern(&dir, &["admin", "user", "methods", "ivy"], None, &env);
    assert!(String::from_utf8_lossy(&text.stdout).contains("only one way in"));

    let other = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let mut prompt = other
        .sign_in(&url, "ivy", common::PASSWORD)
        .await
        .body()
        .to_owned();
    for i in 0..5u32 {
        prompt = other
            .submit_code(
                &prompt,
                &format!("{:06}", 111_111 * (i + 1) % 1_000_000),
                false,
            )
            .await
            .body()
            .to_owned();
    }
    assert!(prompt.contains("990008"), "locked");
    let out = json(&postern(
        &dir,
        &["admin", "--json", "user", "unlock", "ivy"],
        None,
        &env,
    ));
    assert_eq!(out["username"], "ivy");
    assert!(out["second_factor_locked_until"].is_null(), "{out}");
    server.advance(common::STEP);
    other
        .submit_code(&prompt, &app.code(&server, time::Duration::ZERO), false)
        .await
        .app_url();

    // Lost phone: re-registration is required, and every session ends.
    let out = json(&postern(
        &dir,
        &["admin", "--json", "user", "require-reregister", "ivy"],
        None,
        &env,
    ));
    assert_eq!(out["username"], "ivy");
    let methods = json(&postern(
        &dir,
        &["admin", "--json", "user", "methods", "ivy"],
        None,
        &env,
    ));
    assert_eq!(methods, serde_json::json!([]), "every method removed");
    let audit = json(&postern(
        &dir,
        &["admin", "--json", "audit", "list", "--target", "ivy"],
        None,
        &env,
    ));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.require_reregister", "user.unlock"]);
    assert!(
        audit[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("local operator"),
        "{audit}"
    );
    let page = browser.open(&server.url("/account/security")).await;
    assert!(page.page().0.contains("/signin/"), "signed out");
    let next = Browser::new(&server);
    let (url, _, _, _) = authorize_url(&server, &client, &[]);
    let again = next.sign_in(&url, "ivy", common::PASSWORD).await;
    assert!(again.body().contains("Set up a second sign-in method"));
    server.stop().await;
}
