//! `postern admin …`: administration through the admin API — of the server's own store by
//! default (works while the server runs: SQLite in WAL mode, or PostgreSQL), or of a running
//! server with `--server URL --token-file F`. `--json` prints the API's JSON for scripts.

use super::admin_client::{Api, query, seg};
use crate::config::Config;
use axum::http::Method;
use clap::{Args, Subcommand};
use postern_core::clock::{Clock, SystemClock, iso8601};
use postern_core::credential::password::validate_new_password;
use postern_core::random::OsRandom;
use postern_core::secret::SecretString;
use postern_store::Store;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Output for people and scripts: a closed pipe (`postern admin … | head`) ends the output
/// quietly instead of panicking as `std`'s `println!` does.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod clients;
mod signins;
mod tokens;
mod users;

use clients::{ClientCommand, client};
use signins::{AuditCommand, SigninsCommand, audit, signins};
use tokens::{KeysCommand, TokenCommand, keys, token};
use users::{TapCommand, UserCommand, tap, user};

const ADMIN_HELP: &str = "\
Every command is a call to the admin API (/admin/v1), authorised and written to the audit log.

Without --server, commands act on the store the settings point at, as the local operator (an
admin). With --server and --token-file they act on a running server with that token's role:
  postern admin token create --name desk-1 --role helpdesk --expires 30d > desk-1.token
  postern admin --server https://id.school.example --token-file desk-1.token signins diagnose ID

The helpdesk's minute:
  postern admin signins diagnose 3f1c…        the timeline and cause of a failed sign-in
  postern admin tap create student --once     a temporary access pass to register a new device
  postern admin user unlock student           lift password, code and push locks";

#[derive(Debug, Args)]
#[command(after_help = ADMIN_HELP)]
pub struct AdminArgs {
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// A running Postern's base URL (with --token-file); without it, the local store.
    #[arg(long, global = true, value_name = "URL", requires = "token_file")]
    server: Option<String>,
    /// A file holding an admin API token (postern admin token create).
    #[arg(long, global = true, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
    /// The sign-in (request id or correlation id) this change fixes; recorded in the audit log.
    #[arg(long, global = true, value_name = "ID")]
    signin: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Accounts, their methods and locks.
    #[command(subcommand)]
    User(UserCommand),
    /// Temporary access passes: a time-limited passcode to sign in and register new methods.
    #[command(subcommand)]
    Tap(TapCommand),
    /// Applications (OAuth clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// The sign-in log: find, diagnose, export.
    #[command(subcommand)]
    Signins(SigninsCommand),
    /// The audit log of administrative changes.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Bearer tokens for the admin API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Token signing keys (local store only).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Move this deployment from SQLite to PostgreSQL (local store only; stop the server first).
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "\
Copies every table of the SQLite store the settings point at (users, methods, devices, passkeys,
applications, signing keys, sessions, the sign-in and audit logs…) into an empty PostgreSQL
database, in one transaction: each table's row count and checksum are compared on both sides
before anything is committed, and a database that already holds data is refused.

  systemctl stop postern
  postern admin migrate --to postgres://postern@db.school.example/postern
  # then on every node: POSTERN_DATABASE_URL=postgres://… and the same master key (data_dir/master.key)")]
struct MigrateArgs {
    /// The PostgreSQL database to fill (postgres://user@host/db); it must be empty.
    #[arg(long, value_name = "URL")]
    to: String,
}

type CmdResult = Result<(), String>;

pub async fn run(config: Config, args: AdminArgs) -> CmdResult {
    if let AdminCommand::Migrate(to) = &args.command {
        if args.server.is_some() {
            return Err("migrate runs where the SQLite file is (without --server)".into());
        }
        return migrate(&config, &to.to, args.json).await;
    }
    if let AdminCommand::Keys(cmd) = args.command {
        if args.server.is_some() {
            return Err("signing keys are managed on the server itself (without --server)".into());
        }
        let store = crate::app::open_store(&config)
            .await
            .map_err(|e| e.to_string())?;
        let result = keys(&config, &store, cmd, args.json).await;
        store.close().await;
        return result;
    }
    let api = match (&args.server, &args.token_file) {
        (Some(server), Some(file)) => Api::remote(server, file, args.signin.clone())?,
        _ => Api::local(config, args.signin.clone()).await?,
    };
    let out = Out { json: args.json };
    let result = match args.command {
        AdminCommand::User(cmd) => user(&api, &out, cmd).await,
        AdminCommand::Tap(cmd) => tap(&api, &out, cmd).await,
        AdminCommand::Client(cmd) => client(&api, &out, cmd).await,
        AdminCommand::Signins(cmd) => signins(&api, &out, cmd).await,
        AdminCommand::Audit(cmd) => audit(&api, &out, cmd).await,
        AdminCommand::Token(cmd) => token(&api, &out, cmd).await,
        AdminCommand::Keys(_) | AdminCommand::Migrate(_) => Ok(()),
    };
    api.close().await;
    result
}

/// `postern admin migrate --to URL`: SQLite → PostgreSQL, verified, in one transaction.
async fn migrate(config: &Config, to: &str, json: bool) -> CmdResult {
    use std::io::Write;
    let shown = crate::config::redact_url(to);
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(format!("--to: '{shown}' is not a postgres:// URL"));
    }
    if !config.database_url().starts_with("sqlite:") {
        return Err(
            "migrate copies a SQLite deployment: the settings point at PostgreSQL already".into(),
        );
    }
    // Nothing may write to the SQLite file during the copy: what a running node wrote after the
    // copy's snapshot (a changed password, a removed device, a revoked token) would be missing
    // from PostgreSQL. The node lock keeps `postern serve` out until the copy ends.
    let _lock = match crate::app::NodeLock::take(
        config,
        &format!("postern admin migrate, pid {}", std::process::id()),
    ) {
        crate::app::NodeLock::Held { holder, .. } => {
            return Err(format!(
                "a Postern node ({holder}) is serving this database: stop it first, so that nothing it writes during the copy is left behind"
            ));
        }
        crate::app::NodeLock::Failed(why) => return Err(why),
        lock => lock,
    };
    let source = crate::app::open_store(config)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("Connecting to {shown} (its schema is brought up to date first)…");
    let target = match postern_store::Store::connect(to).await {
        Ok(t) => t,
        Err(e) => {
            source.close().await;
            return Err(format!("--to {shown}: {e}"));
        }
    };
    let mut last = String::new();
    let copied = source
        .copy_into(&target, |table, rows| {
            if table != last {
                if !last.is_empty() {
                    eprintln!();
                }
                last = table.to_owned();
            }
            eprint!("\r  {table}: {rows} rows");
            let _ = std::io::stderr().flush();
        })
        .await;
    eprintln!();
    source.close().await;
    target.close().await;
    let copied = copied.map_err(|e| format!("nothing was copied: {e}"))?;
    let total: u64 = copied.iter().map(|t| t.rows).sum();
    if json {
        let tables: Vec<Value> = copied
            .iter()
            .map(|t| serde_json::json!({"table": t.table, "rows": t.rows, "checksum": format!("{:016x}", t.checksum)}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"to": shown, "tables": tables, "rows": total})
            )
            .unwrap_or_default()
        );
    } else {
        println!(
            "Copied {} tables, {total} rows into {shown}; every table's count and checksum match.",
            copied.len()
        );
        println!(
            "Next: set POSTERN_DATABASE_URL on every node, give each the same master key (POSTERN_MASTER_KEY or {}), and start them.",
            config.data_dir.join("master.key").display()
        );
    }
    Ok(())
}

/// Prints either the API's JSON or the human form.
struct Out {
    json: bool,
}

impl Out {
    fn show(&self, value: &Value, human: impl FnOnce(&Value)) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            human(&for_terminal(value));
        }
    }
}

/// The value with every control character in its strings shown escaped (`\u{1b}`): what the
/// server returns includes text anyone can type (usernames and client ids of failed sign-ins),
/// and a terminal must not obey escape sequences hidden in it. (JSON output escapes them itself.)
fn for_terminal(value: &Value) -> Value {
    match value {
        Value::String(s) if s.chars().any(char::is_control) => Value::String(
            s.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(for_terminal).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), for_terminal(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn read_password(flag: bool) -> Result<SecretString, String> {
    if !flag {
        return Err("pass the password on standard input with --password-stdin (it never belongs on a command line)".into());
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let password = SecretString::new(line.trim_end_matches(['\r', '\n']));
    validate_new_password(password.expose()).map_err(|e| e.to_string())?;
    Ok(password)
}

/// "7d", "24h" → that long ago; otherwise an RFC 3339 time as given.
fn since(text: &str) -> Result<String, String> {
    if let Some(age) = postern_core::credential::access_pass::parse_duration(text) {
        return Ok(iso8601(SystemClock.now() - age));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(iso8601)
        .map_err(|_| format!("'{text}' is neither an age such as 7d nor an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_see_control_characters_escaped() {
        let hostile = json!({ "username": "eve\u{1b}[2J\u{1b}]0;pwned\u{7}", "steps": [{ "detail": "ok\u{9b}" }], "n": 3 });
        let shown = for_terminal(&hostile);
        assert_eq!(shown["username"], "eve\\u{1b}[2J\\u{1b}]0;pwned\\u{7}");
        assert_eq!(shown["steps"][0]["detail"], "ok\\u{9b}");
        assert_eq!(shown["n"], 3);
        assert!(!shown.to_string().chars().any(char::is_control));
    }
}
