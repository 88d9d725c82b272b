//! The OpenID Connect provider's endpoints. Each file is one endpoint; `client_auth` is the
//! shared client authentication of the back-channel endpoints.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;
