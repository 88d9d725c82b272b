//! Starting and stopping the server: build the state from the configuration, bind, serve until
//! asked to stop, and run the background jobs (key reload, purge of expired rows).

use crate::config::Config;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::state::{AppState, Inner};
use postern_core::clock::Clock;
use postern_core::credential::password::PasswordHasher;
use postern_core::random::{OsRandom, Random};
use postern_core::sealed::MasterKey;
use postern_core::secret::hmac_sha256;
use postern_core::softlock::LockoutPolicy;
use postern_store::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

/// The server could not start; the message names what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

impl From<postern_store::StoreError> for StartError {
    fn from(e: postern_store::StoreError) -> Self {
        StartError(e.to_string())
    }
}

impl From<crate::keys::KeyRingError> for StartError {
    fn from(e: crate::keys::KeyRingError) -> Self {
        StartError(e.to_string())
    }
}

/// Reads the master key from configuration, or from `<data_dir>/master.key`, creating it (mode
/// 0600) on first start.
pub fn load_master_key(
    config: &Config,
    rng: &dyn Random,
) -> Result<(MasterKey, [u8; 32]), StartError> {
    let decode = |text: &str, from: &str| -> Result<Vec<u8>, StartError> {
        data_encoding::BASE64URL_NOPAD
            .decode(text.trim().trim_end_matches('=').as_bytes())
            .map_err(|_| StartError(format!("master_key ({from}) is not base64url")))
    };
    let bytes = match &config.master_key {
        Some(text) => decode(text, "POSTERN_MASTER_KEY")?,
        None => {
            let path = config.data_dir.join("master.key");
            if path.exists() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| StartError(format!("cannot read {}: {e}", path.display())))?;
                decode(&text, &path.display().to_string())?
            } else {
                let key = postern_core::random::bytes(rng, MasterKey::LEN);
                write_private(&path, &data_encoding::BASE64URL_NOPAD.encode(&key))?;
                key
            }
        }
    };
    let master = MasterKey::from_bytes(&bytes)
        .ok_or_else(|| StartError("master_key must be 32 bytes".into()))?;
    let mac_key = hmac_sha256(&bytes, b"postern/mac-key/v1");
    Ok((master, mac_key))
}

fn write_private(path: &Path, text: &str) -> Result<(), StartError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StartError(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| StartError(format!("cannot write {}: {e}", path.display())))
}

/// Opens the store the configuration points at (creating the data directory for SQLite).
/// A data directory Postern creates is private to its user (0700): it holds the database with
/// password hashes and the master key. An existing directory's permissions are the operator's.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    use std::os::unix::fs::PermissionsExt;
    let created = !config.data_dir.exists();
    let failed = |e: std::io::Error| {
        StartError(format!(
            "data_dir: cannot create '{}': {e}",
            config.data_dir.display()
        ))
    };
    std::fs::create_dir_all(&config.data_dir).map_err(failed)?;
    if created {
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(failed)?;
    }
    Ok(Store::connect_with(&config.database_url(), &config.database.store_options()).await?)
}

/// Builds the shared state.
pub async fn build_state(
    config: Config,
    issuer: String,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartError> {
    build(config, issuer, clock, true).await
}

/// The state `postern admin` needs on the local store: the same, without loading (or making)
/// token signing keys — administration signs nothing, and keys are made by the server's first
/// start.
pub async fn build_admin_state(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartError> {
    let issuer = config.issuer_for(config.listen);
    build(config, issuer, clock, false).await
}

async fn build(
    config: Config,
    issuer: String,
    clock: Arc<dyn Clock>,
    load_keys: bool,
) -> Result<AppState, StartError> {
    let rng: Arc<dyn Random> = Arc::new(OsRandom);
    let store = open_store(&config).await?;
    let (master, mac_key) = load_master_key(&config, &*rng)?;
    let passwords = PasswordHasher::new(config.password, &*rng)
        .ok_or_else(|| StartError("password: invalid Argon2id parameters".into()))?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let slots = config.password_concurrency.unwrap_or(cores);
    let keys = KeyRing::default();
    if load_keys {
        keys.load(&store, &master, &*rng, &*clock).await?;
    }
    let second_factor_threshold = config.lockout.second_factor_threshold;
    let lockout = LockoutPolicy {
        threshold: config.lockout.threshold,
        base_lock: time::Duration::seconds(config.lockout.lock_seconds as i64),
        max_lock: time::Duration::seconds(config.lockout.max_lock_seconds as i64),
    };
    let web_push = if load_keys && config.web_push.enabled {
        let loaded =
            crate::push::web_push::WebPush::load(&store, &master, &*rng, &config.web_push, &issuer)
                .await
                .map_err(|e| StartError(e.to_string()))?;
        Some(Arc::new(loaded))
    } else {
        None
    };
    let passkeys =
        crate::passkeys::Passkeys::new(&issuer, &config.organisation, config.passkeys.clone())
            .map_err(StartError)?;
    let config_client_cache_seconds = config.tokens.client_cache_seconds;
    let signin_rate = f64::from(config.limits.signin_per_minute);
    let token_rate = f64::from(config.limits.token_per_second);
    Ok(AppState(Arc::new(Inner {
        signin_limiter: RateLimiter::new(signin_rate / 60.0, signin_rate),
        token_limiter: RateLimiter::new(token_rate, token_rate),
        config,
        issuer,
        store,
        clock,
        rng,
        master: Arc::new(master),
        keys,
        passwords: Arc::new(passwords),
        password_slots: Arc::new(Semaphore::new(slots)),
        lockout,
        second_factor_lockout: LockoutPolicy {
            threshold: second_factor_threshold,
            ..lockout
        },
        mac_key,
        metrics: Metrics::default(),
        clients: crate::client_cache::ClientCache::new(std::time::Duration::from_secs(
            config_client_cache_seconds,
        )),
        wakeups: Arc::new(crate::push::wakeup::InProcess::default()),
        web_push,
        passkeys,
        cross_node_listening: std::sync::atomic::AtomicBool::new(true),
        stopping: tokio::sync::watch::channel(false).0,
    })))
}

/// Aborts a task when dropped (a job that must not outlive the jobs task).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running server.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub issuer: String,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    jobs: JoinHandle<()>,
    /// Held while serving a SQLite database (see `one_node_lock`); let go when stopped.
    node_lock: Option<std::fs::File>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, and closes the store.
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// [`RunningServer::stop`] for a server kept in a place that outlives it.
    pub async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
            let _ = (&mut self.task).await;
        }
        self.jobs.abort();
        self.state.store.close().await;
        self.node_lock = None;
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) -> std::io::Result<()> {
        let r = (&mut self.task).await.unwrap_or(Ok(()));
        self.jobs.abort();
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// Binds, builds the state and serves in the background. `shutdown` (if given) stops it too.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<RunningServer, StartError> {
    let tls = crate::tls::Acceptor::from_config(&config.tls, clock.clone())
        .map_err(|e| StartError(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError(format!("listen: cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError(e.to_string()))?;
    let issuer = config.issuer_for(addr);
    let node_lock = one_node_lock(&config, addr)?;
    let state = build_state(config, issuer.clone(), clock).await?;
    // Listening before serving: nothing another node writes after this node answers is missed.
    let cross_node = state.store.listen().await.map_err(|e| {
        StartError(format!(
            "database: cannot listen for other nodes' wake-ups: {e}"
        ))
    })?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = crate::routes::router(state.clone());
    let stopping = state.stopping.clone();
    let task = tokio::spawn(serve(listener, tls, app, rx, stopping));
    let jobs = tokio::spawn(background_jobs(state.clone(), cross_node));
    Ok(RunningServer {
        addr,
        issuer,
        state,
        shutdown: Some(tx),
        task,
        jobs,
        node_lock,
    })
}

/// SQLite serves one node: wake-ups stay in the process, so a second node on the same file would
/// leave its users' pushes undelivered. The serving node holds an exclusive lock on
/// `DATABASE.node-lock` (released when the process ends, however it ends); a second one is refused
/// with the first one's address. Other admin commands do not take it; `postern admin migrate`
/// does (see [`NodeLock::take`]).
fn one_node_lock(config: &Config, addr: SocketAddr) -> Result<Option<std::fs::File>, StartError> {
    match NodeLock::take(config, &format!("pid {} on {addr}", std::process::id())) {
        NodeLock::Taken(file) => Ok(Some(file)),
        NodeLock::NotSqlite => Ok(None),
        NodeLock::Held { path, holder } => Err(StartError(format!(
            "database: another Postern process ({holder}) already serves the SQLite database '{path}'. SQLite is for one node: pushes would not reach apps connected to the other one. Stop it, or run several nodes on PostgreSQL (database_url = postgres://…)"
        ))),
        NodeLock::Failed(why) => Err(StartError(format!("database: {why}"))),
    }
}

/// The one-node lock of a SQLite database.
pub(crate) enum NodeLock {
    /// Held until the file is dropped (or the process ends).
    Taken(std::fs::File),
    /// The database is not a SQLite file (PostgreSQL, or in memory).
    NotSqlite,
    /// Another process holds it; what it wrote into the file (its pid and address).
    Held {
        path: String,
        holder: String,
    },
    Failed(String),
}

impl NodeLock {
    /// Takes the lock, writing `holder` into the file for whoever is refused next. The file sits
    /// next to the database (`DATABASE.node-lock`, mode 0600) and is never a symbolic link.
    pub(crate) fn take(config: &Config, holder: &str) -> NodeLock {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let url = config.database_url();
        // As sqlx reads it: `sqlite://rel.db` and `sqlite:rel.db` are relative, `sqlite:///abs`
        // absolute.
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return NodeLock::NotSqlite;
        };
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path.starts_with(':') || url.contains("mode=memory") {
            return NodeLock::NotSqlite;
        }
        let lock_path = format!("{path}.node-lock");
        // Taken before the store is opened: on a first start, its directory is made here (as
        // `open_store` would make it, private).
        if let Some(dir) = std::path::Path::new(&lock_path).parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            use std::os::unix::fs::DirBuilderExt;
            if let Err(e) = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
            {
                return NodeLock::Failed(format!("cannot create '{}': {e}", dir.display()));
            }
        }
        if std::fs::symlink_metadata(&lock_path).is_ok_and(|m| m.file_type().is_symlink()) {
            return NodeLock::Failed(format!(
                "'{lock_path}' is a symbolic link; remove it (Postern makes this file itself)"
            ));
        }
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
        {
            Ok(f) => f,
            Err(e) => {
                return NodeLock::Failed(format!(
                    "the one-node lock '{lock_path}' cannot be opened: {e}"
                ));
            }
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = file.rewind();
                let _ = writeln!(file, "{holder}");
                NodeLock::Taken(file)
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                // Shown in an error: printable characters only, and not much of them.
                let holder = text
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(120)
                    .collect();
                NodeLock::Held {
                    path: path.to_owned(),
                    holder,
                }
            }
            Err(std::fs::TryLockError::Error(e)) => NodeLock::Failed(format!(
                "the one-node lock '{lock_path}' cannot be taken: {e}"
            )),
        }
    }
}

/// The largest read buffer of a connection. hyper grows a connection's read buffer to 16 KiB by
/// default; 8 KiB (its minimum) still holds any request head Postern accepts (cookies are small)
/// and keeps each idle authenticator stream about 8 KiB lighter (BENCHMARKS.md).
const MAX_CONNECTION_BUFFER: usize = 8192;

/// Accepts connections and serves each with HTTP/1.1 (over TLS when `tls` is given) until `stop`
/// fires; then every connection finishes its in-flight request (long-lived event streams end on
/// `stopping`) before it returns.
async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<crate::tls::Acceptor>,
    app: axum::Router,
    mut stop: oneshot::Receiver<()>,
    stopping: tokio::sync::watch::Sender<bool>,
) -> std::io::Result<()> {
    // Every connection task holds a receiver; the sender's `closed()` says all are done.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let app = app.clone();
        let tls = tls.clone();
        let mut stopping_rx = stopping.subscribe();
        let open = open_rx.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, peer, app, stopping_rx).await,
                Some(tls) => {
                    // The handshake runs here, not in the accept loop, and ends at the timeout
                    // or when the server stops.
                    let secured = tokio::select! {
                        secured = tls.handshake(stream, peer) => secured,
                        _ = stopping_rx.wait_for(|s| *s) => None,
                    };
                    if let Some(stream) = secured {
                        serve_connection(stream, peer, app, stopping_rx).await;
                    }
                }
            }
            drop(open);
        });
    }
    stopping.send_replace(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// Serves one connection with HTTP/1.1 until the client closes it, or, once `stopping` turns true,
/// until its in-flight request is answered.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: axum::Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    // The router is shared (a cheap clone); the peer address goes into each request.
    let service = app.map_request(move |req: axum::http::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(MAX_CONNECTION_BUFFER);
    let conn = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Reloads keys every minute (rotations made by `postern admin keys rotate` or another node),
/// purges expired rows every ten minutes, and sign-in and audit log entries older than their
/// retention (`signin_log_days`, `audit_log_days`) at start and every ten minutes.
async fn background_jobs(state: AppState, cross_node: Option<postern_store::Listener>) {
    // Aborted with the other jobs when the server stops.
    let _relay = cross_node.map(|l| {
        AbortOnDrop(tokio::spawn(crate::push::cross_node::relay(
            state.clone(),
            l,
        )))
    });
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        match crate::admin::methods::log_expired_passes(&state).await {
            Ok(0) => {}
            Ok(passes) => tracing::info!(passes, "temporary access passes expired"),
            Err(e) => tracing::warn!(error = %e, "logging expired access passes failed"),
        }
        if let Err(e) = state
            .keys
            .load(&state.store, &state.master, &*state.rng, &*state.clock)
            .await
        {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
        if n % 10 == 1 {
            let cutoff = state.clock.now() - time::Duration::days(state.config.signin_log_days);
            match state.store.purge_signins_before(cutoff).await {
                Ok(rows) if rows > 0 => tracing::info!(rows, "purged old sign-in log entries"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging the sign-in log failed"),
            }
            let cutoff = state.clock.now() - time::Duration::days(state.config.audit_log_days);
            match state.store.purge_audit_before(cutoff).await {
                Ok(rows) if rows > 0 => tracing::info!(rows, "purged old audit log entries"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging the audit log failed"),
            }
        }
        if n.is_multiple_of(10) {
            match state.store.purge_expired(state.clock.now()).await {
                Ok(rows) if rows > 0 => tracing::info!(rows, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
            }
        }
    }
}
