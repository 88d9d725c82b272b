//! Authorization codes, refresh tokens, token families and access-token revocation.
//!
//! Codes and refresh tokens are stored only as SHA-256 hashes. Their single use is a conditional
//! UPDATE whose affected-row count decides the winner, so two requests racing on the same code —
//! on one node or on several — cannot both succeed.
//!
//! A **family** is everything issued from one sign-in's code. Revoking it inserts a row in
//! `token_families` (the family is revoked from then on, including tokens issued by a rotation
//! that raced with the revocation) and marks its refresh tokens. Access tokens are JWTs checked
//! without the database, except for revocation: `access_tokens` remembers the family of each
//! `jti`, `revoked_access_tokens` lists the ones revoked one by one.

use crate::rows::{
    conflict_as, flag, get_flag, get_json, get_opt_i64, get_opt_text, get_text, get_time, json, ms,
};
use crate::{AnyQuery, Result, Store};
use postern_core::oidc::token::{AuthCode, RefreshToken};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

fn code_from_row(row: &AnyRow) -> Result<AuthCode> {
    Ok(AuthCode {
        code_hash: get_text(row, "code_hash")?,
        family_id: get_text(row, "family_id")?,
        client_id: get_text(row, "client_id")?,
        redirect_uri: get_text(row, "redirect_uri")?,
        user_id: get_text(row, "user_id")?,
        scope: get_json(row, "scope")?,
        nonce: get_opt_text(row, "nonce")?,
        code_challenge: get_opt_text(row, "code_challenge")?,
        auth_time: get_time(row, "auth_time_ms")?,
        amr: get_json(row, "amr")?,
        correlation_id: get_text(row, "correlation_id")?,
        expires: get_time(row, "expires_ms")?,
        redeemed: get_flag(row, "redeemed")?,
    })
}

fn refresh_from_row(row: &AnyRow) -> Result<RefreshToken> {
    let family_revoked = get_opt_i64(row, "family_revoked_ms")?.is_some();
    Ok(RefreshToken {
        token_hash: get_text(row, "token_hash")?,
        family_id: get_text(row, "family_id")?,
        client_id: get_text(row, "client_id")?,
        user_id: get_text(row, "user_id")?,
        scope: get_json(row, "scope")?,
        auth_time: get_time(row, "auth_time_ms")?,
        amr: get_json(row, "amr")?,
        created: get_time(row, "created_ms")?,
        expires: get_time(row, "expires_ms")?,
        used: get_flag(row, "used")?,
        revoked: get_flag(row, "revoked")? || family_revoked,
    })
}

/// Inserts a refresh token with whatever executor (pool or transaction) is given.
pub(crate) async fn insert_refresh_token<'e, E>(executor: E, t: &RefreshToken) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, auth_time_ms,
                                     amr, created_ms, expires_ms, used, revoked)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&t.token_hash)
    .bind(&t.family_id)
    .bind(&t.client_id)
    .bind(&t.user_id)
    .bind(json(&t.scope)?)
    .bind(ms(t.auth_time))
    .bind(json(&t.amr)?)
    .bind(ms(t.created))
    .bind(ms(t.expires))
    .bind(flag(t.used))
    .bind(flag(t.revoked))
    .execute(executor)
    .await
    .map_err(|e| conflict_as(e, || "refresh token".to_owned()))?;
    Ok(())
}

/// The INSERT of a new authorization code, bound.
pub(crate) fn insert_auth_code(c: &AuthCode) -> Result<AnyQuery<'_>> {
    Ok(sqlx::query(
        "INSERT INTO auth_codes (code_hash, family_id, client_id, redirect_uri, user_id, scope,
                                 nonce, code_challenge, auth_time_ms, amr, correlation_id,
                                 expires_ms, redeemed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&c.code_hash)
    .bind(&c.family_id)
    .bind(&c.client_id)
    .bind(&c.redirect_uri)
    .bind(&c.user_id)
    .bind(json(&c.scope)?)
    .bind(&c.nonce)
    .bind(&c.code_challenge)
    .bind(ms(c.auth_time))
    .bind(json(&c.amr)?)
    .bind(&c.correlation_id)
    .bind(ms(c.expires))
    .bind(flag(c.redeemed)))
}

/// The INSERT linking an access token to its family, bound.
pub(crate) fn insert_access_token(
    jti: &str,
    family_id: &str,
    expires: OffsetDateTime,
) -> AnyQuery<'static> {
    sqlx::query(
        "INSERT INTO access_tokens (jti, family_id, expires_ms) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(jti.to_owned())
    .bind(family_id.to_owned())
    .bind(ms(expires))
}

impl Store {
    /// Stores a new authorization code; `Conflict` if the hash is taken.
    pub async fn create_auth_code(&self, c: &AuthCode) -> Result<()> {
        insert_auth_code(c)?
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_as(e, || "authorization code".to_owned()))?;
        Ok(())
    }

    pub async fn find_auth_code(&self, code_hash: &str) -> Result<Option<AuthCode>> {
        sqlx::query(
            "SELECT code_hash, family_id, client_id, redirect_uri, user_id, scope, nonce,
                    code_challenge, auth_time_ms, amr, correlation_id, expires_ms, redeemed
             FROM auth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    /// Marks a code redeemed. True only for the first redemption, and never for a code whose
    /// family was revoked.
    pub async fn redeem_auth_code(&self, code_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE auth_codes SET redeemed = 1
             WHERE code_hash = $1 AND redeemed = 0
               AND NOT EXISTS (SELECT 1 FROM token_families f WHERE f.family_id = auth_codes.family_id)",
        )
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a new refresh token; `Conflict` if the hash is taken.
    pub async fn create_refresh_token(&self, t: &RefreshToken) -> Result<()> {
        insert_refresh_token(&self.pool, t).await
    }

    /// The token; `revoked` is true if the token or its family was revoked.
    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        sqlx::query(
            "SELECT r.token_hash, r.family_id, r.client_id, r.user_id, r.scope, r.auth_time_ms,
                    r.amr, r.created_ms, r.expires_ms, r.used, r.revoked,
                    f.revoked_ms AS family_revoked_ms
             FROM refresh_tokens r LEFT JOIN token_families f ON f.family_id = r.family_id
             WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(refresh_from_row)
        .transpose()
    }

    /// Exchanges `old_hash` for `new`, atomically: the old token is marked used only if it is
    /// unused and neither it nor its family is revoked, and only then is `new` stored. False (and
    /// nothing stored) when the old token was not eligible, e.g. a second rotation of it.
    pub async fn rotate_refresh_token(&self, old_hash: &str, new: &RefreshToken) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET used = 1
             WHERE token_hash = $1 AND used = 0 AND revoked = 0
               AND NOT EXISTS (SELECT 1 FROM token_families f WHERE f.family_id = refresh_tokens.family_id)",
        )
        .bind(old_hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_refresh_token(&mut *tx, new).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes a family: its refresh tokens, and the access tokens recorded with it.
    pub async fn revoke_token_family(&self, family_id: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO token_families (family_id, revoked_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(family_id)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = $1")
            .bind(family_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Remembers the family an access token was issued from (so revoking the family revokes it).
    pub async fn record_access_token(
        &self,
        jti: &str,
        family_id: &str,
        expires: OffsetDateTime,
    ) -> Result<()> {
        insert_access_token(jti, family_id, expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes one access token until it expires anyway (idempotent).
    pub async fn revoke_access_token(&self, jti: &str, expires: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(jti)
        .bind(ms(expires))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// True if the access token was revoked by itself or through its family.
    pub async fn is_access_token_revoked(&self, jti: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT jti FROM revoked_access_tokens WHERE jti = $1
             UNION ALL
             SELECT a.jti FROM access_tokens a JOIN token_families f ON f.family_id = a.family_id
             WHERE a.jti = $1",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Revokes every family the user holds tokens of: those with refresh tokens, and those of
    /// authorization codes still kept (which covers families that only ever got access tokens).
    /// Returns how many families were newly revoked.
    pub async fn revoke_user_tokens(&self, user_id: &str, now: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO token_families (family_id, revoked_ms)
             SELECT family_id, $1 FROM (
                 SELECT family_id FROM refresh_tokens WHERE user_id = $2
                 UNION
                 SELECT family_id FROM auth_codes WHERE user_id = $2
             ) AS held
             WHERE true
             ON CONFLICT DO NOTHING",
        )
        .bind(ms(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
