//! `postern admin client …`: the applications that sign in through Postern.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
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

pub(super) async fn client(api: &Api, out: &Out, cmd: ClientCommand) -> CmdResult {
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
