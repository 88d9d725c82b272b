//! The schema, as numbered migrations kept in step for SQLite and PostgreSQL, and the migrator
//! that applies them.
//!
//! **A migration that has landed is never edited.** Databases in the field already ran it; a
//! change to the schema is a new migration with the next number, written for both backends. The
//! two texts differ only where the databases do (BLOB vs BYTEA); every other type is portable
//! (TEXT, BIGINT), so the same queries run on both.
//!
//! The migrator records each applied version in `schema_version`. It applies the missing ones in
//! order, one transaction each (both databases have transactional DDL), and refuses a database
//! that holds a version newer than the newest known here. On PostgreSQL a transaction-scoped
//! advisory lock makes nodes that start together migrate one after the other.

use crate::rows::ms;
use crate::{Backend, Result, Store, StoreError};
use sqlx::Row;
use time::OffsetDateTime;
use tracing::info;

/// One schema change, in the dialect of each backend. Each text may hold several statements
/// separated by `;` (no `;` inside literals or comments).
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
    /// What only PostgreSQL has (the cross-node wake-up triggers), run after `postgres`. Its
    /// statements are separated by lines holding only `--;`, since function bodies hold `;`.
    pub postgres_only: &'static str,
}

impl Migration {
    fn statements(&self, backend: Backend) -> Vec<&'static str> {
        let (shared, only) = match backend {
            Backend::Sqlite => (self.sqlite, ""),
            Backend::Postgres => (self.postgres, self.postgres_only),
        };
        shared
            .split(';')
            .chain(only.split("\n--;\n"))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Every migration, in order. Append only; never edit one that has landed.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial schema",
        sqlite: SCHEMA_1_SQLITE,
        postgres: SCHEMA_1_POSTGRES,
        postgres_only: "",
    },
    Migration {
        version: 2,
        description: "second factors and remembered devices",
        sqlite: SCHEMA_2,
        postgres: SCHEMA_2,
        postgres_only: "",
    },
    Migration {
        version: 3,
        description: "push approvals and authenticator devices",
        sqlite: SCHEMA_3,
        postgres: SCHEMA_3,
        postgres_only: "",
    },
    Migration {
        version: 4,
        description: "helpdesk: admin tokens, roles, audit log, temporary access passes, step reasons",
        sqlite: SCHEMA_4,
        postgres: SCHEMA_4,
        postgres_only: "",
    },
    Migration {
        version: 5,
        description: "web push subscriptions of authenticator devices",
        sqlite: SCHEMA_5,
        postgres: SCHEMA_5,
        postgres_only: "",
    },
    Migration {
        version: 6,
        description: "a version on sign-in flows (they move only from the version read)",
        sqlite: SCHEMA_6,
        postgres: SCHEMA_6,
        postgres_only: "",
    },
    Migration {
        version: 7,
        description: "passkeys: a unique credential id per method, WebAuthn ceremonies",
        sqlite: SCHEMA_7,
        postgres: SCHEMA_7,
        postgres_only: "",
    },
    Migration {
        version: 8,
        description: "cross-node wake-ups: PostgreSQL notifies every node of push changes and removed devices",
        sqlite: "",
        postgres: "",
        postgres_only: WAKEUP_TRIGGERS,
    },
];

/// Key of the PostgreSQL advisory lock held while migrating ("postern" in ASCII).
const MIGRATION_LOCK: i64 = 0x0070_6f73_7465_726e;

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied_ms BIGINT NOT NULL
)";

/// The newest schema this binary knows.
fn known_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies the missing migrations (see the module docs).
pub(crate) async fn run(store: &Store) -> Result<()> {
    let known = known_version();
    loop {
        let mut tx = store.begin_write().await?;
        if store.backend == Backend::Postgres {
            // A migration may take longer than a request's statement limit.
            sqlx::query("SET LOCAL statement_timeout = 0")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(SCHEMA_VERSION_TABLE).execute(&mut *tx).await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_version ORDER BY version")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>("version"))
            .collect::<std::result::Result<_, _>>()?;
        if let Some(&found) = applied.iter().max()
            && found > known
        {
            return Err(StoreError::NewerSchema { found, known });
        }
        let Some(next) = MIGRATIONS.iter().find(|m| !applied.contains(&m.version)) else {
            tx.commit().await?;
            return Ok(());
        };
        for statement in next.statements(store.backend) {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO schema_version (version, description, applied_ms) VALUES ($1, $2, $3)",
        )
        .bind(next.version)
        .bind(next.description)
        .bind(ms(OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        info!(
            version = next.version,
            description = next.description,
            "applied database migration"
        );
    }
}

/// The highest version recorded (0 when none is).
pub(crate) async fn current_version(pool: &sqlx::AnyPool) -> Result<i64> {
    let row = sqlx::query("SELECT MAX(version) AS version FROM schema_version")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get::<Option<i64>, _>("version")?.unwrap_or(0))
}

// ---- migration 1: the initial schema ------------------------------------------------------
// Times are *_ms BIGINT (milliseconds since the epoch); flags BIGINT 0/1; lists TEXT (JSON).
// The sign-in log has no foreign keys: it records sign-ins of unknown users and clients too.

const SCHEMA_1_SQLITE: &str = "
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT,
    name TEXT,
    password_hash TEXT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);
CREATE TABLE lockouts (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    id_token_alg TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    sealed_pkcs8 BLOB NOT NULL,
    created_ms BIGINT NOT NULL,
    retired_ms BIGINT,
    publish_until_ms BIGINT
);
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX flows_expires ON flows (expires_ms);
CREATE TABLE sso_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time_ms BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sso_sessions_user ON sso_sessions (user_id);
CREATE INDEX sso_sessions_expires ON sso_sessions (expires_ms);
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time_ms BIGINT NOT NULL,
    amr TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    redeemed BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX auth_codes_user ON auth_codes (user_id);
CREATE INDEX auth_codes_expires ON auth_codes (expires_ms);
CREATE TABLE token_families (
    family_id TEXT PRIMARY KEY,
    revoked_ms BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    auth_time_ms BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_ms);
CREATE TABLE access_tokens (
    jti TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);
CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_ms);
CREATE TABLE signins (
    correlation_id TEXT PRIMARY KEY,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    user_id TEXT,
    username TEXT,
    client_id TEXT,
    client_name TEXT,
    ip TEXT,
    user_agent TEXT,
    result TEXT NOT NULL,
    error_code BIGINT,
    failure_reason TEXT
);
CREATE INDEX signins_started ON signins (started_ms);
CREATE INDEX signins_user ON signins (user_id);
CREATE TABLE signin_requests (
    request_id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX signin_requests_correlation ON signin_requests (correlation_id, seq);
CREATE TABLE signin_steps (
    correlation_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (correlation_id, seq)
)
";

const SCHEMA_1_POSTGRES: &str = "
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT,
    name TEXT,
    password_hash TEXT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);
CREATE TABLE lockouts (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    id_token_alg TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    sealed_pkcs8 BYTEA NOT NULL,
    created_ms BIGINT NOT NULL,
    retired_ms BIGINT,
    publish_until_ms BIGINT
);
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX flows_expires ON flows (expires_ms);
CREATE TABLE sso_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time_ms BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sso_sessions_user ON sso_sessions (user_id);
CREATE INDEX sso_sessions_expires ON sso_sessions (expires_ms);
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time_ms BIGINT NOT NULL,
    amr TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    redeemed BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX auth_codes_user ON auth_codes (user_id);
CREATE INDEX auth_codes_expires ON auth_codes (expires_ms);
CREATE TABLE token_families (
    family_id TEXT PRIMARY KEY,
    revoked_ms BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    auth_time_ms BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_ms);
CREATE TABLE access_tokens (
    jti TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);
CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_ms);
CREATE TABLE signins (
    correlation_id TEXT PRIMARY KEY,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    user_id TEXT,
    username TEXT,
    client_id TEXT,
    client_name TEXT,
    ip TEXT,
    user_agent TEXT,
    result TEXT NOT NULL,
    error_code BIGINT,
    failure_reason TEXT
);
CREATE INDEX signins_started ON signins (started_ms);
CREATE INDEX signins_user ON signins (user_id);
CREATE TABLE signin_requests (
    request_id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX signin_requests_correlation ON signin_requests (correlation_id, seq);
CREATE TABLE signin_steps (
    correlation_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (correlation_id, seq)
)
";

/// Second factors (one row per method; its secret material and check state as versioned JSON) and
/// browsers a user asked to remember for the second step. The same text on both backends.
const SCHEMA_2: &str = "
CREATE TABLE auth_methods (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    is_default BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    data TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX auth_methods_user ON auth_methods (user_id);
CREATE TABLE remembered_devices (
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (token_hash, user_id)
);
CREATE INDEX remembered_devices_user ON remembered_devices (user_id);
CREATE INDEX remembered_devices_expires ON remembered_devices (expires_ms);
CREATE INDEX signins_user_started ON signins (user_id, started_ms)
";

/// Push approvals: single-use activation codes, when each device was last heard from, the
/// challenges (delivery tracking and answer as versioned JSON), the signatures already seen
/// (replay refusal) and each user's push state (blocked after a report, unanswered streak).
const SCHEMA_3: &str = "
CREATE TABLE activations (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms BIGINT
);
CREATE INDEX activations_expires ON activations (expires_ms);
CREATE TABLE device_contacts (
    device_id TEXT PRIMARY KEY,
    last_seen_ms BIGINT NOT NULL
);
CREATE TABLE push_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    flow_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX push_challenges_user ON push_challenges (user_id, created_ms);
CREATE INDEX push_challenges_flow ON push_challenges (flow_id, created_ms);
CREATE TABLE device_signatures (
    signature_hash TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX device_signatures_expires ON device_signatures (expires_ms);
CREATE TABLE push_states (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    blocked_ms BIGINT,
    unanswered BIGINT NOT NULL
)
";

/// The helpdesk: bearer tokens for the admin API (hashed), roles granted to people, the
/// append-only audit log, temporary access passes (one per user, hashed), a stable reason key on
/// each sign-in step for the diagnosis, and indexes for the sign-in queries.
const SCHEMA_4: &str = "
ALTER TABLE signin_steps ADD COLUMN reason TEXT;
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    revoked_ms BIGINT,
    last_used_ms BIGINT,
    created_by TEXT NOT NULL
);
CREATE TABLE user_roles (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    granted_ms BIGINT NOT NULL
);
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_name TEXT NOT NULL,
    ip TEXT,
    request_id TEXT,
    correlation_id TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time_ms, id);
CREATE INDEX audit_log_target ON audit_log (target_id, time_ms);
CREATE TABLE access_passes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    pass_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    once BIGINT NOT NULL,
    used_ms BIGINT,
    uses BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expiry_logged BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_passes_expires ON access_passes (expires_ms);
CREATE INDEX signins_client_started ON signins (client_id, started_ms);
CREATE INDEX signins_error_started ON signins (error_code, started_ms)
";

/// The Web Push subscriptions of Postern Authenticator devices (a browser's push endpoint and its
/// RFC 8291 keys; the auth secret sealed with the master key), removed with their device.
const SCHEMA_5: &str = "
CREATE TABLE web_push_subscriptions (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES auth_methods (id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    sealed_auth TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_sent_ms BIGINT,
    last_result TEXT,
    UNIQUE (device_id, endpoint)
);
CREATE INDEX web_push_subscriptions_device ON web_push_subscriptions (device_id, created_ms)
";

/// Flows move like methods and challenges: over the version read, bumped on every move.
const SCHEMA_6: &str = "ALTER TABLE flows ADD COLUMN version BIGINT NOT NULL DEFAULT 0";

/// A passkey's credential id is unique across all accounts (WebAuthn §7.1 step 22: a credential
/// registered to one account is refused for another), and finds the passkey of a passwordless
/// sign-in. A WebAuthn ceremony's state (its challenge, expected user and credentials) is kept
/// here, keyed by the flow or session it belongs to: single-use, short-lived, finished by any
/// node.
const SCHEMA_7: &str = "
ALTER TABLE auth_methods ADD COLUMN credential_id TEXT;
CREATE UNIQUE INDEX auth_methods_credential ON auth_methods (credential_id);
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id TEXT,
    state TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
)";

/// Cross-node wake-ups (see `wakeups.rs`): a new or changed push challenge and a removed method
/// notify `postern_wakeups` from inside the transaction that made the change, so a notice goes out
/// exactly when the change commits (and never for one rolled back). The payload holds ids only:
/// the challenge, its devices, whether this change answered it, and the writing node (the
/// `postern.node` setting of its connections), so that a node skips what it woke itself. SQLite
/// has one node and wakes in process.
const WAKEUP_TRIGGERS: &str = "
CREATE FUNCTION postern_wakeup_challenge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    devices jsonb;
    answered boolean := false;
    payload jsonb;
BEGIN
    SELECT COALESCE(jsonb_agg(d -> 'device_id'), '[]'::jsonb) INTO devices
        FROM jsonb_array_elements(NEW.data::jsonb -> 'deliveries') AS d;
    IF TG_OP = 'UPDATE' THEN
        answered := jsonb_typeof(NEW.data::jsonb -> 'answer') = 'object'
            AND jsonb_typeof(OLD.data::jsonb -> 'answer') IS DISTINCT FROM 'object';
    END IF;
    payload := jsonb_build_object(
        'kind', CASE WHEN TG_OP = 'INSERT' THEN 'challenge_new' ELSE 'challenge_changed' END,
        'id', NEW.id,
        'devices', devices,
        'answered', answered,
        'node', current_setting('postern.node', true));
    IF octet_length(payload::text) > 7000 THEN
        -- pg_notify takes under 8000 bytes: the listener reads so many devices from the row.
        payload := payload || jsonb_build_object('devices', '[]'::jsonb, 'many', true);
    END IF;
    PERFORM pg_notify('postern_wakeups', payload::text);
    RETURN NULL;
END
$$
--;
CREATE TRIGGER push_challenges_wakeup AFTER INSERT OR UPDATE ON push_challenges
    FOR EACH ROW EXECUTE FUNCTION postern_wakeup_challenge()
--;
CREATE FUNCTION postern_wakeup_method() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.kind = 'push' THEN
        PERFORM pg_notify('postern_wakeups', jsonb_build_object(
            'kind', 'device_removed',
            'id', OLD.id,
            'node', current_setting('postern.node', true))::text);
    END IF;
    RETURN NULL;
END
$$
--;
CREATE TRIGGER auth_methods_wakeup AFTER DELETE ON auth_methods
    FOR EACH ROW EXECUTE FUNCTION postern_wakeup_method()
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_backends_in_step() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migration versions must increase");
            last = m.version;
            // The dialects differ only in the binary type; extend this list if a later migration
            // needs another difference, never loosen it to "anything goes".
            assert_eq!(
                m.sqlite.replace(" BLOB ", " BYTEA "),
                m.postgres,
                "migration {} is not the same schema on both backends",
                m.version
            );
        }
    }
}
