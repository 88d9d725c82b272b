//! The Postern Authenticator: the companion app of a Postern server, and a TOTP app for any
//! other account.
//!
//! - [`vault`]: the encrypted file holding accounts, TOTP secrets and device keys.
//! - [`account`]: what the vault holds.
//! - [`totp`]: RFC 6238 codes and `otpauth://` URIs.
//! - [`device_key`]: the device's Ed25519 key and request signatures.
//! - [`client`]: the authenticator API (activate, pending, answer, device status, events).
//! - [`listen`]: one event stream per account, reconnecting, fetching what is pending first.
//! - [`doctor`]: what would break push, checked and explained.
//! - [`passphrase`]: where the vault's passphrase comes from (prompt, environment, file).
//! - [`cli`] and [`tui`]: the `postern-authenticator` command and its terminal dashboard.
//!
//! The app depends only on `postern-proto` of the Postern crates: it speaks the wire protocol,
//! nothing else.

pub mod account;
pub mod device_key;
pub mod totp;
pub mod vault;
