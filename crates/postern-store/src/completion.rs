//! The writes that end a sign-in and a token grant, each in one transaction.
//!
//! Every sign-in ends with three writes (the flow is complete, the browser gets a new session,
//! an authorization code is stored) and every code or refresh grant with two (the refresh token,
//! the access token's family link). Grouping them makes each step atomic — no code without its
//! session, no refresh token without its access-token link — and costs one commit instead of
//! several on the hottest path Postern has.

use crate::flows::move_flow_query;
use crate::rows::conflict_as;
use crate::sessions::insert_session;
use crate::signin_log::{SignInRecord, write_record};
use crate::tokens::{insert_access_token, insert_auth_code, insert_refresh_token};
use crate::{Result, Store};
use postern_core::flow::{Flow, FlowState};
use postern_core::oidc::token::{AuthCode, RefreshToken};
use postern_core::session::SsoSession;
use time::OffsetDateTime;

impl Store {
    /// Moves the flow `before` to `next` (its final state), replaces the browser's previous session (if any) with
    /// `session`, stores `code` (none when the sign-in goes to Postern's own pages), and writes the request's sign-in log record — all or nothing.
    ///
    /// `before` is the flow as the caller read it: if it moved since (another tab or node
    /// finished it first), nothing is written and the answer is `false` (`Store::move_flow`).
    pub async fn complete_sign_in(
        &self,
        before: &Flow,
        next: &FlowState,
        previous_session: Option<&str>,
        session: &SsoSession,
        code: Option<&AuthCode>,
        record: &SignInRecord<'_>,
    ) -> Result<bool> {
        self.retry_append(|| async {
            let mut tx = self.begin_write().await?;
            let moved = move_flow_query(before, next)?.execute(&mut *tx).await?;
            if moved.rows_affected() != 1 {
                return Ok(false);
            }
            if let Some(old) = previous_session {
                sqlx::query("DELETE FROM sso_sessions WHERE id_hash = $1")
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_session(session)?
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_as(e, || "session".to_owned()))?;
            if let Some(code) = code {
                insert_auth_code(code)?
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_as(e, || "authorization code".to_owned()))?;
            }
            write_record(&mut tx, record).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Stores what a grant issued — a new refresh token (after a code grant) and the link from the
    /// access token to its family — with the request's sign-in log record, if any.
    pub async fn record_grant(
        &self,
        refresh: Option<&RefreshToken>,
        jti: &str,
        family_id: &str,
        access_expires: OffsetDateTime,
        record: Option<&SignInRecord<'_>>,
    ) -> Result<()> {
        self.retry_append(|| async {
            let mut tx = self.begin_write().await?;
            if let Some(t) = refresh {
                insert_refresh_token(&mut *tx, t).await?;
            }
            insert_access_token(jti, family_id, access_expires)
                .execute(&mut *tx)
                .await?;
            if let Some(rec) = record {
                write_record(&mut tx, rec).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
