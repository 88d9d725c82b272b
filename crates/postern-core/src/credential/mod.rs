//! Credentials a user proves who they are with. Each method has its own module: the password,
//! TOTP codes and recovery codes today; push, passkeys and temporary access passes join here as
//! their own files. `method` is the list of a user's second factors (default, removal rules), and
//! the sign-in flow (`crate::flow`) calls each by type.

pub mod access_pass;
pub mod method;
pub mod password;
pub mod push;
pub mod recovery;
pub mod totp;
