//! Housekeeping: deleting what has expired.
//!
//! Codes, refresh tokens and flows are kept one day past their expiry, so that a late or
//! replayed request still finds them and gets the precise answer ("expired", "already
//! redeemed" → family revoked) rather than "unknown". Sessions and access-token rows go as soon
//! as they expire, as do remembered devices. Revoked families are forgotten once nothing of theirs is left.

use crate::rows::ms;
use crate::{Result, Store};
use time::{Duration, OffsetDateTime};

/// How long expired codes, refresh tokens and flows are kept.
const GRACE: Duration = Duration::days(1);

/// The purge, table by table: (statement, whether its cutoff is `now - GRACE` or `now`).
const PURGES: [(&str, bool); 13] = [
    ("DELETE FROM access_passes WHERE expires_ms < $1", true),
    ("DELETE FROM flows WHERE expires_ms < $1", true),
    ("DELETE FROM push_challenges WHERE expires_ms < $1", true),
    ("DELETE FROM activations WHERE expires_ms < $1", true),
    ("DELETE FROM webauthn_ceremonies WHERE expires_ms < $1", false),
    ("DELETE FROM device_signatures WHERE expires_ms < $1", false),
    ("DELETE FROM remembered_devices WHERE expires_ms <= $1", false),
    ("DELETE FROM auth_codes WHERE expires_ms < $1", true),
    ("DELETE FROM sso_sessions WHERE expires_ms <= $1", false),
    ("DELETE FROM refresh_tokens WHERE expires_ms < $1", true),
    ("DELETE FROM revoked_access_tokens WHERE expires_ms < $1", false),
    ("DELETE FROM access_tokens WHERE expires_ms < $1", false),
    (
        "DELETE FROM token_families
         WHERE revoked_ms < $1
           AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.family_id)
           AND NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.family_id = token_families.family_id)
           AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = token_families.family_id)",
        true,
    ),
];

impl Store {
    /// Deletes expired flows, codes, sessions, refresh tokens and access-token rows (see the module
    /// docs for how long each is kept); returns how many rows went.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64> {
        let mut deleted = 0;
        for (statement, with_grace) in PURGES {
            let cutoff = if with_grace { now - GRACE } else { now };
            // One transaction per table: a long purge holds no other table's locks.
            let mut tx = self.begin_housekeeping().await?;
            deleted += sqlx::query(statement)
                .bind(ms(cutoff))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
        }
        Ok(deleted)
    }
}

impl Store {
    /// Deletes sign-in log entries (with their steps and request ids) last updated before
    /// `cutoff`; returns how many entries went. The retention period is the caller's policy.
    pub async fn purge_signins_before(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_housekeeping().await?;
        for statement in [
            "DELETE FROM signin_steps
             WHERE correlation_id IN (SELECT correlation_id FROM signins WHERE updated_ms < $1)",
            "DELETE FROM signin_requests
             WHERE correlation_id IN (SELECT correlation_id FROM signins WHERE updated_ms < $1)",
        ] {
            sqlx::query(statement)
                .bind(ms(cutoff))
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM signins WHERE updated_ms < $1")
            .bind(ms(cutoff))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
