//! The audit log: appended to, queried, and purged after the retention period — never updated.

use crate::rows::{get_opt_text, get_text, get_time, ms};
use crate::{Result, Store, StoreError};
use postern_core::admin::Role;
use postern_core::audit::AuditEntry;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// The stored role of an entry made by Postern itself.
const SYSTEM: &str = "system";

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
    let role = get_text(row, "actor_role")?;
    Ok(AuditEntry {
        id: get_text(row, "id")?,
        time: get_time(row, "time_ms")?,
        actor: get_text(row, "actor")?,
        actor_id: get_text(row, "actor_id")?,
        actor_role: match role.as_str() {
            SYSTEM => None,
            r => Some(
                Role::parse(r)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown role '{role}'")))?,
            ),
        },
        action: get_text(row, "action")?,
        target_type: get_text(row, "target_type")?,
        target_id: get_text(row, "target_id")?,
        target_name: get_text(row, "target_name")?,
        ip: get_opt_text(row, "ip")?,
        request_id: get_opt_text(row, "request_id")?,
        correlation_id: get_opt_text(row, "correlation_id")?,
        detail: get_text(row, "detail")?,
    })
}

/// What to look for in the audit log. Every field narrows; none means everything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// The user, client or token changed.
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Keyset paging: entries strictly older than this (time, id).
    pub before: Option<(OffsetDateTime, String)>,
    pub limit: i64,
}

impl Store {
    pub async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, time_ms, actor, actor_id, actor_role, action, target_type,
                                    target_id, target_name, ip, request_id, correlation_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&e.id)
        .bind(ms(e.time))
        .bind(&e.actor)
        .bind(&e.actor_id)
        .bind(e.actor_role.map_or(SYSTEM, Role::as_str))
        .bind(&e.action)
        .bind(&e.target_type)
        .bind(&e.target_id)
        .bind(&e.target_name)
        .bind(&e.ip)
        .bind(&e.request_id)
        .bind(&e.correlation_id)
        .bind(&e.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Entries matching `q`, newest first.
    pub async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let (before_ms, before_id) = match &q.before {
            Some((t, id)) => (Some(ms(*t)), Some(id.as_str())),
            None => (None, None),
        };
        sqlx::query(
            "SELECT id, time_ms, actor, actor_id, actor_role, action, target_type, target_id,
                    target_name, ip, request_id, correlation_id, detail
             FROM audit_log
             WHERE ($1 IS NULL OR target_id = $1)
               AND ($2 IS NULL OR action = $2)
               AND ($3 IS NULL OR time_ms >= $3)
               AND ($4 IS NULL OR time_ms < $4)
               AND ($5 IS NULL OR time_ms < $5 OR (time_ms = $5 AND id < $6))
             ORDER BY time_ms DESC, id DESC LIMIT $7",
        )
        .bind(&q.target_id)
        .bind(&q.action)
        .bind(q.from.map(ms))
        .bind(q.to.map(ms))
        .bind(before_ms)
        .bind(before_id)
        .bind(q.limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    /// Deletes audit entries older than `cutoff` (the retention period is the caller's policy).
    pub async fn purge_audit_before(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_housekeeping().await?;
        let done = sqlx::query("DELETE FROM audit_log WHERE time_ms < $1")
            .bind(ms(cutoff))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
