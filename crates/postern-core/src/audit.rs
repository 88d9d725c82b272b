//! The audit log's model: one entry per administrative change — who, what, to whom, when, from
//! where, and the sign-in it was fixing if the caller said so. Entries are only ever appended
//! (and purged after the retention period); nothing secret goes in.

use crate::admin::{Actor, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One administrative change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// "token 'desk-1'", "user 'alice'", "local operator 'root'".
    pub actor: String,
    /// The token id or user id behind `actor` (empty for the local operator).
    pub actor_id: String,
    /// None for Postern itself (a pass that expired).
    pub actor_role: Option<Role>,
    /// A stable verb: "user.unlock", "access_pass.create", "client.rotate_secret" …
    pub action: String,
    /// "user", "client", "token", "method".
    pub target_type: String,
    pub target_id: String,
    /// The username or client name, as it was then.
    pub target_name: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// The sign-in this change was made for, when the caller names one.
    pub correlation_id: Option<String>,
    /// Plain words: "temporary access pass, one-time, expires 2026-11-29T12:00:00Z".
    pub detail: String,
}

/// The actor's id for [`AuditEntry::actor_id`].
pub fn actor_id(actor: &Actor) -> String {
    match &actor.kind {
        crate::admin::ActorKind::Token { token_id, .. } => token_id.clone(),
        crate::admin::ActorKind::User { user_id, .. } => user_id.clone(),
        crate::admin::ActorKind::Local { .. } => String::new(),
    }
}
