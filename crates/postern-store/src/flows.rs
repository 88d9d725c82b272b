//! Sign-in flows in progress.
//!
//! A flow is stored whole as JSON (`data`), with its id, correlation id and expiry beside it as
//! columns for lookups and purging. Only the domain interprets its contents.

use crate::rows::{conflict_as, get_json, json, ms};
use crate::{Result, Store};
use postern_core::flow::{Flow, FlowState};

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

    /// The flow, expired or not (the caller checks `Flow::is_expired`).
    pub async fn find_flow(&self, id: &str) -> Result<Option<Flow>> {
        sqlx::query("SELECT data FROM flows WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| get_json(&row, "data"))
            .transpose()
    }

    /// Moves a flow to a new state. Nothing happens if the flow is gone (purged or deleted):
    /// the next `find_flow` says so.
    pub async fn update_flow_state(&self, id: &str, state: &FlowState) -> Result<()> {
        // Only the state ever changes after creation, so a read-modify-write cannot lose another
        // field; concurrent state changes end with the last one, as the state machine expects.
        let Some(mut flow) = self.find_flow(id).await? else {
            return Ok(());
        };
        flow.state = state.clone();
        sqlx::query("UPDATE flows SET data = $1 WHERE id = $2")
            .bind(json(&flow)?)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces the flow `before` with `after` only if it is still exactly `before` (another tab
    /// or node may have moved it); true if replaced.
    pub async fn replace_flow(&self, before: &Flow, after: &Flow) -> Result<bool> {
        let done = sqlx::query("UPDATE flows SET data = $1 WHERE id = $2 AND data = $3")
            .bind(json(after)?)
            .bind(&after.id)
            .bind(json(before)?)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_flow(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM flows WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
