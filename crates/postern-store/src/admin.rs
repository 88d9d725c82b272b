//! Administration: bearer tokens for the admin API (stored as SHA-256 hashes) and the roles
//! granted to people for the helpdesk pages.

use crate::rows::{get_opt_time, get_text, get_time, ms, opt_ms};
use crate::{Result, Store, StoreError};
use postern_core::admin::{AdminToken, Role};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

fn role_of(row: &AnyRow) -> Result<Role> {
    let text = get_text(row, "role")?;
    Role::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("unknown role '{text}'")))
}

fn token_from_row(row: &AnyRow) -> Result<AdminToken> {
    Ok(AdminToken {
        id: get_text(row, "id")?,
        name: get_text(row, "name")?,
        role: role_of(row)?,
        created: get_time(row, "created_ms")?,
        expires: get_opt_time(row, "expires_ms")?,
        revoked: get_opt_time(row, "revoked_ms")?,
        last_used: get_opt_time(row, "last_used_ms")?,
        created_by: get_text(row, "created_by")?,
    })
}

macro_rules! token_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, role, created_ms, expires_ms, revoked_ms, last_used_ms, created_by FROM admin_tokens ",
            $tail
        )
    };
}

impl Store {
    /// Stores a new token under the hash of its secret.
    pub async fn create_admin_token(&self, t: &AdminToken, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO admin_tokens (id, token_hash, name, role, created_ms, expires_ms, revoked_ms,
                                       last_used_ms, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7)",
        )
        .bind(&t.id)
        .bind(token_hash)
        .bind(&t.name)
        .bind(t.role.as_str())
        .bind(ms(t.created))
        .bind(opt_ms(t.expires))
        .bind(&t.created_by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The token whose secret hashes to `token_hash` (active or not: the caller decides).
    pub async fn find_admin_token_by_hash(&self, token_hash: &str) -> Result<Option<AdminToken>> {
        sqlx::query(token_query!("WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    pub async fn find_admin_token(&self, id: &str) -> Result<Option<AdminToken>> {
        sqlx::query(token_query!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    /// Every token, newest first.
    pub async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
        sqlx::query(token_query!("ORDER BY created_ms DESC, id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    /// Revokes a token; false if there is none or it was already revoked.
    pub async fn revoke_admin_token(&self, id: &str, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE admin_tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL",
        )
        .bind(ms(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Notes a use of a token, at most once a minute (not a write per request).
    pub async fn touch_admin_token(&self, id: &str, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE admin_tokens SET last_used_ms = $1
             WHERE id = $2 AND (last_used_ms IS NULL OR last_used_ms < $3)",
        )
        .bind(ms(now))
        .bind(id)
        .bind(ms(now) - 60_000)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The role granted to a person, if any.
    pub async fn find_user_role(&self, user_id: &str) -> Result<Option<Role>> {
        sqlx::query("SELECT role FROM user_roles WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(role_of)
            .transpose()
    }

    /// Grants a role (replacing any other), or takes it away with `None`.
    pub async fn set_user_role(
        &self,
        user_id: &str,
        role: Option<Role>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if let Some(role) = role {
            sqlx::query("INSERT INTO user_roles (user_id, role, granted_ms) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(role.as_str())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
