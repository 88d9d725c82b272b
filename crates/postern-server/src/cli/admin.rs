//! `postern admin …`: administration of the store the settings point at. Works while the server
//! runs (SQLite in WAL mode, or PostgreSQL). `--json` prints machine-readable output.

use crate::config::Config;
use clap::{Args, Subcommand};
use postern_core::client::{Client, ClientKind, validate_redirect_uri};
use postern_core::clock::{Clock, SystemClock, iso8601};
use postern_core::credential::password::{PasswordHasher, validate_new_password};
use postern_core::oidc::jws::SigningAlg;
use postern_core::random::{self, OsRandom};
use postern_core::secret::{SecretString, hash_token};
use postern_core::signin_log::SignInEntry;
use postern_core::user::{User, normalize_username, validate_email};
use postern_store::Store;
use serde_json::json;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Applications (OAuth clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// The sign-in log.
    #[command(subcommand)]
    Signins(SigninsCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Show one account.
    Show { username: String },
    /// Disable an account: its sign-ins are refused (50057) and its sessions end.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// Set a new password, read from standard input.
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the account's second factors: kind, name, added, last used, default, codes left,
    /// each device's last contact.
    Methods { username: String },
    /// Lift the account's locks: wrong passwords, wrong codes, and push blocked after a report.
    Unlock { username: String },
    /// End every session, refresh token and remembered device, and forget unused activation
    /// links (a lost or stolen device).
    RevokeSessions { username: String },
    /// Remove every second factor and remembered device and end the sessions: under
    /// `policy.mfa = required` the next sign-in registers a new method (50079).
    RequireReregister { username: String },
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
    /// Delete an application.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
enum SigninsCommand {
    /// A sign-in with its steps; ID is its correlation id or the request id of any of its requests.
    Show { id: String },
    /// Recent sign-ins, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
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
    let store = crate::app::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let result = match args.command {
        AdminCommand::User(cmd) => user(&config, &store, cmd, args.json).await,
        AdminCommand::Client(cmd) => client(&store, cmd, args.json).await,
        AdminCommand::Signins(cmd) => signins(&store, cmd, args.json).await,
        AdminCommand::Keys(cmd) => keys(&config, &store, cmd, args.json).await,
    };
    store.close().await;
    result
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

fn hasher(config: &Config) -> Result<PasswordHasher, String> {
    PasswordHasher::new(config.password, &OsRandom)
        .ok_or_else(|| "invalid Argon2id parameters".to_owned())
}

async fn find_user(store: &Store, username: &str) -> Result<User, String> {
    let name = normalize_username(username).map_err(|e| e.to_string())?;
    store
        .find_user_by_username(&name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user '{name}'"))
}

fn print_user(u: &User, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(u).unwrap_or_default());
    } else {
        println!(
            "{}  id={}  name={}  email={}  {}  created {}",
            u.username,
            u.id,
            u.name.as_deref().unwrap_or("-"),
            u.email.as_deref().unwrap_or("-"),
            if u.disabled { "DISABLED" } else { "enabled" },
            iso8601(u.created)
        );
    }
}

/// Creates a user (shared with the demo seeding).
pub async fn create_user(
    config: &Config,
    store: &Store,
    username: &str,
    email: Option<&str>,
    name: Option<&str>,
    password: &SecretString,
) -> Result<User, String> {
    let username = normalize_username(username).map_err(|e| e.to_string())?;
    let email = email
        .map(validate_email)
        .transpose()
        .map_err(|e| e.to_string())?;
    let hasher = hasher(config)?;
    let user = User {
        id: random::uuid(&OsRandom),
        username,
        email,
        name: name.map(|n| n.trim().chars().take(200).collect()),
        password_hash: Some(hasher.hash(password, &OsRandom)),
        disabled: false,
        created: SystemClock.now(),
    };
    store.create_user(&user).await.map_err(|e| e.to_string())?;
    Ok(user)
}

async fn user(config: &Config, store: &Store, cmd: UserCommand, json: bool) -> CmdResult {
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let u = create_user(
                config,
                store,
                &username,
                email.as_deref(),
                name.as_deref(),
                &password,
            )
            .await?;
            if !json {
                print!("created ");
            }
            print_user(&u, json);
        }
        UserCommand::List => {
            let users = store.list_users().await.map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&users).unwrap_or_default()
                );
            } else if users.is_empty() {
                println!("no users yet: postern admin user create USERNAME --password-stdin");
            } else {
                users.iter().for_each(|u| print_user(u, false));
            }
        }
        UserCommand::Show { username } => print_user(&find_user(store, &username).await?, json),
        UserCommand::Disable { username } => {
            let u = find_user(store, &username).await?;
            store
                .set_user_disabled(&u.id, true)
                .await
                .map_err(|e| e.to_string())?;
            store
                .delete_user_sessions(&u.id)
                .await
                .map_err(|e| e.to_string())?;
            store
                .revoke_user_tokens(&u.id, SystemClock.now())
                .await
                .map_err(|e| e.to_string())?;
            report(json, &u, "disabled; sessions and refresh tokens revoked");
        }
        UserCommand::Enable { username } => {
            let u = find_user(store, &username).await?;
            store
                .set_user_disabled(&u.id, false)
                .await
                .map_err(|e| e.to_string())?;
            report(json, &u, "enabled");
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let u = find_user(store, &username).await?;
            let password = read_password(password_stdin)?;
            let phc = hasher(config)?.hash(&password, &OsRandom);
            store
                .set_user_password(&u.id, &phc)
                .await
                .map_err(|e| e.to_string())?;
            // A reset usually follows a compromise or a lockout: end what the old password opened
            // and lift the lock.
            store
                .delete_user_sessions(&u.id)
                .await
                .map_err(|e| e.to_string())?;
            store
                .revoke_user_tokens(&u.id, SystemClock.now())
                .await
                .map_err(|e| e.to_string())?;
            clear_lockout(store, &u.id, "password").await?;
            report(
                json,
                &u,
                "password set; sessions and refresh tokens revoked; lockout cleared",
            );
        }
        UserCommand::Methods { username } => {
            let u = find_user(store, &username).await?;
            print_methods(store, &u, json).await?;
        }
        UserCommand::Unlock { username } => {
            let u = find_user(store, &username).await?;
            clear_lockout(store, &u.id, "password").await?;
            clear_lockout(store, &u.id, "second_factor").await?;
            store
                .set_push_state(&u.id, &Default::default())
                .await
                .map_err(|e| e.to_string())?;
            report(
                json,
                &u,
                "unlocked: password and second-factor lockouts cleared, push allowed",
            );
        }
        UserCommand::RevokeSessions { username } => {
            let u = find_user(store, &username).await?;
            revoke_all(store, &u.id).await?;
            report(
                json,
                &u,
                "sessions, refresh tokens, remembered devices and unused activation links revoked",
            );
        }
        UserCommand::RequireReregister { username } => {
            let u = find_user(store, &username).await?;
            let removed = store
                .delete_user_methods(&u.id)
                .await
                .map_err(|e| e.to_string())?;
            revoke_all(store, &u.id).await?;
            report(
                json,
                &u,
                &format!(
                    "{removed} second factor(s) removed, sessions revoked: the next sign-in registers a new method"
                ),
            );
        }
    }
    Ok(())
}

/// Clears one lockout counter over concurrent writers.
async fn clear_lockout(store: &Store, user_id: &str, kind: &str) -> Result<(), String> {
    for _ in 0..20 {
        let (lock, version) = store
            .find_lockout(user_id, kind)
            .await
            .map_err(|e| e.to_string())?;
        if lock == Default::default()
            || store
                .update_lockout(user_id, kind, &Default::default(), version)
                .await
                .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
    }
    Err(format!(
        "the {kind} lockout could not be cleared (busy); run the command again"
    ))
}

/// Ends what a user's devices and browsers hold.
async fn revoke_all(store: &Store, user_id: &str) -> Result<(), String> {
    let now = SystemClock.now();
    store
        .delete_user_sessions(user_id)
        .await
        .map_err(|e| e.to_string())?;
    store
        .revoke_user_tokens(user_id, now)
        .await
        .map_err(|e| e.to_string())?;
    store
        .delete_remembered_devices(user_id)
        .await
        .map_err(|e| e.to_string())?;
    store
        .delete_user_activations(user_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn print_methods(store: &Store, u: &User, json: bool) -> CmdResult {
    use postern_core::credential::method::{MethodKind, MethodSecret};
    let methods = store.list_methods(&u.id).await.map_err(|e| e.to_string())?;
    let mut rows = vec![];
    for m in &methods {
        let contact = match &m.secret {
            MethodSecret::Push { .. } => store
                .find_device_contact(&m.id)
                .await
                .map_err(|e| e.to_string())?
                .map(postern_core::clock::iso8601),
            _ => None,
        };
        rows.push(json!({
            "id": m.id,
            "kind": m.kind().as_str(),
            "name": m.name,
            "added": postern_core::clock::iso8601(m.created),
            "last_used": m.last_used.map(postern_core::clock::iso8601),
            "default": m.is_default && m.kind().can_be_default(),
            "codes_left": (m.kind() == MethodKind::RecoveryCodes).then(|| m.secret.remaining_codes()),
            "last_contact": contact,
        }));
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        println!("{}: no second factor registered", u.username);
    }
    for r in &rows {
        let mut line = format!(
            "{}  {}  '{}'  added {}",
            r["id"].as_str().unwrap_or_default(),
            r["kind"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
            r["added"].as_str().unwrap_or_default()
        );
        if let Some(used) = r["last_used"].as_str() {
            line.push_str(&format!(", last used {used}"));
        }
        if let Some(n) = r["codes_left"].as_u64() {
            line.push_str(&format!(", {n} of 10 codes left"));
        }
        if let Some(seen) = r["last_contact"].as_str() {
            line.push_str(&format!(", last contact {seen}"));
        }
        if r["default"] == true {
            line.push_str(" (default)");
        }
        println!("{line}");
    }
    if methods.len() == 1 {
        println!("warning: only one way in; if it is lost the user needs the helpdesk");
    }
    Ok(())
}

fn report(json: bool, u: &User, what: &str) {
    if json {
        println!(
            "{}",
            json!({ "username": u.username, "id": u.id, "result": what })
        );
    } else {
        println!("{}: {what}", u.username);
    }
}

async fn client(store: &Store, cmd: ClientCommand, json: bool) -> CmdResult {
    match cmd {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            id_token_alg,
        } => {
            for uri in redirect_uris.iter().chain(&post_logout_redirect_uris) {
                validate_redirect_uri(uri).map_err(|e| e.to_string())?;
            }
            let alg = SigningAlg::parse(&id_token_alg).ok_or_else(|| {
                format!("--id-token-alg must be RS256, ES256 or EdDSA, not '{id_token_alg}'")
            })?;
            let secret = (!public).then(|| random::token(&OsRandom, 32));
            let c = Client {
                id: random::uuid(&OsRandom),
                name: name.trim().to_owned(),
                kind: if public {
                    ClientKind::Public
                } else {
                    ClientKind::Confidential
                },
                secret_hash: secret.as_deref().map(hash_token),
                redirect_uris,
                post_logout_redirect_uris,
                id_token_alg: alg,
                created: SystemClock.now(),
            };
            if c.name.is_empty() {
                return Err("--name must not be empty".into());
            }
            store.create_client(&c).await.map_err(|e| e.to_string())?;
            if json {
                let mut v = serde_json::to_value(&c).unwrap_or_default();
                if let Some(s) = &secret {
                    v["client_secret"] = s.clone().into();
                }
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                println!("Registered '{}'.", c.name);
                println!("  client_id:     {}", c.id);
                match &secret {
                    Some(s) => {
                        println!("  client_secret: {s}");
                        println!(
                            "  Copy the secret now: it is stored hashed and cannot be shown again."
                        );
                    }
                    None => println!("  public client: no secret; the app must use PKCE (S256)."),
                }
            }
        }
        ClientCommand::List => {
            let clients = store.list_clients().await.map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&clients).unwrap_or_default()
                );
            } else {
                for c in clients {
                    println!(
                        "{}  {}  {:?}  id_token={}  redirect={}",
                        c.id,
                        c.name,
                        c.kind,
                        c.id_token_alg,
                        c.redirect_uris.join(" ")
                    );
                }
            }
        }
        ClientCommand::Delete { client_id } => {
            if !store
                .delete_client(&client_id)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no client '{client_id}'"));
            }
            if json {
                println!("{}", json!({ "client_id": client_id, "result": "deleted" }));
            } else {
                println!("deleted {client_id}");
            }
        }
    }
    Ok(())
}

fn print_signin(e: &SignInEntry) {
    println!("Sign-in {}", e.correlation_id);
    println!("  started:   {}", iso8601(e.started));
    println!(
        "  result:    {}{}",
        e.result.as_str(),
        e.error_code
            .map(|c| format!(" (error {c}: {})", c.info().title))
            .unwrap_or_default()
    );
    if let Some(reason) = &e.failure_reason {
        println!("  reason:    {reason}");
    }
    println!("  user:      {}", e.username.as_deref().unwrap_or("-"));
    println!(
        "  app:       {} {}",
        e.client_name.as_deref().unwrap_or("-"),
        e.client_id
            .as_deref()
            .map(|c| format!("({c})"))
            .unwrap_or_default()
    );
    println!(
        "  from:      {} {}",
        e.ip.as_deref().unwrap_or("-"),
        e.user_agent.as_deref().unwrap_or("")
    );
    println!("  requests:  {}", e.request_ids.join(", "));
    println!("  steps:");
    for s in &e.steps {
        println!(
            "    {}  {:<12} {:<8} {}",
            iso8601(s.time),
            s.method,
            s.result.as_str(),
            s.detail
        );
    }
}

async fn signins(store: &Store, cmd: SigninsCommand, json: bool) -> CmdResult {
    match cmd {
        SigninsCommand::Show { id } => {
            let entry = store
                .find_signin(id.trim())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no sign-in has the correlation id or request id '{id}'"))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&entry).unwrap_or_default()
                );
            } else {
                print_signin(&entry);
            }
        }
        SigninsCommand::List { limit } => {
            let entries = store
                .list_signins(limit.clamp(1, 1000))
                .await
                .map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&entries).unwrap_or_default()
                );
            } else {
                for e in entries {
                    println!(
                        "{}  {}  {:<11} {:<8} {}  {}",
                        iso8601(e.started),
                        e.correlation_id,
                        e.result.as_str(),
                        e.error_code.map(|c| c.to_string()).unwrap_or_default(),
                        e.username.as_deref().unwrap_or("-"),
                        e.client_name.as_deref().unwrap_or("-")
                    );
                }
            }
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
