//! Credentials a user proves who they are with. Each method has its own module; today the
//! password. Second factors (TOTP, push, passkeys, recovery codes, temporary access passes) join
//! here as their own files, and the sign-in flow (`crate::flow`) calls them by type.

pub mod password;
pub mod recovery;
pub mod totp;
