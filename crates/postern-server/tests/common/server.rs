//! The real server on port 0 for a test: SQLite in a temp dir or a fresh PostgreSQL database,
//! several nodes on one database, restarts, and the fixtures written straight into its store.

use super::*;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    db: Option<TestDatabase>,
    data_dir: std::path::PathBuf,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let db = TestDatabase::create(backend).await;
        let url = db.url.clone();
        Self::start_node(&url, Some(db), tweak).await
    }

    /// A server whose issuer is `http://localhost:PORT`, as passkeys need (WebAuthn RP ids are
    /// domain names, and browsers treat `localhost` as a secure context).
    pub async fn start_localhost(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_with(backend, |c| {
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.issuer = Some(format!("http://localhost:{port}"));
            tweak(c);
        })
        .await
    }

    /// Starts a server on an existing database (another node of the same deployment); the
    /// database is dropped by whichever node owns it (`db`).
    pub async fn start_node(
        database_url: &str,
        db: Option<TestDatabase>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let data_dir =
            std::env::temp_dir().join(format!("postern-test-{}", random::token(&OsRandom, 9)));
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.clone(),
            database_url: Some(database_url.to_owned()),
            ..Config::default()
        };
        config.limits.signin_per_minute = 100_000;
        config.limits.token_per_second = 100_000;
        // Password-only users sign straight in unless a test asks for the `required` policy
        // (the second-factor tests do).
        config.policy.mfa = postern_core::policy::MfaPolicy::WhenRegistered;
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new());
        let server = start(config.clone(), clock.clone())
            .await
            .expect("the server starts");
        TestServer {
            server,
            clock,
            config,
            db,
            data_dir,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.server.issuer
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn store(&self) -> &Store {
        &self.server.state.store
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// Moves the clock to the start of the next 30-second TOTP step. The test clock runs with
    /// real time (plus what tests add), so a test whose codes must all fall in one step starts
    /// here: a step boundary crossed mid-test on a loaded machine would change every code.
    pub fn start_of_step(&self) {
        let into_ms = postern_core::clock::to_millis(self.clock.now()).rem_euclid(30_000);
        self.clock
            .advance(time::Duration::milliseconds(30_000 - into_ms));
    }

    /// A user with [`PASSWORD`], written straight into the store (no audit entry: the tests'
    /// fixture, not an administrator's act), on the server's clock.
    pub async fn create_user(&self, username: &str) -> User {
        let hasher = postern_core::credential::password::PasswordHasher::new(
            self.config.password,
            &OsRandom,
        )
        .unwrap();
        let user = User {
            id: random::uuid(&OsRandom),
            username: postern_core::user::normalize_username(username).unwrap(),
            email: Some(format!("{username}@school.example")),
            name: Some(format!("{username} Example")),
            password_hash: Some(hasher.hash(&SecretString::new(PASSWORD), &OsRandom)),
            disabled: false,
            created: self.clock.now(),
        };
        self.store().create_user(&user).await.unwrap();
        user
    }

    /// Registers a client; returns it with its secret (None for public clients).
    pub async fn create_client(
        &self,
        kind: ClientKind,
        alg: SigningAlg,
    ) -> (Client, Option<String>) {
        let secret = (kind == ClientKind::Confidential).then(|| random::token(&OsRandom, 32));
        let id = random::uuid(&OsRandom);
        let client = Client {
            id: id.clone(),
            name: format!("App {}", &id[..8]),
            kind,
            secret_hash: secret.as_deref().map(hash_token),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/signed-out".into()],
            id_token_alg: alg,
            created: self.clock.now(),
        };
        self.store().create_client(&client).await.unwrap();
        (client, secret)
    }

    /// Stops the server and starts it again on the same address, database, data directory and
    /// clock (what survives a restart is what the store keeps).
    pub async fn restart(&mut self) {
        let addr = self.server.addr;
        let issuer = self.server.issuer.clone();
        self.server.shut_down().await;
        let mut config = self.config.clone();
        config.listen = addr;
        config.issuer = Some(issuer);
        self.server = start(config, self.clock.clone())
            .await
            .expect("the server starts again");
    }

    pub async fn stop(mut self) {
        self.server.stop().await;
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
