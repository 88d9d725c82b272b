//! OpenID Connect and OAuth 2.0 protocol rules: request parsing and validation, PKCE, JWS signing
//! and claims. Pure functions over data; the HTTP edges live in the server crate.

pub mod authorize;
pub mod claims;
pub mod jws;
pub mod params;
pub mod pkce;
pub mod token;

/// `acr` for a sign-in with one factor.
pub const ACR_SINGLE_FACTOR: &str = "urn:postern:acr:1fa";
/// `acr` for a sign-in with more than one factor.
pub const ACR_MULTI_FACTOR: &str = "urn:postern:acr:mfa";

/// The `acr` value for a set of RFC 8176 `amr` values.
pub fn acr_for(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        ACR_MULTI_FACTOR
    } else {
        ACR_SINGLE_FACTOR
    }
}
