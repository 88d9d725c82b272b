//! Conversions between domain values and the portable column values every table uses: BIGINT
//! milliseconds for times, BIGINT 0/1 for flags, TEXT holding JSON for lists and structures.
//!
//! Only encoding lives here; which columns a table has is each area's business.

use crate::{Result, StoreError};
use postern_core::clock::{from_millis, to_millis};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// A time as stored.
pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    to_millis(t)
}

/// An optional time as stored.
pub(crate) fn opt_ms(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(to_millis)
}

/// A flag as stored.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Any value as a JSON text column.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode as JSON: {e}")))
}

pub(crate) fn get_text(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_text(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

pub(crate) fn get_time(row: &AnyRow, col: &str) -> Result<OffsetDateTime> {
    Ok(from_millis(get_i64(row, col)?))
}

pub(crate) fn get_opt_time(row: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    Ok(get_opt_i64(row, col)?.map(from_millis))
}

pub(crate) fn get_flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(get_i64(row, col)? != 0)
}

pub(crate) fn get_bytes(row: &AnyRow, col: &str) -> Result<Vec<u8>> {
    Ok(row.try_get::<Vec<u8>, _>(col)?)
}

/// A JSON text column decoded.
pub(crate) fn get_json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let text = get_text(row, col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

/// Whether a failed statement broke a UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Turns a unique violation into [`StoreError::Conflict`] naming `what`; other errors pass.
pub(crate) fn conflict_as(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(what())
    } else {
        StoreError::Database(e)
    }
}
