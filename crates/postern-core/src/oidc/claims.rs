//! Claims of ID tokens, access tokens (RFC 9068) and the userinfo response.

use crate::user::User;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// What an authenticated sign-in carries into tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub user_id: String,
    pub auth_time: OffsetDateTime,
    /// RFC 8176 values, e.g. `["pwd"]`.
    pub amr: Vec<String>,
}

/// Scope-dependent user claims (`profile` → name, preferred_username; `email` → email).
pub fn user_claims(user: &User, scope: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sub".into(), user.id.clone().into());
    if scope.iter().any(|s| s == "profile") {
        m.insert("preferred_username".into(), user.username.clone().into());
        if let Some(name) = &user.name {
            m.insert("name".into(), name.clone().into());
        }
    }
    if scope.iter().any(|s| s == "email")
        && let Some(email) = &user.email
    {
        m.insert("email".into(), email.clone().into());
        // Addresses are set by administrators, not self-asserted; Postern does not verify them.
        m.insert("email_verified".into(), false.into());
    }
    m
}

/// Inputs of an ID token.
pub struct IdToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a User,
    pub auth: &'a Authentication,
    pub scope: &'a [String],
    pub nonce: Option<&'a str>,
    pub now: OffsetDateTime,
    pub lifetime_secs: i64,
}

impl IdToken<'_> {
    pub fn claims(&self) -> Value {
        let mut m = user_claims(self.user, self.scope);
        let iat = self.now.unix_timestamp();
        m.insert("iss".into(), self.issuer.into());
        m.insert("aud".into(), self.client_id.into());
        m.insert("azp".into(), self.client_id.into());
        m.insert("iat".into(), iat.into());
        m.insert("exp".into(), (iat + self.lifetime_secs).into());
        m.insert(
            "auth_time".into(),
            self.auth.auth_time.unix_timestamp().into(),
        );
        m.insert("amr".into(), json!(self.auth.amr));
        m.insert("acr".into(), super::acr_for(&self.auth.amr).into());
        if let Some(nonce) = self.nonce {
            m.insert("nonce".into(), nonce.into());
        }
        Value::Object(m)
    }
}

/// Inputs of an RFC 9068 access token.
pub struct AccessToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The user's id, or the client id for client-credentials tokens.
    pub subject: &'a str,
    pub auth: Option<&'a Authentication>,
    pub scope: &'a [String],
    pub jti: &'a str,
    pub now: OffsetDateTime,
    pub lifetime_secs: i64,
}

impl AccessToken<'_> {
    pub fn claims(&self) -> Value {
        let iat = self.now.unix_timestamp();
        let mut v = json!({
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.client_id,
            "client_id": self.client_id,
            "iat": iat,
            "exp": iat + self.lifetime_secs,
            "jti": self.jti,
            "scope": self.scope.join(" "),
        });
        if let (Some(auth), Some(obj)) = (self.auth, v.as_object_mut()) {
            obj.insert("auth_time".into(), auth.auth_time.unix_timestamp().into());
            obj.insert("amr".into(), json!(auth.amr));
            obj.insert("acr".into(), super::acr_for(&auth.amr).into());
        }
        v
    }
}
