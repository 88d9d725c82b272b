//! Bearer tokens for the admin API: made by an admin (or the local operator), shown once, stored
//! as SHA-256 (256 random bits), revocable, optionally expiring; and the check of a presented one.

use super::{AdminError, AdminResult, Change, Origin, audit};
use crate::state::AppState;
use postern_core::admin::{Actor, ActorKind, AdminToken, Authorized, Manage, Role, TOKEN_PREFIX};
use postern_core::random;
use postern_core::secret::hash_token;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// A request for a token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What or who it is for ("helpdesk laptop", "provisioning script").
    pub name: String,
    pub role: Role,
    /// 1 to 3650; never expires when absent.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// A new token: `token` is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenIssued {
    pub token: String,
    #[serde(flatten)]
    pub info: AdminToken,
}

/// The actor a presented bearer token stands for, if it is an active token.
pub async fn authenticate(state: &AppState, presented: &str) -> AdminResult<Option<Actor>> {
    if !presented.starts_with(TOKEN_PREFIX) || presented.len() > 200 {
        return Ok(None);
    }
    // The lookup is by hash: equal hashes are found by the index, not compared byte by byte here.
    let Some(t) = state
        .store
        .find_admin_token_by_hash(&hash_token(presented))
        .await?
    else {
        return Ok(None);
    };
    let now = super::now(state);
    if !t.is_active(now) {
        return Ok(None);
    }
    // A write at most once a minute per token, not one per request.
    if t.last_used
        .is_none_or(|used| now - used >= time::Duration::minutes(1))
    {
        state.store.touch_admin_token(&t.id, now).await?;
    }
    Ok(Some(Actor {
        kind: ActorKind::Token {
            token_id: t.id,
            name: t.name,
        },
        role: t.role,
    }))
}

pub async fn create(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    new: NewToken,
) -> AdminResult<TokenIssued> {
    let name = super::clean_label(&new.name, 100)?;
    let expires = match new.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(super::now(state) + Duration::days(d)),
        Some(_) => {
            return Err(AdminError::Invalid(
                "expires_in_days must be between 1 and 3650".into(),
            ));
        }
    };
    let token = format!("{TOKEN_PREFIX}{}", random::token(&*state.rng, 32));
    let info = AdminToken {
        id: random::uuid(&*state.rng),
        name,
        role: new.role,
        created: super::now(state),
        expires,
        revoked: None,
        last_used: None,
        created_by: who.actor().label(),
    };
    state
        .store
        .create_admin_token(&info, &hash_token(&token))
        .await?;
    let detail = format!(
        "{} token created{}",
        info.role,
        expires
            .map(|e| format!(", expires {}", postern_core::clock::iso8601(e)))
            .unwrap_or_else(|| ", no expiry".into())
    );
    audit(
        state,
        who,
        origin,
        Change {
            action: "token.create",
            target_type: "token",
            target_id: &info.id,
            target_name: &info.name,
            detail,
        },
    )
    .await?;
    Ok(TokenIssued { token, info })
}

pub async fn list(state: &AppState, _: &Authorized<Manage>) -> AdminResult<Vec<AdminToken>> {
    Ok(state.store.list_admin_tokens().await?)
}

pub async fn revoke(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
) -> AdminResult<AdminToken> {
    let found = match state.store.find_admin_token(id).await? {
        Some(t) => t,
        None => {
            // By name, for people.
            let all = state.store.list_admin_tokens().await?;
            let mut named = all
                .into_iter()
                .filter(|t| t.name == id && t.revoked.is_none());
            match (named.next(), named.next()) {
                (Some(t), None) => t,
                (Some(_), Some(_)) => {
                    return Err(AdminError::Conflict(format!(
                        "several active tokens are named '{id}': revoke by id"
                    )));
                }
                _ => return Err(AdminError::NotFound(format!("no token '{id}'"))),
            }
        }
    };
    let now: OffsetDateTime = super::now(state);
    if !state.store.revoke_admin_token(&found.id, now).await? {
        return Err(AdminError::Conflict(format!(
            "token '{}' is already revoked",
            found.name
        )));
    }
    audit(
        state,
        who,
        origin,
        Change {
            action: "token.revoke",
            target_type: "token",
            target_id: &found.id,
            target_name: &found.name,
            detail: format!("{} token revoked", found.role),
        },
    )
    .await?;
    Ok(state
        .store
        .find_admin_token(&found.id)
        .await?
        .unwrap_or(found))
}
