//! Single sign-on sessions: one per browser sign-in, shared by every application.
//!
//! The browser holds a random session token; the store keeps only its SHA-256. A new token is
//! minted on every sign-in (no session fixation).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    /// Hash of the cookie token; also the session's id in the store.
    pub id_hash: String,
    pub user_id: String,
    /// When the user last proved who they are.
    pub auth_time: OffsetDateTime,
    /// RFC 8176 methods used.
    pub amr: Vec<String>,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
}

impl SsoSession {
    /// What the sign-in behind this session carries into tokens.
    pub fn authentication(&self) -> crate::oidc::claims::Authentication {
        crate::oidc::claims::Authentication {
            user_id: self.user_id.clone(),
            auth_time: self.auth_time,
            amr: self.amr.clone(),
        }
    }

    pub fn is_valid(&self, now: OffsetDateTime) -> bool {
        now < self.expires
    }

    /// Whether the sign-in behind this session passed a second factor (possibly through a
    /// remembered device).
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|m| m == "mfa")
    }

    /// Whether the sign-in behind this session proved a second factor itself (a code, a key…),
    /// rather than being let through by a remembered device. Changes to sign-in methods need it.
    pub fn proved_second_factor(&self) -> bool {
        self.amr.iter().any(|m| m != "pwd" && m != "mfa")
    }

    /// `max_age` (seconds): does this session's authentication satisfy it?
    pub fn satisfies_max_age(&self, max_age: Option<u64>, now: OffsetDateTime) -> bool {
        match max_age {
            None => true,
            Some(secs) => (now - self.auth_time).whole_seconds() <= secs as i64,
        }
    }
}
