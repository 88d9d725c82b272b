//! Credentials a user proves who they are with, one module each: the password, TOTP codes,
//! recovery codes, push approvals, passkeys and temporary access passes.
//! `method` is the list of a user's second factors (default, removal rules), `code` matches a
//! typed code against one of them, and the sign-in flow (`crate::flow`) reads their outcomes.

pub mod access_pass;
pub mod code;
pub mod method;
pub mod passkey;
pub mod password;
pub mod push;
pub mod recovery;
pub mod totp;
