//! Postern's domain: accounts, credentials, the sign-in flow state machine, soft locks, OIDC rules
//! and the sign-in log model.
//!
//! Nothing here does I/O: no HTTP types, no database, no filesystem. The current time comes in as a
//! [`clock::Clock`] and randomness as a [`random::Random`], so every rule can be tested by moving a
//! clock instead of sleeping. The server and the store are thin edges around these functions.

pub mod admin;
pub mod audit;
pub mod client;
pub mod clock;
pub mod credential;
pub mod diagnosis;
pub mod flow;
pub mod oidc;
pub mod policy;
pub mod random;
pub mod sealed;
pub mod secret;
pub mod session;
pub mod signin_log;
pub mod softlock;
pub mod user;
pub mod web_push;

pub use postern_proto::ErrorCode;
