//! `postern admin token …` (the admin API's own tokens) and `postern admin keys …` (signing keys,
//! on the server itself).

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
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
pub(super) enum KeysCommand {
    /// List signing keys.
    List,
    /// Make new signing keys; old public keys stay published until their tokens expire.
    Rotate,
}

pub(super) async fn token(api: &Api, out: &Out, cmd: TokenCommand) -> CmdResult {
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

pub(super) async fn keys(
    config: &Config,
    store: &Store,
    cmd: KeysCommand,
    json: bool,
) -> CmdResult {
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
