//! Sign-in flows in progress.
//!
//! A flow is stored whole as JSON (`data`), with its id, correlation id and expiry beside it as
//! columns for lookups and purging, and a `version` bumped on every move. Only the domain
//! interprets its contents; it changes in one way, [`Store::move_flow`] (or inside the
//! transaction that completes a sign-in), over the version read — the rule of methods and push
//! challenges.

use crate::rows::{conflict_as, get_i64, get_json, json, ms};
use crate::{AnyQuery, Result, Store};
use postern_core::flow::{Flow, FlowState};

/// The update that moves `before` to `next` over its version (also inside the transaction that
/// ends a sign-in).
pub(crate) fn move_flow_query(before: &Flow, next: &FlowState) -> Result<AnyQuery<'static>> {
    let moved = Flow {
        state: next.clone(),
        ..before.clone()
    };
    Ok(sqlx::query(
        "UPDATE flows SET data = $1, version = version + 1 WHERE id = $2 AND version = $3",
    )
    .bind(json(&moved)?)
    .bind(before.id.clone())
    .bind(before.version))
}

impl Store {
    /// Stores a new flow; `Conflict` if the id is taken.
    pub async fn create_flow(&self, f: &Flow) -> Result<()> {
        sqlx::query(
            "INSERT INTO flows (id, correlation_id, data, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&f.id)
        .bind(&f.correlation_id)
        .bind(json(f)?)
        .bind(ms(f.expires))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_as(e, || format!("flow '{}'", f.id)))?;
        Ok(())
    }

    /// The flow, expired or not (the caller checks `Flow::is_expired`), at the version read.
    pub async fn find_flow(&self, id: &str) -> Result<Option<Flow>> {
        sqlx::query("SELECT data, version FROM flows WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| {
                let mut flow: Flow = get_json(&row, "data")?;
                flow.version = get_i64(&row, "version")?;
                Ok(flow)
            })
            .transpose()
    }

    /// Moves the flow `before` (as read, at its version) to `next`: the one way a flow changes
    /// after it is created. False when it moved meanwhile (another tab or node went first, or it
    /// is gone): nothing is written, and the caller shows the flow as it now stands.
    pub async fn move_flow(&self, before: &Flow, next: &FlowState) -> Result<bool> {
        let moved = move_flow_query(before, next)?.execute(&self.pool).await?;
        Ok(moved.rows_affected() == 1)
    }

    pub async fn delete_flow(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM flows WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
