//! Accounts (with the helpdesk's search and profile changes) and their lockout state.
//!
//! Usernames are unique (stored already normalised by the caller). The lockout state of each
//! account and kind of secret is a JSON document with a version number: callers read it, apply
//! the rules of `postern_core::softlock`, and write it back only if nobody else did meanwhile
//! (optimistic concurrency), so failures count correctly across nodes.

use crate::rows::{
    conflict_as, flag, get_flag, get_i64, get_json, get_opt_text, get_text, get_time, json, ms,
};
use crate::{Result, Store};
use postern_core::softlock::LockoutState;
use postern_core::user::User;
use sqlx::any::AnyRow;

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: get_text(row, "id")?,
        username: get_text(row, "username")?,
        email: get_opt_text(row, "email")?,
        name: get_opt_text(row, "name")?,
        password_hash: get_opt_text(row, "password_hash")?,
        disabled: get_flag(row, "disabled")?,
        created: get_time(row, "created_ms")?,
    })
}

impl Store {
    /// Adds an account; `Conflict` if the username (or id) is taken.
    pub async fn create_user(&self, user: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, username, email, name, password_hash, disabled, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(flag(user.disabled))
        .bind(ms(user.created))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_as(e, || format!("user '{}'", user.username)))?;
        Ok(())
    }

    pub async fn find_user_by_id(&self, id: &str) -> Result<Option<User>> {
        sqlx::query(
            "SELECT id, username, email, name, password_hash, disabled, created_ms
             FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    pub async fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        sqlx::query(
            "SELECT id, username, email, name, password_hash, disabled, created_ms
             FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    /// Every account, by username.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        sqlx::query(
            "SELECT id, username, email, name, password_hash, disabled, created_ms
             FROM users ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    /// Disables or re-enables an account; false if there is no such account.
    pub async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(flag(disabled))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the password hash (a PHC string); false if there is no such account.
    pub async fn set_user_password(&self, id: &str, phc: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(phc)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The lockout state of an account for one kind of secret, with its version (0 and the
    /// default state when nothing was recorded yet).
    pub async fn find_lockout(&self, user_id: &str, kind: &str) -> Result<(LockoutState, i64)> {
        let row =
            sqlx::query("SELECT data, version FROM lockouts WHERE user_id = $1 AND kind = $2")
                .bind(user_id)
                .bind(kind)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => Ok((get_json(&row, "data")?, get_i64(&row, "version")?)),
            None => Ok((LockoutState::default(), 0)),
        }
    }

    /// Replaces the password hash only if it is still `old` (a rehash must not overwrite a reset
    /// made meanwhile). True if it was replaced.
    pub async fn replace_user_password(&self, id: &str, old: &str, new: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(new)
                .bind(id)
                .bind(old)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a lockout state read at `expected_version`. False when someone else wrote first
    /// (the caller reads again and retries).
    pub async fn update_lockout(
        &self,
        user_id: &str,
        kind: &str,
        state: &LockoutState,
        expected_version: i64,
    ) -> Result<bool> {
        let data = json(state)?;
        let done = if expected_version == 0 {
            sqlx::query(
                "INSERT INTO lockouts (user_id, kind, data, version) VALUES ($1, $2, $3, 1)
                 ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(kind)
            .bind(data)
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(
                "UPDATE lockouts SET data = $1, version = version + 1
                 WHERE user_id = $2 AND kind = $3 AND version = $4",
            )
            .bind(data)
            .bind(user_id)
            .bind(kind)
            .bind(expected_version)
            .execute(&self.pool)
            .await?
        };
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// Accounts whose username, email or name contains `search` (any case), by username, after
    /// the username `after` (keyset paging), at most `limit`.
    pub async fn search_users(
        &self,
        search: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>> {
        let pattern = search.map(|s| {
            let escaped = s
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        sqlx::query(
            "SELECT id, username, email, name, password_hash, disabled, created_ms FROM users
             WHERE ($1 IS NULL OR LOWER(username) LIKE $1 ESCAPE '\\'
                    OR LOWER(COALESCE(email, '')) LIKE $1 ESCAPE '\\'
                    OR LOWER(COALESCE(name, '')) LIKE $1 ESCAPE '\\')
               AND ($2 IS NULL OR username > $2)
             ORDER BY username LIMIT $3",
        )
        .bind(pattern)
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    /// Changes an account's email and display name; false if there is no such account.
    pub async fn update_user_profile(
        &self,
        id: &str,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET email = $1, name = $2 WHERE id = $3")
            .bind(email)
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
