//! WebAuthn ceremonies in progress: the state a passkey registration or sign-in needs to check the
//! browser's answer (challenge, expected user, allowed credentials), kept server-side so any node
//! can finish what another started.
//!
//! One ceremony per key (a sign-in flow, or a Security info session): starting another replaces
//! it. Taking one deletes it in the same statement, so an answer is checked at most once however
//! many requests race with it, and an expired one is never returned.

use crate::rows::{get_opt_text, get_text, get_time, ms};
use crate::{Result, Store};
use time::OffsetDateTime;

/// A ceremony's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// What it is for ("register", "authenticate", "discover").
    pub purpose: String,
    /// The user it expects, when it expects one.
    pub user_id: Option<String>,
    /// The WebAuthn library's state as JSON.
    pub state: String,
    pub expires: OffsetDateTime,
}

impl Store {
    /// Stores the ceremony of `key`, replacing one started before.
    pub async fn put_ceremony(&self, key: &str, c: &Ceremony) -> Result<()> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, purpose, user_id, state, expires_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET purpose = excluded.purpose,
                 user_id = excluded.user_id, state = excluded.state,
                 expires_ms = excluded.expires_ms",
        )
        .bind(key)
        .bind(&c.purpose)
        .bind(c.user_id.as_deref())
        .bind(&c.state)
        .bind(ms(c.expires))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the ceremony of `key` (it is gone afterwards): `None` if there is none, or it has
    /// expired at `now`.
    pub async fn take_ceremony(&self, key: &str, now: OffsetDateTime) -> Result<Option<Ceremony>> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id = $1
             RETURNING purpose, user_id, state, expires_ms",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let c = Ceremony {
            purpose: get_text(&row, "purpose")?,
            user_id: get_opt_text(&row, "user_id")?,
            state: get_text(&row, "state")?,
            expires: get_time(&row, "expires_ms")?,
        };
        Ok((c.expires > now).then_some(c))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::{TestDatabase, backends};
    use time::Duration;

    #[tokio::test]
    async fn a_ceremony_is_taken_once_and_never_after_it_expires() {
        for backend in backends() {
            let db = TestDatabase::create(backend).await;
            let store = Store::connect(&db.url).await.unwrap();
            taken_once(&store).await;
            store.close().await;
            db.drop_database().await;
        }
    }

    async fn taken_once(store: &Store) {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let c = Ceremony {
            purpose: "authenticate".into(),
            user_id: Some("u1".into()),
            state: "{}".into(),
            expires: now + Duration::minutes(5),
        };
        store.put_ceremony("flow:1", &c).await.unwrap();
        let newer = Ceremony {
            state: "{\"n\":2}".into(),
            ..c.clone()
        };
        store.put_ceremony("flow:1", &newer).await.unwrap();
        assert_eq!(
            store.take_ceremony("flow:1", now).await.unwrap(),
            Some(newer)
        );
        assert_eq!(store.take_ceremony("flow:1", now).await.unwrap(), None);

        store.put_ceremony("flow:2", &c).await.unwrap();
        let later = now + Duration::minutes(6);
        assert_eq!(store.take_ceremony("flow:2", later).await.unwrap(), None);
        assert_eq!(store.take_ceremony("flow:2", now).await.unwrap(), None);
    }
}
