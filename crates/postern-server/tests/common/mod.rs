//! Test support: boots the real server in-process on port 0 (SQLite in a temp dir, or a fresh
//! PostgreSQL database), with a clock the tests move instead of sleeping, and a cookie-keeping
//! HTTP "browser" that does not follow redirects so every hop can be checked. One file per
//! concern: the server, the browser, reading pages, OIDC, second factors, push devices, admin
//! tokens; every test binary sees them all through `common::*`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use postern_core::client::{Client, ClientKind};
use postern_core::clock::{Clock, ManualClock};
use postern_core::oidc::jws::SigningAlg;
use postern_core::random::{self, OsRandom};
use postern_core::secret::{SecretString, hash_token};
use postern_core::signin_log::SignInEntry;
use postern_core::user::User;
use postern_server::app::{RunningServer, start};
use postern_server::config::Config;
pub use postern_store::Backend;
use postern_store::testing::TestDatabase;
use serde_json::Value;
pub mod cdp;
pub mod db_proxy;
pub mod push_service;
pub mod qr;
pub mod webdriver;

mod admin;
mod browser;
mod factors;
mod oidc;
mod pages;
mod passkey;
mod push;
mod server;
pub mod test_key;

#[allow(unused_imports)]
pub use admin::*;
pub use browser::*;
pub use factors::*;
pub use oidc::*;
pub use pages::*;
#[allow(unused_imports)]
pub use passkey::*;
use postern_store::Store;
#[allow(unused_imports)]
pub use push::*;
pub use server::*;
use std::sync::Arc;

/// Runs an async test body once per backend, as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )*};
}
