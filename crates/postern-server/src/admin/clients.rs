//! Applications (OAuth clients): register, read, change redirect URIs, delete, rotate the secret.
//! A secret is shown once, when made; only its hash is kept.

use super::{AdminError, AdminResult, Change, Origin, audit};
use crate::state::AppState;
use postern_core::admin::{Authorized, Manage, Read};
use postern_core::client::{Client, ClientKind, validate_redirect_uri};
use postern_core::oidc::jws::SigningAlg;
use postern_core::random;
use postern_core::secret::hash_token;
use serde::{Deserialize, Serialize};

/// A new application.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (browser or native app): no secret, PKCE S256 required.
    #[serde(default)]
    pub public: bool,
    /// RS256 (default), ES256 or EdDSA.
    #[serde(default)]
    pub id_token_alg: Option<String>,
}

/// New redirect URI lists; an absent list stays.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
}

/// An application with the secret made for it, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: Client,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

fn check_uris(uris: &[String], at_least_one: bool) -> AdminResult<()> {
    if at_least_one && uris.is_empty() {
        return Err(AdminError::Invalid(
            "at least one redirect URI is needed".into(),
        ));
    }
    if uris.len() > 20 {
        return Err(AdminError::Invalid("at most 20 redirect URIs".into()));
    }
    for uri in uris {
        validate_redirect_uri(uri).map_err(|e| AdminError::Invalid(e.to_string()))?;
    }
    Ok(())
}

pub async fn find(state: &AppState, id: &str) -> AdminResult<Client> {
    if id.len() > 200 {
        return Err(AdminError::NotFound("no such application".into()));
    }
    state
        .store
        .find_client(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no application '{id}'")))
}

fn change<'a>(c: &'a Client, action: &'static str, detail: String) -> Change<'a> {
    Change {
        action,
        target_type: "client",
        target_id: &c.id,
        target_name: &c.name,
        detail,
    }
}

pub async fn list(state: &AppState, _: &Authorized<Read>) -> AdminResult<Vec<Client>> {
    Ok(state.store.list_clients().await?)
}

pub async fn get(state: &AppState, _: &Authorized<Read>, id: &str) -> AdminResult<Client> {
    find(state, id).await
}

pub async fn create(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    new: NewClient,
) -> AdminResult<ClientWithSecret> {
    let name = super::clean_label(&new.name, 200)?;
    check_uris(&new.redirect_uris, true)?;
    check_uris(&new.post_logout_redirect_uris, false)?;
    let alg_text = new.id_token_alg.as_deref().unwrap_or("RS256");
    let alg = SigningAlg::parse(alg_text).ok_or_else(|| {
        AdminError::Invalid(format!(
            "id_token_alg must be RS256, ES256 or EdDSA, not '{alg_text}'"
        ))
    })?;
    let secret = (!new.public).then(|| random::token(&*state.rng, 32));
    let client = Client {
        id: random::uuid(&*state.rng),
        name,
        kind: if new.public {
            ClientKind::Public
        } else {
            ClientKind::Confidential
        },
        secret_hash: secret.as_deref().map(hash_token),
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        id_token_alg: alg,
        created: super::now(state),
    };
    state.store.create_client(&client).await?;
    let detail = format!(
        "{} application registered; redirect URIs: {}",
        if new.public { "public" } else { "confidential" },
        client.redirect_uris.join(" ")
    );
    audit(state, who, origin, change(&client, "client.create", detail)).await?;
    Ok(ClientWithSecret {
        client,
        client_secret: secret,
    })
}

pub async fn update(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
    patch: ClientPatch,
) -> AdminResult<Client> {
    let c = find(state, id).await?;
    let redirect = patch
        .redirect_uris
        .unwrap_or_else(|| c.redirect_uris.clone());
    let logout = patch
        .post_logout_redirect_uris
        .unwrap_or_else(|| c.post_logout_redirect_uris.clone());
    check_uris(&redirect, true)?;
    check_uris(&logout, false)?;
    state
        .store
        .update_client_redirects(&c.id, &redirect, &logout)
        .await?;
    state.clients.forget(&c.id);
    let detail = format!(
        "redirect URIs: {}; post-logout redirect URIs: {}",
        redirect.join(" "),
        logout.join(" ")
    );
    audit(state, who, origin, change(&c, "client.update", detail)).await?;
    find(state, &c.id).await
}

pub async fn delete(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
) -> AdminResult<()> {
    let c = find(state, id).await?;
    state.store.delete_client(&c.id).await?;
    state.clients.forget(&c.id);
    audit(
        state,
        who,
        origin,
        change(&c, "client.delete", "application deleted".into()),
    )
    .await
}

/// A new secret for a confidential client; the old one stops working.
pub async fn rotate_secret(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
) -> AdminResult<ClientWithSecret> {
    let c = find(state, id).await?;
    if c.kind == ClientKind::Public {
        return Err(AdminError::Invalid(
            "a public client has no secret to rotate".into(),
        ));
    }
    let secret = random::token(&*state.rng, 32);
    state
        .store
        .update_client_secret(&c.id, &hash_token(&secret))
        .await?;
    state.clients.forget(&c.id);
    audit(
        state,
        who,
        origin,
        change(
            &c,
            "client.rotate_secret",
            "client secret replaced; the old one no longer works".into(),
        ),
    )
    .await?;
    Ok(ClientWithSecret {
        client: find(state, &c.id).await?,
        client_secret: Some(secret),
    })
}
