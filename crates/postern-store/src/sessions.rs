//! Single sign-on sessions, keyed by the SHA-256 of the browser's session token (the token itself
//! is never stored).

use crate::rows::{conflict_as, get_json, get_text, get_time, json, ms};
use crate::{AnyQuery, Result, Store};
use postern_core::session::SsoSession;
use sqlx::any::AnyRow;

fn session_from_row(row: &AnyRow) -> Result<SsoSession> {
    Ok(SsoSession {
        id_hash: get_text(row, "id_hash")?,
        user_id: get_text(row, "user_id")?,
        auth_time: get_time(row, "auth_time_ms")?,
        amr: get_json(row, "amr")?,
        created: get_time(row, "created_ms")?,
        expires: get_time(row, "expires_ms")?,
    })
}

/// The INSERT of a new session, bound (for use alone or inside a transaction).
pub(crate) fn insert_session(s: &SsoSession) -> Result<AnyQuery<'_>> {
    Ok(sqlx::query(
        "INSERT INTO sso_sessions (id_hash, user_id, auth_time_ms, amr, created_ms, expires_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.id_hash)
    .bind(&s.user_id)
    .bind(ms(s.auth_time))
    .bind(json(&s.amr)?)
    .bind(ms(s.created))
    .bind(ms(s.expires)))
}

impl Store {
    /// Stores a new session; `Conflict` if the hash is taken.
    pub async fn create_session(&self, s: &SsoSession) -> Result<()> {
        insert_session(s)?
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_as(e, || "session".to_owned()))?;
        Ok(())
    }

    /// The session, expired or not (the caller checks `SsoSession::is_valid`).
    pub async fn find_session(&self, id_hash: &str) -> Result<Option<SsoSession>> {
        sqlx::query(
            "SELECT id_hash, user_id, auth_time_ms, amr, created_ms, expires_ms
             FROM sso_sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    /// Replaces the methods a session's sign-in counts as proven (after the user proves a new
    /// factor in it, e.g. by registering an authenticator app).
    pub async fn update_session_amr(&self, id_hash: &str, amr: &[String]) -> Result<()> {
        sqlx::query("UPDATE sso_sessions SET amr = $1 WHERE id_hash = $2")
            .bind(json(amr)?)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sso_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Signs a user out of every browser; returns how many sessions ended.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sso_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
