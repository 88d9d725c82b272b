//! The Postern server: the OpenID Connect provider, sign-in pages, operations endpoints, the
//! demo learning hub and the `postern` command line.
//!
//! Handlers are thin: they parse typed input (`http`), call the domain (`postern_core`) and the
//! store (`postern_store`), and map results to responses (`http::errors`, `pages`).

pub mod admin;
pub mod app;
pub mod cli;
pub mod client_cache;
pub mod config;
pub mod demo;
pub mod http;
pub mod keys;
pub mod lockout;
pub mod methods;
pub mod metrics;
pub mod pages;
pub mod passkeys;
pub mod push;
pub mod ratelimit;
pub mod routes;
pub mod signin;
pub mod state;
pub mod tls;
