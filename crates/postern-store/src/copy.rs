//! Moving a deployment from SQLite to PostgreSQL: every table, parents before children, into an
//! empty database of the same schema, in one transaction, with each table's row count and
//! checksum compared on both sides before the commit.
//!
//! The copy is generic over the schema (tables and columns are read from SQLite's catalogue),
//! so a table added by a later migration is copied without changes here. Values keep their
//! types: integers, text, blobs (BYTEA) and NULLs typed after the target column.

use crate::{Backend, Result, Store, StoreError};
use sqlx::{Row, TypeInfo, ValueRef};
use std::collections::{BTreeMap, BTreeSet};

/// One copied table: rows and the checksum both sides agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: String,
    pub rows: u64,
    /// An order-independent digest of every row's values (the sum of their SHA-256 prefixes).
    pub checksum: u64,
}

/// A value as both backends give it back.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn value_of(row: &sqlx::any::AnyRow, i: usize) -> Result<Value> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_ascii_uppercase();
    Ok(
        if kind.contains("INT") || kind == "BOOLEAN" || kind == "BOOL" {
            Value::Int(row.try_get::<i64, _>(i)?)
        } else if kind.contains("REAL") || kind.contains("DOUBLE") || kind.contains("FLOAT") {
            Value::Real(row.try_get::<f64, _>(i)?)
        } else if kind.contains("BLOB") || kind.contains("BYTEA") {
            Value::Blob(row.try_get::<Vec<u8>, _>(i)?)
        } else {
            Value::Text(row.try_get::<String, _>(i)?)
        },
    )
}

/// Adds a row to a checksum.
fn digest(sum: u64, values: &[Value]) -> u64 {
    let mut canonical = Vec::new();
    for v in values {
        match v {
            Value::Null => canonical.extend_from_slice(b"N;"),
            Value::Int(n) => canonical.extend_from_slice(format!("I{n};").as_bytes()),
            Value::Real(x) => canonical.extend_from_slice(format!("R{x:?};").as_bytes()),
            Value::Text(s) => {
                canonical.extend_from_slice(format!("T{}:", s.len()).as_bytes());
                canonical.extend_from_slice(s.as_bytes());
            }
            Value::Blob(b) => {
                canonical.extend_from_slice(format!("B{}:", b.len()).as_bytes());
                canonical.extend_from_slice(b);
            }
        }
    }
    let hash = postern_core::secret::sha256(&canonical);
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&hash[..8]);
    sum.wrapping_add(u64::from_be_bytes(prefix))
}

/// The tables of a SQLite store, parents before the tables whose foreign keys point at them.
async fn tables_in_order(source: &Store) -> Result<Vec<String>> {
    let names: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version' ORDER BY name",
    )
    .fetch_all(&source.pool)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>("name"))
    .collect::<std::result::Result<_, _>>()?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        // The name comes from the catalogue, not from a user.
        let refs = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT \"table\" AS parent FROM pragma_foreign_key_list('{name}')"
        )))
        .fetch_all(&source.pool)
        .await?;
        let set = refs
            .iter()
            .filter_map(|r| r.try_get::<String, _>("parent").ok())
            .filter(|p| p != name)
            .collect();
        parents.insert(name.clone(), set);
    }
    let mut ordered: Vec<String> = Vec::new();
    while ordered.len() < names.len() {
        let before = ordered.len();
        for name in &names {
            if !ordered.contains(name) && parents[name].iter().all(|p| ordered.contains(p)) {
                ordered.push(name.clone());
            }
        }
        if ordered.len() == before {
            return Err(StoreError::Corrupt(
                "the tables' foreign keys form a cycle".into(),
            ));
        }
    }
    Ok(ordered)
}

/// The data type of each column of `table` on PostgreSQL (to type a NULL).
async fn target_types(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
) -> Result<BTreeMap<String, String>> {
    let rows = sqlx::query(
        "SELECT column_name::text AS column_name, data_type::text AS data_type
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("column_name")?,
                r.try_get::<String, _>("data_type")?,
            ))
        })
        .collect()
}

impl Store {
    /// How many rows `table` holds (tests and checks; the name must be a table of the schema).
    pub async fn count_rows_for_tests(&self, table: &str) -> Result<i64> {
        if !table.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(StoreError::Corrupt(format!("not a table name: {table}")));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Copies everything in this SQLite store into `target`, an empty PostgreSQL store of the
    /// same schema, in one transaction; `progress(table, rows_so_far)` after each batch. Nothing
    /// is written unless every table's count and checksum match on both sides.
    pub async fn copy_into(
        &self,
        target: &Store,
        mut progress: impl FnMut(&str, u64),
    ) -> Result<Vec<TableCopy>> {
        if self.backend != Backend::Sqlite || target.backend != Backend::Postgres {
            return Err(StoreError::UnsupportedUrl(
                "copying goes from SQLite to PostgreSQL".into(),
            ));
        }
        let (from, to) = (self.schema_version().await?, target.schema_version().await?);
        if from != to {
            return Err(StoreError::Corrupt(format!(
                "the schemas differ (SQLite {from}, PostgreSQL {to}): run the same Postern on both"
            )));
        }
        let tables = tables_in_order(self).await?;
        let mut tx = target.pool.begin().await?;
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await?;
        for table in &tables {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM {table}"
            )))
            .fetch_one(&mut *tx)
            .await?;
            if row.try_get::<i64, _>("n")? > 0 {
                return Err(StoreError::Conflict(format!(
                    "the target database already holds data (table {table}); migrate into an empty database"
                )));
            }
        }
        // One read transaction on SQLite: a consistent snapshot of every table.
        let mut source = self.pool.begin().await?;
        let mut copied = Vec::new();
        for table in &tables {
            let types = target_types(&mut tx, table).await?;
            let columns: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            )))
            .fetch_all(&mut *source)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<std::result::Result<_, _>>()?;
            let list = columns.join(", ");
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {list} FROM {table}")))
                .fetch_all(&mut *source)
                .await?;
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({list}) VALUES ({})",
                placeholders.join(", ")
            );
            let mut sum = 0u64;
            for (n, row) in rows.iter().enumerate() {
                let values = (0..columns.len())
                    .map(|i| value_of(row, i))
                    .collect::<Result<Vec<_>>>()?;
                sum = digest(sum, &values);
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
                for (column, value) in columns.iter().zip(values) {
                    let pg = types.get(column).map(String::as_str).unwrap_or("text");
                    query = match value {
                        Value::Null if pg == "bigint" || pg == "integer" => query.bind(None::<i64>),
                        Value::Null if pg == "bytea" => query.bind(None::<Vec<u8>>),
                        Value::Null if pg == "double precision" => query.bind(None::<f64>),
                        Value::Null => query.bind(None::<String>),
                        Value::Int(v) => query.bind(v),
                        Value::Real(v) => query.bind(v),
                        Value::Text(v) => query.bind(v),
                        Value::Blob(v) => query.bind(v),
                    };
                }
                query.execute(&mut *tx).await?;
                if (n + 1) % 1000 == 0 {
                    progress(table, n as u64 + 1);
                }
            }
            progress(table, rows.len() as u64);
            // Read back inside the transaction: what PostgreSQL holds now.
            let back = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {list} FROM {table}")))
                .fetch_all(&mut *tx)
                .await?;
            let mut back_sum = 0u64;
            for row in &back {
                let values = (0..row.columns().len())
                    .map(|i| value_of(row, i))
                    .collect::<Result<Vec<_>>>()?;
                back_sum = digest(back_sum, &values);
            }
            if back.len() != rows.len() || back_sum != sum {
                return Err(StoreError::Corrupt(format!(
                    "table {table}: {} rows (checksum {sum:016x}) read, {} rows (checksum {back_sum:016x}) written; nothing was committed",
                    rows.len(),
                    back.len()
                )));
            }
            copied.push(TableCopy {
                table: table.clone(),
                rows: rows.len() as u64,
                checksum: sum,
            });
        }
        source.commit().await?;
        tx.commit().await?;
        Ok(copied)
    }
}
