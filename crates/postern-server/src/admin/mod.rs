//! Administration, one function per operation, shared by the admin API (`/admin/v1`), the
//! helpdesk pages (`/admin`) and `postern admin`: each takes the proof of its permission
//! ([`Authorized`]), does the change, and appends it to the audit log. Handlers only translate
//! HTTP or forms to these calls; nothing else in the server changes accounts on an admin's behalf.

pub mod audit_log;
pub mod clients;
pub mod methods;
pub mod signins;
pub mod tokens;
pub mod users;

use crate::state::AppState;
use postern_core::admin::{Authorized, Forbidden};
use postern_core::audit::{AuditEntry, actor_id};
use postern_core::random;
use postern_store::StoreError;
use serde::{Deserialize, Serialize};

/// Why an operation did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(#[from] Forbidden),
    /// The role allows the operation, but not on this target (a helpdesk on an administrator).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl AdminError {
    /// The stable `error` value of the API's error body.
    pub fn key(&self) -> &'static str {
        match self {
            AdminError::NotFound(_) => "not_found",
            AdminError::Forbidden(_) | AdminError::Refused(_) => "forbidden",
            AdminError::Invalid(_) => "invalid_request",
            AdminError::Conflict(_) => "conflict",
            AdminError::Store(e) if e.is_unavailable() => "temporarily_unavailable",
            AdminError::Store(_) => "server_error",
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// Whether `who` may take over the sign-in of `target` (remove its methods, give it a temporary
/// access pass): only an admin may do that to an account holding an administrative role —
/// otherwise a helpdesk could sign in as an admin and act with the admin's role.
pub(crate) async fn may_take_over<P>(
    state: &AppState,
    who: &Authorized<P>,
    target: &postern_core::user::User,
) -> AdminResult<()> {
    use postern_core::admin::Role;
    if who.actor().role == Role::Admin {
        return Ok(());
    }
    match state.store.find_user_role(&target.id).await? {
        Some(role @ (Role::Admin | Role::Helpdesk)) => Err(AdminError::Refused(format!(
            "{} holds the {role} role: only an admin may change its sign-in methods or issue it a temporary access pass",
            target.username
        ))),
        _ => Ok(()),
    }
}

/// Where an administrative request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// The sign-in (request or correlation id) the change is made for, if the caller names one.
    pub signin: Option<String>,
}

/// What an audited change did to what.
pub struct Change<'a> {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: &'a str,
    pub target_name: &'a str,
    pub detail: String,
}

/// Appends a change to the audit log. A sign-in named by one of its request ids is recorded by
/// its correlation id; an id that matches no sign-in is kept as given (it is the caller's
/// reference).
pub(crate) async fn audit<P>(
    state: &AppState,
    who: &Authorized<P>,
    origin: &Origin,
    change: Change<'_>,
) -> AdminResult<()> {
    // An id is letters, digits and dashes, whoever sent it (API header, helpdesk form, CLI): it
    // is shown in pages and terminals.
    let named: Option<String> = origin.signin.as_deref().map(|id| {
        id.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(100)
            .collect()
    });
    let correlation_id = match named.filter(|id| !id.is_empty()) {
        None => None,
        Some(id) => Some(match state.store.find_signin(&id).await? {
            Some(entry) => entry.correlation_id,
            None => id,
        }),
    };
    let actor = who.actor();
    state
        .store
        .append_audit(&AuditEntry {
            id: random::uuid(&*state.rng),
            time: now(state),
            actor: actor.label(),
            actor_id: actor_id(actor),
            actor_role: Some(actor.role),
            action: change.action.to_owned(),
            target_type: change.target_type.to_owned(),
            target_id: change.target_id.to_owned(),
            target_name: change.target_name.to_owned(),
            ip: origin.ip.clone(),
            request_id: origin.request_id.clone(),
            correlation_id,
            detail: change.detail,
        })
        .await?;
    Ok(())
}

/// The time now, in the store's precision (milliseconds): what an operation returns is what a
/// later read shows.
pub fn now(state: &AppState) -> time::OffsetDateTime {
    use postern_core::clock::{from_millis, to_millis};
    from_millis(to_millis(state.clock.now()))
}

/// A name given to an application or a token: trimmed, without control characters, 1 to `max`
/// characters.
pub fn clean_label(text: &str, max: usize) -> AdminResult<String> {
    let name: String = text.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() || name.chars().count() > max {
        return Err(AdminError::Invalid(format!(
            "name must be 1 to {max} characters"
        )));
    }
    Ok(name)
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A page from `limit + 1` items read: the first `limit`, and the cursor of the last one if more
/// were there.
pub fn page_of<T>(mut items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = more.then(|| items.last()).flatten().map(cursor_of);
    Page { items, next_cursor }
}

/// A text filter from a query string: trimmed, empty as absent, at most 200 characters.
pub(crate) fn filter_text(name: &str, value: Option<String>) -> AdminResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > 200 => Err(AdminError::Invalid(format!(
            "{name} is at most 200 characters"
        ))),
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other.map(|v| v.trim().to_owned())),
    }
}

/// Page sizes: 50 unless asked, at most 500.
pub fn page_size(asked: Option<i64>) -> AdminResult<i64> {
    match asked {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(AdminError::Invalid(
            "limit must be between 1 and 500".into(),
        )),
    }
}

/// Encodes a keyset position (time in ms and an id) as an opaque cursor.
pub fn cursor(ms: i64, id: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(format!("{ms}:{id}").as_bytes())
}

/// Decodes a cursor made by [`cursor`].
pub fn parse_cursor(text: &str) -> AdminResult<(time::OffsetDateTime, String)> {
    let bad = || AdminError::Invalid("cursor is not one this API returned".into());
    let raw = data_encoding::BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (ms, id) = raw.split_once(':').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    if !(0..=253_402_300_799_000).contains(&ms) {
        return Err(bad());
    }
    Ok((postern_core::clock::from_millis(ms), id.to_owned()))
}

/// Reads an RFC 3339 time from a query parameter.
pub fn parse_time(name: &str, text: &str) -> AdminResult<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            AdminError::Invalid(format!(
                "{name} must be an RFC 3339 time such as 2026-11-29T08:00:00Z"
            ))
        })
}
