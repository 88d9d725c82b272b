//! Throw-away databases for tests, on either backend, used by this crate's tests and by the
//! server's integration tests.
//!
//! SQLite gets a fresh directory under the system temp dir; PostgreSQL a fresh database on the
//! server named by `POSTERN_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! An unreachable PostgreSQL is a test failure with a clear message, never a silent skip.
//! Call [`TestDatabase::drop_database`] at the end of a test; dropping the value cleans up too,
//! on a best-effort basis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::Backend;
use sqlx::Connection;
use std::path::PathBuf;

/// Environment variable naming the PostgreSQL server (an admin connection) used by tests.
pub const POSTGRES_URL_VAR: &str = "POSTERN_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// One test's own, empty database.
#[derive(Debug)]
pub struct TestDatabase {
    /// Pass to `Store::connect`.
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Done,
    Directory(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// Both backends, for tests that loop over them.
pub fn backends() -> [Backend; 2] {
    [Backend::Sqlite, Backend::Postgres]
}

fn random_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

async fn admin_connection(admin_url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    match sqlx::AnyConnection::connect(admin_url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL tests need a server: connecting to {} failed ({e}). Start PostgreSQL or set {POSTGRES_URL_VAR} \
             to an admin URL (e.g. postgres://postgres@127.0.0.1:5432/postgres).",
            crate::redact_url(admin_url)
        ),
    }
}

async fn drop_postgres(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::AnyConnection::connect(admin_url).await?;
    // The name is ours (postern_test_ + hex), so formatting it into the statement is safe.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await
}

impl TestDatabase {
    /// A fresh, empty database on `backend`.
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("postern-test-{}", random_name()));
                std::fs::create_dir_all(&dir)
                    .expect("create a temporary directory for the test database");
                let url =
                    crate::sqlite_url(&dir.join("postern.db")).expect("temp dir path is UTF-8");
                TestDatabase {
                    url,
                    backend,
                    cleanup: Cleanup::Directory(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("postern_test_{}", random_name());
                let mut conn = admin_connection(&admin_url).await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
                conn.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("the PostgreSQL admin URL parses");
                url.set_path(&format!("/{name}"));
                TestDatabase {
                    url: url.to_string(),
                    backend,
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
        }
    }

    /// Deletes the database (PostgreSQL: even with connections still open) or its directory.
    pub async fn drop_database(mut self) {
        match std::mem::replace(&mut self.cleanup, Cleanup::Done) {
            Cleanup::Done => {}
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                drop_postgres(&admin_url, &name)
                    .await
                    .unwrap_or_else(|e| panic!("DROP DATABASE {name} failed: {e}"));
            }
        }
    }
}

impl Drop for TestDatabase {
    /// Best-effort cleanup when `drop_database` was not called (e.g. the test panicked).
    fn drop(&mut self) {
        match std::mem::replace(&mut self.cleanup, Cleanup::Done) {
            Cleanup::Done => {}
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // A runtime of its own on a thread of its own: this may run inside another runtime.
                let worker = std::thread::spawn(move || {
                    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        let _ = rt.block_on(drop_postgres(&admin_url, &name));
                    }
                });
                let _ = worker.join();
            }
        }
    }
}
