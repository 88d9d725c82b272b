//! The server's shared state, built once at start from the validated [`Config`].

use crate::config::Config;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use postern_core::clock::Clock;
use postern_core::credential::password::{PasswordCheck, PasswordHasher};
use postern_core::random::Random;
use postern_core::sealed::MasterKey;
use postern_core::secret::SecretString;
use postern_core::softlock::LockoutPolicy;
use postern_store::Store;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// Public base URL, no trailing slash.
    pub issuer: String,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Random>,
    pub master: Arc<MasterKey>,
    pub keys: KeyRing,
    pub passwords: Arc<PasswordHasher>,
    /// Bounds concurrent Argon2id work to the cores (no self-inflicted denial of service).
    pub password_slots: Arc<Semaphore>,
    pub lockout: LockoutPolicy,
    /// The second step's own lockout (wrong codes).
    pub second_factor_lockout: LockoutPolicy,
    /// Keys the HMAC fingerprints of wrong passwords (lockout) and anti-forgery tokens.
    pub mac_key: [u8; 32],
    pub signin_limiter: RateLimiter,
    pub token_limiter: RateLimiter,
    pub metrics: Metrics,
    pub clients: crate::client_cache::ClientCache,
    /// Wakes connected authenticators and waiting browsers.
    pub wakeups: Arc<dyn crate::push::wakeup::Wakeups>,
    /// Web Push notifications to subscribed devices (None when turned off, and for `postern
    /// admin`, which sends none).
    pub web_push: Option<Arc<crate::push::web_push::WebPush>>,
    /// The WebAuthn relying party (passkeys) and its policy.
    pub passkeys: crate::passkeys::Passkeys,
    /// Whether this node hears other nodes' wake-ups (PostgreSQL's LISTEN connection is up);
    /// always true on SQLite, which has one node.
    pub cross_node_listening: std::sync::atomic::AtomicBool,
    /// Turns true when the server begins to stop: long-lived streams end so that the graceful
    /// shutdown does not wait for them forever.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Whether cookies must be `Secure` (and `__Host-` prefixed).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The issuer's origin (`scheme://host[:port]`), to compare with `Origin` headers.
    pub fn issuer_origin(&self) -> String {
        url::Url::parse(&self.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.issuer.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Runs an Argon2id verification on the blocking pool, at most `password_slots` at once.
    pub async fn verify_password(
        &self,
        password: SecretString,
        phc: Option<String>,
    ) -> PasswordCheck {
        let Ok(_permit) = self.password_slots.clone().acquire_owned().await else {
            return PasswordCheck::Wrong;
        };
        let hasher = self.passwords.clone();
        Metrics::inc(&self.metrics.password_checks);
        let check = tokio::task::spawn_blocking(move || match phc {
            Some(phc) => hasher.verify(&password, &phc),
            None => hasher.verify_dummy(&password),
        })
        .await;
        check.unwrap_or(PasswordCheck::Wrong)
    }

    /// Hashes a password on the blocking pool.
    pub async fn hash_password(&self, password: SecretString) -> Option<String> {
        let _permit = self.password_slots.clone().acquire_owned().await.ok()?;
        let hasher = self.passwords.clone();
        let rng = self.rng.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password, rng.as_ref()))
            .await
            .ok()
    }
}
