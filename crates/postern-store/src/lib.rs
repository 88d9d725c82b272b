//! Postern's storage: SQLite by default (one file, WAL), PostgreSQL for several nodes.
//!
//! One code path serves both through sqlx's `Any` driver: the SQL is written once with `$n`
//! placeholders and portable types (BIGINT milliseconds for times, BIGINT 0/1 for flags, TEXT with
//! JSON for lists), so the same behaviour holds on both and the same tests run on both. Migrations
//! are numbered, kept in step per backend (`migrations.rs`) and never edited once landed; a
//! database with a newer schema than this binary knows is refused.
//!
//! This crate converts rows to the domain types of `postern-core`; it holds no business rules
//! beyond the atomic single-use updates that only the database can make race-free.

mod access_passes;
mod admin;
mod audit;
mod ceremonies;
mod clients;
mod completion;
mod copy;
mod flows;
mod keys;
mod maintenance;
mod methods;
mod migrations;
mod push;
mod remembered;
mod rows;
mod sessions;
mod settings;
mod signin_log;
pub mod testing;

pub use audit::AuditQuery;
pub use ceremonies::Ceremony;
pub use copy::TableCopy;
pub use methods::MethodRemoval;
pub use push::{ChallengeCreated, PushState};
pub use signin_log::{SignInQuery, SignInRecord};
mod tokens;
mod users;
mod wakeups;
mod web_push;

pub use wakeups::{Listener, Notice};

pub use web_push::WebPushSubscriptionRecord;

use postern_core::oidc::jws::SigningAlg;
use postern_core::signin_log::SignInResult;
use postern_proto::ErrorCode;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use std::path::Path;
use time::OffsetDateTime;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "the database schema is version {found}, newer than this Postern knows ({known}); run a newer Postern or restore a backup"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("unsupported database URL '{0}': use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Whether the database was not there for it (no connection in time, a connection lost, a
    /// statement cancelled by its timeout, PostgreSQL shutting down or starting): a moment's
    /// unavailability, not a fault in the request. The transaction did not commit.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            // A connection cut while it was being made shows as a protocol error ("unexpected
            // response from SSLRequest").
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // query_canceled (statement_timeout), admin_shutdown, crash_shutdown,
                // cannot_connect_now, and every connection exception (class 08).
                matches!(code.as_ref(), "57014" | "57P01" | "57P02" | "57P03")
                    || code.starts_with("08")
            }),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How the store uses its database: pool size and the time limits that make a missing database
/// fail fast instead of hanging a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections in this process's pool (default: 8 on SQLite, 16 on PostgreSQL).
    pub pool_size: Option<u32>,
    /// How long a request waits for a connection before it fails.
    pub acquire_timeout: std::time::Duration,
    /// PostgreSQL: the longest a statement may run (`statement_timeout`; migrations have none).
    pub statement_timeout: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            pool_size: None,
            acquire_timeout: std::time::Duration::from_secs(3),
            statement_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// A bound query on the `Any` driver, ready to run on the pool or inside a transaction.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A signing key as stored: the PKCS#8 private key sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub sealed_pkcs8: Vec<u8>,
    pub created: OffsetDateTime,
    /// When it stopped signing (a newer key took over).
    pub retired: Option<OffsetDateTime>,
    /// Until when its public key stays in the JWKS (tokens it signed may still be alive).
    pub publish_until: Option<OffsetDateTime>,
}

/// Changes to a sign-in log entry's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInUpdate {
    pub updated: OffsetDateTime,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub result: SignInResult,
    pub error_code: Option<ErrorCode>,
    pub failure_reason: Option<String>,
}

/// The store. Cheap to clone (a pool handle). Its `Debug` hides the URL's password.
#[derive(Clone)]
pub struct Store {
    pool: sqlx::AnyPool,
    backend: Backend,
    /// This process's name among the nodes sharing the database (random, per connect).
    node: std::sync::Arc<str>,
    /// The PostgreSQL URL, for the wake-up listener's own connection.
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("node", &self.node)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// Connections per pool. SQLite has one writer anyway (WAL lets readers run beside it);
/// PostgreSQL serves several nodes, each with its own pool.
const SQLITE_POOL_SIZE: u32 = 8;
const POSTGRES_POOL_SIZE: u32 = 16;

/// Run on every new SQLite connection. `busy_timeout` comes first so that switching to WAL (and
/// every later statement) waits for a busy database instead of failing at once.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA busy_timeout = 10000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
];

impl Store {
    /// Connects to `sqlite:PATH` (the file is created if missing) or `postgres://…` /
    /// `postgresql://…`, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with pool size and time limits.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store> {
        let backend = backend_of(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        // Idempotent: sqlx guards it with its own `Once`.
        sqlx::any::install_default_drivers();
        let node: std::sync::Arc<str> = uuid::Uuid::new_v4().simple().to_string()[..12].into();
        let pool = match backend {
            Backend::Sqlite => connect_sqlite(url, options).await?,
            Backend::Postgres => {
                let name = node.clone();
                let statement_ms = options.statement_timeout.as_millis().to_string();
                AnyPoolOptions::new()
                    .max_connections(options.pool_size.unwrap_or(POSTGRES_POOL_SIZE))
                    .acquire_timeout(options.acquire_timeout)
                    .after_connect(move |conn, _meta| {
                        let (name, statement_ms) = (name.clone(), statement_ms.clone());
                        Box::pin(async move {
                            // Read by the wake-up triggers: a node skips the notices of its own
                            // writes (it woke its own connections already).
                            sqlx::query(
                                "SELECT set_config('postern.node', $1, false),
                                        set_config('statement_timeout', $2, false)",
                            )
                            .bind(name.to_string())
                            .bind(statement_ms)
                            .execute(conn)
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let store = Store {
            pool,
            backend,
            node,
            url: url.into(),
        };
        if let Err(e) = store.migrate().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// Opens (creating if missing) the SQLite database at a filesystem path. The parent directory
    /// must exist.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Store::connect(&sqlite_url(path)?).await
    }

    /// Which database is behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This process's node name, as the wake-up notices carry it.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Applies the migrations this database lacks, in order, each in its own transaction.
    /// Refuses a database whose schema is newer than this binary knows.
    pub async fn migrate(&self) -> Result<()> {
        migrations::run(self).await
    }

    /// The highest migration applied (0 for an empty database).
    pub async fn schema_version(&self) -> Result<i64> {
        migrations::current_version(&self.pool).await
    }

    /// A round trip to the database (for readiness checks).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before writing waits for other writers
    /// (busy_timeout) instead of failing when it upgrades its lock.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// [`Store::begin_write`] for housekeeping that may take long (purging a backlog): on
    /// PostgreSQL without `database.statement_timeout_ms`, which is for requests (a purge past
    /// it would roll back every time and never catch up).
    pub(crate) async fn begin_housekeeping(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL statement_timeout = 0")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

/// The backend a URL names, from its scheme.
fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

async fn connect_sqlite(url: &str, store_options: &StoreOptions) -> Result<sqlx::AnyPool> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let in_memory = path == "sqlite::memory:" || query.split('&').any(|p| p == "mode=memory");
    // create_if_missing: the URL form of it is `mode=rwc`, unless the caller chose a mode.
    let url = if in_memory || query.split('&').any(|p| p.starts_with("mode=")) {
        url.to_owned()
    } else if query.is_empty() {
        format!("{path}?mode=rwc")
    } else {
        format!("{path}?{query}&mode=rwc")
    };
    let mut options = AnyPoolOptions::new()
        .acquire_timeout(store_options.acquire_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        });
    options = if in_memory {
        // Every connection to `:memory:` is a database of its own: keep exactly one, forever.
        options
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options.max_connections(store_options.pool_size.unwrap_or(SQLITE_POOL_SIZE))
    };
    Ok(options.connect(&url).await?)
}

/// `sqlite:` URL for a filesystem path, percent-encoding what a URL would misread (`?`, `#`, `%`,
/// spaces …).
pub(crate) fn sqlite_url(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| StoreError::UnsupportedUrl(format!("{} (not UTF-8)", path.display())))?;
    let mut url = String::from("sqlite:");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(url)
}

/// A database URL fit for an error message: any password is masked.
/// `url` with its password hidden; a URL that cannot be parsed but may hold one is hidden whole.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Fails only for URLs that cannot have a password, which then have none.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        // No password where a URL keeps one; an `@` elsewhere may still be "user:pass@host".
        Ok(parsed) if parsed.has_host() || !url.contains('@') => parsed.to_string(),
        Err(_) if !url.contains('@') => url.to_owned(),
        _ => "(hidden: it may contain a password)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use sqlx::Row;

    #[test]
    fn urls() {
        assert_eq!(backend_of("sqlite:/tmp/p.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("postgresql://h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("mysql://h/db"), None);
        assert_eq!(backend_of("/var/lib/postern.db"), None);
        assert_eq!(redact_url("mysql://u:secret@h/db"), "mysql://u:***@h/db");
        assert!(!redact_url("u:secret@h").contains("secret"));
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b/x?#%.db")).ok().as_deref(),
            Some("sqlite:/tmp/a%20b/x%3F%23%25.db")
        );
    }

    #[test]
    fn a_missing_database_is_told_from_a_fault() {
        let unavailable = |e: sqlx::Error| StoreError::Database(e).is_unavailable();
        assert!(unavailable(sqlx::Error::PoolTimedOut));
        assert!(unavailable(sqlx::Error::Io(
            std::io::ErrorKind::ConnectionReset.into()
        )));
        assert!(unavailable(sqlx::Error::Protocol(
            "unexpected response from SSLRequest".into()
        )));
        assert!(!unavailable(sqlx::Error::RowNotFound));
        assert!(!StoreError::Conflict("user 'ana'".into()).is_unavailable());
        assert!(!StoreError::Corrupt("flow".into()).is_unavailable());
    }

    #[tokio::test]
    async fn every_sqlite_connection_gets_the_pragmas() {
        let db = testing::TestDatabase::create(Backend::Sqlite).await;
        let store = Store::connect(&db.url).await.unwrap();
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let int = async |conn: &mut sqlx::AnyConnection, pragma: &'static str| {
                sqlx::query(pragma)
                    .fetch_one(conn)
                    .await
                    .unwrap()
                    .try_get::<i64, _>(0)
                    .unwrap()
            };
            assert_eq!(int(conn, "PRAGMA busy_timeout").await, 10_000);
            assert_eq!(int(conn, "PRAGMA foreign_keys").await, 1);
            assert_eq!(int(conn, "PRAGMA synchronous").await, 1, "NORMAL");
            let mode = sqlx::query("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode.try_get::<String, _>(0).unwrap(), "wal");
        }
        drop(conns);
        store.close().await;
        db.drop_database().await;
    }

    #[tokio::test]
    async fn in_memory_sqlite_keeps_one_database() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.set_setting("k", "v").await.unwrap();
        assert_eq!(store.find_setting("k").await.unwrap().as_deref(), Some("v"));
        store.close().await;
    }
}
