//! The sign-in log for the helpdesk: queries, one sign-in with its steps, its diagnosis, an export
//! for log systems.

use super::{AdminError, AdminResult, Page, cursor, page_of, page_size, parse_cursor, parse_time};
use crate::lockout::{self, Kind};
use crate::state::AppState;
use postern_core::admin::{Authorized, Read};
use postern_core::clock::to_millis;
use postern_core::credential::method::{MethodKind, MethodSecret, default_method};
use postern_core::diagnosis::{AccountNow, Diagnosis, MethodNow, diagnose};
use postern_core::signin_log::{SignInEntry, SignInResult};
use postern_proto::ErrorCode;
use postern_store::SignInQuery;
use serde::Deserialize;

/// The filters of `GET /admin/v1/signins`, as text from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct SignInFilter {
    /// A request id or correlation id: at most one sign-in.
    pub id: Option<String>,
    /// A user id or username.
    pub user: Option<String>,
    pub client_id: Option<String>,
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn query(
    state: &AppState,
    _: &Authorized<Read>,
    f: SignInFilter,
) -> AdminResult<Page<SignInEntry>> {
    // Every filter is checked, even those an `id` makes moot: bad input is refused either way.
    let limit = page_size(f.limit)?;
    let id = super::filter_text("id", f.id)?;
    let (user_id, username) = match super::filter_text("user", f.user)? {
        None => (None, None),
        Some(u) => match super::users::find(state, &u).await {
            Ok(user) => (Some(user.id), None),
            // Attempts with usernames that match no account are in the log too.
            Err(AdminError::NotFound(_)) => (
                None,
                Some(postern_core::user::normalize_username(&u).unwrap_or(u)),
            ),
            Err(e) => return Err(e),
        },
    };
    let result = match super::filter_text("result", f.result)? {
        None => None,
        Some(r) => Some(SignInResult::parse(&r).ok_or_else(|| {
            AdminError::Invalid(
                "result must be success, failure, interrupted or in_progress".into(),
            )
        })?),
    };
    let error_code = match super::filter_text("error_code", f.error_code)? {
        None => None,
        Some(c) => Some(
            c.parse::<u32>()
                .ok()
                .and_then(ErrorCode::from_code)
                .ok_or_else(|| AdminError::Invalid(format!("unknown error code '{c}'")))?,
        ),
    };
    let q = SignInQuery {
        user_id,
        username,
        client_id: super::filter_text("client_id", f.client_id)?,
        result,
        error_code,
        from: super::filter_text("from", f.from)?
            .map(|t| parse_time("from", &t))
            .transpose()?,
        to: super::filter_text("to", f.to)?
            .map(|t| parse_time("to", &t))
            .transpose()?,
        before: f.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    if let Some(id) = id {
        let found = state.store.find_signin(&id).await?;
        return Ok(Page {
            items: found.into_iter().map(summary).collect(),
            next_cursor: None,
        });
    }
    let items = state.store.query_signins(&q).await?;
    Ok(page_of(items, limit, |e| {
        cursor(to_millis(e.started), &e.correlation_id)
    }))
}

/// A query result without the step list (the list is for one sign-in).
fn summary(mut e: SignInEntry) -> SignInEntry {
    e.steps.clear();
    e
}

async fn find(state: &AppState, id: &str) -> AdminResult<SignInEntry> {
    let id = id.trim();
    if id.is_empty() || id.len() > 200 {
        return Err(AdminError::NotFound("no such sign-in".into()));
    }
    state.store.find_signin(id).await?.ok_or_else(|| {
        AdminError::NotFound(format!(
            "no sign-in has the request id or correlation id '{id}' (it may be older than the sign-in log keeps)"
        ))
    })
}

/// One sign-in with its request ids and steps; `id` is its correlation id or any request id.
pub async fn get(state: &AppState, _: &Authorized<Read>, id: &str) -> AdminResult<SignInEntry> {
    find(state, id).await
}

/// The timeline, cause and fixes of one sign-in, with the user's methods now.
pub async fn diagnosis(state: &AppState, _: &Authorized<Read>, id: &str) -> AdminResult<Diagnosis> {
    let entry = find(state, id).await?;
    let now = super::now(state);
    let user = match &entry.user_id {
        Some(uid) => state.store.find_user_by_id(uid).await?,
        None => None,
    };
    let (challenges, account) = match &user {
        None => (vec![], None),
        Some(u) => {
            let challenges = state
                .store
                .list_user_challenges(&u.id, entry.started - time::Duration::minutes(1))
                .await?;
            (challenges, Some(account_now(state, u).await?))
        }
    };
    Ok(diagnose(&entry, &challenges, account.as_ref(), now))
}

/// The account as it is now, for a diagnosis.
pub async fn account_now(
    state: &AppState,
    u: &postern_core::user::User,
) -> AdminResult<AccountNow> {
    let now = super::now(state);
    let methods = state.store.list_methods(&u.id).await?;
    let default_id = default_method(&methods).map(|m| m.id.clone());
    let mut out = Vec::new();
    for m in &methods {
        let last_contact = match m.kind() {
            MethodKind::Push => state.store.find_device_contact(&m.id).await?,
            _ => None,
        };
        out.push(MethodNow {
            id: m.id.clone(),
            kind: m.kind(),
            name: m.name.clone(),
            last_used: m.last_used,
            last_contact,
            codes_left: (m.kind() == MethodKind::RecoveryCodes).then(|| m.secret.remaining_codes()),
            is_default: default_id.as_deref() == Some(m.id.as_str()),
            paired_with: match &m.secret {
                MethodSecret::Totp { paired_device, .. } => paired_device.clone(),
                _ => None,
            },
        });
    }
    let (password_lock, _) = lockout::find(state, &u.id, Kind::Password).await?;
    let (code_lock, _) = lockout::find(state, &u.id, Kind::SecondFactor).await?;
    let (pass_lock, _) = lockout::find(state, &u.id, Kind::AccessPass).await?;
    Ok(AccountNow {
        disabled: u.disabled,
        // The later of the password's and the passes' locks: either stops a sign-in.
        locked_until: password_lock
            .locked_until(now)
            .max(pass_lock.locked_until(now)),
        second_factor_locked_until: code_lock.locked_until(now),
        push_blocked: state.store.find_push_state(&u.id).await?.blocked.is_some(),
        access_pass: state
            .store
            .find_access_pass(&u.id)
            .await?
            .map(|p| p.state(now)),
        methods: out,
    })
}

/// Sign-ins in one page of an export.
pub const EXPORT_PAGE: i64 = 500;

/// One page of the export: sign-ins started at or after `since`, oldest first, after `cursor`,
/// each with its request ids and steps, as JSON lines; and the cursor of the next page.
pub async fn export(
    state: &AppState,
    _: &Authorized<Read>,
    since: time::OffsetDateTime,
    cursor_text: Option<&str>,
) -> AdminResult<(String, Option<String>)> {
    let after = cursor_text.map(parse_cursor).transpose()?;
    let page = state
        .store
        .export_signins(since, after, EXPORT_PAGE)
        .await?;
    let next = (page.len() as i64 == EXPORT_PAGE)
        .then(|| page.last())
        .flatten()
        .map(|e| cursor(to_millis(e.started), &e.correlation_id));
    let mut out = String::new();
    for e in &page {
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    Ok((out, next))
}
