//! Who may administer what: the three roles, the three permission levels, and the proof that a
//! check passed.
//!
//! An administrative operation takes an [`Authorized<P>`], a value only [`Actor::authorize`] can
//! make and only when the actor's role allows `P`: an operation cannot be reached without its
//! check (authorization by type). The mapping from roles to levels lives here and nowhere else.

use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// What an administrator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Reads users, methods, sign-ins and the audit log; gets users back in (temporary access
    /// passes, unlock, revoke sessions, require re-registration, remove a method, set the default).
    /// Never creates administrators, tokens or applications.
    Helpdesk,
    /// Reads only.
    Reader,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Helpdesk, Role::Reader];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Helpdesk => "helpdesk",
            Role::Reader => "reader",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission level. Each operation names the one it needs.
pub trait Permission {
    /// For error messages: "this needs the {NAME} permission".
    const NAME: &'static str;
    fn allows(role: Role) -> bool;
}

/// Read users, methods, sign-ins, diagnoses, applications and the audit log.
pub struct Read;
/// Get a user back in: temporary access passes, unlock, revoke sessions, require
/// re-registration, remove a method, choose the default method.
pub struct Help;
/// Everything else: accounts, roles, applications, admin tokens.
pub struct Manage;

impl Permission for Read {
    const NAME: &'static str = "read";
    fn allows(_: Role) -> bool {
        true
    }
}

impl Permission for Help {
    const NAME: &'static str = "helpdesk";
    fn allows(role: Role) -> bool {
        matches!(role, Role::Admin | Role::Helpdesk)
    }
}

impl Permission for Manage {
    const NAME: &'static str = "admin";
    fn allows(role: Role) -> bool {
        role == Role::Admin
    }
}

/// Where an administrator's authority comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActorKind {
    /// A bearer token (`postern admin token create`).
    Token { token_id: String, name: String },
    /// A person signed in to the helpdesk pages with a second factor.
    User { user_id: String, username: String },
    /// `postern admin` on the server's own store: whoever can read the database already holds
    /// every secret, so the local operator is an admin.
    Local { os_user: String },
}

/// Who is calling, with what role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub role: Role,
}

impl Actor {
    /// "token 'desk-1'", "user 'alice'", "local operator 'root'": for the audit log.
    pub fn label(&self) -> String {
        match &self.kind {
            ActorKind::Token { name, .. } => format!("token '{name}'"),
            ActorKind::User { username, .. } => format!("user '{username}'"),
            ActorKind::Local { os_user } => format!("local operator '{os_user}'"),
        }
    }

    /// The proof that this actor may do what `P` covers, or the refusal.
    pub fn authorize<P: Permission>(&self) -> Result<Authorized<P>, Forbidden> {
        if P::allows(self.role) {
            Ok(Authorized {
                actor: self.clone(),
                level: PhantomData,
            })
        } else {
            Err(Forbidden {
                role: self.role,
                needs: P::NAME,
            })
        }
    }
}

/// An actor whose role allows `P`. Made only by [`Actor::authorize`].
#[derive(Debug, Clone)]
pub struct Authorized<P> {
    actor: Actor,
    level: PhantomData<P>,
}

impl<P> Authorized<P> {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// A role that does not allow an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden {
    pub role: Role,
    pub needs: &'static str,
}

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} role may not do this: it needs the {} permission",
            self.role, self.needs
        )
    }
}

impl std::error::Error for Forbidden {}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            kind: ActorKind::Local {
                os_user: "t".into(),
            },
            role,
        }
    }

    #[test]
    fn roles_and_levels() {
        let allowed = |role| {
            (
                actor(role).authorize::<Read>().is_ok(),
                actor(role).authorize::<Help>().is_ok(),
                actor(role).authorize::<Manage>().is_ok(),
            )
        };
        assert_eq!(allowed(Role::Admin), (true, true, true));
        assert_eq!(allowed(Role::Helpdesk), (true, true, false));
        assert_eq!(allowed(Role::Reader), (true, false, false));
        let refused = actor(Role::Helpdesk).authorize::<Manage>().err();
        assert_eq!(
            refused.map(|f| f.to_string()).as_deref(),
            Some("the helpdesk role may not do this: it needs the admin permission")
        );
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}

/// A bearer token for the admin API, as stored (the token itself only as a hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<time::OffsetDateTime>,
    /// Who made it.
    pub created_by: String,
}

impl AdminToken {
    /// Whether it still opens the API.
    pub fn is_active(&self, now: time::OffsetDateTime) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|e| now < e)
    }
}

/// The prefix of admin tokens: recognisable in a leaked file or a secret scanner.
pub const TOKEN_PREFIX: &str = "pat_";
