//! Configuration: defaults → TOML file (`--config`) → `POSTERN_*` environment variables (nested keys
//! with `__`, e.g. `POSTERN_POLICY__MFA=when_registered`) → command-line flags. Built and validated
//! once at start; invalid settings stop the start with a message naming the setting.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use postern_core::credential::password::PasswordParams;
use postern_core::policy::MfaPolicy;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting of the server and the admin commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public base URL; default `http://` + the listen address (`https://` with `tls`).
    pub issuer: Option<String>,
    pub tls: TlsConfig,
    /// Holds the SQLite file and the master key.
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; default SQLite in the data directory.
    pub database_url: Option<String>,
    pub database: DatabaseConfig,
    /// The master key (32 bytes, base64url) sealing signing keys and secrets at rest. Default:
    /// generated into `<data_dir>/master.key`. Every node of a PostgreSQL deployment needs the same.
    pub master_key: Option<String>,
    /// The organisation's name, shown on pages and used as TOTP issuer.
    pub organisation: String,
    pub policy: PolicyConfig,
    pub lockout: LockoutConfig,
    pub tokens: TokenConfig,
    pub limits: LimitsConfig,
    pub password: PasswordParams,
    /// Concurrent password hashes (default: the number of cores).
    pub password_concurrency: Option<usize>,
    pub demo: DemoConfig,
    pub log: LogConfig,
    /// Reverse proxies whose `X-Forwarded-For` is believed (exact addresses). Without them, the
    /// client address is the TCP peer; behind a proxy every user would share one address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Days the sign-in log is kept.
    pub signin_log_days: i64,
    /// Days the audit log of administrative changes is kept.
    pub audit_log_days: i64,
    pub web_push: WebPushConfig,
    /// Passkeys and security keys: passwordless sign-in, synced or device-bound, attestation,
    /// allowed and blocked models.
    pub passkeys: postern_core::credential::passkey::PasskeyPolicy,
}

/// HTTPS without a reverse proxy: Postern terminates TLS itself with these PEM files, and picks
/// up a renewed pair (e.g. from certbot) without a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// The certificate chain (PEM, server certificate first). Together with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key_file: Option<PathBuf>,
    /// How often (seconds) the files are checked for a renewed certificate.
    pub reload_seconds: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            reload_seconds: 60,
        }
    }
}

impl TlsConfig {
    /// Whether Postern serves HTTPS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }
}

/// Web Push wake-up notifications to the Postern Authenticator web app (RFC 8030/8291/8292).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebPushConfig {
    /// Send a notification to subscribed devices for each push request (default on). Off, the
    /// app still hears of requests over its open connection and whenever it refreshes.
    pub enabled: bool,
    /// How push services reach the operator (the VAPID `sub`): a `mailto:` or `https:` URL.
    /// Default: the issuer when it is https, else `mailto:postmaster@localhost`.
    pub subject: Option<String>,
    /// How long one push service may take to answer.
    pub timeout_seconds: u64,
    /// Notifications in flight at once, across all push services.
    pub max_concurrent: usize,
    /// For tests only: accept `http://` endpoints on this machine (a local push service). Never
    /// any other non-public address.
    pub allow_loopback_endpoints: bool,
}

impl Default for WebPushConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            subject: None,
            timeout_seconds: 10,
            max_concurrent: 8,
            allow_loopback_endpoints: false,
        }
    }
}

impl WebPushConfig {
    /// The VAPID subject for a server at `issuer`.
    pub fn subject_for(&self, issuer: &str) -> String {
        match &self.subject {
            Some(s) => s.clone(),
            None if issuer.starts_with("https://") => issuer.to_owned(),
            None => "mailto:postmaster@localhost".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    /// `required` (default) or `when_registered`.
    pub mfa: MfaPolicy,
    /// Days a browser may skip the second step after the user ticks "Don't ask again on this
    /// device" (0 hides the choice). Never for `prompt=login` or `max_age` requests.
    pub remember_device_days: i64,
    /// How long a push request waits for an answer.
    pub push_timeout_seconds: i64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            mfa: MfaPolicy::default(),
            remember_device_days: 14,
            push_timeout_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LockoutConfig {
    /// Failed attempts before a lock.
    pub threshold: u32,
    /// First lock duration in seconds; doubles with each further lockout.
    pub lock_seconds: u64,
    /// Longest lock in seconds.
    pub max_lock_seconds: u64,
    /// Wrong second-factor codes before the second step locks (its own counter; same lock times).
    pub second_factor_threshold: u32,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            threshold: 10,
            lock_seconds: 60,
            max_lock_seconds: 3600,
            second_factor_threshold: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    pub code_seconds: i64,
    pub id_token_seconds: i64,
    pub access_token_seconds: i64,
    pub refresh_token_days: i64,
    /// Absolute lifetime of a refresh-token family, from the sign-in.
    pub refresh_family_days: i64,
    /// How long a browser stays signed in (single sign-on).
    pub session_hours: i64,
    /// How long a node caches an application's registration; a deleted application or a rotated
    /// secret takes effect everywhere within this time.
    pub client_cache_seconds: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            code_seconds: 60,
            id_token_seconds: 3600,
            access_token_seconds: 3600,
            refresh_token_days: 30,
            refresh_family_days: 90,
            session_hours: 12,
            client_cache_seconds: 5,
        }
    }
}

/// The database pool and the time limits that make a missing database fail fast (503, code
/// 990017) instead of hanging requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// Connections per node (default 8 on SQLite, 16 on PostgreSQL). On PostgreSQL, nodes ×
    /// pool_size (+ one listening connection per node) must stay under `max_connections`.
    pub pool_size: Option<u32>,
    /// How long a request waits for a free connection (or a new one) before it fails.
    pub acquire_timeout_ms: u64,
    /// PostgreSQL: the longest a statement may run (`statement_timeout`).
    pub statement_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            pool_size: None,
            acquire_timeout_ms: 3000,
            statement_timeout_ms: 10_000,
        }
    }
}

impl DatabaseConfig {
    pub fn store_options(&self) -> postern_store::StoreOptions {
        postern_store::StoreOptions {
            pool_size: self.pool_size,
            acquire_timeout: std::time::Duration::from_millis(self.acquire_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(self.statement_timeout_ms),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Sign-in form posts per minute per client address (a burst of the same size is allowed).
    pub signin_per_minute: u32,
    /// Token endpoint requests per second per client address.
    pub token_per_second: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        // Generous: a whole school behind one NAT address signs in at 8 o'clock.
        Self {
            signin_per_minute: 600,
            token_per_second: 200,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DemoConfig {
    /// Where `serve --demo` runs the demo learning hub.
    pub listen: SocketAddr,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `postern_server=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            tls: TlsConfig::default(),
            data_dir: PathBuf::from("./postern-data"),
            database_url: None,
            database: DatabaseConfig::default(),
            master_key: None,
            organisation: "Postern".into(),
            policy: PolicyConfig::default(),
            lockout: LockoutConfig::default(),
            tokens: TokenConfig::default(),
            limits: LimitsConfig::default(),
            password: PasswordParams::default(),
            password_concurrency: None,
            demo: DemoConfig::default(),
            log: LogConfig::default(),
            trusted_proxies: Vec::new(),
            signin_log_days: 30,
            audit_log_days: 365,
            web_push: WebPushConfig::default(),
            passkeys: Default::default(),
        }
    }
}

/// Flags that override everything else (only those given).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// A setting is invalid.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults → file → environment → flags, then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "--config: the file '{}' does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        fig = fig
            .merge(Env::prefixed("POSTERN_").split("__"))
            .merge(Serialized::defaults(overrides));
        let config: Config = fig.extract().map_err(|e| ConfigError(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: String| Err(ConfigError(s));
        if let Some(issuer) = &self.issuer {
            check_issuer(issuer).map_err(ConfigError)?;
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            return bad(format!(
                "database_url (POSTERN_DATABASE_URL): '{}' is neither postgres://… nor sqlite:…",
                redact_url(url)
            ));
        }
        if self
            .database
            .pool_size
            .is_some_and(|n| !(1..=1000).contains(&n))
        {
            return bad(
                "database.pool_size (POSTERN_DATABASE__POOL_SIZE): between 1 and 1000 connections"
                    .into(),
            );
        }
        if self.database.acquire_timeout_ms < 100 || self.database.statement_timeout_ms < 100 {
            return bad(
                "database.acquire_timeout_ms and database.statement_timeout_ms: at least 100 ms"
                    .into(),
            );
        }
        if !self.password.is_at_least_minimum() {
            return bad("password: Argon2id parameters below the OWASP minimum (memory_kib ≥ 19456, iterations ≥ 2, parallelism ≥ 1)".into());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return bad(format!(
                "log.level '{}' is not a log filter: {e}",
                self.log.level
            ));
        }
        if self.lockout.second_factor_threshold < 2 {
            return bad("lockout.second_factor_threshold must be at least 2".into());
        }
        if !(10..=600).contains(&self.policy.push_timeout_seconds) {
            return bad("policy.push_timeout_seconds must be between 10 and 600".into());
        }
        if let Err(e) = self.passkeys.validate() {
            return bad(e);
        }
        if !(0..=365).contains(&self.policy.remember_device_days) {
            return bad("policy.remember_device_days must be between 0 and 365".into());
        }
        if self.lockout.threshold == 0 {
            return bad("lockout.threshold must be at least 1".into());
        }
        if self.lockout.lock_seconds == 0
            || self.lockout.max_lock_seconds < self.lockout.lock_seconds
        {
            return bad(
                "lockout.lock_seconds must be positive and not above lockout.max_lock_seconds"
                    .into(),
            );
        }
        let t = &self.tokens;
        if t.refresh_family_days < t.refresh_token_days {
            return bad(
                "tokens.refresh_family_days must not be below tokens.refresh_token_days".into(),
            );
        }
        if t.client_cache_seconds > 60 {
            return bad("tokens.client_cache_seconds must be at most 60".into());
        }
        if !(10..=600).contains(&t.code_seconds) {
            return bad("tokens.code_seconds must be between 10 and 600".into());
        }
        if t.id_token_seconds < 60
            || t.access_token_seconds < 60
            || t.refresh_token_days < 1
            || t.session_hours < 1
        {
            return bad("tokens: lifetimes are too short (id/access ≥ 60 s, refresh ≥ 1 day, session ≥ 1 hour)".into());
        }
        if self.limits.signin_per_minute == 0 || self.limits.token_per_second == 0 {
            return bad("limits: rates must be at least 1".into());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad(format!(
                "log.format must be text or json, not '{}'",
                self.log.format
            ));
        }
        if self.signin_log_days < 1 {
            return bad("signin_log_days must be at least 1".into());
        }
        if self.audit_log_days < 1 {
            return bad("audit_log_days must be at least 1".into());
        }
        let w = &self.web_push;
        if w.subject
            .as_deref()
            .is_some_and(|s| !(s.starts_with("mailto:") || s.starts_with("https://")))
        {
            return bad("web_push.subject must be a mailto: or https:// URL".into());
        }
        if !(1..=60).contains(&w.timeout_seconds) {
            return bad("web_push.timeout_seconds must be between 1 and 60".into());
        }
        if !(1..=256).contains(&w.max_concurrent) {
            return bad("web_push.max_concurrent must be between 1 and 256".into());
        }
        if self.password_concurrency == Some(0) {
            return bad("password_concurrency must be at least 1".into());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return bad("tls.cert_file and tls.key_file go together: set both, or neither".into());
        }
        if !(1..=86_400).contains(&self.tls.reload_seconds) {
            return bad("tls.reload_seconds must be between 1 and 86400".into());
        }
        Ok(())
    }

    /// The issuer URL for a server bound to `bound` (no trailing slash).
    pub fn issuer_for(&self, bound: SocketAddr) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None if self.tls.enabled() => format!("https://{bound}"),
            None => format!("http://{bound}"),
        }
    }

    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite:{}", self.data_dir.join("postern.db").display()),
        }
    }
}

fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer)
        .map_err(|e| format!("issuer (POSTERN_ISSUER): '{issuer}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "issuer (POSTERN_ISSUER): '{issuer}' must start with https:// (or http:// for testing)"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "issuer (POSTERN_ISSUER): '{issuer}' must not have a query or fragment"
        ));
    }
    Ok(())
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    postern_store::redact_url(url)
}

fn describe(e: figment::Error) -> String {
    let mut out = Vec::new();
    for err in e {
        let path = err.path.join(".");
        let source = err
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        if path.is_empty() {
            out.push(format!("{}{source}", err.kind));
        } else {
            out.push(format!("{path}: {}{source}", err.kind));
        }
    }
    out.join("; ")
}
