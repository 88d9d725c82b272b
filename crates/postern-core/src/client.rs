//! Applications (OAuth clients) that sign users in through Postern.
//!
//! Redirect URIs match exactly, character for character: no prefix, wildcard or normalisation, so a
//! registered `https://hub.example/cb` never lets `https://hub.example/cb/../evil` through.

use crate::oidc::jws::SigningAlg;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Public clients (browser or native apps) cannot keep a secret and must use PKCE S256;
/// confidential clients authenticate with a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Public,
    Confidential,
}

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// SHA-256 of the secret (confidential clients only).
    #[serde(skip_serializing)]
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Algorithm of the ID tokens issued to this client (RS256 by default).
    pub id_token_alg: SigningAlg,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

impl Client {
    /// Exact match against the registered redirect URIs.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Exact match against the registered post-logout redirect URIs.
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Checks a presented secret against the stored hash, in constant time.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_hash {
            Some(hash) => crate::secret::ct_eq(
                crate::secret::hash_token(presented).as_bytes(),
                hash.as_bytes(),
            ),
            None => false,
        }
    }
}

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRedirectUri(pub String);

impl std::fmt::Display for InvalidRedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A redirect URI must be an absolute URI without a fragment (RFC 6749 §3.1.2). `http` is allowed
/// (development, loopback); production deployments register `https`.
pub fn validate_redirect_uri(uri: &str) -> Result<(), InvalidRedirectUri> {
    let parsed = url::Url::parse(uri)
        .map_err(|e| InvalidRedirectUri(format!("'{uri}' is not an absolute URI: {e}")))?;
    if parsed.fragment().is_some() {
        return Err(InvalidRedirectUri(format!(
            "'{uri}' has a fragment (#…), which is not allowed"
        )));
    }
    if parsed.cannot_be_a_base() && parsed.scheme() != "urn" {
        return Err(InvalidRedirectUri(format!(
            "'{uri}' is not a usable redirect URI"
        )));
    }
    if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_none_or(str::is_empty) {
        return Err(InvalidRedirectUri(format!("'{uri}' has no host")));
    }
    if matches!(parsed.scheme(), "javascript" | "data" | "file" | "vbscript") {
        return Err(InvalidRedirectUri(format!(
            "'{uri}' uses a forbidden scheme"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client {
            id: "c1".into(),
            name: "Hub".into(),
            kind: ClientKind::Confidential,
            secret_hash: Some(crate::secret::hash_token("s3cret")),
            redirect_uris: vec!["https://hub.example/cb".into()],
            post_logout_redirect_uris: vec![],
            id_token_alg: SigningAlg::RS256,
            created: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client();
        assert!(c.has_redirect_uri("https://hub.example/cb"));
        for near in [
            "https://hub.example/cb/",
            "https://hub.example/cb?x=1",
            "https://HUB.example/cb",
            "https://hub.example/cb/../evil",
            "https://hub.example/c",
            "http://hub.example/cb",
        ] {
            assert!(!c.has_redirect_uri(near), "{near}");
        }
    }

    #[test]
    fn secrets_compare() {
        let c = client();
        assert!(c.secret_matches("s3cret"));
        assert!(!c.secret_matches("s3cre"));
        assert!(!c.secret_matches(""));
    }

    #[test]
    fn redirect_uri_validation() {
        assert!(validate_redirect_uri("https://hub.example/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8081/callback").is_ok());
        assert!(validate_redirect_uri("com.example.app:/oauth").is_ok());
        assert!(validate_redirect_uri("/relative").is_err());
        assert!(validate_redirect_uri("https://hub.example/cb#frag").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
    }
}
