//! Temporary access passes: at most one per user (a unique key), stored as a keyed hash; a
//! one-time pass is spent by a conditional update, so two sign-ins racing with it cannot both
//! get in.

use crate::rows::{flag, get_flag, get_i64, get_opt_time, get_text, get_time, ms};
use crate::{Result, Store, StoreError};
use postern_core::credential::access_pass::AccessPass;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

fn pass_from_row(row: &AnyRow) -> Result<AccessPass> {
    Ok(AccessPass {
        id: get_text(row, "id")?,
        user_id: get_text(row, "user_id")?,
        hash: get_text(row, "pass_hash")?,
        created: get_time(row, "created_ms")?,
        expires: get_time(row, "expires_ms")?,
        once: get_flag(row, "once")?,
        used: get_opt_time(row, "used_ms")?,
        uses: u32::try_from(get_i64(row, "uses")?).unwrap_or(u32::MAX),
        created_by: get_text(row, "created_by")?,
    })
}

impl Store {
    /// The user's pass, whatever its state.
    pub async fn find_access_pass(&self, user_id: &str) -> Result<Option<AccessPass>> {
        sqlx::query(
            "SELECT id, user_id, pass_hash, created_ms, expires_ms, once, used_ms, uses, created_by
             FROM access_passes WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(pass_from_row)
        .transpose()
    }

    /// Stores a new pass. A user has at most one: an expired or spent pass is replaced; a usable
    /// one makes this a `Conflict` (delete it first), checked in the same transaction.
    pub async fn create_access_pass(&self, p: &AccessPass, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Removes only a pass that can no longer sign in.
        sqlx::query(
            "DELETE FROM access_passes
             WHERE user_id = $1 AND (expires_ms <= $2 OR (once = 1 AND used_ms IS NOT NULL))",
        )
        .bind(&p.user_id)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO access_passes (id, user_id, pass_hash, created_ms, expires_ms, once, used_ms,
                                        uses, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, $7)
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(&p.id)
        .bind(&p.user_id)
        .bind(&p.hash)
        .bind(ms(p.created))
        .bind(ms(p.expires))
        .bind(flag(p.once))
        .bind(&p.created_by)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "a usable temporary access pass for this user".into(),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a sign-in with the pass `id`: false if it was meanwhile spent, expired or deleted
    /// (a one-time pass signs in once, even when two requests race).
    pub async fn use_access_pass(&self, id: &str, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_passes SET used_ms = $1, uses = uses + 1
             WHERE id = $2 AND expires_ms > $1 AND (once = 0 OR used_ms IS NULL)",
        )
        .bind(ms(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Passes that expired at or before `now` and whose expiry is not yet in the audit log; each
    /// is marked as logged (the caller writes the entry). A node that loses the race to mark one
    /// does not return it, so every expiry is logged once.
    pub async fn take_expired_access_passes(&self, now: OffsetDateTime) -> Result<Vec<AccessPass>> {
        let expired: Vec<AccessPass> = sqlx::query(
            "SELECT id, user_id, pass_hash, created_ms, expires_ms, once, used_ms, uses, created_by
             FROM access_passes WHERE expires_ms <= $1 AND expiry_logged = 0",
        )
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(pass_from_row)
        .collect::<Result<_>>()?;
        let mut taken = Vec::new();
        for p in expired {
            let marked = sqlx::query(
                "UPDATE access_passes SET expiry_logged = 1 WHERE id = $1 AND expiry_logged = 0",
            )
            .bind(&p.id)
            .execute(&self.pool)
            .await?;
            if marked.rows_affected() == 1 {
                taken.push(p);
            }
        }
        Ok(taken)
    }

    /// Deletes the user's pass; the deleted pass, if there was one.
    pub async fn delete_access_pass(&self, user_id: &str) -> Result<Option<AccessPass>> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "SELECT id, user_id, pass_hash, created_ms, expires_ms, once, used_ms, uses, created_by
             FROM access_passes WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(pass_from_row)
        .transpose()?;
        sqlx::query("DELETE FROM access_passes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(found)
    }
}
