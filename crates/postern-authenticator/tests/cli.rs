//! The binary without a server: help that teaches, TOTP accounts, the vault's passphrase
//! handling, export and import.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

const GITHUB: &str =
    "otpauth://totp/GitHub:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitHub";

fn run(vault: &Path, passphrase: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postern-authenticator"));
    command
        .arg("--vault")
        .arg(vault)
        .args(args)
        .env_remove("POSTERN_AUTHENTICATOR_VAULT")
        .env_remove("POSTERN_AUTHENTICATOR_PASSPHRASE")
        .env_remove("POSTERN_AUTHENTICATOR_EXPORT_PASSPHRASE")
        .env_remove("POSTERN_AUTHENTICATOR_IMPORT_PASSPHRASE")
        .stdin(Stdio::null());
    if let Some(p) = passphrase {
        command.env("POSTERN_AUTHENTICATOR_PASSPHRASE", p);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_teaches_with_examples() {
    let out = Command::new(env!("CARGO_BIN_EXE_postern-authenticator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "add",
        "add-totp",
        "list",
        "remove",
        "codes",
        "pending",
        "approve",
        "deny",
        "listen",
        "tui",
        "doctor",
        "export",
        "import",
        "Examples:",
        "postern-authenticator approve 3f2c9a --number 42",
        "POSTERN_AUTHENTICATOR_PASSPHRASE",
        "--passphrase-file",
        "--vault",
    ] {
        assert!(help.contains(word), "--help lacks {word:?}:\n{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_postern-authenticator"))
        .args(["approve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--number"), "{help}");
    assert!(help.contains("Example"), "{help}");

    // Bad usage is exit 2, with clap's message.
    let out = Command::new(env!("CARGO_BIN_EXE_postern-authenticator"))
        .args(["approve", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn totp_accounts_codes_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.json");
    let out = run(&vault, Some("pw"), &["add-totp", GITHUB]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Added 'GitHub:ada'"), "{}", text(&out));
    assert_eq!(
        postern_authenticator::vault::file_mode(&vault).unwrap(),
        0o600
    );

    let out = run(
        &vault,
        Some("pw"),
        &["add-totp", "otpauth://totp/x?secret=GEZDGNBV&digits=9"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("digits must be 6, 7 or 8"),
        "{}",
        text(&out)
    );

    let out = run(&vault, Some("pw"), &["codes", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let codes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = &codes[0];
    assert_eq!(code["account"], "GitHub:ada");
    assert_eq!(code["code"].as_str().unwrap().len(), 6);
    let left = code["seconds_left"].as_u64().unwrap();
    assert!((1..=30).contains(&left));

    let out = run(&vault, Some("pw"), &["remove", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("1. GitHub:ada"), "{}", text(&out));
    let out = run(&vault, Some("pw"), &["remove", "github:ada"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&vault, Some("pw"), &["list"]);
    assert!(text(&out).contains("The vault is empty"), "{}", text(&out));
}

#[test]
fn wrong_or_missing_passphrase_is_clear_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.json");
    assert!(
        run(&vault, Some("right"), &["add-totp", GITHUB])
            .status
            .success()
    );
    let before = std::fs::read(&vault).unwrap();

    let out = run(&vault, Some("wrong"), &["add-totp", GITHUB]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("wrong passphrase"), "{}", text(&out));
    assert!(text(&out).contains("nothing was changed"), "{}", text(&out));
    assert_eq!(std::fs::read(&vault).unwrap(), before);

    // No passphrase and no terminal: says how to give one. (setsid: no controlling terminal.)
    let out = Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_postern-authenticator"))
        .arg("--vault")
        .arg(&vault)
        .arg("codes")
        .env_remove("POSTERN_AUTHENTICATOR_PASSPHRASE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("POSTERN_AUTHENTICATOR_PASSPHRASE"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&vault).unwrap(), before);

    // --passphrase-file works, and wins over the environment.
    let file = dir.path().join("pass.txt");
    std::fs::write(&file, "right\n").unwrap();
    let out = run(
        &vault,
        Some("wrong"),
        &["--passphrase-file", file.to_str().unwrap(), "codes"],
    );
    assert!(out.status.success(), "{}", text(&out));

    // Commands that need a vault say where it was looked for.
    let out = run(&dir.path().join("none.json"), Some("pw"), &["codes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no vault at"), "{}", text(&out));
}

#[test]
fn export_and_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.json");
    let backup = dir.path().join("backup.vault");
    assert!(
        run(&vault, Some("pw"), &["add-totp", GITHUB])
            .status
            .success()
    );

    let pass_file = dir.path().join("backup-pass");
    std::fs::write(&pass_file, "backup secret\n").unwrap();
    let out = run(
        &vault,
        Some("pw"),
        &[
            "export",
            backup.to_str().unwrap(),
            "--export-passphrase-file",
            pass_file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Exported 1 account"), "{}", text(&out));
    assert_eq!(
        postern_authenticator::vault::file_mode(&backup).unwrap(),
        0o600
    );
    let out = run(&vault, Some("pw"), &["export", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--force"), "{}", text(&out));

    // Restore on "another machine" (a new vault with its own passphrase).
    let other = dir.path().join("other.json");
    let out = run(
        &other,
        Some("other pw"),
        &[
            "import",
            backup.to_str().unwrap(),
            "--import-passphrase-file",
            pass_file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("+ GitHub:ada"), "{}", text(&out));
    let a = run(&vault, Some("pw"), &["codes", "--json"]);
    let b = run(&other, Some("other pw"), &["codes", "--json"]);
    let code = |o: &Output| {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0]["account"].clone()
    };
    assert_eq!(code(&a), code(&b));

    // Importing again skips what is there; a wrong backup passphrase changes nothing.
    let out = run(
        &other,
        Some("other pw"),
        &[
            "import",
            backup.to_str().unwrap(),
            "--import-passphrase-file",
            pass_file.to_str().unwrap(),
        ],
    );
    assert!(text(&out).contains("skipped: GitHub:ada"), "{}", text(&out));
    let before = std::fs::read(&other).unwrap();
    std::fs::write(&pass_file, "not it\n").unwrap();
    let out = run(
        &other,
        Some("other pw"),
        &[
            "import",
            backup.to_str().unwrap(),
            "--import-passphrase-file",
            pass_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("wrong passphrase"), "{}", text(&out));
    assert_eq!(std::fs::read(&other).unwrap(), before);
}
