//! Signing keys for ID and access tokens, as sealed PKCS#8 blobs.
//!
//! The store never sees a private key in the clear: the server seals it with the master key
//! before `create_signing_key`. Rotation is two updates: older keys of an algorithm are retired
//! (they stop signing but stay in the JWKS until `publish_until`), then dropped once that passes.

use crate::rows::{conflict_as, get_bytes, get_opt_time, get_text, get_time, ms, opt_ms};
use crate::{Result, Store, StoreError, StoredKey};
use postern_core::oidc::jws::SigningAlg;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

fn key_from_row(row: &AnyRow) -> Result<StoredKey> {
    let alg = get_text(row, "alg")?;
    Ok(StoredKey {
        kid: get_text(row, "kid")?,
        alg: SigningAlg::parse(&alg)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown signing algorithm '{alg}'")))?,
        sealed_pkcs8: get_bytes(row, "sealed_pkcs8")?,
        created: get_time(row, "created_ms")?,
        retired: get_opt_time(row, "retired_ms")?,
        publish_until: get_opt_time(row, "publish_until_ms")?,
    })
}

/// Key of the PostgreSQL advisory lock taken while a first signing key is stored ("keys").
const FIRST_KEY_LOCK: i64 = 0x0000_006b_6579_7300;

impl Store {
    /// Stores a new key; `Conflict` if the kid is taken.
    pub async fn create_signing_key(&self, k: &StoredKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, sealed_pkcs8, created_ms, retired_ms, publish_until_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(&k.sealed_pkcs8)
        .bind(ms(k.created))
        .bind(opt_ms(k.retired))
        .bind(opt_ms(k.publish_until))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_as(e, || format!("signing key '{}'", k.kid)))?;
        Ok(())
    }

    /// Stores `k` as the first active key of its algorithm, unless one exists already: nodes
    /// starting together generate a key each, and one wins. False when another key was there
    /// (`k` is not stored). Serialised by the write lock on SQLite and an advisory lock on
    /// PostgreSQL.
    pub async fn create_first_signing_key(&self, k: &StoredKey) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(FIRST_KEY_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let active = sqlx::query(
            "SELECT kid FROM signing_keys WHERE alg = $1 AND retired_ms IS NULL LIMIT 1",
        )
        .bind(k.alg.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, sealed_pkcs8, created_ms, retired_ms, publish_until_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(&k.sealed_pkcs8)
        .bind(ms(k.created))
        .bind(opt_ms(k.retired))
        .bind(opt_ms(k.publish_until))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_as(e, || format!("signing key '{}'", k.kid)))?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every key, oldest first.
    pub async fn list_signing_keys(&self) -> Result<Vec<StoredKey>> {
        sqlx::query(
            "SELECT kid, alg, sealed_pkcs8, created_ms, retired_ms, publish_until_ms
             FROM signing_keys ORDER BY created_ms, kid",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    /// Retires every active key of `alg` except `except_kid`; returns how many.
    pub async fn retire_signing_keys(
        &self,
        alg: SigningAlg,
        except_kid: &str,
        retired: OffsetDateTime,
        publish_until: OffsetDateTime,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE signing_keys SET retired_ms = $1, publish_until_ms = $2
             WHERE alg = $3 AND kid <> $4 AND retired_ms IS NULL",
        )
        .bind(ms(retired))
        .bind(ms(publish_until))
        .bind(alg.as_str())
        .bind(except_kid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes retired keys no longer published at `now`; returns how many.
    pub async fn delete_unpublished_keys(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys
             WHERE retired_ms IS NOT NULL AND publish_until_ms IS NOT NULL AND publish_until_ms < $1",
        )
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
