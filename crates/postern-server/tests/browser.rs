//! Browser tests in headless Chromium: the sign-in pages, passkeys, the web authenticator, and the lockout drill.
//! One test binary, a module per file (one link instead of 3 on two cores).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "browser/browser.rs"]
mod browser;
#[path = "browser/lockout_drill.rs"]
mod lockout_drill;
#[path = "browser/passkeys.rs"]
mod passkeys;
#[path = "browser/web_authenticator.rs"]
mod web_authenticator;
