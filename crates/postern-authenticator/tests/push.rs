//! The app against a fake server that checks the wire contract: `add`, `pending --json`,
//! `approve`, `deny --report`, `doctor` through the real binary, and `listen`'s
//! reconnect-then-fetch-pending through the library.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::FakeServer;
use postern_authenticator::account::Account;
use postern_authenticator::client::Client;
use postern_authenticator::listen::{ListenEvent, ListenOptions, listen};
use postern_authenticator::vault::{Passphrase, Vault};
use postern_proto::authenticator::{AnswerOutcome, Decision};

const PASSPHRASE: &str = "test passphrase";

async fn cli(vault: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_postern-authenticator"))
        .arg("--vault")
        .arg(vault)
        .args(args)
        .env("POSTERN_AUTHENTICATOR_PASSPHRASE", PASSPHRASE)
        .env_remove("POSTERN_AUTHENTICATOR_VAULT")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A vault with this device registered at the fake, through the binary's `add`.
async fn registered(server: &FakeServer) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.json");
    let link = server.activation_link("CODE-1");
    let out = cli(&vault, &["add", &link, "--name", "Test laptop"]).await;
    assert!(out.status.success(), "{}", text(&out));
    (dir, vault)
}

fn open(vault: &Path) -> Vault {
    Vault::open(vault, Passphrase::new(PASSPHRASE)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_registers_the_device_and_keeps_key_codes_and_account() {
    let server = FakeServer::start().await;
    let (_dir, vault) = registered(&server).await;

    let data = open(&vault).data;
    assert_eq!(data.accounts.len(), 1);
    let account = &data.accounts[0];
    assert_eq!(account.name, "Postern School:ada");
    let push = account.push.as_ref().unwrap();
    assert_eq!(push.device_id, "dev-1");
    assert_eq!(push.device_name, "Test laptop");
    assert_eq!(push.api_base, server.issuer);
    assert!(push.last_contact_ms.is_some());
    // The TOTP from totp_uri: the RFC 6238 seed, so the RFC's code at 59 s.
    assert_eq!(account.totp.as_ref().unwrap().code_at(59).code, "287082");
    assert_eq!(
        postern_authenticator::vault::file_mode(&vault).unwrap(),
        0o600
    );

    // The link was single-use: a second add is refused in words, and the vault is unchanged.
    let before = std::fs::read(&vault).unwrap();
    let link = format!("{}/authenticator/activate?code=CODE-1", server.issuer);
    let out = cli(&vault, &["add", &link]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("links work once"), "{}", text(&out));
    assert_eq!(std::fs::read(&vault).unwrap(), before);

    // A wrong passphrase stops `add` before the link is spent.
    let link = server.activation_link("CODE-2");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_postern-authenticator"))
        .arg("--vault")
        .arg(&vault)
        .args(["add", &link])
        .env("POSTERN_AUTHENTICATOR_PASSPHRASE", "not it")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("wrong passphrase"), "{}", text(&out));
    assert!(server.log().is_empty() && std::fs::read(&vault).unwrap() == before);
    let out = cli(&vault, &["add", &link, "--name", "Second"]).await;
    assert!(out.status.success(), "the link still works: {}", text(&out));
    assert_eq!(open(&vault).data.accounts[1].name, "Postern School:ada (2)");

    // `codes` and `list` show it.
    let out = cli(&vault, &["codes"]).await;
    assert!(text(&out).contains("Postern School:ada"), "{}", text(&out));
    let out = cli(&vault, &["list"]).await;
    assert!(
        text(&out).contains("device 'Test laptop'"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_json_lists_requests_without_the_number_and_approve_answers_signed() {
    let server = FakeServer::start().await;
    let (_dir, vault) = registered(&server).await;
    server.create_challenge("ch-approve-1", "Learning Hub", 42, false);

    let out = cli(&vault, &["pending", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = &list.as_array().unwrap()[0];
    assert_eq!(item["id"], "ch-approve-1");
    assert_eq!(item["app"], "Learning Hub");
    assert_eq!(item["ip"], "203.0.113.7");
    assert_eq!(item["account"], "Postern School:ada");
    assert!(item["created"].as_str().unwrap().contains('T'));
    assert!(item["expires"].as_str().unwrap().contains('T'));
    // Never the number (checked field by field: a timestamp may well contain "42").
    let fields = item.as_object().unwrap();
    assert!(
        !fields.keys().any(|k| k.contains("number"))
            && !fields
                .values()
                .any(|v| *v == serde_json::json!(42) || *v == serde_json::json!("42")),
        "never the number: {item}"
    );
    // A script's --json is not "shown to the user".
    assert!(!server.challenge("ch-approve-1", |c| c.shown));

    // Approve by a unique prefix of the id, with the number the browser shows.
    let out = cli(&vault, &["approve", "ch-approve", "--number", "42"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Approved"), "{}", text(&out));
    server.challenge("ch-approve-1", |c| {
        assert!(c.shown, "shown is posted before the answer");
        let answer = c.answer.as_ref().unwrap();
        assert_eq!(
            (answer.decision, answer.number, answer.report),
            (Decision::Approve, Some(42), false)
        );
    });
    let log = server.log();
    let shown_at = log
        .iter()
        .position(|l| l == "POST /idp/api/authenticator/v1/challenges/ch-approve-1/shown")
        .unwrap();
    let answer_at = log
        .iter()
        .position(|l| l == "POST /idp/api/authenticator/v1/challenges/ch-approve-1/answer")
        .unwrap();
    assert!(shown_at < answer_at, "{log:?}");
    assert!(server.state.lock().unwrap().refused.is_empty());

    // Answering again: the server says it was answered; exit 1, in words.
    let out = cli(&vault, &["approve", "ch-approve-1", "--number", "42"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("already answered"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_number_and_deny_with_report() {
    let server = FakeServer::start().await;
    let (_dir, vault) = registered(&server).await;
    server.create_challenge("ch-wrong", "Learning Hub", 42, false);
    server.create_challenge("ch-fraud", "Mail", 17, false);

    let out = cli(&vault, &["approve", "ch-wrong", "--number", "24"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Wrong number"), "{}", text(&out));

    // Human `pending` shows the other one and marks it shown.
    let out = cli(&vault, &["pending"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("Mail for ada"), "{shown}");
    assert!(shown.contains("from 203.0.113.7"), "{shown}");
    assert!(
        shown.contains("postern-authenticator approve ch-fraud --number NN"),
        "{shown}"
    );
    assert!(server.challenge("ch-fraud", |c| c.shown));

    let out = cli(&vault, &["deny", "ch-fraud", "--report"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Denied and reported"), "{}", text(&out));
    server.challenge("ch-fraud", |c| {
        let answer = c.answer.as_ref().unwrap();
        assert_eq!(
            (answer.decision, answer.number, answer.report),
            (Decision::Deny, None, true)
        );
    });

    let out = cli(&vault, &["pending"]).await;
    assert!(
        text(&out).contains("No sign-in requests waiting"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_clock_registration_and_reachability() {
    let server = FakeServer::start().await;
    let (_dir, vault) = registered(&server).await;

    let out = cli(&vault, &["doctor"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(
        report.contains("device 'Test laptop' is registered for ada"),
        "{report}"
    );
    assert!(report.contains("within"), "{report}");
    assert!(
        report.contains("last connected before this check"),
        "{report}"
    );
    assert!(report.contains("(private, 0600)"), "{report}");

    // 45 s off: a warning, still exit 0.
    server.state.lock().unwrap().clock_offset_ms = 45_000;
    let out = cli(&vault, &["doctor"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("WARN"), "{}", text(&out));
    assert!(text(&out).contains("45."), "{}", text(&out));

    // 90 s off: the server refuses the signature; the Date header still measures it.
    server.state.lock().unwrap().clock_offset_ms = 90_000;
    let out = cli(&vault, &["doctor", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "fail");
    let checks = json["accounts"][0]["checks"].as_array().unwrap();
    let clock = checks.iter().find(|c| c["what"] == "clock").unwrap();
    assert_eq!(clock["status"], "fail");
    let detail = clock["detail"].as_str().unwrap();
    assert!(
        detail.contains("s behind it") && detail.contains("NTP"),
        "{detail}"
    );
    server.state.lock().unwrap().clock_offset_ms = 0;

    // The device was removed from the account.
    server.remove_device("dev-1");
    let out = cli(&vault, &["doctor"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out)
            .contains("this device was removed from the account; add it again from Security info"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_when_the_server_cannot_be_reached() {
    let server = FakeServer::start().await;
    let (_dir, vault) = registered(&server).await;
    // Point the account at a port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/idp", closed.local_addr().unwrap());
    drop(closed);
    Vault::modify(&vault, &Passphrase::new(PASSPHRASE), None, |data| {
        data.accounts[0].push.as_mut().unwrap().api_base = dead.clone();
        Ok::<_, postern_authenticator::vault::VaultError>(())
    })
    .unwrap();
    let out = cli(&vault, &["doctor"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot reach"), "{}", text(&out));
}

fn fast() -> ListenOptions {
    ListenOptions {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        idle_timeout: Duration::from_secs(10),
        stable_after: Duration::from_secs(10),
    }
}

async fn next_event(rx: &mut tokio::sync::mpsc::UnboundedReceiver<ListenEvent>) -> ListenEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("listen still running")
}

/// Skips reconnect noise; returns the next request or resolution.
async fn next_request_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<ListenEvent>,
) -> ListenEvent {
    loop {
        match next_event(rx).await {
            e @ (ListenEvent::Challenge { .. } | ListenEvent::Resolved { .. }) => return e,
            ListenEvent::Removed { error, .. } => panic!("removed: {error}"),
            _ => {}
        }
    }
}

fn challenge_id(event: &ListenEvent) -> &str {
    match event {
        ListenEvent::Challenge { challenge, .. } => &challenge.id,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_fetches_pending_after_every_reconnect_so_nothing_sent_offline_is_lost() {
    let server = FakeServer::start().await;
    let client = Client::new().unwrap();
    let link = server.activation_link("CODE-L");
    let account: Account = client.activate(&link, "Listener").await.unwrap();

    // A request made before the app connects at all.
    server.create_challenge("before", "Learning Hub", 11, false);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn({
        let client = client.clone();
        let account = account.clone();
        async move {
            listen(&client, vec![account], fast(), move |e| {
                let _ = tx.send(e);
            })
            .await;
        }
    });
    assert!(matches!(
        next_event(&mut rx).await,
        ListenEvent::Connected { .. }
    ));
    assert_eq!(challenge_id(&next_request_event(&mut rx).await), "before");

    // Live over the stream.
    server.create_challenge("live", "Mail", 12, true);
    assert_eq!(challenge_id(&next_request_event(&mut rx).await), "live");

    // The connection drops; the server cannot stream for a while (restarting); meanwhile a
    // request is made whose wake-up goes nowhere, and "before" is answered elsewhere.
    server.state.lock().unwrap().refuse_events = true;
    server.drop_streams();
    server.create_challenge("offline", "Wiki", 13, false);
    server.resolve_elsewhere("before", false);
    let mut saw_disconnect = false;
    let mut got = Vec::new();
    while got.len() < 2 {
        match next_event(&mut rx).await {
            ListenEvent::Disconnected { .. } => saw_disconnect = true,
            ListenEvent::Challenge { challenge, .. } => got.push(format!("new {}", challenge.id)),
            ListenEvent::Resolved { id, .. } => got.push(format!("resolved {id}")),
            other => panic!("{other:?}"),
        }
    }
    // Even without a stream the pull found both changes.
    assert!(saw_disconnect);
    got.sort();
    assert_eq!(got, ["new offline", "resolved before"]);

    // Streams come back: after the reconnect, /pending again, and no duplicates.
    server.state.lock().unwrap().refuse_events = false;
    loop {
        match next_event(&mut rx).await {
            ListenEvent::Connected { .. } => break,
            ListenEvent::Disconnected { .. } => {}
            other => panic!("no duplicates expected: {other:?}"),
        }
    }
    server.create_challenge("after", "Calendar", 14, true);
    assert_eq!(challenge_id(&next_request_event(&mut rx).await), "after");

    let log = server.log();
    let events = "GET /idp/api/authenticator/v1/events";
    let pending = "GET /idp/api/authenticator/v1/pending";
    let connects: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, l)| *l == events)
        .map(|(i, _)| i)
        .collect();
    assert!(connects.len() >= 2, "{log:?}");
    for &i in &connects {
        assert_eq!(log.get(i + 1).map(String::as_str), Some(pending), "{log:?}");
    }
    assert!(server.state.lock().unwrap().refused.is_empty());

    // Removing the device stops the listener for it.
    server.remove_device(&account.push.as_ref().unwrap().device_id);
    server.drop_streams();
    loop {
        match next_event(&mut rx).await {
            ListenEvent::Removed { error, .. } => {
                assert!(error.contains("removed from the account"), "{error}");
                break;
            }
            ListenEvent::Disconnected { .. } | ListenEvent::Connected { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_answers_and_reports_api_errors() {
    let server = FakeServer::start().await;
    let client = Client::new().unwrap();
    let account = client
        .activate(&server.activation_link("CODE-A"), "Lib")
        .await
        .unwrap();
    server.create_challenge("c1", "Learning Hub", 42, false);
    let pending = client.pending(&account).await.unwrap();
    assert_eq!(pending.challenges.len(), 1);
    client.shown(&account, "c1").await.unwrap();
    let outcome = client
        .answer(&account, "c1", Decision::Approve, Some(42), false)
        .await
        .unwrap();
    assert_eq!(outcome, AnswerOutcome::Approved);
    let status = client.device_status(&account).await.unwrap();
    assert_eq!(status.device_name, "Lib");

    let err = client
        .answer(&account, "nope", Decision::Deny, None, false)
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("not_found"));

    // A clock 2 minutes off: the fake refuses the signature as the contract says.
    let skewed = Client::with_clock(std::sync::Arc::new(|| {
        postern_authenticator::client::system_now_ms() - 120_000
    }))
    .unwrap();
    let err = skewed.pending(&account).await.unwrap_err();
    assert_eq!(err.api_code(), Some("clock_skew"));
    assert!(err.to_string().contains("clock"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_binary_prints_requests_with_the_command_to_answer() {
    let server = FakeServer::start().await;
    let (_dir, vault) = registered(&server).await;
    server.create_challenge("ch-listen", "Learning Hub", 42, false);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_postern-authenticator"))
        .arg("--vault")
        .arg(&vault)
        .arg("listen")
        .env("POSTERN_AUTHENTICATOR_PASSPHRASE", PASSPHRASE)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("approve ch-listen --number NN") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "{seen}");
    assert!(seen.contains("Learning Hub for ada"), "{seen}");
    assert!(seen.contains("from 203.0.113.7"), "{seen}");
    // Printed on the terminal = shown.
    let mut shown = false;
    for _ in 0..50 {
        if server.challenge("ch-listen", |c| c.shown) {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown);
    child.kill().await.unwrap();
}
