//! Wire types shared by the Postern server, the authenticator and the command-line tools.
//!
//! This crate owns the **error catalogue** (`errors`): every failure Postern can show a user or an
//! application has one stable code here, and the **authenticator API** (`authenticator`): the
//! messages between the Postern Authenticator and the server. It holds data only — no I/O, no
//! HTTP types.

pub mod authenticator;
pub mod errors;

pub use errors::ErrorCode;
