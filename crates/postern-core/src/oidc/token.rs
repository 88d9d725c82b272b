//! Authorization codes and refresh tokens: what is stored about them and the rules for redeeming.
//!
//! Both are random, single-use and stored only as SHA-256 hashes. A code redeemed twice, or a
//! rotated refresh token presented again, means a copy exists: the whole **family** (everything
//! issued from the original sign-in's code) is revoked.

use super::claims::Authentication;
use super::pkce;
use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub code_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
    pub correlation_id: String,
    pub expires: OffsetDateTime,
    pub redeemed: bool,
}

impl AuthCode {
    pub fn authentication(&self) -> Authentication {
        Authentication {
            user_id: self.user_id.clone(),
            auth_time: self.auth_time,
            amr: self.amr.clone(),
        }
    }

    /// The checks before redeeming (the single-use mark is the store's atomic update).
    pub fn check_redeemable(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), (ErrorCode, &'static str)> {
        if self.client_id != client_id {
            return Err((
                ErrorCode::InvalidGrant,
                "the code was issued to another application",
            ));
        }
        if self.redeemed {
            return Err((
                ErrorCode::CodeAlreadyRedeemed,
                "the code was already redeemed",
            ));
        }
        if now >= self.expires {
            return Err((ErrorCode::CodeExpired, "the code has expired"));
        }
        if redirect_uri != Some(self.redirect_uri.as_str()) {
            return Err((
                ErrorCode::InvalidGrant,
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&self.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => Ok(()),
            (Some(_), _) => Err((
                ErrorCode::PkceMismatch,
                "the code_verifier does not match the code_challenge",
            )),
            (None, Some(_)) => Err((
                ErrorCode::PkceMismatch,
                "a code_verifier was sent but no code_challenge was",
            )),
            (None, None) => Ok(()),
        }
    }
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
    /// Already exchanged for a newer token.
    pub used: bool,
    /// Revoked (by the user, an admin, revocation or reuse detection).
    pub revoked: bool,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    Rotate,
    /// A used token came back: revoke the family.
    ReuseDetected,
    Refuse(ErrorCode, &'static str),
}

impl RefreshToken {
    pub fn authentication(&self) -> Authentication {
        Authentication {
            user_id: self.user_id.clone(),
            auth_time: self.auth_time,
            amr: self.amr.clone(),
        }
    }

    pub fn decide(&self, client_id: &str, now: OffsetDateTime) -> RefreshDecision {
        if self.client_id != client_id {
            return RefreshDecision::Refuse(
                ErrorCode::InvalidGrant,
                "the refresh token was issued to another application",
            );
        }
        if self.revoked {
            return RefreshDecision::Refuse(
                ErrorCode::InvalidGrant,
                "the refresh token was revoked",
            );
        }
        if self.used {
            return RefreshDecision::ReuseDetected;
        }
        if now >= self.expires {
            return RefreshDecision::Refuse(
                ErrorCode::CodeExpired,
                "the refresh token has expired",
            );
        }
        RefreshDecision::Rotate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn code() -> AuthCode {
        AuthCode {
            code_hash: "h".into(),
            family_id: "f".into(),
            client_id: "hub".into(),
            redirect_uri: "https://hub/cb".into(),
            user_id: "u".into(),
            scope: vec!["openid".into()],
            nonce: None,
            code_challenge: Some(pkce::challenge_s256(&"v".repeat(43))),
            auth_time: OffsetDateTime::UNIX_EPOCH,
            amr: vec!["pwd".into()],
            correlation_id: "c".into(),
            expires: OffsetDateTime::UNIX_EPOCH + Duration::seconds(60),
            redeemed: false,
        }
    }

    #[test]
    fn code_rules() {
        let c = code();
        let t = OffsetDateTime::UNIX_EPOCH;
        let v = "v".repeat(43);
        assert!(
            c.check_redeemable("hub", Some("https://hub/cb"), Some(&v), t)
                .is_ok()
        );
        assert_eq!(
            c.check_redeemable("other", Some("https://hub/cb"), Some(&v), t)
                .unwrap_err()
                .0,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            c.check_redeemable("hub", Some("https://hub/cb2"), Some(&v), t)
                .unwrap_err()
                .0,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            c.check_redeemable("hub", Some("https://hub/cb"), None, t)
                .unwrap_err()
                .0,
            ErrorCode::PkceMismatch
        );
        assert_eq!(
            c.check_redeemable("hub", Some("https://hub/cb"), Some(&"w".repeat(43)), t)
                .unwrap_err()
                .0,
            ErrorCode::PkceMismatch
        );
        assert_eq!(
            c.check_redeemable(
                "hub",
                Some("https://hub/cb"),
                Some(&v),
                t + Duration::seconds(61)
            )
            .unwrap_err()
            .0,
            ErrorCode::CodeExpired
        );
        let used = AuthCode {
            redeemed: true,
            ..code()
        };
        assert_eq!(
            used.check_redeemable("hub", Some("https://hub/cb"), Some(&v), t)
                .unwrap_err()
                .0,
            ErrorCode::CodeAlreadyRedeemed
        );
    }
}
