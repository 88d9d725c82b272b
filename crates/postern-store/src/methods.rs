//! Second-factor methods: one row per method, its secret material and check state as JSON with a
//! version number.
//!
//! Every write that consumes something (a TOTP time step, a recovery code) is accepted only over
//! the version the caller read, so a code is used at most once however many requests or nodes
//! race with it. Removal re-checks, inside its transaction, that the user keeps a way in.

use crate::rows::{
    flag, get_flag, get_i64, get_json, get_opt_time, get_text, get_time, json, ms, opt_ms,
};
use crate::{Backend, Result, Store};
use postern_core::credential::method::{
    Method, MethodKind, MethodSecret, RemoveRefused, can_remove, removal_set,
};
use postern_core::policy::MfaPolicy;
use sqlx::any::AnyRow;

/// `SELECT` of every method column, followed by the rest of the statement.
macro_rules! select_methods {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, name, is_default, created_ms, last_used_ms, data, version FROM auth_methods ",
            $rest
        )
    };
}

fn method_from_row(row: &AnyRow) -> Result<Method> {
    Ok(Method {
        id: get_text(row, "id")?,
        user_id: get_text(row, "user_id")?,
        name: get_text(row, "name")?,
        created: get_time(row, "created_ms")?,
        last_used: get_opt_time(row, "last_used_ms")?,
        is_default: get_flag(row, "is_default")?,
        secret: get_json(row, "data")?,
        version: get_i64(row, "version")?,
    })
}

/// What removing a method did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodRemoval {
    Removed,
    NotFound,
    Refused(RemoveRefused),
}

impl Store {
    /// A user's methods, oldest first.
    pub async fn list_methods(&self, user_id: &str) -> Result<Vec<Method>> {
        sqlx::query(select_methods!(
            "WHERE user_id = $1 ORDER BY created_ms, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(method_from_row)
        .collect()
    }

    /// A method by its id alone (a device authenticating itself by its id).
    pub async fn find_method_by_id(&self, id: &str) -> Result<Option<Method>> {
        sqlx::query(select_methods!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(method_from_row)
            .transpose()
    }

    /// The passkey with this credential id (base64url), whoever's it is.
    pub async fn find_passkey(&self, credential_id: &str) -> Result<Option<Method>> {
        sqlx::query(select_methods!("WHERE credential_id = $1"))
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(method_from_row)
            .transpose()
    }

    /// One of a user's methods.
    pub async fn find_method(&self, user_id: &str, id: &str) -> Result<Option<Method>> {
        sqlx::query(select_methods!("WHERE user_id = $1 AND id = $2"))
            .bind(user_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(method_from_row)
            .transpose()
    }

    /// Adds a method. A new set of recovery codes replaces the old set (its codes stop working);
    /// a method added as the default takes that place from the others. All or nothing.
    pub async fn create_method(&self, m: &Method) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // Serialises changes to one user's methods: two sets made at once cannot both stay.
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(&m.user_id)
                .execute(&mut *tx)
                .await?;
        }
        if m.kind() == MethodKind::RecoveryCodes {
            sqlx::query("DELETE FROM auth_methods WHERE user_id = $1 AND kind = $2")
                .bind(&m.user_id)
                .bind(MethodKind::RecoveryCodes.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if m.is_default {
            sqlx::query("UPDATE auth_methods SET is_default = 0 WHERE user_id = $1")
                .bind(&m.user_id)
                .execute(&mut *tx)
                .await?;
        }
        let credential_id = match &m.secret {
            MethodSecret::Passkey { credential_id, .. } => Some(credential_id.as_str()),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO auth_methods (id, user_id, kind, name, is_default, created_ms, last_used_ms, data, version, credential_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&m.id)
        .bind(&m.user_id)
        .bind(m.kind().as_str())
        .bind(&m.name)
        .bind(flag(m.is_default))
        .bind(ms(m.created))
        .bind(opt_ms(m.last_used))
        .bind(json(&m.secret)?)
        .bind(m.version)
        .bind(credential_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| crate::rows::conflict_as(e, || format!("method '{}'", m.id)))?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a method's new secret state and last use, read at `m.version`. False when another
    /// request wrote first (the code it was checking may already be used: check again).
    pub async fn update_method_use(&self, m: &Method) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE auth_methods SET data = $1, last_used_ms = $2, version = version + 1
             WHERE id = $3 AND user_id = $4 AND version = $5",
        )
        .bind(json(&m.secret)?)
        .bind(opt_ms(m.last_used))
        .bind(&m.id)
        .bind(&m.user_id)
        .bind(m.version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a method of `user_id` a new name; false if the user has no such method. The secret
    /// and its version are untouched, so a sign-in using the method at the same time is not
    /// disturbed.
    pub async fn rename_method(&self, user_id: &str, id: &str, name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE auth_methods SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes every method of a user (the helpdesk's "require re-registration"); returns how
    /// many there were.
    pub async fn delete_user_methods(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM auth_methods WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Makes `id` the user's default method; false if there is no such method of that user.
    pub async fn set_default_method(&self, user_id: &str, id: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE auth_methods SET is_default = CASE WHEN id = $2 THEN 1 ELSE 0 END
             WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let found = sqlx::query("SELECT id FROM auth_methods WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !found || done.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a method if `policy` lets the user keep a way in; the check runs on the methods as
    /// they are inside the transaction, so two removals at once cannot both pass.
    pub async fn delete_method(
        &self,
        user_id: &str,
        id: &str,
        policy: MfaPolicy,
    ) -> Result<MethodRemoval> {
        let mut tx = self.begin_write().await?;
        let methods = self.lock_user_methods(&mut tx, user_id).await?;
        if !methods.iter().any(|m| m.id == id) {
            return Ok(MethodRemoval::NotFound);
        }
        if let Err(refused) = can_remove(&methods, id, policy) {
            return Ok(MethodRemoval::Refused(refused));
        }
        delete_in(&mut tx, user_id, &removal_set(&methods, id)).await?;
        tx.commit().await?;
        Ok(MethodRemoval::Removed)
    }

    /// A user's methods inside a write transaction, with changes to them serialised (a row lock
    /// on PostgreSQL; SQLite's BEGIN IMMEDIATE already does it).
    async fn lock_user_methods(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: &str,
    ) -> Result<Vec<Method>> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(select_methods!(
            "WHERE user_id = $1 ORDER BY created_ms, id"
        ))
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(method_from_row)
        .collect()
    }
}

/// Deletes methods of a user by id, inside the caller's transaction.
async fn delete_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
    ids: &[String],
) -> Result<()> {
    for id in ids {
        sqlx::query("DELETE FROM auth_methods WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Removes a method and what goes with it (a device's offline codes), with no policy check:
    /// the helpdesk's removal. Returns what was removed (empty: no such method of that user).
    pub async fn force_delete_method(&self, user_id: &str, id: &str) -> Result<Vec<Method>> {
        let mut tx = self.begin_write().await?;
        let methods = self.lock_user_methods(&mut tx, user_id).await?;
        if !methods.iter().any(|m| m.id == id) {
            return Ok(vec![]);
        }
        let going = removal_set(&methods, id);
        delete_in(&mut tx, user_id, &going).await?;
        tx.commit().await?;
        // The named method first.
        let mut removed: Vec<Method> = methods
            .into_iter()
            .filter(|m| going.contains(&m.id))
            .collect();
        removed.sort_by_key(|m| m.id != id);
        Ok(removed)
    }
}
