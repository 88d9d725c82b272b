//! Accounts: search, read, create, change, disable and enable, roles, passwords, and the
//! helpdesk's rescues (unlock, revoke sessions, require re-registration).

use super::{AdminError, AdminResult, Change, Origin, Page, audit, page_size};
use crate::lockout::{self, Kind};
use crate::state::AppState;
use postern_core::admin::{Authorized, Help, Manage, Read, Role};
use postern_core::credential::method::MethodSecret;
use postern_core::credential::password::validate_new_password;
use postern_core::random;
use postern_core::secret::SecretString;
use postern_core::user::{User, normalize_username, validate_email};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An account as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Whether the account has a password (an account made for a temporary access pass may not).
    pub has_password: bool,
    /// The administrative role granted to this person, if any.
    pub role: Option<Role>,
    /// Until when wrong passwords lock the account (absent when not locked).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub locked_until: Option<OffsetDateTime>,
    /// Until when wrong temporary access passes lock the passes (not the password).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub access_pass_locked_until: Option<OffsetDateTime>,
    /// Until when wrong codes lock the second step.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub second_factor_locked_until: Option<OffsetDateTime>,
    /// Push approvals blocked after the user reported one as not theirs.
    pub push_blocked: bool,
}

/// A new account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Optional: without one the user signs in with a temporary access pass.
    #[serde(default)]
    pub password: Option<SecretString>,
}

/// Changes to an account; absent fields stay, an empty email or name clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// The account `id_or_name` names: a user id, else a username.
pub async fn find(state: &AppState, id_or_name: &str) -> AdminResult<User> {
    let key = id_or_name.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(AdminError::NotFound("no such user".into()));
    }
    if let Some(u) = state.store.find_user_by_id(key).await? {
        return Ok(u);
    }
    if let Ok(name) = normalize_username(key)
        && let Some(u) = state.store.find_user_by_username(&name).await?
    {
        return Ok(u);
    }
    Err(AdminError::NotFound(format!("no user '{key}'")))
}

/// The view of an account, with its role and locks as they are now.
pub async fn view(state: &AppState, u: &User) -> AdminResult<UserView> {
    let now = super::now(state);
    let (password_lock, _) = lockout::find(state, &u.id, Kind::Password).await?;
    let (code_lock, _) = lockout::find(state, &u.id, Kind::SecondFactor).await?;
    let (pass_lock, _) = lockout::find(state, &u.id, Kind::AccessPass).await?;
    Ok(UserView {
        id: u.id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        disabled: u.disabled,
        created: u.created,
        has_password: u.password_hash.is_some(),
        role: state.store.find_user_role(&u.id).await?,
        locked_until: password_lock.locked_until(now),
        access_pass_locked_until: pass_lock.locked_until(now),
        second_factor_locked_until: code_lock.locked_until(now),
        push_blocked: state.store.find_push_state(&u.id).await?.blocked.is_some(),
    })
}

pub async fn list(
    state: &AppState,
    _: &Authorized<Read>,
    search: Option<&str>,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> AdminResult<Page<UserView>> {
    let limit = page_size(limit)?;
    // An empty cursor is the first page (as documented); anything else must be one we made.
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            data_encoding::BASE64URL_NOPAD
                .decode(c.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                // A cursor is a username this API returned: anything else is refused, as the
                // other lists do.
                .filter(|name| normalize_username(name).ok().as_deref() == Some(name.as_str()))
                .ok_or_else(|| AdminError::Invalid("cursor is not one this API returned".into()))?,
        ),
    };
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 200) {
        return Err(AdminError::Invalid(
            "search is at most 200 characters".into(),
        ));
    }
    let users = state
        .store
        .search_users(search, after.as_deref(), limit + 1)
        .await?;
    let page = super::page_of(users, limit, |u| {
        data_encoding::BASE64URL_NOPAD.encode(u.username.as_bytes())
    });
    let mut items = Vec::new();
    for u in &page.items {
        items.push(view(state, u).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

pub async fn get(state: &AppState, _: &Authorized<Read>, id: &str) -> AdminResult<UserView> {
    view(state, &find(state, id).await?).await
}

/// A UUID's shape: accounts are found by id first, so such a username could not be found by name.
fn looks_like_an_id(name: &str) -> bool {
    name.len() == 36
        && name.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn clean_name(name: Option<&str>) -> Option<String> {
    name.map(|n| {
        n.trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>()
    })
    .filter(|n| !n.is_empty())
}

fn clean_email(email: Option<&str>) -> AdminResult<Option<String>> {
    match email.map(str::trim) {
        None | Some("") => Ok(None),
        Some(e) => validate_email(e)
            .map(Some)
            .map_err(|e| AdminError::Invalid(e.to_string())),
    }
}

async fn hash_new_password(state: &AppState, password: SecretString) -> AdminResult<String> {
    validate_new_password(password.expose()).map_err(|e| AdminError::Invalid(e.to_string()))?;
    state
        .hash_password(password)
        .await
        .ok_or_else(|| AdminError::Invalid("the password could not be hashed".into()))
}

pub async fn create(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    new: NewUser,
) -> AdminResult<UserView> {
    let username =
        normalize_username(&new.username).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if looks_like_an_id(&username) {
        return Err(AdminError::Invalid(
            "a username cannot look like an account id (a UUID)".into(),
        ));
    }
    let email = clean_email(new.email.as_deref())?;
    let password_hash = match new.password {
        Some(p) => Some(hash_new_password(state, p).await?),
        None => None,
    };
    let user = User {
        id: random::uuid(&*state.rng),
        username,
        email,
        name: clean_name(new.name.as_deref()),
        password_hash,
        disabled: false,
        created: super::now(state),
    };
    state.store.create_user(&user).await.map_err(|e| match e {
        postern_store::StoreError::Conflict(_) => {
            AdminError::Conflict(format!("user '{}' already exists", user.username))
        }
        e => e.into(),
    })?;
    let detail = if user.password_hash.is_some() {
        "account created with a password"
    } else {
        "account created without a password (sign in with a temporary access pass)"
    };
    audit(
        state,
        who,
        origin,
        change(&user, "user.create", detail.into()),
    )
    .await?;
    view(state, &user).await
}

fn change<'a>(u: &'a User, action: &'static str, detail: String) -> Change<'a> {
    Change {
        action,
        target_type: "user",
        target_id: &u.id,
        target_name: &u.username,
        detail,
    }
}

pub async fn update(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
    patch: UserPatch,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    let email = match &patch.email {
        Some(e) => clean_email(Some(e))?,
        None => u.email.clone(),
    };
    let name = match &patch.name {
        Some(n) => clean_name(Some(n)),
        None => u.name.clone(),
    };
    if email != u.email || name != u.name {
        state
            .store
            .update_user_profile(&u.id, email.as_deref(), name.as_deref())
            .await?;
        let mut what = vec![];
        if email != u.email {
            what.push(format!("email: {}", email.as_deref().unwrap_or("(none)")));
        }
        if name != u.name {
            what.push(format!("name: {}", name.as_deref().unwrap_or("(none)")));
        }
        audit(
            state,
            who,
            origin,
            change(&u, "user.update", what.join("; ")),
        )
        .await?;
    }
    if let Some(disabled) = patch.disabled
        && disabled != u.disabled
    {
        set_disabled(state, who, origin, &u.id, disabled).await?;
    }
    view(state, &find(state, &u.id).await?).await
}

/// Disables (ending every session and refresh token) or enables an account.
pub async fn set_disabled(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
    disabled: bool,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    if u.disabled == disabled {
        // Already so: nothing changes, nothing is audited.
        return view(state, &u).await;
    }
    state.store.set_user_disabled(&u.id, disabled).await?;
    let detail = if disabled {
        end_sessions(state, &u.id).await?;
        state.store.delete_access_pass(&u.id).await?;
        "disabled; sessions, refresh tokens, remembered devices and any temporary access pass revoked"
    } else {
        "enabled"
    };
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit(state, who, origin, change(&u, action, detail.into())).await?;
    view(state, &find(state, &u.id).await?).await
}

/// Ends what a user's browsers and apps hold: SSO sessions, refresh tokens, remembered devices,
/// unused activation links.
async fn end_sessions(state: &AppState, user_id: &str) -> AdminResult<()> {
    crate::signin::sign_out_everywhere(state, user_id).await?;
    Ok(())
}

/// Lifts every lock: wrong passwords, wrong codes, push blocked after a report.
pub async fn unlock(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    id: &str,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    // Unlocking an administrator would let a helpdesk reset the guess counters of its second step.
    super::may_take_over(state, who, &u).await?;
    let before = view(state, &u).await?;
    lockout::reset(state, &u.id, Kind::Password).await?;
    lockout::reset(state, &u.id, Kind::SecondFactor).await?;
    lockout::reset(state, &u.id, Kind::AccessPass).await?;
    state
        .store
        .set_push_state(&u.id, &Default::default())
        .await?;
    let mut lifted = vec![];
    if let Some(t) = before.locked_until {
        lifted.push(format!(
            "password lock until {}",
            postern_core::clock::iso8601(t)
        ));
    }
    if let Some(t) = before.second_factor_locked_until {
        lifted.push(format!(
            "code lock until {}",
            postern_core::clock::iso8601(t)
        ));
    }
    if let Some(t) = before.access_pass_locked_until {
        lifted.push(format!(
            "temporary access pass lock until {}",
            postern_core::clock::iso8601(t)
        ));
    }
    if before.push_blocked {
        lifted.push("push block".into());
    }
    let detail = if lifted.is_empty() {
        "unlocked (nothing was locked)".to_owned()
    } else {
        format!("unlocked: {}", lifted.join(", "))
    };
    audit(state, who, origin, change(&u, "user.unlock", detail)).await?;
    view(state, &u).await
}

pub async fn revoke_sessions(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    id: &str,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    super::may_take_over(state, who, &u).await?;
    end_sessions(state, &u.id).await?;
    let detail = "sessions, refresh tokens, remembered devices and unused activation links revoked";
    audit(
        state,
        who,
        origin,
        change(&u, "user.revoke_sessions", detail.into()),
    )
    .await?;
    view(state, &u).await
}

/// Removes every second factor and remembered device and ends the sessions: the next sign-in
/// registers anew (under `policy.mfa = required`). A removed authenticator's open connection ends.
pub async fn require_reregister(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    id: &str,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    super::may_take_over(state, who, &u).await?;
    let methods = state.store.list_methods(&u.id).await?;
    let removed = state.store.delete_user_methods(&u.id).await?;
    let pass = state.store.delete_access_pass(&u.id).await?;
    for m in &methods {
        if matches!(m.secret, MethodSecret::Push { .. }) {
            state
                .wakeups
                .wake_device(&m.id, crate::push::wakeup::DeviceEvent::Revoked);
        }
    }
    end_sessions(state, &u.id).await?;
    let names: Vec<String> = methods
        .iter()
        .map(|m| format!("{} '{}'", m.kind().as_str(), m.name))
        .collect();
    let detail = format!(
        "{removed} method(s) removed ({}){}; sessions and remembered devices revoked; the next sign-in registers a new method",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        },
        if pass.is_some() {
            " and the temporary access pass deleted"
        } else {
            ""
        }
    );
    audit(
        state,
        who,
        origin,
        change(&u, "user.require_reregister", detail),
    )
    .await?;
    view(state, &u).await
}

/// Grants a role to a person (for the helpdesk pages), or takes it away.
pub async fn set_role(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
    role: Option<Role>,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    state
        .store
        .set_user_role(&u.id, role, super::now(state))
        .await?;
    let detail = match role {
        Some(r) => {
            // A role is worth more than what was issued without it: a temporary access pass or a
            // session someone else may hold (a helpdesk that issued the pass) must not carry it.
            end_sessions(state, &u.id).await?;
            let pass = state.store.delete_access_pass(&u.id).await?;
            format!(
                "role {r} granted; sessions revoked{}",
                if pass.is_some() {
                    " and the temporary access pass deleted"
                } else {
                    ""
                }
            )
        }
        None => "administrative role removed".into(),
    };
    audit(state, who, origin, change(&u, "user.set_role", detail)).await?;
    view(state, &u).await
}

/// Sets a new password; ends the sessions and lifts the password lock (a reset usually follows a
/// compromise or a lockout).
pub async fn set_password(
    state: &AppState,
    who: &Authorized<Manage>,
    origin: &Origin,
    id: &str,
    password: SecretString,
) -> AdminResult<UserView> {
    let u = find(state, id).await?;
    let phc = hash_new_password(state, password).await?;
    state.store.set_user_password(&u.id, &phc).await?;
    end_sessions(state, &u.id).await?;
    state.store.delete_access_pass(&u.id).await?;
    lockout::reset(state, &u.id, Kind::Password).await?;
    let detail =
        "password set; sessions and any temporary access pass revoked; password lock cleared";
    audit(
        state,
        who,
        origin,
        change(&u, "user.set_password", detail.into()),
    )
    .await?;
    view(state, &u).await
}
