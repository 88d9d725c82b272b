//! The router: every path Postern answers, and the layers around them.

pub mod account;
pub mod admin_api;
pub mod authenticator;
pub mod helpdesk;
pub mod oidc;
pub mod ops;
pub mod signin;
pub mod web_authenticator;

use crate::http::request_id;
use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post, put};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Largest request body accepted (forms and token requests are small).
pub const MAX_BODY: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(ops::home))
        .route(
            "/.well-known/openid-configuration",
            get(oidc::discovery::configuration),
        )
        .route("/jwks", get(oidc::discovery::jwks))
        .route(
            "/authorize",
            get(oidc::authorize::authorize).post(oidc::authorize::authorize),
        )
        .route("/token", post(oidc::token::token))
        .route(
            "/userinfo",
            get(oidc::userinfo::userinfo).post(oidc::userinfo::userinfo),
        )
        .route("/revoke", post(oidc::revoke::revoke))
        .route("/introspect", post(oidc::introspect::introspect))
        .route(
            "/logout",
            get(oidc::logout::logout).post(oidc::logout::logout),
        )
        .route("/signin/{flow}", get(signin::show).post(signin::submit))
        .route("/signin/{flow}/other", get(signin::other_ways))
        .route("/signin/{flow}/passkey", post(signin::passkey_submit))
        .route(
            "/signin/{flow}/passkey/options",
            post(signin::passkey_options),
        )
        .route("/signin/{flow}/push", post(signin::push_retry))
        .route("/signin/{flow}/push/events", get(signin::push_events))
        .route("/signin/{flow}/continue", get(signin::carry_on))
        .route(
            "/signin/{flow}/access-pass",
            get(signin::access_pass_form).post(signin::access_pass_submit),
        )
        .route("/account/signin", get(account::sign_in))
        .route("/account/security", get(account::security))
        .route(
            "/account/security/totp",
            get(account::start_totp).post(account::add_totp),
        )
        .route("/account/security/push", get(account::add_push))
        .route(
            "/account/security/passkey",
            get(account::start_passkey).post(account::add_passkey),
        )
        .route(
            "/account/security/passkey/options",
            post(account::passkey_options),
        )
        .route(
            "/account/security/push-unblock",
            post(account::unblock_push),
        )
        .route("/authenticator", get(web_authenticator::bare))
        .route("/authenticator/", get(web_authenticator::shell))
        .route("/authenticator/activate", get(web_authenticator::shell))
        .route("/authenticator/app.js", get(web_authenticator::script))
        .route("/authenticator/app.css", get(web_authenticator::style))
        .route("/authenticator/sw.js", get(web_authenticator::worker))
        .route(
            "/authenticator/manifest.webmanifest",
            get(web_authenticator::manifest),
        )
        .route("/authenticator/icon.svg", get(web_authenticator::icon_svg))
        .route(
            "/authenticator/icon-192.png",
            get(web_authenticator::icon_192),
        )
        .route(
            "/authenticator/icon-512.png",
            get(web_authenticator::icon_512),
        )
        .route("/authenticator/{*rest}", get(web_authenticator::missing))
        .route(
            "/account/security/recovery-codes",
            post(account::create_recovery_codes),
        )
        .route("/account/security/default", post(account::set_default))
        .route("/account/security/remove", post(account::remove_method))
        .route("/account/security/rename", post(account::rename_method))
        .route(
            "/account/security/forget-devices",
            post(account::forget_devices),
        )
        .route(
            "/account/security/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .merge(device_api())
        .route("/error", get(ops::explain))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/assets/postern.css", get(ops::css))
        .route("/assets/postern.js", get(ops::js))
        .merge(helpdesk::router())
        .merge(admin_api::router())
        .fallback(ops::not_found)
        // The size limit inside the request id: a refused body still gets its id.
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::middleware::from_fn(admin_api::json_refusals))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::assign,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// The Postern Authenticator's device API (`postern_proto::authenticator`). Its answers carry a
/// seed (activation), requests and events: never kept by a cache on the way (`no-store`).
fn device_api() -> Router<AppState> {
    Router::new()
        .route(
            "/api/authenticator/v1/activate",
            post(authenticator::activate),
        )
        .route("/api/authenticator/v1/pending", get(authenticator::pending))
        .route(
            "/api/authenticator/v1/challenges/{id}/shown",
            post(authenticator::shown),
        )
        .route(
            "/api/authenticator/v1/challenges/{id}/answer",
            post(authenticator::answer),
        )
        .route(
            "/api/authenticator/v1/device",
            get(authenticator::status).delete(authenticator::remove),
        )
        .route(
            "/api/authenticator/v1/web-push",
            get(authenticator::web_push_info),
        )
        .route(
            "/api/authenticator/v1/web-push/subscription",
            put(authenticator::save_subscription).delete(authenticator::delete_subscriptions),
        )
        .route("/api/authenticator/v1/events", get(authenticator::events))
        .layer(axum::middleware::map_response(no_store))
}

async fn no_store(mut res: axum::response::Response) -> axum::response::Response {
    res.headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    res
}
