//! The sign-in pages against the real server: password, second factors and their attacks, passkeys, temporary access passes, Security info, and the helpdesk's diagnosis of a sign-in.
//! One test binary, a module per file (one link instead of 6 on two cores).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "sign_in/access_pass.rs"]
mod access_pass;
#[path = "sign_in/diagnosis.rs"]
mod diagnosis;
#[path = "sign_in/passkeys.rs"]
mod passkeys;
#[path = "sign_in/second_factor.rs"]
mod second_factor;
#[path = "sign_in/second_factor_attacks.rs"]
mod second_factor_attacks;
#[path = "sign_in/security_info.rs"]
mod security_info;
#[path = "sign_in/signin.rs"]
mod signin;
