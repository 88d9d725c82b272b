//! Browsers a user asked to remember for the second step ("Don't ask again on this device").
//!
//! The browser holds a random token; the store keeps its SHA-256 per user, with an expiry. Rows
//! are server-side so that a user (or the helpdesk) can revoke them all at once.

use crate::rows::ms;
use crate::{Result, Store};
use time::OffsetDateTime;

impl Store {
    /// Remembers the browser with token hash `token_hash` for `user_id` until `expires` (a second
    /// remember of the same browser moves the expiry).
    pub async fn remember_device(
        &self,
        token_hash: &str,
        user_id: &str,
        now: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM remembered_devices WHERE token_hash = $1 AND user_id = $2")
            .bind(token_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO remembered_devices (token_hash, user_id, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(ms(now))
        .bind(ms(expires))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Until when the browser is remembered for the user, if it still is at `now`.
    pub async fn find_remembered_device(
        &self,
        token_hash: &str,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>> {
        let row = sqlx::query(
            "SELECT expires_ms FROM remembered_devices
             WHERE token_hash = $1 AND user_id = $2 AND expires_ms > $3",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| crate::rows::get_time(&r, "expires_ms"))
            .transpose()
    }

    /// How many browsers are remembered for the user at `now`.
    pub async fn count_remembered_devices(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM remembered_devices WHERE user_id = $1 AND expires_ms > $2",
        )
        .bind(user_id)
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await?;
        crate::rows::get_i64(&row, "n")
    }

    /// Forgets every remembered browser of the user; returns how many there were.
    pub async fn delete_remembered_devices(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM remembered_devices WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
