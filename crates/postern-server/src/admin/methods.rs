//! A user's authentication methods as the helpdesk sees them (modelled on Microsoft Graph's
//! authentication-methods API): list, read, delete, choose the default; and temporary access
//! passes (issue, read, delete).

use super::users::find;
use super::{AdminError, AdminResult, Change, Origin, audit};
use crate::state::AppState;
use postern_core::admin::{Authorized, Help, Read};
use postern_core::clock::iso8601;
use postern_core::credential::access_pass::{self, AccessPass, PassState};
use postern_core::credential::method::{Method, MethodKind, MethodSecret, default_method};
use postern_core::random;
use postern_core::user::User;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// One method. `type` is `passkey` (a passkey or security key), `authenticator` (a Postern
/// Authenticator device: push and its codes), `totp` (an authenticator app), `recovery_codes` or
/// `temporary_access_pass`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_used: Option<OffsetDateTime>,
    /// The method asked for first after the password.
    pub is_default: bool,
    /// Authenticator devices: the app's version when it was registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Authenticator devices: when the app last reached the server.
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_contact: Option<OffsetDateTime>,
    /// Authenticator devices: how many browser push subscriptions it has (0: no notifications,
    /// the app hears of requests only while open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<usize>,
    /// Recovery codes: how many are unused (of 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes_left: Option<usize>,
    /// Temporary access pass: when it stops working.
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    /// Temporary access pass: single use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once: Option<bool>,
    /// Temporary access pass: `usable`, `expired` or `used`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PassState>,
    /// Passkeys: the authenticator model's AAGUID, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
    /// Passkeys: the model's name, when the AAGUID is a known one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Passkeys: synced between devices (else bound to one device or security key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced: Option<bool>,
}

fn type_of(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Passkey => "passkey",
        MethodKind::Push => "authenticator",
        MethodKind::Totp => "totp",
        MethodKind::RecoveryCodes => "recovery_codes",
    }
}

/// The id under which a user's temporary access pass is listed among the methods.
pub const ACCESS_PASS_ID: &str = "temporary-access-pass";

async fn method_view(
    state: &AppState,
    m: &Method,
    default_id: Option<&str>,
) -> AdminResult<MethodView> {
    let (app_version, last_contact, notifications) = match &m.secret {
        MethodSecret::Push { app_version, .. } => (
            Some(app_version.clone()),
            state.store.find_device_contact(&m.id).await?,
            Some(state.store.list_web_push_subscriptions(&m.id).await?.len()),
        ),
        _ => (None, None, None),
    };
    let (aaguid, synced) = match &m.secret {
        MethodSecret::Passkey { aaguid, synced, .. } => (aaguid.clone(), Some(*synced)),
        _ => (None, None),
    };
    Ok(MethodView {
        model: postern_core::credential::passkey::model_name(aaguid.as_deref()).map(Into::into),
        aaguid,
        synced,
        id: m.id.clone(),
        kind: type_of(m.kind()).into(),
        name: m.name.clone(),
        created: m.created,
        last_used: m.last_used,
        is_default: default_id == Some(m.id.as_str()),
        app_version,
        last_contact,
        notifications,
        codes_left: (m.kind() == MethodKind::RecoveryCodes).then(|| m.secret.remaining_codes()),
        expires: None,
        once: None,
        state: None,
    })
}

fn pass_view(p: &AccessPass, now: OffsetDateTime) -> MethodView {
    MethodView {
        id: ACCESS_PASS_ID.into(),
        kind: "temporary_access_pass".into(),
        name: "Temporary Access Pass".into(),
        created: p.created,
        last_used: p.used,
        is_default: false,
        app_version: None,
        last_contact: None,
        notifications: None,
        codes_left: None,
        expires: Some(p.expires),
        once: Some(p.once),
        state: Some(p.state(now)),
        aaguid: None,
        model: None,
        synced: None,
    }
}

/// The user's methods now (the temporary access pass last, if there is one).
pub async fn views(state: &AppState, u: &User) -> AdminResult<Vec<MethodView>> {
    let methods = state.store.list_methods(&u.id).await?;
    let default_id = default_method(&methods).map(|m| m.id.clone());
    let mut out = Vec::new();
    for m in &methods {
        out.push(method_view(state, m, default_id.as_deref()).await?);
    }
    if let Some(p) = state.store.find_access_pass(&u.id).await? {
        out.push(pass_view(&p, super::now(state)));
    }
    Ok(out)
}

pub async fn list(
    state: &AppState,
    _: &Authorized<Read>,
    user: &str,
) -> AdminResult<Vec<MethodView>> {
    views(state, &find(state, user).await?).await
}

pub async fn get(
    state: &AppState,
    _: &Authorized<Read>,
    user: &str,
    id: &str,
) -> AdminResult<MethodView> {
    let u = find(state, user).await?;
    views(state, &u)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| AdminError::NotFound(format!("{} has no method '{id}'", u.username)))
}

/// Removes a method, whatever the user's policy (the helpdesk may leave a user with none: the
/// next sign-in registers anew). A device's offline codes go with it; its connection ends.
pub async fn delete(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    user: &str,
    id: &str,
) -> AdminResult<()> {
    let u = find(state, user).await?;
    super::may_take_over(state, who, &u).await?;
    if id == ACCESS_PASS_ID {
        return delete_access_pass(state, who, origin, &u.id).await;
    }
    let removed = state.store.force_delete_method(&u.id, id).await?;
    let Some(first) = removed.first() else {
        return Err(AdminError::NotFound(format!(
            "{} has no method '{id}'",
            u.username
        )));
    };
    for m in &removed {
        if matches!(m.secret, MethodSecret::Push { .. }) {
            state
                .wakeups
                .wake_device(&m.id, crate::push::wakeup::DeviceEvent::Revoked);
        }
    }
    let names: Vec<String> = removed
        .iter()
        .map(|m| format!("{} '{}'", type_of(m.kind()), m.name))
        .collect();
    audit(
        state,
        who,
        origin,
        Change {
            action: "method.delete",
            target_type: "user",
            target_id: &u.id,
            target_name: &u.username,
            detail: format!("removed {} (method {})", names.join(" and "), first.id),
        },
    )
    .await
}

/// Makes a method the one asked for first.
pub async fn set_default(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    user: &str,
    id: &str,
) -> AdminResult<Vec<MethodView>> {
    let u = find(state, user).await?;
    super::may_take_over(state, who, &u).await?;
    let methods = state.store.list_methods(&u.id).await?;
    let Some(m) = methods.iter().find(|m| m.id == id) else {
        return Err(AdminError::NotFound(format!(
            "{} has no method '{id}'",
            u.username
        )));
    };
    if !m.kind().can_be_default() {
        return Err(AdminError::Invalid(format!(
            "{} cannot be the default method",
            m.kind().label()
        )));
    }
    if !state.store.set_default_method(&u.id, id).await? {
        return Err(AdminError::NotFound(format!(
            "{} has no method '{id}'",
            u.username
        )));
    }
    audit(
        state,
        who,
        origin,
        Change {
            action: "method.set_default",
            target_type: "user",
            target_id: &u.id,
            target_name: &u.username,
            detail: format!("default method: {} '{}'", type_of(m.kind()), m.name),
        },
    )
    .await?;
    views(state, &u).await
}

/// A request for a temporary access pass.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccessPass {
    /// 10 to 43,200 (30 days); 60 when absent.
    #[serde(default)]
    pub lifetime_minutes: Option<i64>,
    /// Single use (Entra's `isUsableOnce`); multi-use when absent.
    #[serde(default)]
    pub once: bool,
}

/// A new temporary access pass: `pass` is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessPassIssued {
    pub pass: String,
    pub user_id: String,
    pub username: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    pub once: bool,
}

pub async fn create_access_pass(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    user: &str,
    req: NewAccessPass,
) -> AdminResult<AccessPassIssued> {
    let u = find(state, user).await?;
    super::may_take_over(state, who, &u).await?;
    let lifetime = match req.lifetime_minutes {
        None => access_pass::DEFAULT_LIFETIME,
        Some(m) if (0..=access_pass::MAX_LIFETIME.whole_minutes()).contains(&m) => {
            access_pass::check_lifetime(Duration::minutes(m))
                .map_err(|e| AdminError::Invalid(e.to_string()))?
        }
        Some(_) => {
            return Err(AdminError::Invalid(access_pass::BadLifetime.to_string()));
        }
    };
    if u.disabled {
        return Err(AdminError::Conflict(format!(
            "{} is disabled: enable the account first",
            u.username
        )));
    }
    let now = super::now(state);
    let (pass, hash) = access_pass::generate(&*state.rng, &state.mac_key, &u.id);
    let stored = AccessPass {
        id: random::uuid(&*state.rng),
        user_id: u.id.clone(),
        hash,
        created: now,
        expires: now + lifetime,
        once: req.once,
        used: None,
        uses: 0,
        created_by: who.actor().label(),
    };
    state
        .store
        .create_access_pass(&stored, now)
        .await
        .map_err(|e| match e {
            postern_store::StoreError::Conflict(_) => AdminError::Conflict(format!(
                "{} already has a usable temporary access pass: delete it first",
                u.username
            )),
            e => e.into(),
        })?;
    audit(
        state,
        who,
        origin,
        Change {
            action: "access_pass.create",
            target_type: "user",
            target_id: &u.id,
            target_name: &u.username,
            detail: format!(
                "temporary access pass issued: {}, expires {}",
                if req.once { "one-time" } else { "multi-use" },
                iso8601(stored.expires)
            ),
        },
    )
    .await?;
    Ok(AccessPassIssued {
        pass,
        user_id: u.id,
        username: u.username,
        created: now,
        expires: stored.expires,
        once: req.once,
    })
}

async fn delete_access_pass(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    user_id: &str,
) -> AdminResult<()> {
    let u = find(state, user_id).await?;
    super::may_take_over(state, who, &u).await?;
    let Some(p) = state.store.delete_access_pass(&u.id).await? else {
        return Err(AdminError::NotFound(format!(
            "{} has no temporary access pass",
            u.username
        )));
    };
    let now = super::now(state);
    audit(
        state,
        who,
        origin,
        Change {
            action: "access_pass.delete",
            target_type: "user",
            target_id: &u.id,
            target_name: &u.username,
            detail: format!(
                "temporary access pass deleted ({}, {} use(s))",
                p.state(now).as_str(),
                p.uses
            ),
        },
    )
    .await
}

/// Deletes the user's temporary access pass.
pub async fn remove_access_pass(
    state: &AppState,
    who: &Authorized<Help>,
    origin: &Origin,
    user: &str,
) -> AdminResult<()> {
    delete_access_pass(state, who, origin, user).await
}

/// Writes `access_pass.expire` to the audit log for each pass that expired since the last run
/// (the background job calls it every minute); returns how many.
pub async fn log_expired_passes(state: &AppState) -> AdminResult<usize> {
    let now = super::now(state);
    let expired = state.store.take_expired_access_passes(now).await?;
    for p in &expired {
        let username = state
            .store
            .find_user_by_id(&p.user_id)
            .await?
            .map(|u| u.username)
            .unwrap_or_default();
        state
            .store
            .append_audit(&postern_core::audit::AuditEntry {
                id: random::uuid(&*state.rng),
                time: now,
                actor: "Postern".into(),
                actor_id: String::new(),
                actor_role: None,
                action: "access_pass.expire".into(),
                target_type: "user".into(),
                target_id: p.user_id.clone(),
                target_name: username,
                ip: None,
                request_id: None,
                correlation_id: None,
                detail: format!(
                    "temporary access pass expired at {} ({}, used {} time(s))",
                    iso8601(p.expires),
                    if p.once { "one-time" } else { "multi-use" },
                    p.uses
                ),
            })
            .await?;
    }
    Ok(expired.len())
}
