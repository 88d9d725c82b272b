//! The Postern Authenticator: the companion app of a Postern server, and a TOTP app for any
//! other account.
//!
//! - [`vault`]: the encrypted file holding accounts, TOTP secrets and device keys.
//! - [`account`]: what the vault holds.
//! - [`passphrase`]: where the vault's passphrase comes from (prompt, environment, file).
//! - [`totp`]: RFC 6238 codes and `otpauth://` URIs.
//! - [`device_key`]: the device's Ed25519 key and request signatures.
//! - [`client`]: the authenticator API (activate, pending, shown, answer, device status, events),
//!   with [`sse`] parsing the event stream.
//! - [`listen`]: one event stream per account, reconnecting, fetching what is pending first.
//! - [`doctor`]: what would break push, checked and explained.
//! - [`cli`] and [`tui`]: the `postern-authenticator` command and its terminal dashboard;
//!   [`time_text`] is how both show times.
//!
//! Of the Postern crates the app depends only on `postern-proto`: it speaks the wire protocol
//! and nothing else.
//!
//! A test drives it without the binary:
//!
//! ```no_run
//! # async fn demo(link: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use postern_authenticator::{client::Client, vault::{Passphrase, Vault}};
//! use postern_proto::authenticator::Decision;
//!
//! let client = Client::new()?;
//! let account = client.activate(link, "Test laptop").await?;
//! let pending = client.pending(&account).await?;
//! let id = &pending.challenges[0].id;
//! let outcome = client.answer(&account, id, Decision::Approve, Some(42), false).await?;
//! # let _ = outcome;
//! let mut vault = Vault::create("/tmp/vault.json", Passphrase::new("pw"))?;
//! vault.data.add(account);
//! vault.save()?;
//! # Ok(()) }
//! ```

pub mod account;
pub mod cli;
pub mod client;
pub mod device_key;
pub mod doctor;
pub mod listen;
pub mod passphrase;
pub mod sse;
pub mod time_text;
pub mod totp;
pub mod tui;
pub mod vault;
