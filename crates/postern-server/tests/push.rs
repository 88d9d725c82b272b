//! Push approvals against the real server: challenges, delivery, answers and fatigue; Web Push to a local push service; the real authenticator end to end.
//! One test binary, a module per file (one link instead of 3 on two cores).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "push/authenticator_e2e.rs"]
mod authenticator_e2e;
#[path = "push/push.rs"]
mod push;
#[path = "push/web_push.rs"]
mod web_push;
