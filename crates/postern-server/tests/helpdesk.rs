//! The helpdesk pages against the real server: what they show, and their limits.
//! One test binary, a module per file (one link instead of 2 on two cores).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "helpdesk/helpdesk_limits.rs"]
mod helpdesk_limits;
#[path = "helpdesk/helpdesk_pages.rs"]
mod helpdesk_pages;
