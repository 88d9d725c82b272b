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
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input (--password-stdin), or the
    /// account has none (--no-password) and signs in with a temporary access pass.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long, conflicts_with = "no_password")]
        password_stdin: bool,
        /// No password: the user signs in with a temporary access pass.
        #[arg(long)]
        no_password: bool,
    },
    /// List accounts (by username), optionally those matching a search.
    List {
        /// Part of a username, email or name.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show one account, with its locks and role.
    Show { user: String },
    /// Change an account's email or display name (an empty value clears it).
    Update {
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Disable an account: its sign-ins are refused (50057) and its sessions end.
    Disable { user: String },
    /// Enable a disabled account.
    Enable { user: String },
    /// Set a new password, read from standard input; ends sessions, lifts the password lock.
    SetPassword {
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// The account's sign-in methods: type, name, added, last used, default, codes left, each
    /// device's app version and last contact, and any temporary access pass.
    Methods { user: String },
    /// Remove one method (by id, from `user methods`); a device's offline codes go with it.
    RemoveMethod { user: String, method: String },
    /// Make a method the one asked for first.
    DefaultMethod { user: String, method: String },
    /// Lift the account's locks: wrong passwords, wrong codes, and push blocked after a report.
    Unlock { user: String },
    /// End every session, refresh token and remembered device, and forget unused activation
    /// links (a lost or stolen device).
    RevokeSessions { user: String },
    /// Remove every second factor and remembered device and end the sessions: under
    /// `policy.mfa = required` the next sign-in registers a new method (50079).
    RequireReregister { user: String },
    /// Grant a role for the helpdesk pages (/admin): admin, helpdesk or reader.
    Grant {
        user: String,
        #[arg(long)]
        role: String,
    },
    /// Take away the account's administrative role.
    Ungrant { user: String },
}

#[derive(Debug, Subcommand)]
enum TapCommand {
    /// Issue a pass and print it once. A user has at most one usable pass.
    Create {
        user: String,
        /// 10m to 30d.
        #[arg(long, default_value = "1h")]
        lifetime: String,
        /// Single use (otherwise it works until it expires).
        #[arg(long)]
        once: bool,
    },
    /// Show whether the user has a pass, and its state (never the pass).
    Show { user: String },
    /// Delete the user's pass.
    Delete { user: String },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register an application. Prints its client id and, for confidential clients, a secret shown once.
    Create {
        #[arg(long)]
        name: String,
        /// Exact redirect URI (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Exact post-logout redirect URI (repeat for several).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (browser or native app): no secret, PKCE S256 required.
        #[arg(long)]
        public: bool,
        /// ID token signing algorithm: RS256 (default), ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        id_token_alg: String,
    },
    /// List applications.
    List,
    /// Show one application.
    Show { client_id: String },
    /// Replace the redirect URIs.
    SetRedirects {
        client_id: String,
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
    },
    /// A new secret for a confidential client, shown once; the old one stops working.
    RotateSecret { client_id: String },
    /// Delete an application.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
enum SigninsCommand {
    /// A sign-in with its steps; ID is its correlation id or the request id of any of its requests.
    Show { id: String },
    /// What happened in a sign-in and why, with suggested fixes; ID is a request or correlation id.
    Diagnose { id: String },
    /// Sign-ins, newest first, optionally filtered.
    List {
        /// A username or user id.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
        /// success, failure, interrupted or in_progress.
        #[arg(long)]
        result: Option<String>,
        #[arg(long)]
        error_code: Option<String>,
        /// An RFC 3339 time or an age such as 24h or 7d.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Every sign-in since a time, with its steps, one JSON object per line (for a log system).
    Export {
        /// An RFC 3339 time or an age such as 24h or 7d.
        #[arg(long)]
        since: String,
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Administrative changes, newest first.
    List {
        /// A username, user id, client id or token id.
        #[arg(long)]
        target: Option<String>,
        /// An action such as user.unlock or access_pass.create.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a token and print it once (store it in a file readable only by you).
    Create {
        /// What or who it is for [default: ROLE-token-DATE].
        #[arg(long)]
        name: Option<String>,
        /// admin (everything), helpdesk (read; unlock, passes, revoke sessions, re-register), or
        /// reader (read only).
        #[arg(long)]
        role: String,
        /// Lifetime such as 30d; no expiry when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by id or name.
    Revoke { token: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys.
    List,
    /// Make new signing keys; old public keys stay published until their tokens expire.
    Rotate,
}

type CmdResult = Result<(), String>;

pub async fn run(config: Config, args: AdminArgs) -> CmdResult {
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
        AdminCommand::Keys(_) => Ok(()),
    };
    api.close().await;
    result
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

fn print_user(u: &Value) {
    let mut line = format!(
        "{}  id={}  name={}  email={}  {}  created {}",
        text(&u["username"]),
        text(&u["id"]),
        u["name"].as_str().unwrap_or("-"),
        u["email"].as_str().unwrap_or("-"),
        if u["disabled"] == true {
            "DISABLED"
        } else {
            "enabled"
        },
        text(&u["created"]),
    );
    if let Some(role) = u["role"].as_str() {
        line.push_str(&format!("  role={role}"));
    }
    if let Some(t) = u["locked_until"].as_str() {
        line.push_str(&format!("  LOCKED until {t}"));
    }
    if let Some(t) = u["second_factor_locked_until"].as_str() {
        line.push_str(&format!("  codes locked until {t}"));
    }
    if u["push_blocked"] == true {
        line.push_str("  push blocked");
    }
    println!("{line}");
}

fn print_methods(username: &str, methods: &Value) {
    let list = methods.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("{username}: no second factor registered");
    }
    let mut ways = 0;
    for m in &list {
        let kind = text(&m["type"]);
        if kind != "temporary_access_pass" {
            ways += 1;
        }
        let mut line = format!(
            "{}  {}  '{}'  added {}",
            text(&m["id"]),
            kind,
            text(&m["name"]),
            text(&m["created"])
        );
        if let Some(used) = m["last_used"].as_str() {
            line.push_str(&format!(", last used {used}"));
        }
        if let Some(n) = m["codes_left"].as_u64() {
            line.push_str(&format!(", {n} of 10 codes left"));
        }
        if let Some(v) = m["app_version"].as_str() {
            line.push_str(&format!(", app {v}"));
        }
        match m["notifications"].as_u64() {
            Some(0) => line.push_str(", notifications off"),
            Some(_) => line.push_str(", notifications on"),
            None => {}
        }
        if let Some(seen) = m["last_contact"].as_str() {
            line.push_str(&format!(", last contact {seen}"));
        } else if kind == "authenticator" {
            line.push_str(", never connected");
        }
        if let Some(state) = m["state"].as_str() {
            line.push_str(&format!(
                ", {state}, {} , expires {}",
                if m["once"] == true {
                    "one-time"
                } else {
                    "multi-use"
                },
                text(&m["expires"])
            ));
        }
        if m["is_default"] == true {
            line.push_str(" (default)");
        }
        println!("{line}");
    }
    if ways == 1 {
        println!("warning: only one way in; if it is lost the user needs the helpdesk");
    }
}

async fn user(api: &Api, out: &Out, cmd: UserCommand) -> CmdResult {
    let path = |u: &str, rest: &str| format!("/admin/v1/users/{}{rest}", seg(u));
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            password_stdin,
            no_password,
        } => {
            let password = if no_password {
                None
            } else {
                Some(read_password(password_stdin)?)
            };
            let mut body = json!({ "username": username, "email": email, "name": name });
            if let Some(p) = &password {
                body["password"] = p.expose().into();
            }
            let u = api
                .call(Method::POST, "/admin/v1/users", Some(body))
                .await?;
            out.show(&u, |u| {
                print!("created ");
                print_user(u);
            });
        }
        UserCommand::List { search, limit } => {
            let mut items = vec![];
            let mut cursor: Option<String> = None;
            loop {
                let page_limit = (limit - items.len() as i64).clamp(1, 500);
                let q = query(&[
                    ("search", search.clone()),
                    ("limit", Some(page_limit.to_string())),
                    ("cursor", cursor.clone()),
                ]);
                let page = api
                    .call(Method::GET, &format!("/admin/v1/users{q}"), None)
                    .await?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                cursor = page["next_cursor"].as_str().map(str::to_owned);
                if cursor.is_none() || items.len() as i64 >= limit {
                    break;
                }
            }
            let list = Value::Array(items);
            out.show(&list, |list| {
                let users = list.as_array().cloned().unwrap_or_default();
                if users.is_empty() {
                    println!("no users found (create one: postern admin user create USERNAME --password-stdin)");
                }
                users.iter().for_each(print_user);
            });
        }
        UserCommand::Show { user } => {
            let u = api.call(Method::GET, &path(&user, ""), None).await?;
            out.show(&u, print_user);
        }
        UserCommand::Update { user, email, name } => {
            let u = api
                .call(
                    Method::PATCH,
                    &path(&user, ""),
                    Some(json!({ "email": email, "name": name })),
                )
                .await?;
            out.show(&u, |u| {
                print!("updated ");
                print_user(u);
            });
        }
        UserCommand::Disable { user } => {
            let u = api
                .call(Method::POST, &path(&user, "/disable"), None)
                .await?;
            out.show(&u, |u| {
                println!(
                    "{}: disabled; sessions and refresh tokens revoked",
                    text(&u["username"])
                )
            });
        }
        UserCommand::Enable { user } => {
            let u = api
                .call(Method::POST, &path(&user, "/enable"), None)
                .await?;
            out.show(&u, |u| println!("{}: enabled", text(&u["username"])));
        }
        UserCommand::SetPassword {
            user,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let body = json!({ "password": password.expose() });
            let u = api
                .call(Method::PUT, &path(&user, "/password"), Some(body))
                .await?;
            out.show(&u, |u| {
                println!(
                    "{}: password set; sessions and refresh tokens revoked; lockout cleared",
                    text(&u["username"])
                )
            });
        }
        UserCommand::Methods { user } => {
            let methods = api
                .call(Method::GET, &path(&user, "/authentication/methods"), None)
                .await?;
            out.show(&methods, |m| print_methods(&user, m));
        }
        UserCommand::RemoveMethod { user, method } => {
            let p = path(&user, &format!("/authentication/methods/{}", seg(&method)));
            api.call(Method::DELETE, &p, None).await?;
            out.show(&json!({ "removed": method }), |_| {
                println!("{user}: method {method} removed")
            });
        }
        UserCommand::DefaultMethod { user, method } => {
            let methods = api
                .call(
                    Method::PUT,
                    &path(&user, "/authentication/default-method"),
                    Some(json!({ "method_id": method })),
                )
                .await?;
            out.show(&methods, |m| print_methods(&user, m));
        }
        UserCommand::Unlock { user } => {
            let u = api
                .call(Method::POST, &path(&user, "/unlock"), None)
                .await?;
            out.show(&u, |u| {
                println!(
                    "{}: unlocked: password and second-factor lockouts cleared, push allowed",
                    text(&u["username"])
                )
            });
        }
        UserCommand::RevokeSessions { user } => {
            let u = api
                .call(Method::POST, &path(&user, "/revoke-sessions"), None)
                .await?;
            out.show(&u, |u| {
                println!(
                    "{}: sessions, refresh tokens, remembered devices and unused activation links revoked",
                    text(&u["username"])
                )
            });
        }
        UserCommand::RequireReregister { user } => {
            let u = api
                .call(Method::POST, &path(&user, "/require-reregister"), None)
                .await?;
            out.show(&u, |u| {
                println!(
                    "{}: every second factor removed, sessions revoked: the next sign-in registers a new method",
                    text(&u["username"])
                )
            });
        }
        UserCommand::Grant { user, role } => {
            let u = api
                .call(
                    Method::PUT,
                    &path(&user, "/role"),
                    Some(json!({ "role": role })),
                )
                .await?;
            out.show(&u, |u| {
                println!(
                    "{}: role {} granted",
                    text(&u["username"]),
                    text(&u["role"])
                )
            });
        }
        UserCommand::Ungrant { user } => {
            let u = api
                .call(
                    Method::PUT,
                    &path(&user, "/role"),
                    Some(json!({ "role": null })),
                )
                .await?;
            out.show(&u, |u| {
                println!("{}: administrative role removed", text(&u["username"]))
            });
        }
    }
    Ok(())
}

async fn tap(api: &Api, out: &Out, cmd: TapCommand) -> CmdResult {
    let path = |u: &str| {
        format!(
            "/admin/v1/users/{}/authentication/temporary-access-pass",
            seg(u)
        )
    };
    match cmd {
        TapCommand::Create {
            user,
            lifetime,
            once,
        } => {
            let minutes = postern_core::credential::access_pass::parse_duration(&lifetime)
                .ok_or_else(|| {
                    format!("--lifetime '{lifetime}': use a length such as 10m, 1h or 30d")
                })?
                .whole_minutes();
            let body = json!({ "lifetime_minutes": minutes, "once": once });
            let issued = api.call(Method::POST, &path(&user), Some(body)).await?;
            out.show(&issued, |p| {
                println!("Temporary Access Pass for {}: {}", text(&p["username"]), text(&p["pass"]));
                println!(
                    "  {}, expires {}",
                    if p["once"] == true { "one-time" } else { "multi-use until it expires" },
                    text(&p["expires"])
                );
                println!("  Give it to the user now: it is stored hashed and cannot be shown again.");
                println!("  They choose \"Sign in with a temporary access pass\" and then register a new method.");
            });
        }
        TapCommand::Show { user } => {
            let methods = api
                .call(
                    Method::GET,
                    &format!("/admin/v1/users/{}/authentication/methods", seg(&user)),
                    None,
                )
                .await?;
            let pass = methods
                .as_array()
                .and_then(|m| {
                    m.iter()
                        .find(|m| m["type"] == "temporary_access_pass")
                        .cloned()
                })
                .unwrap_or(Value::Null);
            out.show(&pass, |p| {
                if p.is_null() {
                    println!("{user}: no temporary access pass");
                } else {
                    println!(
                        "{user}: temporary access pass {}, {}, created {}, expires {}",
                        text(&p["state"]),
                        if p["once"] == true {
                            "one-time"
                        } else {
                            "multi-use"
                        },
                        text(&p["created"]),
                        text(&p["expires"])
                    );
                }
            });
        }
        TapCommand::Delete { user } => {
            api.call(Method::DELETE, &path(&user), None).await?;
            out.show(&json!({ "deleted": true }), |_| {
                println!("{user}: temporary access pass deleted")
            });
        }
    }
    Ok(())
}

fn print_client(c: &Value) {
    println!(
        "{}  {}  {}  id_token={}  redirect={}",
        text(&c["id"]),
        text(&c["name"]),
        text(&c["kind"]),
        text(&c["id_token_alg"]),
        c["redirect_uris"]
            .as_array()
            .map(|u| u.iter().map(text).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
}

fn print_secret(c: &Value) {
    println!("Registered '{}'.", text(&c["name"]));
    println!("  client_id:     {}", text(&c["id"]));
    match c["client_secret"].as_str() {
        Some(s) => {
            println!("  client_secret: {s}");
            println!("  Copy the secret now: it is stored hashed and cannot be shown again.");
        }
        None => println!("  public client: no secret; the app must use PKCE (S256)."),
    }
}

async fn client(api: &Api, out: &Out, cmd: ClientCommand) -> CmdResult {
    let path = |c: &str, rest: &str| format!("/admin/v1/clients/{}{rest}", seg(c));
    match cmd {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            id_token_alg,
        } => {
            let body = json!({
                "name": name, "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
                "public": public, "id_token_alg": id_token_alg,
            });
            let c = api
                .call(Method::POST, "/admin/v1/clients", Some(body))
                .await?;
            out.show(&c, print_secret);
        }
        ClientCommand::List => {
            let list = api.call(Method::GET, "/admin/v1/clients", None).await?;
            out.show(&list, |l| {
                l.as_array().into_iter().flatten().for_each(print_client)
            });
        }
        ClientCommand::Show { client_id } => {
            let c = api.call(Method::GET, &path(&client_id, ""), None).await?;
            out.show(&c, print_client);
        }
        ClientCommand::SetRedirects {
            client_id,
            redirect_uris,
            post_logout_redirect_uris,
        } => {
            let body = json!({ "redirect_uris": redirect_uris, "post_logout_redirect_uris": post_logout_redirect_uris });
            let c = api
                .call(Method::PATCH, &path(&client_id, ""), Some(body))
                .await?;
            out.show(&c, print_client);
        }
        ClientCommand::RotateSecret { client_id } => {
            let c = api
                .call(Method::POST, &path(&client_id, "/rotate-secret"), None)
                .await?;
            out.show(&c, print_secret);
        }
        ClientCommand::Delete { client_id } => {
            api.call(Method::DELETE, &path(&client_id, ""), None)
                .await?;
            out.show(
                &json!({ "client_id": client_id, "result": "deleted" }),
                |_| println!("deleted {client_id}"),
            );
        }
    }
    Ok(())
}

fn print_signin(e: &Value) {
    println!("Sign-in {}", text(&e["correlation_id"]));
    println!("  started:   {}", text(&e["started"]));
    let code = e["error_code"].as_u64().and_then(|c| u32::try_from(c).ok());
    println!(
        "  result:    {}{}",
        text(&e["result"]),
        code.and_then(postern_proto::ErrorCode::from_code)
            .map(|c| format!(" (error {c}: {})", c.info().title))
            .unwrap_or_default()
    );
    if let Some(reason) = e["failure_reason"].as_str() {
        println!("  reason:    {reason}");
    }
    println!("  user:      {}", e["username"].as_str().unwrap_or("-"));
    println!(
        "  app:       {} {}",
        e["client_name"].as_str().unwrap_or("-"),
        e["client_id"]
            .as_str()
            .map(|c| format!("({c})"))
            .unwrap_or_default()
    );
    println!(
        "  from:      {} {}",
        e["ip"].as_str().unwrap_or("-"),
        e["user_agent"].as_str().unwrap_or("")
    );
    let rids: Vec<&str> = e["request_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    println!("  requests:  {}", rids.join(", "));
    println!("  steps:");
    for s in e["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(e["timeline"].as_array().into_iter().flatten())
    {
        println!(
            "    {}  {:<12} {:<8} {}",
            text(&s["time"]),
            text(&s["method"]),
            text(&s["result"]),
            text(&s["detail"])
        );
    }
}

fn print_diagnosis(d: &Value) {
    print_signin(d);
    println!();
    println!("Cause ({}):", text(&d["cause"]["kind"]));
    println!("  {}", text(&d["cause"]["summary"]));
    let fixes = d["fixes"].as_array().cloned().unwrap_or_default();
    if !fixes.is_empty() {
        println!("Suggested fixes:");
        for f in fixes {
            match f["action"].as_str() {
                Some(a) => println!("  - {} [{}]", text(&f["text"]), a),
                None => println!("  - {}", text(&f["text"])),
            }
        }
    }
    let user = d["username"].as_str().unwrap_or("-");
    if let Some(methods) = d["methods"].as_array() {
        println!("Methods of {user} now:");
        if methods.is_empty() {
            println!("  none");
        }
        for m in methods {
            let mut line = format!("  {} '{}'", text(&m["kind"]), text(&m["name"]));
            if let Some(seen) = m["last_contact"].as_str() {
                line.push_str(&format!(", last contact {seen}"));
            }
            if let Some(n) = m["codes_left"].as_u64() {
                line.push_str(&format!(", {n} codes left"));
            }
            println!("{line}");
        }
    }
    for w in d["warnings"].as_array().into_iter().flatten() {
        println!("warning: {}", text(w));
    }
}

async fn signins(api: &Api, out: &Out, cmd: SigninsCommand) -> CmdResult {
    match cmd {
        SigninsCommand::Show { id } => {
            let e = api
                .call(
                    Method::GET,
                    &format!("/admin/v1/signins/{}", seg(id.trim())),
                    None,
                )
                .await?;
            out.show(&e, print_signin);
        }
        SigninsCommand::Diagnose { id } => {
            let d = api
                .call(
                    Method::GET,
                    &format!("/admin/v1/signins/{}/diagnosis", seg(id.trim())),
                    None,
                )
                .await?;
            out.show(&d, print_diagnosis);
        }
        SigninsCommand::List {
            user,
            client_id,
            result,
            error_code,
            since: from,
            limit,
        } => {
            let from = from.as_deref().map(since).transpose()?;
            let q = query(&[
                ("user", user),
                ("client_id", client_id),
                ("result", result),
                ("error_code", error_code),
                ("from", from),
                ("limit", Some(limit.clamp(1, 500).to_string())),
            ]);
            let page = api
                .call(Method::GET, &format!("/admin/v1/signins{q}"), None)
                .await?;
            let items = Value::Array(page["items"].as_array().cloned().unwrap_or_default());
            out.show(&items, |items| {
                for e in items.as_array().into_iter().flatten() {
                    println!(
                        "{}  {}  {:<11} {:<8} {}  {}",
                        text(&e["started"]),
                        text(&e["correlation_id"]),
                        text(&e["result"]),
                        e["error_code"]
                            .as_u64()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        e["username"].as_str().unwrap_or("-"),
                        e["client_name"].as_str().unwrap_or("-")
                    );
                }
            });
        }
        SigninsCommand::Export {
            since: from,
            format,
        } => {
            if format != "jsonl" {
                return Err("--format: only jsonl (one JSON object per line) is supported".into());
            }
            // Page by page (500 sign-ins each), oldest first, written as they come.
            let since = since(&from)?;
            let mut cursor = None;
            loop {
                let q = query(&[
                    ("since", Some(since.clone())),
                    ("format", Some(format.clone())),
                    ("cursor", cursor),
                ]);
                let (lines, next) = api.text(&format!("/admin/v1/signins/export{q}")).await?;
                print!("{lines}");
                match next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

async fn audit(api: &Api, out: &Out, cmd: AuditCommand) -> CmdResult {
    let AuditCommand::List {
        target,
        action,
        since: from,
        limit,
    } = cmd;
    let from = from.as_deref().map(since).transpose()?;
    let q = query(&[
        ("target", target),
        ("action", action),
        ("from", from),
        ("limit", Some(limit.clamp(1, 500).to_string())),
    ]);
    let page = api
        .call(Method::GET, &format!("/admin/v1/audit{q}"), None)
        .await?;
    let items = Value::Array(page["items"].as_array().cloned().unwrap_or_default());
    out.show(&items, |items| {
        for e in items.as_array().into_iter().flatten() {
            let signin = e["correlation_id"]
                .as_str()
                .map(|c| format!("  (sign-in {c})"))
                .unwrap_or_default();
            println!(
                "{}  {}  {}  {} '{}': {}{signin}",
                text(&e["time"]),
                text(&e["actor"]),
                text(&e["action"]),
                text(&e["target_type"]),
                text(&e["target_name"]),
                text(&e["detail"]),
            );
        }
    });
    Ok(())
}

async fn token(api: &Api, out: &Out, cmd: TokenCommand) -> CmdResult {
    match cmd {
        TokenCommand::Create {
            name,
            role,
            expires,
        } => {
            let days = match expires {
                None => None,
                Some(e) => {
                    let d = postern_core::credential::access_pass::parse_duration(&e).ok_or_else(
                        || format!("--expires '{e}': use a length such as 30d or 12w"),
                    )?;
                    Some(d.whole_days().max(1))
                }
            };
            let name = name.unwrap_or_else(|| {
                let now = iso8601(SystemClock.now());
                format!("{role}-token-{}", &now[..10])
            });
            let body = json!({ "name": name, "role": role, "expires_in_days": days });
            let t = api
                .call(Method::POST, "/admin/v1/tokens", Some(body))
                .await?;
            out.show(&t, |t| {
                println!("{}", text(&t["token"]));
                eprintln!(
                    "{} token '{}' (id {}), {}. Store it in a file only you can read: it cannot be shown again.",
                    text(&t["role"]),
                    text(&t["name"]),
                    text(&t["id"]),
                    t["expires"].as_str().map(|e| format!("expires {e}")).unwrap_or_else(|| "no expiry".into())
                );
            });
        }
        TokenCommand::List => {
            let list = api.call(Method::GET, "/admin/v1/tokens", None).await?;
            out.show(&list, |l| {
                for t in l.as_array().into_iter().flatten() {
                    let status = if t["revoked"].is_string() {
                        format!("revoked {}", text(&t["revoked"]))
                    } else if let Some(e) = t["expires"].as_str() {
                        format!("expires {e}")
                    } else {
                        "no expiry".into()
                    };
                    println!(
                        "{}  {:<20} {:<9} created {} by {}  {status}  last used {}",
                        text(&t["id"]),
                        text(&t["name"]),
                        text(&t["role"]),
                        text(&t["created"]),
                        text(&t["created_by"]),
                        t["last_used"].as_str().unwrap_or("never")
                    );
                }
            });
        }
        TokenCommand::Revoke { token } => {
            let t = api
                .call(
                    Method::DELETE,
                    &format!("/admin/v1/tokens/{}", seg(&token)),
                    None,
                )
                .await?;
            out.show(&t, |t| println!("token '{}' revoked", text(&t["name"])));
        }
    }
    Ok(())
}

async fn keys(config: &Config, store: &Store, cmd: KeysCommand, json: bool) -> CmdResult {
    match cmd {
        KeysCommand::List => {
            let keys = store.list_signing_keys().await.map_err(|e| e.to_string())?;
            let rows: Vec<_> = keys
                .iter()
                .map(|k| json!({
                    "kid": k.kid, "alg": k.alg.as_str(), "created": iso8601(k.created),
                    "retired": k.retired.map(iso8601), "published_until": k.publish_until.map(iso8601),
                }))
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else {
                for k in keys {
                    let status = match (k.retired, k.publish_until) {
                        (None, _) => "active".to_owned(),
                        (Some(_), Some(until)) => {
                            format!("retired, published until {}", iso8601(until))
                        }
                        (Some(_), None) => "retired".to_owned(),
                    };
                    println!(
                        "{}  {}  created {}  {status}",
                        k.kid,
                        k.alg,
                        iso8601(k.created)
                    );
                }
            }
        }
        KeysCommand::Rotate => {
            let (master, _) =
                crate::app::load_master_key(config, &OsRandom).map_err(|e| e.to_string())?;
            let keep = time::Duration::seconds(
                config
                    .tokens
                    .id_token_seconds
                    .max(config.tokens.access_token_seconds)
                    + 300,
            );
            let kids = crate::keys::rotate(store, &master, &OsRandom, SystemClock.now(), keep)
                .await
                .map_err(|e| e.to_string())?;
            if json {
                println!("{}", json!({ "new_kids": kids }));
            } else {
                println!("New signing keys: {}", kids.join(", "));
                println!(
                    "Running servers pick them up within a minute; old public keys stay published until their tokens expire."
                );
            }
        }
    }
    Ok(())
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
