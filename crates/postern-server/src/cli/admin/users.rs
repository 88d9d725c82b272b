//! `postern admin user …` and `postern admin tap …`: accounts, their methods, and the
//! helpdesk's temporary access passes.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
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
pub(super) enum TapCommand {
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
        match m["synced"].as_bool() {
            Some(true) => line.push_str(", synced passkey"),
            Some(false) => line.push_str(", device-bound"),
            None => {}
        }
        if let Some(aaguid) = m["aaguid"].as_str() {
            match m["model"].as_str() {
                Some(model) => line.push_str(&format!(", {model} (AAGUID {aaguid})")),
                None => line.push_str(&format!(", AAGUID {aaguid}")),
            }
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

pub(super) async fn user(api: &Api, out: &Out, cmd: UserCommand) -> CmdResult {
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

pub(super) async fn tap(api: &Api, out: &Out, cmd: TapCommand) -> CmdResult {
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
