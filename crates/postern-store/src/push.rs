//! Push approvals: activation codes (single use), device contact times, challenges with their
//! delivery tracking (versioned JSON: an answer is written once), device signatures already seen
//! (a replayed request is refused across nodes), and each user's push state.

use crate::rows::{get_i64, get_json, get_opt_i64, ms};
use crate::{Result, Store};
use postern_core::credential::push::Challenge;
use time::OffsetDateTime;

/// What creating a challenge under the limits did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeCreated {
    Created,
    /// The user already had `limit` challenges since the window's start: nothing was stored.
    Limited,
    /// The flow already has a challenge waiting for an answer: that one stands.
    Existing(Box<Challenge>),
}

/// A user's push state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushState {
    /// Push is blocked since then (the user reported a request as not theirs).
    pub blocked: Option<OffsetDateTime>,
    /// Pushes ignored or denied in a row (reset by an approval).
    pub unanswered: i64,
}

fn challenge_from_row(row: &sqlx::any::AnyRow) -> Result<Challenge> {
    let mut c: Challenge = get_json(row, "data")?;
    c.version = get_i64(row, "version")?;
    Ok(c)
}

impl Store {
    /// Stores a new activation code (its hash) for `user_id`.
    pub async fn create_activation(
        &self,
        code_hash: &str,
        user_id: &str,
        now: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO activations (code_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(user_id)
        .bind(ms(now))
        .bind(ms(expires))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses an activation code: the user it belongs to, if it exists, is unused and unexpired —
    /// and then it is used (atomically: a code activates one device).
    pub async fn use_activation(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE activations SET used_ms = $1
             WHERE code_hash = $2 AND used_ms IS NULL AND expires_ms > $1
             RETURNING user_id",
        )
        .bind(ms(now))
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| crate::rows::get_text(&r, "user_id"))
            .transpose()
    }

    /// Records that a device was heard from now.
    pub async fn touch_device(&self, device_id: &str, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_contacts (device_id, last_seen_ms) VALUES ($1, $2)
             ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
        )
        .bind(device_id)
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When a device was last heard from.
    pub async fn find_device_contact(&self, device_id: &str) -> Result<Option<OffsetDateTime>> {
        let row = sqlx::query("SELECT last_seen_ms FROM device_contacts WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| crate::rows::get_time(&r, "last_seen_ms"))
            .transpose()
    }

    /// Remembers a device signature until `expires`; false if it was already seen (a replay).
    pub async fn record_signature(
        &self,
        signature_hash: &str,
        expires: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO device_signatures (signature_hash, expires_ms) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(signature_hash)
        .bind(ms(expires))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a challenge unless its flow already has one pending or the user reached `limit`
    /// challenges since `since` — checked and written in one transaction serialised per user, so
    /// parallel sign-ins cannot exceed the limit.
    pub async fn create_challenge_limited(
        &self,
        c: &Challenge,
        since: OffsetDateTime,
        limit: usize,
    ) -> Result<ChallengeCreated> {
        let mut tx = self.begin_write().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(&c.user_id)
                .execute(&mut *tx)
                .await?;
        }
        let latest = sqlx::query(
            "SELECT data, version FROM push_challenges WHERE flow_id = $1
             ORDER BY created_ms DESC, id DESC LIMIT 1",
        )
        .bind(&c.flow_id)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(challenge_from_row)
        .transpose()?;
        if let Some(existing) = latest
            && existing.status(c.created) == postern_core::credential::push::Status::Pending
        {
            return Ok(ChallengeCreated::Existing(Box::new(existing)));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM push_challenges WHERE user_id = $1 AND created_ms >= $2",
        )
        .bind(&c.user_id)
        .bind(ms(since))
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(get_i64(&row, "n")?).unwrap_or(usize::MAX) >= limit {
            return Ok(ChallengeCreated::Limited);
        }
        sqlx::query(
            "INSERT INTO push_challenges (id, user_id, flow_id, created_ms, expires_ms, data, version)
             VALUES ($1, $2, $3, $4, $5, $6, 1)",
        )
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.flow_id)
        .bind(ms(c.created))
        .bind(ms(c.expires))
        .bind(crate::rows::json(c)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ChallengeCreated::Created)
    }

    pub async fn find_challenge(&self, id: &str) -> Result<Option<Challenge>> {
        sqlx::query("SELECT data, version FROM push_challenges WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(challenge_from_row)
            .transpose()
    }

    /// The newest challenge of a sign-in flow.
    pub async fn latest_flow_challenge(&self, flow_id: &str) -> Result<Option<Challenge>> {
        sqlx::query(
            "SELECT data, version FROM push_challenges WHERE flow_id = $1
             ORDER BY created_ms DESC, id DESC LIMIT 1",
        )
        .bind(flow_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(challenge_from_row)
        .transpose()
    }

    /// A user's challenges created at or after `since`, newest first.
    pub async fn list_user_challenges(
        &self,
        user_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<Challenge>> {
        sqlx::query(
            "SELECT data, version FROM push_challenges WHERE user_id = $1 AND created_ms >= $2
             ORDER BY created_ms DESC, id DESC",
        )
        .bind(user_id)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(challenge_from_row)
        .collect()
    }

    /// Writes a challenge read at `c.version`; false if someone else wrote first.
    pub async fn update_challenge(&self, c: &Challenge) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE push_challenges SET data = $1, version = version + 1
             WHERE id = $2 AND version = $3",
        )
        .bind(crate::rows::json(c)?)
        .bind(&c.id)
        .bind(c.version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn find_push_state(&self, user_id: &str) -> Result<PushState> {
        let row = sqlx::query("SELECT blocked_ms, unanswered FROM push_states WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => PushState::default(),
            Some(r) => PushState {
                blocked: get_opt_i64(&r, "blocked_ms")?.map(postern_core::clock::from_millis),
                unanswered: get_i64(&r, "unanswered")?,
            },
        })
    }

    /// Records an answer in the user's push state atomically: an approval ends the unanswered
    /// streak; anything else lengthens it, and a report blocks push (kept if already blocked).
    pub async fn record_push_answer(
        &self,
        user_id: &str,
        approved: bool,
        reported_at: Option<OffsetDateTime>,
    ) -> Result<()> {
        if approved {
            sqlx::query(
                "INSERT INTO push_states (user_id, blocked_ms, unanswered) VALUES ($1, NULL, 0)
                 ON CONFLICT (user_id) DO UPDATE SET unanswered = 0",
            )
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO push_states (user_id, blocked_ms, unanswered) VALUES ($1, $2, 1)
                 ON CONFLICT (user_id) DO UPDATE
                 SET unanswered = push_states.unanswered + 1,
                     blocked_ms = COALESCE(push_states.blocked_ms, excluded.blocked_ms)",
            )
            .bind(user_id)
            .bind(reported_at.map(ms))
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Forgets the user's unused activation links (sign out everywhere).
    pub async fn delete_user_activations(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM activations WHERE user_id = $1 AND used_ms IS NULL")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Replaces a user's push state.
    pub async fn set_push_state(&self, user_id: &str, s: &PushState) -> Result<()> {
        sqlx::query(
            "INSERT INTO push_states (user_id, blocked_ms, unanswered) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET blocked_ms = excluded.blocked_ms,
                                                 unanswered = excluded.unanswered",
        )
        .bind(user_id)
        .bind(s.blocked.map(ms))
        .bind(s.unanswered)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
