//! Registered applications (OAuth clients).
//!
//! Redirect URI lists are stored as JSON text and compared by the domain (`Client`), never in
//! SQL. Only the SHA-256 of a confidential client's secret is kept.

use crate::rows::{conflict_as, get_json, get_opt_text, get_text, get_time, json, ms};
use crate::{Result, Store, StoreError};
use postern_core::client::{Client, ClientKind};
use postern_core::oidc::jws::SigningAlg;
use sqlx::any::AnyRow;

fn kind_str(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Public => "public",
        ClientKind::Confidential => "confidential",
    }
}

fn parse_kind(s: &str) -> Result<ClientKind> {
    match s {
        "public" => Ok(ClientKind::Public),
        "confidential" => Ok(ClientKind::Confidential),
        other => Err(StoreError::Corrupt(format!(
            "unknown client kind '{other}'"
        ))),
    }
}

fn client_from_row(row: &AnyRow) -> Result<Client> {
    let alg = get_text(row, "id_token_alg")?;
    Ok(Client {
        id: get_text(row, "id")?,
        name: get_text(row, "name")?,
        kind: parse_kind(&get_text(row, "kind")?)?,
        secret_hash: get_opt_text(row, "secret_hash")?,
        redirect_uris: get_json(row, "redirect_uris")?,
        post_logout_redirect_uris: get_json(row, "post_logout_redirect_uris")?,
        id_token_alg: SigningAlg::parse(&alg)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown signing algorithm '{alg}'")))?,
        created: get_time(row, "created_ms")?,
    })
}

impl Store {
    /// Registers an application; `Conflict` if the id is taken.
    pub async fn create_client(&self, c: &Client) -> Result<()> {
        sqlx::query(
            "INSERT INTO clients (id, name, kind, secret_hash, redirect_uris,
                                  post_logout_redirect_uris, id_token_alg, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(kind_str(c.kind))
        .bind(&c.secret_hash)
        .bind(json(&c.redirect_uris)?)
        .bind(json(&c.post_logout_redirect_uris)?)
        .bind(c.id_token_alg.as_str())
        .bind(ms(c.created))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_as(e, || format!("client '{}'", c.id)))?;
        Ok(())
    }

    pub async fn find_client(&self, id: &str) -> Result<Option<Client>> {
        sqlx::query(
            "SELECT id, name, kind, secret_hash, redirect_uris, post_logout_redirect_uris,
                    id_token_alg, created_ms
             FROM clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(client_from_row)
        .transpose()
    }

    /// Every application, by name.
    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        sqlx::query(
            "SELECT id, name, kind, secret_hash, redirect_uris, post_logout_redirect_uris,
                    id_token_alg, created_ms
             FROM clients ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(client_from_row)
        .collect()
    }

    /// Removes an application together with its codes and refresh tokens; false if unknown.
    pub async fn delete_client(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the secret's hash; false if unknown.
    pub async fn update_client_secret(&self, id: &str, secret_hash: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2")
            .bind(secret_hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces both redirect URI lists; false if unknown.
    pub async fn update_client_redirects(
        &self,
        id: &str,
        redirect_uris: &[String],
        post_logout_redirect_uris: &[String],
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE clients SET redirect_uris = $1, post_logout_redirect_uris = $2 WHERE id = $3",
        )
        .bind(json(redirect_uris)?)
        .bind(json(post_logout_redirect_uris)?)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
